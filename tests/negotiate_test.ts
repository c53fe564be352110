// Copyright 2026 the basehttp authors. MIT license.
import assert from "node:assert/strict";
import { chooseEncoding, mediaQuality } from "../_negotiate.ts";
import { splitTokens } from "../_text.ts";

Deno.test("q-value lists: the first 256 elements count, however long the fields (a 1 MiB head of them took 55 ms)", () => {
  const filler = Array(300).fill("x-none;q=0.1").join(", ");
  assert.equal(chooseEncoding(["br", filler], ["gzip", "br"]), "br");
  // Past the bound, in the same field or the next: not read.
  assert.equal(chooseEncoding([`${filler}, br`], ["gzip", "br"]), "identity");
  assert.equal(chooseEncoding([filler, "br"], ["gzip", "br"]), "identity");
  assert.equal(mediaQuality([`${filler}, text/html`], "text/html"), 0);
  assert.equal(
    mediaQuality([filler.slice(0, 200), "text/html"], "text/html"),
    1,
  );
  // Other callers see every token.
  assert.equal(splitTokens([`${filler}, close`]).at(-1), "close");
  assert.deepEqual(splitTokens(["a, b", "", " ,c"], 3), ["a", "b"]);
});
