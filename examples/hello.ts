// Copyright 2026 the basehttp authors. MIT license.
// The Python docs' `run()`: serve forever on port 8000.
//
//   deno run --allow-net examples/hello.ts [port]
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";

export class Hello extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";

  async do_GET(): Promise<void> {
    const body = new TextEncoder().encode(`Hello from ${this.path}\n`);
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/plain; charset=utf-8");
    this.sendHeader("Content-Length", String(body.length));
    await this.endHeaders();
    await this.wfile.write(body);
  }
}

export async function run(port = 8000): Promise<void> {
  const httpd = new HTTPServer(["", port], Hello);
  console.log(`Serving HTTP on port ${httpd.serverPort} ...`);
  await httpd.serveForever();
}

if (import.meta.main) await run(Number(Deno.args[0] ?? 8000));
