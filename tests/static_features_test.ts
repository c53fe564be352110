// Copyright 2026 the basehttp authors. MIT license.
// The static server's features beyond Python (issue 14): CORS preflights
// and origins, compression, SPA fallback and 404.html, Basic auth,
// Cache-Control, and listings for programs; over real sockets, against a
// temporary tree.
import assert from "node:assert/strict";
import {
  simpleHandler,
  type SimpleHandlerOptions,
  type SimpleHTTPRequestHandler,
} from "../static.ts";
import { BASIC_AUTH, type BasicAuths } from "../_basic_auth.ts";
import {
  exchange,
  latin1Bytes,
  mulberry32,
  parseResponses,
  startServer,
} from "./_util.ts";
import type { ParsedResponse } from "./_util.ts";
import { rawRequest, treeHandler } from "./_static.ts";

const tmp = await Deno.makeTempDir({ prefix: "basehttp_features_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(tmp, { recursive: true });
});
const root = `${tmp}/www`;
const encoder = new TextEncoder();

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return await new Response(stream).bytes();
}

/** A body received as Latin-1 text, as bytes. */
function latin1(body: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(body, (c) => c.charCodeAt(0));
}

/** Decodes a body received as Latin-1 text. */
async function decode(body: string, coding: string): Promise<string> {
  const format = (coding === "br" ? "brotli" : "gzip") as CompressionFormat;
  const stream = new Blob([latin1(body)]).stream().pipeThrough(
    new DecompressionStream(format),
  );
  return await new Response(stream).text();
}

const APP_JS = "export const answer = 42;\n".repeat(200);
// Words from a seeded PRNG: compressible, but not to nothing.
const random = mulberry32(14);
const BIG_TXT = Array.from(
  { length: 100_000 },
  () => Math.floor(random() * 1e6).toString(36),
).join(" ");
const PRE_CSS = "body { color: black; }\n".repeat(100);
const PRE_CSS_GZ_TEXT = "/* from the .gz sibling */\n".repeat(100);
// Under the size compressed on the fly, with a fresh sibling of its own.
const TINY_CSS = "p { margin: 0; }\n";
const INDEX_HTML = "<!doctype html><title>app</title>";
const NOT_FOUND_HTML = "<!doctype html><h1>Nothing here</h1>";

async function makeTree(): Promise<void> {
  const files: Record<string, string> = {
    "app.js": APP_JS,
    "big.txt": BIG_TXT,
    "small.txt": "small\n",
    "pre.css": PRE_CSS,
    "tiny.css": TINY_CSS,
    "stale.css": PRE_CSS,
    "index.html": INDEX_HTML,
    "page.xhtml": INDEX_HTML,
    "404.html": NOT_FOUND_HTML,
    "sizes/a-large.txt": "x".repeat(3000),
    "sizes/B-small.txt": "x",
    "sizes/c-medium.txt": "x".repeat(200),
    "sizes/sub/file.txt": "in sub",
  };
  await Deno.mkdir(`${tmp}/outside`);
  await Deno.writeTextFile(`${tmp}/outside/404.html`, "outside 404");
  for (const [name, text] of Object.entries(files)) {
    const path = `${root}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  await Deno.writeFile(
    `${root}/image.png`,
    new Uint8Array(4096).map((_, i) => i * 7),
  );
  // A fresh sibling (written after the file) and a stale one (older).
  await Deno.writeFile(`${root}/pre.css.gz`, await gzip(PRE_CSS_GZ_TEXT));
  await Deno.writeFile(`${root}/stale.css.gz`, await gzip(PRE_CSS_GZ_TEXT));
  await Deno.writeFile(`${root}/tiny.css.gz`, await gzip(TINY_CSS));
  const now = Date.now() / 1000;
  await Deno.utime(`${root}/pre.css`, now - 100, now - 100);
  await Deno.utime(`${root}/tiny.css`, now - 100, now - 100);
  await Deno.utime(`${root}/stale.css.gz`, now - 200, now - 200);
  // Distinct mtimes for the sort by time: c, then a, then B.
  await Deno.utime(`${root}/sizes/c-medium.txt`, now - 300, now - 300);
  await Deno.utime(`${root}/sizes/a-large.txt`, now - 200, now - 200);
  await Deno.utime(`${root}/sizes/B-small.txt`, now - 100, now - 100);
  await Deno.utime(`${root}/sizes/sub`, now - 400, now - 400);
}
await makeTree();

const logs: string[] = [];

/** A handler over the test tree, HTTP/1.1, logging into `logs`. */
function handler(options: SimpleHandlerOptions = {}) {
  return treeHandler(root, logs, options);
}

const raw = rawRequest;

/** The header names of a response, lower-cased. */
function names(response: ParsedResponse): string[] {
  return response.headers.map(([name]) => name.toLowerCase());
}

// Compression

Deno.test("compress: gzip and brotli bodies made on the fly decode to the file, with Vary and no Content-Length", async () => {
  await using s = startServer(handler({ compress: true }));
  for (const coding of ["gzip", "br"]) {
    const r = await raw(s.port, "/app.js", {
      headers: `Accept-Encoding: ${coding}\r\n`,
    });
    assert.equal(r.status, 200);
    assert.equal(r.get("content-encoding"), coding);
    assert.equal(r.get("vary"), "Accept-Encoding");
    assert.equal(r.get("content-length"), undefined);
    assert.match(r.get("content-type")!, /javascript/);
    assert.ok(r.body.length < APP_JS.length / 4, "compressed");
    assert.equal(await decode(r.body, coding), APP_JS);
  }
  // No Accept-Encoding: the file as stored, still with Vary.
  const plain = await raw(s.port, "/app.js");
  assert.equal(plain.get("content-encoding"), undefined);
  assert.equal(plain.get("content-length"), String(APP_JS.length));
  assert.equal(plain.get("vary"), "Accept-Encoding");
  assert.equal(plain.body, APP_JS);
});

Deno.test("compress: a large file streams chunked on a kept-alive connection; HTTP/1.0 gets a close-delimited body", async () => {
  await using s = startServer(handler({ compress: true }));
  const { text, closed } = await exchange(
    s.port,
    "GET /big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n",
  );
  assert.ok(!closed);
  const body = text.slice(text.indexOf("\r\n\r\n") + 4);
  const chunks = body.match(/\r\n[0-9a-f]+\r\n/g)?.length ?? 0;
  assert.ok(chunks > 4, `${chunks} chunks`);
  const [r] = parseResponses(text);
  assert.equal(r.get("transfer-encoding"), "chunked");
  assert.equal(await decode(r.body, "gzip"), BIG_TXT);
  // HTTP/1.0: no chunked coding, the end of the body is the close.
  const old = await raw(s.port, "/app.js", {
    version: "HTTP/1.0",
    headers: "Accept-Encoding: br\r\n",
  });
  assert.equal(old.statusLine, "HTTP/1.1 200 OK");
  assert.equal(old.get("transfer-encoding"), undefined);
  assert.equal(old.get("content-length"), undefined);
  assert.ok(old.closed);
  assert.equal(await decode(old.body, "br"), APP_JS);
});

Deno.test("compress: a fresh precompressed .gz is sent as is; a stale one is ignored", async () => {
  await using s = startServer(handler({ compress: true }));
  const gz = await Deno.readFile(`${root}/pre.css.gz`);
  const fresh = await raw(s.port, "/pre.css", {
    headers: "Accept-Encoding: gzip, br\r\n",
  });
  assert.equal(fresh.status, 200);
  assert.equal(fresh.get("content-encoding"), "gzip", "precompressed first");
  assert.equal(fresh.get("content-length"), String(gz.length));
  assert.match(fresh.get("content-type")!, /^text\/css/);
  assert.deepEqual(latin1Bytes(fresh.body), gz);
  assert.equal(await decode(fresh.body, "gzip"), PRE_CSS_GZ_TEXT);
  // The stale sibling is older than its file: compressed here instead.
  const stale = await raw(s.port, "/stale.css", {
    headers: "Accept-Encoding: gzip\r\n",
  });
  assert.equal(stale.get("content-encoding"), "gzip");
  assert.equal(stale.get("content-length"), undefined);
  assert.equal(await decode(stale.body, "gzip"), PRE_CSS);
  // The sibling itself is still a file of its own.
  const direct = await raw(s.port, "/pre.css.gz");
  assert.equal(direct.get("content-type"), "application/gzip");
  assert.equal(direct.get("content-encoding"), undefined);
});

Deno.test("compress: a small file with a fresh sibling varies on Accept-Encoding even when the request has none", async () => {
  await using s = startServer(handler({ compress: true }));
  // Stored by a cache from a client without the field, this answer would
  // go to every client: Vary says which field it depends on (RFC 9110
  // §12.5.5).
  const plain = await raw(s.port, "/tiny.css");
  assert.equal(plain.status, 200);
  assert.equal(plain.body, TINY_CSS);
  assert.equal(plain.get("vary"), "Accept-Encoding");
  const gz = await raw(s.port, "/tiny.css", {
    headers: "Accept-Encoding: gzip\r\n",
  });
  assert.equal(gz.get("content-encoding"), "gzip");
  assert.equal(gz.get("vary"), "Accept-Encoding");
  assert.equal(await decode(gz.body, "gzip"), TINY_CSS);
  // With no form but the stored one, the answer does not vary.
  const alone = await raw(s.port, "/small.txt");
  assert.equal(alone.get("vary"), undefined);
});

Deno.test("compress: Accept-Encoding q-values pick the coding; x-gzip is gzip; identity can win", async () => {
  await using s = startServer(handler({ compress: true }));
  const cases: [string, string | undefined][] = [
    // On a tie, gzip: brotli on the fly is slower than many links.
    ["gzip, deflate, br, zstd", "gzip"], // Chromium's
    ["br, gzip", "gzip"],
    ["br", "br"],
    ["gzip;q=0.5, br", "br"],
    ["gzip;q=1, br;q=0.5", "gzip"],
    ["br;q=0.1, gzip;q=0.5", "gzip"],
    ["br;q=0, gzip", "gzip"],
    ["x-gzip", "gzip"],
    ["*", "gzip"],
    ["*;q=0.5, br;q=0", "gzip"],
    ["gzip;q=0.5, identity", undefined],
    ["deflate", undefined],
    ["", undefined],
    ["gzip;q=2", undefined], // a bad q-value drops the element
  ];
  for (const [accept, coding] of cases) {
    const r = await raw(s.port, "/app.js", {
      headers: `Accept-Encoding: ${accept}\r\n`,
    });
    assert.equal(r.status, 200, accept);
    assert.equal(r.get("content-encoding"), coding, accept);
    const body = coding === undefined ? r.body : await decode(r.body, coding);
    assert.equal(body, APP_JS, accept);
  }
});

Deno.test("compress: 406 when every form is excluded; small files and images are never compressed", async () => {
  await using s = startServer(handler({ compress: true }));
  for (const accept of ["identity;q=0", "*;q=0", "gzip;q=0, identity;q=0"]) {
    const r = await raw(s.port, "/app.js", {
      headers: `Accept-Encoding: ${accept}\r\n`,
    });
    assert.equal(r.status, 406, accept);
    assert.equal(r.get("vary"), "Accept-Encoding");
  }
  // An image has only its stored form: excluding it is 406 too.
  const image = await raw(s.port, "/image.png", {
    headers: "Accept-Encoding: gzip, identity;q=0\r\n",
  });
  assert.equal(image.status, 406);
  for (const path of ["/image.png", "/small.txt"]) {
    const r = await raw(s.port, path, { headers: "Accept-Encoding: gzip\r\n" });
    assert.equal(r.status, 200, path);
    assert.equal(r.get("content-encoding"), undefined, path);
    assert.ok(r.get("content-length") !== undefined, path);
    assert.equal(r.get("vary"), undefined, path);
  }
  // A small compressible file still 406s on "gzip;q=0, identity;q=0".
  const small = await raw(s.port, "/small.txt", {
    headers: "Accept-Encoding: identity;q=0\r\n",
  });
  assert.equal(small.status, 406);
});

Deno.test("compress: each coding has its own ETag; HEAD and 304 of an encoded form carry the GET's fields", async () => {
  await using s = startServer(handler({ compress: true }));
  const etags = new Map<string, string>();
  for (const coding of ["identity", "gzip", "br"]) {
    const get = await raw(s.port, "/app.js", {
      headers: `Accept-Encoding: ${coding}\r\n`,
    });
    etags.set(coding, get.get("etag")!);
    const head = await raw(s.port, "/app.js", {
      method: "HEAD",
      headers: `Accept-Encoding: ${coding}\r\n`,
    });
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
    for (
      const name of [
        "content-type",
        "content-encoding",
        "content-length",
        "etag",
        "last-modified",
        "vary",
        "accept-ranges",
      ]
    ) {
      assert.equal(head.get(name), get.get(name), `${coding} ${name}`);
    }
    const notModified = await raw(s.port, "/app.js", {
      headers: `Accept-Encoding: ${coding}\r\nIf-None-Match: ${
        get.get("etag")
      }\r\n`,
    });
    assert.equal(notModified.status, 304, coding);
    assert.equal(notModified.body, "");
    assert.equal(notModified.get("etag"), get.get("etag"));
    assert.equal(notModified.get("vary"), "Accept-Encoding");
    assert.equal(notModified.get("last-modified"), get.get("last-modified"));
  }
  assert.equal(new Set(etags.values()).size, 3, [...etags.values()].join());
  assert.match(etags.get("gzip")!, /^W\//, "made on the fly: weak");
  // The gzip ETag does not validate the br form.
  const other = await raw(s.port, "/app.js", {
    headers: `Accept-Encoding: br\r\nIf-None-Match: ${etags.get("gzip")}\r\n`,
  });
  assert.equal(other.status, 200);
  // If-Match compares strongly: a weak ETag never matches.
  const ifMatch = await raw(s.port, "/app.js", {
    headers: `Accept-Encoding: gzip\r\nIf-Match: ${etags.get("gzip")}\r\n`,
  });
  assert.equal(ifMatch.status, 412);
  // A precompressed sibling's ETag is its own, strong.
  const pre = await raw(s.port, "/pre.css", {
    headers: "Accept-Encoding: gzip\r\n",
  });
  const preIdentity = await raw(s.port, "/pre.css");
  assert.doesNotMatch(pre.get("etag")!, /^W\//);
  assert.notEqual(pre.get("etag"), preIdentity.get("etag"));
});

Deno.test("compress: a Range request is answered from the file as stored", async () => {
  await using s = startServer(handler({ compress: true }));
  const identity = await raw(s.port, "/app.js");
  const r = await raw(s.port, "/app.js", {
    headers: "Accept-Encoding: gzip, br\r\nRange: bytes=0-9\r\n",
  });
  assert.equal(r.status, 206);
  assert.equal(r.get("content-encoding"), undefined);
  assert.equal(r.get("content-range"), `bytes 0-9/${APP_JS.length}`);
  assert.equal(r.get("etag"), identity.get("etag"));
  assert.equal(r.get("vary"), "Accept-Encoding");
  assert.equal(r.body, APP_JS.slice(0, 10));
  // An If-Range that fails gets the whole file, which may be compressed.
  const whole = await raw(s.port, "/app.js", {
    headers: 'Accept-Encoding: gzip\r\nRange: bytes=0-9\r\nIf-Range: "x"\r\n',
  });
  assert.equal(whole.status, 200);
  assert.equal(whole.get("content-encoding"), "gzip");
  // A coded body offers no ranges (nginx's way): a client resuming it would
  // get the stored bytes and append them to the coded ones.
  assert.equal(whole.get("accept-ranges"), undefined);
  assert.equal(identity.get("accept-ranges"), "bytes");
  const pre = await raw(s.port, "/pre.css", {
    headers: "Accept-Encoding: gzip\r\n",
  });
  assert.equal(pre.get("content-encoding"), "gzip");
  assert.equal(pre.get("accept-ranges"), undefined, "precompressed");
  const notModified = await raw(s.port, "/app.js", {
    headers: `Accept-Encoding: gzip\r\nIf-None-Match: ${whole.get("etag")}\r\n`,
  });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.get("accept-ranges"), undefined, "its 304");
});

Deno.test("compress: a client that leaves mid-stream stops the copy; the server serves on", async () => {
  await using s = startServer(handler({ compress: true }));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await conn.write(encoder.encode(
    "GET /big.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\n\r\n",
  ));
  const first = new Uint8Array(1024);
  assert.ok((await conn.read(first)) !== null);
  conn.close();
  const r = await raw(s.port, "/app.js", {
    headers: "Accept-Encoding: gzip\r\n",
  });
  assert.equal(await decode(r.body, "gzip"), APP_JS);
});

Deno.test("compress is off by default", async () => {
  await using s = startServer(handler());
  const r = await raw(s.port, "/app.js", {
    headers: "Accept-Encoding: gzip, br\r\n",
  });
  assert.equal(r.get("content-encoding"), undefined);
  assert.equal(r.get("vary"), undefined);
  assert.equal(r.body, APP_JS);
  const excluded = await raw(s.port, "/app.js", {
    headers: "Accept-Encoding: identity;q=0\r\n",
  });
  assert.equal(excluded.status, 200);
});

// CORS

const PREFLIGHT = "Access-Control-Request-Method: PUT\r\n" +
  "Access-Control-Request-Headers: content-type, x-custom\r\n";

Deno.test("cors: a preflight gets 204 with the allowed methods, the asked headers and a max age", async () => {
  await using s = startServer(handler({ cors: true }));
  const r = await raw(s.port, "/app.js", {
    method: "OPTIONS",
    headers: `Origin: https://any.example\r\n${PREFLIGHT}`,
  });
  assert.equal(r.status, 204);
  assert.equal(r.body, "");
  assert.equal(r.get("access-control-allow-origin"), "*");
  assert.equal(r.get("access-control-allow-methods"), "GET, HEAD, OPTIONS");
  assert.equal(r.get("access-control-allow-headers"), "content-type, x-custom");
  assert.equal(r.get("access-control-max-age"), "86400");
  // A plain OPTIONS gets Allow only.
  const plain = await raw(s.port, "/app.js", { method: "OPTIONS" });
  assert.equal(plain.status, 204);
  assert.equal(plain.get("allow"), "GET, HEAD, OPTIONS");
  assert.equal(plain.get("access-control-allow-methods"), undefined);
});

Deno.test("cors: a page on another origin may read the range, validator and coding fields", async () => {
  // Beyond the CORS-safelisted fields, a script sees only what is exposed:
  // a range reader (PDF.js) needs Content-Range, a resume needs ETag.
  for (
    const options of [{ cors: true }, { corsOrigins: ["https://app.example"] }]
  ) {
    await using s = startServer(handler(options));
    const r = await raw(s.port, "/app.js", {
      headers: "Origin: https://app.example\r\nRange: bytes=0-3\r\n",
    });
    assert.equal(r.status, 206);
    assert.deepEqual(
      r.get("access-control-expose-headers")?.split(/,\s*/).sort(),
      [
        "Accept-Ranges",
        "Content-Encoding",
        "Content-Range",
        "ETag",
        "Location",
      ],
      JSON.stringify(options),
    );
  }
  await using off = startServer(handler({}));
  const plain = await raw(off.port, "/app.js", {
    headers: "Origin: https://app.example\r\n",
  });
  assert.equal(plain.get("access-control-expose-headers"), undefined);
});

Deno.test("corsOrigins: listed origins are echoed with Vary: Origin; others get no Access-Control-Allow-*", async () => {
  await using s = startServer(handler({
    corsOrigins: ["https://good.example", "http://localhost:5173"],
  }));
  const good = await raw(s.port, "/small.txt", {
    headers: "Origin: http://localhost:5173\r\n",
  });
  assert.equal(
    good.get("access-control-allow-origin"),
    "http://localhost:5173",
  );
  assert.equal(good.get("vary"), "Origin");
  for (const headers of ["Origin: https://evil.example\r\n", ""]) {
    const r = await raw(s.port, "/small.txt", { headers });
    assert.equal(r.status, 200);
    assert.equal(r.get("access-control-allow-origin"), undefined, headers);
    assert.equal(r.get("vary"), "Origin", headers);
  }
  const missing = await raw(s.port, "/nope.txt", {
    headers: "Origin: https://good.example\r\n",
  });
  assert.equal(missing.status, 404);
  assert.equal(
    missing.get("access-control-allow-origin"),
    "https://good.example",
  );

  const allowed = await raw(s.port, "/small.txt", {
    method: "OPTIONS",
    headers: `Origin: https://good.example\r\n${PREFLIGHT}`,
  });
  assert.equal(allowed.status, 204);
  assert.equal(
    allowed.get("access-control-allow-origin"),
    "https://good.example",
  );
  assert.equal(
    allowed.get("access-control-allow-methods"),
    "GET, HEAD, OPTIONS",
  );
  assert.equal(
    allowed.get("access-control-allow-headers"),
    "content-type, x-custom",
  );
  const refused = await raw(s.port, "/small.txt", {
    method: "OPTIONS",
    headers: `Origin: https://evil.example\r\n${PREFLIGHT}`,
  });
  assert.equal(refused.status, 204);
  assert.deepEqual(
    names(refused).filter((name) => name.startsWith("access-control-allow-")),
    [],
  );
  assert.ok(
    refused.headers.some(([k, v]) =>
      k.toLowerCase() === "vary" && v === "Origin"
    ),
  );
});

// SPA and 404.html

Deno.test("spa: an extensionless missing path from an HTML client gets the root index.html; /missing.js and JSON clients get 404", async () => {
  await using s = startServer(handler({ spa: true }));
  for (const path of ["/some/route", "/some/route/", "/a%20b", "/"]) {
    const r = await raw(s.port, path, {
      headers: "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n",
    });
    assert.equal(r.status, 200, path);
    assert.equal(r.body, INDEX_HTML, path);
    assert.equal(r.get("content-type"), "text/html; charset=utf-8", path);
  }
  const noAccept = await raw(s.port, "/deep/link");
  assert.equal(noAccept.status, 200);
  const head = await raw(s.port, "/some/route", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.get("content-length"), String(INDEX_HTML.length));
  for (
    const [path, accept] of [
      ["/missing.js", "text/html"],
      ["/some/route", "application/json"],
      ["/some/route", "text/html;q=0, */*"],
    ]
  ) {
    const r = await raw(s.port, path, { headers: `Accept: ${accept}\r\n` });
    assert.equal(r.status, 404, `${path} ${accept}`);
    assert.equal(r.body, NOT_FOUND_HTML, `${path} ${accept}`);
  }
  // A POST is not a page load.
  const post = await raw(s.port, "/some/route", { method: "POST" });
  assert.equal(post.status, 501);
});

Deno.test("cleanUrls: /about is about.html, before a directory of the name; a real file, a trailing slash or an extension keep their answers", async () => {
  const site = await Deno.makeTempDir({ prefix: "basehttp_clean_" });
  const files: Record<string, string> = {
    "about.html": "<p>about</p>",
    "about/team.html": "<p>team</p>",
    "docs/index.html": "<p>docs</p>",
    "LICENSE": "MIT",
    "LICENSE.html": "<p>MIT</p>",
    "v1.2.html": "<p>dotted</p>",
    ".secret.html": "hidden",
  };
  for (const [name, text] of Object.entries(files)) {
    const path = `${site}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, text);
  }
  try {
    await using s = startServer(treeHandler(site, logs, { cleanUrls: true }));
    const answers: [string, number, string][] = [
      ["/about", 200, "<p>about</p>"],
      ["/about?x=1", 200, "<p>about</p>"],
      ["/about/team", 200, "<p>team</p>"],
      ["/about.html", 200, "<p>about</p>"],
      ["/LICENSE", 200, "MIT"], // the file itself first
      ["/docs", 301, ""], // no docs.html: the directory's redirect
      ["/missing", 404, ""],
      ["/v1.2", 404, ""], // an extension: not a clean URL
      ["/.secret", 404, ""], // a dotfile's page is still a dotfile
    ];
    for (const [path, status, body] of answers) {
      const r = await raw(s.port, path);
      assert.equal(r.status, status, path);
      if (status !== 200) continue;
      assert.equal(r.body, body, path);
      if (path !== "/LICENSE") {
        assert.equal(r.get("content-type"), "text/html; charset=utf-8", path);
      }
    }
    const about = await raw(s.port, "/about/");
    assert.equal(about.status, 200); // the directory's listing
    assert.match(about.body, /team\.html/);
    // The root is no clean URL: not the page beside it, outside the root,
    // which followSymlinks would let through.
    await Deno.writeTextFile(`${site}.html`, "outside the root");
    await using follow = startServer(
      treeHandler(site, logs, { cleanUrls: true, followSymlinks: true }),
    );
    for (const path of ["/", "/.", "/about/..%2f"]) {
      const r = await raw(follow.port, path);
      assert.doesNotMatch(r.body, /outside the root/, path);
    }
    assert.equal((await raw(follow.port, "/about")).body, "<p>about</p>");
    // Off by default, as in Python.
    await using plain = startServer(treeHandler(site, logs));
    assert.equal((await raw(plain.port, "/about")).status, 301);
    assert.equal((await raw(plain.port, "/missing-page")).status, 404);
  } finally {
    await Deno.remove(site, { recursive: true });
    await Deno.remove(`${site}.html`).catch(() => {});
  }
});

Deno.test("404.html: a large page is sent whole by a sendError(404) not awaited, as a sync override in Python's style calls it", async () => {
  const site = await Deno.makeTempDir({ prefix: "basehttp_404_" });
  const page = "<!doctype html><p>" + "missing ".repeat(40000) + "</p>";
  await Deno.writeTextFile(`${site}/404.html`, page);
  class Sync extends treeHandler(site, logs) {
    override do_GET(): Promise<void> {
      void this.sendError(404); // not awaited, as a sync override would
      if (this.path === "/twice") void this.sendError(404); // refused
      return Promise.resolve();
    }
  }
  try {
    await using s = startServer(Sync);
    for (const path of ["/anything", "/twice"]) {
      const r = await raw(s.port, path);
      assert.equal(r.status, 404, path);
      assert.equal(r.body.length, page.length, path);
      assert.equal(r.body, page, path);
    }
  } finally {
    await Deno.remove(site, { recursive: true });
  }
});

/** The field names a response's Vary fields list, lower-cased. */
function varied(response: ParsedResponse): string[] {
  return response.headers.filter(([name]) => name.toLowerCase() === "vary")
    .flatMap(([, value]) => value.toLowerCase().split(/\s*,\s*/));
}

Deno.test("spa: the index page and the 404 of a path the fallback could serve carry Vary: Accept", async () => {
  await using s = startServer(handler({ spa: true, compress: true }));
  const html = await raw(s.port, "/users/42", {
    headers: "Accept: text/html\r\n",
  });
  assert.equal(html.status, 200);
  assert.ok(varied(html).includes("accept"));
  const json = await raw(s.port, "/users/42", {
    headers: "Accept: application/json\r\n",
  });
  assert.equal(json.status, 404);
  assert.ok(varied(json).includes("accept"));
  const head = await raw(s.port, "/users/42", { method: "HEAD" });
  assert.ok(varied(head).includes("accept"));
  const revalidated = await raw(s.port, "/users/42", {
    headers: `Accept: text/html\r\nIf-None-Match: ${html.get("etag")}\r\n`,
  });
  assert.equal(revalidated.status, 304);
  assert.ok(varied(revalidated).includes("accept"));
  const unsatisfiable = await raw(s.port, "/users/42", {
    headers: "Accept: text/html\r\nRange: bytes=99999-\r\n",
  });
  assert.equal(unsatisfiable.status, 416);
  assert.ok(varied(unsatisfiable).includes("accept"));
  // Answers that Accept cannot change say nothing of it.
  for (const path of ["/missing.js", "/small.txt", "/index.html"]) {
    const r = await raw(s.port, path, { headers: "Accept: text/html\r\n" });
    assert.ok(!varied(r).includes("accept"), path);
  }
});

Deno.test("a root 404.html is the body of 404 answers, status 404; one that links out of the root is not used", async () => {
  await using s = startServer(handler());
  const r = await raw(s.port, "/some/route");
  assert.equal(r.status, 404);
  assert.equal(r.statusLine, "HTTP/1.1 404 File not found");
  assert.equal(r.get("content-type"), "text/html; charset=utf-8");
  assert.equal(r.body, NOT_FOUND_HTML);
  const head = await raw(s.port, "/nope", { method: "HEAD" });
  assert.equal(head.status, 404);
  assert.equal(head.get("content-length"), String(NOT_FOUND_HTML.length));
  assert.equal(head.body, "");

  const other = `${tmp}/linked`;
  await Deno.mkdir(other);
  await Deno.symlink(`${tmp}/outside/404.html`, `${other}/404.html`);
  try {
    await using linked = startServer(handler({ directory: other }));
    const page = await raw(linked.port, "/nope");
    assert.equal(page.status, 404);
    assert.doesNotMatch(page.body, /outside 404/);
    assert.match(page.body, /Error code: 404/);
  } finally {
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test("the static handler's error answers keep the connection: the requests after them on it are answered", async () => {
  // A page's missing image, a player's 416: each cost a new connection (a
  // TLS handshake) when every error closed, as Python's send_error does.
  await using s = startServer(handler());
  const requests = [
    "GET /missing.png HTTP/1.1\r\nHost: t\r\n\r\n", // the root's 404.html
    "GET /small.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=99-\r\n\r\n",
    'GET /small.txt HTTP/1.1\r\nHost: t\r\nIf-Match: "x"\r\n\r\n',
    "POST /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n",
  ];
  const { text, closed } = await exchange(s.port, requests.join(""));
  const responses = parseResponses(text);
  assert.deepEqual(responses.map((r) => r.status), [404, 416, 412, 501, 200]);
  for (const r of responses) assert.equal(r.get("connection"), undefined);
  assert.equal(responses[0].body, NOT_FOUND_HTML);
  assert.equal(responses[4].body, "small\n");
  assert.equal(closed, false);
});

Deno.test("the static handler still closes after an error where it must: a refused head, a body it will not drain", async () => {
  await using s = startServer(handler());
  const refused = await exchange(
    s.port,
    "GET /small.txt HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n" +
      "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n",
  );
  const [bad, ...rest] = parseResponses(refused.text);
  assert.equal(bad.status, 400);
  assert.equal(bad.get("connection"), "close");
  assert.deepEqual(rest, []);
  assert.ok(refused.closed);
  // A 1 MiB body to a handler that reads none: more than is drained.
  const upload = await exchange(
    s.port,
    "POST /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n",
  );
  const [unsupported] = parseResponses(upload.text);
  assert.equal(unsupported.status, 501);
  assert.equal(unsupported.get("connection"), "close");
  assert.ok(upload.closed);
});

// Auth

const ALICE = "alice:open sesame:with colons";
const basic = (credentials: string) =>
  `Authorization: Basic ${btoa(credentials)}\r\n`;

Deno.test("auth: a missing or wrong password gets 401 with the challenge; the right one gets in and sets remoteUser; logs never hold it", async () => {
  const users: (string | null)[] = [];
  const Base = handler({
    auth: [["alice", "open sesame:with colons"], ["bob", "hunter2"]],
  });
  class Recording extends Base {
    override async do_GET(): Promise<void> {
      users.push(this.remoteUser);
      await super.do_GET();
    }
  }
  logs.length = 0;
  await using s = startServer(Recording);
  for (
    const headers of [
      "",
      basic("alice:wrong"),
      basic("alice:open sesame"),
      basic("bob:open sesame:with colons"),
      basic("mallory:hunter2"),
      "Authorization: Basic !!!\r\n",
      "Authorization: Bearer abc\r\n",
      basic(ALICE) + basic(ALICE),
    ]
  ) {
    const r = await raw(s.port, "/small.txt", { headers });
    assert.equal(r.status, 401, headers);
    assert.equal(
      r.get("www-authenticate"),
      'Basic realm="basehttp", charset="UTF-8"',
    );
    assert.doesNotMatch(r.body, /small/);
  }
  assert.deepEqual(users, [], "never dispatched");
  const alice = await raw(s.port, "/small.txt", { headers: basic(ALICE) });
  assert.equal(alice.status, 200);
  assert.equal(alice.body, "small\n");
  const bob = await raw(s.port, "/small.txt", {
    headers: "Authorization: basic " + btoa("bob:hunter2") + "\r\n",
  });
  assert.equal(bob.status, 200);
  assert.deepEqual(users, ["alice", "bob"]);
  // Auth comes first: a preflight and an unknown method are 401 too.
  const preflight = await raw(s.port, "/small.txt", {
    method: "OPTIONS",
    headers: `Origin: https://a.example\r\n${PREFLIGHT}`,
  });
  assert.equal(preflight.status, 401);
  const spam = await raw(s.port, "/small.txt", { method: "SPAM" });
  assert.equal(spam.status, 401);
  const text = logs.join("\n");
  assert.match(text, /"GET \/small\.txt HTTP\/1\.1" 200/);
  assert.match(text, /code 401/);
  for (const secret of ["open sesame", "hunter2", "wrong", btoa(ALICE)]) {
    assert.ok(!text.includes(secret), secret);
  }
});

Deno.test("auth: a list is hashed once per server, for a handler whose auth is an instance field too; one user may have two passwords", async () => {
  const lists: SimpleHTTPRequestHandler["auth"][] = [];
  class Field extends handler() {
    override auth: SimpleHTTPRequestHandler["auth"] = [
      ...Array.from({ length: 1000 }, (_, i) => [`user${i}`, `pw${i}`]),
      ["alice", "one"],
      ["alice", "two:three"],
    ] as [string, string][];
    override async do_GET(): Promise<void> {
      lists.push(this.auth);
      await super.do_GET();
    }
  }
  await using s = startServer(Field);
  for (
    const [credentials, status] of [
      ["user999:pw999", 200],
      ["alice:one", 200],
      ["alice:two:three", 200],
      ["alice:two", 401],
      ["user1:pw999", 401],
      ["nobody:pw1", 401],
      ["no colon", 401],
    ] as const
  ) {
    const r = await raw(s.port, "/small.txt", { headers: basic(credentials) });
    assert.equal(r.status, status, credentials);
  }
  // Each connection's handler has its own array; the server one BasicAuth.
  assert.equal(lists.length, 3);
  assert.notEqual(lists[0], lists[1]);
  const kept = (s.server as unknown as { [BASIC_AUTH]: BasicAuths })[
    BASIC_AUTH
  ];
  assert.equal(kept.of(lists[0]), kept.of(lists[1]));
  assert.equal(kept.of(lists[1]), kept.of(lists[2]));
});

Deno.test("auth: a list edited in place shows from the next connection; names with a leading U+FEFF or a lone surrogate log in", async () => {
  const users: [string, string][] = [["alice", "pw"]];
  class Edited extends handler() {
    override auth = users;
  }
  await using s = startServer(Edited);
  const utf8 = (credentials: string) =>
    "Authorization: Basic " +
    btoa(String.fromCharCode(...new TextEncoder().encode(credentials))) +
    "\r\n";
  assert.equal(
    (await raw(s.port, "/small.txt", { headers: utf8("alice:pw") })).status,
    200,
  );
  users.length = 0;
  users.push(["carol", "pw"], ["\ufeffbom", "x"], ["lone\ud800", "y"]);
  for (
    const [credentials, status] of [
      ["alice:pw", 401],
      ["carol:pw", 200],
      ["\ufeffbom:x", 200],
      ["bom:x", 401],
      ["lone\ufffd:y", 200], // what a lone surrogate's UTF-8 is
    ] as const
  ) {
    const r = await raw(s.port, "/small.txt", { headers: utf8(credentials) });
    assert.equal(r.status, status, credentials);
  }
});

Deno.test("auth: the realm is quoted and escaped; UTF-8 credentials work", async () => {
  await using s = startServer(handler({
    auth: [["zoë", "pässword"]],
    authRealm: 'my "site"',
  }));
  const r = await raw(s.port, "/small.txt");
  assert.equal(
    r.get("www-authenticate"),
    'Basic realm="my \\"site\\"", charset="UTF-8"',
  );
  const utf8 = String.fromCharCode(...encoder.encode("zoë:pässword"));
  const ok = await raw(s.port, "/small.txt", { headers: basic(utf8) });
  assert.equal(ok.status, 200);
});

Deno.test("auth: a sync parseRequest override, Python's style, gets false for a 401 and sends it whole; the server keeps serving", async () => {
  const Base = handler({ auth: [["u", "p"]] });
  const dispatched: string[] = [];
  class Checked extends Base {
    override parseRequest(): boolean {
      if (!super.parseRequest()) return false;
      if (this.path.startsWith("/private")) {
        void this.sendError(403);
        return false;
      }
      return true;
    }
    override async do_GET(): Promise<void> {
      dispatched.push(this.path);
      await super.do_GET();
    }
  }
  await using s = startServer(Checked);
  const denied = await raw(s.port, "/small.txt");
  assert.equal(denied.status, 401);
  assert.equal(denied.body.length, Number(denied.get("content-length")));
  const forbidden = await raw(s.port, "/private/x", { headers: basic("u:p") });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.length, Number(forbidden.get("content-length")));
  const served = await raw(s.port, "/small.txt", { headers: basic("u:p") });
  assert.equal(served.body, "small\n");
  assert.deepEqual(dispatched, ["/small.txt"]);
});

Deno.test("auth: a 401 never invites the upload of an Expect: 100-continue request", async () => {
  await using s = startServer(handler({ auth: [["u", "p"]] }));
  const { text } = await exchange(
    s.port,
    "PUT /small.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
  );
  assert.match(text, /^HTTP\/1\.1 401 /);
  assert.doesNotMatch(text, /100 Continue/);
});

// Caching

Deno.test("extraResponseHeaders go on 304 answers too (RFC 9110 §15.4.5)", async () => {
  await using s = startServer(handler({
    extraResponseHeaders: [["X-Frame-Options", "DENY"]],
  }));
  const file = await raw(s.port, "/small.txt");
  const notModified = await raw(s.port, "/small.txt", {
    headers: `If-None-Match: ${file.get("etag")}\r\n`,
  });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.get("x-frame-options"), "DENY");
});

Deno.test("cacheControl goes on 200, 206 and 304 of files, -H headers on 304 too; not on errors or listings", async () => {
  await using s = startServer(handler({
    cacheControl: "public, max-age=60, immutable",
    extraResponseHeaders: [["X-Test", "yes"]],
  }));
  const file = await raw(s.port, "/small.txt");
  const partial = await raw(s.port, "/small.txt", {
    headers: "Range: bytes=0-1\r\n",
  });
  const notModified = await raw(s.port, "/small.txt", {
    headers: `If-None-Match: ${file.get("etag")}\r\n`,
  });
  assert.deepEqual(
    [file.status, partial.status, notModified.status],
    [200, 206, 304],
  );
  for (const r of [file, partial, notModified]) {
    assert.equal(r.get("cache-control"), "public, max-age=60, immutable");
    assert.equal(r.get("x-test"), "yes", r.statusLine);
  }
  const missing = await raw(s.port, "/nope.txt");
  assert.equal(missing.get("cache-control"), undefined);
  const listing = await raw(s.port, "/sizes/");
  assert.equal(listing.get("cache-control"), undefined);
});

Deno.test("spa: a route's index page is no-cache whatever cacheControl asks; the files keep it", async () => {
  const immutable = "public, max-age=31536000, immutable";
  for (
    const [cacheControl, route] of [
      [immutable, "no-cache"],
      ["private, max-age=60", "private, no-cache"],
      ["no-store", "no-store"],
      [null, undefined],
    ] as const
  ) {
    await using s = startServer(handler({ spa: true, cacheControl }));
    const page = await raw(s.port, "/users/42", {
      headers: "Accept: text/html\r\n",
    });
    assert.equal(page.status, 200);
    assert.equal(page.body, INDEX_HTML);
    const revalidated = await raw(s.port, "/users/42", {
      headers: `Accept: text/html\r\nIf-None-Match: ${page.get("etag")}\r\n`,
    });
    assert.equal(revalidated.status, 304);
    const partial = await raw(s.port, "/users/42", {
      headers: "Accept: text/html\r\nRange: bytes=0-1\r\n",
    });
    assert.equal(partial.status, 206);
    for (const r of [page, revalidated, partial]) {
      assert.equal(
        r.get("cache-control"),
        route,
        `${cacheControl} ${r.statusLine}`,
      );
    }
    const file = await raw(s.port, "/small.txt");
    assert.equal(file.get("cache-control"), cacheControl ?? undefined);
  }
});

Deno.test("cacheControl with immutable is for assets: HTML pages, / among them, are no-cache; max-age alone holds for all", async () => {
  const immutable = "public, max-age=31536000, immutable";
  for (
    const [cacheControl, html] of [
      [immutable, "no-cache"],
      // Kept out of shared caches, as asked.
      ["private, max-age=31536000, immutable", "private, no-cache"],
      ["max-age=60", "max-age=60"],
    ] as const
  ) {
    await using s = startServer(handler({ cacheControl }));
    for (const path of ["/", "/index.html", "/page.xhtml"]) {
      const page = await raw(s.port, path);
      assert.equal(page.status, 200, path);
      assert.equal(page.get("cache-control"), html, `${cacheControl} ${path}`);
      const revalidated = await raw(s.port, path, {
        headers: `If-None-Match: ${page.get("etag")}\r\n`,
      });
      assert.equal(revalidated.status, 304);
      assert.equal(revalidated.get("cache-control"), html, path);
    }
    const asset = await raw(s.port, "/small.txt");
    assert.equal(asset.get("cache-control"), cacheControl);
  }
});

// Listings for programs

interface Row {
  name: string;
  type: string;
  size: number | null;
  mtime: string | null;
}

async function listing(port: number, query: string): Promise<Row[]> {
  const r = await raw(port, `/sizes/${query}`, {
    headers: "Accept: application/json\r\n",
  });
  assert.equal(r.status, 200);
  assert.equal(r.get("content-type"), "application/json");
  assert.equal(r.get("vary"), "Accept");
  return JSON.parse(new TextDecoder().decode(latin1Bytes(r.body)));
}

Deno.test("Accept: application/json gives a JSON listing, sorted by ?sort and ?order", async () => {
  await using s = startServer(handler());
  const rows = await listing(s.port, "");
  const sub = await Deno.stat(`${root}/sizes/sub`);
  const large = await Deno.stat(`${root}/sizes/a-large.txt`);
  assert.deepEqual(rows[0], {
    name: "a-large.txt",
    type: "file",
    size: 3000,
    mtime: large.mtime!.toISOString(),
  });
  assert.deepEqual(rows[3], {
    name: "sub",
    type: "directory",
    size: null,
    mtime: sub.mtime!.toISOString(),
  });
  const order = async (query: string) =>
    (await listing(s.port, query)).map((row) => row.name);
  assert.deepEqual(await order(""), [
    "a-large.txt",
    "B-small.txt",
    "c-medium.txt",
    "sub",
  ]);
  assert.deepEqual(await order("?sort=name&order=desc"), [
    "sub",
    "c-medium.txt",
    "B-small.txt",
    "a-large.txt",
  ]);
  assert.deepEqual(await order("?sort=size"), [
    "sub",
    "B-small.txt",
    "c-medium.txt",
    "a-large.txt",
  ]);
  assert.deepEqual(await order("?sort=size&order=desc"), [
    "a-large.txt",
    "c-medium.txt",
    "B-small.txt",
    "sub",
  ]);
  assert.deepEqual(await order("?sort=mtime"), [
    "sub",
    "c-medium.txt",
    "a-large.txt",
    "B-small.txt",
  ]);
  assert.deepEqual(await order("?sort=mtime&order=desc"), [
    "B-small.txt",
    "a-large.txt",
    "c-medium.txt",
    "sub",
  ]);
  assert.deepEqual(await order("?sort=bogus"), await order(""));
  // A browser's Accept keeps the HTML page.
  const html = await raw(s.port, "/sizes/", {
    headers: "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n",
  });
  assert.equal(html.get("content-type"), "text/html; charset=utf-8");
});

Deno.test("the HTML listing follows ?sort and ?order, and its column headers link to the sorts", async () => {
  await using s = startServer(handler());
  const names = (body: string) =>
    [...body.slice(body.indexOf("<tbody>")).matchAll(/<a href="([^"]*)">/g)]
      .map((m) => m[1]).filter((href) => href !== "../");
  const byName = await raw(s.port, "/sizes/");
  assert.deepEqual(names(byName.body), [
    "a-large.txt",
    "B-small.txt",
    "c-medium.txt",
    "sub/",
  ]);
  assert.match(
    byName.body,
    /<th aria-sort="ascending"><a href="\?sort=name&amp;order=desc">Name<\/a><\/th>/,
  );
  assert.match(byName.body, /<a href="\?sort=size&amp;order=asc">Size<\/a>/);
  assert.match(
    byName.body,
    /<a href="\?sort=mtime&amp;order=asc">Modified \(UTC\)<\/a>/,
  );
  const bySize = await raw(s.port, "/sizes/?sort=size&order=desc");
  assert.deepEqual(names(bySize.body), [
    "a-large.txt",
    "c-medium.txt",
    "B-small.txt",
    "sub/",
  ]);
  assert.match(
    bySize.body,
    /<th class="size" aria-sort="descending"><a href="\?sort=size&amp;order=asc">/,
  );
});

Deno.test("simpleHandler() rejects bad feature options with TypeError", () => {
  const bad: SimpleHandlerOptions[] = [
    { corsOrigins: ["not an origin"] },
    { corsOrigins: ["https://a.example/path"] },
    { corsOrigins: "https://a.example" as unknown as string[] },
    { compress: "yes" as unknown as boolean },
    { spa: 1 as unknown as boolean },
    { auth: [["a:b", "c"]] },
    { auth: [["a", "b\n"]] },
    { auth: [["a"]] as unknown as [string, string][] },
    { authRealm: "a\r\nb" },
    { cacheControl: "max-age=1\r\nX: y" },
  ];
  for (const options of bad) {
    assert.throws(
      () => simpleHandler(options),
      TypeError,
      JSON.stringify(options),
    );
  }
  simpleHandler({
    corsOrigins: ["https://a.example", "http://localhost:8080"],
    compress: true,
    spa: true,
    auth: [["user", "pass:word"]],
    authRealm: "files",
    cacheControl: null,
  });
});

Deno.test("fields meant for an error page never reach the next response, when a sendError override sends its own head", async () => {
  // A 416's Content-Range waits for the page's sendResponse(); an override
  // that writes its head with sendResponseOnly() takes none of it.
  class OwnErrors extends handler() {
    override async sendError(code: number): Promise<void> {
      this.sendResponseOnly(code);
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  await using s = startServer(OwnErrors);
  const { text } = await exchange(
    s.port,
    "GET /small.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=100-\r\n\r\n" +
      "GET /small.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
  );
  const [refused, served] = parseResponses(text);
  assert.equal(refused.status, 416);
  assert.equal(served.status, 200);
  assert.equal(served.get("content-range"), undefined);
  assert.equal(served.body, "small\n");
});

Deno.test("cors with auth: a preflight, which a browser sends without credentials, is answered; the request itself still needs them", async () => {
  for (
    const options of [{ cors: true }, { corsOrigins: ["https://app.example"] }]
  ) {
    await using s = startServer(handler({ ...options, auth: [["a", "b"]] }));
    const label = JSON.stringify(options);
    const preflight = await raw(s.port, "/small.txt", {
      method: "OPTIONS",
      headers: "Origin: https://app.example\r\n" +
        "Access-Control-Request-Method: GET\r\n" +
        "Access-Control-Request-Headers: authorization\r\n",
    });
    assert.equal(preflight.status, 204, label);
    assert.ok(preflight.get("access-control-allow-origin"), label);
    assert.equal(
      preflight.get("access-control-allow-headers"),
      "authorization",
      label,
    );
    // Not a preflight: the credentials are asked for.
    const plain = await raw(s.port, "/small.txt", {
      method: "OPTIONS",
      headers: "Origin: https://app.example\r\n",
    });
    assert.equal(plain.status, 401, label);
    const anonymous = await raw(s.port, "/small.txt", {
      headers: "Origin: https://app.example\r\n",
    });
    assert.equal(anonymous.status, 401, label);
    assert.ok(anonymous.get("access-control-allow-origin"), label);
    const signed = await raw(s.port, "/small.txt", {
      headers: `Origin: https://app.example\r\nAuthorization: Basic ${
        btoa("a:b")
      }\r\n`,
    });
    assert.equal(signed.status, 200, label);
  }
});

Deno.test("corsOrigins: an Access-Control-Allow-Credentials of extraResponseHeaders goes with the CORS fields, on preflights and errors too, once", async () => {
  await using s = startServer(handler({
    corsOrigins: ["https://app.example"],
    extraResponseHeaders: [["Access-Control-Allow-Credentials", "true"]],
    auth: [["a", "b"]],
  }));
  const origin = "Origin: https://app.example\r\n";
  const signed = `Authorization: Basic ${btoa("a:b")}\r\n`;
  const cases: [string, string, string, number][] = [
    [
      "OPTIONS",
      "/small.txt",
      origin + "Access-Control-Request-Method: PUT\r\n",
      204,
    ],
    ["GET", "/small.txt", origin, 401],
    ["GET", "/missing.txt", origin + signed, 404],
    ["GET", "/small.txt", origin + signed, 200],
  ];
  for (const [method, target, headers, status] of cases) {
    const r = await raw(s.port, target, { method, headers });
    assert.equal(r.status, status, `${method} ${target}`);
    assert.deepEqual(
      r.headers.filter(([name]) =>
        name.toLowerCase() === "access-control-allow-credentials"
      ).map(([, value]) => value),
      ["true"],
      `${method} ${target}`,
    );
  }
  // Not to another origin, which gets no CORS fields at all.
  const other = await raw(s.port, "/small.txt", {
    headers: "Origin: https://evil.example\r\n" + signed,
  });
  assert.equal(other.status, 200);
  assert.equal(other.get("access-control-allow-credentials"), undefined);
});

Deno.test("compress: a listing is compressed for a client that asks, with its length and Vary, as a file is", async () => {
  await using s = startServer(handler({ compress: true }));
  const plain = await raw(s.port, "/sizes/");
  assert.equal(plain.status, 200);
  assert.ok(plain.body.length >= 1024, `a page of ${plain.body.length} B`);
  assert.equal(plain.get("vary"), "Accept, Accept-Encoding");
  assert.equal(plain.get("content-encoding"), undefined);
  for (const coding of ["gzip", "br"]) {
    const r = await raw(s.port, "/sizes/", {
      headers: `Accept-Encoding: ${coding}\r\n`,
    });
    assert.equal(r.get("content-encoding"), coding);
    assert.equal(r.get("vary"), "Accept, Accept-Encoding");
    assert.equal(Number(r.get("content-length")), r.body.length);
    assert.equal(await decode(r.body, coding), plain.body);
  }
  const json = await raw(s.port, "/sizes/", {
    headers: "Accept: application/json\r\nAccept-Encoding: gzip\r\n",
  });
  assert.equal(json.get("content-type"), "application/json");
  assert.equal(json.get("content-encoding"), undefined, "a page under 1 KiB");
  await using off = startServer(handler({}));
  const stored = await raw(off.port, "/sizes/", {
    headers: "Accept-Encoding: gzip\r\n",
  });
  assert.equal(stored.get("content-encoding"), undefined);
  assert.equal(stored.get("vary"), "Accept");
});
