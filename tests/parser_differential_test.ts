// Copyright 2026 the basehttp authors. MIT license.
// Differential tests of the head parsers. The one-pass scanner (behind
// parseRequestHead and BufferedReader.takeHead) is a fast path: whatever it
// accepts, the careful parser (parseIrregularHead) must accept the same way.
// And a BufferedReader, however the bytes arrive, must give the head the
// careful parser gives for the bytes up to the first empty line (after any
// empty lines before the request line), or an HTTPError of the same status;
// only a first byte that cannot begin a method, and then a line over a
// limit, are refused first, as soon as they are read (see overLimit).
// Inputs: the valid heads of the conformance table and a few more, split at
// every point, and 100,000 mutations of them from a fixed seed, with the
// default limits and the conformance table's small ones.
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import {
  BufferedReader,
  DEFAULT_LIMITS,
  HTTPError,
  parseRequestHead,
  type Reader,
  type RequestHead,
  type RequestLimits,
} from "../parser.ts";
import { parseIrregularHead } from "../_head.ts";
import { CASES, SMALL_LIMITS } from "./conformance_cases.ts";
import { mulberry32 } from "./_util.ts";

const SEED = 20261201;
const MUTANTS = 100_000;

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function textOf(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** Asserts `got` equals `want`; the message is made only on a failure. */
function same(got: unknown, want: unknown, message: () => string): void {
  if (!isDeepStrictEqual(got, want)) assert.deepEqual(got, want, message());
}

function quote(bytes: Uint8Array): string {
  return JSON.stringify(textOf(bytes));
}

// --- Outcomes ---------------------------------------------------------------

/** Everything a head says, with lookups through the HTTPMessage API. */
interface Summary {
  requestline: string;
  command: string;
  target: string;
  version: string;
  minor: number;
  fields: [string, string][];
  size: number;
  /** For each name present: getAll() and get() of it in another case. */
  lookups: [string, string[], string | null][];
  contentLength: number | null;
  chunked: boolean;
}

/** A head, a refusal (with its status), or `null` for no request at all. */
type Outcome = { head: Summary } | { status: number; message: string } | null;

function summary(head: RequestHead): Summary {
  const fields = head.headers.items();
  const names = [...new Set(fields.map(([name]) => name.toLowerCase()))];
  return {
    requestline: head.requestline,
    command: head.command,
    target: head.target,
    version: head.version,
    minor: head.minor,
    fields,
    size: head.headers.size,
    lookups: names.map((name) => [
      name,
      head.headers.getAll(name.toUpperCase()),
      head.headers.get(name),
    ]),
    contentLength: head.contentLength,
    chunked: head.chunked,
  };
}

function refusal(error: unknown): Outcome {
  if (error instanceof HTTPError) {
    return { status: error.status, message: error.message };
  }
  throw error; // anything else is a bug in the parser
}

function outcome(parse: () => RequestHead | null): Outcome {
  try {
    const head = parse();
    return head === null ? null : { head: summary(head) };
  } catch (error) {
    return refusal(error);
  }
}

async function outcomeAsync(
  parse: () => Promise<RequestHead | null>,
): Promise<Outcome> {
  try {
    const head = await parse();
    return head === null ? null : { head: summary(head) };
  } catch (error) {
    return refusal(error);
  }
}

/** The outcome without the message: readers may word a refusal otherwise. */
function statusOnly(o: Outcome): Outcome {
  return o !== null && "status" in o ? { status: o.status, message: "" } : o;
}

function accepted(o: Outcome): boolean {
  return o !== null && "head" in o;
}

/** Where the head in `bytes` is, framed as RFC 9112 §2.2 says. */
interface Framing {
  /** After the empty lines before the request line. */
  start: number;
  /** After the empty line that ends the head; -1 when there is none. */
  end: number;
}

function isEmptyLine(bytes: Uint8Array, from: number, lf: number): boolean {
  return lf === from || (lf === from + 1 && bytes[from] === 13);
}

function frame(bytes: Uint8Array): Framing {
  let start = 0;
  while (true) {
    const lf = bytes.indexOf(10, start);
    if (lf === -1 || !isEmptyLine(bytes, start, lf)) break;
    start = lf + 1;
  }
  let at = start;
  while (at < bytes.length) {
    const lf = bytes.indexOf(10, at);
    if (lf === -1) break;
    if (at !== start && isEmptyLine(bytes, at, lf)) {
      return { start, end: lf + 1 };
    }
    at = lf + 1;
  }
  return { start, end: -1 };
}

/** The careful parser's outcome for a head, as parseRequestHead frames it. */
function careful(head: Uint8Array, limits: Readonly<RequestLimits>): Outcome {
  if (head.length > limits.maxHeadBytes) {
    return { status: 431, message: "Request head too large" };
  }
  return outcome(() => parseIrregularHead(head, limits));
}

/**
 * The status for the first line over a limit, lines taken in order as a
 * stream brings them: a reader refuses that line before it reads what
 * follows, so this outranks whatever the careful parser would find later
 * (Python's order too). A line without its end counts as far as it goes.
 */
function overLimit(
  bytes: Uint8Array,
  { start, end }: Framing,
  limits: Readonly<RequestLimits>,
): number | null {
  const stop = end === -1 ? bytes.length : end;
  let index = 0;
  let at = start;
  while (at < stop) {
    const lf = bytes.indexOf(10, at);
    const whole = lf !== -1 && lf < stop;
    if (whole && index > 0 && isEmptyLine(bytes, at, lf)) break;
    const length = (whole ? lf + 1 : stop) - at;
    if (index === 0 && length > limits.maxRequestLine) return 414;
    if (index > 0 && length > limits.maxHeaderLine) return 431;
    if (whole && index > limits.maxHeaders) return 431;
    index++;
    at += length;
  }
  return null;
}

/** What a reader must make of `bytes`, the careful parser's outcome. */
function expected(bytes: Uint8Array, limits: Readonly<RequestLimits>): {
  outcome: Outcome;
  /** The bytes a reader leaves after the head. */
  rest: Uint8Array;
} {
  const framing = frame(bytes);
  const { start, end } = framing;
  const none = bytes.subarray(0, 0);
  if (start === bytes.length) return { outcome: null, rest: none };
  // A first byte that cannot begin a method is refused before anything.
  if (
    bytes[start] !== 13 &&
    !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/.test(String.fromCharCode(bytes[start]))
  ) {
    return { outcome: { status: 400, message: "" }, rest: none };
  }
  const over = overLimit(bytes, framing, limits);
  if (over !== null) {
    return { outcome: { status: over, message: "" }, rest: none };
  }
  if (end === -1) {
    // Cut off: too large once it is over the limit, else incomplete.
    const status = bytes.length - start > limits.maxHeadBytes ? 431 : 400;
    return { outcome: { status, message: "" }, rest: none };
  }
  return {
    outcome: careful(bytes.subarray(start, end), limits),
    rest: bytes.subarray(end),
  };
}

// --- Sources ----------------------------------------------------------------

/** A source that delivers `bytes` in the pieces between `cuts`, in order. */
function pieces(bytes: Uint8Array, cuts: number[], zeros = false): Reader {
  const ends = [...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length]
    .sort((a, b) => a - b);
  let at = 0;
  let piece = 0;
  let zero = false;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (at >= bytes.length) return Promise.resolve(null);
      zero = zeros && !zero;
      if (zero) return Promise.resolve(0);
      while (ends[piece] <= at) piece++;
      const n = Math.min(p.length, ends[piece] - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

/** The rest of what `reader` holds and its source still has. */
async function drain(reader: BufferedReader): Promise<Uint8Array> {
  const parts: number[] = [];
  const p = new Uint8Array(4096);
  while (true) {
    const n = await reader.readInto(p, p.length);
    if (n === null) return Uint8Array.from(parts);
    for (let i = 0; i < n; i++) parts.push(p[i]);
  }
}

/**
 * Reads one head from `source` and checks it against `want` (the status of
 * a refusal), then that the reader leaves exactly `rest`.
 */
async function checkReader(
  bytes: Uint8Array,
  source: Reader,
  limits: Readonly<RequestLimits>,
  want: { outcome: Outcome; rest: Uint8Array },
  how: string,
): Promise<Outcome> {
  const reader = new BufferedReader(source);
  const got = await outcomeAsync(() => reader.readHead(limits));
  compare(bytes, got, want.outcome, how);
  if (accepted(got)) {
    const rest = await drain(reader);
    same(
      textOf(rest),
      textOf(want.rest),
      () => `${how}: the bytes after the head, for ${quote(bytes)}`,
    );
  }
  return got;
}

/** takeHead() on a reader holding all of `bytes`, then readHead() if it declines. */
async function checkTakeHead(
  bytes: Uint8Array,
  limits: Readonly<RequestLimits>,
  want: { outcome: Outcome; rest: Uint8Array },
): Promise<"taken" | "refused" | "declined"> {
  const reader = new BufferedReader(pieces(bytes, []));
  while (reader.buffered < bytes.length && await reader.fill()) {
    // until the reader holds every byte
  }
  let verdict: "taken" | "refused" | "declined" = "declined";
  const got = await outcomeAsync(async () => {
    let head;
    try {
      head = reader.takeHead(limits);
    } catch (error) {
      verdict = "refused"; // scanned, then refused (Host, framing)
      throw error;
    }
    if (head === undefined) return await reader.readHead(limits);
    verdict = "taken";
    return head;
  });
  compare(bytes, got, want.outcome, "takeHead");
  if (accepted(got)) {
    same(
      textOf(await drain(reader)),
      textOf(want.rest),
      () => `takeHead: the bytes after the head, for ${quote(bytes)}`,
    );
  }
  return verdict;
}

function compare(
  bytes: Uint8Array,
  got: Outcome,
  want: Outcome,
  how: string,
): void {
  const message = () =>
    `${how} differs from the careful parser for ${quote(bytes)}`;
  same(statusOnly(got), statusOnly(want), message);
}

// --- Inputs -----------------------------------------------------------------

const PICO =
  "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n" +
  "Host: www.kittyhell.com\r\n" +
  "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n" +
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
  "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n" +
  "Accept-Encoding: gzip,deflate\r\n" +
  "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n" +
  "Keep-Alive: 115\r\n" +
  "Connection: keep-alive\r\n" +
  "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x\r\n" +
  "\r\n";

/** Heads beyond the conformance table: more fields, odd but valid bytes. */
const EXTRA = [
  PICO,
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
  "GET / HTTP/1.1\nHost: h\nX-A: 1\n\n",
  "GET / HTTP/1.1\r\nHost: h\nX-A: 1\r\n\n",
  "GET /\xe9 HTTP/1.1\r\nHost: h\r\n\r\n".replace("\xe9", "%C3%A9"),
  "GET / HTTP/1.1\r\nHost: h\r\nX-Latin: caf\xe9 \x80\xff\r\n\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\nX-Tabs:\t a\tb \t\r\nX-Empty:\r\nX-Sp:   \r\n\r\n",
  "GET / HTTP/1.1\r\nhost: h\r\nHOST-X: y\r\nx: z\r\n\r\n",
  "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
  "POST /up HTTP/1.1\r\nHost: h\r\ncontent-length: 3, 3\r\n\r\nabc",
  "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "GET http://example.com/a HTTP/1.1\r\nHost: example.com\r\n\r\n",
  "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
  "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
  "GET / HTTP/1.0\r\n\r\n",
  "GET / HTTP/1.9\r\nHost: [::1]:80\r\n\r\n",
  "M-SEARCH * HTTP/1.1\r\nHost: h\r\n\r\n".replace("*", "/"),
  "GET / HTTP/1.1\r\nHost: h\r\n" +
  Array.from({ length: 40 }, (_, i) => `X-Field-${i}: value ${i}\r\n`).join(
    "",
  ) +
  "\r\n",
  "GET / HTTP/1.1\r\nHost: h\r\n" +
  "X-Long-Name-Of-Thirty-Two-Chars: v\r\nX-Long-Name-Of-Thirty-Three-Charsx: w\r\n\r\n",
  "\r\n\nGET /after-empty-lines HTTP/1.1\r\nHost: h\r\n\r\n",
  "GET /pipelined HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n",
];

/**
 * Valid requests: every one of at most 4 KiB whose head the careful parser
 * accepts (the longer ones test limits, and would make splitting slow).
 */
function corpus(): string[] {
  const all = [...CASES.map((c) => c.request), ...EXTRA];
  const valid = all.filter((request) => {
    if (request.length > 4096) return false;
    const bytes = bytesOf(request);
    return accepted(expected(bytes, DEFAULT_LIMITS).outcome);
  });
  return [...new Set(valid)];
}

const VALID = corpus();

const ALPHABET = [
  ..."\r\n \t:\x00\x7f\x80\xff",
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
];
const SPECIAL = 9; // the first nine of ALPHABET

/** One mutated input: a valid request with 1 to 4 mutations. */
function mutate(random: () => number): string {
  const int = (n: number) => Math.floor(random() * n);
  // Bytes that shape a head half of the time, letters and digits else.
  const byte = () =>
    random() < 0.5
      ? ALPHABET[int(SPECIAL)]
      : ALPHABET[SPECIAL + int(ALPHABET.length - SPECIAL)];
  let text = VALID[int(VALID.length)];
  const mutations = 1 + int(4);
  for (let m = 0; m < mutations; m++) {
    const at = int(text.length + 1);
    switch (int(8)) {
      case 0: // replace a byte
        text = text.slice(0, at) + byte() + text.slice(at + 1);
        break;
      case 1: { // flip a bit
        if (at === text.length) break;
        const c = text.charCodeAt(at) ^ (1 << int(8));
        text = text.slice(0, at) + String.fromCharCode(c) + text.slice(at + 1);
        break;
      }
      case 2: // insert a byte
        text = text.slice(0, at) + byte() + text.slice(at);
        break;
      case 3: // delete one to three bytes
        text = text.slice(0, at) + text.slice(at + 1 + int(3));
        break;
      case 4: // truncate
        text = text.slice(0, at);
        break;
      case 5: { // duplicate a line
        const lines = text.split("\n");
        const i = int(lines.length);
        lines.splice(i, 0, lines[i]);
        text = lines.join("\n");
        break;
      }
      case 6: { // delete a line
        const lines = text.split("\n");
        lines.splice(int(lines.length), 1);
        text = lines.join("\n");
        break;
      }
      case 7: { // insert a line of special bytes and letters
        const line = Array.from({ length: 1 + int(6) }, byte).join("");
        const lf = text.indexOf("\n", at);
        const where = lf === -1 ? text.length : lf + 1;
        text = text.slice(0, where) + line + "\r\n" + text.slice(where);
        break;
      }
    }
  }
  return text;
}

let mutants: Uint8Array[] | null = null;

function mutatedInputs(): Uint8Array[] {
  if (mutants !== null) return mutants;
  const random = mulberry32(SEED);
  mutants = Array.from({ length: MUTANTS }, () => bytesOf(mutate(random)));
  return mutants;
}

// --- Tests ------------------------------------------------------------------

Deno.test("differential: the corpus of valid heads is large enough", () => {
  assert.ok(VALID.length >= 100, `only ${VALID.length} valid requests`);
});

Deno.test(`differential: parseRequestHead() equals the careful parser on ${MUTANTS} mutated heads (seed ${SEED})`, () => {
  const started = performance.now();
  let taken = 0;
  let compared = 0;
  const inputs = [...VALID.map(bytesOf), ...mutatedInputs()];
  for (const limits of [DEFAULT_LIMITS, SMALL_LIMITS]) {
    for (const bytes of inputs) {
      const { start, end } = frame(bytes);
      const head = end === -1 ? bytes : bytes.subarray(start, end);
      const got = outcome(() => parseRequestHead(head, limits));
      const want = careful(head, limits);
      same(got, want, () => `parseRequestHead() differs for ${quote(head)}`);
      compared++;
      if (accepted(got)) taken++;
    }
  }
  console.log(
    `${compared} heads compared, ${taken} accepted, in ${
      Math.round(performance.now() - started)
    } ms`,
  );
});

Deno.test("differential: a BufferedReader gives the careful parser's head at every split point of the valid heads", async () => {
  const started = performance.now();
  let reads = 0;
  for (const request of VALID) {
    const bytes = bytesOf(request);
    for (const limits of [DEFAULT_LIMITS, SMALL_LIMITS]) {
      const want = expected(bytes, limits);
      for (let i = 0; i <= bytes.length; i++) {
        await checkReader(
          bytes,
          pieces(bytes, [i]),
          limits,
          want,
          `split at ${i}`,
        );
        reads++;
      }
    }
  }
  console.log(
    `${VALID.length} valid requests, ${reads} split reads, in ${
      Math.round(performance.now() - started)
    } ms`,
  );
});

Deno.test(`differential: a BufferedReader gives the careful parser's outcome on ${MUTANTS} mutated heads (seed ${SEED})`, async () => {
  const started = performance.now();
  const random = mulberry32(SEED + 1);
  const verdicts = { taken: 0, refused: 0, declined: 0 };
  let good = 0;
  let small = 0;
  for (const bytes of mutatedInputs()) {
    const want = expected(bytes, DEFAULT_LIMITS);
    if (accepted(want.outcome)) good++;
    verdicts[await checkTakeHead(bytes, DEFAULT_LIMITS, want)]++;
    // The same bytes in one to four pieces, sometimes with empty reads.
    const cuts = Array.from(
      { length: Math.floor(random() * 4) },
      () => Math.floor(random() * (bytes.length + 1)),
    );
    await checkReader(
      bytes,
      pieces(bytes, cuts, random() < 0.25),
      DEFAULT_LIMITS,
      want,
      `pieces cut at ${cuts}`,
    );
    // A quarter again with small limits, where lines and heads go over.
    if (random() < 0.25) {
      small++;
      const wantSmall = expected(bytes, SMALL_LIMITS);
      await checkTakeHead(bytes, SMALL_LIMITS, wantSmall);
      await checkReader(
        bytes,
        pieces(bytes, cuts),
        SMALL_LIMITS,
        wantSmall,
        `small limits, pieces cut at ${cuts}`,
      );
    }
  }
  console.log(
    `${MUTANTS} mutated inputs: ${good} accepted by the careful parser; ` +
      `takeHead took ${verdicts.taken}, refused ${verdicts.refused}, ` +
      `declined ${verdicts.declined}; ${small} also read with small limits; ` +
      `${Math.round(performance.now() - started)} ms`,
  );
});
