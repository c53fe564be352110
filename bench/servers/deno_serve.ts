// Copyright 2026 the basehttp authors. MIT license.
// Hello world on Deno.serve: `deno run -A deno_serve.ts PORT`.
Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen() {} },
  () =>
    new Response("Hello, World!", {
      headers: { "Content-Type": "text/plain" },
    }),
);
