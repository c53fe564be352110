// Copyright 2026 the basehttp authors. MIT license.
/**
 * {@linkcode BaseHTTPRequestHandler}: Python's request handler API over one
 * connection. Subclass it and add `do_GET`, `do_POST` or any `do_METHOD`.
 *
 * @module
 */

import { ANSWERING, Connection } from "./_connection.ts";
import { percentFormat } from "./_percent.ts";
import { handled, RESOLVED, watched } from "./_handled.ts";
import { formatDate, MONTHS, pad2 } from "./_date.ts";
import { pyRepr, splitTokens, utf8OfHead } from "./_text.ts";
import { refusedLineOf, requestLineOf } from "./_head.ts";
import { type BodyReader, HTTPMessage, type RequestHead } from "./parser.ts";
import { responses } from "./status.ts";
import type { HTTPServer } from "./server.ts";
// The integration layer above this one is loaded only by a handler that
// asks for it: types alone are imported here.
import type { EventStream, EventStreamOptions } from "./events.ts";
import type { ServerWebSocket, WebSocketOptions } from "./websocket.ts";

export { percentFormat };

/**
 * Python's default error page (3.14), a `%`-template of code, message,
 * explain; a handler's `errorMessageFormat` replaces it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_ERROR_MESSAGE } from "@basehttp/server";
 *
 * assert.match(DEFAULT_ERROR_MESSAGE, /%\(code\)d/);
 * ```
 */
export const DEFAULT_ERROR_MESSAGE: string = `<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <style type="text/css">
            :root {
                color-scheme: light dark;
            }
        </style>
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: %(code)d</p>
        <p>Message: %(message)s.</p>
        <p>Error code explanation: %(code)s - %(explain)s.</p>
    </body>
</html>
`;

/**
 * Whether the client would keep the connection after this request: no
 * `close`, and on HTTP/1.0 a `keep-alive` (RFC 9112 §9.3).
 */
function clientPersists(head: RequestHead): boolean {
  const connection = splitTokens(head.headers.getAll("connection"));
  return !connection.includes("close") &&
    (head.minor >= 1 || connection.includes("keep-alive"));
}

const WEEKDAY_NAMES: readonly string[] = Object.freeze(
  "Mon Tue Wed Thu Fri Sat Sun".split(" "),
);
const MONTH_NAMES: readonly (string | null)[] = Object.freeze([
  null,
  ...MONTHS,
]);

/** The Content-Type of error pages, as in Python. */
export const DEFAULT_ERROR_CONTENT_TYPE = "text/html;charset=utf-8";

/**
 * A client address: `[host, port]`; for a Unix socket `[path, 0]`, the path
 * `"unix:"` when the client's socket has no name (as nginx's `$remote_addr`).
 */
export type ClientAddress = [host: string, port: number];

/** The handler's `wfile`: response body bytes go here. */
export interface ResponseWriter {
  /**
   * Queues bytes (a string is sent as UTF-8). Small writes are copied and
   * coalesced, so a response goes out in as few socket writes as possible;
   * large ones (16 KiB and up) go straight to the socket. Either way `data`
   * may be reused once the promise resolves.
   */
  write(data: Uint8Array | string): Promise<void>;
  /** Sends everything queued so far. */
  flush(): Promise<void>;
}

/** A connection taken from the server with `detach()`. */
export interface DetachedConnection {
  /** The connection, now the handler's to read, write and close. */
  conn: Deno.Conn;
  /** Bytes already read past the request head (a body, a protocol's start). */
  buffered: Uint8Array;
}

// The longest a timer waits, in whole seconds (2^31 - 1 ms).
const MAX_TIMER_S = 2147483;

/** A handler class, as passed to {@linkcode HTTPServer}. */
export type HandlerClass = new (
  connection: Deno.Conn,
  clientAddress: ClientAddress,
  server: HTTPServer,
) => BaseHTTPRequestHandler;

/** Escapes `&`, `<` and `>` like Python's `html.escape(s, quote=False)`. */
export function htmlEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}

/** Escapes control characters (C0, DEL, C1) and backslashes for a log line. */
function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (ch) => {
    if (ch === "\\") return "\\\\";
    return "\\x" + ch.charCodeAt(0).toString(16).padStart(2, "0");
  });
}

const encoder = new TextEncoder();
// One string for every handler, not one each.
const SYS_VERSION = `Deno/${Deno.version.deno}`;

/** The handler's `wfile`: an object of one field, not two closures. */
class Writer implements ResponseWriter {
  #engine: Connection;

  constructor(engine: Connection) {
    this.#engine = engine;
  }

  write(data: Uint8Array | string): Promise<void> {
    return this.#engine.writeBody(data);
  }

  flush(): Promise<void> {
    return this.#engine.flush();
  }
}

/**
 * Python's `BaseHTTPRequestHandler`: serves one connection, one request at a
 * time, dispatching each to `do_<METHOD>`. The engine under it (reading,
 * deadlines, framing, output, keep-alive) is private to the package, so that
 * overriding any method here never switches a timeout or a limit off.
 *
 * @example A handler
 * ```ts
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 *
 * class Hello extends BaseHTTPRequestHandler {
 *   async do_GET(): Promise<void> {
 *     const body = new TextEncoder().encode("hello\n");
 *     this.sendResponse(200);
 *     this.sendHeader("Content-Type", "text/plain");
 *     this.sendHeader("Content-Length", String(body.length));
 *     await this.endHeaders();
 *     await this.wfile.write(body);
 *   }
 * }
 * ```
 */
export class BaseHTTPRequestHandler {
  /** First part of the `Server` header. */
  serverVersion = "BaseHTTP/0.6";
  /** Second part of the `Server` header. */
  sysVersion: string = SYS_VERSION;
  /** The error page template; see {@linkcode DEFAULT_ERROR_MESSAGE}. */
  errorMessageFormat: string = DEFAULT_ERROR_MESSAGE;
  /** The Content-Type of error pages. */
  errorContentType: string = DEFAULT_ERROR_CONTENT_TYPE;
  /**
   * Whether {@linkcode sendError} ends the connection (`Connection: close`),
   * as Python's does. With `false`, the connection after an error is kept
   * or closed as after any response: the engine still closes after a head
   * it refused or a body left unread past what it drains.
   */
  errorClosesConnection = true;
  /**
   * The version in every status line. `"HTTP/1.1"` turns on keep-alive;
   * the default is Python's `"HTTP/1.0"`.
   */
  protocolVersion = "HTTP/1.0";
  /** Status code → `[phrase, description]`. */
  responses: Readonly<Record<number, readonly [string, string]>> = responses;
  /**
   * Seconds any single read or write may wait (Python's socket timeout):
   * for this handler it shortens the server's timeouts it is under, and
   * never lengthens or lifts one (a longer wait, `Infinity` or `NaN` keeps
   * the server's; those are the server's options); `null` keeps them all.
   */
  timeout: number | null = null;
  /**
   * Day abbreviations, Monday first (Python's `weekdayname`): read by
   * nothing, as in Python 3, whose HTTP dates stay English and whose log
   * dates name no day.
   */
  weekdayname: readonly string[] = WEEKDAY_NAMES;
  /**
   * Month abbreviations after a `null`, January at 1 (Python's
   * `monthname`); {@linkcode logDateTimeString} uses them.
   */
  monthname: readonly (string | null)[] = MONTH_NAMES;

  /** The accepted connection (Python's `request` / `connection`). */
  readonly connection: Deno.Conn;
  /** The client's `[host, port]`. */
  readonly clientAddress: ClientAddress;
  /** The server that accepted the connection. */
  readonly server: HTTPServer;
  /** Whether the connection closes after this request. */
  closeConnection = true;
  /** The request line, without its line end. */
  requestline = "";
  /** The request method, such as `GET`. */
  command = "";
  /** The request-target (a leading `//` is reduced to `/`). */
  path = "";
  /** The request's version token, such as `HTTP/1.1`. */
  requestVersion = "";
  /** The request's header fields. */
  headers!: HTTPMessage;
  /** Where the response body goes. */
  readonly wfile: ResponseWriter;

  #engine: Connection;

  /**
   * Creates the handler for one connection; the server does this. The
   * connection's engine starts here, under the server's timeouts.
   *
   * @param connection The accepted connection.
   * @param clientAddress The client's address.
   * @param server The server.
   */
  constructor(
    connection: Deno.Conn,
    clientAddress: ClientAddress,
    server: HTTPServer,
  ) {
    this.connection = connection;
    this.clientAddress = clientAddress;
    this.server = server;
    const engine = this.#engine = new Connection(
      connection,
      clientAddress,
      server,
      this,
    );
    this.wfile = new Writer(engine);
  }

  /** The request body: exactly this request's bytes, decoded if chunked. */
  get rfile(): BodyReader {
    return this.#engine.rfile;
  }

  /**
   * Aborts when the client closes or resets the connection, the request
   * times out (a `TimeoutError`), or the server closes the connection under
   * it (a shutdown past `shutdownTimeout`), while this request is served;
   * the reason is a `DOMException` that says which. Made on first use: a
   * handler that never asks pays nothing. Once the body has been read, the
   * connection is watched by a read whose bytes are kept for the next
   * request; once the next request has begun to arrive (pipelined), the
   * watch stops, and a client that leaves is noticed at the next write.
   * A half-close (the client's end of writing, after its request) reads
   * as the end too, as in Go and nginx: the answer is still sent, if the
   * handler sends one.
   *
   * @example Stop waiting for a client that left
   * ```ts ignore
   * const result = await fetch(upstream, { signal: this.signal });
   * ```
   */
  get signal(): AbortSignal {
    return this.#engine.signal;
  }

  /**
   * Answers the WebSocket opening handshake of this request and returns the
   * socket, `CONNECTING` until `open` fires in a later task. A request that
   * is not a valid handshake is answered 400 (426 for a version other than
   * 13) and the promise rejects with that {@linkcode HTTPError}, which then
   * only closes the connection. Once upgraded, the server's HTTP timeouts
   * no longer apply (the socket's `idleTimeout` does); the request ends
   * when the socket closes, and a shutdown closes it with 1001. The handler
   * may return while the socket lives on; one that throws closes it with
   * 1011 (RFC 6455 §7.4.1), after handleError.
   *
   * @example Echo
   * ```ts ignore
   * async do_GET(): Promise<void> {
   *   const socket = await this.upgradeWebSocket({ protocols: ["chat"] });
   *   socket.onmessage = (event) => socket.send(event.data);
   * }
   * ```
   *
   * @param options Subprotocols, limits, compression.
   * @returns The socket.
   */
  upgradeWebSocket(options?: WebSocketOptions): Promise<ServerWebSocket> {
    const engine = this.#engine;
    return handled(
      import("./_websocket_upgrade.ts").then(({ upgradeWebSocket }) =>
        upgradeWebSocket(this, engine, options)
      ),
    );
  }

  /**
   * Answers with a stream of server-sent events: `200`,
   * `Content-Type: text/event-stream`, `Cache-Control: no-cache`,
   * `X-Accel-Buffering: no` (for nginx), chunked on
   * a keep-alive HTTP/1.1 connection and ended by closing on HTTP/1.0. The
   * request stays open until the stream is closed, the client goes away or
   * the server shuts down (which ends the stream at once).
   *
   * @example Count to three
   * ```ts ignore
   * async do_GET(): Promise<void> {
   *   const events = await this.eventStream();
   *   for (let i = 1; i <= 3; i++) await events.send({ data: String(i) });
   *   await events.close();
   * }
   * ```
   *
   * @param options The heartbeat.
   * @returns The stream.
   * @throws {RangeError} When `heartbeat` is not a number of seconds above
   *   0 and at most 2147483 (what a timer holds).
   */
  eventStream(options?: EventStreamOptions): Promise<EventStream> {
    return handled(this.#eventStream(options));
  }

  async #eventStream(options?: EventStreamOptions): Promise<EventStream> {
    const heartbeat = options?.heartbeat ?? null;
    // A timer holds at most 2^31 - 1 ms; past it, Deno fires every 1 ms.
    if (heartbeat !== null && !(heartbeat > 0 && heartbeat <= MAX_TIMER_S)) {
      throw new RangeError(
        `heartbeat must be a number of seconds, above 0 and at most ${MAX_TIMER_S}`,
      );
    }
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/event-stream");
    this.sendHeader("Cache-Control", "no-cache");
    // nginx would otherwise hold events in its proxy buffer.
    this.sendHeader("X-Accel-Buffering", "no");
    await this.endHeaders();
    await this.wfile.flush();
    const engine = this.#engine;
    const wfile = this.wfile;
    const { EventStream } = await import("./events.ts");
    return new EventStream({
      write: (bytes) => wfile.write(bytes).then(() => wfile.flush()),
      cut: (reason) => engine.cut(reason),
      headOnly: this.command === "HEAD",
      // The browser sends the id it was given, in UTF-8 (WHATWG).
      lastEventId: utf8OfHead(this.headers.get("last-event-id") ?? ""),
      signal: this.signal,
      heartbeat,
      hold: (session) => engine.hold(session),
    });
  }

  /**
   * Takes the connection from the server, for a tunnel (`CONNECT`) or
   * another protocol: what is queued is sent first, and the bytes already
   * read past the head are handed over. The server then no longer reads,
   * writes, times or closes it, it stops counting against `maxConnections`,
   * and `shutdown()` does not wait for it. Call it before `this.signal` is
   * read once the body is done (that read's bytes would be lost).
   *
   * @example A tunnel
   * ```ts ignore
   * async do_CONNECT(): Promise<void> {
   *   const upstream = await Deno.connect({ hostname, port });
   *   this.sendResponse(200, "Connection Established");
   *   await this.endHeaders();
   *   const { conn, buffered } = await this.detach();
   *   await upstream.write(buffered);
   *   await Promise.all([
   *     conn.readable.pipeTo(upstream.writable),
   *     upstream.readable.pipeTo(conn.writable),
   *   ]).catch(() => {});
   * }
   * ```
   *
   * @returns The connection and the bytes read past the head.
   * @throws {TypeError} Outside a request, or once `this.signal` watches.
   */
  detach(): Promise<DetachedConnection> {
    return handled(
      this.#engine.detach().then((buffered) => ({
        conn: this.connection,
        buffered,
      })),
    );
  }

  /** Called before {@linkcode handle}; does nothing by default. */
  setup(): void | Promise<void> {}

  /**
   * Serves requests until {@linkcode closeConnection} is set, as Python's
   * `handle()` does.
   */
  async handle(): Promise<void> {
    this.closeConnection = true;
    await this.handleOneRequest();
    while (!this.closeConnection) await this.handleOneRequest();
  }

  /** Called after {@linkcode handle}: sends what is still queued. */
  finish(): Promise<void> {
    return this.#engine.finish();
  }

  /**
   * Reads, parses and dispatches one request, then ends its response.
   */
  handleOneRequest(): Promise<void> {
    const engine = this.#engine;
    this.requestline = this.command = this.requestVersion = "";
    try {
      const head = engine.takeHead();
      if (head !== undefined) return this.#serveHead(head);
      // An idle connection, as most are, keeps neither the last request's
      // head (a browser's is 0.5–1 KB, more with cookies) nor a frame of
      // this method (a promise, not an await) while it waits for the next.
      this.path = "";
      this.headers = new HTTPMessage();
      return engine.waitHead().then(
        (head) => this.#serveHead(head),
        (error) => this.#refuseHead(error),
      );
    } catch (error) {
      // A connection's read() may throw rather than reject.
      return this.#refuseHead(error);
    }
  }

  /**
   * Answers a head the engine refused (`error` says why). Async: an
   * override of sendError that throws still makes a rejection.
   */
  async #refuseHead(error: unknown): Promise<void> {
    // Nothing of the last request answers this one; as in Python's
    // parse_request, a head refused for its fields has its request line
    // read: a HEAD gets no body, and the log shows the line.
    this.headers = new HTTPMessage();
    this.path = "";
    const line = requestLineOf(error);
    if (line !== undefined) {
      [this.command, this.path, this.requestVersion] = line.split(" ");
      this.requestline = line;
    } else {
      this.requestline = refusedLineOf(error) ?? "";
    }
    await this.#engine.failHead(error);
  }

  /** Parses and dispatches a request, then ends its response. */
  async #serveHead(head: RequestHead | null): Promise<void> {
    const engine = this.#engine;
    if (head === null) {
      this.closeConnection = true;
      return;
    }
    try {
      const parsed = this.parseRequest();
      if (typeof parsed === "boolean" ? parsed : await parsed) {
        const name = "do_" + this.command;
        const method = (this as unknown as Record<string, unknown>)[name];
        if (typeof method === "function") {
          await method.call(this);
        } else {
          await this.sendError(
            501,
            `Unsupported method (${pyRepr(this.command)})`,
          );
        }
      }
    } catch (error) {
      await engine.fail(error);
    }
    const ending = engine.endRequest();
    if (ending !== undefined) await ending;
  }

  /**
   * Takes the parsed request into the handler's fields: command, path,
   * version, headers, keep-alive and `Expect`. On failure it has already
   * begun an error response, which the request's end waits for: a plain
   * `false`, as in Python, so an override may test
   * `if (!super.parseRequest())` without awaiting. It is a promise only
   * when an async `handleExpect100` override makes it one.
   *
   * @returns `true` when the request should be dispatched.
   */
  parseRequest(): boolean | Promise<boolean> {
    const head = this.#engine.head!;
    this.command = head.command;
    this.requestline = head.requestline;
    this.requestVersion = head.version;
    this.headers = head.headers;
    // Python's open-redirect defence: "//evil.example/x" becomes "/evil...".
    this.path = head.target.startsWith("//")
      ? "/" + head.target.replace(/^\/+/, "")
      : head.target;

    const speaks11 = this.#engine.speaksKeepAlive;
    this.closeConnection = !speaks11 || !clientPersists(head);

    // Most requests have no Expect: has() looks without making arrays.
    if (!head.headers.has("expect")) return true;
    const expect = splitTokens(head.headers.getAll("expect"));
    if (expect.length === 0) return true;
    if (expect.length !== 1 || expect[0] !== "100-continue") {
      void this[ANSWERING](this.sendError(417));
      return false;
    }
    if (head.minor >= 1 && speaks11) return this.handleExpect100();
    return true;
  }

  /**
   * Makes the request end only after `writing`, an error page still being
   * written, and returns it.
   *
   * @ignore
   */
  [ANSWERING](writing: Promise<void>): Promise<void> {
    this.#engine.answerWith(handled(writing));
    return writing;
  }

  /**
   * Decides on `Expect: 100-continue`. By default `100 Continue` is sent
   * when the handler first reads the body, or ends a 2xx head before it
   * does (it takes the request, and a client may wait for the 100 before
   * it sends the body), so a handler that refuses without reading it (a
   * 401, say) never invites the upload. Override to refuse with
   * `sendError(417)` and return `false`.
   *
   * @returns `true` to go on and dispatch the request.
   */
  handleExpect100(): boolean | Promise<boolean> {
    this.#engine.expectContinue();
    return true;
  }

  /**
   * Sends an error response with Python's HTML page and, while
   * {@linkcode errorClosesConnection} is set, `Connection: close`.
   * The promise rejects if the client is gone, or the response cannot be
   * sent (its head already was, or its request has ended); it never
   * throws, and one not awaited is harmless.
   *
   * @param code The status code.
   * @param message The short message; defaults to the status phrase.
   * @param explain The explanation; defaults to the status description.
   */
  sendError(code: number, message?: string, explain?: string): Promise<void> {
    const [short, long] = this.responses[code] ?? ["???", "???"];
    message ??= short;
    explain ??= long;
    let ended: Promise<void>;
    try {
      this.logError("code %d, message %s", code, message);
      this.sendResponse(code, message);
      if (this.errorClosesConnection) this.sendHeader("Connection", "close");
      const body = code >= 200 && code !== 204 && code !== 205 && code !== 304
        ? encoder.encode(percentFormat(this.errorMessageFormat, {
          code,
          message: htmlEscape(message),
          explain: htmlEscape(explain),
        }))
        : null;
      if (body !== null) {
        this.sendHeader("Content-Type", this.errorContentType);
        this.sendHeader("Content-Length", String(body.length));
      }
      ended = this.endHeaders();
      if (body !== null && this.command !== "HEAD") {
        if (this.#engine.headQueued) {
          // Queued now, as Python writes it: a caller that does not await
          // (a sync parseRequest override) still sends the page whole.
          const wrote = handled(this.wfile.write(body));
          ended = ended.then(() => wrote);
        } else {
          ended = ended.then(() => this.wfile.write(body));
        }
      }
    } catch (error) {
      ended = Promise.reject(error); // a promise's failure, never a throw
    }
    // Rejects for a caller who awaits it, only.
    return handled(ended);
  }

  /**
   * Queues the status line and the `Server` and `Date` headers. An interim
   * (1xx) head, such as 103 Early Hints, goes out at `endHeaders()`, before
   * the final one; an HTTP/1.0 client gets none (RFC 9110 §15.2).
   *
   * @param code The status code, 100–999.
   * @param message The reason phrase; defaults to the status phrase.
   */
  sendResponse(code: number, message?: string): void {
    this.sendResponseOnly(code, message);
    this.sendHeader("Server", this.versionString());
    this.sendHeader("Date", this.dateTimeString());
  }

  /**
   * Queues only the status line.
   *
   * @param code The status code, 100–999.
   * @param message The reason phrase; defaults to the status phrase.
   * @throws {RangeError} When `code` is not a three-digit integer.
   */
  sendResponseOnly(code: number, message?: string): void {
    if (!Number.isInteger(code) || code < 100 || code > 999) {
      throw new RangeError(`Invalid status code: ${code}`);
    }
    // A caller's message may quote the client: keep it to one Latin-1 line.
    const phrase = message === undefined
      ? this.responses[code]?.[0] ?? ""
      : message.replace(/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/g, "?");
    this.#engine.beginHead(code, this.protocolVersion, phrase);
  }

  /**
   * Queues a header line. `Connection: close` / `keep-alive` also sets
   * {@linkcode closeConnection}, as in Python; `keep-alive` only when the
   * client would keep the connection too.
   *
   * @param keyword The field name, a token.
   * @param value The field value (Latin-1, no CR, LF or NUL).
   * @throws {TypeError} When the name or value could split the response;
   *   for a `Content-Length` that is not digits, and for a second framing
   *   field (another `Content-Length`, or one beside `Transfer-Encoding`),
   *   which would frame the response twice (Python sends them as given).
   */
  sendHeader(keyword: string, value: string): void {
    // Checked as the text that goes out, whatever untyped code passes.
    keyword = String(keyword);
    value = String(value);
    this.#engine.addHeader(keyword, value);
    if (keyword.length === 10 && keyword.toLowerCase() === "connection") {
      const tokens = splitTokens([value]);
      if (tokens.includes("close")) this.closeConnection = true;
      else if (tokens.includes("keep-alive")) {
        // Not against the client's wish (RFC 9112 §9.3, §9.6).
        const head = this.#engine.head;
        if (head !== null && clientPersists(head)) this.closeConnection = false;
      }
    }
  }

  /**
   * Ends the header block. Framing is settled here: without Content-Length,
   * a keep-alive HTTP/1.1 response is sent chunked, any other closes the
   * connection after the body.
   */
  endHeaders(): Promise<void> {
    return this.#engine.endHead();
  }

  /**
   * Queues the ended header block for the socket. The block normally goes
   * out with the body in one write; call `wfile.flush()` to send it now.
   */
  flushHeaders(): Promise<void> {
    this.#engine.queueHead();
    return RESOLVED;
  }

  /**
   * Logs a completed request in Python's format.
   *
   * @param code The status code; `-` when absent.
   * @param size The body size in bytes; `-` when absent.
   */
  logRequest(code?: number | string, size?: number | string): void {
    watched(
      this.logMessage('"%s" %s %s', this.requestline, code ?? "-", size ?? "-"),
      "logMessage",
    );
  }

  /**
   * Logs an error; by default the same as {@linkcode logMessage}.
   *
   * @param format A `%`-template.
   * @param args Its arguments.
   */
  logError(format: string, ...args: unknown[]): void {
    watched(this.logMessage(format, ...args), "logMessage");
  }

  /**
   * Writes one log line to the server's `logSink` (stderr by default):
   * `address - - [date] message`, with control characters in the message
   * escaped as `\xHH`.
   *
   * @param format A `%`-template.
   * @param args Its arguments.
   */
  logMessage(format: string, ...args: unknown[]): void {
    const message = escapeControls(percentFormat(format, args));
    this.server.logSink(
      `${this.addressString()} - - [${this.logDateTimeString()}] ${message}`,
    );
  }

  /**
   * The `Server` header value.
   *
   * @returns `serverVersion + " " + sysVersion`.
   */
  versionString(): string {
    return this.#engine.versionString(this.serverVersion, this.sysVersion);
  }

  /**
   * An IMF-fixdate, such as `Thu, 01 Jan 1970 00:00:00 GMT`.
   *
   * @param timestamp Seconds since the epoch; defaults to now.
   * @returns The date.
   */
  dateTimeString(timestamp?: number): string {
    if (timestamp !== undefined) return formatDate(timestamp * 1000);
    return this.#engine.date();
  }

  /**
   * The local time for log lines, such as `23/Nov/2026 19:37:11`.
   *
   * @returns The date and time.
   */
  logDateTimeString(): string {
    const d = new Date();
    return `${pad2(d.getDate())}/${
      this.monthname[d.getMonth() + 1]
    }/${d.getFullYear()} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${
      pad2(d.getSeconds())
    }`;
  }

  /**
   * The client address for log lines.
   *
   * @returns The client's host.
   */
  addressString(): string {
    return this.clientAddress[0];
  }
}
