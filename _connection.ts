// Copyright 2026 the basehttp authors. MIT license.
/**
 * The connection engine under {@linkcode BaseHTTPRequestHandler}: reading
 * heads and bodies, deadlines, response framing, output, keep-alive, the
 * pipelined hold-and-send, `100 Continue`, the 500 after a throw, and the
 * signal of a client that went away. One per connection, created with the
 * handler and registered with its server's deadline sweep before any hook a
 * subclass may override has run.
 *
 * The path of a request through it: {@linkcode Connection.takeHead} or
 * {@linkcode Connection.waitHead} parse the next head; the handler's
 * `parseRequest` and `do_X` run; the head the handler builds is framed by
 * {@linkcode Connection.endHead}, body bytes by
 * {@linkcode Connection.writeBody}; {@linkcode Connection.endRequest} ends
 * the response, decides in one place whether the connection may serve
 * another request, drains what the handler left of the body, and sends or
 * holds the output (see `_output.ts` for the life of a write).
 *
 * @module
 */

import { ChunkedEnd } from "./_chunked_end.ts";
import { FLUSH_AT, Output } from "./_output.ts";
import { handled, RESOLVED } from "./_handled.ts";
import {
  type ConnectionHost,
  reportError,
  SERVER_STATE,
  type ServerState,
  sleep,
} from "./_server_state.ts";
import {
  READ_DONE,
  READ_ROOM,
  requestLineOf,
  SCANNER,
  SKIP_EMPTY_LINES,
} from "./_head.ts";
import {
  BodyReader,
  type BodySource,
  BufferedReader,
  HTTPError,
  type Reader,
  type RequestHead,
} from "./parser.ts";
import type { ClientAddress } from "./handler.ts";
import { pyRepr, splitTokens } from "./_text.ts";

/**
 * The key of the handler's method that makes the request end only after an
 * error page still being written (parseRequest's refusals, which return a
 * plain `false` as Python's; the static handler's 401 and 404.html), so that
 * a sendError() its caller does not await still sends the whole page.
 */
export const ANSWERING: unique symbol = Symbol("basehttp.answering");

/** What the engine needs of the handler above it: Python's API. */
interface ConnectionUser {
  /** Seconds any one wait may take, if under the server's timeout for it. */
  readonly timeout: number | null;
  /** The version of every status line. */
  readonly protocolVersion: string;
  /** Whether the connection closes after this request. */
  closeConnection: boolean;
  /** The request method. */
  readonly command: string;
  /** Logs an error line. */
  logError(format: string, ...args: unknown[]): void;
  /** Logs a completed request. */
  logRequest(code?: number | string, size?: number | string): void;
  /** Sends an error response. */
  sendError(code: number, message?: string, explain?: string): Promise<void>;
  /** Ends the header block. */
  endHeaders(): Promise<void>;
  /** Queues the ended header block. */
  flushHeaders(): Promise<void>;
}

/**
 * What holds a request open past its handler: a WebSocket or an event
 * stream. The request ends when `done` settles; a shutdown asks it to end.
 */
interface Session {
  /** Settles when the session is over. */
  readonly done: Promise<void>;
  /** The server is shutting down: end soon (a WebSocket closes with 1001). */
  shutdown(): void;
  /**
   * What the session ends with once `shutdown()` asks (its signal's
   * reason): a handler that throws it has ended as asked, not failed.
   */
  readonly stoppedBy?: unknown;
  /** The handler that holds a handed-over session threw: end it, failed. */
  fail?(): void;
}

/** Whether an error means the peer or the socket is gone. */
export function isConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.TimedOut || // the kernel's, a dead peer
    error instanceof Deno.errors.NetworkUnreachable ||
    error instanceof Deno.errors.WriteZero;
}

// How the body of the current response is framed: one value.
const NOT_STARTED = 0; // no head ended and no byte written yet
const LENGTH = 1; // Content-Length: body bytes counted against it
const CHUNKED = 2; // chunked by the engine
const OWN_CODING = 3; // the handler's Transfer-Encoding: bytes pass as written
const TO_CLOSE = 4; // delimited by closing the connection
const NO_BODY = 5; // HEAD, 204, 304: written bytes are dropped
const RAW = 6; // bytes written with no head: the handler frames its own
const CUT = 7; // over its length, or failed after bytes went out: ends by close
const UNCHUNKED = 8; // the handler's own chunks, decoded: ends by close

// A request's 100 Continue (one field: most connections are idle).
const NO_CONTINUE = 0; // not asked for, or the body is here already
const CONTINUE_OWED = 1; // sent before the first body read
const CONTINUE_SENT = 2;

// Where the connection is.
const BETWEEN = 0; // waiting for, or reading, a request head
const HANDLING = 1; // a handler runs; body reads are timed by bodyTimeout
const TAKEN = 2; // handed over (a WebSocket, detach()): no server deadline

// A Transfer-Encoding whose last coding is chunked.
const LAST_CHUNKED = /(?:^|,)[ \t]*chunked[ \t]*$/i;
const ONLY_CHUNKED = /^[ \t]*chunked[ \t]*$/i;

// Unread request bodies up to this size are read and dropped to keep the
// connection; larger ones close it.
const DRAIN_LIMIT = 65536;
// Seconds a closing connection reads and drops a body left unread.
const LINGER_S = 2;
const DIGITS = /^\d+$/;
const BUDGET_SPENT = "the server's room for unfinished request heads is spent";
const encoder = new TextEncoder();

/** The engine of one connection. */
export class Connection implements Reader, BodySource {
  /** The connection. */
  readonly conn: Deno.Conn;
  readonly #clientAddress: ClientAddress;
  readonly #host: ConnectionHost;
  readonly #state: ServerState;
  readonly #user: ConnectionUser;
  readonly #reader: BufferedReader;
  // Dropped while the connection waits for a request with nothing to send.
  #out: Output | null = null;
  // Dropped between requests: an idle connection holds no body reader.
  #rfile: BodyReader | null = null;
  #phase = BETWEEN;
  #requests = 0;
  // False from a response's end until the engine answers something again:
  // a write then is a handler's stray one, not the next request's.
  #answering = true;

  // The current request and its response.
  #head: RequestHead | null = null;
  // Python's _headers_buffer, not yet ended: the status line, then each
  // header's name and value.
  #headLines: string[] | null = null;
  // The final head queued, to say close in it again (#sayCloseAfterDrain).
  #queuedHead: string[] | null = null;
  #status = 0;
  // What the head being built declares.
  #declaredLength = -1;
  #declaredCoding: string | null = null;
  #declaresConnection = false;
  #framing = NOT_STARTED;
  #bodyBytes = 0;
  #continue = NO_CONTINUE;
  // Where this response starts in #out (to replace it after a failure).
  #outMark = 0;
  // Whether a byte of this response has gone to the socket.
  #responseFlushed = false;
  // Bytes of complete responses held for one write with the next.
  #held = 0;

  // Deadlines, checked by the server's sweep.
  #deadline = Infinity;
  // Whether the head timeout, not the idle one, holds the head's wait.
  #headTimed = false;
  // Raw bytes went out before this response's head: it ends by the close.
  #rawBeforeHead = false;
  #readingHead = false;
  #timedOut = false;
  // Time spent waiting for body bytes: the one pending read's start, and
  // the reads before it, for the minimum body rate.
  #bodyReadSince = 0;
  #bodyWaited = 0;
  // An error page still being written: the request ends after it.
  #answer: Promise<void> | null = null;
  // The flushHeaders() of a final head being ended, until the next head.
  #headEnding: Promise<void> | null = null;
  // Where this response's body starts in the output stream, for the log.
  #bodyStart = -1;
  // Follows a handler's own chunked coding, to keep only a whole body.
  #ownChunks: ChunkedEnd | null = null;

  // The signal of this request, made on first use, and the read that
  // watches for the client to go while the handler runs.
  #controller: AbortController | null = null;
  #watching: Promise<void> | null = null;
  #watchRead = false;
  // Draining a chunked body: its response waits, to say close if it must.
  #drainFirst = false;
  #gone: unknown = null;
  // What the signal aborts with once #gone is set, whenever it is made.
  #abortReason: DOMException | null = null;
  // Why the server closed the connection under the request (cut()).
  #cutBy: Error | null = null;
  // linger() reads what the client still sends after the last answer.
  #lingering = false;
  // A head refused after its request line: its body may be coming.
  #refusedRequest = false;
  // A WebSocket or event stream that holds the request open.
  #session: Session | null = null;
  // Unfinished head bytes counted against the server's budget; whether the
  // head is being read by the careful path; whether it was refused for it.
  #headHeld = 0;
  #headSlow = false;
  #evicted = false;
  #lossLogged = false;

  /**
   * Creates the engine of `conn` and registers it with the server's sweep.
   *
   * @param conn The connection.
   * @param clientAddress The client's address.
   * @param host The server: timeouts, limits, its shared state.
   * @param user The handler.
   */
  constructor(
    conn: Deno.Conn,
    clientAddress: ClientAddress,
    host: ConnectionHost,
    user: ConnectionUser,
  ) {
    this.conn = conn;
    this.#clientAddress = clientAddress;
    this.#host = host;
    this.#state = host[SERVER_STATE];
    this.#user = user;
    // The reader reads through read(), bodies through readLine() and
    // readInto(): no closure or object more per connection, as most are idle.
    this.#reader = new BufferedReader(this);
    this.#reader[SCANNER] = this.#state.scanner;
    this.#state.connections.add(conn, this);
  }

  /** The current request's body. */
  get rfile(): BodyReader {
    return this.#rfile ??= new BodyReader(null);
  }

  /** The head of the current request, once read. */
  get head(): RequestHead | null {
    return this.#head;
  }

  /**
   * Whether the connection waits for a request to begin, or lingers after
   * its last answer: either may be closed at once.
   */
  get idle(): boolean {
    return (this.#readingHead && this.#reader.buffered === 0) ||
      this.#lingering;
  }

  /**
   * Whether a 100 Continue went out and the server now waits for the first
   * byte of the body it invited: a client that waited for the 100 sends it.
   */
  get awaitsInvitedBody(): boolean {
    return this.#continue === CONTINUE_SENT && this.#bodyReadSince !== 0 &&
      this.rfile.bytesRead === 0;
  }

  /** Whether the handler (or its error page) still answers the request. */
  get answering(): boolean {
    return this.#answering;
  }

  /** Whether the connection was handed over (a WebSocket, `detach()`). */
  get taken(): boolean {
    return this.#phase === TAKEN;
  }

  /** Whether the head of the current response is ended. */
  get #headersSent(): boolean {
    return this.#framing !== NOT_STARTED && this.#framing !== RAW;
  }

  // --- Reading a request ----------------------------------------------------

  /**
   * Begins the next request and takes its head if it is buffered whole
   * (pipelined requests are parsed with no await).
   *
   * @returns The head, or `undefined` when {@linkcode waitHead} must wait.
   * @throws {HTTPError} When the head is well-formed but not acceptable.
   */
  takeHead(): RequestHead | undefined {
    this.#startRequest();
    const head = this.#watching === null
      ? this.#reader.takeHead(this.#host.limits)
      : undefined;
    return head === undefined ? undefined : this.#took(head);
  }

  /**
   * Waits for the rest of the head under the header or idle timeout.
   *
   * @returns The head, or `null` when the client closed first.
   */
  waitHead(): Promise<RequestHead | null> {
    this.#armHeadWait();
    const watching = this.#watching;
    if (watching !== null) return watching.then(() => this.#readHead());
    // A head usually comes whole in one read: take it without readHead().
    const reader = this.#reader;
    if (reader.buffered === 0 && !reader.eof) {
      this.#dropIdleOutput();
      // Read here rather than by reader.fill(): one continuation, not two,
      // while the connection waits.
      const room = reader[READ_ROOM](this.#host.limits.maxHeadBytes + 1);
      return this.read(room).then((n) => this.#filled(reader[READ_DONE](n)));
    }
    return this.#readHead();
  }

  /** An idle connection holds no output: it is made again when needed. */
  #dropIdleOutput(): void {
    const out = this.#out;
    if (
      out !== null && out.length === 0 && !out.writing && out.error === null
    ) {
      this.#out = null;
    }
  }

  /** The output, made when first needed. */
  get #output(): Output {
    return this.#out ??= new Output(this.conn, this.#state.pool);
  }

  // Reactions are made per call, not held as fields: an idle connection,
  // most of a server's, then holds fewer closures.
  #filled(more: boolean): Promise<RequestHead | null> | RequestHead {
    const head = more ? this.#reader.takeHead(this.#host.limits) : undefined;
    return head === undefined ? this.#readHead() : this.#took(head);
  }

  // A head that did not come in one read: its buffer counts against the
  // server's budget for unfinished heads until it is whole.
  #readHead(): Promise<RequestHead | null> {
    this.#headSlow = true;
    this.#holdHead(this.#reader.capacity);
    return this.#reader.readHead(this.#host.limits).then((head) =>
      this.#tookOrNull(head)
    );
  }

  // Counted after the reader took the bytes: it may have grown its buffer.
  #headRead(n: number | null): number | null {
    if (n !== null) queueMicrotask(() => this.#countHead());
    if (this.#evicted) throw new HTTPError(431, "Request head too large");
    return n;
  }

  #countHead(): void {
    if (this.#headSlow && !this.#evicted) {
      this.#holdHead(this.#reader.capacity);
    }
  }

  /** Counts `bytes` of an unfinished head against the server's budget. */
  #holdHead(bytes: number): void {
    const state = this.#state;
    state.headBytes += bytes - this.#headHeld;
    this.#headHeld = bytes;
    if (bytes > 0 && state.headBytes > this.#host.maxUnfinishedHeadBytes) {
      state.evictLargestHead();
    }
  }

  /** The request ends after `writing`, an error page still being written. */
  answerWith(writing: Promise<void>): void {
    const before = this.#answer;
    // After any page before it: a second unawaited sendError must not end
    // the request while the first is still being written.
    this.#answer = before === null
      ? writing
      : before.catch(() => {}).then(() => writing);
  }

  /** Whether the response's final head is ended and queued. */
  get headQueued(): boolean {
    return this.#headLines === null && this.#headersSent;
  }

  /** Bytes of an unfinished head this connection holds. */
  get headHeld(): number {
    return this.#headHeld;
  }

  /**
   * Answers 431 and closes: this connection holds the largest unfinished
   * head when the server's budget for them is spent.
   */
  evictHead(): void {
    this.#evicted = true;
    this.#answering = true;
    this.#holdHead(0);
    this.#user.closeConnection = true;
    // Never a throw into the sweep or a read: an override may throw.
    Promise.resolve()
      .then(() =>
        this.#user.sendError(431, "Request head too large", BUDGET_SPENT)
      )
      .then(() => this.#flush())
      .catch(() => {})
      .finally(() => this.close());
  }

  #tookOrNull(head: RequestHead | null): RequestHead | null {
    if (this.#evicted) throw new HTTPError(431, "Request head too large");
    return head === null ? this.#ended() : this.#took(head);
  }

  #ended(): null {
    this.#endHeadWait();
    return null;
  }

  #took(head: RequestHead): RequestHead {
    this.#endHeadWait();
    this.#answering = true;
    this.#head = head;
    this.#requests++;
    this.#phase = HANDLING;
    this.#rfile = new BodyReader(this, head, this.#host.limits);
    return head;
  }

  /** The head is read, or will not be: its deadline and budget end. */
  #endHeadWait(): void {
    this.#readingHead = false;
    this.#deadline = Infinity;
    if (this.#headSlow) {
      this.#headSlow = false;
      this.#holdHead(0);
    }
  }

  #startRequest(): void {
    this.#phase = BETWEEN;
    this.#answering = false;
    this.#answer = null;
    this.#head = null;
    this.#rfile = null;
    this.#headLines = null;
    this.#status = 0;
    this.#declaredLength = -1;
    this.#declaredCoding = null;
    this.#declaresConnection = false;
    this.#framing = NOT_STARTED;
    this.#bodyBytes = 0;
    this.#continue = NO_CONTINUE;
    this.#responseFlushed = false;
    this.#outMark = this.#out?.length ?? 0;
    this.#bodyStart = -1;
    this.#bodyWaited = 0;
    this.#controller = null;
    this.#readingHead = true;
    this.#rawBeforeHead = false;
  }

  /** Arms the deadline for a head that is not all here yet. */
  #armHeadWait(): void {
    // Between requests the idle timeout applies; within a head, the head
    // one. An empty line a client sent after its request starts no head.
    this.#reader[SKIP_EMPTY_LINES]();
    const first = this.#requests === 0 || this.#reader.buffered > 0;
    this.#headTimed = first;
    this.#arm(first ? this.#headTimeout() : this.#idleTimeout());
  }

  /**
   * Answers a failure to read a head: an HTTP error with its status, any
   * other error (a bug, not the client) through `handleError` and a 500; a
   * timeout or a lost connection only closes.
   */
  failHead(error: unknown): Promise<void> {
    this.#endHeadWait();
    this.#answering = true;
    this.#user.closeConnection = true;
    if (this.#timedOut || this.#evicted || isConnectionError(error)) {
      return RESOLVED;
    }
    if (error instanceof Deno.errors.InvalidData) {
      // TLS refused the peer's bytes (a client that does not trust the
      // certificate, plain HTTP on an HTTPS port): no HTTP to answer, and
      // not the server's bug. One line, as Go's "TLS handshake error".
      this.#logTLSError(error, this.#requests === 0);
      return RESOLVED;
    }
    if (!(error instanceof HTTPError)) {
      reportError(this.#host, this.conn, this.#clientAddress, error);
    }
    this.#refusedRequest = requestLineOf(error) !== undefined;
    return this.#sendErrorFor(error)
      .then(() => this.endRequest())
      .catch((failure) => this.#errorPageFailed(failure));
  }

  /**
   * Asks for `100 Continue` before the first body read, when the body is
   * still to come.
   */
  expectContinue(): void {
    this.#continue = this.rfile.done ? NO_CONTINUE : CONTINUE_OWED;
  }

  #beforeBody(): void {
    if (this.#continue === CONTINUE_OWED && !this.#headersSent) {
      this.#continue = CONTINUE_SENT;
      this.#output.text(`${this.#user.protocolVersion} 100 Continue\r\n\r\n`);
    }
  }

  /** A body read: the first one sends 100 Continue. */
  readLine(max: number, what: string): Promise<string> {
    this.#beforeBody();
    return this.#reader.readLine(max, what);
  }

  /** A body read: the first one sends 100 Continue. */
  readInto(
    p: Uint8Array,
    max: number,
    until?: number,
  ): Promise<number | null> {
    this.#beforeBody();
    return this.#reader.readInto(p, max, until);
  }

  /**
   * Every socket read: output first (the client may be waiting for it), and
   * a body read under bodyTimeout; the handler's own time is its own.
   */
  read(p: Uint8Array): Promise<number | null> {
    if (
      this.#out !== null && this.#out.length > 0 && !this.#watchRead &&
      !this.#drainFirst
    ) {
      return this.#flushBeforeRead().then(() => this.#readSocket(p));
    }
    return this.#readSocket(p);
  }

  #readSocket(p: Uint8Array): Promise<number | null> {
    if (this.#watchRead) return this.conn.read(p);
    if (this.#phase === BETWEEN) {
      return this.#headSlow
        ? this.conn.read(p).then((n) => this.#headRead(n))
        : this.conn.read(p);
    }
    const now = this.#bodyReadSince = Date.now();
    this.#arm(this.#within(this.#host.bodyTimeout), now);
    return this.conn.read(p).then(
      (n) => this.#bodyRead(n),
      (error) => this.#bodyReadFailed(error),
    );
  }

  #bodyReadEnded(): void {
    this.#deadline = Infinity;
    this.#bodyWaited += Date.now() - this.#bodyReadSince;
    this.#bodyReadSince = 0;
  }

  #bodyRead(n: number | null): number | null {
    this.#bodyReadEnded();
    if (n === null) this.#lose(new Deno.errors.UnexpectedEof("client closed"));
    else if (this.#controller !== null) queueMicrotask(() => this.#watch());
    return n;
  }

  #bodyReadFailed(error: unknown): never {
    this.#bodyReadEnded();
    // A timeout closed the socket under the read: say so, not the close.
    const reason = this.#timedOut
      ? new Deno.errors.TimedOut("The request timed out", { cause: error })
      : error;
    this.#lose(reason);
    throw reason;
  }

  #flushBeforeRead(): Promise<void> {
    // The read waits on this write, and the server's time writing is not
    // the client's: the read's deadline stops meanwhile (writeTimeout still
    // holds the write), then goes on from where it was.
    const paused = Date.now();
    const deadline = this.#deadline;
    this.#deadline = Infinity;
    return this.#flush().finally(() => {
      const took = Date.now() - paused;
      this.#deadline = deadline + took;
    });
  }

  // --- The signal -----------------------------------------------------------

  /**
   * The signal of the current request: aborts when the client closes or
   * resets the connection, the request times out, or the server cuts it;
   * one made after that is aborted already, with the same reason.
   */
  get signal(): AbortSignal {
    let controller = this.#controller;
    if (controller === null) {
      controller = this.#controller = new AbortController();
      if (this.#abortReason !== null) controller.abort(this.#abortReason);
      else this.#watch();
    }
    return controller.signal;
  }

  /**
   * Once the body is read, reads on while the handler runs, so that a
   * client that goes is noticed; it stops once bytes of the next request
   * are here (kept for it): a pipelining client waits for its answers, and
   * a read left pending for more would hold the next request back.
   */
  #watch(): void {
    const reader = this.#reader;
    if (
      this.#watching !== null || this.#phase !== HANDLING ||
      !this.rfile.done || reader.eof || this.#gone !== null
    ) return;
    const limit = this.#host.limits.maxHeadBytes;
    const more = (): Promise<void> | undefined => {
      if (this.#phase !== HANDLING || reader.buffered > 0) return;
      return reader.fill(limit + 1).then((open) => {
        if (!open) return this.#lose(new Deno.errors.UnexpectedEof("EOF"));
        return more();
      });
    };
    this.#watchRead = true;
    this.#watching = Promise.resolve().then(more).catch((error) =>
      this.#lose(error)
    ).finally(() => {
      this.#watchRead = false;
      this.#watching = null;
    });
  }

  /** The client is gone (or timed out): abort the signal. */
  #lose(reason: unknown): void {
    if (this.#gone !== null) return;
    this.#gone = reason;
    this.#abortReason = new DOMException(
      this.#timedOut
        ? "The request timed out"
        : this.#cutBy !== null
        ? `The server closed the connection: ${this.#cutBy.message}`
        : "The client went away",
      this.#timedOut ? "TimeoutError" : "AbortError",
    );
    this.#controller?.abort(this.#abortReason);
  }

  // --- The response ---------------------------------------------------------

  /** Starts a head (Python's _headers_buffer) with its status line. */
  beginHead(code: number, version: string, phrase: string): void {
    if (!this.#answering) throw this.#late("A response");
    if (this.#headersSent) {
      throw new TypeError("The response headers were already sent");
    }
    if (this.#framing === RAW) {
      // Bytes the handler wrote with no head (or a late write of the one
      // before): not this head's body, and no framing vouches for them.
      this.#bodyBytes = 0;
      this.#rawBeforeHead = true;
    }
    this.#status = code;
    this.#headLines = [this.#state.statusLine(version, code, phrase)];
    this.#headEnding = null;
    this.#declaredLength = -1;
    this.#declaredCoding = null;
    this.#declaresConnection = false;
  }

  /**
   * Adds a header line; the three names that shape framing are noted.
   *
   * @throws {TypeError} When the name or value could split the response.
   */
  addHeader(keyword: string, value: string): void {
    const state = this.#state;
    if (!state.headerNames.test(keyword)) {
      throw new TypeError(`Invalid header name: ${pyRepr(keyword)}`);
    }
    if (!state.headerValues.test(value)) {
      throw new TypeError(`Invalid header value for ${keyword}`);
    }
    const lines = this.#headLines;
    if (lines === null) {
      throw new TypeError("sendResponse() must come before sendHeader()");
    }
    if (this.#headEnding !== null) {
      // Framed already, queued once an async flushHeaders override goes
      // on: a Content-Length now would go out beside the chunking.
      throw new TypeError("sendHeader() must come before endHeaders()");
    }
    // Only three names matter here; their lengths rule out most others.
    const length = keyword.length;
    if (length === 10 || length === 14 || length === 17) {
      this.#noteFraming(keyword.toLowerCase(), value);
    } else if (length === 4 && keyword.toLowerCase() === "date") {
      // One Date field (RFC 9110 §5.3, §6.6.1): a handler's own replaces
      // the one sendResponse() added, as in Go.
      for (let i = 1; i < lines.length; i += 2) {
        if (lines[i].length === 4 && lines[i].toLowerCase() === "date") {
          lines[i + 1] = value;
          return;
        }
      }
    }
    lines.push(keyword, value);
  }

  /** Whether the handler sent a Content-Length or a Transfer-Encoding. */
  #framedByHandler(): boolean {
    return this.#declaredLength >= 0 || this.#declaredCoding !== null;
  }

  /** Notes what a header says of framing; refuses what would be ambiguous. */
  #noteFraming(name: string, value: string): void {
    switch (name) {
      case "connection":
        this.#declaresConnection = true;
        break;
      case "content-length": {
        const declared = DIGITS.test(value) ? Number(value) : NaN;
        if (!Number.isSafeInteger(declared)) {
          throw new TypeError(`Invalid Content-Length: ${pyRepr(value)}`);
        }
        if (this.#framedByHandler()) {
          throw new TypeError("The response is framed already");
        }
        this.#declaredLength = declared;
        break;
      }
      case "transfer-encoding":
        if (this.#framedByHandler()) {
          throw new TypeError("The response is framed already");
        }
        this.#declaredCoding = value;
        break;
    }
  }

  /**
   * Ends the head. Framing is settled here: without Content-Length, a
   * keep-alive HTTP/1.1 response is sent chunked, any other closes the
   * connection after the body.
   */
  endHead(): Promise<void> {
    const lines = this.#headLines;
    if (lines === null) {
      // Ended already (an endHeaders() not awaited, then another): nothing
      // more, as Python's second end_headers sends nothing.
      if (this.#headersSent) return RESOLVED;
      throw new TypeError("sendResponse() must come before endHeaders()");
    }
    // Being ended (an async flushHeaders override): once, not framed again.
    if (this.#headEnding !== null) return this.#headEnding;
    const user = this.#user;
    // Not even the handler's own Connection: keep-alive keeps it.
    if (this.#rawBeforeHead) user.closeConnection = true;
    const code = this.#status;
    if (code < 200) {
      // An interim response: no framing, sent at once.
      if (code === 101 && this.#head?.headers.has("upgrade") !== true) {
        this.#headLines = null;
        throw new TypeError(
          "A 101 answers only a request that offered Upgrade (RFC 9110 §7.8)",
        );
      }
      if (code === 100) this.#continue = CONTINUE_SENT;
      if (this.#framedByHandler()) dropFraming(lines);
      this.queueHead();
      return this.#flush();
    }
    if (this.#host.shuttingDown) user.closeConnection = true;
    // A 2xx to a request that waits for 100 Continue, before its body is
    // read: the handler takes the request, so the 100 goes first, as
    // Python's goes before dispatch (a client that waits for it, as
    // node:http does, would never send the body the handler then reads).
    if (code < 300) this.#beforeBody();
    const head = this.#head;
    if (user.command === "CONNECT" && code < 300) {
      // A tunnel follows, with no framing field (RFC 9110 §9.3.6): the
      // client ignores them (RFC 9112 §6.3), so a length kept here would
      // have its tunnel bytes read as the next request.
      if (this.#framedByHandler()) dropFraming(lines);
      user.closeConnection = true;
      this.#framing = TO_CLOSE;
      return this.#headEnding = handled(user.flushHeaders());
    }
    const speaks11 = head !== null && head.minor >= 1 &&
      this.#protocolMinor() >= 1;
    // No Transfer-Encoding to a client without it (RFC 9112 §6.1): the
    // handler's own chunks go out decoded, delimited by the close.
    const unchunk = !speaks11 && this.#declaredCoding !== null &&
      ONLY_CHUNKED.test(this.#declaredCoding);
    if (unchunk) dropFraming(lines);
    if (user.command === "HEAD" || code === 204 || code === 304) {
      this.#framing = NO_BODY;
      // A 204 may not carry either, nor a 1xx (RFC 9110 §8.6, RFC 9112
      // §6.1); HEAD and 304 may, to tell the GET's.
      if (code === 204 && this.#framedByHandler()) dropFraming(lines);
      // A HEAD says the framing its GET would have (RFC 9112 §6.1): a
      // client such as node:http's reuses no connection whose HEAD answer
      // has neither field.
      if (code === 205) {
        dropFraming(lines);
        if (!user.closeConnection) lines.push("Content-Length", "0");
      } else if (
        code !== 204 && code !== 304 && !this.#framedByHandler() &&
        !user.closeConnection && speaks11
      ) lines.push("Transfer-Encoding", "chunked");
    } else if (code === 205) {
      // No content (RFC 9110 §15.3.6), but a 205 is not bodiless by its
      // status (RFC 9112 §6.3): a length of 0 keeps the connection, else
      // the close ends it (as Python's send_error does).
      this.#framing = NO_BODY;
      dropFraming(lines);
      if (!user.closeConnection) lines.push("Content-Length", "0");
    } else if (this.#declaredLength >= 0) {
      this.#framing = LENGTH;
    } else if (unchunk) {
      user.closeConnection = true;
      this.#framing = UNCHUNKED;
      this.#ownChunks = new ChunkedEnd();
    } else if (this.#declaredCoding !== null) {
      this.#framing = OWN_CODING;
      // Only a last chunked coding ends the body before the close (RFC 9112
      // §6.3), and HTTP/1.0 has no chunks.
      const chunks = speaks11 && LAST_CHUNKED.test(this.#declaredCoding);
      if (!chunks) user.closeConnection = true;
      // Kept only if the handler's chunks end where its body does.
      this.#ownChunks = chunks ? new ChunkedEnd() : null;
    } else if (!user.closeConnection && speaks11) {
      lines.push("Transfer-Encoding", "chunked");
      this.#framing = CHUNKED;
    } else {
      user.closeConnection = true;
      this.#framing = TO_CLOSE;
    }
    // A body left unread that the end will not drain (past DRAIN_LIMIT, or
    // one 100 Continue never asked for) ends the connection: said now, in
    // this head (RFC 9112 §9.6), not found out by the client.
    if (!user.closeConnection && head !== null && !this.rfile.done) {
      const left = head.contentLength === null
        ? 0
        : head.contentLength - this.rfile.bytesRead;
      if (
        this.#continue === CONTINUE_OWED || left > DRAIN_LIMIT ||
        this.rfile.failed
      ) {
        user.closeConnection = true;
      }
    }
    if (this.#declaresConnection && user.closeConnection) {
      this.#sayClose(lines);
    } else if (!this.#declaresConnection && head === null) {
      // A head refused: said whatever version the client spoke.
      if (user.closeConnection) lines.push("Connection", "close");
    } else if (!this.#declaresConnection && head !== null) {
      if (user.closeConnection) {
        if (head.minor >= 1) lines.push("Connection", "close");
      } else {
        if (head.minor === 0) lines.push("Connection", "keep-alive");
        const idle = this.#idleTimeout();
        if (idle !== null) {
          lines.push("Keep-Alive", this.#state.keepAliveValue(idle));
        }
      }
    }
    return this.#headEnding = handled(user.flushHeaders());
  }

  /**
   * A handler's own Connection field that does not say close is dropped from
   * a head the server will end by closing, as Go does: the client is not
   * promised a connection it then loses (RFC 9112 §9.6).
   */
  #sayClose(lines: string[]): void {
    const named: number[] = [];
    for (let i = 1; i < lines.length; i += 2) {
      if (lines[i].length === 10 && lines[i].toLowerCase() === "connection") {
        named.push(i);
      }
    }
    const values = named.map((i) => lines[i + 1]);
    if (splitTokens(values).includes("close")) return;
    for (const i of named.reverse()) lines.splice(i, 2);
    if (this.#head !== null && this.#head.minor >= 1) {
      lines.push("Connection", "close");
    }
  }

  /** Queues the head that is built, if any (Python's flush_headers). */
  queueHead(): void {
    const lines = this.#headLines;
    if (lines !== null && this.#status < 200 && this.#head?.minor === 0) {
      // No 1xx to an HTTP/1.0 client, which would read it as the answer
      // (RFC 9110 §15.2): dropped, as a 100 Continue is never sent there.
      this.#headLines = null;
    } else if (lines !== null) {
      const out = this.#output;
      out.head(lines, this.#state.recentHeads);
      this.#headLines = null;
      if (this.#status >= 200) this.#queuedHead = lines;
      this.#bodyStart = out.position;
    }
  }

  /** Frames and queues body bytes (a string as UTF-8): `wfile.write`. */
  writeBody(data: Uint8Array | string): Promise<void> {
    if (this.#phase === TAKEN) {
      return handled(
        Promise.reject(new TypeError("The connection was handed over")),
      );
    }
    if (!this.#answering) {
      return handled(
        Promise.resolve().then(() => {
          throw this.#late("A write");
        }),
      );
    }
    if (this.#headLines !== null && this.#status < 200) {
      return handled(
        Promise.reject(
          new TypeError("endHeaders() must end a 1xx head before a write"),
        ),
      );
    }
    if (this.#headLines !== null) {
      // A head not ended yet is ended first, by the handler's endHeaders.
      return handled(
        this.#user.endHeaders().then(() => {
          if (this.#headLines !== null) {
            throw new TypeError("endHeaders() did not end the headers");
          }
          return this.writeBody(data);
        }),
      );
    }
    if (this.#framing === NO_BODY) return RESOLVED; // dropped, not counted
    let bytes = typeof data === "string" ? this.#encode(data) : data;
    if (this.#framing === UNCHUNKED) return this.#writeUnchunked(bytes);
    // Nothing more goes out, nor is counted in the log.
    if (this.#framing === CUT) return RESOLVED;
    const out = this.#output;
    this.#bodyBytes += bytes.length;
    if (this.#framing === NOT_STARTED) {
      this.#framing = RAW;
      this.#bodyStart = out.position;
    }
    if (
      this.#framing === LENGTH && this.#bodyBytes > this.#declaredLength
    ) {
      // Bytes past the declared length would be read as the next response:
      // send what was declared, drop the rest, and close after.
      const excess = this.#bodyBytes - this.#declaredLength;
      bytes = bytes.subarray(0, bytes.length - excess);
      this.#bodyBytes = this.#declaredLength;
      this.#framing = CUT;
      this.#user.logError(
        "response body longer than its Content-Length (%d)",
        this.#declaredLength,
      );
      out.bytes(bytes);
      return RESOLVED;
    }
    const framing = this.#framing;
    if (bytes.length === 0) return RESOLVED;
    if (framing === OWN_CODING && this.#ownChunks !== null) {
      // What follows the handler's last chunk, or breaks its coding, would
      // be read as the next response: it stays here, and the close ends it.
      const taken = this.#ownChunks.feed(bytes);
      if (taken < bytes.length) {
        this.#bodyBytes -= bytes.length - taken;
        bytes = bytes.subarray(0, taken);
        this.#ownCodingBroke();
        out.bytes(bytes);
        return RESOLVED;
      }
    }
    const chunked = framing === CHUNKED;
    if (chunked) out.text(bytes.length.toString(16) + "\r\n");
    if (bytes.length >= FLUSH_AT) {
      const written = this.#flush(bytes);
      // Queued now, so that it follows the chunk whatever is written next.
      if (chunked) out.text("\r\n");
      return written;
    }
    out.bytes(bytes);
    if (chunked) out.text("\r\n");
    return out.length >= FLUSH_AT ? this.#flush() : RESOLVED;
  }

  /** Queues the data of the handler's own chunks; framing that breaks cuts. */
  #writeUnchunked(bytes: Uint8Array): Promise<void> {
    const pieces: Uint8Array[] = [];
    const taken = this.#ownChunks!.feed(bytes, pieces);
    if (taken < bytes.length) this.#ownCodingBroke();
    const out = this.#output;
    for (const piece of pieces) {
      this.#bodyBytes += piece.length;
      out.bytes(piece);
    }
    return out.length >= FLUSH_AT ? this.#flush() : RESOLVED;
  }

  /** The handler's chunked coding broke, or went on past its end. */
  #ownCodingBroke(): void {
    this.#framing = CUT;
    this.#user.logError(
      "response's own chunked coding broke; the rest was dropped",
    );
  }

  /**
   * The error for output that came after its response ended (an unawaited
   * write, a timer) while no other response has begun: dropped and logged.
   */
  #late(what: string): TypeError {
    this.#user.logError("%s after its response ended was dropped", what);
    return new TypeError(
      `${what} came after its response ended: await the handler's writes`,
    );
  }

  /** UTF-8 bytes of a body string, without allocating for short ones. */
  #encode(text: string): Uint8Array {
    const scratch = this.#state.scratch;
    if (text.length * 3 >= scratch.length) return encoder.encode(text);
    return scratch.subarray(0, encoder.encodeInto(text, scratch).written);
  }

  /** Writes everything queued to the socket: `wfile.flush`. */
  flush(): Promise<void> {
    return this.#flush();
  }

  #flush(extra?: Uint8Array): Promise<void> {
    const out = this.#out;
    if ((out === null || out.length === 0) && extra === undefined) {
      return RESOLVED;
    }
    this.#outMark = this.#held = 0;
    // Earlier pipelined responses or a 100 Continue do not commit this one.
    if (this.#framing !== NOT_STARTED) this.#responseFlushed = true;
    return this.#output.flush(extra);
  }

  /**
   * Answers a handler that threw: 500 (or the error's status) if nothing of
   * the response has gone out yet; else the response ends by the close.
   */
  fail(error: unknown): Promise<void> {
    const user = this.#user;
    user.closeConnection = true;
    const session = this.#session;
    if (
      session?.stoppedBy !== undefined && error === session.stoppedBy &&
      this.#phase !== TAKEN
    ) {
      return RESOLVED; // a stream ended by the shutdown, as it asked
    }
    if (this.#timedOut || this.#lost(error)) {
      this.#logLoss(error);
      return RESOLVED;
    }
    if (error instanceof Deno.errors.InvalidData && error === this.#gone) {
      // The socket's own read failed in TLS (a corrupt record in a body):
      // the client's fault, one line, no 500 (none could be read).
      this.#logTLSError(error, false);
      return RESOLVED;
    }
    if (!(error instanceof HTTPError)) {
      reportError(this.#host, this.conn, this.#clientAddress, error);
    }
    if (this.#responseFlushed || this.#phase === TAKEN) {
      // Never a last chunk that would make it look complete.
      this.#framing = CUT;
      // An event stream ends with the handler that fed it; a WebSocket
      // (handed over) lives on with its on* handlers when the handler
      // returns, not when it throws: it would be open with no one serving.
      if (session !== null && this.#phase !== TAKEN) {
        this.#session = null;
        session.shutdown();
      } else session?.fail?.();
      return RESOLVED;
    }
    // Nothing of this response reached the socket: replace it.
    this.#out?.truncate(this.#outMark);
    this.#headLines = null;
    this.#framing = NOT_STARTED;
    this.#bodyBytes = 0;
    this.#bodyStart = -1;
    return this.#sendErrorFor(error).catch((failure) =>
      this.#errorPageFailed(failure)
    );
  }

  /**
   * An error page could not be sent: the client gone, or an override that
   * broke it (reported, as its own bug). What was built of it is dropped,
   * and the connection closes.
   */
  #errorPageFailed(failure: unknown): void {
    this.#user.closeConnection = true;
    if (!this.#responseFlushed) {
      this.#out?.truncate(this.#outMark);
      this.#headLines = null;
    }
    this.#framing = CUT;
    if (this.#timedOut || this.#lost(failure)) return;
    reportError(this.#host, this.conn, this.#clientAddress, failure);
  }

  /**
   * Whether `error` is this connection's loss: a connection error once the
   * client is gone or a write to it failed. A pipe or socket of the
   * handler's own that broke is its bug, and still owes the client its
   * 500. Once detached, the socket's I/O is the handler's, so the class
   * alone tells; a WebSocket's is ours, so the handler's error is its own.
   */
  #lost(error: unknown): boolean {
    if (!isConnectionError(error)) return false;
    if (this.#gone !== null || (this.#out?.error ?? null) !== null) return true;
    return this.#phase === TAKEN && this.#session?.fail === undefined;
  }

  #logTLSError(error: Error, handshake: boolean): void {
    this.#user.logError(
      handshake ? "TLS handshake failed: %s" : "TLS error: %s",
      error.message,
    );
  }

  /** Sends the error page of `error`: its HTTP status, or 500. */
  #sendErrorFor(error: unknown): Promise<void> {
    return error instanceof HTTPError
      ? this.#user.sendError(error.status, error.message, error.explain)
      : this.#user.sendError(500);
  }

  #logLoss(error: unknown): void {
    if (this.#lossLogged) return;
    this.#lossLogged = true;
    // A timeout's close makes the pending I/O fail "operation canceled":
    // the line says which timeout instead.
    if (this.#timedOut && this.#gone !== null) {
      this.#user.logError("Request timed out: %s", String(this.#gone));
      return;
    }
    this.#user.logError(
      "Request timed out or connection lost: %s",
      String(this.#cutBy ?? error),
    );
  }

  /**
   * Ends the response, decides whether the connection serves another
   * request, drains an unread body, and sends or holds the output; returns
   * a promise only when there is I/O to wait for.
   */
  endRequest(): Promise<void> | undefined {
    const answer = this.#answer;
    if (answer !== null) {
      // Its failure is the connection's, found by the output.
      this.#answer = null;
      return answer.catch(() => {}).then(() => this.endRequest());
    }
    const session = this.#session;
    if (session !== null) {
      return session.done.catch(() => {}).then(() => {
        this.#session = null;
        return this.endRequest();
      });
    }
    if (this.#phase === TAKEN) {
      this.#user.closeConnection = true;
      this.#user.logRequest(this.#status || "-", "-");
      return;
    }
    if (this.#headLines !== null && this.#status >= 200) {
      // A head the handler queued and never ended.
      return this.#user.endHeaders().catch((error) => {
        reportError(this.#host, this.conn, this.#clientAddress, error);
        this.#framing = CUT;
      }).then(() => this.#endRequest());
    }
    return this.#endRequest();
  }

  #endRequest(): Promise<void> | undefined {
    this.#answering = false; // the response is whole: later output is stray
    const user = this.#user;
    if (this.#framing === NOT_STARTED) {
      // The handler sent nothing: closing is the only answer a client sees.
      if (this.#head !== null) user.logError("no response sent");
    } else if (this.#framing === CHUNKED) {
      this.#output.text("0\r\n\r\n");
    } else if (
      this.#framing === LENGTH && this.#bodyBytes < this.#declaredLength &&
      this.#gone === null && (this.#out?.error ?? null) === null
    ) {
      // The client waits for bytes that never come: the close ends it.
      user.logError(
        "response body shorter than its Content-Length (%d of %d bytes)",
        this.#bodyBytes,
        this.#declaredLength,
      );
    }
    user.closeConnection = !this.#mayReuse();
    if (!user.closeConnection && !this.rfile.done) return this.#drainAndSend();
    return this.#sendOrHold();
  }

  /**
   * Logs the request with the body bytes the socket took, once they went
   * out or failed to: a response cut short logs what the client got, not
   * what the handler wrote. Chunk framing is counted out in proportion.
   */
  #logRequest(): void {
    if (this.#framing === NOT_STARTED) return;
    const out = this.#output;
    const start = this.#bodyStart;
    const end = out.position;
    let sent = this.#bodyBytes;
    if (start >= 0 && out.written < end) {
      const through = Math.max(0, out.written - start);
      sent = Math.min(
        sent,
        Math.floor(through * sent / Math.max(1, end - start)),
      );
    }
    this.#user.logRequest(this.#status || "-", sent);
  }

  /** Whether the connection may serve another request: decided only here. */
  #mayReuse(): boolean {
    if (
      this.#user.closeConnection || this.#host.shuttingDown ||
      this.#timedOut || this.#rawBeforeHead || this.#gone !== null ||
      (this.#out?.error ?? null) !== null
    ) return false;
    // A body invited by 100 Continue and unread cannot be told from the next
    // request.
    if (this.#continue === CONTINUE_OWED && !this.rfile.done) return false;
    switch (this.#framing) {
      case LENGTH:
        return this.#bodyBytes === this.#declaredLength;
      case OWN_CODING:
        return this.#ownChunks?.ended === true;
      case CHUNKED:
      case NO_BODY:
        return true;
      default:
        return false;
    }
  }

  async #drainAndSend(): Promise<void> {
    // A chunked body shows its length only as it is read (one of a known
    // length was judged when the head ended): its response, if all still
    // queued, waits for the drain, as Go's does, to say close if it fails;
    // the sweep still sends it within 50 ms, so a slow body costs no more.
    this.#drainFirst = this.#head?.contentLength === null;
    let drained;
    try {
      drained = await this.rfile.discard(DRAIN_LIMIT).catch(() => false);
    } finally {
      this.#drainFirst = false;
    }
    if (!drained) {
      this.#user.closeConnection = true;
      this.#sayCloseAfterDrain();
    }
    await this.#sendOrHold();
  }

  /**
   * A response all still queued has its head queued again saying close
   * (RFC 9112 §9.6), for a body that could not be drained.
   */
  #sayCloseAfterDrain(): void {
    const kept = this.#queuedHead;
    if (kept === null || this.#responseFlushed) return;
    // A copy without Keep-Alive: the recent heads may hold these lines.
    const lines = [kept[0]];
    for (let i = 1; i < kept.length; i += 2) {
      if (kept[i].toLowerCase() !== "keep-alive") {
        lines.push(kept[i], kept[i + 1]);
      }
    }
    this.#sayClose(lines);
    const out = this.#output;
    const body = out.cut(this.#bodyStart);
    out.truncate(this.#outMark);
    out.head(lines, this.#state.recentHeads);
    this.#bodyStart = out.position;
    out.bytes(body);
  }

  /**
   * Sends the output now unless the next request is already here, and logs
   * the request once it is sent.
   */
  #sendOrHold(): Promise<void> | undefined {
    this.#queuedHead = null; // not held by an idle connection
    const queued = this.#out?.length ?? 0;
    // Held responses went out and the socket has not taken them (a client
    // that pipelines and never reads): the next request waits for it, else
    // every one already read would be answered into memory.
    const backlog = this.#output.unwritten >= FLUSH_AT;
    if (
      backlog || this.#user.closeConnection || this.#reader.buffered === 0 ||
      queued >= FLUSH_AT
    ) {
      // With nothing queued, Output's flush() is the last one's promise.
      const sent = backlog && queued === 0
        ? this.#output.flush()
        : this.#flush();
      return sent.then(
        () => this.#logRequest(),
        (error) => {
          this.#flushFailed(error);
          this.#logRequest();
        },
      );
    }
    // Held to go out with the next response, but never behind a handler
    // that waits for something: whatever is still held at the next
    // macrotask goes then. A held response is logged as queued.
    this.#user.logRequest(this.#status || "-", this.#bodyBytes);
    this.#held = this.#out?.length ?? 0;
    this.#state.hold(this);
  }

  /** A background flush failed: no handler's code is there to catch. */
  #flushFailed(error: unknown): void {
    this.#user.closeConnection = true;
    try {
      this.#logLoss(error);
    } catch (failure) {
      reportError(this.#host, this.conn, this.#clientAddress, failure);
    }
  }

  /** Sends the responses held for a pipelined batch. */
  sendHeld(): void {
    const held = this.#held;
    if (held === 0) return;
    this.#held = 0;
    this.#outMark = Math.max(0, this.#outMark - held);
    this.#output.flushFirst(held).catch((error) => this.#flushFailed(error));
  }

  /** After the last request: sends what is still queued. */
  finish(): Promise<void> {
    if ((this.#out?.length ?? 0) === 0 || this.#timedOut) return RESOLVED;
    return this.#flush().catch(() => {});
  }

  // --- Handing the connection over -----------------------------------------

  /**
   * Throws unless {@linkcode takeOver} may be called now, so that a caller
   * can check before it writes a byte.
   *
   * @throws {TypeError} Outside a request, or while the signal's read waits.
   */
  checkTakeOver(): void {
    if (this.#phase !== HANDLING) {
      throw new TypeError("The connection is not serving a request");
    }
    if (this.#watching !== null) {
      // Its bytes would come after the handover.
      throw new TypeError(
        "The connection cannot be handed over once this.signal watches it",
      );
    }
  }

  /**
   * Hands the connection to what takes it over after this request (a
   * WebSocket, a tunnel): sends what is queued, stops the server's deadlines
   * and returns the bytes read past the head. The connection stays the
   * server's: counted, and closed by a shutdown after its grace.
   *
   * @throws {TypeError} Outside a request, or while the signal's read waits.
   */
  async takeOver(): Promise<Uint8Array> {
    this.checkTakeOver();
    this.#user.closeConnection = true;
    await this.#flush();
    this.#phase = TAKEN;
    this.#deadline = Infinity;
    const reader = this.#reader;
    const buffered = new Uint8Array(reader.buffered);
    if (buffered.length > 0) await reader.readInto(buffered, buffered.length);
    return buffered;
  }

  /**
   * Hands the connection over for good: the server no longer counts it,
   * waits for it or closes it.
   */
  async detach(): Promise<Uint8Array> {
    const buffered = await this.takeOver();
    this.release();
    this.#state.detach(this.conn);
    return buffered;
  }

  /** Holds the request open until `session` is done; see {@linkcode Session}. */
  hold(session: Session): void {
    this.#session = session;
    if (this.#host.shuttingDown) queueMicrotask(() => session.shutdown());
  }

  /** The server is shutting down: asks a session to end. */
  goAway(): void {
    this.#session?.shutdown();
  }

  /** Stops the sweep's checks; the server calls it when the connection ends. */
  release(): void {
    this.#endHeadWait();
    this.#state.unhold(this);
    this.#state.connections.delete(this.conn);
  }

  /**
   * Before the server closes a connection whose client is still sending a
   * body the handler left unread (or the rest of a head refused after its
   * request line, and its body), ends this side's writing and reads and
   * drops what comes, until the client closes or LINGER_S pass (RFC 9112
   * §9.6; nginx's lingering close, Go's closeWriteAndWait). Closed with
   * unread bytes, the socket is reset: a client still writing (a proxy) gets
   * EPIPE and may never read the answer (nginx then sends a 502).
   */
  async linger(): Promise<void> {
    const sending = this.#head === null
      ? this.#refusedRequest
      : !this.rfile.done;
    if (
      this.#phase === TAKEN || !sending ||
      this.#timedOut || this.#gone !== null || this.#out?.error ||
      this.#host.shuttingDown
    ) return;
    // Answered: a shutdown closes it at once, as an idle one.
    this.#lingering = true;
    const conn = this.conn;
    try {
      await conn.closeWrite();
    } catch {
      return; // gone, or not a socket that half-closes
    }
    const timer = sleep(LINGER_S);
    const over = timer.promise.then(() => null);
    const scratch = new Uint8Array(16384);
    try {
      while (true) {
        const read = conn.read(scratch);
        read.catch(() => {}); // one the timer outran ends with the close
        // 0, from a Deno.Conn-shaped object, ends it too: no endless loop.
        if (!(await Promise.race([read, over]) ?? 0)) break;
      }
    } catch {
      // Reset or closed: nothing more to wait for.
    } finally {
      timer.cancel();
    }
  }

  /**
   * Closes the connection under the request: `reason` is what its loss
   * logs, not what the close does to the I/O still pending.
   */
  cut(reason: Error): void {
    this.#cutBy ??= reason;
    this.#lose(reason);
    this.close();
  }

  /** Closes the connection, ignoring one that is closed already. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  // --- Deadlines ------------------------------------------------------------

  /** The current date for a `Date` header. */
  date(): string {
    return this.#state.clock.now();
  }

  /** The `Server` header value of a handler's two version strings. */
  versionString(server: string, sys: string): string {
    return this.#state.versionString(server, sys);
  }

  /** The minor version spoken when `protocolVersion` is HTTP/1.x; 1 above. */
  #protocolMinor(): number {
    return this.#state.protocolMinor(this.#user.protocolVersion);
  }

  /** Whether keep-alive may be spoken: the handler's version is HTTP/1.1+. */
  get speaksKeepAlive(): boolean {
    return this.#protocolMinor() >= 1;
  }

  #idleTimeout(): number | null {
    return this.#within(this.#host.keepAliveTimeout);
  }

  #headTimeout(): number | null {
    return this.#within(this.#host.headerTimeout);
  }

  /**
   * Whether the handler's `timeout` (Python's socket timeout) is under the
   * server's `limit` (`null` for none), and so is the one that holds: a
   * handler may shorten a wait, never lengthen or lift one the server sets.
   */
  #handlerTimes(limit: number | null): boolean {
    const own = this.#user.timeout;
    return own != null && own < (limit ?? Infinity);
  }

  /** The wait that holds for one of the server's limits: the shorter. */
  #within(limit: number | null): number | null {
    return this.#handlerTimes(limit) ? this.#user.timeout : limit;
  }

  /** Sets the time by which the current wait must end; `null` for none. */
  #arm(seconds: number | null, now?: number): void {
    this.#deadline = seconds === null
      ? Infinity
      : (now ?? Date.now()) + seconds * 1000;
  }

  /**
   * Whether the socket has taken nothing for writeTimeout or longer while
   * output waits: the peer stopped reading. Counted from the first sweep
   * that sees no progress, so no write arms a deadline of its own.
   */
  #flushStalled(now: number): boolean {
    const out = this.#out;
    const limit = this.#within(this.#host.writeTimeout);
    return out !== null && limit !== null && out.stalled(now, limit * 1000);
  }

  /**
   * Whether the body comes slower than minBodyRate once the client has had
   * minBodyRateGrace seconds of waiting (the handler's own time is not
   * counted): a trickle cannot hold a connection for hours.
   */
  #tooSlow(now: number): boolean {
    const rate = this.#host.minBodyRate;
    if (this.#bodyReadSince === 0 || rate === null) return false;
    const waited = this.#bodyWaited + now - this.#bodyReadSince;
    return waited > this.#host.minBodyRateGrace * 1000 &&
      this.rfile.bytesRead < rate * waited / 1000;
  }

  /**
   * The sweep's call: sends what a handler that waits on something else has
   * written (Python's wfile is unbuffered; here it goes at the latest one
   * sweep later, and a handler that awaits only the engine costs no extra
   * write), and closes the connection once its deadline has passed.
   */
  expire(now: number): void {
    if (this.#phase === TAKEN) return;
    if (
      this.#phase === HANDLING && this.#framing !== NOT_STARTED &&
      (this.#out?.length ?? 0) > 0
    ) {
      this.#flush().catch((error) => this.#flushFailed(error));
    }
    if (this.#readingHead && !this.#headTimed && this.#reader.buffered > 0) {
      // A head has begun after an idle wait: from its first bytes (seen
      // within a sweep) it has the head timeout, as Go's ReadHeaderTimeout
      // after IdleTimeout; none keeps the idle one.
      this.#headTimed = true;
      const limit = this.#headTimeout();
      if (limit !== null) this.#arm(limit, now);
    }
    const stalled = now < this.#deadline && this.#flushStalled(now);
    if (now < this.#deadline && !stalled && !this.#tooSlow(now)) return;
    this.#deadline = Infinity;
    this.#timedOut = true;
    this.#user.closeConnection = true;
    const logged = this.#readingHead &&
      this.#handlerTimes(
        this.#headTimed
          ? this.#host.headerTimeout
          : this.#host.keepAliveTimeout,
      );
    this.#lose(
      new Deno.errors.TimedOut(
        stalled
          ? `the client took no bytes for writeTimeout (${
            this.#within(this.#host.writeTimeout)
          } s)`
          : "timed out",
      ),
    );
    this.close();
    if (!logged) return;
    // Python's line for its handler's timeout; the server's own timeouts,
    // which Python has not, close in silence, as nginx's and Go's. In the
    // sweep, an override's throw is reported, never left to end it.
    try {
      this.#user.logError("Request timed out: %s", "TimeoutError('timed out')");
    } catch (failure) {
      reportError(this.#host, this.conn, this.#clientAddress, failure);
    }
  }
}

/** Removes the handler's Content-Length and Transfer-Encoding lines. */
function dropFraming(lines: string[]): void {
  for (let i = lines.length - 2; i >= 1; i -= 2) {
    const name = lines[i].toLowerCase();
    if (name === "content-length" || name === "transfer-encoding") {
      lines.splice(i, 2);
    }
  }
}
