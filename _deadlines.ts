// Copyright 2026 the basehttp authors. MIT license.
/**
 * One server's deadline sweep: its connections' deadlines are checked by one
 * interval over them, rather than by a timer each, so that arming a deadline
 * is an assignment and an idle connection holds no timer.
 *
 * @module
 */

/** How often deadlines are checked; their resolution, in milliseconds. */
const SWEEP_MS = 50;

/** What the sweep checks. */
interface Expiring {
  /** Acts on a deadline that has passed by `now` (ms since the epoch). */
  expire(now: number): void;
}

/** The sweep, keyed by connection: runs while it has something to check. */
export class DeadlineSweep<K, T extends Expiring> {
  readonly #live = new Map<K, T>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** The entries being checked. */
  get size(): number {
    return this.#live.size;
  }

  /** Starts checking `entry`, found again by `key`. */
  add(key: K, entry: T): void {
    this.#live.set(key, entry);
    // Not unref'd: a connection being served is work to wait for, also
    // when nothing but this timer is pending (an in-memory connection).
    this.#timer ??= setInterval(() => this.#sweep(), SWEEP_MS);
  }

  /** The entry of `key`, if it is checked. */
  get(key: K): T | undefined {
    return this.#live.get(key);
  }

  /** Stops checking the entry of `key`; the interval ends with the last one. */
  delete(key: K): void {
    if (!this.#live.delete(key) || this.#live.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Every entry, in the order added. */
  values(): IterableIterator<T> {
    return this.#live.values();
  }

  #sweep(): void {
    const now = Date.now();
    for (const entry of this.#live.values()) entry.expire(now);
  }
}
