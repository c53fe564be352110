// Copyright 2026 the basehttp authors. MIT license.
/**
 * The client side of a WebSocket for the testing module: masked frames out,
 * the server's frames in, over a connection that has had its 101. Exported
 * from `testing.ts`, which makes it.
 *
 * @module
 */

import { concatBytes, writeAll } from "./_bytes.ts";
import { handled } from "./_handled.ts";
import {
  isValidCloseCode,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  writeHeader,
} from "./_websocket_frame.ts";

const encoder = new TextEncoder();
const fatal = new TextDecoder("utf-8", { fatal: true });

/** The two ends of the connection a {@linkcode TestWebSocket} speaks over. */
export interface TestWebSocketConn {
  /** Reads what the server wrote; `null` once it closed. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes to the server. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the connection. */
  close(): void;
}

/** How a {@linkcode TestWebSocket} closed. */
export interface TestWebSocketClose {
  /** The code the server's close frame held: 1005 for none, 1006 for no frame. */
  code: number;
  /** The reason it held. */
  reason: string;
}

/**
 * A WebSocket client for a handler under test, made by `TestClient`'s
 * `webSocket()`: it reads all along, as a browser's does (pings are
 * answered, messages are kept in order), {@linkcode TestWebSocket.next}
 * takes them one at a time, and closing waits for the server's close.
 *
 * @example Echo
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler } from "@basehttp/server";
 * import { testClient } from "@basehttp/server/testing";
 *
 * class Echo extends BaseHTTPRequestHandler {
 *   override protocolVersion = "HTTP/1.1";
 *   async do_GET(): Promise<void> {
 *     const socket = await this.upgradeWebSocket();
 *     socket.onmessage = (event) => socket.send(event.data);
 *   }
 * }
 *
 * await using client = testClient(Echo);
 * await using ws = await client.webSocket("/");
 * await ws.send("hi");
 * assert.equal(await ws.next(), "hi");
 * assert.deepEqual(await ws.close(), { code: 1000, reason: "" });
 * ```
 */
export class TestWebSocket implements AsyncDisposable {
  /** The subprotocol the server chose, or `""`. */
  readonly protocol: string;
  #conn: TestWebSocketConn;
  #buf: Uint8Array;
  #closeSent = false;
  #closed: TestWebSocketClose | null = null;
  // Messages read and not yet taken; what broke the reading.
  #inbox: (string | Uint8Array)[] = [];
  #failure: TypeError | null = null;
  #arrived: PromiseWithResolvers<void> | null = null;
  #reading: Promise<void>;
  #maxMessageSize: number;
  // Frames go out one after another, whoever sends them.
  #writing: Promise<void> = Promise.resolve();

  /**
   * Made by `TestClient`'s `webSocket()`, once the 101 is in.
   *
   * @ignore
   */
  constructor(
    conn: TestWebSocketConn,
    buffered: Uint8Array,
    protocol: string,
    maxMessageSize: number,
  ) {
    this.#conn = conn;
    this.#maxMessageSize = maxMessageSize;
    this.#buf = buffered;
    this.protocol = protocol;
    // Read all along, as a browser does: pings are answered while the
    // test does something else.
    this.#reading = this.#readAll().catch((error) => {
      this.#failure = error instanceof TypeError ? error : new TypeError(
        "The WebSocket connection failed",
        { cause: error },
      );
      this.#end({ code: 1006, reason: "" });
    }).finally(() => this.#wake());
  }

  /** How the socket closed, once it has; `null` while it is open. */
  get closed(): TestWebSocketClose | null {
    return this.#closed;
  }

  /**
   * Sends one message in one masked frame. Frames go out in the order they
   * were sent, so a send need not be awaited (a failure then is not an
   * unhandled rejection).
   *
   * @param data Text, or bytes (a binary message).
   * @returns A promise that resolves once the frame is written, and
   *   rejects with a TypeError once a close was sent or received, or with
   *   the connection's error.
   */
  send(data: string | Uint8Array): Promise<void> {
    if (this.#closeSent || this.#closed !== null) {
      return handled(
        Promise.reject(new TypeError("The WebSocket is closing or closed")),
      );
    }
    const text = typeof data === "string";
    return handled(
      this.#frame(
        text ? OP_TEXT : OP_BINARY,
        text ? encoder.encode(data) : data,
      ),
    );
  }

  /**
   * The next message the server sent, in order: text as a string, binary
   * as bytes.
   *
   * @returns The message, or `null` once the socket is closed and every
   *   message was taken (see {@linkcode closed}).
   * @throws {TypeError} When the server broke the protocol (a masked frame,
   *   reserved bits or opcodes, a bad control frame or close code, text
   *   that is not UTF-8) or sent a message over the `maxMessageSize` of
   *   `webSocket()`. A connection that ends within a message, or with
   *   no close frame, is a close with code 1006.
   */
  async next(): Promise<string | Uint8Array | null> {
    for (;;) {
      const message = this.#inbox.shift();
      if (message !== undefined) return message;
      if (this.#failure !== null) throw this.#failure;
      if (this.#closed !== null) return null;
      await (this.#arrived ??= Promise.withResolvers()).promise;
    }
  }

  /**
   * Starts the closing handshake and waits for the server's close (as long
   * as it takes: a server that never answers holds it).
   *
   * @param code The close code: 1000, or 3000 to 4999, as a web
   *   WebSocket's. @default {1000}
   * @param reason The reason, at most 123 bytes as UTF-8. @default {""}
   * @returns How the socket closed.
   * @throws {RangeError} For another code, or a longer reason.
   */
  async close(code = 1000, reason = ""): Promise<TestWebSocketClose> {
    const text = encoder.encode(reason);
    if (
      code !== 1000 && !(Number.isInteger(code) && code >= 3000 && code <= 4999)
    ) {
      throw new RangeError(`A close code is 1000 or 3000 to 4999, not ${code}`);
    }
    if (text.length > 123) {
      throw new RangeError("A close reason is at most 123 bytes as UTF-8");
    }
    if (this.#closed === null && !this.#closeSent) {
      const payload = new Uint8Array(2 + text.length);
      payload[0] = code >>> 8;
      payload[1] = code & 0xff;
      payload.set(text, 2);
      this.#closeSent = true;
      await this.#frame(OP_CLOSE, payload).catch(() => {});
    }
    await this.#reading;
    return this.#closed ?? { code: 1006, reason: "" };
  }

  /** Closes the connection at once, without a handshake. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#end({ code: 1006, reason: "" });
    await this.#reading;
  }

  async #readAll(): Promise<void> {
    let opcode = -1;
    const parts: Uint8Array[] = [];
    let size = 0; // of the message's frames so far
    while (this.#closed === null) {
      const frame = await this.#read(this.#maxMessageSize - size);
      if (frame === null) return this.#end({ code: 1006, reason: "" });
      const [fin, op, payload] = frame;
      if (op > OP_PONG || (op > OP_BINARY && op < OP_CLOSE)) {
        throw new TypeError(`The server sent a reserved opcode (${op})`);
      }
      if (op >= OP_CLOSE && !fin) {
        throw new TypeError("The server sent a fragmented control frame");
      }
      if (op === OP_PING) {
        // A pong that cannot go out (the server is gone) leaves what came.
        if (!this.#closeSent) {
          await this.#frame(OP_PONG, payload).catch(() => {});
        }
      } else if (op === OP_CLOSE) {
        return await this.#closeReceived(payload);
      } else if (op === OP_PONG) {
        // Unasked for: ignored.
      } else if ((op === OP_CONTINUATION) !== (opcode !== -1)) {
        throw new TypeError(`Unexpected frame (opcode ${op}) from the server`);
      } else {
        if (op !== OP_CONTINUATION) opcode = op;
        parts.push(payload);
        size += payload.length;
        if (!fin) continue;
        size = 0;
        const message = concatBytes(parts.splice(0));
        const binary = opcode === OP_BINARY;
        opcode = -1;
        try {
          this.#inbox.push(binary ? message : fatal.decode(message));
        } catch {
          throw new TypeError("The server sent text that is not UTF-8");
        }
        this.#wake();
      }
    }
  }

  #wake(): void {
    this.#arrived?.resolve();
    this.#arrived = null;
  }

  async #closeReceived(payload: Uint8Array): Promise<void> {
    let close = { code: 1005, reason: "" };
    if (payload.length > 0) {
      const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 0;
      if (!isValidCloseCode(code)) {
        throw new TypeError(
          `The server's close frame has a bad code (${code})`,
        );
      }
      try {
        close = { code, reason: fatal.decode(payload.subarray(2)) };
      } catch {
        throw new TypeError("The server's close reason is not UTF-8");
      }
    }
    if (!this.#closeSent) {
      this.#closeSent = true;
      await this.#frame(OP_CLOSE, payload.subarray(0, 2)).catch(() => {});
    }
    // What is queued (our close among it) goes out before the connection
    // does; the server reads on until it has our close, or its own limit.
    await this.#writing;
    this.#end(close);
  }

  #end(close: TestWebSocketClose): void {
    this.#closed ??= close;
    this.#conn.close();
    this.#wake();
  }

  /** Writes one masked frame (RFC 6455 §5.3: every client frame is), in turn. */
  #frame(opcode: number, payload: Uint8Array): Promise<void> {
    const length = payload.length;
    const frame = new Uint8Array(14 + length);
    const at = writeHeader(frame, 0, opcode, length);
    frame[1] |= 0x80;
    const mask = crypto.getRandomValues(new Uint8Array(4));
    frame.set(mask, at);
    for (let i = 0; i < length; i++) {
      frame[at + 4 + i] = payload[i] ^ mask[i & 3];
    }
    const written = this.#writing.then(() =>
      writeAll(this.#conn, frame.subarray(0, at + 4 + length))
    );
    this.#writing = written.catch(() => {});
    return written;
  }

  /**
   * The next frame, or `null` at the end of the connection; one whose
   * length is over `room` is not read.
   */
  async #read(room: number): Promise<[boolean, number, Uint8Array] | null> {
    if (!(await this.#need(2))) return null;
    const b0 = this.#buf[0];
    const b1 = this.#buf[1];
    if ((b0 & 0x70) !== 0) {
      throw new TypeError("The server set reserved bits (no extension)");
    }
    if ((b1 & 0x80) !== 0) throw new TypeError("The server masked a frame");
    let length = b1 & 0x7f;
    let start = 2;
    if (length === 126) {
      if (!(await this.#need(4))) return null;
      length = (this.#buf[2] << 8) | this.#buf[3];
      start = 4;
    } else if (length === 127) {
      if (!(await this.#need(10))) return null;
      length = Number(
        new DataView(this.#buf.buffer, this.#buf.byteOffset).getBigUint64(2),
      );
      start = 10;
    }
    if ((b0 & 0x08) !== 0 && length > 125) {
      throw new TypeError("The server sent a control frame over 125 bytes");
    }
    if ((b0 & 0x08) === 0 && length > room) {
      throw new TypeError(
        `The server sent a message over maxMessageSize (${this.#maxMessageSize} bytes)`,
      );
    }
    if (!(await this.#need(start + length))) return null;
    const payload = this.#buf.slice(start, start + length);
    this.#buf = this.#buf.subarray(start + length);
    return [(b0 & 0x80) !== 0, b0 & 0x0f, payload];
  }

  /** Whether `n` bytes are buffered, reading for them; `false` at the end. */
  async #need(n: number): Promise<boolean> {
    if (this.#buf.length >= n) return true;
    // One buffer for all of it, read into: a large frame is not copied
    // again with each read.
    const buf = new Uint8Array(Math.max(n, this.#buf.length + 65536));
    buf.set(this.#buf);
    let filled = this.#buf.length;
    while (filled < n) {
      const read = await this.#conn.read(buf.subarray(filled));
      if (read === null) return false;
      filled += read;
    }
    this.#buf = buf.subarray(0, filled);
    return true;
  }
}
