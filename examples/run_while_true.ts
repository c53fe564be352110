// Copyright 2026 the basehttp authors. MIT license.
// The Python docs' condition-driven loop:
//
//   def run_while_true(server_class=HTTPServer, handler_class=...):
//       httpd = server_class(("", 8000), handler_class)
//       while keep_running():
//           httpd.handle_request()
//
// Here it serves three connections and stops.
//
//   deno run --allow-net examples/run_while_true.ts [port]
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";

class Counter extends BaseHTTPRequestHandler {
  async do_GET(): Promise<void> {
    const body = new TextEncoder().encode(`request ${served + 1} of 3\n`);
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/plain");
    this.sendHeader("Content-Length", String(body.length));
    await this.endHeaders();
    await this.wfile.write(body);
  }
}

let served = 0;
const keepRunning = () => served < 3;

const httpd = new HTTPServer(["", Number(Deno.args[0] ?? 8000)], Counter);
console.log(`Serving three connections on port ${httpd.serverPort} ...`);
while (keepRunning()) {
  await httpd.handleRequest();
  served++;
}
httpd.close();
