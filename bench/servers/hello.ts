// Copyright 2026 the basehttp authors. MIT license.
// The hello-world handler the benchmarks serve, written as a user would.
import { BaseHTTPRequestHandler } from "../../mod.ts";

const body = new TextEncoder().encode("Hello, World!");

/** Answers GET with "Hello, World!" over HTTP/1.1 keep-alive; no log lines. */
export class Hello extends BaseHTTPRequestHandler {
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
