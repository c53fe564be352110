// Copyright 2026 the basehttp authors. MIT license.
import assert from "node:assert/strict";
import { listingHTML, listingOrder } from "../_listing.ts";
import {
  simpleHandler,
  type SimpleHandlerOptions,
  SimpleHTTPRequestHandler,
} from "../static.ts";
import { delay, exchange, parseResponses, startServer } from "./_util.ts";
import { rawRequest, treeHandler } from "./_static.ts";

// The tree every test serves: <tmp>/www, with <tmp>/outside next to it so
// that one ".." too many would land on a real file.
const tmp = await Deno.makeTempDir({ prefix: "basehttp_static_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(tmp, { recursive: true });
});
const root = `${tmp}/www`;
const BIG_SIZE = 32 * 1024 * 1024;

async function makeTree(): Promise<void> {
  const files: Record<string, string> = {
    "hello.txt": "hello\n",
    "digits.txt": "0123456789",
    "page.html": "<p>page</p>",
    "data.json": '{"a":1}',
    "app.js": "export {};",
    "feed.xml": '<?xml version="1.0" encoding="ISO-8859-1"?><feed/>',
    "style.css": "p{}",
    "archive.tar.gz": "not really gzip",
    "image.png": "\x89PNG",
    "noext": "?",
    "a b.txt": "space",
    "<&>.txt": "angle",
    "café.txt": "accent",
    "apple.txt": "a",
    "Zebra.txt": "z",
    "Banana.txt": "b",
    ".secret": "dot",
    ".hidden/x.txt": "hidden",
    "with index/index.html": "<h1>index</h1>",
    "with index/other.txt": "other",
    "nested/deeper/leaf.txt": "leaf",
    "nested/mid.txt": "mid",
    "empty/.keep": "",
  };
  await Deno.mkdir(`${tmp}/outside`);
  await Deno.writeTextFile(`${tmp}/outside/secret.txt`, "top secret");
  for (const [name, text] of Object.entries(files)) {
    const path = `${root}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  await Deno.symlink(`${tmp}/outside/secret.txt`, `${root}/escape.txt`);
  await Deno.symlink(`${tmp}/outside`, `${root}/escape-dir`);
  await Deno.symlink("hello.txt", `${root}/inner-link.txt`);
  await Deno.symlink("nested", `${root}/inner-dir`);
  await Deno.symlink(`${root}/nope`, `${root}/dangling`);
  // A large file of pseudo-random bytes (xorshift), so no two chunks match.
  const big = new Uint32Array(BIG_SIZE / 4);
  let x = 2463534242;
  for (let i = 0; i < big.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    big[i] = x >>> 0;
  }
  await Deno.writeFile(`${root}/big.bin`, new Uint8Array(big.buffer));
}
await makeTree();

const logs: string[] = [];

/** A handler over the test tree, HTTP/1.1, logging into `logs`. */
function handler(options: SimpleHandlerOptions = {}) {
  return treeHandler(root, logs, options);
}

const raw = rawRequest;

function get(port: number, path: string, init?: RequestInit) {
  return fetch(`http://127.0.0.1:${port}${path}`, init);
}

/** The ETag and Last-Modified a plain GET of `path` carries. */
async function validators(port: number, path: string) {
  const response = await get(port, path);
  await response.body?.cancel();
  return {
    etag: response.headers.get("etag")!,
    lastModified: response.headers.get("last-modified")!,
  };
}

async function sha256(data: BufferSource): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

Deno.test("SimpleHTTPRequestHandler serves a file with its type, length, validators and Accept-Ranges", async () => {
  await using s = startServer(handler());
  const response = await get(s.port, "/hello.txt");
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "hello\n");
  const h = response.headers;
  assert.match(h.get("server")!, /^SimpleHTTP\/0\.6 Deno\//);
  assert.equal(h.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(h.get("content-length"), "6");
  assert.equal(h.get("accept-ranges"), "bytes");
  assert.match(h.get("etag")!, /^"[^"]+"$/, "a strong, quoted ETag");
  const { mtime } = await Deno.stat(`${root}/hello.txt`);
  assert.equal(
    Date.parse(h.get("last-modified")!),
    Math.floor(mtime!.getTime() / 1000) * 1000,
  );
  // The same file answers with the same validators; another file differs.
  const again = await get(s.port, "/hello.txt");
  await again.body?.cancel();
  assert.equal(again.headers.get("etag"), h.get("etag"));
  const other = await get(s.port, "/digits.txt");
  await other.body?.cancel();
  assert.notEqual(other.headers.get("etag"), h.get("etag"));
});

Deno.test("guessType() takes Python's extensionsMap first, then mime-db, with charset=utf-8 for text, JSON and JS", async () => {
  await using s = startServer(handler());
  const expected: Record<string, string> = {
    "/page.html": "text/html; charset=utf-8",
    "/data.json": "application/json; charset=utf-8",
    "/app.js": "text/javascript; charset=utf-8",
    // Not text/xml, whose charset would override the file's own encoding.
    "/feed.xml": "application/xml",
    "/style.css": "text/css; charset=utf-8",
    "/archive.tar.gz": "application/gzip", // Python's map, not application/x-tar
    "/image.png": "image/png",
    "/noext": "application/octet-stream",
  };
  for (const [path, type] of Object.entries(expected)) {
    const response = await get(s.port, path);
    await response.body?.cancel();
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), type, path);
  }
  // extensionsMap adds to (and overrides) the database.
  await using custom = startServer(handler({
    extensionsMap: { ".txt": "text/x-custom", ".PNG": "image/x-upper" },
  }));
  const txt = await get(custom.port, "/hello.txt");
  await txt.body?.cancel();
  assert.equal(txt.headers.get("content-type"), "text/x-custom");
  const gz = await get(custom.port, "/archive.tar.gz");
  await gz.body?.cancel();
  assert.equal(gz.headers.get("content-type"), "application/gzip");
});

Deno.test("guessType() shows source code as text, where mime-db types it as a download", async () => {
  const dir = await Deno.makeTempDir({ prefix: "basehttp_types_" });
  try {
    const expected: Record<string, string> = {
      "x.cjs": "text/javascript; charset=utf-8",
      // Kept: an HLS segment, a camcorder clip, C source.
      "seg.ts": "video/mp2t",
      "clip.MTS": "video/mp2t",
      "x.c": "text/x-c; charset=utf-8",
    };
    for (const ext of ["py", "go", "rs", "rb", "sh", "tsx", "toml", "patch"]) {
      expected[`x.${ext}`] = "text/plain; charset=utf-8";
    }
    for (const name of Object.keys(expected)) {
      await Deno.writeTextFile(`${dir}/${name}`, "x");
    }
    await using s = startServer(handler({ directory: dir }));
    for (const [name, type] of Object.entries(expected)) {
      const response = await get(s.port, `/${name}`);
      await response.body?.cancel();
      assert.equal(response.headers.get("content-type"), type, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what the server keeps of targets and types follows each handler's directory, dotfiles and a map that can change", async () => {
  const other = await Deno.makeTempDir({ prefix: "basehttp_vhost_" });
  try {
    await Deno.writeTextFile(`${other}/hello.txt`, "other\n");
    await Deno.writeTextFile(`${other}/.hidden.txt`, "hidden\n");
    // A Python-style virtual host: the root comes from the request.
    const types: Record<string, string> = {};
    class Hosts extends SimpleHTTPRequestHandler {
      override protocolVersion = "HTTP/1.1";
      override extensionsMap = types; // not frozen: read every time
      override logMessage(): void {}
      override parseRequest(): boolean | Promise<boolean> {
        const parsed = super.parseRequest();
        const host = this.headers.get("host");
        this.directory = host === "b" ? other : root;
        this.showDotfiles = host === "b";
        return parsed;
      }
    }
    await using s = startServer(Hosts);
    const get = async (host: string, path: string) => {
      const { text } = await exchange(
        s.port,
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      return parseResponses(text)[0];
    };
    for (let round = 0; round < 2; round++) {
      assert.equal((await get("a", "/hello.txt")).body, "hello\n");
      assert.equal((await get("b", "/hello.txt")).body, "other\n");
      assert.equal((await get("a", "/.hidden.txt")).status, 404);
      assert.equal((await get("b", "/.hidden.txt")).status, 200);
    }
    assert.equal(
      (await get("a", "/hello.txt")).get("content-type"),
      "text/plain; charset=utf-8",
    );
    types[".txt"] = "text/x-changed";
    assert.equal(
      (await get("a", "/hello.txt")).get("content-type"),
      "text/x-changed",
    );
  } finally {
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test("twenty large copies at once, more than take 1 MiB buffers, each send their own bytes", async () => {
  // 16 copies at a time move in 1 MiB buffers, the others in 256 KiB ones.
  await using s = startServer(handler());
  const file = await Deno.readFile(`${root}/big.bin`);
  const ranges = Array.from({ length: 20 }, (_, i) => {
    const start = i * 1_000_003;
    return [start, start + 3_000_000 + i * 4099];
  });
  const responses = await Promise.all(
    ranges.map(([start, end]) =>
      get(s.port, "/big.bin", { headers: { range: `bytes=${start}-${end}` } })
    ),
  );
  await delay(300); // every copy waits on its client meanwhile
  for (const [i, response] of responses.entries()) {
    const [start, end] = ranges[i];
    assert.equal(response.status, 206);
    const bytes = new Uint8Array(await response.arrayBuffer());
    assert.ok(
      bytes.length === end - start + 1 &&
        bytes.every((byte, at) => byte === file[start + at]),
      `range ${i}`,
    );
  }
});

Deno.test("a 32 MiB file streams whole and intact (SHA-256), and the log has the real byte count", async () => {
  await using s = startServer(handler());
  logs.length = 0;
  const response = await get(s.port, "/big.bin");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), String(BIG_SIZE));
  assert.equal(
    response.headers.get("content-type"),
    "application/octet-stream",
  );
  const body = await response.arrayBuffer();
  assert.equal(body.byteLength, BIG_SIZE);
  const file = await Deno.readFile(`${root}/big.bin`);
  assert.equal(await sha256(body), await sha256(file));
  // A range from the middle of the large file, across chunk boundaries.
  const start = 3 * 65536 - 17;
  const end = start + 200_000;
  const part = await get(s.port, "/big.bin", {
    headers: { range: `bytes=${start}-${end}` },
  });
  assert.equal(part.status, 206);
  const bytes = new Uint8Array(await part.arrayBuffer());
  assert.deepEqual(bytes, file.subarray(start, end + 1));
  assert.ok(
    logs.some((line) =>
      line.includes(`"GET /big.bin HTTP/1.1" 200 ${BIG_SIZE}`)
    ),
    logs.join("\n"),
  );
  assert.ok(logs.some((line) => line.includes(`206 ${end - start + 1}`)));
});

Deno.test("HEAD sends GET's header fields and no body, on a kept-alive connection", async () => {
  await using s = startServer(handler());
  const { text } = await exchange(s.port, [
    "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n",
    "GET /digits.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
  ]);
  // A stray body byte after a HEAD would break the parse of what follows.
  const [file, listing, after] = parseResponses(text, (i) => i < 2);
  assert.equal(file.status, 200);
  assert.equal(file.get("content-length"), "6");
  assert.equal(file.get("content-type"), "text/plain; charset=utf-8");
  assert.ok(file.get("etag"));
  assert.equal(listing.status, 200);
  assert.ok(Number(listing.get("content-length")) > 500);
  assert.equal(after.status, 200);
  assert.equal(after.body, "0123456789");
});

Deno.test("If-None-Match gives 304 keeping ETag and Last-Modified, and wins over If-Modified-Since", async () => {
  await using s = startServer(handler());
  const { etag, lastModified } = await validators(s.port, "/hello.txt");
  for (const value of [etag, `W/${etag}`, `"x", ${etag}`, "*"]) {
    const r = await raw(s.port, "/hello.txt", {
      headers: `If-None-Match: ${value}\r\n`,
    });
    assert.equal(r.status, 304, value);
    assert.equal(r.get("etag"), etag);
    assert.equal(r.get("last-modified"), lastModified);
    assert.equal(r.get("content-length"), undefined);
    assert.equal(r.body, "");
  }
  // A different tag means changed, whatever If-Modified-Since says.
  const changed = await raw(s.port, "/hello.txt", {
    headers: `If-None-Match: "other"\r\nIf-Modified-Since: ${lastModified}\r\n`,
  });
  assert.equal(changed.status, 200);
  assert.equal(changed.body, "hello\n");
  // HEAD gets the 304 too.
  const head = await raw(s.port, "/hello.txt", {
    method: "HEAD",
    headers: `If-None-Match: ${etag}\r\n`,
  });
  assert.equal(head.status, 304);
});

Deno.test("If-Modified-Since gives 304 when unchanged, in all three HTTP-date forms", async () => {
  await using s = startServer(handler());
  const { lastModified } = await validators(s.port, "/hello.txt");
  const date = new Date(lastModified);
  const rfc850 = date.toUTCString().replace(
    /^(\w+), (\d\d) (\w+) \d\d(\d\d)/,
    (_, day: string, d: string, m: string, y: string) =>
      `${
        {
          Mon: "Monday",
          Tue: "Tuesday",
          Wed: "Wednesday",
          Thu: "Thursday",
          Fri: "Friday",
          Sat: "Saturday",
          Sun: "Sunday",
        }[day]
      }, ${d}-${m}-${y}`,
  );
  const [wd, , mon, yyyy, time] = date.toUTCString().split(" ");
  const asctime = `${wd.slice(0, 3)} ${mon} ${
    String(date.getUTCDate()).padStart(2, " ")
  } ${time} ${yyyy}`;
  for (const value of [lastModified, rfc850, asctime]) {
    const r = await raw(s.port, "/hello.txt", {
      headers: `If-Modified-Since: ${value}\r\n`,
    });
    assert.equal(r.status, 304, value);
    assert.equal(r.get("last-modified"), lastModified);
  }
  const older = new Date(date.getTime() - 86400_000).toUTCString();
  for (const value of [older, "garbage", "Mon, 32 Jan 2026 00:00:00 GMT"]) {
    const r = await raw(s.port, "/hello.txt", {
      headers: `If-Modified-Since: ${value}\r\n`,
    });
    assert.equal(r.status, 200, value);
    assert.equal(r.body, "hello\n");
  }
});

Deno.test("If-Match and If-Unmodified-Since give 412, checked before If-None-Match", async () => {
  await using s = startServer(handler());
  const { etag, lastModified } = await validators(s.port, "/hello.txt");
  const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  const cases: [string, number][] = [
    [`If-Match: "nope"`, 412],
    [`If-Match: W/${etag}`, 412], // weak tags never match strongly
    [`If-Match: ${etag}`, 200],
    [`If-Match: "a", ${etag}`, 200],
    [`If-Match: *`, 200],
    [`If-Unmodified-Since: ${older}`, 412],
    [`If-Unmodified-Since: ${lastModified}`, 200],
    [`If-Unmodified-Since: not a date`, 200],
    // If-Match present: If-Unmodified-Since is not evaluated.
    [`If-Match: ${etag}\r\nIf-Unmodified-Since: ${older}`, 200],
    // The failed If-Match decides before an If-None-Match that would 304.
    [`If-Match: "nope"\r\nIf-None-Match: ${etag}`, 412],
    [`If-Match: ${etag}\r\nIf-None-Match: ${etag}`, 304],
  ];
  for (const [headers, status] of cases) {
    const r = await raw(s.port, "/hello.txt", { headers: `${headers}\r\n` });
    assert.equal(r.status, status, headers);
    if (status === 412) assert.match(r.body, /Precondition Failed/);
  }
});

Deno.test("a date field or an If-Range sent on two lines is ignored, as a list is (RFC 9110 §13.1.3-5)", async () => {
  await using s = startServer(handler());
  const { etag, lastModified } = await validators(s.port, "/digits.txt");
  const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  const twice = (name: string, value: string, second = value) =>
    `${name}: ${value}\r\n${name}: ${second}\r\n`;
  const cases: [string, number][] = [
    [twice("If-Modified-Since", lastModified), 200],
    [twice("If-Unmodified-Since", older), 200],
    // One line with two dates was ignored already: the same value.
    [`If-Modified-Since: ${lastModified}, ${lastModified}\r\n`, 200],
    [`Range: bytes=0-3\r\n${twice("If-Range", lastModified)}`, 200],
    // If-Range has one validator: an entity-tag on two lines is not one.
    [`Range: bytes=0-3\r\n${twice("If-Range", etag, '"other"')}`, 200],
    [`Range: bytes=0-3\r\n${twice("If-Range", etag, lastModified)}`, 200],
  ];
  for (const [headers, status] of cases) {
    const r = await raw(s.port, "/digits.txt", { headers });
    assert.equal(r.status, status, headers);
    assert.equal(r.body, "0123456789", headers);
  }
});

Deno.test("a listing's preconditions: it exists, with no entity-tag or date", async () => {
  await using s = startServer(handler());
  const cases: [string, number][] = [
    ['If-Match: "x"', 412],
    ["If-Match: *", 200],
    ["If-None-Match: *", 304],
    ['If-None-Match: "x"', 200],
    ["If-Modified-Since: Sat, 01 Jun 2099 12:00:00 GMT", 200],
    ["If-Unmodified-Since: Sat, 01 Jun 2000 12:00:00 GMT", 200],
  ];
  for (const method of ["GET", "HEAD"]) {
    for (const [headers, status] of cases) {
      const r = await raw(s.port, "/nested/", {
        method,
        headers: `${headers}\r\n`,
      });
      assert.equal(r.status, status, `${method} ${headers}`);
      if (status === 304) {
        assert.equal(r.get("vary"), "Accept");
        assert.equal(r.body, "");
      }
      if (status === 200 && method === "GET") {
        assert.match(r.body, /mid\.txt/);
      }
    }
  }
});

Deno.test("a file dated in the future is sent with its Date as Last-Modified (RFC 9110 §8.8.2.1)", async () => {
  const path = `${root}/future.txt`;
  await Deno.writeTextFile(path, "soon");
  const tomorrow = Date.now() / 1000 + 86400;
  await Deno.utime(path, tomorrow, tomorrow);
  try {
    await using s = startServer(handler());
    const r = await raw(s.port, "/future.txt");
    assert.equal(r.status, 200);
    assert.equal(r.get("last-modified"), r.get("date"));
    const revalidated = await raw(s.port, "/future.txt", {
      headers: `If-None-Match: ${r.get("etag")}\r\n`,
    });
    assert.equal(revalidated.status, 304);
    assert.ok(
      Date.parse(revalidated.get("last-modified")!) <=
        Date.parse(revalidated.get("date")!),
    );
    // The file is still dated later than any date sent: not unmodified.
    const since = await raw(s.port, "/future.txt", {
      headers: `If-Modified-Since: ${r.get("last-modified")}\r\n`,
    });
    assert.equal(since.status, 200);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("Range a-b, a- and -n give 206 with Content-Range", async () => {
  await using s = startServer(handler());
  const cases: [string, string, string][] = [
    ["bytes=2-5", "2345", "bytes 2-5/10"],
    ["bytes=7-", "789", "bytes 7-9/10"],
    ["bytes=-3", "789", "bytes 7-9/10"],
    ["bytes=5-100", "56789", "bytes 5-9/10"],
    ["bytes=-100", "0123456789", "bytes 0-9/10"],
    ["bytes=0-0", "0", "bytes 0-0/10"],
    ["BYTES=9-9", "9", "bytes 9-9/10"],
  ];
  for (const [range, body, contentRange] of cases) {
    const r = await raw(s.port, "/digits.txt", {
      headers: `Range: ${range}\r\n`,
    });
    assert.equal(r.status, 206, range);
    assert.equal(r.body, body, range);
    assert.equal(r.get("content-range"), contentRange, range);
    assert.equal(r.get("content-length"), String(body.length));
    assert.equal(r.get("accept-ranges"), "bytes");
    assert.equal(r.get("content-type"), "text/plain; charset=utf-8");
  }
});

Deno.test("an unsatisfiable Range gives 416 with bytes */size; multiple or malformed ranges give the whole file", async () => {
  await using s = startServer(handler());
  for (const range of ["bytes=10-", "bytes=10-20", "bytes=-0"]) {
    const r = await raw(s.port, "/digits.txt", {
      headers: `Range: ${range}\r\n`,
    });
    assert.equal(r.status, 416, range);
    assert.equal(r.get("content-range"), "bytes */10", range);
    assert.match(r.body, /Range Not Satisfiable/);
  }
  for (
    const range of [
      "bytes=0-1,3-4",
      "bytes=5-2",
      "items=0-1",
      "bytes=abc",
      "bytes=-",
      "bytes 0-1",
    ]
  ) {
    const r = await raw(s.port, "/digits.txt", {
      headers: `Range: ${range}\r\n`,
    });
    assert.equal(r.status, 200, range);
    assert.equal(r.body, "0123456789", range);
    assert.equal(r.get("content-range"), undefined);
  }
  // HEAD has no range semantics: the 200 header fields.
  const head = await raw(s.port, "/digits.txt", {
    method: "HEAD",
    headers: "Range: bytes=0-1\r\n",
  });
  assert.equal(head.status, 200);
  assert.equal(head.get("content-length"), "10");
});

Deno.test("If-Range with the current ETag or date honours Range; anything else gets the whole file", async () => {
  await using s = startServer(handler());
  const minuteAgo = new Date(Date.now() - 60_000);
  await Deno.utime(`${root}/digits.txt`, minuteAgo, minuteAgo);
  const { etag, lastModified } = await validators(s.port, "/digits.txt");
  const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
  const cases: [string, number][] = [
    [etag, 206],
    [lastModified, 206],
    ['"stale"', 200],
    [`W/${etag}`, 200], // If-Range needs a strong match
    [older, 200],
    ["junk", 200],
  ];
  for (const [ifRange, status] of cases) {
    const r = await raw(s.port, "/digits.txt", {
      headers: `Range: bytes=0-3\r\nIf-Range: ${ifRange}\r\n`,
    });
    assert.equal(r.status, status, ifRange);
    assert.equal(r.body, status === 206 ? "0123" : "0123456789", ifRange);
  }
});

Deno.test("If-Range with the date of a file changed this second gets the whole file: that Last-Modified is a weak validator (RFC 9110 §8.8.2.2, §13.1.5)", async () => {
  await using s = startServer(handler());
  const path = `${root}/fresh.txt`;
  await Deno.writeTextFile(path, "0123456789");
  try {
    const { etag, lastModified } = await validators(s.port, "/fresh.txt");
    const ask = (ifRange: string) =>
      raw(s.port, "/fresh.txt", {
        headers: `Range: bytes=0-3\r\nIf-Range: ${ifRange}\r\n`,
      });
    assert.equal((await ask(lastModified)).status, 200);
    assert.equal((await ask(etag)).status, 206); // the ETag is strong
    // Once a second has passed since, the date is strong.
    const old = new Date(Date.now() - 5000);
    await Deno.utime(path, old, old);
    const then = await validators(s.port, "/fresh.txt");
    const r = await ask(then.lastModified);
    assert.equal(r.status, 206);
    assert.equal(r.body, "0123");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("a directory without its trailing slash is redirected 301, keeping the query", async () => {
  await using s = startServer(handler());
  const cases: [string, string][] = [
    ["/nested", "/nested/"],
    ["/nested?x=1&y=%20", "/nested/?x=1&y=%20"],
    ["/nested#frag", "/nested/#frag"],
    ["/with%20index?q", "/with%20index/?q"],
    ["/nested/deeper", "/nested/deeper/"],
    ["http://example.com/nested?x", "/nested/?x"], // absolute-form
    ["http://example.com//evil.example/../nested", "/evil.example/../nested/"],
  ];
  for (const [target, location] of cases) {
    const r = await raw(s.port, target);
    assert.equal(r.status, 301, target);
    assert.equal(r.get("location"), location, target);
    assert.equal(r.get("content-length"), "0");
  }
  // fetch follows it to the listing.
  const followed = await get(s.port, "/nested?x=1");
  assert.equal(followed.status, 200);
  assert.equal(followed.url, `http://127.0.0.1:${s.port}/nested/?x=1`);
  assert.match(await followed.text(), /Directory listing for \/nested\//);
  // An encoded trailing slash counts as one (Python 3.14); the listing's
  // links still resolve into the directory, not beside it.
  const encoded = await raw(s.port, "/nested%2F");
  assert.equal(encoded.status, 200);
  const page = `http://127.0.0.1:${s.port}/nested%2F`;
  const base = /<base href="([^"]*)">/.exec(encoded.body)?.[1] ?? "";
  const href = /<a href="([^"?]+\.txt)">/.exec(encoded.body)![1];
  const link = new URL(href, new URL(base, page));
  assert.equal((await raw(s.port, link.pathname)).status, 200, link.href);
});

Deno.test("a directory with an index page serves it, found through the index list", async () => {
  await using s = startServer(handler());
  const r = await get(s.port, "/with%20index/");
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await r.text(), "<h1>index</h1>");
  // indexPages decides which names count.
  await using other = startServer(handler({ indexPages: ["other.txt"] }));
  const o = await get(other.port, "/with%20index/");
  assert.equal(o.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await o.text(), "other");
  await using none = startServer(handler({ indexPages: [] }));
  const listing = await get(none.port, "/with%20index/");
  assert.match(await listing.text(), /href="index\.html"/);
});

Deno.test("the listing is sorted, escaped, URL-encoded, sized and dated, and reads on a phone and in dark mode", async () => {
  await using s = startServer(handler());
  const response = await get(s.port, "/");
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  const html = await response.text();
  assert.equal(
    Number(response.headers.get("content-length")),
    new TextEncoder().encode(html).length,
  );
  assert.match(
    html,
    /<meta name="viewport" content="width=device-width, initial-scale=1">/,
  );
  assert.match(html, /color-scheme: light dark/);
  // An empty icon: a browser asks for none (a 404 in its console).
  assert.match(html, /<link rel="icon" href="data:,">/);
  assert.match(html, /<title>Directory listing for \/<\/title>/);
  assert.doesNotMatch(html, /href="\.\.\/"/, "no parent link at the root");
  // The names, past the column headers (which link to sorts).
  const rows = html.slice(html.indexOf("<tbody>"));
  const hrefs = [...rows.matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)].map((
    m,
  ) => [m[1], m[2]]);
  assert.deepEqual(
    hrefs,
    [
      ["%3C%26%3E.txt", "&lt;&amp;&gt;.txt"],
      ["a%20b.txt", "a b.txt"],
      ["app.js", "app.js"],
      ["apple.txt", "apple.txt"],
      ["archive.tar.gz", "archive.tar.gz"],
      ["Banana.txt", "Banana.txt"],
      ["big.bin", "big.bin"],
      ["caf%C3%A9.txt", "café.txt"],
      ["data.json", "data.json"],
      ["digits.txt", "digits.txt"],
      ["empty/", "empty/"],
      ["feed.xml", "feed.xml"],
      ["hello.txt", "hello.txt"],
      ["image.png", "image.png"],
      ["inner-dir/", "inner-dir@"],
      ["inner-link.txt", "inner-link.txt@"],
      ["nested/", "nested/"],
      ["noext", "noext"],
      ["page.html", "page.html"],
      ["style.css", "style.css"],
      ["with%20index/", "with index/"],
      ["Zebra.txt", "Zebra.txt"],
    ],
    "sorted case-insensitively; no dotfiles, no links out of the root, no dangling links",
  );
  assert.match(html, /<span title="6 bytes">6 B<\/span>/);
  assert.match(html, /<span title="33554432 bytes">32\.0 MiB<\/span>/);
  const one = new TextDecoder().decode(listingHTML(
    "/",
    [{
      name: "one",
      isDirectory: false,
      isSymlink: false,
      size: 1,
      mtime: null,
    }],
    listingOrder(""),
    false,
  ));
  assert.match(one, /<span title="1 byte">1 B<\/span>/);
  const { mtime } = await Deno.stat(`${root}/hello.txt`);
  const iso = mtime!.toISOString();
  assert.ok(
    html.includes(
      `<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 19)}</time>`,
    ),
  );
  // A subdirectory has the parent link; the title drops the query.
  const sub = await (await get(s.port, "/nested/?q=%3Cb%3E")).text();
  assert.match(sub, /<title>Directory listing for \/nested\/<\/title>/);
  assert.match(sub, /<a href="\.\.\/">\.\.\/<\/a>/);
  assert.match(sub, /<a href="deeper\/">deeper\/<\/a>/);
  assert.match(sub, /<a href="mid\.txt">mid\.txt<\/a>/);
  // Names in the title are decoded and escaped.
  const weird = await Deno.mkdir(`${root}/nested/<b> & "q"`).then(() =>
    get(s.port, "/nested/%3Cb%3E%20%26%20%22q%22/")
  );
  const weirdHtml = await weird.text();
  await Deno.remove(`${root}/nested/<b> & "q"`);
  assert.match(
    weirdHtml,
    /<h1>Directory listing for \/nested\/&lt;b&gt; &amp; &quot;q&quot;\/<\/h1>/,
  );
});

Deno.test("traversal attempts never leave the directory: .., %2e%2e, %2f, backslash, NUL, bad UTF-8, absolute-form", async () => {
  await using s = startServer(handler());
  const targets = [
    "/../outside/secret.txt",
    "/nested/../../outside/secret.txt",
    "/%2e%2e/outside/secret.txt",
    "/%2E%2E/outside/secret.txt",
    "/..%2foutside%2fsecret.txt",
    "/%2e%2e%2foutside%2fsecret.txt",
    "/nested/..%2F..%2F..%2Foutside/secret.txt",
    "/..\\outside\\secret.txt",
    "/%5c..%5coutside%5csecret.txt",
    "/hello.txt%00.png",
    "/%ff%fe",
    "/%e9",
    "/%zz",
    "http://127.0.0.1/../outside/secret.txt",
    "http://127.0.0.1/%2e%2e/outside/secret.txt",
    "/hello.txt/",
    "/hello.txt%2f",
  ];
  for (const target of targets) {
    const r = await raw(s.port, target);
    assert.ok(r.status === 404 || r.status === 400, `${target}: ${r.status}`);
    assert.doesNotMatch(r.body, /top secret/, target);
  }
  // The dropped ".." resolve inside the root.
  const inside = await raw(s.port, "/../../hello.txt");
  assert.equal(inside.status, 200);
  assert.equal(inside.body, "hello\n");
  const encoded = await raw(s.port, "/nested/%2e%2e/digits.txt");
  assert.equal(encoded.body, "0123456789");
  // An absolute-form target serves its path; a raw NUL never parses.
  const absolute = await raw(s.port, "http://example.com/hello.txt?x=1");
  assert.equal(absolute.status, 200);
  assert.equal(absolute.body, "hello\n");
  const nul = await exchange(
    s.port,
    "GET /hello.txt\0 HTTP/1.1\r\nHost: t\r\n\r\n",
  );
  assert.match(nul.text, /^HTTP\/1\.1 400 /);
});

Deno.test("symlinks that resolve outside the directory are 404; followSymlinks serves them", async () => {
  await using s = startServer(handler());
  for (
    const target of [
      "/escape.txt",
      "/escape-dir/secret.txt",
      "/escape-dir/",
      "/escape-dir",
      "/dangling",
    ]
  ) {
    const r = await raw(s.port, target);
    assert.equal(r.status, 404, target);
    assert.doesNotMatch(r.body, /top secret/);
  }
  // Links that stay inside are fine.
  assert.equal((await raw(s.port, "/inner-link.txt")).body, "hello\n");
  assert.equal((await raw(s.port, "/inner-dir/mid.txt")).body, "mid");

  await using open = startServer(handler({ followSymlinks: true }));
  assert.equal((await raw(open.port, "/escape.txt")).body, "top secret");
  assert.equal(
    (await raw(open.port, "/escape-dir/secret.txt")).body,
    "top secret",
  );
  const listing = await (await get(open.port, "/")).text();
  assert.match(listing, /href="escape-dir\/">escape-dir@/);
});

Deno.test({
  name: "a name with a backslash, which is never served, is not listed",
  ignore: Deno.build.os === "windows",
  async fn() {
    const file = `${root}/nested/deeper/back\\slash.txt`;
    await Deno.writeTextFile(file, "x");
    try {
      await using s = startServer(handler());
      const path = "/nested/deeper/back%5Cslash.txt";
      assert.equal((await raw(s.port, path)).status, 404);
      const listing = await (await get(s.port, "/nested/deeper/")).text();
      assert.match(listing, /leaf\.txt/);
      assert.doesNotMatch(listing, /slash/);
    } finally {
      await Deno.remove(file);
    }
  },
});

Deno.test({
  name: "a FIFO is neither served (it would block) nor listed",
  ignore: Deno.build.os === "windows",
  async fn() {
    const fifo = `${root}/nested/deeper/pipe`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output()
      .catch(() => null);
    if (made === null || !made.success) return; // no mkfifo here
    try {
      await using s = startServer(handler());
      assert.equal((await raw(s.port, "/nested/deeper/pipe")).status, 404);
      const listing = await (await get(s.port, "/nested/deeper/")).text();
      assert.match(listing, /leaf\.txt/);
      assert.doesNotMatch(listing, /pipe/);
    } finally {
      await Deno.remove(fifo);
    }
  },
});

Deno.test("dotfiles are 404 and unlisted by default; showDotfiles serves and lists them", async () => {
  await using s = startServer(handler());
  for (
    const target of [
      "/.secret",
      "/%2esecret",
      "/.hidden/x.txt",
      "/.hidden/",
      "/nested/../.secret",
      "/empty/.keep",
    ]
  ) {
    assert.equal((await raw(s.port, target)).status, 404, target);
  }
  const empty = await (await get(s.port, "/empty/")).text();
  assert.doesNotMatch(empty, /\.keep/);

  await using shown = startServer(handler({ showDotfiles: true }));
  assert.equal((await raw(shown.port, "/.secret")).body, "dot");
  assert.equal((await raw(shown.port, "/.hidden/x.txt")).body, "hidden");
  const listing = await (await get(shown.port, "/")).text();
  assert.match(listing, /href="\.secret">\.secret</);
  assert.match(listing, /href="\.hidden\/">\.hidden\/</);
});

Deno.test("methods other than GET and HEAD get Python's 501", async () => {
  await using s = startServer(handler());
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) {
    const r = await raw(s.port, "/hello.txt", { method });
    assert.equal(r.status, 501, method);
    assert.equal(r.statusLine, `HTTP/1.1 501 Unsupported method ('${method}')`);
  }
  assert.equal(await Deno.readTextFile(`${root}/hello.txt`), "hello\n");
});

Deno.test("extraResponseHeaders go on 200, 206 and 304 only; cors on every response", async () => {
  await using s = startServer(handler({
    extraResponseHeaders: [["X-Test", "yes"], [
      "Cross-Origin-Opener-Policy",
      "same-origin",
    ]],
    cors: true,
  }));
  const file = await raw(s.port, "/hello.txt");
  assert.equal(file.get("x-test"), "yes");
  assert.equal(file.get("cross-origin-opener-policy"), "same-origin");
  assert.equal(file.get("access-control-allow-origin"), "*");
  const partial = await raw(s.port, "/digits.txt", {
    headers: "Range: bytes=0-1\r\n",
  });
  assert.equal(partial.status, 206);
  assert.equal(partial.get("x-test"), "yes");
  const listing = await raw(s.port, "/nested/");
  assert.equal(listing.status, 200);
  assert.equal(listing.get("x-test"), "yes");
  const notModified = await raw(s.port, "/hello.txt", {
    headers: `If-None-Match: ${file.get("etag")}\r\n`,
  });
  for (
    const [target, status, headers] of [
      ["/nested", 301, ""],
      ["/missing", 404, ""],
      ["/digits.txt", 416, "Range: bytes=99-\r\n"],
    ] as const
  ) {
    const r = await raw(s.port, target, { headers });
    assert.equal(r.status, status);
    assert.equal(r.get("x-test"), undefined, target);
    assert.equal(r.get("access-control-allow-origin"), "*", target);
  }
  assert.equal(notModified.status, 304);
  // RFC 9110 §15.4.5: a 304 carries what the 200 would, for caches.
  assert.equal(notModified.get("x-test"), "yes");
  assert.equal(notModified.get("access-control-allow-origin"), "*");
  // Without cors, no CORS header.
  await using plain = startServer(handler());
  assert.equal(
    (await raw(plain.port, "/hello.txt")).get("access-control-allow-origin"),
    undefined,
  );
});

Deno.test("the root listed through a path that resolves to it has no parent link", async () => {
  await using s = startServer(handler());
  for (const target of ["/./", "//", "/nested/../", "/%2e/", "/../"]) {
    const r = await raw(s.port, target);
    assert.equal(r.status, 200, target);
    assert.doesNotMatch(r.body, /href="\.\.\/"/, target);
  }
  assert.match((await raw(s.port, "/nested/./")).body, /href="\.\.\/"/);
});

Deno.test("showDirListing: false answers 403 for a directory without an index page, still serves index pages", async () => {
  await using s = startServer(handler({ showDirListing: false }));
  const r = await raw(s.port, "/nested/");
  assert.equal(r.status, 403);
  assert.doesNotMatch(r.body, /mid\.txt/);
  assert.equal((await raw(s.port, "/with%20index/")).body, "<h1>index</h1>");
  assert.equal((await raw(s.port, "/nested/mid.txt")).body, "mid");
});

Deno.test("SimpleHTTPRequestHandler defaults to the working directory, protocol HTTP/1.0 and Python's server string", async () => {
  class Quiet extends SimpleHTTPRequestHandler {
    override logMessage(): void {}
  }
  await using s = startServer(Quiet);
  const r = await raw(s.port, "/");
  assert.equal(r.statusLine, "HTTP/1.0 200 OK");
  assert.match(r.get("server")!, /^SimpleHTTP\/0\.6 /);
  const visible = [];
  for await (const entry of Deno.readDir(Deno.cwd())) {
    if (!entry.name.startsWith(".")) visible.push(entry.name);
  }
  for (const name of visible) {
    assert.ok(r.body.includes(`>${name}`), name);
  }
});

Deno.test("simpleHandler() rejects bad options with TypeError and RangeError", () => {
  assert.throws(
    () => simpleHandler({ directory: 1 as unknown as string }),
    TypeError,
  );
  assert.throws(() => simpleHandler({ indexPages: ["a/b.html"] }), TypeError);
  assert.throws(
    () => simpleHandler({ showDotfiles: "yes" as unknown as boolean }),
    TypeError,
  );
  assert.throws(
    () => simpleHandler({ extraResponseHeaders: [["Bad Name", "x"]] }),
    TypeError,
  );
  assert.throws(
    () => simpleHandler({ extraResponseHeaders: [["X", "a\r\nb"]] }),
    TypeError,
  );
  assert.throws(
    () => simpleHandler({ protocolVersion: "HTTP/2.0" }),
    RangeError,
  );
  // Fetch refuses credentials answered with *, which cors alone sends.
  const credentials = [["Access-Control-Allow-Credentials", "true"]] as const;
  assert.throws(
    () => simpleHandler({ cors: true, extraResponseHeaders: credentials }),
    /needs corsOrigins/,
  );
  simpleHandler({
    corsOrigins: ["https://a.example"],
    extraResponseHeaders: credentials,
  });
  const Handler = simpleHandler({ directory: "relative/dir" });
  assert.ok(Handler.prototype instanceof SimpleHTTPRequestHandler);
});
