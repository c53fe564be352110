// Copyright 2026 the basehttp authors. MIT license.
/**
 * Python's `http.server` (`BaseHTTPServer`) for Deno: handler classes with
 * `do_GET` / `do_POST` / `do_SPAM` methods, a server with `serveForever()`
 * and `handleRequest()`, over a strict streaming HTTP/1.1 parser on
 * `Deno.Conn`.
 *
 * @example Hello, world
 * ```ts
 * import { BaseHTTPRequestHandler, HTTPServer } from "@basehttp/server";
 * import assert from "node:assert/strict";
 *
 * class Hello extends BaseHTTPRequestHandler {
 *   override protocolVersion = "HTTP/1.1";
 *
 *   async do_GET(): Promise<void> {
 *     const body = new TextEncoder().encode("hello\n");
 *     this.sendResponse(200);
 *     this.sendHeader("Content-Type", "text/plain");
 *     this.sendHeader("Content-Length", String(body.length));
 *     await this.endHeaders();
 *     await this.wfile.write(body);
 *   }
 *
 *   override logMessage(): void {}
 * }
 *
 * await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
 * const serving = httpd.serveForever();
 * const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/`);
 * assert.equal(await response.text(), "hello\n");
 * await httpd.shutdown();
 * await serving;
 * ```
 *
 * @module
 */

export {
  BaseHTTPRequestHandler,
  type ClientAddress,
  DEFAULT_ERROR_CONTENT_TYPE,
  DEFAULT_ERROR_MESSAGE,
  type DetachedConnection,
  type HandlerClass,
  percentFormat,
  type ResponseWriter,
} from "./handler.ts";
export {
  HTTPServer,
  type HTTPServerOptions,
  type ServerAddress,
  ThreadingHTTPServer,
  type TlsOptions,
} from "./server.ts";
export {
  BodyReader,
  HTTPError,
  HTTPMessage,
  type RequestHead,
  type RequestLimits,
} from "./parser.ts";
export { responses } from "./status.ts";
