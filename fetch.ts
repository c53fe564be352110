// Copyright 2026 the basehttp authors. MIT license.
/**
 * Handler classes and fetch-style apps on each other's servers.
 *
 * - {@linkcode toFetchHandler} serves a handler class with `Deno.serve`,
 *   `deno serve`, or any platform that takes a fetch handler.
 * - {@linkcode fetchHandler} serves a fetch-style app (one written for
 *   `Deno.serve`, Hono, …) with {@linkcode HTTPServer}: its strict parser,
 *   timeouts, limits and pipelining.
 *
 * @example A handler class under Deno.serve
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 * import { toFetchHandler } from "@basehttp/server/fetch";
 *
 * class Hello extends BaseHTTPRequestHandler {
 *   async do_GET(): Promise<void> {
 *     this.sendResponse(200);
 *     this.sendHeader("Content-Type", "text/plain");
 *     await this.endHeaders();
 *     await this.wfile.write(`hello from ${this.path}\n`);
 *   }
 * }
 *
 * const handler = toFetchHandler(Hello);
 * const response = await handler(new Request("http://localhost/there"));
 * assert.equal(await response.text(), "hello from /there\n");
 * ```
 *
 * @module
 */

import {
  BaseHTTPRequestHandler,
  type ClientAddress,
  type HandlerClass,
} from "./handler.ts";
import { HTTPServer, type HTTPServerOptions } from "./server.ts";
import type { BodyReader } from "./parser.ts";
import { memoryConnPair } from "./_memory_conn.ts";
import { reportError, SERVE_CONNECTION } from "./_server_state.ts";
import {
  type BodyBytes,
  bodyStream,
  type ResponseHead,
  ResponseReader,
} from "./_response_reader.ts";
import { toWebResponse } from "./_web_response.ts";
import { GrowingBytes, writeAll, writeBody } from "./_bytes.ts";
import { contentTooLarge } from "./_head.ts";
import { encodeLatin1 } from "./_text.ts";
import { handled } from "./_handled.ts";

/** Options of {@linkcode toFetchHandler}. */
export interface FetchHandlerOptions extends HTTPServerOptions {
  /**
   * The server class: `this.server` in the handler is one, constructed
   * without a listener. @default {HTTPServer}
   */
  ServerClass?: typeof HTTPServer;
}

/** A fetch-style request handler, as `Deno.serve` takes. */
export type FetchHandler = (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Promise<Response>;

/** A fetch-style app, as written for `Deno.serve` or Hono. */
export type FetchApp = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

// Fields of one hop, which the other side's framing replaces.
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
]);
// Framing of the request is decided again when it is passed on.
const REQUEST_SKIP: ReadonlySet<string> = new Set([
  ...HOP_BY_HOP,
  "content-length",
]);

/**
 * A fetch handler that serves `Handler`: each request runs the real engine
 * and handler over an in-memory connection, and the response streams out
 * as the handler writes it (a large or chunked body is never held whole).
 *
 * The handler sees `command`, `path` (from `request.url`), `headers` as
 * the `Request` gives them (names lower-cased, repeated fields combined),
 * `requestVersion` `HTTP/1.1`, `rfile` streaming the request body, and
 * `clientAddress` from `info`. Interim responses (`100 Continue` and other
 * 1xx) are not passed on. A handler that writes bytes before its head gets
 * a 500, and a `TypeError` is logged through `handleError`.
 *
 * @param Handler The handler class.
 * @param options The server's options (timeouts, limits) and `ServerClass`.
 * @returns The fetch handler.
 * @throws {TypeError} For `tls` or `reusePort`: the platform listens.
 *
 * @example Deno.serve
 * ```ts ignore
 * Deno.serve({ port: 8000 }, toFetchHandler(MyHandler));
 * ```
 */
export function toFetchHandler(
  Handler: HandlerClass,
  options: FetchHandlerOptions = {},
): FetchHandler {
  const { ServerClass = HTTPServer, ...serverOptions } = options;
  if (serverOptions.tls !== undefined || serverOptions.reusePort) {
    throw new TypeError("tls and reusePort belong to the platform's server");
  }
  const httpd = new ServerClass(["localhost", 80], Handler, {
    ...serverOptions,
    bindAndActivate: false,
  });
  return (request, info) => serveOne(httpd, request, info);
}

async function serveOne(
  httpd: HTTPServer,
  request: Request,
  info?: Deno.ServeHandlerInfo,
): Promise<Response> {
  const remote = info?.remoteAddr;
  // A Unix socket's client is "unix:", as a nameless one is HTTPServer's
  // (Deno.serve gives its own path as the client's); without info, the
  // same stand-in as testClient's.
  const address: ClientAddress = remote === undefined
    ? ["127.0.0.1", 50000]
    : "hostname" in remote
    ? [remote.hostname, remote.port]
    : ["unix:", 0];
  const [client, server] = memoryConnPair({
    clientAddr: { transport: "tcp", hostname: address[0], port: address[1] },
  });
  void httpd[SERVE_CONNECTION](server);
  // The platform's client leaving ends the connection: the handler's
  // signal aborts, as the request's did.
  const { signal } = request;
  const done = () => {
    signal.removeEventListener("abort", done);
    try {
      client.close();
    } catch {
      // Closed already.
    }
  };
  signal.addEventListener("abort", done);
  sendRequest(client, request).catch(() => {
    // The server answered before it read the whole body (a 413, say), or
    // the body failed (its client left): the handler reads the end of it.
    request.body?.cancel().catch(() => {});
    client.closeWrite().catch(() => {});
  });
  const reader = new ResponseReader(client);
  let head: ResponseHead | null;
  let body: BodyBytes;
  try {
    do head = await reader.readHead(); while (
      head !== null && head.status < 200
    );
    if (head === null) {
      throw new TypeError("The handler closed the connection and sent nothing");
    }
    if (head.status > 599) {
      throw new TypeError(
        `The handler's status ${head.status} cannot be a fetch Response (200 to 599)`,
      );
    }
    body = reader.body(head, request.method === "HEAD");
  } catch (error) {
    done();
    // No one is left to answer.
    if (signal.aborted) return new Response(null, { status: 500 });
    reportError(
      httpd,
      null,
      address,
      error instanceof TypeError ? error : new TypeError(
        "The handler wrote no valid response head (bytes before endHeaders?)",
        { cause: error },
      ),
    );
    return new Response("500 Internal Server Error\n", { status: 500 });
  }
  const stream = bodyStream(body, {
    end: done,
    fail: (error) => {
      done();
      return error;
    },
    cancel: done,
  });
  return toWebResponse(head, stream, HOP_BY_HOP);
}

/** Writes `request` to `conn` as an HTTP/1.1 request. */
async function sendRequest(conn: Deno.Conn, request: Request): Promise<void> {
  const url = new URL(request.url);
  const host = request.headers.get("host") ?? url.host;
  // The path and query, with a bare "?" that url.search drops; not cut from
  // the href by the origin's length: an http+unix URL's origin is "null".
  url.hash = "";
  const target = (url.pathname || "/") +
    (url.search === "" && url.href.endsWith("?") ? "?" : url.search);
  let head = `${request.method} ${target} HTTP/1.1\r\n` +
    `host: ${host}\r\n`;
  for (const [name, value] of request.headers) {
    if (name !== "host" && !REQUEST_SKIP.has(name)) {
      head += `${name}: ${value}\r\n`;
    }
  }
  const length = request.headers.get("content-length");
  const body = request.body;
  const chunked = body !== null && (length === null || !/^\d+$/.test(length));
  if (body !== null) {
    head += chunked
      ? "transfer-encoding: chunked\r\n"
      : `content-length: ${length}\r\n`;
  }
  await writeAll(conn, encodeLatin1(head + "\r\n"));
  if (body !== null) await writeBody(conn, body, chunked);
}

// Most bytes of a response body held back to learn its length (what the
// stream has at once).
const PEEK_LIMIT = 65536;
// Methods that `new Request` refuses.
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const BODY_METHODS = [
  "arrayBuffer",
  "blob",
  "bytes",
  "formData",
  "json",
  "text",
] as const;

/**
 * A handler class that serves a fetch-style `app`, so that an app written
 * for `Deno.serve` or Hono runs on {@linkcode HTTPServer}. Bodies stream
 * both ways; `request.signal` is the handler's `signal` (it notices a client
 * that leaves once the request body is read); any method works
 * except CONNECT, TRACE and TRACK, which `new Request` refuses (501); a GET
 * or HEAD body is read and dropped. `limits.maxBodySize` binds what the app
 * reads whole (`request.json()`, `text()` and the like, of a clone too);
 * `request.body` streams. Responses are HTTP/1.1, kept alive. As under
 * `Deno.serve`, a body the server can count goes with its own
 * Content-Length, and a `Response` from `fetch()` whose gzip or br body fetch
 * decoded goes without its Content-Encoding and Content-Length.
 *
 * @param app The app.
 * @returns A handler class for {@linkcode HTTPServer}.
 *
 * @example A fetch app on HTTPServer
 * ```ts
 * import assert from "node:assert/strict";
 * import { fetchHandler } from "@basehttp/server/fetch";
 * import { testClient } from "@basehttp/server/testing";
 *
 * const app = (request: Request) =>
 *   Response.json({ method: request.method, url: request.url });
 *
 * await using client = testClient(fetchHandler(app));
 * const response = await client.request("SPAM", "/eggs?x=1");
 * assert.deepEqual(response.json(), {
 *   method: "SPAM",
 *   url: "http://localhost/eggs?x=1",
 * });
 * ```
 */
export function fetchHandler(app: FetchApp): typeof BaseHTTPRequestHandler {
  if (typeof app !== "function") throw new TypeError("app must be a function");
  return class FetchAppHandler extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";

    // Any method is the app's: the request is served here rather than
    // dispatched to a do_X method.
    override async parseRequest(): Promise<boolean> {
      if (!(await super.parseRequest())) return false;
      await serveApp(this, app);
      return false;
    }
  };
}

async function serveApp(
  handler: BaseHTTPRequestHandler,
  app: FetchApp,
): Promise<void> {
  const method = handler.command;
  if (FORBIDDEN_METHODS.has(method.toUpperCase())) {
    return await handler.sendError(
      501,
      `A fetch app cannot be given a ${method} request`,
    );
  }
  const request = toRequest(handler);
  if (request === null) return await handler.sendError(400, "Bad target");
  let completed!: () => void;
  const info: Deno.ServeHandlerInfo<Deno.NetAddr> = {
    remoteAddr: {
      transport: "tcp",
      hostname: handler.clientAddress[0],
      port: handler.clientAddress[1],
    },
    completed: new Promise((resolve) => completed = resolve),
  };
  try {
    const response = await app(request, info);
    if (!(response instanceof Response)) {
      throw new TypeError("The app must return a Response");
    }
    await writeResponse(handler, response);
  } finally {
    completed();
  }
}

function toRequest(handler: BaseHTTPRequestHandler): Request | null {
  const target = handler.path;
  const headers = new Headers();
  const cookies: string[] = [];
  for (const [name, value] of handler.headers) {
    if (name.toLowerCase() === "cookie") cookies.push(value);
    else headers.append(name, value);
  }
  // One Cookie field, as Deno.serve gives (RFC 9113 §8.2.3): joined by
  // ", " a cookie's value would swallow the next cookie.
  if (cookies.length > 0) headers.set("cookie", cookies.join("; "));
  const tls = "handshake" in handler.connection;
  let url: URL;
  try {
    // An origin-form target is appended, never resolved against Host: the
    // URL parser reads "/\evil.example" as "//evil.example", another host.
    // "*" (OPTIONS *) is "/*", as under Deno.serve.
    url = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target)
      ? new URL(target)
      : new URL(
        `${tls ? "https" : "http"}://${
          headers.get("host") || ownHost(handler)
        }${target === "*" ? "/*" : target}`,
      );
  } catch {
    return null;
  }
  const rfile = handler.rfile;
  // As new Request sees the method: it makes "get" GET.
  const method = handler.command.toUpperCase();
  const bodyless = method === "GET" || method === "HEAD";
  // A POST with no body has an empty one, as under Deno.serve: only GET and
  // HEAD have none.
  const body = bodyless
    ? null
    : rfile.done
    ? new Uint8Array(0)
    : streamOf(rfile);
  const request = new Request(url, {
    method: handler.command,
    headers,
    body,
    signal: handler.signal,
    // @ts-ignore: Deno's RequestInit lacks `duplex`, which a stream needs.
    duplex: "half",
  });
  // Whole-body reads go through rfile, under maxBodySize.
  if (!(body instanceof ReadableStream)) return request;
  bindWholeReads(
    request,
    (as) => wholeBody(request, body, handler, as),
    handler.server.limits.maxBodySize,
  );
  return request;
}

/**
 * Makes `read` the whole-body reads of `request`, and binds a clone's by
 * `limit` too: a clone's body is a branch of a tee, which rfile cannot read.
 */
function bindWholeReads(
  request: Request,
  read: (as: typeof BODY_METHODS[number]) => Promise<unknown>,
  limit: number | null,
): void {
  for (const name of BODY_METHODS) {
    Object.defineProperty(request, name, { value: () => read(name) });
  }
  Object.defineProperty(request, "clone", {
    value: () => {
      const copy = Request.prototype.clone.call(request);
      bindWholeReads(copy, (as) => branchBody(copy, as, limit), limit);
      return copy;
    },
  });
}

/** For a request with no Host: this machine, on the server's own port. */
function ownHost(handler: BaseHTTPRequestHandler): string {
  const port = handler.server.serverPort; // 0 with no listener of its own
  return port > 0 ? `localhost:${port}` : "localhost";
}

/**
 * The body as a byte stream, read only as the app pulls (no read ahead: the
 * app may read it whole through rfile instead). A BYOB reader's buffer is
 * filled in place, so an app that reuses one makes no garbage per chunk.
 */
function streamOf(rfile: BodyReader): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    async pull(controller) {
      const request = controller.byobRequest;
      const view = request?.view;
      const buf = view
        ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
        : new Uint8Array(65536);
      const n = await rfile.read(buf);
      if (n === null) {
        controller.close();
        request?.respond(0);
      } else if (request) {
        request.respond(n);
      } else {
        controller.enqueue(buf.subarray(0, n));
      }
    },
  }, { highWaterMark: 0 });
}

/**
 * The body read whole through rfile, under maxBodySize; as fetch reads it
 * once it was read or locked, and as a branch once cloned.
 */
async function wholeBody(
  request: Request,
  stream: ReadableStream<Uint8Array>,
  handler: BaseHTTPRequestHandler,
  as: typeof BODY_METHODS[number],
): Promise<unknown> {
  if (request.body !== stream) {
    return await branchBody(request, as, handler.server.limits.maxBodySize);
  }
  if (request.bodyUsed || stream.locked) {
    return await Request.prototype[as].call(request);
  }
  const bytes = await handler.rfile.bytes();
  await stream.cancel(); // used now, as after fetch's own read
  return await new Response(bytes, { headers: request.headers })[as]();
}

/** A cloned body (a branch of a tee) read whole, 413 past `limit`. */
async function branchBody(
  request: Request,
  as: typeof BODY_METHODS[number],
  limit: number | null,
): Promise<unknown> {
  const body = request.body;
  if (request.bodyUsed || body === null || body.locked) {
    return await Request.prototype[as].call(request);
  }
  const gathered = new GrowingBytes();
  const reader = body.getReader();
  try {
    for (let part; !(part = await reader.read()).done;) {
      if (limit !== null && gathered.length + part.value.length > limit) {
        // Not awaited: a branch's cancel settles once both are cancelled.
        reader.cancel().catch(() => {});
        throw contentTooLarge("the body is", limit);
      }
      gathered.append(part.value);
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = gathered.bytes();
  return await new Response(bytes, { headers: request.headers })[as]();
}

async function writeResponse(
  handler: BaseHTTPRequestHandler,
  response: Response,
): Promise<void> {
  if (response.status < 200) {
    await response.body?.cancel();
    throw new TypeError(
      `A fetch app on HTTPServer cannot answer ${response.status}: ` +
        "Deno.upgradeWebSocket needs Deno.serve; here a WebSocket is a " +
        "handler class's this.upgradeWebSocket()",
    );
  }
  handler.sendResponseOnly(response.status, response.statusText || undefined);
  // A coding fetch() may have undone: its field waits for the body.
  const coding = fetchCoding(response);
  let dated = false;
  let named = false;
  for (const [name, value] of response.headers) {
    if (HOP_BY_HOP.has(name) || name === "content-length") continue;
    if (coding !== null && name === "content-encoding") continue;
    dated ||= name === "date";
    named ||= name === "server";
    handler.sendHeader(name, value);
  }
  if (!named) handler.sendHeader("Server", handler.versionString());
  if (!dated) handler.sendHeader("Date", handler.dateTimeString());
  // The app's Content-Length stands only where the server cannot count the
  // body: a stream still coming, and no body where a GET's is meant (HEAD,
  // 304). Elsewhere it is the body's own, as under Deno.serve.
  const declared = response.headers.get("content-length");
  const body = response.body;
  if (body === null) {
    // No bytes to tell by: as the GET's body would be, taken as decoded.
    const own = coding === null ? declared : null;
    if (response.status === 304 || handler.command === "HEAD") {
      if (own !== null) handler.sendHeader("Content-Length", own);
    } else if (response.status !== 204) {
      // Framed as no body, not as an empty chunked one.
      handler.sendHeader("Content-Length", "0");
    }
    return await handler.endHeaders();
  }
  const reader = body.getReader();
  // A stream waiting for its next chunk learns that the client left, as
  // under Deno.serve; its pending read then ends.
  const { signal } = handler;
  const stop = () => reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", stop);
  if (signal.aborted) stop();
  try {
    // What the stream has at once goes with the head, and when that is all
    // of it (a string, JSON, bytes) the head gives its Content-Length, as
    // under Deno.serve; a stream with more to come is not waited for. An
    // app that streams the request body back has begun to read it by then:
    // 100 Continue, owed, goes before the head (Deno.serve sends it at the
    // body's first read too).
    const ready: Uint8Array[] = [];
    let size = 0;
    let ended = false;
    // Each read is ahead of its await (a head or a flush comes between): a
    // failing stream must not reject unhandled meanwhile.
    let next = handled(reader.read());
    const take = (result: ReadableStreamReadResult<unknown>): void => {
      if (result.done) {
        ended = true;
        return;
      }
      const chunk = bytesOf(result.value);
      ready.push(chunk);
      size += chunk.length;
      next = handled(reader.read());
    };
    while (size <= PEEK_LIMIT && !ended) {
      const result = await atOnce(next);
      if (result === null) break;
      take(result);
    }
    // Past the peek's bound, one look more: a large body made whole (a
    // string, bytes) has its end ready after its one chunk.
    if (!ended && size > PEEK_LIMIT) {
      ended = (await atOnce(next))?.done === true;
    }
    // A body fetch() decoded still has the upstream's coding and length: as
    // under Deno.serve, they go, or the client would decode it again.
    let decoded = false;
    if (coding !== null) {
      if (ready.length === 0 && !ended) take(await next);
      decoded = !stillGzip(coding, ready[0]);
      if (!decoded) handler.sendHeader("Content-Encoding", coding);
    }
    const own = decoded ? null : declared;
    const length = ended && (handler.command !== "HEAD" || own === null)
      ? String(size)
      : own;
    if (length !== null) handler.sendHeader("Content-Length", length);
    await handler.endHeaders();
    if (handler.command === "HEAD") return await reader.cancel();
    for (const chunk of ready) await handler.wfile.write(chunk);
    while (!ended) {
      // Each chunk goes out as it comes, as under Deno.serve: a stream's
      // next chunk may be a long time coming.
      await handler.wfile.flush();
      const { done, value } = await next;
      if (done) break;
      await handler.wfile.write(bytesOf(value));
      next = handled(reader.read());
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    signal.removeEventListener("abort", stop);
    reader.releaseLock();
  }
}

/**
 * The Content-Encoding of a `response` from `fetch()` when it is one that
 * fetch undoes: Deno's fetch asks for gzip and br, decodes them, and keeps
 * the field (as the Fetch standard says). A Response an app made has no
 * `url`, and its field is the app's to mean.
 */
function fetchCoding(response: Response): string | null {
  if (response.url === "") return null;
  const coding = response.headers.get("content-encoding");
  return coding !== null && /^[ \t]*(?:gzip|br)[ \t]*$/i.test(coding)
    ? coding
    : null;
}

/**
 * Whether a body labelled `coding` is still gzip, by its first bytes: fetch
 * asks for identity, and decodes nothing, when the request has a Range or
 * the caller asked for identity itself. (Brotli has no such mark: a br
 * body fetch did not decode is taken as decoded.)
 */
function stillGzip(coding: string, first: Uint8Array | undefined): boolean {
  return /gzip/i.test(coding) && first?.[0] === 0x1f && first[1] === 0x8b;
}

/** A response stream's chunk, which the Fetch standard has be bytes. */
function bytesOf(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  const kind = chunk === null || typeof chunk !== "object"
    ? typeof chunk
    : chunk.constructor?.name ?? "object";
  throw new TypeError(
    `A response body stream gave a chunk that is not a Uint8Array (${kind})`,
  );
}

/**
 * `promise`'s value if it settles without waiting for I/O or a timer (within
 * a few microtask turns: a body made whole settles its reads in two to
 * five), else `null`. A zero timer per read cost a small response 13–23 %
 * of its requests per second.
 */
async function atOnce<T>(promise: Promise<T>): Promise<T | null> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  for (let turn = 0; turn < 16 && !settled; turn++) await null;
  return settled ? await promise : null;
}
