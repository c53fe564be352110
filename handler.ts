// Copyright 2026 the basehttp authors. MIT license.
/**
 * {@linkcode BaseHTTPRequestHandler}: Python's request handler API over one
 * connection. Subclass it and add `do_GET`, `do_POST` or any `do_METHOD`.
 *
 * @module
 */

import {
  BodyReader,
  BufferedReader,
  HTTPError,
  type HTTPMessage,
  isFieldValue,
  isToken,
  pyRepr,
  type RequestHead,
  splitTokens,
} from "./parser.ts";
import { responses } from "./status.ts";
import type { HTTPServer } from "./server.ts";

/** Python's default error page (3.14), a `%`-template of code, message, explain. */
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

/** The Content-Type of error pages, as in Python. */
export const DEFAULT_ERROR_CONTENT_TYPE = "text/html;charset=utf-8";

/** A client address: `[host, port]` (for a Unix socket, `[path, 0]`). */
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

/** A handler class, as passed to {@linkcode HTTPServer}. */
export type HandlerClass = new (
  connection: Deno.Conn,
  clientAddress: ClientAddress,
  server: HTTPServer,
) => BaseHTTPRequestHandler;

const encoder = new TextEncoder();
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/** Month abbreviations of HTTP dates and log lines, January first. */
export const MONTHS: readonly string[] =
  "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
    .split(" ");
// How the response body is framed.
const NO_BODY_YET = 0;
const PLAIN = 1;
const CHUNKED = 2;
const DISCARDED = 3; // HEAD, 204, 304: written bytes are dropped
const RAW = 4; // no header block: the handler frames its own bytes
// Unread request bodies up to this size are read and dropped to keep the
// connection; larger ones close it.
const DRAIN_LIMIT = 65536;
// Queued output is written once it reaches this size; body writes of at
// least this size go straight to the socket, uncopied.
const FLUSH_AT = 16384;
const RESOLVED: Promise<void> = Promise.resolve();

// Deadlines are checked by one sweep over the live connections, rather than
// by a timer each: arming is an assignment, and an idle connection holds no
// timer. The sweep runs while any handler is in handle().
const SWEEP_MS = 50;
const live = new Set<BaseHTTPRequestHandler>();
let sweeper: ReturnType<typeof setInterval> | undefined;

// Handlers holding finished pipelined responses, and the one timer (a timer
// costs microseconds: not one per batch) that sends what they still hold.
const holding = new Set<BaseHTTPRequestHandler>();
let holdTimer: ReturnType<typeof setTimeout> | undefined;

// Output buffers are pooled: a typed array costs far more to allocate than a
// request takes to serve, and an idle connection should hold none. Most
// responses fit the small size, so a burst of connections touches 4 KiB
// each, not 32 (freed memory stays resident); larger ones move up.
const SMALL_OUTPUT = 4096;
const LARGE_OUTPUT = 2 * FLUSH_AT;
// Enough for the responses in flight at once; more are allocated and dropped.
const POOL_MAX = 64;
const smallPool: Uint8Array[] = [];
const largePool: Uint8Array[] = [];

/** Returns an output buffer to the pool of its size. */
function releaseOutput(buf: Uint8Array): void {
  const pool = buf.length === SMALL_OUTPUT
    ? smallPool
    : buf.length === LARGE_OUTPUT
    ? largePool
    : null;
  if (pool !== null && pool.length < POOL_MAX) pool.push(buf);
}

// Short body strings are encoded here, then copied into the output at once.
const scratch = new Uint8Array(FLUSH_AT);

/** UTF-8 bytes of a body string, without allocating for short ones. */
function encodeBody(text: string): Uint8Array {
  if (text.length * 3 >= scratch.length) return encoder.encode(text);
  return scratch.subarray(0, encoder.encodeInto(text, scratch).written);
}

/** Writes all of `bytes`; `write` may take only part. */
function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  return conn.write(bytes).then((n) =>
    n < bytes.length ? writeAll(conn, bytes.subarray(n)) : undefined
  );
}

/** Response bytes queued for one connection: one socket write per flush. */
class Output {
  #conn: Deno.Conn;
  #buf: Uint8Array | null = null;
  // The latest flush, which the next one waits for; null once all are done.
  #last: Promise<void> | null = null;
  /** Bytes queued. */
  length = 0;
  /** Flushes begun, and ended (written or failed): the sweep times them. */
  begun = 0;
  ended = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  #room(n: number): Uint8Array {
    let buf = this.#buf ??= smallPool.pop() ?? new Uint8Array(SMALL_OUTPUT);
    const need = this.length + n;
    if (need > buf.length) {
      const bigger = need <= LARGE_OUTPUT
        ? largePool.pop() ?? new Uint8Array(LARGE_OUTPUT)
        : new Uint8Array(Math.max(2 * buf.length, need));
      bigger.set(buf.subarray(0, this.length));
      releaseOutput(buf); // nothing of it is in flight: flush() takes #buf
      this.#buf = buf = bigger;
    }
    return buf;
  }

  /** Queues text as Latin-1, as Python does; ASCII takes the native path. */
  text(text: string): void {
    const buf = this.#room(text.length);
    const at = this.length;
    const { read, written } = encoder.encodeInto(
      text,
      at === 0 ? buf : buf.subarray(at),
    );
    if (read !== text.length || written !== read) {
      for (let i = 0; i < text.length; i++) buf[at + i] = text.charCodeAt(i);
    }
    this.length += text.length;
  }

  /** Queues a copy of `bytes`. */
  bytes(bytes: Uint8Array): void {
    this.#room(bytes.length).set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Drops what was queued after `length` bytes. */
  truncate(length: number): void {
    this.length = length;
  }

  /**
   * Writes everything queued, then `extra` (uncopied), and frees the buffer.
   * The queued bytes are taken now, and each flush waits for the one before:
   * writes not awaited still reach the socket in order.
   */
  flush(extra?: Uint8Array): Promise<void> {
    const buf = this.#buf;
    const length = this.length;
    if ((buf === null || length === 0) && extra === undefined) {
      return this.#last ?? RESOLVED;
    }
    this.#buf = null;
    this.length = 0;
    return this.#last = this.#write(this.#last, buf, length, extra);
  }

  /** Writes the first `count` bytes queued; the rest stay queued. */
  flushFirst(count: number): Promise<void> {
    const buf = this.#buf;
    const length = this.length;
    if (buf === null || count >= length) return this.flush();
    this.#buf = null;
    this.length = 0;
    this.bytes(buf.subarray(count, length)); // copied before buf is reused
    return this.#last = this.#write(this.#last, buf, count, undefined);
  }

  async #write(
    before: Promise<void> | null,
    buf: Uint8Array | null,
    length: number,
    extra: Uint8Array | undefined,
  ): Promise<void> {
    this.begun++;
    try {
      if (before !== null) await before;
      if (buf !== null && length > 0) {
        await writeAll(this.#conn, buf.subarray(0, length));
      }
      if (extra !== undefined) await writeAll(this.#conn, extra);
    } finally {
      if (buf !== null) releaseOutput(buf);
      if (++this.ended === this.begun) this.#last = null;
    }
  }
}

/**
 * Strings that passed a check, remembered: most responses repeat the same
 * few header names and values, and a lookup is cheaper than a check.
 */
class CheckedStrings {
  #passed = new Set<string>();
  #check: (text: string) => boolean;

  constructor(check: (text: string) => boolean) {
    this.#check = check;
  }

  test(text: string): boolean {
    if (this.#passed.has(text)) return true;
    if (!this.#check(text)) return false;
    if (text.length <= 256) {
      if (this.#passed.size >= 256) this.#passed.clear();
      this.#passed.add(text);
    }
    return true;
  }
}

const headerNames = new CheckedStrings(isToken);
const headerValues = new CheckedStrings(isFieldValue);

// The last Server and Keep-Alive values, so that each response sends the
// same string rather than building one.
let lastVersion: [string, string, string] = ["", "", ""];
let lastKeepAlive: [number, string] = [-1, ""];

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** Escapes `&`, `<` and `>` like Python's `html.escape(s, quote=False)`. */
export function htmlEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}

/**
 * Python's `%` formatting for `%s`, `%d`, `%r`, `%%` and `%(name)s`.
 *
 * @param format The template.
 * @param args Positional arguments, or one record for `%(name)s` keys.
 * @returns The formatted text.
 */
export function percentFormat(
  format: string,
  args: unknown[] | Record<string, unknown>,
): string {
  let index = 0;
  return format.replace(
    /%(?:\(([^)]*)\))?([sdr%])/g,
    (_, key: string | undefined, kind: string) => {
      if (kind === "%") return "%";
      const value = key !== undefined
        ? (args as Record<string, unknown>)[key]
        : (args as unknown[])[index++];
      if (kind === "d") return String(Math.trunc(Number(value)));
      if (kind === "r") {
        return typeof value === "string" ? pyRepr(value) : String(value);
      }
      return String(value);
    },
  );
}

/** Escapes control characters (C0, DEL, C1) and backslashes for a log line. */
function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\\]/g, (ch) => {
    if (ch === "\\") return "\\\\";
    return "\\x" + ch.charCodeAt(0).toString(16).padStart(2, "0");
  });
}

/** Whether an error means the peer or the socket is gone. */
export function isConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.UnexpectedEof;
}

// The current date, kept until the next second by a timer, as Node does:
// no clock read per response. Only while handlers are live, so that the
// timer ends with the last of them.
let cachedDate = "";
let dateTimer: ReturnType<typeof setTimeout> | undefined;

function formatDate(ms: number): string {
  const d = new Date(ms);
  return `${WEEKDAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${
    MONTHS[d.getUTCMonth()]
  } ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${
    pad2(d.getUTCSeconds())
  } GMT`;
}

/**
 * Python's `BaseHTTPRequestHandler`: serves one connection, one request at a
 * time, dispatching each to `do_<METHOD>`.
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
  sysVersion: string = `Deno/${Deno.version.deno}`;
  /** The error page template; see {@linkcode DEFAULT_ERROR_MESSAGE}. */
  errorMessageFormat: string = DEFAULT_ERROR_MESSAGE;
  /** The Content-Type of error pages. */
  errorContentType: string = DEFAULT_ERROR_CONTENT_TYPE;
  /**
   * The version in every status line. `"HTTP/1.1"` turns on keep-alive;
   * the default is Python's `"HTTP/1.0"`.
   */
  protocolVersion = "HTTP/1.0";
  /** Status code → `[phrase, description]`. */
  responses: Readonly<Record<number, readonly [string, string]>> = responses;
  /**
   * Seconds any single read or write may wait, overriding the server's
   * timeouts for this handler (Python's socket timeout); `null` keeps them.
   */
  timeout: number | null = null;

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
  /** The request body: exactly this request's bytes, decoded if chunked. */
  rfile: BodyReader;
  /** Where the response body goes. */
  readonly wfile: ResponseWriter;

  #reader: BufferedReader;
  #head: RequestHead | null = null;
  // Output queued for the socket, possibly spanning pipelined responses.
  #out: Output;
  // Where this request's response starts in #out (to discard it on failure).
  #outMark = 0;
  // Bytes of complete responses held for one write with the next.
  #held = 0;
  #responseFlushed = false;
  // Python's _headers_buffer: status and header lines not yet ended.
  #headBuffer: string | null = null;
  #status = 0;
  #headersSent = false;
  #hasLength = false;
  #hasCoding = false;
  #hasConnection = false;
  #bodyLength = -1;
  #bodyBytes = 0;
  #bodyMode = NO_BODY_YET;
  #expect100 = false;
  #requests = 0;
  #deadline = Infinity;
  #headStart = 0;
  // The flush the sweep last saw waiting (its number), and since when.
  #flushSeen = -1;
  #flushSince = 0;
  #readingHead = false;
  #timedOut = false;
  // protocolVersion as last parsed, and its minor version.
  #protocol = "";
  #protocolMinorOf = 0;
  #bodyReadHook = (reading: boolean): void => this.#onBodyRead(reading);

  /**
   * Creates the handler for one connection; the server does this.
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
    this.#reader = new BufferedReader(connection);
    this.#reader.beforeFill = () => this.#flushBeforeRead();
    this.#out = new Output(connection);
    this.rfile = new BodyReader(null);
    this.wfile = {
      write: (data) => this.#writeBody(data),
      flush: () => this.#flush(),
    };
  }

  /** Whether the connection is waiting for a request to begin. */
  get idle(): boolean {
    return this.#readingHead && this.#reader.buffered === 0;
  }

  /** Called before {@linkcode handle}; does nothing by default. */
  setup(): void | Promise<void> {}

  /**
   * Serves requests until {@linkcode closeConnection} is set.
   */
  async handle(): Promise<void> {
    live.add(this);
    if (sweeper === undefined) {
      sweeper = setInterval(BaseHTTPRequestHandler.#sweep, SWEEP_MS);
      Deno.unrefTimer(sweeper);
    }
    try {
      this.closeConnection = true;
      await this.handleOneRequest();
      while (!this.closeConnection) await this.handleOneRequest();
    } finally {
      this.#arm(null);
      holding.delete(this);
      if (holding.size === 0) {
        clearTimeout(holdTimer);
        holdTimer = undefined;
      }
      live.delete(this);
      if (live.size === 0) {
        clearInterval(sweeper);
        clearTimeout(dateTimer);
        sweeper = dateTimer = undefined;
      }
    }
  }

  /** Called after {@linkcode handle}: sends what is still queued. */
  async finish(): Promise<void> {
    if (this.#out.length > 0 && !this.#timedOut) {
      await this.#flush().catch(() => {});
    }
  }

  /**
   * Reads, parses and dispatches one request, then ends its response.
   */
  async handleOneRequest(): Promise<void> {
    this.#startRequest();
    let head: RequestHead | null | undefined;
    try {
      const limits = this.server.limits;
      const reader = this.#reader;
      head = reader.takeHead(limits);
      if (head === undefined) {
        this.#armHeadWait();
        // A head usually comes whole in one read: take it without readHead().
        if (
          reader.buffered === 0 && await reader.fill(limits.maxHeadBytes + 1)
        ) {
          head = reader.takeHead(limits);
        }
        if (head === undefined) head = await reader.readHead(limits);
      }
    } catch (error) {
      this.#readingHead = false;
      this.closeConnection = true;
      if (error instanceof HTTPError && !this.#timedOut) {
        await this.sendError(error.status, error.message, error.explain);
        await this.#endRequest();
      }
      return;
    }
    this.#readingHead = false;
    this.#arm(null);
    if (head === null) {
      this.closeConnection = true;
      return;
    }
    this.#head = head;
    this.#requests++;
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
      await this.#fail(error);
    }
    const ending = this.#endRequest();
    if (ending !== undefined) await ending;
  }

  /**
   * Takes the parsed request into the handler's fields: command, path,
   * version, headers, body, keep-alive and `Expect`. On failure it has
   * already queued an error response.
   *
   * @returns `true` when the request should be dispatched.
   */
  parseRequest(): boolean | Promise<boolean> {
    const head = this.#head!;
    this.command = head.command;
    this.requestline = head.requestline;
    this.requestVersion = head.version;
    this.headers = head.headers;
    // Python's open-redirect defence: "//evil.example/x" becomes "/evil...".
    this.path = head.target.startsWith("//")
      ? "/" + head.target.replace(/^\/+/, "")
      : head.target;
    this.rfile = new BodyReader(this.#reader, head, this.server.limits);
    this.rfile.onRead = this.#bodyReadHook;

    const connection = splitTokens(head.headers.getAll("connection"));
    this.closeConnection = true;
    if (this.#protocolMinor() >= 1 && !connection.includes("close")) {
      this.closeConnection = head.minor === 0 &&
        !connection.includes("keep-alive");
    }

    const expect = splitTokens(head.headers.getAll("expect"));
    if (expect.length > 0) {
      if (expect.length !== 1 || expect[0] !== "100-continue") {
        return this.sendError(417).then(() => false);
      }
      if (head.minor >= 1 && this.#protocolMinor() >= 1) {
        return this.handleExpect100();
      }
    }
    return true;
  }

  /**
   * Decides on `Expect: 100-continue`. By default `100 Continue` is sent
   * when the handler first reads the body, so a handler that answers
   * without reading it (a 401, say) never invites the upload. Override to
   * refuse with `sendError(417)` and return `false`.
   *
   * @returns `true` to go on and dispatch the request.
   */
  handleExpect100(): boolean | Promise<boolean> {
    this.#expect100 = !this.rfile.done;
    return true;
  }

  /**
   * Sends an error response with Python's HTML page and `Connection: close`.
   *
   * @param code The status code.
   * @param message The short message; defaults to the status phrase.
   * @param explain The explanation; defaults to the status description.
   */
  async sendError(
    code: number,
    message?: string,
    explain?: string,
  ): Promise<void> {
    const [short, long] = this.responses[code] ?? ["???", "???"];
    message ??= short;
    explain ??= long;
    this.logError("code %d, message %s", code, message);
    this.sendResponse(code, message);
    this.sendHeader("Connection", "close");
    let body: Uint8Array | null = null;
    if (code >= 200 && code !== 204 && code !== 205 && code !== 304) {
      body = encoder.encode(percentFormat(this.errorMessageFormat, {
        code,
        message: htmlEscape(message),
        explain: htmlEscape(explain),
      }));
      this.sendHeader("Content-Type", this.errorContentType);
      this.sendHeader("Content-Length", String(body.length));
    }
    await this.endHeaders();
    if (body !== null && this.command !== "HEAD") await this.wfile.write(body);
  }

  /**
   * Queues the status line and the `Server` and `Date` headers.
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
    if (this.#headersSent) {
      throw new TypeError("The response headers were already sent");
    }
    // A caller's message may quote the client: keep it to one Latin-1 line.
    const phrase = message === undefined
      ? this.responses[code]?.[0] ?? ""
      : message.replace(/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/g, "?");
    this.#status = code;
    this.#headBuffer = `${this.protocolVersion} ${code} ${phrase}\r\n`;
    this.#hasLength = this.#hasCoding = this.#hasConnection = false;
  }

  /**
   * Queues a header line. `Connection: close` / `keep-alive` also sets
   * {@linkcode closeConnection}, as in Python.
   *
   * @param keyword The field name, a token.
   * @param value The field value (Latin-1, no CR, LF or NUL).
   * @throws {TypeError} When the name or value could split the response.
   */
  sendHeader(keyword: string, value: string): void {
    if (!headerNames.test(keyword)) {
      throw new TypeError(`Invalid header name: ${pyRepr(keyword)}`);
    }
    value = String(value);
    if (!headerValues.test(value)) {
      throw new TypeError(`Invalid header value for ${keyword}`);
    }
    if (this.#headBuffer === null) {
      throw new TypeError("sendResponse() must come before sendHeader()");
    }
    this.#headBuffer += `${keyword}: ${value}\r\n`;
    // Only three names matter here; their lengths rule out most others.
    const length = keyword.length;
    if (length !== 10 && length !== 14 && length !== 17) return;
    switch (keyword.toLowerCase()) {
      case "connection": {
        this.#hasConnection = true;
        const tokens = splitTokens([value]);
        if (tokens.includes("close")) this.closeConnection = true;
        else if (tokens.includes("keep-alive")) this.closeConnection = false;
        break;
      }
      case "content-length":
        this.#hasLength = true;
        this.#bodyLength = Number(value);
        break;
      case "transfer-encoding":
        this.#hasCoding = true;
        break;
    }
  }

  /**
   * Ends the header block. Framing is settled here: without Content-Length,
   * a keep-alive HTTP/1.1 response is sent chunked, any other closes the
   * connection after the body.
   */
  endHeaders(): Promise<void> {
    if (this.#headBuffer === null) {
      throw new TypeError("sendResponse() must come before endHeaders()");
    }
    const code = this.#status;
    if (code < 200) {
      // An interim response: no framing, sent at once.
      if (code === 100) this.#expect100 = false;
      this.#out.text(this.#headBuffer + "\r\n");
      this.#headBuffer = null;
      return this.#flush();
    }
    if (this.server.shuttingDown) this.closeConnection = true;
    const head = this.#head;
    const bodyless = this.command === "HEAD" || code === 204 || code === 304;
    if (!bodyless && !this.#hasLength && !this.#hasCoding) {
      if (
        !this.closeConnection && head !== null && head.minor >= 1 &&
        this.#protocolMinor() >= 1
      ) {
        this.sendHeader("Transfer-Encoding", "chunked");
        this.#bodyMode = CHUNKED;
      } else {
        this.closeConnection = true;
      }
    }
    if (this.#bodyMode === NO_BODY_YET) {
      this.#bodyMode = bodyless ? DISCARDED : PLAIN;
    }
    if (!this.#hasConnection && head !== null) {
      if (this.closeConnection) {
        if (head.minor >= 1) this.sendHeader("Connection", "close");
      } else {
        if (head.minor === 0) this.sendHeader("Connection", "keep-alive");
        const idle = this.#idleTimeout();
        // The hint is whole seconds, rounded down so a client stops early.
        if (idle !== null) {
          const seconds = Math.floor(idle);
          if (lastKeepAlive[0] !== seconds) {
            lastKeepAlive = [seconds, `timeout=${seconds}`];
          }
          this.sendHeader("Keep-Alive", lastKeepAlive[1]);
        }
      }
    }
    this.#headersSent = true;
    return this.flushHeaders();
  }

  /**
   * Queues the ended header block for the socket. The block normally goes
   * out with the body in one write; call `wfile.flush()` to send it now.
   */
  flushHeaders(): Promise<void> {
    if (this.#headBuffer !== null) {
      this.#out.text(this.#headBuffer + "\r\n");
      this.#headBuffer = null;
    }
    return RESOLVED;
  }

  /**
   * Logs a completed request in Python's format.
   *
   * @param code The status code, or `-`.
   * @param size The body size in bytes, or `-`.
   */
  logRequest(code: number | string = "-", size: number | string = "-"): void {
    this.logMessage('"%s" %s %s', this.requestline, code, size);
  }

  /**
   * Logs an error; by default the same as {@linkcode logMessage}.
   *
   * @param format A `%`-template.
   * @param args Its arguments.
   */
  logError(format: string, ...args: unknown[]): void {
    this.logMessage(format, ...args);
  }

  /**
   * Writes one log line to stderr: `address - - [date] message`, with
   * control characters in the message escaped as `\xHH`.
   *
   * @param format A `%`-template.
   * @param args Its arguments.
   */
  logMessage(format: string, ...args: unknown[]): void {
    const message = escapeControls(percentFormat(format, args));
    console.error(
      `${this.addressString()} - - [${this.logDateTimeString()}] ${message}`,
    );
  }

  /**
   * The `Server` header value.
   *
   * @returns `serverVersion + " " + sysVersion`.
   */
  versionString(): string {
    const [server, sys] = lastVersion;
    if (server !== this.serverVersion || sys !== this.sysVersion) {
      lastVersion = [
        this.serverVersion,
        this.sysVersion,
        `${this.serverVersion} ${this.sysVersion}`,
      ];
    }
    return lastVersion[2];
  }

  /**
   * An IMF-fixdate, such as `Thu, 01 Jan 1970 00:00:00 GMT`.
   *
   * @param timestamp Seconds since the epoch; defaults to now.
   * @returns The date.
   */
  dateTimeString(timestamp?: number): string {
    if (timestamp !== undefined) return formatDate(timestamp * 1000);
    if (dateTimer !== undefined) return cachedDate;
    const now = Date.now();
    if (live.size === 0) return formatDate(now);
    cachedDate = formatDate(now);
    dateTimer = setTimeout(() => dateTimer = undefined, 1000 - now % 1000);
    Deno.unrefTimer(dateTimer);
    return cachedDate;
  }

  /**
   * The local time for log lines, such as `23/Nov/2026 19:37:11`.
   *
   * @returns The date and time.
   */
  logDateTimeString(): string {
    const d = new Date();
    return `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()} ${
      pad2(d.getHours())
    }:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }

  /**
   * The client address for log lines.
   *
   * @returns The client's host.
   */
  addressString(): string {
    return this.clientAddress[0];
  }

  /** The minor version spoken when `protocolVersion` is HTTP/1.x; 1 above. */
  #protocolMinor(): number {
    const version = this.protocolVersion;
    if (version !== this.#protocol) {
      const match = /^HTTP\/(\d+)\.(\d+)$/.exec(version);
      const major = match === null ? 0 : Number(match[1]);
      this.#protocol = version;
      this.#protocolMinorOf = major > 1
        ? 1
        : major === 1
        ? Number(match![2])
        : 0;
    }
    return this.#protocolMinorOf;
  }

  #idleTimeout(): number | null {
    return this.timeout ?? this.server.keepAliveTimeout;
  }

  #startRequest(): void {
    this.#head = null;
    this.#headBuffer = null;
    this.#status = 0;
    this.#headersSent = false;
    this.#hasLength = this.#hasCoding = this.#hasConnection = false;
    this.#bodyLength = -1;
    this.#bodyBytes = 0;
    this.#bodyMode = NO_BODY_YET;
    this.#expect100 = false;
    this.#responseFlushed = false;
    this.#outMark = this.#out.length;
    this.requestline = "";
    this.command = "";
    this.requestVersion = "";
    this.#readingHead = true;
  }

  /** Arms the deadline for a head that is not all here yet. */
  #armHeadWait(): void {
    const now = this.#headStart = Date.now();
    // Between requests the idle timeout applies; within a head, the head one.
    const first = this.#requests === 0 || this.#reader.buffered > 0;
    this.#arm(first ? this.#headTimeout() : this.#idleTimeout(), now);
  }

  #headTimeout(): number | null {
    return this.timeout ?? this.server.headerTimeout;
  }

  /**
   * Finishes the response, drains an unread body, and sends or holds the
   * output; returns a promise only when there is I/O to wait for.
   */
  #endRequest(): Promise<void> | undefined {
    if (this.#headBuffer !== null && this.#status >= 200) {
      try {
        this.endHeaders();
      } catch (error) {
        this.server.handleError(this.connection, this.clientAddress, error);
        this.closeConnection = true;
      }
    }
    if (this.#status === 0 && this.#bodyMode === NO_BODY_YET) {
      // The handler sent nothing: closing is the only answer a client sees.
      this.closeConnection = true;
      if (this.#head !== null) this.logError("no response sent");
    } else {
      if (this.#bodyMode === CHUNKED) this.#out.text("0\r\n\r\n");
      if (
        this.#bodyMode === PLAIN && this.#hasLength &&
        this.#bodyBytes !== this.#bodyLength
      ) {
        this.closeConnection = true; // the declared length was not met
      }
      if (this.#bodyMode === RAW) this.closeConnection = true;
      if (this.server.shuttingDown) this.closeConnection = true;
      this.logRequest(this.#status || "-", this.#bodyBytes);
    }
    if (!this.closeConnection && !this.rfile.done) return this.#drainAndSend();
    return this.#sendOrHold();
  }

  async #drainAndSend(): Promise<void> {
    this.closeConnection = this.#expect100 ||
      !await this.rfile.discard(DRAIN_LIMIT).catch(() => false);
    await this.#sendOrHold();
  }

  /** Sends the output now unless the next request is already here. */
  #sendOrHold(): Promise<void> | undefined {
    if (
      this.closeConnection || this.#reader.buffered === 0 ||
      this.#out.length >= FLUSH_AT
    ) {
      return this.#flush().catch(() => {
        this.closeConnection = true;
      });
    }
    // Held to go out with the next response, but never behind a handler
    // that waits for something: whatever is still held at the next
    // macrotask goes then.
    this.#held = this.#out.length;
    holding.add(this);
    holdTimer ??= setTimeout(BaseHTTPRequestHandler.#sendAllHeld, 0);
  }

  static #sendAllHeld(): void {
    holdTimer = undefined;
    for (const handler of holding) handler.#sendHeld();
    holding.clear();
  }

  #sendHeld(): void {
    const held = this.#held;
    if (held === 0) return;
    this.#held = 0;
    this.#outMark = Math.max(0, this.#outMark - held);
    this.#out.flushFirst(held).catch(() => {
      this.closeConnection = true;
    });
  }

  /** Answers a failed handler: 500 (or the error's status) if nothing left yet. */
  async #fail(error: unknown): Promise<void> {
    this.closeConnection = true;
    if (this.#timedOut || isConnectionError(error)) {
      this.logError("Request timed out or connection lost: %s", String(error));
      return;
    }
    if (!(error instanceof HTTPError)) {
      this.server.handleError(this.connection, this.clientAddress, error);
    }
    if (this.#responseFlushed) {
      // Part of the response is out: it ends by the close, never by a last
      // chunk that would make it look complete.
      this.#bodyMode = DISCARDED;
      return;
    }
    // Nothing of this response reached the socket: replace it.
    this.#out.truncate(this.#outMark);
    this.#headersSent = false;
    this.#bodyMode = NO_BODY_YET;
    this.#bodyBytes = 0;
    const status = error instanceof HTTPError ? error.status : 500;
    const message = error instanceof HTTPError ? error.message : undefined;
    const explain = error instanceof HTTPError ? error.explain : undefined;
    await this.sendError(status, message, explain).catch(() => {});
  }

  #onBodyRead(reading: boolean): void {
    if (!reading) return this.#arm(null); // the handler's own time is its own
    if (this.#expect100 && !this.#headersSent) {
      this.#expect100 = false;
      this.#out.text(`${this.protocolVersion} 100 Continue\r\n\r\n`);
    }
    this.#arm(this.timeout ?? this.server.bodyTimeout);
  }

  #writeBody(data: Uint8Array | string): Promise<void> {
    let bytes = typeof data === "string" ? encodeBody(data) : data;
    if (this.#headBuffer !== null && this.#status >= 200) this.endHeaders();
    this.#bodyBytes += bytes.length;
    if (this.#bodyMode === NO_BODY_YET) this.#bodyMode = RAW;
    if (
      this.#bodyMode === PLAIN && this.#hasLength &&
      this.#bodyBytes > this.#bodyLength
    ) {
      // Bytes past the declared length would be read as the next response:
      // send what was declared, drop the rest, and close after.
      const excess = this.#bodyBytes - this.#bodyLength;
      bytes = bytes.subarray(0, bytes.length - excess);
      this.#bodyMode = DISCARDED;
      this.closeConnection = true;
      this.logError(
        "response body longer than its Content-Length (%d)",
        this.#bodyLength,
      );
      this.#out.bytes(bytes);
      return RESOLVED;
    }
    const mode = this.#bodyMode;
    if (mode === DISCARDED || bytes.length === 0) return RESOLVED;
    const chunked = mode === CHUNKED;
    if (chunked) this.#out.text(bytes.length.toString(16) + "\r\n");
    if (bytes.length >= FLUSH_AT) return this.#writeLarge(bytes, chunked);
    this.#out.bytes(bytes);
    if (chunked) this.#out.text("\r\n");
    return this.#out.length >= FLUSH_AT ? this.#flush() : RESOLVED;
  }

  #writeLarge(bytes: Uint8Array, chunked: boolean): Promise<void> {
    const written = this.#flush(bytes);
    // Queued now, so that it follows the chunk whatever is written next.
    if (chunked) this.#out.text("\r\n");
    return written;
  }

  #flushBeforeRead(): Promise<void> | null {
    if (this.#out.length === 0) return null;
    // The read waits on this write, and the server's time writing is not
    // the client's: the read's deadline stops meanwhile (writeTimeout still
    // holds the write), then goes on from where it was.
    const paused = Date.now();
    const deadline = this.#deadline;
    this.#deadline = Infinity;
    return this.#flush().finally(() => {
      const took = Date.now() - paused;
      this.#deadline = deadline + took;
      this.#headStart += took;
    });
  }

  /** Writes everything queued (then `extra`, uncopied) to the socket. */
  #flush(extra?: Uint8Array): Promise<void> {
    if (this.#out.length === 0 && extra === undefined) return RESOLVED;
    this.#outMark = this.#held = 0;
    // Earlier pipelined responses or a 100 Continue do not commit this one.
    if (this.#headersSent || this.#bodyMode === RAW) {
      this.#responseFlushed = true;
    }
    return this.#out.flush(extra);
  }

  /** Sets the time by which the current wait must end; `null` for none. */
  #arm(seconds: number | null, now?: number): void {
    this.#deadline = seconds === null
      ? Infinity
      : (now ?? Date.now()) + seconds * 1000;
  }

  static #sweep(): void {
    const now = Date.now();
    for (const handler of live) handler.#expire(now);
  }

  /**
   * Whether the oldest unended flush has waited writeTimeout or longer: the
   * peer stopped reading. Each flush gets the whole timeout, counted from
   * the first sweep that sees it, so no write arms a deadline of its own.
   */
  #flushStalled(now: number): boolean {
    const out = this.#out;
    const limit = this.timeout ?? this.server.writeTimeout;
    if (out.ended === out.begun || limit === null) return false;
    if (this.#flushSeen !== out.ended) {
      this.#flushSeen = out.ended;
      this.#flushSince = now;
      return false;
    }
    return now - this.#flushSince >= limit * 1000;
  }

  /** Closes the connection once its deadline has passed. */
  #expire(now: number): void {
    if (this.#readingHead && this.#reader.buffered > 0) {
      // A head has started: it gets the whole head timeout, not the idle one.
      const limit = this.#headTimeout();
      if (limit !== null) {
        this.#deadline = Math.max(
          this.#deadline,
          this.#headStart + limit * 1000,
        );
      }
    }
    if (now < this.#deadline && !this.#flushStalled(now)) return;
    this.#deadline = Infinity;
    this.#timedOut = true;
    this.closeConnection = true;
    try {
      this.connection.close();
    } catch {
      // Already closed.
    }
  }
}
