// Copyright 2026 the basehttp authors. MIT license.
// The static handler against a local writer under its root (issue 12): a
// FIFO or a symlink swapped in between the check and the open, a plainly
// named link to a dotfile, and a server without read permission. Servers on
// 127.0.0.1 only; each race runs for RACE_MS and stops by itself.

import assert from "node:assert/strict";
import { CGIHTTPRequestHandler } from "../cgi.ts";
import { simpleHandler } from "../static.ts";
import { startServer } from "./_util.ts";
import { getOnce, race } from "./_static.ts";

const RACE_MS = 2500;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/** A temp tree: `www/hello.txt`, `outside/secret.txt`; removed on dispose. */
async function tree() {
  const tmp = await Deno.makeTempDir({ prefix: "basehttp_static_hard_" });
  const root = `${tmp}/www`;
  await Deno.mkdir(root);
  await Deno.mkdir(`${tmp}/outside`);
  await Deno.writeTextFile(`${root}/hello.txt`, "hello\n");
  await Deno.writeTextFile(`${tmp}/outside/secret.txt`, "top secret");
  return {
    tmp,
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(tmp, { recursive: true });
    },
  };
}

class Quiet extends simpleHandler({ protocolVersion: "HTTP/1.1" }) {
  override logMessage(): void {}
}

/** How many answers carried `body` with a 200. */
function served(counts: Map<string, number>, body: string): number {
  return counts.get(`200 ${body}`) ?? 0;
}

/** Replaces `name` in `dir` with a symlink to `target`, then a file, by rename. */
function swapLoop(dir: string, name: string, target: string): string {
  return `Deno.symlinkSync(${JSON.stringify(target)}, "${dir}/.l");
    Deno.renameSync("${dir}/.l", "${dir}/${name}");
    Deno.writeTextFileSync("${dir}/.g", "inside");
    Deno.renameSync("${dir}/.g", "${dir}/${name}");`;
}

/** Serves `root` from a child process: `deno run <flags> server root`. */
async function childServer(tmp: string, root: string, flags: string[]) {
  const server = `${tmp}/server.ts`;
  await Deno.writeTextFile(
    server,
    `import { HTTPServer } from ${
      JSON.stringify(import.meta.resolve("../mod.ts"))
    };
import { simpleHandler } from ${
      JSON.stringify(import.meta.resolve("../static.ts"))
    };
const Handler = simpleHandler({ directory: Deno.args[0] });
const httpd = new HTTPServer(["127.0.0.1", 0], Handler);
console.log(httpd.serverPort);
await httpd.serveForever();
`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", `--config=${CONFIG}`, ...flags, server, root],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = child.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await stdout.read();
    if (done) throw new Error(`server did not start: ${await stderr}`);
    line += new TextDecoder().decode(value);
  }
  await stdout.cancel();
  return {
    port: Number(line.trim()),
    /** Kills the server (it may be stuck in open(2)); returns its log. */
    async stop(): Promise<string> {
      child.kill("SIGKILL");
      await child.stdin.close().catch(() => {});
      await child.status;
      return await stderr;
    },
  };
}

Deno.test("static: a FIFO swapped in between the check and the open never blocks the server", async () => {
  await using t = await tree();
  const fifo = `${t.tmp}/fifo`;
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success, "mkfifo");
  await Deno.writeTextFile(`${t.root}/race.txt`, "inside");
  const server = await childServer(t.tmp, t.root, [
    "--allow-net=127.0.0.1",
    "--allow-read",
  ]);
  let counts: Map<string, number>, after;
  try {
    // A hard link keeps the FIFO alive, so one mkfifo serves the whole race.
    counts = await race(
      server.port,
      "/race.txt",
      `Deno.linkSync("${fifo}", "${t.root}/.f");
       Deno.renameSync("${t.root}/.f", "${t.root}/race.txt");
       Deno.writeTextFileSync("${t.root}/.g", "inside");
       Deno.renameSync("${t.root}/.g", "${t.root}/race.txt");`,
      RACE_MS,
    );
    after = await getOnce(server.port, "/hello.txt");
  } finally {
    await server.stop();
  }
  console.log("FIFO race:", Object.fromEntries(counts));
  assert.equal(counts.get("no answer") ?? 0, 0, "the server hung");
  assert.equal(after?.status, 200);
  assert.ok(served(counts, "inside") > 0, "the race served the file");
});

Deno.test("static: a symlink swapped in between the check and the open never serves a file outside the root", async () => {
  await using t = await tree();
  await Deno.writeTextFile(`${t.root}/race.txt`, "inside");
  class Handler extends Quiet {
    override directory = t.root;
  }
  await using s = startServer(Handler);
  const counts = await race(
    s.port,
    "/race.txt",
    swapLoop(t.root, "race.txt", `${t.tmp}/outside/secret.txt`),
    RACE_MS,
  );
  console.log("symlink race:", Object.fromEntries(counts));
  assert.equal(served(counts, "top secret"), 0, "outside file served");
  assert.ok(served(counts, "inside") > 0, "the race served the file");
});

Deno.test("static: a symlink to a CGI script swapped in never serves the script's source", async () => {
  await using t = await tree();
  const source = "#!/bin/sh\necho script-output\n";
  await Deno.mkdir(`${t.root}/cgi-bin`);
  await Deno.writeTextFile(`${t.root}/cgi-bin/env.sh`, source, { mode: 0o755 });
  await Deno.writeTextFile(`${t.root}/race.txt`, "inside");
  class Handler extends simpleHandler({
    directory: t.root,
    protocolVersion: "HTTP/1.1",
  }, CGIHTTPRequestHandler) {
    override logMessage(): void {}
  }
  await using s = startServer(Handler);
  const counts = await race(
    s.port,
    "/race.txt",
    swapLoop(t.root, "race.txt", `${t.root}/cgi-bin/env.sh`),
    RACE_MS,
  );
  console.log("CGI race:", Object.fromEntries(counts));
  assert.equal(served(counts, source), 0, "script source served");
  assert.ok(served(counts, "inside") > 0, "the race served the file");
});

Deno.test("static: a plainly named symlink to a dotfile or dot-directory is 404", async () => {
  await using t = await tree();
  await Deno.mkdir(`${t.root}/.git`);
  await Deno.writeTextFile(`${t.root}/.git/config`, "[core]");
  await Deno.writeTextFile(`${t.root}/.env`, "TOKEN=1");
  await Deno.symlink(".git", `${t.root}/gitlink`);
  await Deno.symlink(".env", `${t.root}/env.txt`);
  class Handler extends Quiet {
    override directory = t.root;
  }
  await using s = startServer(Handler);
  for (const path of ["/gitlink/config", "/gitlink/", "/env.txt"]) {
    assert.equal((await getOnce(s.port, path))?.status, 404, path);
  }
  const listing = await getOnce(s.port, "/");
  assert.equal(listing?.status, 200);
  assert.doesNotMatch(listing!.body, /gitlink|env\.txt/);
  assert.equal((await getOnce(s.port, "/hello.txt"))?.status, 200);
});

Deno.test("static: without read permission a request is 500 at once and the log names --allow-read", async () => {
  await using t = await tree();
  const server = await childServer(t.tmp, t.root, ["--allow-net=127.0.0.1"]);
  let response, log;
  try {
    response = await getOnce(server.port, "/hello.txt");
  } finally {
    log = await server.stop();
  }
  assert.equal(response?.status, 500);
  assert.ok(log.includes(`--allow-read=${t.root}`), log);
});

Deno.test("static: a file or directory that exists but cannot be opened for want of descriptors is 503, not 404", async () => {
  await using t = await tree();
  await Deno.writeTextFile(`${t.root}/404.html`, "custom 404 page");
  // A child under a low descriptor limit holds every descriptor left, then
  // asks over an in-memory connection, which needs none.
  const script = `${t.tmp}/exhausted.ts`;
  await Deno.writeTextFile(
    script,
    `import { simpleHandler } from ${
      JSON.stringify(import.meta.resolve("../static.ts"))
    };
import { testClient } from ${
      JSON.stringify(import.meta.resolve("../testing.ts"))
    };
const Handler = simpleHandler({ directory: ${JSON.stringify(t.root)} });
await using client = testClient(class extends Handler {
  override logMessage(): void {}
});
const held = [];
try {
  while (held.length < 4096) held.push(Deno.openSync("/dev/null"));
} catch {
  // none left
}
const starved = await client.request("GET", "/hello.txt");
const listing = await client.request("GET", "/");
const missing = await client.request("GET", "/missing.txt");
for (const file of held) file.close();
const later = await client.request("GET", "/hello.txt");
console.log(JSON.stringify({
  starved: [starved.status, starved.headers.get("retry-after")],
  listing: [listing.status, listing.headers.get("retry-after")],
  // The built-in page, which needs no descriptor, not 404.html.
  missing: [missing.status, missing.text().includes("custom")],
  later: [later.status, later.text()],
}));
`,
  );
  const { stdout, stderr } = await new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n 256 && exec "${Deno.execPath()}" run --no-prompt --config ${CONFIG} --allow-read ${script}`,
    ],
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.ok(out.startsWith("{"), new TextDecoder().decode(stderr));
  assert.deepEqual(JSON.parse(out), {
    starved: [503, "1"],
    listing: [503, "1"],
    missing: [404, false],
    later: [200, "hello\n"],
  });
});
