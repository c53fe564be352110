// Copyright 2026 the basehttp authors. MIT license.
// Hello world on basehttp, as a user would write it:
// `deno run -A basehttp.ts PORT [KEEPALIVE_SECONDS]`.
import { HTTPServer } from "../../mod.ts";
import { Hello } from "./hello.ts";

const httpd = new HTTPServer(["127.0.0.1", Number(Deno.args[0])], Hello, {
  keepAliveTimeout: Number(Deno.args[1] ?? 5),
});
await httpd.serveForever();
