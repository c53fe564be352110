// Copyright 2026 the basehttp authors. MIT license.
// Hello world on basehttp, as a user would write it:
// `deno run -A basehttp.ts PORT [KEEPALIVE_SECONDS]`.
import { BaseHTTPRequestHandler, HTTPServer } from "../../mod.ts";

const body = new TextEncoder().encode("Hello, World!");

class Hello extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";

  async do_GET(): Promise<void> {
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/plain");
    this.sendHeader("Content-Length", String(body.length));
    await this.endHeaders();
    await this.wfile.write(body);
  }

  override logMessage(): void {}
}

const httpd = new HTTPServer(["127.0.0.1", Number(Deno.args[0])], Hello, {
  keepAliveTimeout: Number(Deno.args[1] ?? 5),
});
await httpd.serveForever();
