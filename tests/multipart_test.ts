// Copyright 2026 the basehttp authors. MIT license.
// The form parsers: bodies fed through readers that cut them anywhere.

import assert from "node:assert/strict";
import {
  type MultipartLimits,
  type MultipartPart,
  parseForm,
  parseMultipart,
} from "../multipart.ts";
import { HTTPError, type Reader } from "../parser.ts";
import { latin1Bytes, mulberry32 } from "./_util.ts";

const TYPE = "multipart/form-data; boundary=----Bound";

/** A reader that hands out `chunks` in order, one per read. */
function chunkReader(chunks: Uint8Array[]): Reader {
  let i = 0;
  let at = 0;
  return {
    read(p: Uint8Array): Promise<number | null> {
      while (i < chunks.length && at === chunks[i].length) {
        i++;
        at = 0;
      }
      if (i === chunks.length) return Promise.resolve(null);
      const n = Math.min(p.length, chunks[i].length - at);
      p.set(chunks[i].subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

function bytesReader(body: Uint8Array, step = body.length): Reader {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < body.length; i += step) {
    chunks.push(body.subarray(i, i + step));
  }
  return chunkReader(chunks);
}

interface Seen {
  name: string;
  filename: string | null;
  contentType: string;
  body: string;
}

async function collect(
  rfile: Reader,
  type = TYPE,
  limits: Partial<MultipartLimits> = {},
  readSize = 65536,
): Promise<Seen[]> {
  const seen: Seen[] = [];
  for await (const part of parseMultipart(rfile, type, limits)) {
    const chunks: number[] = [];
    const p = new Uint8Array(readSize);
    while (true) {
      const n = await part.read(p);
      if (n === null) break;
      for (const b of p.subarray(0, n)) chunks.push(b);
    }
    seen.push({
      name: part.name,
      filename: part.filename,
      contentType: part.contentType,
      body: String.fromCharCode(...chunks),
    });
  }
  return seen;
}

/** A body from Latin-1 text, lines joined with CRLF. */
function body(...lines: string[]): Uint8Array {
  return latin1Bytes(lines.join("\r\n"));
}

async function rejects(
  promise: Promise<unknown>,
  status: number,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HTTPError, `not an HTTPError: ${error}`);
    assert.equal(error.status, status, error.message);
    if (message) assert.match(error.message + (error.explain ?? ""), message);
    return true;
  });
}

// Data that nearly holds the delimiter, in every way it can.
const TRICKY = "a\r\n--\r\n----Boun\r\r\n\r\n------Boun-x\r--\n------Boun";
const FULL = body(
  "preamble, ignored\r\n------Boun not a boundary",
  "------Bound",
  'Content-Disposition: form-data; name="title"',
  "",
  "Hello",
  "------Bound  \t",
  'content-disposition: form-data; name="file"; filename="a.bin"',
  "Content-Type: application/octet-stream",
  "",
  TRICKY,
  "------Bound",
  'Content-Disposition: form-data; name="empty"',
  "",
  "",
  "------Bound--",
  "epilogue, ignored",
  "------Bound",
);
const EXPECTED: Seen[] = [
  { name: "title", filename: null, contentType: "text/plain", body: "Hello" },
  {
    name: "file",
    filename: "a.bin",
    contentType: "application/octet-stream",
    body: TRICKY,
  },
  { name: "empty", filename: null, contentType: "text/plain", body: "" },
];

Deno.test("multipart: parts, preamble, padding and epilogue", async () => {
  assert.deepEqual(await collect(bytesReader(FULL)), EXPECTED);
});

Deno.test("multipart: the body split at every point", async () => {
  for (let i = 0; i <= FULL.length; i++) {
    const rfile = chunkReader([FULL.subarray(0, i), FULL.subarray(i)]);
    assert.deepEqual(await collect(rfile), EXPECTED, `split at ${i}`);
  }
});

Deno.test("multipart: split at every pair of points", async () => {
  const small = body(
    "--bb",
    'Content-Disposition: form-data; name="x"',
    "",
    "\r\n--\r\n--b\r-",
    "--bb--",
  );
  const want = [{
    name: "x",
    filename: null,
    contentType: "text/plain",
    body: "\r\n--\r\n--b\r-",
  }];
  const type = "multipart/form-data; boundary=bb";
  for (let i = 0; i <= small.length; i++) {
    for (let j = i; j <= small.length; j++) {
      const rfile = chunkReader([
        small.subarray(0, i),
        small.subarray(i, j),
        small.subarray(j),
      ]);
      assert.deepEqual(await collect(rfile, type), want, `split ${i}, ${j}`);
    }
  }
});

Deno.test("multipart: 1-byte reads from the source and by the reader", async () => {
  assert.deepEqual(await collect(bytesReader(FULL, 1)), EXPECTED);
  assert.deepEqual(await collect(bytesReader(FULL, 1), TYPE, {}, 1), EXPECTED);
  assert.deepEqual(await collect(bytesReader(FULL, 3), TYPE, {}, 2), EXPECTED);
});

Deno.test("multipart: a body that opens with its boundary, or with a CRLF", async () => {
  const opens = body(
    "--b",
    'Content-Disposition: form-data; name="a"',
    "",
    "1",
    "--b--",
  );
  const type = "multipart/form-data; boundary=b";
  assert.equal((await collect(bytesReader(opens), type))[0].body, "1");
  const crlf = latin1Bytes("\r\n" + new TextDecoder().decode(opens));
  assert.equal((await collect(bytesReader(crlf), type))[0].body, "1");
  // No parts at all is an empty form.
  assert.deepEqual(await collect(bytesReader(body("--b--", "")), type), []);
});

Deno.test("multipart: a part of headers alone, its empty line the next delimiter's CRLF, is empty (RFC 2046)", async () => {
  const type = "multipart/form-data; boundary=b";
  const cases: [string[], string[][]][] = [
    [
      [
        "--b",
        'Content-Disposition: form-data; name="a"',
        "",
        "--b",
        'Content-Disposition: form-data; name="c"',
        "",
        "2",
        "--b--",
      ],
      [["a", ""], ["c", "2"]],
    ],
    // An empty value as browsers send it.
    [
      ["--b", 'Content-Disposition: form-data; name="a"', "", "", "--b--"],
      [["a", ""]],
    ],
  ];
  for (const [lines, want] of cases) {
    for (const step of [1, 3, 65536]) {
      const parts = await collect(bytesReader(body(...lines), step), type);
      assert.deepEqual(
        parts.map((part) => [part.name, part.body]),
        want,
        `reads of ${step}`,
      );
    }
  }
});

Deno.test("multipart: parts not read are skipped", async () => {
  const big = "x".repeat(300_000);
  const form = body(
    "--b",
    'Content-Disposition: form-data; name="big"; filename="big.txt"',
    "",
    big,
    "--b",
    'Content-Disposition: form-data; name="small"',
    "",
    "kept",
    "--b--",
  );
  const names: string[] = [];
  let kept = "";
  let skipped: MultipartPart | null = null;
  for await (
    const part of parseMultipart(
      bytesReader(form, 1000),
      "multipart/form-data; boundary=b",
    )
  ) {
    names.push(part.name);
    if (part.name === "small") kept = await part.text();
    else skipped = part;
  }
  assert.deepEqual(names, ["big", "small"]);
  assert.equal(kept, "kept");
  assert.equal(skipped!.bytesRead, big.length);
  await assert.rejects(skipped!.read(new Uint8Array(1)), /skipped/);
});

Deno.test("multipart: bytes(), text() and readable", async () => {
  const raw = new TextEncoder().encode([
    "--b",
    'Content-Disposition: form-data; name="a"',
    "",
    "één",
    "--b",
    'Content-Disposition: form-data; name="b"',
    "",
    "0123456789",
    "--b",
    'Content-Disposition: form-data; name="c"',
    "",
    "streamed",
    "--b--",
  ].join("\r\n"));
  const type = "multipart/form-data; boundary=b";
  const got: string[] = [];
  for await (const part of parseMultipart(bytesReader(raw, 5), type)) {
    if (part.name === "c") {
      let text = "";
      const decoder = new TextDecoder();
      await part.readable.pipeTo(
        new WritableStream({
          write: (chunk) => void (text += decoder.decode(chunk)),
        }),
      );
      got.push(text);
    } else got.push(await part.text());
  }
  assert.deepEqual(got, ["één", "0123456789", "streamed"]);
  // A limit of bytes() fails the part, and the parse.
  const parts = parseMultipart(bytesReader(raw, 5), type);
  for await (const part of parts) {
    if (part.name === "b") {
      await rejects(part.bytes(4), 413);
      break;
    }
  }
});

function disposition(value: string): Uint8Array {
  return body(
    "--b",
    `Content-Disposition: ${value}`,
    "",
    "data",
    "--b--",
  );
}

async function filenameOf(value: string): Promise<string | null> {
  const bytes = new TextEncoder().encode(
    new TextDecoder("latin1").decode(disposition(value)),
  );
  const [part] = await collect(
    bytesReader(bytes),
    "multipart/form-data; boundary=b",
  );
  return part.filename;
}

Deno.test("multipart: file names lose their paths; filename* wins", async () => {
  assert.equal(await filenameOf('form-data; name="f"'), null);
  assert.equal(await filenameOf('form-data; name="f"; filename=""'), "");
  assert.equal(
    await filenameOf('form-data; name="f"; filename="../../etc/passwd"'),
    "passwd",
  );
  assert.equal(
    await filenameOf('form-data; name="f"; filename="C:\\Users\\me\\a b.txt"'),
    "a b.txt",
  );
  assert.equal(
    await filenameOf('form-data; name="f"; filename="say \\"hi\\".txt"'),
    'say "hi".txt',
  );
  // As browsers and FormData send ", CR and LF (WHATWG); other % stay.
  assert.equal(
    await filenameOf('form-data; name="f"; filename="say %22hi%22 100%.txt"'),
    'say "hi" 100%.txt',
  );
  assert.equal(
    await filenameOf(
      "form-data; name=f; filename=plain.txt; filename*=UTF-8''%E2%82%AC%20rates.txt",
    ),
    "€ rates.txt",
  );
  assert.equal(
    await filenameOf("form-data; name=f; filename*=iso-8859-1'en'caf%E9"),
    "café",
  );
  assert.equal(
    await filenameOf(
      "form-data; name=f; filename*=UTF-8''..%2F..%2Fx%5Cy.txt",
    ),
    "y.txt",
  );
  // A bad ext-value falls back to filename.
  assert.equal(
    await filenameOf(
      "form-data; name=f; filename=\"ok.txt\"; filename*=UTF-8''%FF",
    ),
    "ok.txt",
  );
  // Alone, a bad one is still a file's name, as Python and busboy read it.
  assert.equal(
    await filenameOf("form-data; name=f; filename*=UTF-8''%FF.txt"),
    "\ufffd.txt",
  );
  assert.equal(
    await filenameOf("form-data; name=f; filename*=UTF-8''report%20(1).txt"),
    "report (1).txt",
  );
  assert.equal(await filenameOf("form-data; name=f; filename*=a%20b"), "a b");
  // However long a header the limits let through.
  const long = new TextEncoder().encode(
    "--b\r\nContent-Disposition: form-data; name=f; filename*=" +
      "a".repeat(200000) + "\r\n\r\nx\r\n--b--",
  );
  const [part] = await collect(
    bytesReader(long),
    "multipart/form-data; boundary=b",
    { maxHeaderBytes: 300000 },
  );
  assert.equal(part.filename, "a".repeat(200000));
  // UTF-8 as browsers send it, raw in the quoted string.
  assert.equal(
    await (async () => {
      const raw = new TextEncoder().encode(
        '--b\r\nContent-Disposition: form-data; name="f"; filename="naïve €.txt"\r\n\r\nx\r\n--b--',
      );
      const [part] = await collect(
        bytesReader(raw),
        "multipart/form-data; boundary=b",
      );
      return part.filename;
    })(),
    "naïve €.txt",
  );
});

Deno.test("multipart: names as browsers write them, backslashes unescaped; an older curl's \\\" is still a quote", async () => {
  // Browsers, Deno's and Node's FormData escape nothing (WHATWG), so a name
  // may end in a backslash or hold two.
  const partsOf = async (...dispositions: string[]) => {
    const lines = dispositions.flatMap((value) => [
      "--b",
      `Content-Disposition: ${value}`,
      "",
      "v",
    ]);
    const parts = [];
    for await (
      const part of parseMultipart(
        bytesReader(body(...lines, "--b--")),
        "multipart/form-data; boundary=b",
      )
    ) {
      parts.push([part.name, part.rawFilename]); // the rest is skipped
    }
    return parts;
  };
  assert.deepEqual(
    await partsOf(
      'form-data; name="a\\"',
      'form-data; name="x\\\\y"',
      'form-data; name="f"; filename="C:\\dir\\"',
      'form-data; name="g\\"; filename="a\\\\b.txt"',
    ),
    [
      ["a\\", null],
      ["x\\\\y", null],
      ["f", "C:\\dir\\"],
      ["g\\", "a\\\\b.txt"],
    ],
  );
  assert.deepEqual(
    await partsOf('form-data; name="say \\"hi\\""'),
    [['say "hi"', null]],
  );
});

Deno.test("multipart: malformed parts are 400", async () => {
  const type = "multipart/form-data; boundary=b";
  const cases: [string, Uint8Array][] = [
    ["no Content-Disposition", body("--b", "X-A: 1", "", "d", "--b--")],
    ["not form-data", disposition('attachment; name="a"')],
    ["no name", disposition('form-data; filename="a"')],
    [
      "repeated filename",
      disposition("form-data; name=a; filename=x; filename=y"),
    ],
    ["unclosed quote", disposition('form-data; name="a')],
    [
      "two Content-Disposition fields",
      body(
        "--b",
        'Content-Disposition: form-data; name="a"; filename="safe.txt"',
        'Content-Disposition: form-data; name="a"; filename="evil.php"',
        "",
        "d",
        "--b--",
      ),
    ],
    [
      "bare LF",
      latin1Bytes(
        '--b\r\nContent-Disposition: form-data; name="a"\n\r\nd\r\n--b--',
      ),
    ],
    [
      "bare CR",
      latin1Bytes(
        '--b\r\nContent-Disposition: form-data; name="a"\rx\r\n\r\nd\r\n--b--',
      ),
    ],
    [
      "folded",
      body(
        "--b",
        "Content-Disposition: form-data;",
        ' name="a"',
        "",
        "d",
        "--b--",
      ),
    ],
    [
      "no final boundary",
      body("--b", 'Content-Disposition: form-data; name="a"', "", "data"),
    ],
    [
      "cut after a delimiter",
      body(
        "--b",
        'Content-Disposition: form-data; name="a"',
        "",
        "data",
        "--b",
      ),
    ],
    [
      "cut in the head",
      latin1Bytes('--b\r\nContent-Disposition: form-data; name="a"\r\n'),
    ],
    ["only a preamble", latin1Bytes("just text")],
    ["empty", new Uint8Array()],
    [
      "junk after the boundary",
      body(
        "--b",
        'Content-Disposition: form-data; name="a"',
        "",
        "d",
        "--bX",
        "--b--",
      ),
    ],
    [
      "control character",
      body(
        "--b",
        'Content-Disposition: form-data; name="a\x01"',
        "",
        "d",
        "--b--",
      ),
    ],
  ];
  for (const [what, bytes] of cases) {
    await rejects(collect(bytesReader(bytes, 3), type), 400, undefined).catch(
      (error) => {
        throw new Error(`${what}: ${error.message}`);
      },
    );
  }
});

Deno.test("multipart: the boundary parameter is checked", async () => {
  const ok = (boundary: string) =>
    body(
      `--${boundary}`,
      'Content-Disposition: form-data; name="a"',
      "",
      "v",
      `--${boundary}--`,
    );
  const b70 = "x".repeat(70);
  assert.equal(
    (await collect(
      bytesReader(ok(b70)),
      `multipart/form-data; boundary=${b70}`,
    ))[0].body,
    "v",
  );
  assert.equal(
    (await collect(
      bytesReader(ok("a b:c")),
      'Multipart/Form-Data ; charset=utf-8; boundary="a b:c"',
    ))[0].body,
    "v",
  );
  // Unquoted "=" and "/" (some senders do it) are accepted.
  assert.equal(
    (await collect(
      bytesReader(ok("a=/b")),
      "multipart/form-data; boundary=a=/b",
    ))[0].body,
    "v",
  );
  for (
    const type of [
      "multipart/form-data",
      "multipart/form-data; boundary=",
      'multipart/form-data; boundary=""',
      `multipart/form-data; boundary=${"x".repeat(71)}`,
      'multipart/form-data; boundary="ends in space "',
      'multipart/form-data; boundary="semi;colon"',
      "multipart/form-data; boundary=a; boundary=b",
      'multipart/form-data; boundary="unclosed',
    ]
  ) {
    await rejects(collect(bytesReader(ok("x")), type), 400);
  }
  await rejects(
    collect(bytesReader(ok("x")), "multipart/mixed; boundary=x"),
    415,
  );
  await rejects(collect(bytesReader(ok("x")), "text/plain"), 415);
});

Deno.test("multipart: each limit is a 413", async () => {
  const type = "multipart/form-data; boundary=b";
  const field = body(
    "--b",
    'Content-Disposition: form-data; name="a"',
    "",
    "12345",
    "--b--",
  );
  await rejects(
    collect(bytesReader(field), type, { maxFieldSize: 4 }),
    413,
    /field/,
  );
  assert.equal(
    (await collect(bytesReader(field), type, { maxFieldSize: 5 }))[0].body,
    "12345",
  );
  const file = body(
    "--b",
    'Content-Disposition: form-data; name="a"; filename="f"',
    "",
    "12345",
    "--b--",
  );
  await rejects(
    collect(bytesReader(file), type, { maxFileSize: 4 }),
    413,
    /file/,
  );
  // The field limit does not bind files, nor the file limit fields.
  assert.equal(
    (await collect(bytesReader(file), type, { maxFieldSize: 1 }))[0].body,
    "12345",
  );
  assert.equal(
    (await collect(bytesReader(field), type, { maxFileSize: 1 }))[0].body,
    "12345",
  );
  await rejects(
    collect(bytesReader(field), type, { maxTotalSize: field.length - 1 }),
    413,
  );
  assert.equal(
    (await collect(bytesReader(field), type, { maxTotalSize: field.length }))
      .length,
    1,
  );
  await rejects(
    collect(bytesReader(field), type, { maxHeaderBytes: 20 }),
    413,
    /header/,
  );
  const three = body(
    ...["a", "b", "c"].flatMap((
      name,
    ) => ["--b", `Content-Disposition: form-data; name="${name}"`, "", name]),
    "--b--",
  );
  await rejects(
    collect(bytesReader(three), type, { maxParts: 2 }),
    413,
    /parts/,
  );
  assert.equal(
    (await collect(bytesReader(three), type, { maxParts: 3 })).length,
    3,
  );
  // A skipped part is bound too.
  await rejects(
    (async () => {
      for await (
        const _ of parseMultipart(bytesReader(field), type, { maxFieldSize: 4 })
      ) {
        // skipped
      }
    })(),
    413,
  );
  // A header section without an end stops at the limit, not at the buffer.
  const endless = chunkReader([
    latin1Bytes("--b\r\nX: "),
    ...Array.from({ length: 100 }, () => new Uint8Array(1000).fill(0x61)),
  ]);
  await rejects(collect(endless, type), 413, /header/);
});

Deno.test("multipart: bad limits are TypeError or RangeError", () => {
  const rfile = bytesReader(new Uint8Array());
  assert.throws(
    () => parseMultipart(rfile, TYPE, { maxParts: 1.5 }),
    TypeError,
  );
  assert.throws(
    () =>
      parseMultipart(rfile, TYPE, { maxFieldSize: null as unknown as number }),
    TypeError,
  );
  assert.throws(
    () => parseMultipart(rfile, TYPE, { maxFileSize: -1 }),
    RangeError,
  );
});

Deno.test("multipart: a failed parse stays failed", async () => {
  const type = "multipart/form-data; boundary=b";
  const file = body(
    "--b",
    'Content-Disposition: form-data; name="a"; filename="f"',
    "",
    "12345",
    "--b--",
  );
  for await (
    const part of parseMultipart(bytesReader(file), type, { maxFileSize: 2 })
  ) {
    await rejects(part.bytes(), 413);
    await rejects(part.read(new Uint8Array(10)), 413);
    break;
  }
});

Deno.test("parseForm: pairs, decoding and limits", async () => {
  const type = "application/x-www-form-urlencoded";
  const form = await parseForm(
    bytesReader(new TextEncoder().encode("a=1&b=%E2%82%AC+x&a=2&flag"), 2),
    `${type}; charset=UTF-8`,
  );
  assert.deepEqual([...form], [["a", "1"], ["b", "€ x"], ["a", "2"], [
    "flag",
    "",
  ]]);
  assert.deepEqual(
    [...await parseForm(bytesReader(new Uint8Array()), type)],
    [],
  );
  const bytes = new TextEncoder().encode("a=12345&b=2");
  await rejects(parseForm(bytesReader(bytes), type, { maxFieldSize: 10 }), 413);
  await rejects(parseForm(bytesReader(bytes), type, { maxTotalSize: 10 }), 413);
  assert.equal(
    (await parseForm(bytesReader(bytes), type, { maxFieldSize: 11 })).get("b"),
    "2",
  );
  await rejects(parseForm(bytesReader(bytes), type, { maxParts: 1 }), 413);
  // maxParts counts the pairs URLSearchParams makes: none for empty pieces.
  const padded = new TextEncoder().encode("&a=1&&");
  assert.deepEqual(
    [...await parseForm(bytesReader(padded), type, { maxParts: 1 })],
    [["a", "1"]],
  );
  assert.deepEqual(
    [...await parseForm(bytesReader(new Uint8Array(0)), type, { maxParts: 0 })],
    [],
  );
  await rejects(
    parseForm(bytesReader(bytes), "multipart/form-data; boundary=x"),
    415,
  );
  await rejects(
    parseForm(bytesReader(bytes), "application/x-www-form-urlencoded; x"),
    400,
  );
  await assert.rejects(
    parseForm(bytesReader(bytes), type, { maxParts: -1 }),
    RangeError,
  );
  // A large form in many reads.
  const big = new TextEncoder().encode("k=" + "v".repeat(500_000));
  assert.equal(
    (await parseForm(bytesReader(big, 4096), type)).get("k")!.length,
    500_000,
  );
});

Deno.test("multipart: random bodies agree with Request.formData()", async () => {
  const random = mulberry32(15);
  const pick = (alphabet: string[]) =>
    alphabet[Math.floor(random() * alphabet.length)];
  const boundary = "----formdata-deno-" + Math.floor(random() * 1e9);
  const delimiter = `\r\n--${boundary}`;
  // Bytes that come close to a delimiter: CR, LF, dashes, its prefixes.
  const pieces = [
    "\r",
    "\n",
    "-",
    "--",
    "a",
    "\r\n--",
    `--${boundary.slice(0, 9)}`,
  ];
  for (let round = 0; round < 60; round++) {
    const parts: { name: string; filename: string | null; data: string }[] = [];
    const count = 1 + Math.floor(random() * 4);
    for (let i = 0; i < count; i++) {
      let data = "";
      const length = Math.floor(random() * 40);
      for (let j = 0; j < length; j++) data += pick(pieces);
      if (("\r\n" + data + "\r\n").includes(delimiter)) data = "x";
      parts.push({
        name: `field${i}`,
        filename: random() < 0.5 ? `file${i}.bin` : null,
        data,
      });
    }
    const text = parts.map((part) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"` +
      (part.filename === null ? "" : `; filename="${part.filename}"`) +
      `\r\nContent-Type: application/octet-stream\r\n\r\n${part.data}\r\n`
    ).join("") + `--${boundary}--\r\n`;
    const bytes = latin1Bytes(text);
    const reference = await new Request("http://x/", {
      method: "POST",
      body: text,
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    }).formData();
    const want: Seen[] = [];
    for (const [name, value] of reference) {
      want.push({
        name,
        filename: typeof value === "string" ? null : value.name,
        contentType: "application/octet-stream",
        body: typeof value === "string"
          ? value
          : String.fromCharCode(...await value.bytes()),
      });
    }
    const step = 1 + Math.floor(random() * 50);
    const got = await collect(
      bytesReader(bytes, step),
      `multipart/form-data; boundary=${boundary}`,
    );
    assert.deepEqual(got, want, `round ${round}, reads of ${step}`);
  }
});

Deno.test("parseForm() and a part's reads never awaited are no unhandled rejection", async () => {
  const form = parseForm(
    bytesReader(latin1Bytes("a=123456789")),
    "application/x-www-form-urlencoded",
    { maxFieldSize: 4 },
  );
  const body = latin1Bytes(
    '------Bound\r\nContent-Disposition: form-data; name="f"\r\n\r\n' +
      "0123456789\r\n------Bound--\r\n",
  );
  const parts = parseMultipart(bytesReader(body), TYPE);
  const first = (await parts.next()).value as MultipartPart;
  const read = first.bytes(1);
  const text = first.text(1);
  // Long enough for a rejection nobody handles to be reported.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await assert.rejects(
    form,
    (e: unknown) => e instanceof HTTPError && e.status === 413,
  );
  await assert.rejects(
    read,
    (e: unknown) => e instanceof HTTPError && e.status === 413,
  );
  await assert.rejects(text);
  await parts.return(undefined);
});
