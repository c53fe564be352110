// Copyright 2026 the basehttp authors. MIT license.
/**
 * Testing handlers with `deno test`, as Go's `httptest` and Flask's test
 * client do.
 *
 * - {@linkcode testClient} drives the real parser, engine and handler over
 *   an in-memory connection: no socket, no permission, nothing for the
 *   sanitizers to find once disposed.
 * - {@linkcode TestClient.webSocket} opens a WebSocket to a handler over
 *   the same kind of connection: {@linkcode TestWebSocket}.
 * - {@linkcode serveTest} serves on `127.0.0.1`, port 0, for a real client.
 *
 * Timeouts are the server's, with fractional seconds: a test can set
 * `headerTimeout: 0.2` and see the connection closed (with no answer, as a
 * head that never ends gets) a fifth of a second later. Deadlines are
 * checked every 50 ms, so one fires up to 50 ms after it passes.
 *
 * @example A handler under test
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 * import { testClient } from "@basehttp/server/testing";
 *
 * class Hello extends BaseHTTPRequestHandler {
 *   override protocolVersion = "HTTP/1.1";
 *   async do_GET(): Promise<void> {
 *     this.sendResponse(200);
 *     this.sendHeader("Content-Type", "text/plain");
 *     this.sendHeader("Content-Length", "6");
 *     await this.endHeaders();
 *     await this.wfile.write("hello\n");
 *   }
 * }
 *
 * await using client = testClient(Hello);
 * const response = await client.request("GET", "/");
 * assert.equal(response.status, 200);
 * assert.equal(response.text(), "hello\n");
 * assert.equal((await client.request("GET", "/again")).status, 200);
 * assert.equal(client.connections, 1); // kept alive
 * assert.match(client.log[0], /"GET \/ HTTP\/1.1" 200 6$/);
 * ```
 *
 * @module
 */

import type { ClientAddress, HandlerClass } from "./handler.ts";
import { HTTPServer, type HTTPServerOptions } from "./server.ts";
import {
  BodyReader,
  BufferedReader,
  type HTTPMessage,
  type Reader,
  type RequestLimits,
} from "./parser.ts";
import { requestLineOf } from "./_head.ts";
import { type MemoryConn, memoryConnPair } from "./_memory_conn.ts";
import {
  awaitHandlers,
  SERVE_CONNECTION,
  SERVER_STATE,
} from "./_server_state.ts";
import { bodyStream, readBody, ResponseReader } from "./_response_reader.ts";
import { concatBytes, writeAll, writeBody } from "./_bytes.ts";
import { NULL_BODY, toWebResponse } from "./_web_response.ts";
import { decodeLatin1, encodeLatin1 } from "./_text.ts";
import { acceptKey, maxMessageSizeOf } from "./_websocket_upgrade.ts";
import {
  chunksOf,
  decoded,
  fetchFollowing,
  type OneRequest,
} from "./_fetch_client.ts";
import {
  TestWebSocket,
  type TestWebSocketClose,
  type TestWebSocketConn,
} from "./_test_websocket.ts";

export { TestWebSocket, type TestWebSocketClose, type TestWebSocketConn };

/** Options of {@linkcode testClient}: the server's, and the client's own. */
export interface TestClientOptions extends HTTPServerOptions {
  /** The client's address, as the handler sees it. @default {["127.0.0.1", 50000]} */
  clientAddress?: ClientAddress;
  /**
   * The server class: `this.server` in the handler is one, constructed
   * without a listener. @default {HTTPServer}
   */
  ServerClass?: typeof HTTPServer;
}

/** Options of {@linkcode serveTest}: the server's, and its class. */
export interface ServeTestOptions extends HTTPServerOptions {
  /** The server class: `this.server` in the handler is one. @default {HTTPServer} */
  ServerClass?: typeof HTTPServer;
}

/** What {@linkcode TestClient.request} sends besides the method and target. */
export interface TestRequestInit {
  /**
   * The header fields, in order; names keep their case unless given as a
   * `Headers` object (which lower-cases them).
   */
  headers?: HeadersInit | [string, string][];
  /** The body; a `Content-Length` is added unless framing fields are set. */
  body?: string | Uint8Array;
}

/** Options of {@linkcode TestClient.webSocket}. */
export interface TestWebSocketInit {
  /** Subprotocols to offer, in order of preference. */
  protocols?: string[];
  /** More header fields for the handshake (`Origin`, `Cookie`, …). */
  headers?: HeadersInit | [string, string][];
  /**
   * Largest message taken from the server, in bytes (64 MiB by default, as
   * the server's own limit): a larger one is a TypeError as soon as a
   * frame's length says so, not a buffer as large as the length.
   */
  maxMessageSize?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One response as the server wrote it: its status, its fields in order and
 * its body, read from the bytes on the (in-memory) wire.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 * import { testClient } from "@basehttp/server/testing";
 *
 * class Teapot extends BaseHTTPRequestHandler {
 *   async do_GET(): Promise<void> {
 *     await this.sendError(418);
 *   }
 * }
 *
 * await using client = testClient(Teapot);
 * const response = await client.request("GET", "/");
 * assert.equal(response.status, 418);
 * assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
 * assert.match(response.text(), /I'm a Teapot/);
 * ```
 */
export class TestResponse {
  /** The version of the status line, such as `HTTP/1.1`. */
  readonly version: string;
  /** The status code. */
  readonly status: number;
  /** The reason phrase. */
  readonly reason: string;
  /** The header fields, in wire order and case. */
  readonly headers: HTTPMessage;
  /** The body, decoded from chunks if chunked. */
  readonly body: Uint8Array<ArrayBuffer>;
  /** The exact bytes of this response on the wire. */
  readonly raw: Uint8Array;

  /**
   * Made by the client from what the server wrote.
   *
   * @param fields The parts of the response.
   */
  constructor(fields: {
    version: string;
    status: number;
    reason: string;
    headers: HTTPMessage;
    body: Uint8Array<ArrayBuffer>;
    raw: Uint8Array;
  }) {
    this.version = fields.version;
    this.status = fields.status;
    this.reason = fields.reason;
    this.headers = fields.headers;
    this.body = fields.body;
    this.raw = fields.raw;
  }

  /**
   * The body as UTF-8 text.
   *
   * @returns The text.
   */
  text(): string {
    return decoder.decode(this.body);
  }

  /**
   * The body parsed as JSON.
   *
   * @returns The value.
   * @throws {SyntaxError} When the body is not JSON.
   */
  json(): unknown {
    return JSON.parse(this.text());
  }

  /**
   * What `console.log` and `Deno.inspect` show: the body and the raw bytes
   * as text when they are text (UTF-8, and Latin-1 for the raw bytes, with
   * no control character but tab, CR and LF), else as bytes.
   *
   * @param inspect Deno's inspect, passed in by it.
   * @param options Its options, for nested values.
   * @returns The text shown.
   */
  [Symbol.for("Deno.customInspect")](
    inspect: typeof Deno.inspect,
    options: Deno.InspectOptions,
  ): string {
    const { version, status, reason, headers } = this;
    const body = textOf(this.body, utf8);
    const raw = textOf(this.raw, decodeLatin1);
    return `TestResponse ${
      inspect({ version, status, reason, headers, body, raw }, options)
    }`;
  }
}

const strictDecoder = new TextDecoder("utf-8", { fatal: true });
const utf8 = (bytes: Uint8Array): string => strictDecoder.decode(bytes);
// C0 controls and DEL, but tab, LF and CR.
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** `bytes` as text, if they are text in that decoding; else the bytes. */
function textOf(
  bytes: Uint8Array,
  decode: (bytes: Uint8Array) => string,
): string | Uint8Array {
  try {
    const text = decode(bytes);
    return CONTROL.test(text) ? bytes : text;
  } catch {
    return bytes; // not UTF-8
  }
}

/** What {@linkcode TestClient.raw} saw. */
export interface RawExchange {
  /** Every response written, in order, each 1xx one an entry of its own. */
  responses: TestResponse[];
  /** Whether the server closed the connection. */
  closed: boolean;
}

/** One in-memory connection and what came back on it. */
class TestConnection {
  readonly client: MemoryConn;
  readonly server: MemoryConn;
  readonly serving: Promise<void>;
  readonly pumping: Promise<void>;
  closed = false;
  // A request is on it and not yet answered.
  busy = false;
  // A 101 or detach() took it: it speaks HTTP no more.
  handedOver = false;
  #received: Uint8Array[] = [];
  #ended = Promise.withResolvers<void>();
  // Woken when bytes arrive or the connection ends.
  #arrived: PromiseWithResolvers<void> | null = null;
  // Request bytes sent and not yet split into requests.
  #sent: Uint8Array = new Uint8Array(0);

  constructor(httpd: HTTPServer, address: ClientAddress) {
    [this.client, this.server] = memoryConnPair({
      clientAddr: { transport: "tcp", hostname: address[0], port: address[1] },
    });
    this.serving = httpd[SERVE_CONNECTION](this.server);
    this.pumping = this.#pump();
  }

  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const buf = new Uint8Array(65536);
        const n = await this.client.read(buf);
        if (n === null) break;
        this.#received.push(buf.slice(0, n));
        this.#wake();
      }
    } catch {
      // Reset by the server, or closed by the client.
    }
    this.closed = true;
    this.#wake();
    this.#ended.resolve();
  }

  #wake(): void {
    this.#arrived?.resolve();
    this.#arrived = null;
  }

  /** Reads what the server wrote, as it comes; `null` once it closed. */
  async read(p: Uint8Array): Promise<number | null> {
    while (this.#received.length === 0) {
      if (this.closed) return null;
      await (this.#arrived ??= Promise.withResolvers()).promise;
    }
    const first = this.#received[0];
    const n = Math.min(p.length, first.length);
    p.set(first.subarray(0, n));
    if (n === first.length) this.#received.shift();
    else this.#received[0] = first.subarray(n);
    return n;
  }

  /** The bytes received since the last call. */
  takeReceived(): Uint8Array {
    return concatBytes(this.#received.splice(0));
  }

  /** Which of the requests in `bytes` (and before) are HEAD, in order. */
  requestsWereHead(bytes: Uint8Array, limits: Readonly<RequestLimits>) {
    this.#sent = concatBytes([this.#sent, bytes]);
    return splitRequests(this.#sent, limits).then(({ heads, used }) => {
      this.#sent = this.#sent.subarray(used);
      return heads;
    });
  }

  /** Closes the client's end, also when the server's side ended first. */
  close(): void {
    this.closed = true;
    try {
      this.client.close();
    } catch {
      // Closed already.
    }
  }
}

/**
 * A client that drives a handler over in-memory connections; made by
 * {@linkcode testClient}. Consecutive requests share one connection while
 * the server keeps it alive; a request started while another waits for its
 * answer goes on a connection of its own, as a browser's would, so that a
 * long poll and the request that ends it can both be sent.
 *
 * @example Two requests on one kept-alive connection
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 * import { testClient } from "@basehttp/server/testing";
 *
 * class Hello extends BaseHTTPRequestHandler {
 *   override protocolVersion = "HTTP/1.1";
 *   async do_GET(): Promise<void> {
 *     this.sendResponse(200);
 *     this.sendHeader("Content-Length", "2");
 *     await this.endHeaders();
 *     await this.wfile.write("hi");
 *   }
 * }
 *
 * await using client = testClient(Hello);
 * assert.equal((await client.request("GET", "/a")).text(), "hi");
 * assert.equal((await client.request("GET", "/b")).text(), "hi");
 * assert.equal(client.connections, 1);
 * ```
 */
export class TestClient implements AsyncDisposable {
  /** The server the handler sees as `this.server`, never bound. */
  readonly httpd: HTTPServer;
  /** The lines the server and handler logged, in order. */
  readonly log: string[] = [];
  #address: ClientAddress;
  #all: TestConnection[] = [];
  // Connections freed once their handler returns, after fetch() gave all.
  #releasing = new Set<Promise<void>>();
  #disposed = false;

  /**
   * Use {@linkcode testClient}.
   *
   * @param Handler The handler class.
   * @param options The server's options and the client's.
   */
  constructor(Handler: HandlerClass, options?: TestClientOptions) {
    const { clientAddress, ServerClass = HTTPServer, ...serverOptions } =
      options ?? {};
    if (serverOptions.tls !== undefined || serverOptions.reusePort) {
      throw new TypeError("tls and reusePort need a listener: use serveTest");
    }
    if (typeof ServerClass !== "function") {
      throw new TypeError("ServerClass must be a server class");
    }
    const sink = serverOptions.logSink;
    this.httpd = new ServerClass(["localhost", 80], Handler, {
      ...serverOptions,
      bindAndActivate: false,
      logSink: (line) => {
        this.log.push(line);
        sink?.(line);
      },
    });
    this.#address = clientAddress ?? ["127.0.0.1", 50000];
  }

  /** The connections opened so far. */
  get connections(): number {
    return this.#all.length;
  }

  /**
   * Sends one request and returns its final response (a `100 Continue`
   * before it is left out; {@linkcode raw} shows it). A `101 Switching
   * Protocols` is final: the connection speaks HTTP no more, and the next
   * request goes on a new one. It returns once the response has ended and
   * the server waits again: for a stream that does not end (events), use
   * {@linkcode fetch}, which returns at the head.
   *
   * @param method The method, such as `GET` or `SPAM`.
   * @param target The request-target, such as `/path?query`.
   * @param init Header fields and a body.
   * @returns The response.
   * @throws {Error} When the server closed without a response, or cut one
   *   short of its framing.
   */
  async request(
    method: string,
    target: string,
    init: TestRequestInit = {},
  ): Promise<TestResponse> {
    if (this.#disposed) throw new TypeError("The client is disposed");
    const { responses } = await this.#exchange(
      this.#connection(),
      requestBytes(method, target, init),
    );
    const final = responses.findLast((r) =>
      r.status >= 200 || r.status === 101
    );
    if (final === undefined) {
      throw new Error(
        `The server closed the connection without answering ${method} ${target}`,
      );
    }
    return final;
  }

  /**
   * Sends exactly these bytes and returns, once the server waits for a new
   * request with nothing buffered, waits for the body its `100 Continue`
   * invited, or has closed the connection, every response it wrote.
   *
   * @param bytes The bytes; a string is sent as UTF-8.
   * @returns The responses and whether the connection closed.
   * @throws {Error} When the server cut a response short of its framing.
   */
  async raw(bytes: Uint8Array | string): Promise<RawExchange> {
    if (this.#disposed) throw new TypeError("The client is disposed");
    const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
    // The body a 100 Continue invited goes where that head went.
    const owed = this.#all.find((c) => !c.busy && this.#owedBody(c));
    return await this.#exchange(owed ?? this.#connection(), data);
  }

  /** Sends `data` on `conn` and takes what came back once it settled. */
  async #exchange(
    conn: TestConnection,
    data: Uint8Array,
  ): Promise<RawExchange> {
    conn.busy = true;
    try {
      let written = false;
      const writing = writeAll(conn.client, data)
        .catch(() => {}) // the server closed before it read them all
        .finally(() => written = true);
      await this.#settled(conn, () => written);
      await writing;
      const heads = await conn.requestsWereHead(data, this.httpd.limits);
      const responses = await splitResponses(conn.takeReceived(), heads);
      return { responses, closed: conn.closed };
    } finally {
      conn.busy = false;
    }
  }

  /**
   * Sends a request made as for `fetch` and returns a web `Response`, as
   * `fetch` does: once the head is in, the body streams (an event stream
   * can be read as it comes); redirects are followed unless `redirect` is
   * `"manual"` (the 3xx is returned) or `"error"`; `signal` aborts, closing
   * the connection. A `ReadableStream` body goes out chunked as it comes
   * (and cannot follow a 307 or 308); others are sent with their length.
   * The body ends at its framing; the log holds the request's lines by
   * then unless the handler still runs. `statusText` is the reason the
   * server sent (Deno's fetch gives the standard phrase), and no
   * `Accept-Encoding` or `User-Agent` is sent unless given.
   *
   * @param input A path, a URL (its origin sets `Host`; the default one is
   *   `http://localhost`) or a `Request`.
   * @param init As for `fetch`.
   * @returns The final response.
   * @throws {TypeError} When the server closed without a response or wrote
   *   a bad one, on a 101 (use {@linkcode request}), after 20 redirects,
   *   for a redirect when `redirect` is `"error"`, and when a stream body
   *   fails before the response (its error is the `cause`).
   */
  async fetch(
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    if (this.#disposed) throw new TypeError("The client is disposed");
    return await fetchFollowing(input, init, (one) => this.#fetchOnce(one));
  }

  /** One request of {@linkcode fetch}, on a free connection. */
  async #fetchOnce(
    { method, url, headers, body, signal }: OneRequest,
  ): Promise<Response> {
    if (signal.aborted) {
      // Never sent: a stream body is cancelled, as fetch's is.
      if (body instanceof ReadableStream) body.cancel().catch(() => {});
      throw signal.reason;
    }
    // A Host the caller set wins over the URL's (virtual hosts).
    const fields: [string, string][] = [
      ["Host", headers.get("host") ?? url.host],
    ];
    for (const field of headers) {
      if (field[0] !== "host") fields.push(field);
    }
    const stream = body instanceof ReadableStream ? body : null;
    const whole = body instanceof Uint8Array ? body : undefined;
    const chunked = stream !== null && !headers.has("content-length");
    if (chunked) fields.push(["Transfer-Encoding", "chunked"]);
    const target = url.pathname + url.search;
    const bytes = requestBytes(method, target, {
      headers: fields,
      body: whole,
    });
    const conn = this.#connection();
    conn.busy = true;
    // Held here, so that an upload can be stopped mid-read (a stream that
    // stalls would hold a loop over it for ever).
    const upload = stream?.getReader() ?? null;
    // The body's own failure, told from the socket's: fetch rejects with it.
    let bodyFailure: { error: unknown } | null = null;
    const chunks = async function* (
      reader: ReadableStreamDefaultReader<Uint8Array>,
    ) {
      try {
        yield* chunksOf(reader);
      } catch (error) {
        bodyFailure = { error };
        throw error;
      }
    };
    const failed = (error: unknown) =>
      signal.aborted
        ? signal.reason
        : bodyFailure === null
        ? error
        : new TypeError(`The request body of ${method} ${target} failed`, {
          cause: bodyFailure.error,
        });
    let written = false;
    const writing = writeAll(conn.client, bytes)
      .then(() => upload && writeBody(conn.client, chunks(upload), chunked))
      .catch(() => {
        // The server closed before it read them all, or the body failed:
        // the server sees it cut off.
        conn.close();
      })
      .finally(() => written = true);
    // Aborted: the connection goes, as a real fetch's does.
    const abort = () => conn.close();
    signal.addEventListener("abort", abort, { once: true });
    const release = async (keep: boolean) => {
      signal.removeEventListener("abort", abort);
      // An upload still going once the response is whole stops there, as
      // fetch's does: the connection cannot serve another request.
      if (keep && written) await this.#settled(conn, () => written);
      else conn.close();
      if (!written) upload?.cancel().catch(() => {});
      await writing;
      conn.busy = false;
    };
    // The connection is free again once the server waits for the next
    // request: meanwhile, a body that ended while the handler runs on is
    // whole (as fetch gives it), and a later request takes another one.
    const ended = async () => {
      const engine = this.httpd[SERVER_STATE].connections.get(conn.server);
      if (!engine?.answering) return await release(true);
      const releasing = release(true); // never rejects
      this.#releasing.add(releasing);
      void releasing.then(() => this.#releasing.delete(releasing));
    };
    const reader = new ResponseReader(conn);
    let head;
    let bodyBytes;
    try {
      do head = await reader.readHead(); while (
        head !== null && head.status < 200 && head.status !== 101
      );
      if (head === null) {
        throw new TypeError(
          `The server closed the connection without answering ${method} ${target}`,
        );
      }
      if (head.status === 101 || head.status > 599) {
        throw new TypeError(
          `A ${head.status} is not a fetch Response: use request()`,
        );
      }
      bodyBytes = reader.body(head, method === "HEAD");
    } catch (error) {
      await release(false);
      throw failed(error);
    }
    if (method === "HEAD" || NULL_BODY.has(head.status)) {
      await ended();
      return toWebResponse(head, null);
    }
    const received = bodyStream(bodyBytes, {
      // Aborted, a body delimited by the close ends: not a whole one.
      end: async () => signal.aborted ? signal.reason : await ended(),
      fail: async (error) => {
        await release(false);
        return signal.aborted ? signal.reason : new TypeError(
          `The response to ${method} ${target} was cut off`,
          { cause: error },
        );
      },
      cancel: () => release(false),
    });
    return toWebResponse(head, decoded(received, head.headers));
  }

  /**
   * Opens a WebSocket to `target` on a connection of its own, as a browser
   * would, and returns once the `101` is in.
   *
   * @param target The request-target, such as `/chat`.
   * @param init Subprotocols to offer and more header fields.
   * @returns The client's socket.
   * @throws {TypeError} When the server refused the handshake (its status
   *   in the message: {@linkcode request} shows the whole answer) or
   *   answered it wrong.
   */
  async webSocket(
    target: string,
    init: TestWebSocketInit = {},
  ): Promise<TestWebSocket> {
    if (this.#disposed) throw new TypeError("The client is disposed");
    const max = maxMessageSizeOf(init.maxMessageSize);
    const key = btoa(
      String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
    );
    const fields: [string, string][] = [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
      ["Sec-WebSocket-Key", key],
      ["Sec-WebSocket-Version", "13"],
    ];
    if (init.protocols !== undefined && init.protocols.length > 0) {
      fields.push(["Sec-WebSocket-Protocol", init.protocols.join(", ")]);
    }
    if (init.headers !== undefined) {
      fields.push(...fieldsOf(init.headers));
    }
    const conn = new TestConnection(this.httpd, this.#address);
    this.#all.push(conn);
    conn.busy = conn.handedOver = true; // never an HTTP request's
    await writeAll(
      conn.client,
      requestBytes("GET", target, { headers: fields }),
    )
      .catch(() => {});
    // The head, byte by byte off what came: frames may follow it at once.
    let received = new Uint8Array(0);
    let end = -1;
    while (end < 0) {
      const chunk = new Uint8Array(16384);
      const n = await conn.read(chunk);
      if (n === null) break;
      received = concatBytes([received, chunk.subarray(0, n)]);
      end = headEnd(received);
    }
    const response = end < 0
      ? null
      : await new ResponseReader(bytesReader(received.subarray(0, end)))
        .readHead();
    if (response?.status !== 101) {
      conn.close();
      throw new TypeError(
        response === null
          ? `The server closed the connection without answering GET ${target}`
          : `The WebSocket handshake was refused: ${response.status} ${response.reason}`,
      );
    }
    // RFC 6455 §4.1: the client fails a handshake that chose what it did
    // not offer.
    const accept = response.headers.get("sec-websocket-accept");
    const protocol = response.headers.get("sec-websocket-protocol");
    const problem = accept !== await acceptKey(key)
      ? `Wrong Sec-WebSocket-Accept: ${accept}`
      : protocol !== null && !(init.protocols ?? []).includes(protocol)
      ? `Sec-WebSocket-Protocol ${protocol} was not offered`
      : response.headers.has("sec-websocket-extensions")
      ? "Sec-WebSocket-Extensions: the client offers none"
      : null;
    if (problem !== null) {
      conn.close();
      throw new TypeError(problem);
    }
    const socketEnd = {
      read: (p: Uint8Array) => conn.read(p),
      write: (p: Uint8Array) => conn.client.write(p),
      close: () => conn.close(),
    };
    return new TestWebSocket(
      socketEnd,
      received.slice(end),
      protocol ?? "",
      max,
    );
  }

  /** Closes the connections and the server; waits for the handlers. */
  async close(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const conn of this.#all) conn.close();
    this.httpd.close();
    let running = this.#all.length;
    const ended = Promise.all(
      this.#all.map((c) => c.serving.finally(() => running--)),
    );
    await awaitHandlers(this.httpd, ended, () => running);
    await Promise.all(this.#all.map((c) => c.pumping));
    await Promise.all(this.#releasing);
  }

  /** The same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The first connection free for a request, or a new one. */
  #connection(): TestConnection {
    const free = this.#all.find((c) =>
      !c.busy && !c.closed && !c.handedOver && !this.#owedBody(c)
    );
    if (free !== undefined) return free;
    const conn = new TestConnection(this.httpd, this.#address);
    this.#all.push(conn);
    return conn;
  }

  /** Whether `conn`'s server waits for the body its 100 Continue invited. */
  #owedBody(conn: TestConnection): boolean {
    if (conn.closed) return false;
    const engine = this.httpd[SERVER_STATE].connections.get(conn.server);
    return engine?.awaitsInvitedBody ?? false;
  }

  /** Waits until the server waits for a request with nothing left, or closed. */
  async #settled(conn: TestConnection, written: () => boolean): Promise<void> {
    const state = this.httpd[SERVER_STATE];
    const engines = state.connections;
    while (!conn.closed) {
      await Promise.race([conn.server.whenReadWaits(), conn.ended]);
      // The client has taken all the server wrote once its read waits too.
      await Promise.race([conn.client.whenReadWaits(), conn.ended]);
      const engine = engines.get(conn.server);
      // Handed over (a 101, detach()): HTTP is over, the bytes so far are in.
      if (engine?.taken || state.detached.has(conn.server)) {
        conn.handedOver = true;
        return;
      }
      // Waits for a request, or for the body its 100 Continue invited.
      if (
        written() && engine !== undefined &&
        (engine.idle || engine.awaitsInvitedBody) && conn.server.readWaiting
      ) return;
      // The server waits for something else (a body, a handler's work).
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

/**
 * A client for `Handler` over in-memory connections: the real parser,
 * engine and handler, with no socket and no permission.
 *
 * @param Handler The handler class.
 * @param options The server's options (timeouts, limits), `clientAddress`
 *   and `ServerClass`.
 * @returns The client; dispose it with `await using` or `close()`.
 * @throws {TypeError} For `tls` or `reusePort`, which need a listener.
 *
 * @example Exact bytes, pipelined
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 * import { testClient } from "@basehttp/server/testing";
 *
 * class Echo extends BaseHTTPRequestHandler {
 *   override protocolVersion = "HTTP/1.1";
 *   async do_GET(): Promise<void> {
 *     this.sendResponse(200);
 *     this.sendHeader("Content-Length", String(this.path.length));
 *     await this.endHeaders();
 *     await this.wfile.write(this.path);
 *   }
 * }
 *
 * await using client = testClient(Echo);
 * const { responses, closed } = await client.raw(
 *   "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /bc HTTP/1.1\r\nHost: x\r\n\r\n",
 * );
 * assert.deepEqual(responses.map((r) => r.text()), ["/a", "/bc"]);
 * assert.equal(closed, false);
 * ```
 */
export function testClient(
  Handler: HandlerClass,
  options?: TestClientOptions,
): TestClient {
  return new TestClient(Handler, options);
}

/**
 * A real server on `127.0.0.1`, port 0, already serving; made by
 * {@linkcode serveTest}.
 *
 * @example A real client against it (needs `--allow-net=127.0.0.1`)
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 * import { serveTest } from "@basehttp/server/testing";
 *
 * await using server = serveTest(BaseHTTPRequestHandler);
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
 * conn.close();
 * assert.ok(server.port > 0);
 * ```
 */
export class TestServer implements AsyncDisposable {
  /** The server. */
  readonly httpd: HTTPServer;
  /** The lines the server and handler logged, in order. */
  readonly log: string[] = [];
  #serving: Promise<void>;
  #scheme: string;

  /**
   * Use {@linkcode serveTest}.
   *
   * @param Handler The handler class.
   * @param options The server's options and `ServerClass`.
   */
  constructor(Handler: HandlerClass, options?: ServeTestOptions) {
    const { ServerClass = HTTPServer, ...serverOptions } = options ?? {};
    if (typeof ServerClass !== "function") {
      throw new TypeError("ServerClass must be a server class");
    }
    if (serverOptions.bindAndActivate === false) {
      throw new TypeError(
        "serveTest binds and serves: bindAndActivate cannot be false (testClient needs no listener)",
      );
    }
    const sink = serverOptions.logSink;
    this.#scheme = serverOptions.tls === undefined ? "http" : "https";
    this.httpd = new ServerClass(["127.0.0.1", 0], Handler, {
      ...serverOptions,
      logSink: (line) => {
        this.log.push(line);
        sink?.(line);
      },
    });
    this.#serving = this.httpd.serveForever(0.05);
  }

  /** The port. */
  get port(): number {
    return this.httpd.serverPort;
  }

  /** `http://127.0.0.1:PORT`, or `https://` with `tls`. */
  get url(): string {
    return `${this.#scheme}://127.0.0.1:${this.port}`;
  }

  /**
   * Fetches from the server and reads the whole body, so that no body is
   * left for the sanitizers to find. It waits for the body's end: for an
   * event stream, use `fetch(new URL(path, server.url))` and read or cancel
   * its body.
   *
   * @param path A path, resolved against {@linkcode url}.
   * @param init As for `fetch`.
   * @returns The response, its body already read.
   */
  async fetch(path: string, init?: RequestInit): Promise<Response> {
    const response = await fetch(new URL(path, this.url), init);
    const body = new Uint8Array(await response.arrayBuffer());
    return toWebResponse(response, body);
  }

  /** Shuts the server down and closes the listener and every connection. */
  async close(): Promise<void> {
    await this.httpd.shutdown();
    await this.#serving;
    this.httpd.close();
  }

  /** The same as {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Serves `Handler` on `127.0.0.1`, port 0, for tests that need a real
 * socket or client. Needs only `--allow-net=127.0.0.1`.
 *
 * @param Handler The handler class.
 * @param options The server's options and `ServerClass`.
 * @returns The server, serving; dispose it with `await using`.
 * @throws {TypeError} When `ServerClass` is not a class, or
 *   `bindAndActivate` is `false`.
 *
 * @example With fetch
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 * import { serveTest } from "@basehttp/server/testing";
 *
 * class NotFound extends BaseHTTPRequestHandler {
 *   async do_GET(): Promise<void> {
 *     await this.sendError(404);
 *   }
 * }
 *
 * await using server = serveTest(NotFound);
 * const response = await server.fetch("/missing");
 * assert.equal(response.status, 404);
 * ```
 */
export function serveTest(
  Handler: HandlerClass,
  options?: ServeTestOptions,
): TestServer {
  return new TestServer(Handler, options);
}

/** A reader of `bytes`, then EOF. */
function bytesReader(bytes: Uint8Array): Reader {
  let at = 0;
  return {
    read(p) {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(p.length, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

/** Header fields given as for `fetch` or as pairs, in order. */
function fieldsOf(
  headers: HeadersInit | [string, string][],
): [string, string][] {
  return headers instanceof Headers || Array.isArray(headers)
    ? [...headers as Iterable<[string, string]>]
    : Object.entries(headers);
}

/** Where the first head in `bytes` ends (after its blank line), or -1. */
function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a &&
      bytes[i - 3] === 0x0d
    ) return i + 1;
  }
  return -1;
}

/** The request bytes for {@linkcode TestClient.request}. */
function requestBytes(
  method: string,
  target: string,
  init: TestRequestInit,
): Uint8Array {
  const fields = init.headers === undefined ? [] : fieldsOf(init.headers);
  const has = (name: string) => fields.some(([n]) => n.toLowerCase() === name);
  if (!has("host")) fields.unshift(["Host", "localhost"]);
  const body = typeof init.body === "string"
    ? encoder.encode(init.body)
    : init.body;
  if (
    body !== undefined && !has("content-length") && !has("transfer-encoding")
  ) fields.push(["Content-Length", String(body.length)]);
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const [name, value] of fields) head += `${name}: ${value}\r\n`;
  const bytes = encodeLatin1(head + "\r\n");
  return body === undefined ? bytes : concatBytes([bytes, body]);
}

/**
 * Splits whole requests off `bytes` with the server's own parser, to learn
 * which were HEAD (their responses have no body).
 */
async function splitRequests(
  bytes: Uint8Array,
  limits: Readonly<RequestLimits>,
): Promise<{ heads: boolean[]; used: number }> {
  const reader = new BufferedReader(bytesReader(bytes));
  const heads: boolean[] = [];
  let used = 0;
  try {
    for (;;) {
      const head = await reader.readHead(limits);
      if (head === null) break;
      const body = new BodyReader(reader, head, {
        ...limits,
        maxStreamedBodySize: null,
      });
      const sink = new Uint8Array(16384);
      while (await body.read(sink) !== null) {
        // Skipped: only the framing matters here.
      }
      heads.push(head.command === "HEAD");
      used = bytes.length - reader.buffered;
    }
  } catch (error) {
    // A bad or cut-off request: the server answers it and closes, without
    // a body for a HEAD whose request line was good.
    heads.push(requestLineOf(error)?.startsWith("HEAD ") ?? false);
  }
  return { heads, used };
}

/** Splits what a server wrote into its responses. */
async function splitResponses(
  bytes: Uint8Array,
  heads: boolean[],
): Promise<TestResponse[]> {
  const reader = new ResponseReader(bytesReader(bytes));
  const responses: TestResponse[] = [];
  let request = 0;
  for (;;) {
    const start = reader.consumed;
    const head = await reader.readHead();
    if (head === null) break;
    const informational = head.status < 200;
    let body;
    try {
      body = await readBody(
        reader.body(head, !informational && (heads[request] ?? false)),
      );
    } catch (error) {
      // The parser's words are a request's: say whose body it was.
      const why = (error as Error).message.replace(/^Request body/, "the body");
      throw new Error(
        `The response ${
          responses.length + 1
        } (${head.status}) was cut off: ${why}`,
        { cause: error },
      );
    }
    if (!informational) request++;
    responses.push(
      new TestResponse({
        ...head,
        body,
        raw: bytes.slice(start, reader.consumed),
      }),
    );
    // After 101 the connection speaks another protocol.
    if (head.status === 101) break;
  }
  return responses;
}
