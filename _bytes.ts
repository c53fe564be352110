// Copyright 2026 the basehttp authors. MIT license.
/**
 * Byte helpers shared by the modules: joining parts, writing all of a
 * buffer, or a request body, to a connection.
 *
 * @module
 */

/** Carriage return, the first byte of a line end. */
export const CR = 0x0d;
/** Line feed, the byte a line ends with. */
export const LF = 0x0a;

const encoder = new TextEncoder();
const CRLF = new Uint8Array([CR, LF]);
// The last chunk of a chunked body, with no trailer.
const LAST_CHUNK = encoder.encode("0\r\n\r\n");

/**
 * Joins byte arrays into one; a single part is returned as it is.
 *
 * @param parts The parts, in order.
 * @param size Their total length, when the caller counted it.
 * @returns The bytes.
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  size: number = parts.reduce((n, part) => n + part.length, 0),
): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && parts[0].buffer instanceof ArrayBuffer) {
    return parts[0] as Uint8Array<ArrayBuffer>;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Bytes gathered into one buffer that doubles as it fills: however small
 * the pieces appended, it holds about their total, never an object or a
 * read buffer per piece.
 */
export class GrowingBytes {
  #buf: Uint8Array = EMPTY;
  readonly #max: number;
  /** The bytes appended so far. */
  length = 0;

  /** @param max The most bytes it is to hold: growth stops there. */
  constructor(max: number = Infinity) {
    this.#max = max;
  }

  /**
   * Adds `bytes`, copied; the first piece is kept as it is when `owned`
   * (the caller's to give, never written again), so one piece is never
   * copied.
   */
  append(bytes: Uint8Array, owned = false): void {
    const size = this.length + bytes.length;
    if (this.length === 0 && owned) {
      this.#buf = bytes;
    } else {
      if (size > this.#buf.length) {
        const room = Math.min(Math.max(this.#buf.length * 2, 1024), this.#max);
        const grown = new Uint8Array(Math.max(size, room));
        grown.set(this.#buf.subarray(0, this.length));
        this.#buf = grown;
      }
      this.#buf.set(bytes, this.length);
    }
    this.length = size;
  }

  /** The bytes, as a view of the buffer. */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }

  /** The bytes, in an array of their own length. */
  bytes(): Uint8Array<ArrayBuffer> {
    return this.length === this.#buf.length &&
        this.#buf.buffer instanceof ArrayBuffer
      ? this.#buf as Uint8Array<ArrayBuffer>
      : this.#buf.slice(0, this.length);
  }

  /** Lets go of the bytes, to gather anew. */
  clear(): void {
    this.#buf = EMPTY;
    this.length = 0;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Writes all of `data`: a socket write may take only part of it.
 *
 * @param conn Where to write.
 * @param data The bytes.
 */
export async function writeAll(
  conn: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  for (let n = 0; n < data.length;) n += await conn.write(data.subarray(n));
}

/**
 * Writes a request body as it comes: in HTTP/1.1 chunks ended by the last
 * chunk, or as it is (its length was declared).
 *
 * @param conn Where to write.
 * @param body The body's chunks.
 * @param chunked Whether to frame them as chunks.
 */
export async function writeBody(
  conn: { write(p: Uint8Array): Promise<number> },
  body: AsyncIterable<Uint8Array>,
  chunked: boolean,
): Promise<void> {
  for await (const chunk of body) {
    if (chunk.length === 0) continue;
    if (chunked) {
      await writeAll(conn, encoder.encode(`${chunk.length.toString(16)}\r\n`));
    }
    await writeAll(conn, chunk);
    if (chunked) await writeAll(conn, CRLF);
  }
  if (chunked) await writeAll(conn, LAST_CHUNK);
}
