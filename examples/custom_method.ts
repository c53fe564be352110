// Copyright 2026 the basehttp authors. MIT license.
// Any method the client sends is dispatched to do_<METHOD>:
//
//   deno run --allow-net examples/custom_method.ts
//   curl -X SPAM -H "X-Eggs: 2" http://127.0.0.1:8000/
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";

class SpamHandler extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";

  async do_SPAM(): Promise<void> {
    const eggs = this.headers.get("X-Eggs") ?? "no";
    const body = new TextEncoder().encode(
      `spam, spam, ${eggs} eggs and spam\n`,
    );
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/plain");
    this.sendHeader("Content-Length", String(body.length));
    await this.endHeaders();
    await this.wfile.write(body);
  }
}

const httpd = new HTTPServer(
  ["127.0.0.1", Number(Deno.args[0] ?? 8000)],
  SpamHandler,
);
console.log(`SPAM me on http://127.0.0.1:${httpd.serverPort}/`);
await httpd.serveForever();
