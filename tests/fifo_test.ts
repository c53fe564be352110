// Copyright 2026 the basehttp authors. MIT license.
import assert from "node:assert/strict";
import { Fifo } from "../_fifo.ts";

Deno.test("Fifo gives its items in order, also across the compaction of a queue that never empties", () => {
  const fifo = new Fifo<number>();
  assert.equal(fifo.shift(), undefined);
  let pushed = 0;
  let taken = 0;
  // Two in, one out: the queue grows and its taken head is cut many times.
  for (let round = 0; round < 5000; round++) {
    fifo.push(pushed++);
    fifo.push(pushed++);
    assert.equal(fifo.shift(), taken++);
    assert.equal(fifo.length, pushed - taken);
  }
  while (fifo.length > 0) assert.equal(fifo.shift(), taken++);
  assert.equal(taken, pushed);
  assert.equal(fifo.shift(), undefined);
  fifo.push(1);
  fifo.push(2);
  fifo.clear();
  assert.equal(fifo.length, 0);
  assert.equal(fifo.shift(), undefined);
});
