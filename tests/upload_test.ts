// Copyright 2026 the basehttp authors. MIT license.
// Uploads over real sockets: a handler that calls the upload functions from
// do_PUT and do_POST, as `serve --upload` does, against a temporary root.

import assert from "node:assert/strict";
import {
  postFiles,
  putFile,
  uploadFormHtml,
  type UploadOptions,
  writePermissionProblem,
} from "../_upload.ts";
import { SimpleHTTPRequestHandler } from "../static.ts";
import { testClient } from "../testing.ts";
import {
  exchange,
  parseResponses,
  readAll,
  startServer,
  type TestServer,
  writeAll,
} from "./_util.ts";

const encoder = new TextEncoder();

function uploadHandler(
  root: string,
  options: Partial<UploadOptions> = {},
): typeof SimpleHTTPRequestHandler {
  const settings: UploadOptions = {
    overwrite: false,
    maxUpload: null,
    ...options,
  };
  return class extends SimpleHTTPRequestHandler {
    override directory = root;
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    override do_PUT(): Promise<void> {
      return putFile(this, settings);
    }
    override do_POST(): Promise<void> {
      return postFiles(this, settings);
    }
  };
}

/** A temporary root with a sibling directory outside it, removed after. */
async function withRoot(
  options: Partial<UploadOptions>,
  fn: (ctx: { root: string; outside: string; server: TestServer }) => Promise<
    void
  >,
): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "upload_test_" });
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  try {
    await using server = startServer(uploadHandler(root, options));
    await fn({ root, outside, server });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  return found.sort();
}

/** A PUT as raw bytes; the status and the response. */
async function put(
  port: number,
  path: string,
  body: string,
  extra = "",
): Promise<number> {
  const { text } = await exchange(
    port,
    `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
      `Content-Length: ${body.length}\r\n${extra}\r\n${body}`,
  );
  return parseResponses(text)[0].status;
}

Deno.test("upload: curl -T style PUT with Expect: 100-continue", async () => {
  await withRoot({}, async ({ root, server }) => {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    try {
      await writeAll(
        conn,
        encoder.encode(
          "PUT /notes.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/8.5.0\r\n" +
            "Content-Length: 6\r\nExpect: 100-continue\r\n\r\n",
        ),
      );
      const buf = new Uint8Array(1024);
      const n = await conn.read(buf);
      assert.match(
        new TextDecoder().decode(buf.subarray(0, n!)),
        /^HTTP\/1\.1 100 Continue\r\n\r\n$/,
      );
      await writeAll(conn, encoder.encode("hello\n"));
      const [response] = parseResponses((await readAll(conn, 300)).text);
      assert.equal(response.status, 201);
      assert.equal(response.get("location"), "/notes.txt");
    } finally {
      try {
        conn.close();
      } catch {
        // readAll() closed it
      }
    }
    assert.equal(await Deno.readTextFile(`${root}/notes.txt`), "hello\n");
    assert.deepEqual(await names(root), ["notes.txt"]); // no temporary file
  });
});

Deno.test("upload: PUT is 201, then 409 without overwrite", async () => {
  await withRoot({}, async ({ root, server }) => {
    await Deno.mkdir(`${root}/sub`);
    assert.equal(await put(server.port, "/sub/a%20b.txt", "one"), 201);
    assert.equal(await put(server.port, "/sub/a%20b.txt", "two"), 409);
    assert.equal(await Deno.readTextFile(`${root}/sub/a b.txt`), "one");
    assert.equal(await put(server.port, "/sub", "x"), 409); // a directory
    assert.equal(await put(server.port, "/sub/", "x"), 409);
    assert.equal(await put(server.port, "/", "x"), 409);
    assert.equal(await put(server.port, "/missing/a.txt", "x"), 404);
    assert.deepEqual(await names(root), ["sub"]);
    assert.deepEqual(await names(`${root}/sub`), ["a b.txt"]);
  });
});

Deno.test("upload: PUT with overwrite is 204 and replaces the file whole", async () => {
  await withRoot({ overwrite: true }, async ({ root, server }) => {
    assert.equal(await put(server.port, "/a.txt", "first"), 201);
    const before = await Deno.stat(`${root}/a.txt`);
    assert.equal(await put(server.port, "/a.txt", "second, longer"), 204);
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "second, longer");
    // Renamed into place: a new inode, so no reader saw it half written.
    assert.notEqual((await Deno.stat(`${root}/a.txt`)).ino, before.ino);
    await Deno.mkdir(`${root}/dir`);
    assert.equal(await put(server.port, "/dir", "x"), 409); // never a directory
    assert.ok((await Deno.stat(`${root}/dir`)).isDirectory);
    // If-None-Match: * creates only; a partial PUT is refused.
    const onlyCreate = "If-None-Match: *\r\n";
    assert.equal(await put(server.port, "/a.txt", "third", onlyCreate), 412);
    assert.equal(await put(server.port, "/new.txt", "new", onlyCreate), 201);
    const range = "Content-Range: bytes 0-2/10\r\n";
    assert.equal(await put(server.port, "/a.txt", "abc", range), 400);
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "second, longer");
    assert.deepEqual(await names(root), ["a.txt", "dir", "new.txt"]);
  });
});

/** The validators a GET of `path` answers with. */
async function validators(
  port: number,
  path: string,
): Promise<{ etag: string; lastModified: string }> {
  const { text } = await exchange(
    port,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
  );
  const [response] = parseResponses(text);
  return {
    etag: response.get("etag")!,
    lastModified: response.get("last-modified")!,
  };
}

Deno.test("upload: PUT evaluates If-Match, If-Unmodified-Since and If-None-Match against the stored file", async () => {
  await withRoot({ overwrite: true }, async ({ root, server }) => {
    await Deno.writeTextFile(`${root}/f.txt`, "original");
    const { etag, lastModified } = await validators(server.port, "/f.txt");
    const older = "Mon, 01 Jan 1990 00:00:00 GMT";
    for (
      const condition of [
        `If-Match: "stale"`,
        `If-Match: W/${etag}`, // a weak tag never matches strongly
        `If-Unmodified-Since: ${older}`,
        `If-None-Match: ${etag}`,
        `If-None-Match: W/${etag}`, // weak comparison
        `If-None-Match: *`,
        `If-Match: ${etag}\r\nIf-None-Match: ${etag}`,
      ]
    ) {
      const status = await put(server.port, "/f.txt", "x", `${condition}\r\n`);
      assert.equal(status, 412, condition);
    }
    assert.equal(await Deno.readTextFile(`${root}/f.txt`), "original");
    // If-Match decides; If-Unmodified-Since is not evaluated then.
    const matching =
      `If-Match: "a", ${etag}\r\nIf-Unmodified-Since: ${older}\r\n`;
    assert.equal(await put(server.port, "/f.txt", "second", matching), 204);
    assert.equal(await put(server.port, "/f.txt", "x", matching), 412); // changed
    const now = await validators(server.port, "/f.txt");
    const unmodified = `If-Unmodified-Since: ${now.lastModified}\r\n`;
    assert.equal(await put(server.port, "/f.txt", "third", unmodified), 204);
    // If-Modified-Since is for GET and HEAD only.
    const modified = `If-Modified-Since: ${lastModified}\r\n`;
    assert.equal(await put(server.port, "/f.txt", "fourth", modified), 204);
    assert.equal(await Deno.readTextFile(`${root}/f.txt`), "fourth");
    // A missing file matches no If-Match and every If-None-Match but *;
    // it has no date for If-Unmodified-Since.
    assert.equal(
      await put(server.port, "/new.txt", "x", "If-Match: *\r\n"),
      412,
    );
    assert.equal(
      await put(server.port, "/new.txt", "x", `If-Match: ${etag}\r\n`),
      412,
    );
    assert.equal(
      await put(server.port, "/a.txt", "a", `If-None-Match: ${etag}\r\n`),
      201,
    );
    assert.equal(
      await put(
        server.port,
        "/b.txt",
        "b",
        `If-Unmodified-Since: ${older}\r\n`,
      ),
      201,
    );
    assert.deepEqual(await names(root), ["a.txt", "b.txt", "f.txt"]);
  });
});

Deno.test("upload: PUT preconditions give way to the 409 the request would get without them", async () => {
  await withRoot({}, async ({ root, server }) => {
    await Deno.writeTextFile(`${root}/f.txt`, "original");
    await Deno.mkdir(`${root}/dir`);
    for (const condition of ["If-None-Match: *", `If-Match: "stale"`]) {
      const extra = `${condition}\r\n`;
      assert.equal(await put(server.port, "/f.txt", "x", extra), 409);
      assert.equal(await put(server.port, "/dir", "x", extra), 409);
    }
    assert.equal(await Deno.readTextFile(`${root}/f.txt`), "original");
  });
});

/**
 * A PUT with `Expect: 100-continue` that runs `meanwhile` once the server
 * asks for the body, then sends it; whether it was asked, and the status.
 */
async function putWhileAsked(
  port: number,
  path: string,
  extra: string,
  meanwhile: () => Promise<void>,
): Promise<{ continued: boolean; status: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(
      conn,
      encoder.encode(
        `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
          `Content-Length: 4\r\nExpect: 100-continue\r\n${extra}\r\n`,
      ),
    );
    const buf = new Uint8Array(1024);
    const first = new TextDecoder().decode(
      buf.subarray(0, await conn.read(buf) ?? 0),
    );
    if (!first.startsWith("HTTP/1.1 100 ")) {
      return { continued: false, status: parseResponses(first)[0].status };
    }
    await meanwhile();
    await writeAll(conn, encoder.encode("mine"));
    const [response] = parseResponses((await readAll(conn, 1000)).text);
    return { continued: true, status: response.status };
  } finally {
    try {
      conn.close();
    } catch {
      // readAll() closed it
    }
  }
}

Deno.test("upload: PUT preconditions are checked before the body is read, and again before the commit", async () => {
  await withRoot({ overwrite: true }, async ({ root, server }) => {
    const path = `${root}/f.txt`;
    await Deno.writeTextFile(path, "original");
    const { etag } = await validators(server.port, "/f.txt");
    const unchanged = async () => {};
    // Failed at once: the body is never asked for.
    assert.deepEqual(
      await putWhileAsked(
        server.port,
        "/f.txt",
        `If-Match: "stale"\r\n`,
        unchanged,
      ),
      { continued: false, status: 412 },
    );
    // Changed by someone else while the body was on its way.
    const theirs = () => Deno.writeTextFile(path, "theirs, longer");
    assert.deepEqual(
      await putWhileAsked(
        server.port,
        "/f.txt",
        `If-Match: ${etag}\r\n`,
        theirs,
      ),
      { continued: true, status: 412 },
    );
    assert.equal(await Deno.readTextFile(path), "theirs, longer");
    // Created by someone else while the body was on its way.
    const created = () => Deno.writeTextFile(`${root}/n.txt`, "theirs");
    assert.deepEqual(
      await putWhileAsked(
        server.port,
        "/n.txt",
        "If-None-Match: *\r\n",
        created,
      ),
      { continued: true, status: 412 },
    );
    assert.equal(await Deno.readTextFile(`${root}/n.txt`), "theirs");
    assert.deepEqual(await names(root), ["f.txt", "n.txt"]); // no temporary file
    // Unchanged: the write goes through.
    const now = await validators(server.port, "/f.txt");
    assert.deepEqual(
      await putWhileAsked(
        server.port,
        "/f.txt",
        `If-Match: ${now.etag}\r\n`,
        unchanged,
      ),
      { continued: true, status: 204 },
    );
    assert.equal(await Deno.readTextFile(path), "mine");
  });
});

Deno.test("upload: a chunked PUT from fetch", async () => {
  await withRoot({}, async ({ root, server }) => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("chunk one, "));
        controller.enqueue(encoder.encode("chunk two"));
        controller.close();
      },
    });
    const response = await fetch(`http://127.0.0.1:${server.port}/c.txt`, {
      method: "PUT",
      body,
    });
    await response.body?.cancel();
    assert.equal(response.status, 201);
    assert.equal(
      await Deno.readTextFile(`${root}/c.txt`),
      "chunk one, chunk two",
    );
  });
});

Deno.test("upload: PUT refuses traversal, dotfiles and symlinks out of the root", async () => {
  await withRoot({ overwrite: true }, async ({ root, outside, server }) => {
    await Deno.writeTextFile(`${outside}/victim.txt`, "safe");
    await Deno.symlink(outside, `${root}/out`);
    await Deno.symlink(`${outside}/victim.txt`, `${root}/link.txt`);
    assert.equal(await put(server.port, "/../outside/x.txt", "x"), 403);
    assert.equal(await put(server.port, "/%2e%2e/outside/x.txt", "x"), 403);
    assert.equal(await put(server.port, "/.hidden", "x"), 403);
    assert.equal(await put(server.port, "/out/x.txt", "x"), 403);
    assert.equal(await put(server.port, "/out/victim.txt", "x"), 403);
    assert.equal(await put(server.port, "/link.txt", "x"), 409); // not through it
    assert.equal(await put(server.port, "/a%00b", "x"), 403);
    assert.deepEqual(await names(outside), ["victim.txt"]);
    assert.equal(await Deno.readTextFile(`${outside}/victim.txt`), "safe");
    assert.deepEqual(await names(root), ["link.txt", "out"]);
  });
});

Deno.test("upload: a PUT over the limit is 413 and leaves nothing", async () => {
  await withRoot({ maxUpload: 1000 }, async ({ root, server }) => {
    assert.equal(await put(server.port, "/ok.bin", "x".repeat(1000)), 201);
    // Declared too large: refused before the body.
    assert.equal(await put(server.port, "/big.bin", "x".repeat(1001)), 413);
    // Chunked: refused as the bytes pass the limit.
    const chunk = "x".repeat(600);
    const { text } = await exchange(server.port, [
      "PUT /chunked.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n",
      `258\r\n${chunk}\r\n`,
      `258\r\n${chunk}\r\n0\r\n\r\n`,
    ], { pauseMs: 20 });
    assert.equal(parseResponses(text)[0].status, 413);
    assert.deepEqual(await names(root), ["ok.bin"]);
  });
});

/** A multipart body with the given parts. */
function multipart(
  boundary: string,
  parts: { disposition: string; type?: string; body: string }[],
): string {
  return parts.map((part) =>
    `--${boundary}\r\nContent-Disposition: form-data; ${part.disposition}\r\n` +
    (part.type ? `Content-Type: ${part.type}\r\n` : "") +
    `\r\n${part.body}\r\n`
  ).join("") + `--${boundary}--\r\n`;
}

async function post(
  port: number,
  path: string,
  body: string,
  extra = "",
): Promise<{ status: number; body: string }> {
  const { text } = await exchange(
    port,
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n` +
      `Content-Type: multipart/form-data; boundary=XX\r\n` +
      `Content-Length: ${body.length}\r\n${extra}\r\n${body}`,
  );
  const [response] = parseResponses(text);
  return { status: response.status, body: response.body };
}

Deno.test("upload: a name longer than the file system allows is 400, for PUT and POST; GET is 404", async () => {
  await withRoot({ overwrite: true }, async ({ root, server }) => {
    const long = "a".repeat(300) + ".txt";
    assert.equal(await put(server.port, `/${long}`, "x"), 400);
    const body = multipart("XX", [{
      disposition: `name="f"; filename="${long}"`,
      body: "x",
    }]);
    assert.equal((await post(server.port, "/", body)).status, 400);
    const { text } = await exchange(
      server.port,
      `GET /${long} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(parseResponses(text)[0].status, 404);
    assert.deepEqual(await names(root), []);
  });
});

Deno.test("upload: a multipart POST of two files and a field", async () => {
  await withRoot({}, async ({ root, server }) => {
    await Deno.mkdir(`${root}/docs`);
    const form = new FormData();
    form.append("note", "not a file");
    form.append("file", new Blob(["first file\n"]), "one.txt");
    form.append("file", new Blob([new Uint8Array([0, 1, 2, 255])]), "two.bin");
    const url = `http://127.0.0.1:${server.port}/docs/`;
    const response = await fetch(url, {
      method: "POST",
      body: form,
      headers: { Accept: "application/json" },
    });
    assert.equal(response.status, 201);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.deepEqual(await response.json(), {
      files: [
        { name: "one.txt", size: 11, created: true },
        { name: "two.bin", size: 4, created: true },
      ],
    });
    assert.deepEqual(await names(`${root}/docs`), ["one.txt", "two.bin"]);
    assert.equal(
      await Deno.readTextFile(`${root}/docs/one.txt`),
      "first file\n",
    );
    assert.deepEqual(
      await Deno.readFile(`${root}/docs/two.bin`),
      new Uint8Array([0, 1, 2, 255]),
    );
    // Again, as a browser form without script: 409, the files exist.
    const again = await fetch(url, { method: "POST", body: form });
    await again.body?.cancel();
    assert.equal(again.status, 409);
  });
});

Deno.test("upload: two files of one name in one POST with overwrite: the last is kept, and listed once", async () => {
  await withRoot({ overwrite: true }, async ({ root, server }) => {
    const body = multipart("XX", [
      { disposition: 'name="f"; filename="a.txt"', body: "first" },
      { disposition: 'name="f"; filename="a.txt"', body: "second!" },
    ]);
    const { status, body: summary } = await post(
      server.port,
      "/",
      body,
      "Accept: application/json\r\n",
    );
    assert.equal(status, 201);
    assert.deepEqual(JSON.parse(summary), {
      files: [{ name: "a.txt", size: 7, created: true }],
    });
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "second!");
    assert.deepEqual(await names(root), ["a.txt"]); // no spool file left
  });
});

Deno.test("upload: a POST answers HTML to a browser, and 200 when replacing", async () => {
  await withRoot({ overwrite: true }, async ({ root, server }) => {
    const body = multipart("XX", [
      { disposition: 'name="f"; filename="<b>.txt"', body: "v1" },
      { disposition: 'name="empty"; filename=""', body: "" },
    ]);
    const first = await post(server.port, "/", body, "Accept: text/html\r\n");
    assert.equal(first.status, 201);
    assert.match(
      first.body,
      /<a href="\/%3Cb%3E\.txt">&lt;b&gt;\.txt<\/a> \(2 bytes\)/,
    );
    assert.match(first.body, /<a href="\/">Back to the listing<\/a>/);
    const second = await post(server.port, "/", body.replace("v1", "v2!"));
    assert.equal(second.status, 200);
    assert.equal(await Deno.readTextFile(`${root}/<b>.txt`), "v2!");
    // A quote in the request path cannot end an attribute.
    await Deno.mkdir(`${root}/a"b`);
    const quoted = await post(server.port, '/a"b/', body);
    assert.equal(quoted.status, 201);
    assert.match(quoted.body, /<a href="\/a%22b\/%3Cb%3E\.txt">/);
    assert.match(quoted.body, /<a href="\/a%22b\/">Back/);
  });
});

Deno.test("upload: POST file names with a path or a dot are refused", async () => {
  await withRoot({}, async ({ root, outside, server }) => {
    await Deno.mkdir(`${root}/in`);
    const cases: [string, number][] = [
      ['name="f"; filename="../outside/evil.txt"', 400],
      ['name="f"; filename="..\\\\evil.txt"', 400],
      ["name=\"f\"; filename*=UTF-8''..%2Fevil.txt", 400],
      ['name="f"; filename=".evil"', 403],
      ['name="f"; filename=".."', 403],
    ];
    for (const [disposition, status] of cases) {
      const body = multipart("XX", [
        { disposition: 'name="ok"; filename="fine.txt"', body: "fine" },
        { disposition, body: "evil" },
      ]);
      assert.equal(
        (await post(server.port, "/in/", body)).status,
        status,
        disposition,
      );
    }
    // Not into a directory outside the root, nor into a hidden one.
    await Deno.symlink(outside, `${root}/out`);
    await Deno.mkdir(`${root}/.git`);
    const good = multipart("XX", [{
      disposition: 'name="f"; filename="a.txt"',
      body: "a",
    }]);
    assert.equal((await post(server.port, "/out/", good)).status, 403);
    assert.equal((await post(server.port, "/.git/", good)).status, 403);
    assert.equal((await post(server.port, "/nothing/", good)).status, 404);
    // Nor from a page of another site.
    assert.equal(
      (await post(server.port, "/in/", good, "Origin: http://evil.example\r\n"))
        .status,
      403,
    );
    assert.deepEqual(await names(outside), []);
    assert.deepEqual(await names(`${root}/in`), []); // all or nothing
    assert.deepEqual(await names(`${root}/.git`), []);
    // Same origin is fine; so is no file at all a 400.
    assert.equal(
      (await post(
        server.port,
        "/in/",
        good,
        `Origin: http://127.0.0.1:${server.port}\r\n`,
      )).status,
      201,
    );
    const noFile = multipart("XX", [{ disposition: 'name="f"', body: "x" }]);
    assert.equal((await post(server.port, "/in/", noFile)).status, 400);
    assert.deepEqual(await names(`${root}/in`), ["a.txt"]);
  });
});

Deno.test("upload: a POST that meets a file made while its body came keeps none of its files (all or none)", async () => {
  await withRoot({}, async ({ root, server }) => {
    const first = '--XX\r\nContent-Disposition: form-data; name="f"; ' +
      'filename="a.txt"\r\n\r\nAAA\r\n--XX\r\nContent-Disposition: ' +
      'form-data; name="f"; filename="b.txt"\r\n\r\n' + "B".repeat(20);
    const rest = "B\r\n--XX--\r\n";
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    try {
      await writeAll(
        conn,
        encoder.encode(
          `POST / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n` +
            "Content-Type: multipart/form-data; boundary=XX\r\n" +
            `Content-Length: ${first.length + rest.length}\r\n\r\n${first}`,
        ),
      );
      // b.txt is made by another client while the POST's body comes.
      const spooling = async () =>
        (await names(root)).filter((name) => name.startsWith(".upload-"));
      while ((await spooling()).length < 2) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.equal(await put(server.port, "/b.txt", "other"), 201);
      await writeAll(conn, encoder.encode(rest));
      const { text } = await readAll(conn, 2000);
      assert.equal(parseResponses(text)[0].status, 409);
    } finally {
      conn.close();
    }
    assert.deepEqual(await names(root), ["b.txt"]);
    assert.equal(await Deno.readTextFile(`${root}/b.txt`), "other");
  });
});

Deno.test("upload: file names with control or bidirectional characters are refused, for PUT and POST", async () => {
  await withRoot({}, async ({ root, server }) => {
    const dispositions = [
      'name="f"; filename="a%0Ab.txt"',
      "name=f; filename*=UTF-8''c%1B%5B31md.txt",
      "name=f; filename*=UTF-8''e%7Ff.txt",
      "name=f; filename*=UTF-8''g%E2%80%AEtxt.exe",
    ];
    for (const disposition of dispositions) {
      const body = multipart("XX", [{ disposition, body: "x" }]);
      assert.equal(
        (await post(server.port, "/", body)).status,
        400,
        disposition,
      );
    }
    assert.equal(await put(server.port, "/p%0Aq.txt", "x"), 400);
    assert.equal(await put(server.port, "/p%E2%80%AEq.txt", "x"), 400);
    assert.deepEqual(await names(root), []);
    // Only the new name is checked, for PUT as for POST: not a directory
    // that is there already.
    await Deno.mkdir(`${root}/r\u202ed`);
    assert.equal(await put(server.port, "/r%E2%80%AEd/x.txt", "x"), 201);
    const body = multipart("XX", [{
      disposition: 'name="f"; filename="y.txt"',
      body: "y",
    }]);
    assert.equal((await post(server.port, "/r%E2%80%AEd/", body)).status, 201);
  });
});

Deno.test("upload: a part named only by filename* is a file, whether or not it decodes", async () => {
  await withRoot({}, async ({ root, server }) => {
    // encodeURIComponent leaves ( ) ' as they are; %FF is not UTF-8.
    const body = multipart("XX", [
      { disposition: "name=f; filename*=UTF-8''report%20(1).txt", body: "r" },
      { disposition: "name=g; filename*=UTF-8''%FF.txt", body: "s" },
    ]);
    assert.equal((await post(server.port, "/", body)).status, 201);
    assert.deepEqual(await names(root), ["report (1).txt", "\ufffd.txt"]);
  });
});

Deno.test("upload: the summary links a directory whose name has # or ?", async () => {
  await withRoot({}, async ({ root, server }) => {
    for (const dir of ["a#b", "c?d"]) {
      await Deno.mkdir(`${root}/${dir}`);
      const body = multipart("XX", [{
        disposition: 'name="f"; filename="f.txt"',
        body: "x",
      }]);
      const path = `/${encodeURIComponent(dir)}/`;
      const answer = await post(
        server.port,
        path,
        body,
        "Accept: text/html\r\n",
      );
      assert.equal(answer.status, 201);
      const link = answer.body.match(/<a href="([^"]*f\.txt)">/)![1];
      assert.equal(link, `${path}f.txt`);
    }
  });
});

Deno.test("upload: a POST over the limit is 413 and leaves nothing", async () => {
  await withRoot({ maxUpload: 2000 }, async ({ root, server }) => {
    const body = multipart("XX", [
      { disposition: 'name="a"; filename="small.txt"', body: "small" },
      { disposition: 'name="b"; filename="big.txt"', body: "x".repeat(2000) },
    ]);
    // Streamed in pieces without a length, so the limit is met mid-body.
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    try {
      await writeAll(
        conn,
        encoder.encode(
          "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n" +
            "Content-Type: multipart/form-data; boundary=XX\r\n\r\n",
        ),
      );
      for (let i = 0; i < body.length; i += 500) {
        const piece = body.slice(i, i + 500);
        try {
          await writeAll(
            conn,
            encoder.encode(`${piece.length.toString(16)}\r\n${piece}\r\n`),
          );
        } catch {
          break; // closed after the 413
        }
      }
      const [response] = parseResponses((await readAll(conn, 300)).text);
      assert.equal(response.status, 413);
    } finally {
      try {
        conn.close();
      } catch {
        // readAll() closed it
      }
    }
    assert.deepEqual(await names(root), []);
  });
});

/** Mounts a 1 MiB tmpfs at `dir`; `false` when this box cannot. */
async function mountTmpfs(dir: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

Deno.test("upload: a full disk is 507 and leaves nothing", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "upload_tmpfs_" });
  try {
    if (!await mountTmpfs(dir)) {
      console.log("skipped: cannot mount a tmpfs here (needs root and mount)");
      return;
    }
    try {
      await using server = startServer(uploadHandler(dir));
      await t.step("PUT", async () => {
        const big = "x".repeat(2 << 20);
        assert.equal(await put(server.port, "/big.bin", big), 507);
        assert.deepEqual(await names(dir), []);
      });
      await t.step("POST", async () => {
        const body = multipart("XX", [
          { disposition: 'name="a"; filename="a.txt"', body: "a" },
          {
            disposition: 'name="b"; filename="b.bin"',
            body: "x".repeat(2 << 20),
          },
        ]);
        assert.equal((await post(server.port, "/", body)).status, 507);
        assert.deepEqual(await names(dir), []);
      });
      // The space came back: an upload that fits works.
      assert.equal(await put(server.port, "/fits.txt", "fits"), 201);
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("upload: a 1 GiB multipart POST in flat memory", async () => {
  await withRoot({}, async ({ root, server }) => {
    const size = 1 << 30;
    const head =
      `--XX\r\nContent-Disposition: form-data; name="f"; filename="huge.bin"\r\n\r\n`;
    const tail = "\r\n--XX--\r\n";
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    const started = performance.now();
    const before = Deno.memoryUsage().rss;
    let peak = before;
    try {
      await writeAll(
        conn,
        encoder.encode(
          "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n" +
            "Connection: close\r\n" +
            "Content-Type: multipart/form-data; boundary=XX\r\n" +
            `Content-Length: ${
              head.length + size + tail.length
            }\r\n\r\n${head}`,
        ),
      );
      const chunk = new Uint8Array(1 << 20).fill(0x61);
      for (let sent = 0; sent < size; sent += chunk.length) {
        await writeAll(conn, chunk);
        if ((sent & (64 << 20) - 1) === 0) {
          peak = Math.max(peak, Deno.memoryUsage().rss);
        }
      }
      await writeAll(conn, encoder.encode(tail));
      const [response] = parseResponses((await readAll(conn, 5000)).text);
      assert.equal(response.status, 201, response.body);
      assert.deepEqual(JSON.parse(response.body).files, [
        { name: "huge.bin", size, created: true },
      ]);
    } finally {
      try {
        conn.close();
      } catch {
        // readAll() closed it
      }
    }
    peak = Math.max(peak, Deno.memoryUsage().rss);
    const seconds = (performance.now() - started) / 1000;
    const growth = (peak - before) / (1 << 20);
    console.log(
      `1 GiB upload: ${seconds.toFixed(1)} s, RSS growth ${
        growth.toFixed(1)
      } MiB`,
    );
    assert.ok(growth < 64, `RSS grew by ${growth.toFixed(1)} MiB`);
    assert.equal((await Deno.stat(`${root}/huge.bin`)).size, size);
  });
});

Deno.test("upload: the form and the permission line", () => {
  const html = uploadFormHtml();
  assert.match(
    html,
    /<form id="upload" method="post" enctype="multipart\/form-data"/,
  );
  assert.match(html, /<input type="file" name="file" multiple/);
  assert.match(html, /xhr\.upload\.onprogress/);
  assert.match(html, /location\.reload\(\)/);
  assert.equal(writePermissionProblem(Deno.cwd()), null);
});

Deno.test("upload: the summary follows Accept's q-values", async () => {
  await withRoot({}, async ({ server }) => {
    const body = (name: string) =>
      multipart("XX", [{
        disposition: `name="f"; filename="${name}"`,
        body: "x",
      }]);
    const asked = async (accept: string, name: string) => {
      const { text } = await exchange(
        server.port,
        `POST / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n` +
          `Content-Type: multipart/form-data; boundary=XX\r\nAccept: ${accept}\r\n` +
          `Content-Length: ${body(name).length}\r\n\r\n${body(name)}`,
      );
      return parseResponses(text)[0].get("content-type");
    };
    assert.equal(await asked("application/json", "a.txt"), "application/json");
    assert.match(
      (await asked("application/json;q=0, text/html", "b.txt"))!,
      /^text\/html/,
    );
  });
});

Deno.test("upload: a page on a rebound name (Origin and Host both evil.test) is refused", async () => {
  await withRoot({}, async ({ root, server }) => {
    const body = multipart("XX", [{
      disposition: 'name="f"; filename="pwned.html"',
      body: "<script>pwned</script>",
    }]);
    const send = async (host: string) => {
      const { text } = await exchange(
        server.port,
        `POST / HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\n` +
          `Connection: close\r\nContent-Type: multipart/form-data; boundary=XX\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body}`,
      );
      return parseResponses(text)[0].status;
    };
    assert.equal(await send(`evil.test:${server.port}`), 403);
    assert.deepEqual(await names(root), []);
    assert.equal(await send(`localhost:${server.port}`), 201);
  });
});

Deno.test("upload: `upload = {}` turns uploads on with the defaults (no overwrite, no limit); maxUpload alone is a limit", async () => {
  const root = await Deno.makeTempDir({ prefix: "upload_test_" });
  try {
    class Defaults extends SimpleHTTPRequestHandler {
      override directory = root;
      override protocolVersion = "HTTP/1.1";
      override upload = {};
    }
    class Limited extends Defaults {
      override upload = { maxUpload: 3 };
    }
    await using client = testClient(Defaults);
    const put = () => client.request("PUT", "/a.txt", { body: "hello" });
    assert.equal((await put()).status, 201);
    assert.equal(await Deno.readTextFile(`${root}/a.txt`), "hello");
    assert.equal((await put()).status, 409);
    await using limited = testClient(Limited);
    const big = await limited.request("PUT", "/b.txt", { body: "hello" });
    assert.equal(big.status, 413);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
