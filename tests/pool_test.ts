// Copyright 2026 the basehttp authors. MIT license.
// The server's buffer pool: buffers of a size come back, at most so many of
// a size are out when the taker asks so, and what it keeps once a burst is
// over is bounded in count and in bytes.
import assert from "node:assert/strict";
import { BufferPool } from "../_pool.ts";

/** How many of `released` the pool gives out again, of `count` taken. */
function reused(pool: BufferPool, released: Uint8Array[], count: number) {
  const given = new Set(released);
  let again = 0;
  for (let i = 0; i < count; i++) {
    if (given.has(pool.take(released[0].length))) again++;
  }
  return again;
}

Deno.test("pool: a buffer given back is taken again, of its own size only", () => {
  const pool = new BufferPool();
  const buf = pool.take(4096);
  assert.equal(buf.length, 4096);
  pool.release(buf);
  assert.notEqual(pool.take(8192), buf);
  assert.equal(pool.take(4096), buf);
  assert.notEqual(pool.take(4096), buf);
});

Deno.test("pool: at most 64 buffers of a size are kept, and at most 16 MiB", () => {
  for (const [size, kept] of [[65536, 64], [262144, 64], [1 << 20, 16]]) {
    const pool = new BufferPool();
    const released = Array.from({ length: 100 }, () => pool.take(size));
    for (const buf of released) pool.release(buf);
    assert.equal(reused(pool, released, 100), kept, `${size}-byte buffers`);
  }
});

Deno.test("pool: take(size, most) gives null while most of that size are out", () => {
  const pool = new BufferPool();
  const out = Array.from({ length: 3 }, () => pool.take(1 << 20, 3));
  assert.ok(out.every((buf) => buf?.length === 1 << 20));
  assert.equal(pool.take(1 << 20, 3), null);
  assert.equal(pool.take(4096, 3)?.length, 4096); // another size is apart
  pool.release(out[0]!);
  assert.equal(pool.take(1 << 20, 3), out[0]);
  assert.equal(pool.take(1 << 20, 3), null);
  assert.equal(pool.take(1 << 20)?.length, 1 << 20); // no bound asked
});
