// Copyright 2026 the basehttp authors. MIT license.
/**
 * WebSocket (RFC 6455, with permessage-deflate of RFC 7692) on a handler's
 * connection: `await this.upgradeWebSocket()` inside any `do_GET` answers
 * the opening handshake and returns a {@linkcode ServerWebSocket}, which has
 * the web `WebSocket` interface (so code written for `Deno.upgradeWebSocket`
 * runs unchanged) and can be read with `for await`.
 *
 * @example An echo server
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler, HTTPServer } from "@basehttp/server";
 *
 * class Echo extends BaseHTTPRequestHandler {
 *   override protocolVersion = "HTTP/1.1";
 *   async do_GET(): Promise<void> {
 *     const socket = await this.upgradeWebSocket();
 *     socket.onmessage = (event) => socket.send(event.data);
 *   }
 * }
 *
 * await using httpd = new HTTPServer(["127.0.0.1", 0], Echo);
 * const serving = httpd.serveForever();
 * const client = new WebSocket(`ws://127.0.0.1:${httpd.serverPort}/`);
 * await new Promise((resolve) => client.onopen = resolve);
 * client.send("hello");
 * const reply = await new Promise<MessageEvent>((resolve) =>
 *   client.onmessage = resolve
 * );
 * assert.equal(reply.data, "hello");
 * client.close();
 * await new Promise((resolve) => client.onclose = resolve);
 * await httpd.shutdown();
 * await serving;
 * ```
 *
 * @module
 */

import {
  type Frame,
  frameHeader,
  FrameReader,
  headerLength,
  isValidCloseCode,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  WebSocketProtocolError,
  writeHeader,
} from "./_websocket_frame.ts";
import { GrowingBytes } from "./_bytes.ts";
import { Fifo } from "./_fifo.ts";
import { decodeUtf8 } from "./_text.ts";
import type { BufferPool } from "./_pool.ts";
import { writeTo, wroteNothing } from "./_output.ts";

/** Options of `upgradeWebSocket`. */
export interface WebSocketOptions {
  /**
   * The subprotocols the server speaks, or a function that picks one of
   * those the client offers (`Sec-WebSocket-Protocol`). With a list, the
   * first the client offers that is in it is chosen; with none, no
   * subprotocol is sent.
   */
  protocols?: readonly string[] | ((offered: string[]) => string | null);
  /**
   * Seconds of silence from the client after which a ping is sent; the
   * connection is closed if nothing comes back within as long again, and
   * also when the client takes no byte of what waits to be sent for that
   * long. `null` disables both. @default {120}
   */
  idleTimeout?: number | null;
  /**
   * Largest message accepted, in bytes; larger ones close with 1009. The
   * fragments of a message are copied into one buffer, at most this size,
   * as they come: however it is fragmented, a message takes about its own
   * size in memory. @default {67108864}
   */
  maxMessageSize?: number;
  /**
   * Accept permessage-deflate when the client offers it (browsers always
   * do). Its contexts are kept between messages, as RFC 7692's context
   * takeover needs: about 300 KB of zlib state a socket once both ways
   * have been used, against about 36 KiB without (the `ws` package costs
   * the same, and is off by default on its servers); turn it off for many
   * sockets of small messages. @default {true}
   */
  compression?: boolean;
}

/**
 * What a socket is made with, once the handshake is done.
 *
 * @ignore
 */
export interface WebSocketSettings {
  /** The upgraded connection. */
  conn: Deno.Conn;
  /** Bytes read past the handshake. */
  buffered: Uint8Array;
  /** The subprotocol chosen, or `""`. */
  protocol: string;
  /** The extensions agreed, as sent. */
  extensions: string;
  /** The compressor, when permessage-deflate was agreed. */
  deflate: {
    compress(data: Uint8Array): Promise<Uint8Array>;
    decompress(data: Uint8Array): Promise<Uint8Array>;
    close(): void;
  } | null;
  /** The request URL. */
  url: string;
  /** Seconds, or `null`. */
  idleTimeout: number | null;
  /** Bytes. */
  maxMessageSize: number;
  /** Reports an error thrown by an `on*` handler: the server's handleError. */
  reportError(error: unknown): void;
  /** The server's buffers, which large frames are built in. */
  pool: BufferPool;
  /** Holds the request open while the socket is: the engine's. */
  hold(
    session: { done: Promise<void>; shutdown(): void; fail(): void },
  ): void;
}

/** An `on*` handler of a {@linkcode ServerWebSocket}. */
export type WebSocketEventHandler<E extends Event> =
  | ((this: ServerWebSocket, event: E) => unknown)
  | null;

/** A message as `for await` yields it: text, or binary bytes. */
export type WebSocketMessage = string | Uint8Array;

/** What `send` takes. */
export type WebSocketData = string | ArrayBuffer | ArrayBufferView | Blob;

interface Outgoing {
  opcode: number;
  data: Uint8Array | Blob;
  size: number;
}

// Messages under this size go out uncompressed: deflate does not pay there.
const COMPRESS_AT = 1024;
// The largest frame built in the socket's own buffer: most messages are
// small, and the buffer stays for the socket's life.
const KEPT_FRAME = 1024;
// Larger frames are built in a buffer of this size from the server's pool,
// and go out in one write; above it the header is written, then the payload
// (a second write, and a TCP segment of its own, cost more than the copy).
const POOLED_FRAME = 65536;
// Queued bytes past which no more frames are read until they are written,
// so that an echo to a client that never reads stays bounded.
const SEND_HIGH_WATER = 1 << 20;
// What a queued frame holds beside its payload (its Outgoing, its array, a
// slot of the queue), counted against SEND_HIGH_WATER: empty messages too
// must fill it.
const QUEUED_FRAME_COST = 128;
// How long a closing handshake may take before the connection is closed.
const CLOSE_TIMEOUT_MS = 5000;
// Frames read ahead while a `for await` body runs, past which no more are
// read until the loop takes them (each counted with QUEUED_FRAME_COST).
const READ_AHEAD = 1 << 20;
const encoder = new TextEncoder();

const CONNECTING = 0 as const;
const OPEN = 1 as const;
const CLOSING = 2 as const;
const CLOSED = 3 as const;

/**
 * The server side of a WebSocket, with the web `WebSocket` interface:
 * `readyState`, `protocol`, `extensions`, `binaryType`, `bufferedAmount`,
 * `send`, `close`, the `on*` handlers and `addEventListener`. It is
 * returned `CONNECTING`; `open` fires in a later task, so a handler set
 * after the `await` still runs. `message` events fire as frames arrive;
 * `for await (const message of socket)` reads with backpressure: while the
 * loop's body runs, at most 1 MiB of frames is read ahead. Either way no
 * frame is read while more than 1 MiB sent waits to be written.
 *
 * @example Read with `for await`
 * ```ts ignore
 * const socket = await this.upgradeWebSocket();
 * for await (const message of socket) {
 *   socket.send(typeof message === "string" ? message.toUpperCase() : message);
 * }
 * ```
 */
export class ServerWebSocket extends EventTarget
  implements AsyncIterable<WebSocketMessage> {
  /** The socket is being opened. */
  static readonly CONNECTING: 0 = CONNECTING;
  /** The socket is open. */
  static readonly OPEN: 1 = OPEN;
  /** The closing handshake has begun. */
  static readonly CLOSING: 2 = CLOSING;
  /** The socket is closed. */
  static readonly CLOSED: 3 = CLOSED;
  /** The socket is being opened. */
  readonly CONNECTING: 0 = CONNECTING;
  /** The socket is open. */
  readonly OPEN: 1 = OPEN;
  /** The closing handshake has begun. */
  readonly CLOSING: 2 = CLOSING;
  /** The socket is closed. */
  readonly CLOSED: 3 = CLOSED;

  /** The subprotocol chosen in the handshake, or `""`. */
  readonly protocol: string;
  /** The extensions agreed in the handshake, or `""`. */
  readonly extensions: string;
  /** The URL of the request that was upgraded. */
  readonly url: string;

  #conn: Deno.Conn;
  #pool: BufferPool;
  #reader: FrameReader;
  #deflate: WebSocketSettings["deflate"];
  #maxMessageSize: number;
  #idleMs: number | null;
  #state: number = CONNECTING;
  #binaryType: BinaryType = "arraybuffer";
  #handlers: Record<string, WebSocketEventHandler<Event> | undefined> = {};
  // Each listener added, as the guarded one that was added in its place;
  // made with the first.
  #guarded: WeakMap<EventListenerOrEventListenerObject, EventListener> | null =
    null;
  #report: (error: unknown) => void;
  // Whether a message listener or onmessage was ever set: a loop alone
  // makes no MessageEvent.
  #listened = false;

  // The message being received: its bytes in one buffer, so that each
  // fragment costs only its bytes.
  #opcode = -1;
  #compressed = false;
  #message: GrowingBytes;
  // Checks the fragments of a text message as they come.
  #textCheck: TextDecoder | null = null;

  // Output: frames waiting for the socket, and their application bytes.
  #queue: Fifo<Outgoing> = new Fifo();
  // The pong still queued: a later ping's payload replaces its own.
  #pong: Outgoing | null = null;
  #sending = false;
  // Frames of up to KEPT_FRAME bytes are built here, one at a time (each is
  // written before the next is built): a typed array made for each costs
  // more than the frame.
  #frameBuffer: Uint8Array | null = null;
  // When the socket last took bytes (or sending began): a client that takes
  // none for a whole idleTimeout while some wait is gone.
  #wrote = 0;
  #drained: (() => void)[] = [];
  #buffered = 0;
  #sentAfterClose = 0;
  #closeSent = false;
  #closeReceived: [number, string] | null = null;

  // The open event's task, the idle check, and the closing handshake's
  // limit: each cleared when the socket closes.
  #openTimer: ReturnType<typeof setTimeout> | undefined;
  #reading = false;
  #lastSeen = 0;
  #pinged = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;

  // `for await`: messages not yet taken, and who waits on whom.
  #iterating = false;
  // The loop's body runs with the message it took.
  #holding = false;
  // Data and close frames read while it runs (or behind those), their own
  // bytes, taken in order as the loop asks; pings are answered as they come.
  #ahead: Fifo<Frame> = new Fifo();
  #aheadBytes = 0;
  #draining = false;
  // A close is among them: nothing behind it is read. It waits for the
  // loop at most CLOSE_TIMEOUT_MS, then is taken all the same (#closeDue).
  #closeAhead = false;
  #closeDue = false;
  #closeWait: ReturnType<typeof setTimeout> | undefined;
  // How the connection ends once the frames read ahead are taken: the
  // client left, or sent a frame in error, behind them.
  #endAhead: (() => void) | null = null;
  // The bytes so far of the message whose frames are being read.
  #openBytes = 0;
  #failed = false;
  #readLoopDone: Promise<void> = Promise.resolve();
  #inbox: WebSocketMessage[] = [];
  #wakeConsumer: (() => void) | null = null;
  #wakeReader: (() => void) | null = null;

  /**
   * Made by `upgradeWebSocket`, after the handshake.
   *
   * @ignore
   */
  constructor(settings: WebSocketSettings) {
    super();
    this.#conn = settings.conn;
    this.#pool = settings.pool;
    this.protocol = settings.protocol;
    this.extensions = settings.extensions;
    this.url = settings.url;
    this.#deflate = settings.deflate;
    this.#maxMessageSize = settings.maxMessageSize;
    this.#message = new GrowingBytes(this.#maxMessageSize);
    this.#idleMs = settings.idleTimeout === null
      ? null
      : settings.idleTimeout * 1000;
    this.#reader = new FrameReader(
      settings.conn,
      settings.buffered,
      settings.maxMessageSize,
      settings.deflate !== null,
      () => this.#lastSeen = Date.now(),
    );
    // A handler or listener that throws or rejects is reported, never
    // uncaught: one careless line must not take the server down.
    this.#report = settings.reportError;
    for (const type of ["open", "message", "error", "close"]) {
      super.addEventListener(
        type,
        (event) => this.#call(this.#handlers[type] ?? null, event),
      );
    }
    const done = new Promise<void>((resolve) =>
      super.addEventListener("close", () => resolve(), { once: true })
    );
    settings.hold({
      done,
      shutdown: () => this.#close(1001, encoder.encode("Server shutting down")),
      // RFC 6455 §7.4.1: an unexpected condition ended the server's side.
      fail: () => this.#close(1011, encoder.encode("Internal Error")),
    });
    this.#openTimer = setTimeout(() => this.#open(), 0);
  }

  /**
   * Adds a listener, as on a web `WebSocket`; one that throws or rejects is
   * reported through the server's `handleError`, and the socket lives on.
   *
   * @param type `open`, `message`, `error` or `close`.
   * @param listener A function or an object with `handleEvent`.
   * @param options As for `EventTarget`.
   */
  override addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: ServerWebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Adds a listener for an event of any type, guarded the same way.
   *
   * @param type The event's type.
   * @param listener A function or an object with `handleEvent`.
   * @param options As for `EventTarget`.
   */
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    // No listener (null or undefined) is no error, as on any EventTarget.
    if (listener == null) return super.addEventListener(type, null, options);
    if (type === "message") this.#listened = true;
    const all = this.#guarded ??= new WeakMap();
    let guarded = all.get(listener);
    if (guarded === undefined) {
      guarded = (event) => this.#call(listener, event);
      all.set(listener, guarded);
    }
    super.addEventListener(type, guarded, options);
  }

  /**
   * Removes a listener {@linkcode addEventListener} added.
   *
   * @param type The event's type.
   * @param listener The listener as it was added.
   * @param options As for `EventTarget`.
   */
  override removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: ServerWebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  /**
   * Removes a listener of an event of any type.
   *
   * @param type The event's type.
   * @param listener The listener as it was added.
   * @param options As for `EventTarget`.
   */
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void {
    const guarded = listener == null ? null : this.#guarded?.get(listener);
    super.removeEventListener(type, guarded ?? listener, options);
  }

  /** Calls a handler or listener; what it throws or rejects is reported. */
  #call(
    listener: EventListenerOrEventListenerObject | WebSocketEventHandler<Event>,
    event: Event,
  ): void {
    try {
      const result = typeof listener === "function"
        ? listener.call(this, event)
        : listener?.handleEvent(event);
      if (result instanceof Promise) result.catch(this.#report);
    } catch (error) {
      this.#report(error);
    }
  }

  /** `CONNECTING`, `OPEN`, `CLOSING` or `CLOSED` (0–3). */
  get readyState(): number {
    return this.#state;
  }

  /** How binary messages are given to `message` events, as on Deno's server sockets. @default {"arraybuffer"} */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }

  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /**
   * Bytes given to {@linkcode send} and not yet taken by the socket, and,
   * as in browsers, those given once the close began (dropped).
   */
  get bufferedAmount(): number {
    return this.#buffered + this.#sentAfterClose;
  }

  /** Called when the socket opens. */
  get onopen(): WebSocketEventHandler<Event> {
    return this.#handlers.open ?? null;
  }
  set onopen(handler: WebSocketEventHandler<Event>) {
    this.#handlers.open = handler;
  }

  /**
   * Called with each message, as it comes: a promise the handler returns is
   * not awaited (as in browsers), so an async handler gets no backpressure;
   * `for await (const message of socket)` reads at most 1 MiB ahead of
   * the message its body holds.
   */
  get onmessage(): WebSocketEventHandler<MessageEvent> {
    return this.#handlers.message ?? null;
  }
  set onmessage(handler: WebSocketEventHandler<MessageEvent>) {
    if (handler != null) this.#listened = true;
    this.#handlers.message = handler as WebSocketEventHandler<Event>;
  }

  /** Called when the connection fails. */
  get onerror(): WebSocketEventHandler<Event> {
    return this.#handlers.error ?? null;
  }
  set onerror(handler: WebSocketEventHandler<Event>) {
    this.#handlers.error = handler;
  }

  /** Called once the socket is closed. */
  get onclose(): WebSocketEventHandler<CloseEvent> {
    return this.#handlers.close ?? null;
  }
  set onclose(handler: WebSocketEventHandler<CloseEvent>) {
    this.#handlers.close = handler as WebSocketEventHandler<Event>;
  }

  /**
   * Queues a message: a string as text, anything else as binary. It never
   * waits and sets no bound, as in browsers and the `ws` package: a handler
   * that sends on its own (a broadcast, a feed) to a client that reads
   * slowly holds what it sent, so it watches {@linkcode bufferedAmount}.
   * (An echo is bounded: past 1 MiB unsent, the socket stops reading.)
   *
   * @throws {DOMException} `InvalidStateError` while still `CONNECTING`.
   */
  send(data: WebSocketData): void {
    if (this.#state === CONNECTING) {
      throw new DOMException("The socket is not open yet", "InvalidStateError");
    }
    let opcode = OP_BINARY;
    let bytes: Uint8Array | Blob;
    if (typeof data === "string") {
      opcode = OP_TEXT;
      bytes = encoder.encode(data);
    } else if (data instanceof Blob) {
      bytes = data;
    } else if (data instanceof ArrayBuffer) {
      bytes = new Uint8Array(data.slice(0));
    } else if (ArrayBuffer.isView(data)) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        .slice();
    } else {
      opcode = OP_TEXT;
      bytes = encoder.encode(String(data));
    }
    const size = bytes instanceof Blob ? bytes.size : bytes.length;
    // As in browsers: after the close began, data is counted and dropped;
    // apart from #buffered, which pauses reading and would stall the close.
    if (this.#state !== OPEN) {
      this.#sentAfterClose += size;
      return;
    }
    this.#enqueue({ opcode, data: bytes, size });
  }

  /**
   * Starts the closing handshake.
   *
   * @param code A code a server may send (RFC 6455 §7.4): 1000–1003,
   *   1007–1014 (1001 going away, 1008 policy, 1011 internal error, 1013
   *   try again later…) or 3000–4999; a page's WebSocket takes fewer.
   * @param reason At most 123 bytes of UTF-8.
   * @throws {DOMException} `InvalidAccessError` for another code,
   *   `SyntaxError` for a longer reason.
   */
  close(code?: number, reason?: string): void {
    if (
      code !== undefined && !(Number.isInteger(code) && isValidCloseCode(code))
    ) {
      throw new DOMException(
        `Invalid close code ${code}`,
        "InvalidAccessError",
      );
    }
    const bytes = encoder.encode(reason ?? "");
    if (bytes.length > 123) {
      throw new DOMException("The close reason is too long", "SyntaxError");
    }
    // A reason alone goes with 1000, as a browser sends it.
    this.#close(code ?? (bytes.length > 0 ? 1000 : undefined), bytes);
  }

  /**
   * Yields each message. While the loop's body runs, the socket reads on
   * (pings are answered, a client that left is seen), up to 1 MiB of
   * frames ahead, and those wait until the loop asks for the next message:
   * what the body sends goes out before the answer to a close that came
   * behind its message (a close waits at most 5 s).
   *
   * @throws {TypeError} When another loop iterates the socket.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    if (this.#iterating) {
      throw new TypeError("Another loop iterates this socket already");
    }
    this.#iterating = true;
    try {
      while (true) {
        const message = this.#inbox.shift();
        if (message !== undefined) {
          this.#holding = true;
          yield message;
          this.#holding = false;
          this.#resume();
          continue;
        }
        if (this.#state === CLOSED) return;
        await new Promise<void>((resolve) => this.#wakeConsumer = resolve);
      }
    } finally {
      this.#iterating = false;
      this.#holding = false;
      this.#inbox.length = 0;
      this.#resume();
    }
  }

  /** Whether the next message must wait: the loop has not taken the last. */
  get #waitsForLoop(): boolean {
    return this.#state === OPEN && this.#iterating && !this.#closeDue &&
      (this.#holding || this.#inbox.length > 0);
  }

  /** Goes on with the frames read ahead, and with reading. */
  #resume(): void {
    if (this.#ahead.length > 0) this.#drain();
    this.#wake();
  }

  #wake(): void {
    const wake = this.#wakeReader;
    this.#wakeReader = null;
    wake?.();
  }

  // Starts the closing handshake; `code` unchecked (1001 on shutdown).
  #close(code: number | undefined, reason: Uint8Array): void {
    if (this.#state === CLOSING || this.#state === CLOSED) return;
    // Not open yet: the handshake is over, so the close can go at once.
    const opening = this.#state === CONNECTING;
    this.#state = CLOSING;
    this.#sendClose(code, reason);
    this.#limitClose(1006, "");
    this.#resume(); // what was read ahead goes on to the client's close
    if (opening) this.#readLoopDone = this.#readLoop();
  }

  /** Bounds the closing handshake: the connection closes by then. */
  #limitClose(code: number, reason: string): void {
    this.#closeTimer ??= setTimeout(
      () => this.#finish(code, reason, false),
      CLOSE_TIMEOUT_MS,
    );
  }

  #sendClose(code: number | undefined, reason: Uint8Array): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    let payload = new Uint8Array(0);
    if (code !== undefined) {
      payload = new Uint8Array(2 + reason.length);
      payload[0] = code >>> 8;
      payload[1] = code & 0xff;
      payload.set(reason, 2);
    }
    this.#enqueue({ opcode: OP_CLOSE, data: payload, size: 0 });
  }

  #open(): void {
    if (this.#state !== CONNECTING) return;
    this.#state = OPEN;
    this.dispatchEvent(new Event("open"));
    this.#lastSeen = Date.now();
    this.#armIdle(this.#idleMs);
    this.#readLoopDone = this.#readLoop();
  }

  // --- Reading ---------------------------------------------------------------

  async #readLoop(): Promise<void> {
    try {
      while (
        this.#state !== CLOSED && this.#closeReceived === null && !this.#failed
      ) {
        if (
          this.#closeAhead || this.#aheadBytes > READ_AHEAD ||
          (this.#state === OPEN && this.#backedUp)
        ) {
          // Backpressure: the loop has not taken what was read ahead, or
          // what was sent back is not written (a client that sends and
          // never reads: an onmessage echo would queue all it sends).
          await new Promise<void>((resolve) => this.#wakeReader = resolve);
          this.#lastSeen = Date.now();
          continue;
        }
        this.#reading = true;
        const next = this.#reader.next(this.#maxMessageSize - this.#openBytes);
        const frame = next instanceof Promise ? await next : next;
        this.#reading = false;
        if (this.#state === CLOSED || this.#failed) return;
        if (frame === null) {
          this.#endBehind(() => this.#finish(1006, "", false));
          return;
        }
        this.#lastSeen = Date.now();
        this.#pinged = false;
        if (frame.opcode < OP_CLOSE) {
          this.#openBytes = frame.fin
            ? 0
            : this.#openBytes + frame.payload.length;
        }
        if (
          frame.opcode <= OP_CLOSE &&
          (this.#draining || this.#ahead.length > 0 || this.#waitsForLoop)
        ) {
          this.#readAhead(frame);
          continue;
        }
        const taken = this.#take(frame);
        if (taken !== undefined) await taken;
      }
    } catch (error) {
      this.#reading = false;
      // Failed already (in the drain): #linger ends it, with that code.
      if (this.#failed) return;
      this.#endBehind(
        error instanceof WebSocketProtocolError
          ? () => this.#fail(error)
          : () => this.#finish(1006, "", false),
      );
    }
  }

  /**
   * Ends the connection by `end` once the frames read ahead are taken (the
   * loop gets what came before the client left), now if there are none.
   */
  #endBehind(end: () => void): void {
    if (this.#ahead.length === 0 && !this.#draining) return end();
    this.#endAhead ??= end;
    this.#closeDue = true; // what is left goes without waiting for the loop
    this.#drain();
  }

  /** Keeps a data or close frame that must wait for the loop. */
  #readAhead(frame: Frame): void {
    // A whole text may be a view of the reader's buffer (see Frame).
    if (frame.fin && frame.opcode === OP_TEXT && !frame.rsv1) {
      frame = { ...frame, payload: frame.payload.slice() };
    }
    this.#ahead.push(frame);
    this.#aheadBytes += frame.payload.length + QUEUED_FRAME_COST;
    if (frame.opcode === OP_CLOSE) {
      this.#closeAhead = true;
      this.#closeWait = setTimeout(() => {
        this.#closeDue = true;
        this.#drain();
      }, CLOSE_TIMEOUT_MS);
    }
    this.#drain();
  }

  /**
   * Takes the frames read ahead, in order, while the loop is not behind:
   * the one path for them, beside the reader's for frames that need not
   * wait, never both at once (the reader keeps a frame while this runs).
   */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (
        this.#ahead.length > 0 && this.#state !== CLOSED && !this.#failed &&
        !this.#waitsForLoop
      ) {
        const frame = this.#ahead.shift()!;
        this.#aheadBytes -= frame.payload.length + QUEUED_FRAME_COST;
        if (frame.opcode === OP_CLOSE) clearTimeout(this.#closeWait);
        const taken = this.#take(frame);
        if (taken !== undefined) await taken;
        this.#wake();
      }
    } catch (error) {
      if (error instanceof WebSocketProtocolError) this.#fail(error);
      else this.#finish(1006, "", false);
    } finally {
      this.#draining = false;
    }
    const end = this.#endAhead;
    if (end !== null && (this.#ahead.length === 0 || this.#state === CLOSED)) {
      this.#endAhead = null;
      if (!this.#failed) end();
    }
  }

  /** Acts on a frame read: a control frame at once, data into a message. */
  #take(frame: Frame): void | Promise<void> {
    if (frame.opcode >= OP_CLOSE) {
      this.#control(frame.opcode, frame.payload);
      return;
    }
    return this.#data(frame.fin, frame.rsv1, frame.opcode, frame.payload);
  }

  #control(opcode: number, payload: Uint8Array): void {
    if (opcode === OP_PING) {
      // Only the latest ping needs its pong (RFC 6455 §5.5.3): a client that
      // pings and never reads cannot grow the queue.
      if (this.#pong !== null) this.#pong.data = payload;
      else if (!this.#closeSent) {
        this.#pong = { opcode: OP_PONG, data: payload, size: 0 };
        this.#enqueue(this.#pong);
      }
      return;
    }
    if (opcode === OP_PONG) return;
    // Close.
    let code = 1005;
    let reason = "";
    if (payload.length === 1) {
      throw new WebSocketProtocolError(1002, "close payload of 1 byte");
    }
    if (payload.length >= 2) {
      code = (payload[0] << 8) | payload[1];
      if (!isValidCloseCode(code)) {
        throw new WebSocketProtocolError(1002, `invalid close code ${code}`);
      }
      try {
        reason = decodeUtf8(payload.subarray(2));
      } catch {
        throw new WebSocketProtocolError(1007, "close reason not UTF-8");
      }
    }
    this.#closeReceived = [code, reason];
    if (this.#state === OPEN) this.#state = CLOSING;
    // Echo the code; the server then closes the TCP connection first.
    this.#sendClose(
      code === 1005 ? undefined : code,
      payload.subarray(2),
    );
    this.#limitClose(code, reason);
    this.#afterSent(() => this.#finish(code, reason, true));
  }

  // A promise only for a compressed message, which inflates first.
  #data(
    fin: boolean,
    rsv1: boolean,
    opcode: number,
    payload: Uint8Array,
  ): void | Promise<void> {
    if (opcode === OP_CONTINUATION) {
      if (this.#opcode < 0) {
        throw new WebSocketProtocolError(1002, "continuation with no start");
      }
    } else {
      if (this.#opcode >= 0) {
        throw new WebSocketProtocolError(
          1002,
          "new message within a fragmented one",
        );
      }
      this.#opcode = opcode;
      this.#compressed = rsv1;
    }
    // A message of one frame is taken as it came: a payload of the reader's
    // own, or a text's view of the reader's buffer, decoded before it reads
    // on.
    if (fin && this.#message.length === 0 && !this.#compressed) {
      return this.#takeMessage(payload);
    }
    // The payloads of fragments are the reader's own, fresh for each frame.
    this.#message.append(payload, true);
    if (!fin) {
      if (this.#opcode === OP_TEXT && !this.#compressed) {
        this.#checkText(payload);
      }
      return;
    }
    const bytes = this.#message.view();
    if (!this.#compressed) return this.#takeMessage(bytes);
    return this.#deflate!.decompress(bytes).then((inflated) =>
      this.#takeMessage(inflated)
    );
  }

  /**
   * Fails a fragmented text as soon as its bytes cannot begin UTF-8 (RFC
   * 6455 §8.1), not at its end: the last fragment is decoded with the rest.
   * A compressed one is checked once inflated, at its end.
   */
  #checkText(payload: Uint8Array): void {
    const check = this.#textCheck ??= new TextDecoder("utf-8", {
      fatal: true,
    });
    try {
      check.decode(payload, { stream: true });
    } catch {
      throw new WebSocketProtocolError(1007, "text is not UTF-8");
    }
  }

  /** Ends the message of `bytes` (inflated) and delivers it. */
  #takeMessage(bytes: Uint8Array): void {
    let message: WebSocketMessage = bytes;
    if (this.#opcode === OP_TEXT) {
      try {
        message = decodeUtf8(bytes);
      } catch {
        throw new WebSocketProtocolError(1007, "text is not UTF-8");
      }
    }
    this.#opcode = -1;
    this.#compressed = false;
    this.#textCheck = null;
    this.#message.clear(); // not held between messages
    if (this.#state === OPEN) this.#deliver(message);
  }

  #deliver(message: WebSocketMessage): void {
    if (this.#listened) this.#dispatchMessage(message);
    if (this.#iterating) {
      this.#inbox.push(message);
      this.#wakeConsumer?.();
      this.#wakeConsumer = null;
    }
  }

  #dispatchMessage(message: WebSocketMessage): void {
    let data: string | ArrayBuffer | Blob;
    if (typeof message === "string") data = message;
    else if (this.#binaryType === "blob") {
      data = new Blob([message as Uint8Array<ArrayBuffer>]);
    } else {
      data = message.byteOffset === 0 &&
          message.byteLength === message.buffer.byteLength
        ? message.buffer as ArrayBuffer
        : message.slice().buffer;
    }
    this.dispatchEvent(new MessageEvent("message", { data }));
  }

  // --- Writing ---------------------------------------------------------------

  #enqueue(item: Outgoing): void {
    this.#buffered += item.size;
    this.#queue.push(item);
    if (!this.#sending) this.#pump();
  }

  /** Whether what waits to be written stops reading (see SEND_HIGH_WATER). */
  get #backedUp(): boolean {
    return this.#buffered + this.#queue.length * QUEUED_FRAME_COST >
      SEND_HIGH_WATER;
  }

  // Runs `then` once every queued frame is written.
  #afterSent(then: () => void): void {
    if (!this.#sending && this.#queue.length === 0) then();
    else this.#drained.push(then);
  }

  async #pump(): Promise<void> {
    this.#sending = true;
    this.#wrote = Date.now();
    try {
      while (this.#queue.length > 0 && this.#state !== CLOSED) {
        const item = this.#queue.shift()!;
        if (item === this.#pong) this.#pong = null;
        let payload = item.data instanceof Blob
          ? new Uint8Array(await item.data.arrayBuffer())
          : item.data;
        let rsv1 = false;
        if (this.#compresses(item.opcode, payload.length)) {
          payload = await this.#deflate!.compress(payload);
          rsv1 = true;
        }
        const length = headerLength(payload.length) + payload.length;
        let sent = item.size;
        if (length <= POOLED_FRAME) {
          // The frames queued behind it that need no more work go in the
          // same write while they fit: a burst of small messages costs one
          // syscall, not one each.
          let end = length;
          let more: Outgoing[] | null = null;
          while (true) {
            const next = this.#queue.peek();
            if (next === undefined || !this.#asQueued(next)) break;
            const size = headerLength(next.data.length) + next.data.length;
            if (end + size > POOLED_FRAME) break;
            this.#queue.shift();
            if (next === this.#pong) this.#pong = null;
            (more ??= []).push(next);
            end += size;
          }
          const kept = end <= KEPT_FRAME;
          const frame = kept
            ? this.#frameBuffer ??= new Uint8Array(KEPT_FRAME)
            : this.#pool.take(POOLED_FRAME);
          let at = writeHeader(frame, 0, item.opcode, payload.length, rsv1);
          frame.set(payload, at);
          at += payload.length;
          if (more !== null) {
            for (const next of more) {
              const bytes = next.data as Uint8Array;
              at = writeHeader(frame, at, next.opcode, bytes.length);
              frame.set(bytes, at);
              at += bytes.length;
              sent += next.size;
            }
          }
          try {
            await this.#write(frame.subarray(0, end));
          } finally {
            if (!kept) this.#pool.release(frame);
          }
        } else {
          await this.#write(frameHeader(item.opcode, payload.length, rsv1));
          await this.#write(payload);
        }
        this.#buffered -= sent;
        if (!this.#backedUp) this.#wake();
      }
    } catch {
      this.#finish(1006, "", false);
    } finally {
      this.#sending = false;
      const drained = this.#drained;
      this.#drained = [];
      for (const then of drained) then();
    }
  }

  /** Whether `item` goes out as it was queued: bytes, not compressed. */
  #asQueued(item: Outgoing): item is Outgoing & { data: Uint8Array } {
    return item.data instanceof Uint8Array &&
      !this.#compresses(item.opcode, item.data.length);
  }

  /** Whether a message of `length` bytes is compressed: data, past 1 KiB. */
  #compresses(opcode: number, length: number): boolean {
    return this.#deflate !== null && opcode < OP_CLOSE &&
      length >= COMPRESS_AT;
  }

  #write(bytes: Uint8Array): Promise<void> {
    return writeTo(this.#conn, bytes).then((n) => {
      if (!(n > 0)) throw wroteNothing();
      this.#wrote = Date.now();
      if (n < bytes.length) return this.#write(bytes.subarray(n));
    });
  }

  // --- Idle check and the end ------------------------------------------------

  #armIdle(ms: number | null): void {
    if (ms === null || this.#state === CLOSED) return;
    this.#idleTimer = setTimeout(() => this.#checkIdle(), ms);
  }

  #checkIdle(): void {
    const limit = this.#idleMs!;
    const now = Date.now();
    if (this.#sending && now - this.#wrote >= limit) {
      return this.#finish(1006, "", false);
    }
    // Paused for a slow consumer: the client is not the one silent.
    if (!this.#reading) this.#lastSeen = now;
    const silent = now - this.#lastSeen;
    if (silent < limit) return this.#armIdle(limit - silent);
    if (this.#pinged) {
      return this.#endBehind(() => this.#finish(1006, "", false));
    }
    this.#pinged = true;
    this.#lastSeen = now;
    if (!this.#closeSent) {
      this.#enqueue({ opcode: OP_PING, data: new Uint8Array(0), size: 0 });
    }
    this.#armIdle(limit);
  }

  /** Fails the connection: a close frame with the code, then the end. */
  #fail(error: WebSocketProtocolError): void {
    if (this.#state === CLOSED || this.#failed) return;
    this.#failed = true;
    this.#state = CLOSING;
    this.#wake(); // the reader stops
    this.#sendClose(error.code, encoder.encode(error.message.slice(0, 100)));
    this.#limitClose(error.code, error.message);
    this.#afterSent(() => this.#linger(error.code, error.message));
  }

  /**
   * Ends the sending side and reads until the client closes, so that bytes
   * it still sent do not turn the close into a reset before it read ours.
   */
  async #linger(code: number, reason: string): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch {
      return this.#finish(code, reason, false);
    }
    await this.#readLoopDone; // its read, if it was in one, comes first
    const sink = new Uint8Array(16384);
    try {
      // Until the end: null, or a 0 that a Deno.Conn-shaped object gave.
      while (this.#state !== CLOSED && (await this.#conn.read(sink) ?? 0) > 0) {
        // Dropped.
      }
    } catch {
      // Reset or closed: the end either way.
    }
    this.#finish(code, reason, false);
  }

  #finish(code: number, reason: string, wasClean: boolean): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    clearTimeout(this.#openTimer);
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#closeWait);
    this.#ahead.clear();
    this.#aheadBytes = 0;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
    this.#deflate?.close();
    this.#queue.clear();
    this.#pong = null;
    this.#wakeConsumer?.();
    this.#wakeConsumer = null;
    this.#wake();
    if (!wasClean) this.dispatchEvent(new Event("error"));
    this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean }));
  }
}
