// Copyright 2026 the basehttp authors. MIT license.
/**
 * Byte buffers pooled by size, one pool per server: a typed array costs far
 * more to allocate than a small request takes to serve, and freed memory
 * stays resident anyway.
 *
 * @module
 */

// Enough for the buffers in use at once; more are allocated and dropped.
const POOL_MAX = 64;
// And no more bytes than this of one size: a burst of large copies leaves
// 16 MiB of their buffers resident, not 64 of them.
const POOL_MAX_BYTES = 16 << 20;

/** Buffers of a few fixed sizes, reused. */
export class BufferPool {
  #free = new Map<number, Uint8Array[]>();
  // Buffers taken and not given back, by size.
  #out = new Map<number, number>();

  /** A buffer of exactly `size` bytes, reused when one is free. */
  take(size: number): Uint8Array;
  /**
   * A buffer of exactly `size` bytes, or `null` when `most` of them are out
   * already: what a large buffer buys is not worth its memory times every
   * connection.
   */
  take(size: number, most: number): Uint8Array | null;
  take(size: number, most = Infinity): Uint8Array | null {
    const out = this.#out.get(size) ?? 0;
    if (out >= most) return null;
    this.#out.set(size, out + 1);
    return this.#free.get(size)?.pop() ?? new Uint8Array(size);
  }

  /** Gives a buffer back; its bytes may be handed out again at once. */
  release(buf: Uint8Array): void {
    this.#out.set(
      buf.length,
      Math.max(0, (this.#out.get(buf.length) ?? 0) - 1),
    );
    let free = this.#free.get(buf.length);
    if (free === undefined) this.#free.set(buf.length, free = []);
    const room = Math.min(POOL_MAX, Math.floor(POOL_MAX_BYTES / buf.length));
    if (free.length < room) free.push(buf);
  }
}
