// Copyright 2026 the basehttp authors. MIT license.
/**
 * WebSocket frames (RFC 6455 §5): reading a client's frames off a
 * connection, with every check of the base protocol, and the header of a
 * frame the server sends.
 *
 * @module
 */

/** Opcodes. */
export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** A failure of the peer: the close code that answers it. */
export class WebSocketProtocolError extends Error {
  /** The close code to send: 1002, 1007 or 1009. */
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.name = "WebSocketProtocolError";
    this.code = code;
  }
}

/** One frame, unmasked. */
export interface Frame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  /**
   * The frame's own bytes; but a whole uncompressed text message that came
   * whole is a view of the reader's buffer, good until the next `next()`.
   */
  payload: Uint8Array;
}

/** Whether a close frame may carry `code` (RFC 6455 §7.4, IANA registry). */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 &&
    code !== 1006) || (code >= 3000 && code <= 4999);
}

/** The length of the header of an unmasked frame of `length` bytes. */
export function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65536 ? 4 : 10;
}

/**
 * Writes the header of an unmasked frame of `length` payload bytes at `at`
 * in `target`, which has {@linkcode headerLength} bytes there for it.
 *
 * @returns Where the payload starts.
 */
export function writeHeader(
  target: Uint8Array,
  at: number,
  opcode: number,
  length: number,
  rsv1 = false,
): number {
  target[at] = 0x80 | (rsv1 ? 0x40 : 0) | opcode;
  if (length < 126) {
    target[at + 1] = length;
    return at + 2;
  }
  if (length < 65536) {
    target[at + 1] = 126;
    target[at + 2] = length >>> 8;
    target[at + 3] = length & 0xff;
    return at + 4;
  }
  target[at + 1] = 127;
  new DataView(target.buffer, target.byteOffset + at, 10)
    .setBigUint64(2, BigInt(length));
  return at + 10;
}

/** The header of an unmasked frame of `length` payload bytes. */
export function frameHeader(
  opcode: number,
  length: number,
  rsv1 = false,
): Uint8Array {
  const header = new Uint8Array(headerLength(length));
  writeHeader(header, 0, opcode, length, rsv1);
  return header;
}

const BUFFER = 16384;
// The first allocation for a payload longer than what is buffered.
const PIECE = 1 << 20;

/** What frames are read from: a `Deno.Conn`. */
export interface Source {
  read(p: Uint8Array): Promise<number | null>;
}

/** Reads client frames from a connection; one `next()` at a time. */
export class FrameReader {
  #conn: Source;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #maxPayload: number;
  #rsv1Allowed: boolean;
  #onBytes: () => void;
  // The mask of the frame being read: copied here, not sliced, per frame.
  readonly #mask = new Uint8Array(4);

  /**
   * @param conn Where the frames come from.
   * @param buffered Bytes already read past the handshake.
   * @param maxPayload The largest payload accepted (1009 above it).
   * @param rsv1Allowed Whether permessage-deflate was negotiated.
   * @param onBytes Called after each read that brought bytes: the peer is
   *   not silent, even within a long frame.
   */
  constructor(
    conn: Source,
    buffered: Uint8Array,
    maxPayload: number,
    rsv1Allowed: boolean,
    onBytes: () => void = () => {},
  ) {
    this.#conn = conn;
    this.#onBytes = onBytes;
    this.#buf = new Uint8Array(Math.max(BUFFER, buffered.length));
    this.#buf.set(buffered);
    this.#end = buffered.length;
    this.#maxPayload = maxPayload;
    this.#rsv1Allowed = rsv1Allowed;
  }

  /**
   * Reads the next frame: at once, with no await, when it is buffered
   * whole (most are: a client's frame comes in one read).
   *
   * @param payloadRoom The most payload bytes the current message may
   *   still take.
   * @returns The frame, or `null` at EOF between frames.
   * @throws {WebSocketProtocolError} For a frame the protocol forbids.
   */
  next(payloadRoom: number): Frame | Promise<Frame | null> {
    if (this.#end - this.#start < 2) return this.#read(payloadRoom);
    const size = this.#headerSize();
    if (this.#end - this.#start < size) return this.#read(payloadRoom);
    return this.#frame(size, payloadRoom);
  }

  /** Reads until a whole header is buffered; `null` at EOF between frames. */
  async #read(payloadRoom: number): Promise<Frame | null> {
    // The reads are here, not in a helper of their own: most frames wait
    // for one, and each async call is a frame more per message.
    let size = this.#end - this.#start >= 2 ? this.#headerSize() : 2;
    while (this.#end - this.#start < size) {
      if (this.#start > 0 && this.#buf.length - this.#start < size) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const read = await this.#conn.read(this.#buf.subarray(this.#end));
      if (read === null || !(read > 0)) { // 0 too: a read never repeats it
        if (this.#end === this.#start) return null;
        throw new Deno.errors.UnexpectedEof("EOF within a frame");
      }
      this.#end += read;
      this.#onBytes();
      if (size === 2 && this.#end - this.#start >= 2) size = this.#headerSize();
    }
    return this.#frame(size, payloadRoom);
  }

  /**
   * Checks the first two bytes of a buffered frame header, as soon as they
   * come.
   *
   * @returns The length of the whole header, mask included.
   */
  #headerSize(): number {
    const b0 = this.#buf[this.#start];
    const b1 = this.#buf[this.#start + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    if ((b0 & 0x30) !== 0) fail(1002, "reserved bits set");
    if (rsv1 && !this.#rsv1Allowed) fail(1002, "RSV1 set without an extension");
    if (opcode > OP_PONG || (opcode > OP_BINARY && opcode < OP_CLOSE)) {
      fail(1002, `reserved opcode ${opcode}`);
    }
    if ((b1 & 0x80) === 0) fail(1002, "unmasked client frame");
    const length = b1 & 0x7f;
    if (opcode >= OP_CLOSE) {
      if (!fin) fail(1002, "fragmented control frame");
      if (length > 125) fail(1002, "control frame over 125 bytes");
      if (rsv1) fail(1002, "RSV1 set on a control frame");
    } else if (rsv1 && opcode === OP_CONTINUATION) {
      fail(1002, "RSV1 set on a continuation frame");
    }
    return length === 126 ? 8 : length === 127 ? 14 : 6;
  }

  /** Takes the frame whose header of `size` bytes is buffered whole. */
  #frame(size: number, payloadRoom: number): Frame | Promise<Frame> {
    const buf = this.#buf;
    const start = this.#start;
    const b0 = buf[start];
    const opcode = b0 & 0x0f;
    let length = buf[start + 1] & 0x7f;
    if (size === 8) {
      length = (buf[start + 2] << 8) | buf[start + 3];
    } else if (size === 14) {
      const view = new DataView(buf.buffer, start + 2, 8);
      const high = view.getUint32(0);
      if (high >= 0x80000000) fail(1002, "payload length with its top bit set");
      length = high * 2 ** 32 + view.getUint32(4);
    }
    if (opcode < OP_CLOSE && length > Math.min(this.#maxPayload, payloadRoom)) {
      fail(1009, "message too big");
    }
    const mask = this.#mask;
    for (let i = 0; i < 4; i++) mask[i] = buf[start + size - 4 + i];
    this.#start = start + size;
    const have = Math.min(length, this.#end - this.#start);
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    if (have === length && fin && opcode === OP_TEXT && !rsv1) {
      // Decoded before the next read: unmasked where it lies, not copied.
      const payload = buf.subarray(this.#start, this.#start + length);
      this.#start += length;
      unmask(payload, mask);
      return { fin, rsv1, opcode, payload };
    }
    // Memory follows the bytes that came, not the length a header claims.
    const payload = new Uint8Array(Math.min(length, Math.max(have, PIECE)));
    payload.set(buf.subarray(this.#start, this.#start + have));
    this.#start += have;
    const frame = { fin, rsv1, opcode, payload };
    if (have === length) {
      unmask(payload, mask);
      return frame;
    }
    return this.#readPayload(frame, have, length);
  }

  /** Reads the rest of a large payload straight into it. */
  async #readPayload(
    frame: Frame,
    have: number,
    length: number,
  ): Promise<Frame> {
    for (let got = have; got < length;) {
      if (got === frame.payload.length) {
        const grown = new Uint8Array(
          Math.min(length, frame.payload.length * 2),
        );
        grown.set(frame.payload);
        frame.payload = grown;
      }
      const read = await this.#conn.read(frame.payload.subarray(got));
      if (read === null || !(read > 0)) {
        throw new Deno.errors.UnexpectedEof("EOF in a frame");
      }
      got += read;
      this.#onBytes();
    }
    unmask(frame.payload, this.#mask);
    return frame;
  }
}

function fail(code: number, message: string): never {
  throw new WebSocketProtocolError(code, message);
}

/** XORs `payload` with the 4-byte `mask`, four bytes at a time. */
function unmask(payload: Uint8Array, mask: Uint8Array): void {
  const length = payload.length;
  let i = 0;
  if (length >= 64) {
    // Bytes up to a word boundary, then words, the mask turned to match.
    const lead = (4 - (payload.byteOffset & 3)) & 3;
    for (; i < lead; i++) payload[i] ^= mask[i];
    const turned = new Uint8Array(4);
    for (let k = 0; k < 4; k++) turned[k] = mask[(lead + k) & 3];
    const key = new Uint32Array(turned.buffer)[0];
    const words = new Uint32Array(
      payload.buffer,
      payload.byteOffset + lead,
      (length - lead) >>> 2,
    );
    for (let w = 0; w < words.length; w++) words[w] ^= key;
    i = lead + words.length * 4;
  }
  for (; i < length; i++) payload[i] ^= mask[i & 3];
}
