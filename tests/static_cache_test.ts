// Copyright 2026 the basehttp authors. MIT license.
// The static handler's caches (issue 17): small files' bytes, served only
// while the lstat of the resolved path matches them, and resolved paths,
// kept while the watched directories report no change (for at most
// MAX_AGE_MS). A change shows once its event arrives, within milliseconds:
// each test that changes the tree waits for that, and checks that nothing
// but the old answer or the new one is ever served in between. Symlink
// swaps, rewrites, deletions, renames, dotfiles by real path, FIFOs, a
// directory made again, and the bounds, on 127.0.0.1.

import assert from "node:assert/strict";
import { FILE_CACHE, type FileCache } from "../_file_cache.ts";
import { PATH_MEMO, type PathMemo } from "../_path_memo.ts";
import { MAX_AGE_MS, WATCHED_PATHS, WatchedPaths } from "../_watched_paths.ts";
import { toFetchHandler } from "../fetch.ts";
import { BANNER, Serve } from "./_serve.ts";
import { type FileSource, simpleHandler } from "../static.ts";
import type { ResponseWriter } from "../handler.ts";
import type { HTTPServer } from "../server.ts";
import {
  delay,
  latin1,
  latin1Bytes,
  type ParsedResponse,
  parseResponses,
  readAll,
  startServer,
  writeAll,
} from "./_util.ts";
import { race } from "./_static.ts";

// A file changed this recently is not cached (see _file_cache.ts).
const SETTLE_MS = 2100;
const RACE_MS = 1000;
const encoder = new TextEncoder();
const APP_JS = "export const answer = 42;\n".repeat(200);
const PRE_CSS = "body { color: black; }\n".repeat(100);
const PRE_CSS_GZ = "/* from the .gz sibling */\n".repeat(100);

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return await new Response(stream).bytes();
}

/** Decodes a gzip body received as Latin-1 text. */
async function gunzip(body: string): Promise<string> {
  const stream = new Blob([latin1Bytes(body) as Uint8Array<ArrayBuffer>])
    .stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
  return await new Response(stream).text();
}

/** One request on its own connection, `Connection: close`. */
async function get(
  port: number,
  path: string,
  fields = "",
  method = "GET",
): Promise<ParsedResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(
      conn,
      encoder.encode(
        `${method} ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n${fields}\r\n`,
      ),
    );
    const { text, closed } = await readAll(conn, 2000);
    assert.ok(closed, `no whole answer for ${path}`);
    return parseResponses(text, method === "HEAD")[0];
  } finally {
    try {
      conn.close();
    } catch {
      // closed by readAll
    }
  }
}

function cacheOf(server: HTTPServer): FileCache | undefined {
  return (server as { [FILE_CACHE]?: FileCache })[FILE_CACHE];
}

function keptOf(server: HTTPServer): WatchedPaths<unknown> | null | undefined {
  return (server as { [WATCHED_PATHS]?: WatchedPaths<unknown> | null })[
    WATCHED_PATHS
  ];
}

/** GETs `path` until `key` is kept by `server`; fails after 5 s. */
async function keepOn(
  server: HTTPServer,
  port: number,
  path: string,
  key: string,
) {
  const start = performance.now();
  while (!keptOf(server)?.get(key)) {
    assert.ok(performance.now() - start < 5000, `${path} is not kept`);
    await get(port, path);
  }
}

/**
 * GETs `path` until `done` says the change is served; every answer before
 * must be one that `allowed` takes (the old one). Fails after three times the
 * age limit (an event Deno drops leaves the change to that limit; a loaded
 * machine adds to it).
 *
 * @returns How long the change took to show, in ms.
 */
async function changed(
  port: number,
  path: string,
  done: (response: ParsedResponse) => boolean,
  allowed: (response: ParsedResponse) => boolean,
): Promise<number> {
  const start = performance.now();
  while (true) {
    const response = await get(port, path);
    if (done(response)) return performance.now() - start;
    assert.ok(
      allowed(response),
      `${path}: ${response.status} ${response.body}`,
    );
    assert.ok(
      performance.now() - start < 3 * MAX_AGE_MS,
      `${path} still serves the old answer`,
    );
  }
}

const isStatus = (status: number) => (response: ParsedResponse) =>
  response.status === status;
const isBody = (body: string) => (response: ParsedResponse) =>
  response.status === 200 && response.body === body;

/** Writes `files` (path → text) under a new temp folder's `www`. */
async function tree(files: Record<string, string>) {
  const tmp = await Deno.makeTempDir({ prefix: "basehttp_static_cache_" });
  const root = `${tmp}/www`;
  for (const [path, text] of Object.entries(files)) {
    const full = `${tmp}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), {
      recursive: true,
    });
    await Deno.writeTextFile(full, text);
  }
  await Deno.mkdir(root, { recursive: true });
  return {
    tmp,
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(tmp, { recursive: true });
    },
  };
}

function quiet(options: Parameters<typeof simpleHandler>[0]) {
  return class extends simpleHandler({
    protocolVersion: "HTTP/1.1",
    ...options,
  }) {
    override logMessage(): void {}
  };
}

Deno.test("the file cache serves settled small files and drops what changed", async (t) => {
  await using files = await tree({
    "www/a.txt": "alpha\n",
    "www/b.txt": "bravo\n",
    "www/sub/c.txt": "charlie\n",
    "www/r.txt": "aaaa",
    "www/s.txt": "ssss",
    "www/d.txt": "delta\n",
    "www/dir/e.txt": "echo\n",
    "www/f.txt": "foxtrot\n",
    "www/g/h.txt": "hotel\n",
    "www/race.txt": "inside",
    "www/w.txt": "one",
    "www/p.txt": "pipe",
    "www/again/x.txt": "1",
    "www/app.js": APP_JS,
    "www/pre.css": PRE_CSS,
    "outside/secret.txt": "top secret",
  });
  const { tmp, root } = files;
  await Deno.writeFile(`${root}/pre.css.gz`, await gzip(PRE_CSS_GZ));
  await delay(SETTLE_MS);
  await using httpd = startServer(quiet({ directory: root }));
  const { port, server } = httpd;
  const realRoot = await Deno.realPath(root);

  /** GETs `path` until it is kept resolved (its directories watched). */
  const kept = (path: string) => keepOn(server, port, path, realRoot + path);

  /**
   * GETs `path` twice: the second answer comes from the cache; then until
   * the path is kept resolved for the next.
   */
  async function cached(path: string, body: string): Promise<void> {
    const before = cacheOf(server)?.size ?? 0;
    const first = await get(port, path);
    const second = await get(port, path);
    assert.equal(first.status, 200);
    assert.equal(first.body, body);
    assert.equal(cacheOf(server)!.size, before + 1, `${path} is cached`);
    await kept(path);
    assert.deepEqual(
      second.headers.filter(([name]) => name !== "Date"),
      first.headers.filter(([name]) => name !== "Date"),
    );
    assert.equal(second.body, body);
  }

  await t.step(
    "a cached file answers as from disk, ranges and HEAD too",
    async () => {
      await cached("/a.txt", "alpha\n");
      assert.equal(cacheOf(server)!.bytes, 6);
      const range = await get(port, "/a.txt", "Range: bytes=1-3\r\n");
      assert.equal(range.status, 206);
      assert.equal(range.get("content-range"), "bytes 1-3/6");
      assert.equal(range.body, "lph");
      const head = await get(port, "/a.txt", "", "HEAD");
      assert.equal(head.status, 200);
      assert.equal(head.get("content-length"), "6");
      const etag = head.get("etag")!;
      const conditional = await get(
        port,
        "/a.txt",
        `If-None-Match: ${etag}\r\n`,
      );
      assert.equal(conditional.status, 304);
    },
  );

  await t.step(
    "compressed on the fly or precompressed, from the cache",
    async () => {
      await using zipping = startServer(
        quiet({ directory: root, compress: true }),
      );
      const gz = "Accept-Encoding: gzip\r\n";
      for (let i = 0; i < 2; i++) {
        const app = await get(zipping.port, "/app.js", gz);
        assert.equal(app.get("content-encoding"), "gzip");
        assert.equal(await gunzip(app.body), APP_JS);
        const pre = await get(zipping.port, "/pre.css", gz);
        assert.equal(pre.get("content-encoding"), "gzip");
        assert.equal(await gunzip(pre.body), PRE_CSS_GZ);
        const range = await get(
          zipping.port,
          "/app.js",
          `${gz}Range: bytes=0-5\r\n`,
        );
        assert.equal(range.status, 206);
        assert.equal(range.body, "export");
      }
      // app.js, pre.css (opened before its sibling was picked), pre.css.gz
      assert.equal(cacheOf(zipping.server)!.size, 3);
      assert.notEqual(cacheOf(zipping.server), cacheOf(server)); // per server
    },
  );

  await t.step(
    "a file replaced by a symlink out of the root is 404",
    async () => {
      await cached("/b.txt", "bravo\n");
      await Deno.remove(`${root}/b.txt`);
      await Deno.symlink(`${tmp}/outside/secret.txt`, `${root}/b.txt`);
      await changed(port, "/b.txt", isStatus(404), isBody("bravo\n"));
    },
  );

  await t.step("a directory moved out and linked back is 404", async () => {
    await cached("/sub/c.txt", "charlie\n");
    // c.txt keeps its inode and ctime: only its real path tells.
    await Deno.rename(`${root}/sub`, `${tmp}/outside/sub`);
    await Deno.symlink(`${tmp}/outside/sub`, `${root}/sub`);
    await changed(port, "/sub/c.txt", isStatus(404), isBody("charlie\n"));
  });

  await t.step(
    "a rewritten file serves its new content, even with its old mtime",
    async () => {
      await cached("/r.txt", "aaaa");
      await Deno.writeTextFile(`${root}/r.txt`, "bbbb");
      await changed(port, "/r.txt", isBody("bbbb"), isBody("aaaa"));
      // Same inode, size and mtime (to the millisecond): ctime tells.
      await cached("/s.txt", "ssss");
      const { mtime } = await Deno.lstat(`${root}/s.txt`);
      await Deno.writeTextFile(`${root}/s.txt`, "tttt");
      await Deno.utime(`${root}/s.txt`, mtime!, mtime!);
      assert.equal(
        (await Deno.lstat(`${root}/s.txt`)).mtime?.getTime(),
        mtime?.getTime(),
      );
      await changed(port, "/s.txt", isBody("tttt"), isBody("ssss"));
    },
  );

  await t.step("a deleted file is 404", async () => {
    await cached("/d.txt", "delta\n");
    await Deno.remove(`${root}/d.txt`);
    await changed(port, "/d.txt", isStatus(404), isBody("delta\n"));
  });

  await t.step("a renamed directory is 404 at its old name", async () => {
    await cached("/dir/e.txt", "echo\n");
    await Deno.rename(`${root}/dir`, `${root}/dir2`);
    await changed(port, "/dir/e.txt", isStatus(404), isBody("echo\n"));
    const moved = await get(port, "/dir2/e.txt");
    assert.equal(moved.status, 200);
    assert.equal(moved.body, "echo\n");
  });

  await t.step(
    "a file or directory that became a dotfile by real path is 404",
    async () => {
      await cached("/f.txt", "foxtrot\n");
      await Deno.rename(`${root}/f.txt`, `${root}/.f.txt`);
      await Deno.symlink(`${root}/.f.txt`, `${root}/f.txt`);
      await changed(port, "/f.txt", isStatus(404), isBody("foxtrot\n"));
      await cached("/g/h.txt", "hotel\n");
      await Deno.rename(`${root}/g`, `${root}/.g`);
      await Deno.symlink(`${root}/.g`, `${root}/g`);
      await changed(port, "/g/h.txt", isStatus(404), isBody("hotel\n"));
    },
  );

  await t.step(
    "a change shows through the watch, well within the age limit",
    async () => {
      await cached("/w.txt", "one");
      await Deno.writeTextFile(`${root}/w.txt`, "two");
      const inPlace = await changed(
        port,
        "/w.txt",
        isBody("two"),
        isBody("one"),
      );
      assert.ok(inPlace < MAX_AGE_MS / 2, `${inPlace} ms`);
      await kept("/w.txt");
      await Deno.writeTextFile(`${root}/.w.tmp`, "three");
      await Deno.rename(`${root}/.w.tmp`, `${root}/w.txt`);
      const renamed = await changed(
        port,
        "/w.txt",
        isBody("three"),
        isBody("two"),
      );
      assert.ok(renamed < MAX_AGE_MS / 2, `${renamed} ms`);
    },
  );

  await t.step(
    "a directory removed and made again is watched again",
    async () => {
      await cached("/again/x.txt", "1");
      await Deno.remove(`${root}/again`, { recursive: true });
      await Deno.mkdir(`${root}/again`);
      await Deno.writeTextFile(`${root}/again/x.txt`, "2");
      await changed(port, "/again/x.txt", isBody("2"), isBody("1"));
      await kept("/again/x.txt"); // the new directory is watched
      await Deno.writeTextFile(`${root}/again/x.txt`, "3");
      const ms = await changed(port, "/again/x.txt", isBody("3"), isBody("2"));
      assert.ok(ms < MAX_AGE_MS / 2, `${ms} ms`);
    },
  );

  await t.step(
    "a file written just now is read from disk, not cached",
    async () => {
      await Deno.writeTextFile(`${root}/new.txt`, "new\n");
      const before = cacheOf(server)!.size;
      assert.equal((await get(port, "/new.txt")).body, "new\n");
      assert.equal(cacheOf(server)!.size, before);
    },
  );

  await t.step(
    "a cached file swapped with a symlink out, again and again, never leaks",
    async () => {
      await cached("/race.txt", "inside");
      const file = JSON.stringify(`${root}/race.txt`);
      const counts = await race(
        port,
        "/race.txt",
        `Deno.renameSync(${file}, "${root}/.keep");
         Deno.symlinkSync("${tmp}/outside/secret.txt", "${root}/.l");
         Deno.renameSync("${root}/.l", ${file});
         Deno.renameSync("${root}/.keep", ${file});`,
        RACE_MS,
      );
      const seen = JSON.stringify([...counts]);
      assert.ok(!counts.has("200 top secret"), seen);
      assert.equal(counts.get("no answer") ?? 0, 0, seen);
      assert.ok((counts.get("200 inside") ?? 0) > 0, seen);
    },
  );

  await t.step(
    "a FIFO put in place of a kept file is 404 and holds nothing up",
    async () => {
      await cached("/p.txt", "pipe");
      await Deno.rename(`${root}/p.txt`, `${root}/.p.txt`);
      const made = await new Deno.Command("mkfifo", { args: [`${root}/p.txt`] })
        .output();
      assert.ok(made.success, "mkfifo");
      // get() fails after 2 s without an answer: nothing opened the FIFO.
      await changed(port, "/p.txt", isStatus(404), isBody("pipe"));
      // Deno's watcher thread now waits on the FIFO and reports nothing
      // more (see _watch_worker.ts): a change shows within the age limit.
      await Deno.writeTextFile(`${root}/w.txt`, "four");
      await changed(port, "/w.txt", isBody("four"), isBody("three"));
    },
  );
});

Deno.test("the file cache keeps to its bounds", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 5; i++) files[`www/${i}.txt`] = String(i).repeat(30);
  files["www/forty.txt"] = "f".repeat(40);
  files["www/big.txt"] = "b".repeat(50);
  await using made = await tree(files);
  await delay(SETTLE_MS);
  const fileCache = { maxEntries: 3, maxBytes: 99, maxFileSize: 40 };
  await using httpd = startServer(quiet({ directory: made.root, fileCache }));
  const { port, server } = httpd;
  const real = await Deno.realPath(made.root);
  const holds = async (name: string) =>
    cacheOf(server)!.get(
      `${real}/${name}`,
      await Deno.lstat(`${real}/${name}`),
    ) !==
      null;
  for (let i = 0; i < 5; i++) {
    assert.equal((await get(port, `/${i}.txt`)).body, String(i).repeat(30));
    assert.equal(cacheOf(server)!.size, Math.min(i + 1, 3)); // maxEntries
  }
  assert.equal(cacheOf(server)!.bytes, 90);
  // The least recently used goes first: 2.txt, used now, stays.
  await get(port, "/2.txt");
  // 90 + 40 > maxBytes: the two least recently used go.
  assert.equal((await get(port, "/forty.txt")).body, "f".repeat(40));
  assert.equal(cacheOf(server)!.size, 2);
  assert.equal(cacheOf(server)!.bytes, 70);
  assert.ok(await holds("2.txt"));
  assert.ok(!(await holds("3.txt")));
  // Over maxFileSize: served whole from disk, not held.
  assert.equal((await get(port, "/big.txt")).body, "b".repeat(50));
  assert.equal(cacheOf(server)!.bytes, 70);
});

Deno.test("fileCache: null reads every file from disk", async () => {
  await using made = await tree({ "www/a.txt": "a" });
  await delay(SETTLE_MS);
  await using httpd = startServer(
    quiet({ directory: made.root, fileCache: null }),
  );
  assert.equal((await get(httpd.port, "/a.txt")).body, "a");
  assert.equal(cacheOf(httpd.server), undefined);
});

Deno.test("a kept file rewritten in place is never sent with its old length or ETag", async () => {
  // Not held by the file cache (written just now), so read from disk; the
  // GET goes out in the same tick as the write, before the event can come.
  await using made = await tree({ "www/v.txt": "v0" });
  await using httpd = startServer(quiet({ directory: made.root }));
  const { port, server } = httpd;
  const real = `${await Deno.realPath(made.root)}/v.txt`;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const ask = encoder.encode("GET /v.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    const reply = async () => {
      await writeAll(conn, ask);
      let text = "";
      const chunk = new Uint8Array(4096);
      while (true) {
        const n = await conn.read(chunk);
        assert.ok(n !== null, "closed");
        text += new TextDecoder().decode(chunk.subarray(0, n));
        const parsed = parseResponses(text);
        const length = Number(parsed[0]?.get("content-length") ?? NaN);
        if (parsed[0] && parsed[0].body.length >= length) return parsed[0];
      }
    };
    let body = "v0";
    let etag = (await reply()).get("etag");
    for (let i = 1; i <= 20; i++) {
      for (let k = 0; k < 50 && !keptOf(server)?.get(real); k++) {
        const kept = await reply();
        assert.equal(kept.body, body);
        assert.equal(kept.get("etag"), etag);
        await delay(5);
      }
      body = `v${i}`.repeat(i); // another length each time
      Deno.writeTextFileSync(real, body);
      const response = await reply();
      assert.equal(response.status, 200);
      assert.equal(response.body, body);
      // The tag names the size: a kept resolution's tag must not outlive it.
      assert.notEqual(response.get("etag"), etag);
      etag = response.get("etag");
    }
  } finally {
    conn.close();
  }
});

Deno.test("a file rewritten in place as editors write it (truncated, then written) is never a 404", async () => {
  await using made = await tree({ "www/rw.json": "{}".padEnd(600) });
  await using httpd = startServer(quiet({ directory: made.root }));
  const file = JSON.stringify(`${await Deno.realPath(made.root)}/rw.json`);
  const counts = await race(
    httpd.port,
    "/rw.json",
    `Deno.writeTextFileSync(${file}, "{}".padEnd(600 - (Date.now() % 50)));`,
    RACE_MS,
  );
  const seen = JSON.stringify(
    [...counts].map(([key, n]) => [key.slice(0, 3), n]),
  );
  assert.equal(counts.get("404") ?? 0, 0, seen);
  assert.ok([...counts.keys()].some((key) => key.startsWith("200")), seen);
});

Deno.test("a root reached through a symlink is kept, and watched", async () => {
  await using made = await tree({ "www/a.txt": "one" });
  const link = `${made.tmp}/current`;
  await Deno.symlink(made.root, link);
  await using httpd = startServer(quiet({ directory: link }));
  const { port, server } = httpd;
  await keepOn(server, port, "/a.txt", `${link}/a.txt`);
  await Deno.writeTextFile(`${made.root}/a.txt`, "two");
  const ms = await changed(port, "/a.txt", isBody("two"), isBody("one"));
  assert.ok(ms < MAX_AGE_MS / 2, `${ms} ms`);
});

Deno.test("a symlinked root switched to another tree is served from it within a second, on an open connection too, and kept again", async () => {
  // A release deploy: `current` is made to point at the next release.
  await using made = await tree({
    "rel1/x.txt": "r1",
    "rel1/old.txt": "gone in rel2",
    "rel2/x.txt": "r2",
  });
  const link = `${made.tmp}/current`;
  await Deno.symlink(`${made.tmp}/rel1`, link);
  await using httpd = startServer(quiet({ directory: link }));
  const { port, server } = httpd;
  await keepOn(server, port, "/x.txt", `${link}/x.txt`);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const buf = new Uint8Array(4096);
    // One response, whole by its Content-Length, on the open connection.
    const onOpen = async (path: string) => {
      await writeAll(
        conn,
        encoder.encode(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`),
      );
      let text = "";
      while (true) {
        const end = text.indexOf("\r\n\r\n");
        const length = /content-length: *(\d+)/i.exec(text)?.[1];
        if (end >= 0 && length && text.length >= end + 4 + Number(length)) {
          return parseResponses(text)[0];
        }
        const n = await conn.read(buf);
        assert.ok(n !== null, `the connection closed after ${text}`);
        text += latin1(buf.subarray(0, n));
      }
    };
    assert.equal((await onOpen("/x.txt")).body, "r1");
    await Deno.symlink(`${made.tmp}/rel2`, `${link}.new`);
    await Deno.rename(`${link}.new`, link);
    const start = performance.now();
    while (true) {
      const r = await onOpen("/x.txt");
      if (r.body === "r2") break;
      assert.equal(r.body, "r1", `${r.status} ${r.body}`);
      assert.ok(performance.now() - start < 3 * MAX_AGE_MS, "still rel1");
    }
    assert.equal((await onOpen("/old.txt")).status, 404);
  } finally {
    conn.close();
  }
  assert.equal((await get(port, "/x.txt")).body, "r2");
  assert.equal((await get(port, "/old.txt")).status, 404);
  // The new tree is kept and watched as the old one was.
  const real = await Deno.realPath(`${made.tmp}/rel2`);
  await keepOn(server, port, "/x.txt", `${link}/x.txt`);
  assert.equal(keptOf(server)!.root, real);
});

Deno.test("a directory above the root renamed and made again is watched again", async () => {
  await using made = await tree({ "site/www/a.txt": "v1" });
  const root = `${made.tmp}/site/www`;
  await using httpd = startServer(quiet({ directory: root }));
  const { port, server } = httpd;
  const key = `${await Deno.realPath(root)}/a.txt`;
  await keepOn(server, port, "/a.txt", key);
  // No watched directory is named: the old watches follow the old tree.
  await Deno.rename(`${made.tmp}/site`, `${made.tmp}/site.old`);
  await Deno.mkdir(root, { recursive: true });
  await Deno.writeTextFile(`${root}/a.txt`, "n1");
  await changed(port, "/a.txt", isBody("n1"), isBody("v1"));
  await delay(SETTLE_MS); // held by the file cache: only an event tells
  await get(port, "/a.txt");
  await keepOn(server, port, "/a.txt", key);
  assert.equal(cacheOf(server)!.size, 1);
  await Deno.writeTextFile(`${root}/a.txt`, "n2");
  const ms = await changed(port, "/a.txt", isBody("n2"), isBody("n1"));
  assert.ok(ms < MAX_AGE_MS / 2, `${ms} ms`);
});

Deno.test("a kept file past the age limit, found the same, keeps its resolution", async () => {
  await using made = await tree({ "www/a.txt": "one" });
  await using httpd = startServer(quiet({ directory: made.root }));
  const { port, server } = httpd;
  const key = `${await Deno.realPath(made.root)}/a.txt`;
  await keepOn(server, port, "/a.txt", key);
  const kept = keptOf(server)!.get(key);
  await delay(MAX_AGE_MS + 100);
  assert.equal((await get(port, "/a.txt")).body, "one");
  // The same object, its ETag and Last-Modified made once.
  assert.equal(keptOf(server)!.get(key), kept);
});

Deno.test("a file dated ahead of the clock gets its own Last-Modified once the clock passes it", async () => {
  // Sent as the Date while it is ahead (RFC 9110 §8.8.2.1): a value of the
  // moment, never kept with the resolution, which may be kept far longer.
  await using made = await tree({ "www/a.txt": "one" });
  const mtime = new Date((Math.floor(Date.now() / 1000) + 2) * 1000);
  await Deno.utime(`${made.root}/a.txt`, mtime, mtime);
  await using httpd = startServer(quiet({ directory: made.root }));
  const { port, server } = httpd;
  const key = `${await Deno.realPath(made.root)}/a.txt`;
  await keepOn(server, port, "/a.txt", key);
  const kept = keptOf(server)!.get(key);
  await delay(mtime.getTime() + 100 - Date.now());
  const response = await get(port, "/a.txt");
  assert.equal(keptOf(server)!.get(key), kept); // still the one resolution
  assert.equal(response.get("last-modified"), mtime.toUTCString());
});

/** `watched` keeps `value` for `path`, once its directories are watched. */
async function keepIn<T>(watched: WatchedPaths<T>, path: string, value: T) {
  const start = performance.now();
  while (watched.get(path) === undefined) {
    assert.ok(performance.now() - start < 5000, `${path} is not kept`);
    watched.set(path, path, value);
    await delay(10);
  }
}

Deno.test("a kept resolution past the age limit is used only once confirmed", async () => {
  await using made = await tree({ "www/a.txt": "a" });
  const root = await Deno.realPath(made.root);
  const path = `${root}/a.txt`;
  const asked: [string, unknown][] = [];
  let same = true;
  using watched = new WatchedPaths<object>(root, root, (path, value) => {
    asked.push([path, value]);
    return same;
  });
  const value = {};
  await keepIn(watched, path, value);
  assert.deepEqual(asked, []);
  await delay(MAX_AGE_MS + 50);
  assert.equal(watched.get(path), value);
  assert.equal(watched.get(path), value); // for another MAX_AGE_MS
  assert.equal(asked.length, 1);
  assert.equal(asked[0][0], path);
  assert.equal(asked[0][1], value);
  same = false;
  await delay(MAX_AGE_MS + 50);
  assert.equal(watched.get(path), undefined);
  assert.equal(watched.size, 0);
});

Deno.test("a root made again forgets a path kept since its last check", async () => {
  // The root's check falls due while a path's resolution is still young:
  // the check comes first, and the path is not used. Only get() checks the
  // root (on a miss too), so no call but the last one here moves the check.
  await using made = await tree({
    "site/www/a.txt": "a",
    "site/www/b.txt": "b",
  });
  const root = `${made.tmp}/site/www`;
  const real = await Deno.realPath(root);
  using watched = new WatchedPaths<object>(real, real, () => {
    throw new Error("nothing is confirmed here");
  });
  await keepIn(watched, `${real}/b.txt`, {}); // the root is watched now
  await delay(MAX_AGE_MS + 50);
  assert.equal(watched.get(`${real}/missing`), undefined); // checks the root
  const checked = performance.now();
  await delay(MAX_AGE_MS / 2);
  watched.set(`${real}/a.txt`, `${real}/a.txt`, {});
  assert.equal(watched.size, 2);
  await delay(checked + MAX_AGE_MS + 100 - performance.now());
  await Deno.rename(`${made.tmp}/site`, `${made.tmp}/site.old`);
  await Deno.mkdir(root, { recursive: true });
  assert.equal(watched.get(`${real}/a.txt`), undefined);
});

Deno.test("serve with --allow-read for its directory alone watches without an error", async () => {
  await using made = await tree({ "www/a.txt": "one" });
  await using serve = new Serve(["0", "-b", "127.0.0.1", "-d", made.root], {
    permissions: [
      "--allow-net",
      `--allow-read=${made.root}`,
      "--allow-sys=hostname",
    ],
  });
  const port = Number((await serve.waitFor(BANNER))[3]);
  for (let i = 0; i < 20; i++) {
    assert.equal((await get(port, "/a.txt")).body, "one");
    await delay(10);
  }
  await Deno.writeTextFile(`${made.root}/a.txt`, "two");
  await changed(port, "/a.txt", isBody("two"), isBody("one"));
  assert.doesNotMatch(serve.stderr, /Uncaught|Requires read access/);
});

Deno.test("what an upload writes over a kept file is served at once", async () => {
  await using made = await tree({ "www/u.txt": "before" });
  await delay(SETTLE_MS);
  await using httpd = startServer(quiet({
    directory: made.root,
    upload: { overwrite: true, maxUpload: null },
  }));
  const { port, server } = httpd;
  const real = `${await Deno.realPath(made.root)}/u.txt`;
  assert.equal((await get(port, "/u.txt")).body, "before");
  await keepOn(server, port, "/u.txt", real);
  for (let i = 0; i < 20; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const body = `after ${i}`;
    await writeAll(
      conn,
      encoder.encode(
        `PUT /u.txt HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
          "GET /u.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
      ),
    );
    const { text } = await readAll(conn, 2000);
    conn.close();
    const [put, got] = parseResponses(text);
    assert.equal(put.status, 204);
    assert.equal(got.body, body);
  }
});

Deno.test("a server with no listener of its own keeps no watch open", async () => {
  // The resource sanitizer fails this test if a watcher is left open: a
  // fetch handler's server is never closed.
  await using made = await tree({ "www/a.txt": "a" });
  await delay(SETTLE_MS);
  const handler = toFetchHandler(quiet({ directory: made.root }));
  for (let i = 0; i < 3; i++) {
    const response = await handler(new Request("http://t/a.txt"));
    assert.equal(await response.text(), "a");
  }
});

Deno.test("the path memo keeps no long request-target: 1,024 of 60 KB would hold 60 MB", async () => {
  await using made = await tree({ "www/a.txt": "a" });
  await using srv = startServer(quiet({ directory: made.root }));
  const long = `/${"x".repeat(60_000)}`;
  for (const target of ["/a.txt", long]) {
    assert.ok((await get(srv.port, target)).status < 500);
  }
  const memo = (srv.server as { [PATH_MEMO]?: PathMemo })[PATH_MEMO]!;
  assert.equal(memo.path("/a.txt"), `${made.root}/a.txt`);
  assert.equal(memo.path(long), undefined);
});

Deno.test("simpleHandler checks fileCache", () => {
  for (
    const bad of [{ maxEntries: 1 }, {
      maxEntries: -1,
      maxBytes: 1,
      maxFileSize: 1,
    }, "big"]
  ) {
    assert.throws(
      () => simpleHandler({ fileCache: bad as never }),
      TypeError,
    );
  }
});

Deno.test("a copyfile override sees a cached small file's body too", async () => {
  await using files = await tree({ "www/a.txt": "alpha\n" });
  await delay(SETTLE_MS); // settled: cached
  const copied: number[] = [];
  class Upper extends quiet({ directory: files.root }) {
    override async copyfile(
      source: FileSource,
      outputfile: ResponseWriter,
      length?: number,
    ): Promise<void> {
      const p = new Uint8Array(length ?? 0);
      for (let n = 0, got; n < p.length; n += got) {
        got = await source.read(p.subarray(n));
        if (got === null) break;
      }
      copied.push(p.length);
      await outputfile.write(new TextDecoder().decode(p).toUpperCase());
    }
  }
  await using s = startServer(Upper);
  for (let i = 0; i < 3; i++) {
    assert.equal((await get(s.port, "/a.txt")).body, "ALPHA\n");
  }
  assert.equal(cacheOf(s.server)?.size, 1, "the file was cached");
  assert.deepEqual(copied, [6, 6, 6]);
});
