// Copyright 2026 the basehttp authors. MIT license.
// `serve --upload` spawned for real: PUT, a multipart POST from the form,
// the limit, the write permission it checks at start, CORS and CGI beside it.
import assert from "node:assert/strict";
import { parseArgs } from "../cli.ts";
import { simpleHandler } from "../static.ts";
import { delay, exchange, parseResponses, readAll, writeAll } from "./_util.ts";
import { PERMISSIONS, run, Serve } from "./_serve.ts";

/** Runs `fn` with a fresh root and `serve` on it with `args`. */
async function withServe(
  args: string[],
  fn: (ctx: { root: string; port: number; serve: Serve }) => Promise<void>,
  permissions?: (root: string) => string[],
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "basehttp_upload_serve_" });
  try {
    await using serve = new Serve(
      ["0", "-b", "127.0.0.1", "-d", root, ...args],
      {
        permissions: permissions?.(root) ??
          [...PERMISSIONS, `--allow-write=${root}`],
      },
    );
    const port = await serve.banner();
    await fn({ root, port, serve });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  return found.sort();
}

/** One request on its own connection, as raw bytes; the parsed response. */
async function request(port: number, head: string, body = "") {
  const { text } = await exchange(
    port,
    `${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
      (body === "" || head.includes("Transfer-Encoding")
        ? ""
        : `Content-Length: ${body.length}\r\n`) +
      `\r\n${body}`,
  );
  return parseResponses(text)[0];
}

Deno.test("serve --upload: PUT creates, refuses to replace, and --overwrite replaces", async () => {
  await withServe(["--upload"], async ({ root, port }) => {
    const created = await request(port, "PUT /notes.txt HTTP/1.1", "hello\n");
    assert.equal(created.status, 201);
    assert.equal(created.get("location"), "/notes.txt");
    assert.equal(await Deno.readTextFile(`${root}/notes.txt`), "hello\n");
    const again = await request(port, "PUT /notes.txt HTTP/1.1", "other\n");
    assert.equal(again.status, 409);
    assert.equal(await Deno.readTextFile(`${root}/notes.txt`), "hello\n");
    const back = await fetch(`http://127.0.0.1:${port}/notes.txt`);
    assert.equal(await back.text(), "hello\n");
  });
  await withServe(["--upload", "--overwrite"], async ({ root, port }) => {
    await Deno.writeTextFile(`${root}/notes.txt`, "old\n");
    const replaced = await request(port, "PUT /notes.txt HTTP/1.1", "new\n");
    assert.equal(replaced.status, 204);
    assert.equal(await Deno.readTextFile(`${root}/notes.txt`), "new\n");
    assert.deepEqual(await names(root), ["notes.txt"]);
  });
});

Deno.test("serve --upload: a multipart POST of two files and a field", async () => {
  await withServe(["--upload"], async ({ root, port }) => {
    await Deno.mkdir(`${root}/docs`);
    const binary = Uint8Array.from({ length: 70000 }, (_, i) => (i * 7) % 256);
    const form = new FormData();
    form.append("note", "a field, not saved");
    form.append("file", new Blob(["first\r\n--not a boundary\r\n"]), "a.txt");
    form.append("file", new Blob([binary]), "b.bin");
    const response = await fetch(`http://127.0.0.1:${port}/docs/`, {
      method: "POST",
      body: form,
      headers: { Accept: "application/json" },
    });
    assert.equal(response.status, 201);
    assert.deepEqual(await response.json(), {
      files: [
        { name: "a.txt", size: 25, created: true },
        { name: "b.bin", size: 70000, created: true },
      ],
    });
    assert.deepEqual(await names(`${root}/docs`), ["a.txt", "b.bin"]);
    assert.equal(
      await Deno.readTextFile(`${root}/docs/a.txt`),
      "first\r\n--not a boundary\r\n",
    );
    assert.deepEqual(await Deno.readFile(`${root}/docs/b.bin`), binary);
    // The listing shows the form, and the files.
    const listing = await (await fetch(`http://127.0.0.1:${port}/docs/`))
      .text();
    assert.match(listing, /<form id="upload" method="post"/);
    assert.match(listing, /href="b\.bin"/);
  });
});

Deno.test("serve --upload --max-upload: over the limit is 413 and leaves nothing", async () => {
  await withServe(
    ["--upload", "--max-upload", "1K"],
    async ({ root, port }) => {
      const big = "x".repeat(2048);
      const put = await request(port, "PUT /big.txt HTTP/1.1", big);
      assert.equal(put.status, 413);
      // Chunked, so no Content-Length to refuse it early: cut while streaming.
      const chunked = await request(
        port,
        "PUT /big.txt HTTP/1.1\r\nTransfer-Encoding: chunked",
        `800\r\n${big}\r\n0\r\n\r\n`,
      );
      assert.equal(chunked.status, 413);
      const form = new FormData();
      form.append("file", new Blob(["small\n"]), "small.txt");
      form.append("file", new Blob([big]), "big.txt");
      const post = await fetch(`http://127.0.0.1:${port}/`, {
        method: "POST",
        body: form,
      });
      await post.body?.cancel();
      assert.equal(post.status, 413);
      assert.deepEqual(await names(root), []);
      const fits = await request(
        port,
        "PUT /fits.txt HTTP/1.1",
        "x".repeat(1024),
      );
      assert.equal(fits.status, 201);
      assert.deepEqual(await names(root), ["fits.txt"]);
    },
  );
});

Deno.test("serve --upload --dotfiles: a file still being uploaded is not listed", async () => {
  await withServe(["--upload", "--dotfiles"], async ({ root, port }) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(
        conn,
        new TextEncoder().encode(
          "PUT /slow.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
            "Transfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n",
        ),
      );
      let temp: string[] = [];
      for (let tries = 0; temp.length === 0 && tries < 250; tries++) {
        await delay(20);
        temp = (await names(root)).filter((name) => name.startsWith("."));
      }
      assert.match(temp[0], /^\.upload-[0-9a-f-]{36}\.part$/);
      const listing = await fetch(`http://127.0.0.1:${port}/`, {
        headers: { Accept: "application/json" },
      });
      assert.deepEqual(await listing.json(), []);
      await writeAll(conn, new TextEncoder().encode("0\r\n\r\n"));
      const { text } = await readAll(conn);
      assert.equal(parseResponses(text)[0].status, 201);
    } finally {
      try {
        conn.close();
      } catch {
        // readAll() closed it
      }
    }
    assert.deepEqual(await names(root), ["slow.txt"]);
    assert.equal(await Deno.readTextFile(`${root}/slow.txt`), "hello\n");
  });
});

Deno.test("serve --upload: without write permission, one line and exit 1", async () => {
  const root = await Deno.makeTempDir({ prefix: "basehttp_upload_serve_" });
  try {
    const { code, stdout, stderr } = await run([
      "0",
      "-b",
      "127.0.0.1",
      "-d",
      root,
      "--upload",
    ]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      `serve: error: --upload needs write permission to ${root}: run deno with --allow-write=${root}\n`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** A preflight from https://a.example for a PUT to `/`. */
function preflightPut(port: number) {
  return request(
    port,
    "OPTIONS / HTTP/1.1\r\nOrigin: https://a.example\r\n" +
      "Access-Control-Request-Method: PUT",
  );
}

Deno.test("serve: without --upload, PUT and POST are 501 and CORS does not offer them", async () => {
  await withServe(["--cors"], async ({ root, port }) => {
    assert.equal((await request(port, "PUT /a.txt HTTP/1.1", "a")).status, 501);
    assert.equal((await request(port, "POST / HTTP/1.1", "a")).status, 501);
    assert.deepEqual(await names(root), []);
    const preflight = await preflightPut(port);
    assert.equal(
      preflight.get("access-control-allow-methods"),
      "GET, HEAD, OPTIONS",
    );
    const listing = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.doesNotMatch(listing, /<form/);
  }, () => PERMISSIONS);
  // Uploads from another site are refused unless --cors-origin names it:
  // a preflight from one offers them only then (Allow still lists them).
  await withServe(["--cors", "--upload"], async ({ port }) => {
    const preflight = await preflightPut(port);
    assert.equal(
      preflight.get("access-control-allow-methods"),
      "GET, HEAD, OPTIONS",
    );
    assert.equal(preflight.get("allow"), "GET, HEAD, POST, PUT, OPTIONS");
  });
  await withServe(
    ["--cors-origin", "https://a.example", "--upload"],
    async ({ port }) => {
      const preflight = await preflightPut(port);
      assert.equal(
        preflight.get("access-control-allow-methods"),
        "GET, HEAD, POST, PUT, OPTIONS",
      );
    },
  );
});

Deno.test("serve --upload: another site's page may not upload, a --cors-origin may", async () => {
  await withServe(
    ["--upload", "--cors-origin", "https://app.example"],
    async ({ root, port }) => {
      const from = (origin: string) =>
        request(
          port,
          `PUT /${origin.length}.txt HTTP/1.1\r\nOrigin: ${origin}`,
          "x",
        );
      assert.equal((await from("https://evil.example")).status, 403);
      assert.equal((await from("null")).status, 403);
      assert.deepEqual(await names(root), []);
      const allowed = await from("https://app.example");
      assert.equal(allowed.status, 201);
      assert.equal(
        allowed.get("access-control-allow-origin"),
        "https://app.example",
      );
      // A page this server served is its own site (Host: 127.0.0.1).
      const own = await from("http://127.0.0.1");
      assert.equal(own.status, 201);
      assert.equal((await names(root)).length, 2);
    },
  );
});

Deno.test("simpleHandler() checks the upload option", () => {
  assert.throws(
    () => simpleHandler({ upload: { overwrite: "yes" } as never }),
    TypeError,
  );
  assert.throws(
    () => simpleHandler({ upload: { overwrite: false, maxUpload: -1 } }),
    TypeError,
  );
  simpleHandler({ upload: { overwrite: true, maxUpload: null } });
  simpleHandler({ upload: {} });
  simpleHandler({ upload: { maxUpload: 10 } });
  simpleHandler({ upload: null });
});

Deno.test("serve --cgi --upload: scripts still run, other POSTs save files", async () => {
  await withServe(
    ["--cgi", "--upload"],
    async ({ root, port }) => {
      const form = new FormData();
      form.append("file", new Blob(["saved\n"]), "saved.txt");
      const saved = await fetch(`http://127.0.0.1:${port}/`, {
        method: "POST",
        body: form,
        headers: { Accept: "application/json" },
      });
      assert.equal(saved.status, 201);
      await saved.body?.cancel();
      assert.equal(await Deno.readTextFile(`${root}/saved.txt`), "saved\n");
      const script = await request(
        port,
        "POST /cgi-bin/echo.sh HTTP/1.1",
        "hi",
      );
      assert.equal(script.status, 200);
      assert.equal(script.body, "script ran\n");
      // Nothing is written into a CGI directory.
      const put = await request(port, "PUT /cgi-bin/new.sh HTTP/1.1", "x");
      assert.equal(put.status, 403);
      assert.deepEqual(await names(`${root}/cgi-bin`), ["echo.sh"]);
    },
    (root) => {
      Deno.mkdirSync(`${root}/cgi-bin`);
      Deno.writeTextFileSync(
        `${root}/cgi-bin/echo.sh`,
        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nscript ran\\n'\n",
        { mode: 0o755 },
      );
      return [...PERMISSIONS, "--allow-run", `--allow-write=${root}`];
    },
  );
});

Deno.test("parseArgs() reads --upload, --overwrite and --max-upload", () => {
  const defaults = parseArgs([]);
  assert.equal(defaults.upload, false);
  assert.equal(defaults.overwrite, false);
  assert.equal(defaults.maxUpload, null);
  const options = parseArgs(["--upload", "--overwrite", "--max-upload=10M"]);
  assert.equal(options.upload, true);
  assert.equal(options.overwrite, true);
  assert.equal(options.maxUpload, 10 << 20);
  const sizes = { "500": 500, "10K": 10240, "2m": 2 << 20, "1G": 1 << 30 };
  for (const [size, bytes] of Object.entries(sizes)) {
    assert.equal(
      parseArgs(["--upload", "--max-upload", size]).maxUpload,
      bytes,
    );
  }
  for (const bad of ["", "1.5G", "10T", "-1", "M"]) {
    assert.throws(
      () => parseArgs(["--upload", `--max-upload=${bad}`]),
      new RegExp(`^TypeError: argument --max-upload: invalid size: '${bad}'`),
      bad,
    );
  }
  assert.throws(() => parseArgs(["--overwrite"]), /need --upload/);
  assert.throws(() => parseArgs(["--max-upload", "1K"]), /need --upload/);
});
