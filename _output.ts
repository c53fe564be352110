// Copyright 2026 the basehttp authors. MIT license.
/**
 * The response bytes queued for one connection, and how they reach the
 * socket.
 *
 * The life of a write:
 *
 * 1. `sendResponse` / `sendHeader` build the head in the engine as a list
 *    (the status line, then names and values); `endHeaders` settles the
 *    framing and queues the head here as Latin-1 ({@linkcode Output.head}),
 *    copied from the server's {@linkcode RecentHeads} when it repeats one.
 *    Nothing is written yet.
 * 2. `wfile.write(data)` frames the bytes (a chunk-size line when chunked)
 *    and queues a copy ({@linkcode Output.bytes}); a small response is then
 *    head and body in one buffer. A write of 16 KiB or more is not copied:
 *    what is queued goes first, then the data itself
 *    ({@linkcode Output.flush} with `extra`).
 * 3. The buffer is written once it holds 16 KiB, when the handler flushes,
 *    before the connection waits to read (the client may be waiting for
 *    this very response), by the deadline sweep (every 50 ms) while the
 *    handler waits on something else, and at the end of the request —
 *    unless the next pipelined request is already buffered: then the
 *    response is held to go out in one write with the next ones, until the
 *    next macrotask at the latest.
 * 4. Each flush takes the queued bytes at once and waits for the flush
 *    before it, so writes that nobody awaited still reach the socket in
 *    order. The buffer goes back to the server's pool after its write.
 * 5. A write that fails (the client went away) fails every flush after it;
 *    the connection then closes. Socket writes take at most 1 MiB each, and
 *    the deadline sweep closes a connection whose writes made no progress
 *    for writeTimeout: a slow reader that keeps reading is not cut, but a
 *    blocked write ends only once the kernel has room again (on Linux a
 *    third of the send buffer), so one slower than that a writeTimeout is.
 * 6. The access log counts the body bytes the socket took
 *    ({@linkcode Output.written} against the stream's
 *    {@linkcode Output.position}), not those the handler wrote.
 *
 * @module
 */

import type { BufferPool } from "./_pool.ts";
import { handled, RESOLVED } from "./_handled.ts";

/** Writes queued past this size go to the socket; larger writes go uncopied. */
export const FLUSH_AT = 16384;
// Most responses fit the small buffer, so a burst of connections touches
// 4 KiB each, not 32; larger ones move up.
const SMALL_OUTPUT = 4096;
const LARGE_OUTPUT = 2 * FLUSH_AT;
const encoder = new TextEncoder();

// The most bytes given to one socket write: progress is seen per write, so
// a client that reads a large buffer steadily is never taken for stalled.
const WRITE_PIECE = 1 << 20;

// The most heads a server keeps, and the longest: 1 MiB at most.
const MAX_HEADS = 1024;
const MAX_HEAD_LENGTH = 1024;

interface KeptHead {
  lines: readonly string[];
  /** The head's bytes: a view of `buffer`, made when they are kept. */
  bytes: Uint8Array;
  buffer: Uint8Array;
}

/**
 * The response heads a server's connections queued lately, and their bytes:
 * most responses repeat a head sent before (the same status and headers,
 * the same Date within a second), and comparing its strings and copying its
 * bytes costs less than joining and encoding them. A head with an ETag is
 * kept under it, as each file served repeats its own head; the last head
 * without one is kept too.
 */
export class RecentHeads {
  #heads = new Map<string, KeptHead>();

  /** The bytes of a head of these lines queued before, or `null`. */
  find(lines: readonly string[]): Uint8Array | null {
    const kept = this.#heads.get(etagField(lines));
    if (kept === undefined || !sameLines(lines, kept.lines)) return null;
    return kept.bytes;
  }

  /** Keeps the bytes of a head just queued; a long one is not kept. */
  keep(lines: readonly string[], bytes: Uint8Array): void {
    if (bytes.length > MAX_HEAD_LENGTH) return;
    const key = etagField(lines);
    let kept = this.#heads.get(key);
    if (kept === undefined) {
      if (this.#heads.size >= MAX_HEADS) {
        this.#heads.delete(this.#heads.keys().next().value!);
      }
      const buffer = new Uint8Array(bytes.length);
      kept = { lines, bytes: buffer, buffer };
      this.#heads.set(key, kept);
    } else if (kept.buffer.length < bytes.length) {
      kept.buffer = new Uint8Array(bytes.length);
    }
    kept.buffer.set(bytes);
    kept.bytes = kept.buffer.subarray(0, bytes.length);
    // The one head without an ETag is replaced at each miss; the others stay
    // for long, so they keep copies, not slices of the request heads whose
    // values a handler may have echoed.
    kept.lines = key === "" ? lines : lines.map(ownCopy);
  }
}

/** A flat copy of `text`, holding no longer string it was sliced from. */
function ownCopy(text: string): string {
  // V8 slices strings of 13 characters or more. JSON.parse makes a string of
  // its own; a slice of a concatenation would point into another, and cost
  // a second read in memory at each compare (about 150 ns a head of 1,000).
  return text.length < 13 ? text : JSON.parse(JSON.stringify(text));
}

/** The value of a head's ETag field, or "" for none. */
function etagField(lines: readonly string[]): string {
  for (let i = 1; i < lines.length; i += 2) {
    const name = lines[i];
    if (
      name.length === 4 && (name === "ETag" || name.toLowerCase() === "etag")
    ) {
      return lines[i + 1];
    }
  }
  return "";
}

/** Whether two heads are the same strings, in the same order. */
function sameLines(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Response bytes queued for one connection: one socket write per flush. */
export class Output {
  #conn: Deno.Conn;
  #pool: BufferPool;
  #buf: Uint8Array | null = null;
  // The latest flush, which the next one waits for; null once all are done.
  #last: Promise<void> | null = null;
  /** Bytes queued. */
  length = 0;
  /** Flushes begun, and ended (written or failed). */
  begun = 0;
  ended = 0;
  // Socket writes completed; the count stalled() last saw, and since when.
  #progress = 0;
  #seen = -1;
  #seenSince = 0;
  /** Bytes the socket took, of all flushed so far. */
  written = 0;
  // Bytes taken into flushes, so that position counts the whole stream.
  #taken = 0;
  /** The first write error, once a flush has failed. */
  error: unknown = null;

  constructor(conn: Deno.Conn, pool: BufferPool) {
    this.#conn = conn;
    this.#pool = pool;
  }

  #room(n: number): Uint8Array {
    let buf = this.#buf ??= this.#pool.take(SMALL_OUTPUT);
    const need = this.length + n;
    if (need > buf.length) {
      const bigger = need <= LARGE_OUTPUT
        ? this.#pool.take(LARGE_OUTPUT)
        : new Uint8Array(Math.max(2 * buf.length, need));
      bigger.set(buf.subarray(0, this.length));
      this.#release(buf); // nothing of it is in flight: flush() takes #buf
      this.#buf = buf = bigger;
    }
    return buf;
  }

  #release(buf: Uint8Array): void {
    if (buf.length === SMALL_OUTPUT || buf.length === LARGE_OUTPUT) {
      this.#pool.release(buf);
    }
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

  /**
   * Queues a response head: its status line, then `name: value` lines, then
   * the blank line, as Latin-1; copied from `recent` when it was queued
   * before.
   */
  head(lines: readonly string[], recent: RecentHeads): void {
    const known = recent.find(lines);
    if (known !== null) return this.bytes(known);
    let text = lines[0];
    for (let i = 1; i < lines.length; i += 2) {
      text += `${lines[i]}: ${lines[i + 1]}\r\n`;
    }
    const at = this.length;
    this.text(text + "\r\n");
    recent.keep(lines, this.#buf!.subarray(at, this.length));
  }

  /** Queues a copy of `bytes`. */
  bytes(bytes: Uint8Array): void {
    this.#room(bytes.length).set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Bytes queued since the connection began: where the next byte goes. */
  get position(): number {
    return this.#taken + this.length;
  }

  /** Takes out what was queued from `position` on (a copy). */
  cut(position: number): Uint8Array {
    const at = position - this.#taken;
    const bytes = this.#buf?.slice(at, this.length) ?? new Uint8Array(0);
    this.length = at;
    return bytes;
  }

  /** Drops what was queued after `length` bytes. */
  truncate(length: number): void {
    this.length = length;
  }

  /** Bytes taken into flushes that the socket has not taken yet. */
  get unwritten(): number {
    return this.#taken - this.written;
  }

  /** Whether a flush is still being written. */
  get writing(): boolean {
    return this.ended !== this.begun;
  }

  /**
   * Whether a flush has been written with no progress for `limit` ms or
   * longer by `now`: counted from the first call that sees none, so that
   * no write arms a timer of its own (the deadline sweep calls it).
   */
  stalled(now: number, limit: number): boolean {
    if (!this.writing) return false;
    if (this.#seen !== this.#progress) {
      this.#seen = this.#progress;
      this.#seenSince = now;
      return false;
    }
    return now - this.#seenSince >= limit;
  }

  /**
   * Writes everything queued, then `extra` (uncopied), and frees the buffer.
   * The queued bytes are taken now, and each flush waits for the one before.
   */
  flush(extra?: Uint8Array): Promise<void> {
    const buf = this.#buf;
    const length = this.length;
    if ((buf === null || length === 0) && extra === undefined) {
      return this.#last ?? RESOLVED;
    }
    this.#buf = null;
    this.length = 0;
    this.#taken += length + (extra?.length ?? 0);
    if (this.#last === null && extra === undefined && buf !== null) {
      return this.#last = handled(this.#writeNow(buf, length));
    }
    return this.#last = handled(this.#write(this.#last, buf, length, extra));
  }

  // The common flush, one buffer and none before it: no async call.
  #writeNow(buf: Uint8Array, length: number): Promise<void> {
    this.begun++;
    if (this.error !== null) {
      this.#wrote(buf);
      return Promise.reject(this.error);
    }
    // The flush ends in the then of its last socket write, nearly always
    // its only one: no then chained after it.
    return this.#writeAll(buf.subarray(0, length), buf, (error) => {
      this.error ??= error;
      this.#wrote(buf);
      throw error;
    });
  }

  /** A flush ended, written or failed: its buffer goes back, it is counted. */
  #wrote(buf: Uint8Array | null): void {
    if (buf !== null) this.#release(buf);
    if (++this.ended === this.begun) this.#last = null;
  }

  /** Writes the first `count` bytes queued; the rest stay queued. */
  flushFirst(count: number): Promise<void> {
    const buf = this.#buf;
    const length = this.length;
    if (buf === null || count >= length) return this.flush();
    this.#buf = null;
    this.length = 0;
    this.#taken += count;
    this.bytes(buf.subarray(count, length)); // copied before buf is reused
    return this.#last = handled(this.#write(this.#last, buf, count, undefined));
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
      if (this.error !== null) throw this.error;
      if (buf !== null && length > 0) {
        await this.#writeAll(buf.subarray(0, length));
      }
      if (extra !== undefined) await this.#writeAll(extra);
    } catch (error) {
      this.error ??= error;
      throw error;
    } finally {
      this.#wrote(buf);
    }
  }

  /**
   * Writes all of `bytes`, a piece at a time (`write` may take only part),
   * then ends the flush of `flushed`, if given; a write that fails goes to
   * `failed`, if given.
   */
  #writeAll(
    bytes: Uint8Array,
    flushed: Uint8Array | null = null,
    failed?: (error: unknown) => never,
  ): Promise<void> {
    const piece = bytes.length > WRITE_PIECE
      ? bytes.subarray(0, WRITE_PIECE)
      : bytes;
    return writeTo(this.#conn, piece).then((n) => {
      if (!(n > 0)) {
        if (failed === undefined) throw wroteNothing();
        failed(wroteNothing());
      }
      this.written += n;
      this.#progress++;
      if (n < bytes.length) {
        return this.#writeAll(bytes.subarray(n), flushed, failed);
      }
      if (flushed !== null) this.#wrote(flushed);
    }, failed);
  }
}

/**
 * Starts `conn.write(bytes)`; a Deno.Conn-shaped object's throw becomes the
 * rejection, so that the caller has one failure to handle.
 */
export function writeTo(conn: Deno.Conn, bytes: Uint8Array): Promise<number> {
  try {
    return conn.write(bytes);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * The failure of a write that took no bytes, as Rust's `write_all` fails:
 * written again, it would never end.
 */
export function wroteNothing(): Error {
  return new Deno.errors.WriteZero("The write took no bytes");
}
