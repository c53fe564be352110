// Copyright 2026 the basehttp authors. MIT license.
// CGI under load and abuse (audit 2026-12-01): chunked bodies spooled, not
// held; scripts killed when their client leaves or the server shuts down;
// a cap on running scripts per server; a cap on logged stderr.
import assert from "node:assert/strict";
import { CGIHTTPRequestHandler } from "../cgi.ts";
import { percentFormat } from "../handler.ts";
import {
  delay,
  exchange,
  latin1,
  parseResponses,
  readAll,
  startServer,
  writeAll,
} from "./_util.ts";

const tmp = await Deno.realPath(
  await Deno.makeTempDir({ prefix: "basehttp_cgih_" }),
);
globalThis.addEventListener("unload", () => {
  Deno.removeSync(tmp, { recursive: true });
});
const encoder = new TextEncoder();
const HEADERS = "printf 'Content-Type: text/plain\\n\\n'";
// Every script process has `tmp` in its command line, for pgrep -f: nap.sh
// and the child it starts (whose own child, sleep, is in their group).
const SCRIPTS: Record<string, string> = {
  "nap.sh": `/bin/sh -c 'sleep 30; true' "$0" &\nwait`,
  "quick.sh": `${HEADERS}\necho quick`,
  "slow.sh": `sleep 1\n${HEADERS}\necho slow`,
  "count.sh": `${HEADERS}\nprintf '%s %s\\n' "$CONTENT_LENGTH" "$(wc -c)"`,
  "cat.sh": `${HEADERS}\ncat`,
  "noisy.sh":
    `yes 'a line of stderr output' | head -c 2000000 >&2\n${HEADERS}\necho done`,
};
for (const [name, body] of Object.entries(SCRIPTS)) {
  await Deno.mkdir(`${tmp}/cgi-bin`, { recursive: true });
  await Deno.writeTextFile(`${tmp}/cgi-bin/${name}`, `#!/bin/sh\n${body}\n`, {
    mode: 0o755,
  });
}

/** A CGI handler over `tmp`, HTTP/1.1, logging into `Handler.logs`. */
class Handler extends CGIHTTPRequestHandler {
  static logs: string[] = [];
  override directory = tmp;
  override protocolVersion = "HTTP/1.1";
  override cgiTimeout = 3;
  override cgiMaxScripts = 40;
  override logMessage(format: string, ...args: unknown[]): void {
    Handler.logs.push(percentFormat(format, args));
  }
}

/** How many script processes of this file run now. */
async function scripts(): Promise<number> {
  const { stdout } = await new Deno.Command("pgrep", { args: ["-f", tmp] })
    .output();
  return new TextDecoder().decode(stdout).split("\n").filter(Boolean).length;
}

/** Waits up to `ms` for `scripts()` to be `n`; returns the last count. */
async function awaitScripts(n: number, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let count = await scripts();
  while (count !== n && Date.now() < end) {
    await delay(30);
    count = await scripts();
  }
  return count;
}

/** Opens `count` connections that each ask for nap.sh. */
async function napping(port: number, count: number): Promise<Deno.Conn[]> {
  const request = encoder.encode(
    "GET /cgi-bin/nap.sh HTTP/1.1\r\nHost: t\r\n\r\n",
  );
  return await Promise.all(
    Array.from({ length: count }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await writeAll(conn, request);
      return conn;
    }),
  );
}

// The process's resident set, as /proc/self/status has it (Deno asks for
// --allow-all to read that file, so its own figure).
function rss(): number {
  return Deno.memoryUsage().rss;
}

/** The spool files in the temporary directory. */
function spoolFiles(): string[] {
  const dir = Deno.env.get("TMPDIR") || "/tmp";
  return [...Deno.readDirSync(dir)].map((entry) => entry.name)
    .filter((name) => name.startsWith("basehttp_cgi_body_"));
}

const MiB = 1024 * 1024;
const CHUNK = encoder.encode(`100000\r\n${"x".repeat(MiB)}\r\n`);
/** A chunked POST to `script` of `mib` MiB, as exchange() parts. */
function chunkedPost(script: string, mib: number, end = true) {
  return [
    `POST /cgi-bin/${script} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n` +
    "Transfer-Encoding: chunked\r\n\r\n",
    ...Array(mib).fill(CHUNK),
    ...(end ? ["0\r\n\r\n"] : []),
  ];
}

Deno.test("CGI spools a chunked body over 1 MiB to a temporary file, removed after the run", async () => {
  await using s = startServer(Handler);
  const before = spoolFiles();
  const base = rss();
  let peak = base;
  const sampler = setInterval(() => peak = Math.max(peak, rss()), 5);
  try {
    const replies = await Promise.all(
      Array.from(
        { length: 4 },
        () => exchange(s.port, chunkedPost("count.sh", 40), { quietMs: 5000 }),
      ),
    );
    for (const { text } of replies) {
      const [response] = parseResponses(text);
      assert.equal(response.status, 200);
      assert.equal(response.body.trim(), `${40 * MiB} ${40 * MiB}`);
    }
  } finally {
    clearInterval(sampler);
  }
  // Before: each body was held whole, +160 MiB at least.
  assert.ok(peak - base < 64 * MiB, `RSS grew ${(peak - base) / MiB} MiB`);
  assert.deepEqual(spoolFiles(), before);
  // Byte for byte, through the file and back.
  const body = new Uint8Array(3 * MiB).map((_, i) => (i * 7) % 251);
  const { text } = await exchange(s.port, [
    "POST /cgi-bin/cat.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
    `Transfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`,
    body,
    "\r\n0\r\n\r\n",
  ], { quietMs: 5000 });
  assert.equal(parseResponses(text)[0].body, latin1(body));
  // A body that breaks off while it is spooled leaves no file either.
  await exchange(s.port, chunkedPost("count.sh", 3, false), { quietMs: 300 });
  await delay(100);
  assert.deepEqual(spoolFiles(), before);
});

Deno.test("CGI refuses a chunked body over maxBodySize with 413, held or spooled", async () => {
  for (const max of [512 * 1024, 3 * MiB]) {
    await using s = startServer(Handler, { limits: { maxBodySize: max } });
    const before = spoolFiles();
    const { text } = await exchange(s.port, chunkedPost("count.sh", 4), {
      quietMs: 3000,
    });
    assert.match(text, /^HTTP\/1\.1 413 /, `maxBodySize ${max}`);
    assert.deepEqual(spoolFiles(), before);
  }
});

Deno.test("CGI answers 411 to a chunked body over 1 MiB when the temporary directory may not be written", async () => {
  const server = `${tmp}/server.ts`;
  await Deno.writeTextFile(
    server,
    `import { HTTPServer } from "${new URL("../mod.ts", import.meta.url)}";
import { CGIHTTPRequestHandler } from "${new URL(
      "../cgi.ts",
      import.meta.url,
    )}";
class Handler extends CGIHTTPRequestHandler {
  override directory = Deno.args[0];
  override protocolVersion = "HTTP/1.1";
}
const httpd = new HTTPServer(["127.0.0.1", 0], Handler);
console.log(httpd.serverPort);
await httpd.handleRequest();
await httpd.handleRequest();
httpd.close();
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      `--config=${new URL("../deno.json", import.meta.url).pathname}`,
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-run",
      server,
      tmp,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = child.stdout.getReader();
  const { value } = await stdout.read();
  await stdout.cancel();
  const port = Number(new TextDecoder().decode(value).trim());
  const refused = await exchange(port, chunkedPost("count.sh", 2), {
    quietMs: 5000,
  });
  // Up to 1 MiB is held in memory, and needs no file.
  const held = await exchange(port, [
    "POST /cgi-bin/count.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
    "Transfer-Encoding: chunked\r\n\r\n",
    "5\r\nhello\r\n0\r\n\r\n",
  ], { quietMs: 5000 });
  assert.equal((await child.status).success, true);
  assert.equal(parseResponses(refused.text)[0].status, 411);
  assert.match(await stderr, /--allow-write/);
  assert.equal(parseResponses(held.text)[0].body, "5 5\n");
});

Deno.test("CGI kills a script's process group when its client goes away", async () => {
  await using s = startServer(Handler);
  const conns = await napping(s.port, 10);
  assert.equal(await awaitScripts(20, 3000), 20);
  for (const conn of conns) conn.close();
  // Before: all 20 ran on until cgiTimeout.
  assert.equal(await awaitScripts(0, 1500), 0);
});

Deno.test("CGI runs at most cgiMaxScripts scripts per server, and answers 503 with Retry-After beyond", async () => {
  class Capped extends Handler {
    override cgiMaxScripts = 2;
  }
  await using s = startServer(Capped);
  await using other = startServer(Capped);
  const conns = await napping(s.port, 2);
  assert.equal(await awaitScripts(4, 3000), 4);
  const quick =
    "GET /cgi-bin/quick.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  const busy = parseResponses((await exchange(s.port, quick)).text)[0];
  assert.equal(busy?.status, 503);
  assert.equal(busy.get("Retry-After"), "1");
  // The count is the server's: another one still runs scripts.
  const elsewhere = parseResponses((await exchange(other.port, quick)).text);
  assert.equal(elsewhere[0]?.body, "quick\n");
  for (const conn of conns) conn.close();
  assert.equal(await awaitScripts(0, 1500), 0);
  const freed = parseResponses((await exchange(s.port, quick)).text);
  assert.equal(freed[0]?.body, "quick\n");
});

Deno.test("CGI logs at most 64 KiB of a run's stderr", async () => {
  await using s = startServer(Handler);
  Handler.logs = [];
  const { text } = await exchange(
    s.port,
    "GET /cgi-bin/noisy.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    { quietMs: 5000 },
  );
  assert.equal(parseResponses(text)[0].body, "done\n");
  const prefix = "CGI script '/cgi-bin/noisy.sh': ";
  const lines = Handler.logs.filter((line) => line.startsWith(prefix));
  const logged = lines.reduce((sum, line) => sum + line.length, 0) -
    lines.length * prefix.length;
  // Before: all 2 MB of it, in 83 334 lines.
  assert.ok(logged <= 64 * 1024, `${logged} bytes of stderr logged`);
  const truncated = Handler.logs.filter((line) => /truncated/.test(line));
  assert.deepEqual(truncated, [
    "CGI script '/cgi-bin/noisy.sh' stderr truncated after 65536 bytes",
  ]);
});

Deno.test("CGI scripts end within shutdownTimeout when the server shuts down", async () => {
  await using s = startServer(Handler, { shutdownTimeout: 0.3 });
  const [conn] = await napping(s.port, 1);
  try {
    assert.equal(await awaitScripts(2, 3000), 2);
    const started = Date.now();
    await s.server.shutdown();
    // Before: until cgiTimeout (3 s here).
    assert.ok(Date.now() - started < 1500, `${Date.now() - started} ms`);
    assert.equal(await awaitScripts(0, 1000), 0);
  } finally {
    conn.close();
  }
});

Deno.test("a chunked body still coming to a CGI script holds no script slot, but one of as many for bodies read ahead", async () => {
  class Capped extends Handler {
    override cgiMaxScripts = 1;
  }
  await using s = startServer(Capped);
  // Read whole before the script starts (CONTENT_LENGTH must be exact),
  // and slow: a slot held meanwhile would turn everyone else away.
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await writeAll(
    slow,
    encoder.encode(
      "POST /cgi-bin/count.sh HTTP/1.1\r\nHost: t\r\n" +
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n",
    ),
  );
  await delay(200);
  const quick =
    "GET /cgi-bin/quick.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  const other = parseResponses((await exchange(s.port, quick)).text)[0];
  assert.equal(other?.status, 200);
  assert.equal(other.body, "quick\n");
  // Bodies read ahead have slots of their own: a second one waits its turn.
  const upload = "POST /cgi-bin/count.sh HTTP/1.1\r\nHost: t\r\n" +
    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n";
  const second = parseResponses((await exchange(s.port, upload)).text)[0];
  assert.equal(second?.status, 503);
  assert.equal(second.get("Retry-After"), "1");
  await writeAll(slow, encoder.encode("2\r\nde\r\n0\r\n\r\n"));
  const reply = new Uint8Array(4096);
  let text = "";
  for (let n; (n = await slow.read(reply)) !== null;) {
    text += latin1(reply.subarray(0, n));
  }
  slow.close();
  assert.equal(parseResponses(text)[0]?.body, "5 5\n");
});

Deno.test("requests that come at once start no more than cgiMaxScripts scripts", async () => {
  class Capped extends Handler {
    override cgiMaxScripts = 1;
  }
  await using s = startServer(Capped);
  const slow =
    "GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  // Sockets opened first, then their requests written in one go: the
  // handlers check for a free slot in the same turn of the event loop.
  const conns = await Promise.all(
    Array.from(
      { length: 40 },
      () => Deno.connect({ hostname: "127.0.0.1", port: s.port }),
    ),
  );
  await Promise.all(conns.map((conn) => writeAll(conn, encoder.encode(slow))));
  const statuses = await Promise.all(conns.map(async (conn) => {
    const { text } = await readAll(conn, 5000);
    try {
      conn.close();
    } catch {
      // closed by readAll
    }
    return parseResponses(text)[0]?.status;
  }));
  // All came within the one second the first script takes.
  assert.equal(
    statuses.filter((status) => status === 200).length,
    1,
    statuses.join(" "),
  );
  assert.ok(statuses.every((status) => status === 200 || status === 503));
});
