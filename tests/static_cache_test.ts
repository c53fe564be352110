// Copyright 2026 the basehttp authors. MIT license.
// The static handler's cache of small files (issue 17): a cached file is
// served only after the request path is resolved and checked again, and
// only while its lstat matches; symlink swaps, rewrites, deletions,
// renames, dotfiles by real path and the bounds, on 127.0.0.1.

import assert from "node:assert/strict";
import { FILE_CACHE, type FileCache } from "../_file_cache.ts";
import { simpleHandler } from "../static.ts";
import type { HTTPServer } from "../server.ts";
import {
  delay,
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
    "www/app.js": APP_JS,
    "www/pre.css": PRE_CSS,
    "outside/secret.txt": "top secret",
  });
  const { tmp, root } = files;
  await Deno.writeFile(`${root}/pre.css.gz`, await gzip(PRE_CSS_GZ));
  await delay(SETTLE_MS);
  await using httpd = startServer(quiet({ directory: root }));
  const { port, server } = httpd;

  /** GETs `path` twice: the second answer comes from the cache. */
  async function cached(path: string, body: string): Promise<void> {
    const before = cacheOf(server)?.size ?? 0;
    const first = await get(port, path);
    const second = await get(port, path);
    assert.equal(first.status, 200);
    assert.equal(first.body, body);
    assert.equal(cacheOf(server)!.size, before + 1, `${path} is cached`);
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
      const response = await get(port, "/b.txt");
      assert.equal(response.status, 404);
      assert.doesNotMatch(response.body, /top secret/);
    },
  );

  await t.step("a directory moved out and linked back is 404", async () => {
    await cached("/sub/c.txt", "charlie\n");
    // c.txt keeps its inode and ctime: only its real path tells.
    await Deno.rename(`${root}/sub`, `${tmp}/outside/sub`);
    await Deno.symlink(`${tmp}/outside/sub`, `${root}/sub`);
    assert.equal((await get(port, "/sub/c.txt")).status, 404);
  });

  await t.step(
    "a rewritten file serves its new content, even with its old mtime",
    async () => {
      await cached("/r.txt", "aaaa");
      await Deno.writeTextFile(`${root}/r.txt`, "bbbb");
      assert.equal((await get(port, "/r.txt")).body, "bbbb");
      // Same inode, size and mtime (to the millisecond): ctime tells.
      await cached("/s.txt", "ssss");
      const { mtime } = await Deno.lstat(`${root}/s.txt`);
      await Deno.writeTextFile(`${root}/s.txt`, "tttt");
      await Deno.utime(`${root}/s.txt`, mtime!, mtime!);
      assert.equal(
        (await Deno.lstat(`${root}/s.txt`)).mtime?.getTime(),
        mtime?.getTime(),
      );
      assert.equal((await get(port, "/s.txt")).body, "tttt");
    },
  );

  await t.step("a deleted file is 404", async () => {
    await cached("/d.txt", "delta\n");
    await Deno.remove(`${root}/d.txt`);
    assert.equal((await get(port, "/d.txt")).status, 404);
  });

  await t.step("a renamed directory is 404 at its old name", async () => {
    await cached("/dir/e.txt", "echo\n");
    await Deno.rename(`${root}/dir`, `${root}/dir2`);
    assert.equal((await get(port, "/dir/e.txt")).status, 404);
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
      assert.equal((await get(port, "/f.txt")).status, 404);
      await cached("/g/h.txt", "hotel\n");
      await Deno.rename(`${root}/g`, `${root}/.g`);
      await Deno.symlink(`${root}/.g`, `${root}/g`);
      assert.equal((await get(port, "/g/h.txt")).status, 404);
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
