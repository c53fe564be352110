// Copyright 2026 the basehttp authors. MIT license.
// Echoes a POST body back, with its type. Bodies may be sent with
// Content-Length or chunked; `rfile` gives exactly the body either way.
//
//   deno run --allow-net examples/echo_post.ts
//   curl -d 'hello' http://127.0.0.1:8000/
//   curl -H 'Transfer-Encoding: chunked' --data-binary @README.md http://127.0.0.1:8000/
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";

class Echo extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";

  async do_POST(): Promise<void> {
    const body = await this.rfile.bytes(1024 * 1024); // 413 beyond 1 MiB
    this.sendResponse(200);
    this.sendHeader(
      "Content-Type",
      this.headers.get("Content-Type") ?? "application/octet-stream",
    );
    this.sendHeader("Content-Length", String(body.length));
    await this.endHeaders();
    await this.wfile.write(body);
  }
}

const httpd = new HTTPServer(
  ["127.0.0.1", Number(Deno.args[0] ?? 8000)],
  Echo,
);
console.log(`POST to http://127.0.0.1:${httpd.serverPort}/`);
await httpd.serveForever();
