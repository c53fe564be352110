// Copyright 2026 the basehttp authors. MIT license.
import assert from "node:assert/strict";
import {
  BodyReader,
  BufferedReader,
  DEFAULT_LIMITS,
  HTTPError,
  HTTPMessage,
  parseRequestHead,
  type Reader,
  type RequestHead,
} from "../parser.ts";

const encoder = new TextEncoder();

/** A source that hands out `bytes` in pieces of at most `step` bytes, with 0-byte reads between. */
function source(bytes: Uint8Array, step = bytes.length): Reader {
  let at = 0;
  let zero = false;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (at >= bytes.length) return Promise.resolve(null);
      zero = !zero;
      if (zero && step === 1) return Promise.resolve(0);
      const n = Math.min(step, p.length, bytes.length - at);
      p.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

function head(text: string): RequestHead {
  return parseRequestHead(encoder.encode(text));
}

function status(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    if (error instanceof HTTPError) return error.status;
    throw error;
  }
  return 0;
}

async function statusAsync(fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof HTTPError) return error.status;
    throw error;
  }
  return 0;
}

Deno.test("parseRequestHead() reads the request line and fields in wire order", () => {
  const h = head(
    "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Dup: one\r\nx-dup: two\r\nUser-Agent:  ua \t\r\n\r\n",
  );
  assert.equal(h.command, "GET");
  assert.equal(h.target, "/a?b=1");
  assert.equal(h.version, "HTTP/1.1");
  assert.equal(h.requestline, "GET /a?b=1 HTTP/1.1");
  assert.deepEqual(h.headers.keys(), ["Host", "X-Dup", "x-dup", "User-Agent"]);
  assert.equal(h.headers.get("X-DUP"), "one");
  assert.deepEqual(h.headers.getAll("x-dup"), ["one", "two"]);
  assert.equal(h.headers.get("user-agent"), "ua");
  assert.equal(h.headers.has("missing"), false);
  assert.equal(h.headers.get("missing"), null);
  assert.equal(h.contentLength, null);
  assert.equal(h.chunked, false);
});

Deno.test("HTTPMessage converts to web Headers and iterates pairs", () => {
  const m = new HTTPMessage([["Accept", "a"], ["ACCEPT", "b"], ["X", "1"]]);
  assert.equal(m.toHeaders().get("accept"), "a, b");
  assert.deepEqual([...m], [["Accept", "a"], ["ACCEPT", "b"], ["X", "1"]]);
  assert.deepEqual(m.items(), [["Accept", "a"], ["ACCEPT", "b"], ["X", "1"]]);
  assert.equal(m.size, 3);
  assert.equal(m.toString(), "Accept: a\r\nACCEPT: b\r\nX: 1\r\n");
});

Deno.test("HTTPMessage shows its fields in console.log, as Headers does", () => {
  const m = new HTTPMessage([["Host", "h"], ["Set-Cookie", "a"], [
    "Set-Cookie",
    "b",
  ]]);
  assert.equal(
    Deno.inspect(m),
    'HTTPMessage(3) [ [ "Host", "h" ], [ "Set-Cookie", "a" ], [ "Set-Cookie", "b" ] ]',
  );
  assert.equal(Deno.inspect(new HTTPMessage()), "HTTPMessage(0) []");
  // Nested, as in a logged TestResponse or handler.
  assert.match(Deno.inspect({ headers: m }), /headers: HTTPMessage\(3\) \[/);
});

Deno.test("HTTPMessage finds names of every length, appended or parsed", () => {
  const long = "X-" + "a".repeat(40);
  const parsed = head(
    `GET / HTTP/1.1\r\nHost: h\r\n${long}: 1\r\nX-A: 2\r\n\r\n`,
  ).headers;
  const built = new HTTPMessage([["Host", "h"], [long, "1"], ["X-A", "2"]]);
  for (const m of [parsed, built]) {
    assert.equal(m.get(long.toUpperCase()), "1");
    assert.equal(m.get("x-" + "a".repeat(39)), null); // 31 or more, absent
    assert.equal(m.get("x-a"), "2");
    assert.equal(m.get("x-b"), null);
    assert.equal(m.get("Accept"), null);
    m.append("Accept", "*/*");
    m.append("A".repeat(33), "y");
    assert.equal(m.get("accept"), "*/*");
    assert.deepEqual(m.getAll("a".repeat(33)), ["y"]);
    assert.equal(m.has("HOST"), true);
  }
});

Deno.test("parseRequestHead() accepts bare LF line ends", () => {
  const h = head("GET / HTTP/1.0\nA: b\n\n");
  assert.equal(h.headers.get("a"), "b");
});

Deno.test("parseRequestHead() answers bad versions 400 and HTTP/2+ 505", () => {
  for (
    const v of [
      "HTTP/1",
      "HTTP/1.1.1",
      "HTTP/-1.1",
      "FUBAR",
      "http/1.1",
      "HTTP/1.10",
    ]
  ) {
    assert.equal(status(() => head(`GET / ${v}\r\n\r\n`)), 400, v);
  }
  assert.equal(status(() => head("GET / HTTP/2.0\r\n\r\n")), 505);
  assert.equal(status(() => head("GET / HTTP/9.9\r\n\r\n")), 505);
  assert.equal(status(() => head("GET /\r\n\r\n")), 400); // no HTTP/0.9
});

Deno.test("every byte at every offset of a target and a value is accepted or refused as its class says", () => {
  const bytesOf = (prefix: string, at: number, byte: number, rest: string) =>
    Uint8Array.from([
      ...encoder.encode(prefix),
      ...encoder.encode("abcdefghijkl".slice(0, at)),
      byte,
      ...encoder.encode("abcdefghijkl".slice(at + 1) + rest),
    ]);
  // Offsets 1-8 put the byte in each lane of the scanner's 4-byte words.
  for (let at = 1; at <= 8; at++) {
    for (let byte = 0; byte < 256; byte++) {
      const inTarget = bytesOf(
        "GET /",
        at,
        byte,
        " HTTP/1.1\r\nHost: h\r\n\r\n",
      );
      const targetOK = byte >= 0x21 && byte <= 0x7e;
      assert.equal(
        status(() => parseRequestHead(inTarget)),
        targetOK ? 0 : 400,
        `target byte ${byte} at ${at}`,
      );
      const inValue = bytesOf(
        "GET / HTTP/1.1\r\nHost: h\r\nX: ",
        at,
        byte,
        "\r\n\r\n",
      );
      const valueOK = byte === 0x09 || (byte >= 0x20 && byte !== 0x7f);
      assert.equal(
        status(() => parseRequestHead(inValue)),
        valueOK ? 0 : 400,
        `value byte ${byte} at ${at}`,
      );
      if (valueOK) {
        assert.equal(
          parseRequestHead(inValue).headers.get("x")!.charCodeAt(at),
          byte,
        );
      }
    }
  }
});

Deno.test("HTTPError carries the status it maps to", () => {
  try {
    head("GET / HTTP/2.0\r\n\r\n");
    assert.fail("no error");
  } catch (error) {
    assert.ok(error instanceof HTTPError);
    assert.equal(error.status, 505);
    assert.equal(error.message, "Invalid HTTP version (2.0)");
    assert.equal(error.explain, "Cannot fulfill request");
  }
});

Deno.test("HTTPError takes an error status, 400-599, else RangeError", () => {
  for (const status of [200, 399, 600, 99999, 404.5, NaN]) {
    assert.throws(() => new HTTPError(status, "x"), RangeError, `${status}`);
  }
  assert.equal(new HTTPError(599, "x").status, 599);
  assert.equal(new HTTPError(400, "x").status, 400);
});

Deno.test("readHead() enforces Python's request line limit: 65536 passes, 65537 is 414", async () => {
  const ok = "GET /" + "a".repeat(65536 - 16) + " HTTP/1.0\r\n";
  assert.equal(ok.length, 65536);
  const r1 = new BufferedReader(source(encoder.encode(ok + "\r\n")));
  assert.equal((await r1.readHead())?.command, "GET");
  const long = "GET /" + "a".repeat(65537 - 16) + " HTTP/1.0\r\n";
  const r2 = new BufferedReader(source(encoder.encode(long + "\r\n")));
  assert.equal(await statusAsync(() => r2.readHead()), 414);
  // Without a line end at all, it is refused once the limit is passed.
  const r3 = new BufferedReader(
    source(encoder.encode("GET /" + "a".repeat(70000))),
  );
  assert.equal(await statusAsync(() => r3.readHead()), 414);
});

Deno.test("readHead() answers a long header line and too many fields with 431", async () => {
  const line = "X: " + "v".repeat(65536 - 5) + "\r\n";
  assert.equal(line.length, 65536);
  const ok = new BufferedReader(
    source(encoder.encode("GET / HTTP/1.0\r\n" + line + "\r\n")),
  );
  assert.equal((await ok.readHead())?.headers.size, 1);
  const bad = new BufferedReader(
    source(encoder.encode("GET / HTTP/1.0\r\nX: v" + line + "\r\n")),
  );
  assert.equal(await statusAsync(() => bad.readHead()), 431);

  const fields = (n: number) =>
    "GET / HTTP/1.0\r\n" + "X: 1\r\n".repeat(n) + "\r\n";
  const hundred = new BufferedReader(source(encoder.encode(fields(100))));
  assert.equal((await hundred.readHead())?.headers.size, 100);
  const more = new BufferedReader(source(encoder.encode(fields(101))));
  assert.equal(await statusAsync(() => more.readHead()), 431);
});

Deno.test("readHead() limits are configurable", async () => {
  const limits = {
    maxRequestLine: 32,
    maxHeaderLine: 24,
    maxHeaders: 2,
    maxHeadBytes: 1 << 20,
    maxChunkLine: 64,
    maxTrailerBytes: 64,
    maxBodySize: 10,
    maxStreamedBodySize: 10,
  };
  const read = (text: string) =>
    new BufferedReader(source(encoder.encode(text))).readHead(limits);
  assert.equal(
    await statusAsync(() =>
      read("GET /" + "a".repeat(40) + " HTTP/1.0\r\n\r\n")
    ),
    414,
  );
  assert.equal(
    await statusAsync(() =>
      read("GET / HTTP/1.0\r\nX: " + "v".repeat(20) + "\r\n\r\n")
    ),
    431,
  );
  assert.equal(
    await statusAsync(() =>
      read("GET / HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    ),
    431,
  );
  assert.equal(
    await statusAsync(() =>
      read("POST / HTTP/1.0\r\nContent-Length: 11\r\n\r\n")
    ),
    413,
  );
});

Deno.test("bytes() of a body in many tiny chunks holds about its size, not a buffer per chunk", async () => {
  const chunks = 2000;
  const request =
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "1\r\nx\r\n".repeat(chunks) + "0\r\n\r\n";
  const reader = new BufferedReader(source(encoder.encode(request)));
  const head = (await reader.readHead())!;
  // Array buffers are V8's external memory, counted as they are made.
  const before = Deno.memoryUsage().external;
  const body = await new BodyReader(reader, head).bytes();
  const grown = Deno.memoryUsage().external - before;
  assert.equal(body.length, chunks);
  // A 64 KiB read buffer kept for each 1-byte chunk would be 125 MiB.
  assert.ok(grown < 48 << 20, `external memory grew ${grown >> 20} MiB`);
});

Deno.test("maxBodySize binds what bytes() holds, not a body read as a stream", async () => {
  const limits = { ...DEFAULT_LIMITS, maxBodySize: 10 };
  const body = async (text: string) => {
    const reader = new BufferedReader(source(encoder.encode(text)));
    const head = (await reader.readHead(limits))!;
    return new BodyReader(reader, head, limits);
  };
  const request = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n" +
    "hello world";
  let streamed = 0;
  for await (const part of await body(request)) streamed += part.length;
  assert.equal(streamed, 11);
  assert.equal(
    await statusAsync(async () => (await body(request)).bytes()),
    413,
  );
  const chunked =
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n";
  streamed = 0;
  for await (const part of await body(chunked)) streamed += part.length;
  assert.equal(streamed, 11);
  assert.equal(
    await statusAsync(async () => (await body(chunked)).text()),
    413,
  );
});

Deno.test("readHead() returns null at a clean end and 400 for a cut-off head", async () => {
  assert.equal(
    await new BufferedReader(source(new Uint8Array())).readHead(),
    null,
  );
  const cut = new BufferedReader(
    source(encoder.encode("GET / HTTP/1.1\r\nHost")),
  );
  assert.equal(await statusAsync(() => cut.readHead()), 400);
});

const SAMPLE =
  "POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n" +
  "Transfer-Encoding: chunked\r\nX-Multi: a\r\nx-multi: b\r\n\r\n" +
  "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-A: 1\r\n\r\n" +
  "GET /next HTTP/1.1\r\nHost: example.com\r\n\r\n";

async function readSample(step: number) {
  const reader = new BufferedReader(source(encoder.encode(SAMPLE), step));
  const first = (await reader.readHead())!;
  const body = new BodyReader(reader, first);
  const text = await body.text();
  const second = (await reader.readHead())!;
  return {
    first: [first.command, first.target, first.headers.items(), first.chunked],
    text,
    trailers: body.trailers?.items(),
    second: [second.command, second.target, second.headers.items()],
    end: await reader.readHead(),
  };
}

Deno.test("BufferedReader takes a source that gives only 0 to have ended, as Go's bufio, rather than read it forever", async () => {
  let reads = 0;
  const zeros: Reader = {
    read: () => {
      reads++;
      return Promise.resolve(0);
    },
  };
  assert.equal(await new BufferedReader(zeros).readHead(), null);
  assert.equal(reads, 100);
  // A body read straight into a large buffer too: null, then null.
  reads = 0;
  const reader = new BufferedReader(zeros);
  const big = new Uint8Array(1 << 16);
  let got: number | null = 0;
  while (got === 0) got = await reader.readInto(big, big.length);
  assert.equal(got, null);
  assert.equal(reads, 100);
  assert.equal(await reader.readInto(big, big.length), null);
});

Deno.test("BufferedReader parses the same at every read size, down to one byte at a time", async () => {
  const whole = await readSample(SAMPLE.length);
  assert.equal(whole.text, "hello world");
  assert.deepEqual(whole.trailers, [["Trailer-A", "1"]]);
  assert.equal(whole.end, null);
  for (let step = 1; step < 40; step++) {
    assert.deepEqual(await readSample(step), whole, `step ${step}`);
  }
});

/** Requests that must parse the same however their bytes arrive. */
const SPLIT_SET: string[] = [
  "GET /p HTTP/1.1\r\nHost: h\r\nA: 1\r\nB:2\r\n\r\n",
  "\r\n\nGET / HTTP/1.1\nHost: h\nX: a\tb \n\n",
  "GET http://example.com/x?y#z HTTP/1.1\r\nHost: example.com\r\n\r\n",
  "OPTIONS * HTTP/1.0\r\nX: caf\xe9\r\n\r\n",
  "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
  "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
  "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
  '3;a=1;b="x;y"\r\nabc\r\n000A\r\n0123456789\r\n0\r\nT: 1\r\nU: 2\r\n\r\n' +
  "GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
  // Refused ones must be refused with the same status at every split.
  "GET / HTTP/1.1\r\nHost: h\rX: 1\r\n\r\n",
  "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: a\rb\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\ncut",
  "GET / HTTP/1.1\r\nHost: h\r\n",
];

/** Reads every request from `reader`: heads, bodies, trailers, or the error that stops it. */
async function readAllRequests(reader: BufferedReader): Promise<unknown[]> {
  const out: unknown[] = [];
  try {
    while (true) {
      const h = await reader.readHead();
      if (h === null) return out;
      const body = new BodyReader(reader, h);
      const bytes = await body.bytes();
      out.push([
        h.requestline,
        h.command,
        h.target,
        h.version,
        h.headers.items(),
        h.contentLength,
        h.chunked,
        [...bytes],
        body.trailers?.items() ?? null,
      ]);
    }
  } catch (error) {
    if (!(error instanceof HTTPError)) throw error;
    out.push({ status: error.status, message: error.message });
    return out;
  }
}

/** A source that hands out the given parts, one per read. */
function parts(...pieces: Uint8Array[]): Reader {
  let i = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      const part = pieces[i];
      if (part === undefined) return Promise.resolve(null);
      const n = Math.min(p.length, part.length);
      p.set(part.subarray(0, n));
      if (n === part.length) i++;
      else pieces[i] = part.subarray(n);
      return Promise.resolve(n);
    },
  };
}

Deno.test("every request parses the same split at every byte boundary and fed one byte at a time", async () => {
  for (const text of SPLIT_SET) {
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    const whole = await readAllRequests(new BufferedReader(parts(bytes)));
    assert.ok(whole.length > 0);
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = new BufferedReader(
        parts(bytes.subarray(0, cut), bytes.subarray(cut)),
      );
      assert.deepEqual(
        await readAllRequests(split),
        whole,
        `${JSON.stringify(text)} cut at ${cut}`,
      );
    }
    const trickle = new BufferedReader(source(bytes, 1));
    assert.deepEqual(
      await readAllRequests(trickle),
      whole,
      `${JSON.stringify(text)} one byte at a time`,
    );
  }
});

Deno.test("requests that cross the buffer's size parse the same at every read size (growth and compaction)", async () => {
  const big = "x".repeat(5000);
  const chunks = [4093, 1, 4096, 10].map((n, i) =>
    `${n.toString(16)}\r\n${String(i).repeat(n)}\r\n`
  ).join("");
  const text = `GET /a HTTP/1.1\r\nHost: h\r\nBig: ${big}\r\n\r\n` +
    `POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n` +
    `POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 6000\r\n\r\n${
      "c".repeat(6000)
    }` +
    "GET /d HTTP/1.1\r\nHost: h\r\n\r\n".repeat(300);
  const bytes = encoder.encode(text);
  const whole = await readAllRequests(new BufferedReader(parts(bytes)));
  assert.equal(whole.length, 303);
  for (const step of [1, 2, 7, 100, 4095, 4096, 4097, 9000]) {
    assert.deepEqual(
      await readAllRequests(new BufferedReader(source(bytes, step))),
      whole,
      `step ${step}`,
    );
  }
});

/** A request head of exactly `length` bytes. */
function headOfLength(length: number, target = "/"): Uint8Array {
  const start = `GET ${target} HTTP/1.1\r\nHost: h\r\nX-Pad: `;
  return encoder.encode(
    start + "p".repeat(length - start.length - 4) + "\r\n\r\n",
  );
}

Deno.test("a read that fills the buffer: heads that end on its last byte, or before it, are read whole", async () => {
  for (const first of [1024, 1023, 500, 300]) {
    const a = headOfLength(first, "/a");
    // Heads past the first end on the last byte of the first read, or
    // the first read cuts the second one's first byte.
    const b = headOfLength(first >= 1023 ? 600 : 1024 - first, "/b");
    const c = headOfLength(400, "/c");
    const bytes = new Uint8Array(a.length + b.length + c.length);
    bytes.set(a);
    bytes.set(b, a.length);
    bytes.set(c, a.length + b.length);
    const sizes: number[] = [];
    const from = source(bytes);
    const reader = new BufferedReader({
      read(p) {
        sizes.push(p.length);
        return from.read(p);
      },
    });
    const heads = [];
    for (let h; (h = await reader.readHead()) !== null;) heads.push(h);
    assert.equal(sizes[0], 1024, "the first read takes the whole buffer");
    assert.deepEqual(
      heads.map((h) => [h.target, h.headers.items()]),
      [a, b, c].map((bytes) => {
        const h = parseRequestHead(bytes);
        return [h.target, h.headers.items()];
      }),
      `first head ${first} bytes`,
    );
  }
});

Deno.test("a pipelined batch grows the buffer to 16 KiB, so that 700-byte requests are not one read each", async () => {
  const request = encoder.encode(
    `GET /p HTTP/1.1\r\nHost: h\r\nCookie: ${"c".repeat(660)}\r\n\r\n`,
  );
  const bytes = new Uint8Array(request.length * 64);
  for (let i = 0; i < 64; i++) bytes.set(request, i * request.length);
  const rooms: number[] = [];
  const counting = source(bytes);
  const reader = new BufferedReader({
    read(p) {
      rooms.push(p.length);
      return counting.read(p);
    },
  });
  let count = 0;
  while (await reader.readHead() !== null) count++;
  assert.equal(count, 64);
  assert.ok(rooms.length <= 10, `${rooms.length} reads: ${rooms}`);
  // A read into an empty buffer takes all of it.
  assert.equal(Math.max(...rooms), 16 * 1024);
  // A connection that sends one small request at a time keeps 1 KiB.
  const sizes: number[] = [];
  const one = new BufferedReader({
    read(p) {
      sizes.push(p.length);
      return source(encoder.encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        .read(p);
    },
  });
  await one.readHead();
  assert.deepEqual(sizes, [1024]);
});

Deno.test("pipelined heads decoded together keep obs-text as Latin-1, one char per byte", async () => {
  const parts = [
    encoder.encode("GET /1 HTTP/1.1\r\nHost: h\r\nX: café\r\n\r\n"), // UTF-8
    encoder.encode("GET /2 HTTP/1.1\r\nHost: h\r\nX: plain\r\n\r\n"),
    Uint8Array.from([
      ...encoder.encode("GET /3 HTTP/1.1\r\nHost: h\r\nX: caf"),
      0xe9, // Latin-1 é
      ...encoder.encode("\r\n\r\n"),
    ]),
    encoder.encode("GET /4 HTTP/1.1\r\nHost: h\r\nX: last\r\n\r\n"),
  ];
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) bytes.set(p, (at += p.length) - p.length);
  const reader = new BufferedReader(source(bytes));
  const seen: [string, string | null][] = [];
  for (let h; (h = await reader.readHead()) !== null;) {
    seen.push([h.target, h.headers.get("x")]);
  }
  assert.deepEqual(seen, [
    ["/1", "caf\xc3\xa9"],
    ["/2", "plain"],
    ["/3", "caf\xe9"],
    ["/4", "last"],
  ]);
});

Deno.test("BodyReader reads exactly Content-Length bytes and then null", async () => {
  const reader = new BufferedReader(
    source(
      encoder.encode("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nabcGET"),
    ),
  );
  const h = (await reader.readHead())!;
  const body = new BodyReader(reader, h);
  const p = new Uint8Array(10);
  assert.equal(await body.read(p), 3);
  assert.equal(new TextDecoder().decode(p.subarray(0, 3)), "abc");
  assert.equal(await body.read(p), null);
  assert.equal(body.done, true);
  assert.equal(reader.buffered, 3); // "GET" stays for the next request
});

Deno.test("BodyReader.bytes() and json() answer 413 past a limit and 400 for bad JSON", async () => {
  const make = (body: string) => {
    const reader = new BufferedReader(
      source(
        encoder.encode(
          `POST / HTTP/1.0\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        ),
      ),
    );
    return reader.readHead().then((h) => new BodyReader(reader, h));
  };
  assert.deepEqual(await (await make('{"a":[1]}')).json(), { a: [1] });
  assert.equal(
    await statusAsync(async () => (await make("0123456789")).bytes(5)),
    413,
  );
  assert.equal(
    await statusAsync(async () => (await make("{nope")).json()),
    400,
  );
});

Deno.test("line limits count a bare LF as one byte in both parsers", () => {
  const limits = { ...DEFAULT_LIMITS, maxHeaderLine: 10 };
  // "X: 123456\n" is exactly 10 bytes; the bad name after it is the error.
  const bytes = encoder.encode(
    "GET / HTTP/1.1\nHost: h\nX: 123456\nB c:x\n\n",
  );
  assert.equal(status(() => parseRequestHead(bytes, limits)), 400);
  const ok = encoder.encode("GET / HTTP/1.1\nHost: h\nX: 123456\n\n");
  assert.equal(parseRequestHead(ok, limits).headers.get("x"), "123456");
});
