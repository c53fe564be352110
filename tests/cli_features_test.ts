// Copyright 2026 the basehttp authors. MIT license.
// The `serve` flags of issue 14, spawned for real: CORS origins, compression,
// SPA, auth, caching, access logs and their rotation, CGI environment, and
// the permission each flag needs.
import assert from "node:assert/strict";
import { parseArgs } from "../cli.ts";
import { JSONLogServer, withAccessLog } from "../_access_log.ts";
import { SimpleHTTPRequestHandler } from "../static.ts";
import {
  delay,
  exchange,
  failAccepts,
  latin1Bytes,
  parseResponses,
  reply,
} from "./_util.ts";
import { PERMISSIONS, run, Serve } from "./_serve.ts";
import { testClient } from "../testing.ts";

const tmp = await Deno.makeTempDir({ prefix: "basehttp_cli_features_" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(tmp, { recursive: true });
});
const root = `${tmp}/www`;
await Deno.mkdir(`${root}/cgi-bin`, { recursive: true });
await Deno.writeTextFile(`${root}/hello.txt`, "hello\n");
await Deno.writeTextFile(`${root}/index.html`, "<!doctype html><p>app</p>\n");
const big = "compress me, ".repeat(400); // 5.2 KB of text
await Deno.writeTextFile(`${root}/big.txt`, big);
await Deno.writeTextFile(
  `${root}/cgi-bin/env.sh`,
  "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nenv | sort\n",
  { mode: 0o755 },
);
const LOCAL = ["0", "-b", "127.0.0.1", "-d", root];
const CGI_PERMISSIONS = [...PERMISSIONS, "--allow-run"];
const basic = (user: string, password: string) =>
  `Basic ${btoa(`${user}:${password}`)}`;

/** Sends one request on a fresh connection; returns the parsed response. */
async function request(port: number, target: string, fields: string[] = []) {
  const { text } = await exchange(
    port,
    `GET ${target} HTTP/1.1\r\nHost: h\r\n${
      fields.map((field) => `${field}\r\n`).join("")
    }Connection: close\r\n\r\n`,
  );
  const [response] = parseResponses(text);
  return response;
}

/** Reads `path` until it matches `pattern` (log lines follow the response). */
async function waitForFile(path: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 5000;
  while (true) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) {
      throw new Error(`${path} never matched ${pattern}:\n${text}`);
    }
    await delay(20);
  }
}

async function stop(serve: Serve): Promise<void> {
  serve.child.kill("SIGINT");
  assert.equal(await serve.exit(), 0, serve.stderr);
}

Deno.test("parseArgs() takes a short flag's value attached, with or without =, as argparse does", () => {
  for (const args of [["-b127.0.0.1", "-dwww"], ["-b=127.0.0.1", "-d=www"]]) {
    const options = parseArgs(args);
    assert.equal(options.bind, "127.0.0.1", args.join(" "));
    assert.equal(options.directory, "www", args.join(" "));
  }
  assert.equal(parseArgs(["-p=HTTP/1.0"]).protocol, "HTTP/1.0");
});

Deno.test("parseArgs() answers -h as argparse does: help wins unless a value before it was bad", () => {
  for (
    const args of [
      ["-h", "99999"],
      ["--help", "--bogus"],
      ["--bogus", "-h"],
      ["-p", "x", "-h"],
      ["1", "2", "-h"],
    ]
  ) {
    assert.equal(parseArgs(args).help, true, args.join(" "));
  }
  assert.throws(() => parseArgs(["--workers", "x", "-h"]), TypeError);
  assert.throws(() => parseArgs(["--", "-h"]), /invalid port/);
});

Deno.test("parseArgs() reads the flags of CORS, compression, SPA, auth, caching, logs and CGI", () => {
  const defaults = parseArgs([]);
  assert.equal(defaults.compress, true);
  assert.deepEqual(defaults.corsOrigins, []);
  assert.equal(defaults.spa, false);
  assert.equal(defaults.cleanUrls, false);
  assert.deepEqual(defaults.auth, []);
  assert.equal(defaults.maxAge, null);
  assert.equal(defaults.logFormat, null);
  assert.equal(defaults.logFile, null);
  assert.deepEqual(defaults.cgiEnv, []);
  assert.equal(defaults.shutdownTimeout, 10);
  const options = parseArgs([
    "--cors-origin",
    "https://app.example",
    "--cors-origin=http://localhost:3000",
    "--no-compress",
    "--spa",
    "--clean-urls",
    "--auth",
    "alice:pa:ss",
    "--auth=bob:x",
    "--auth-file",
    "users.txt",
    "--max-age",
    "60",
    "--immutable",
    "--log-format",
    "json",
    "--log-file=access.log",
    "--cgi",
    "--cgi-env",
    "PATH",
    "--cgi-env=GREETING=a=b",
    "--shutdown-timeout",
    "0.5",
  ]);
  assert.equal(options.cors, true, "--cors-origin implies --cors");
  assert.deepEqual(options.corsOrigins, [
    "https://app.example",
    "http://localhost:3000",
  ]);
  assert.equal(options.compress, false);
  assert.equal(options.spa, true);
  assert.equal(options.cleanUrls, true);
  assert.deepEqual(options.auth, [["alice", "pa:ss"], ["bob", "x"]]);
  assert.equal(options.authFile, "users.txt");
  assert.equal(options.maxAge, 60);
  assert.equal(options.immutable, true);
  assert.equal(options.logFormat, "json");
  assert.equal(options.logFile, "access.log");
  assert.deepEqual(options.cgiEnv, [["PATH", null], ["GREETING", "a=b"]]);
  assert.equal(options.shutdownTimeout, 0.5);
  const refused: [string[], RegExp][] = [
    [["--cors-origin", "https://app.example/"], /use 'https:\/\/app\.example'/],
    [["--cors-origin", "*"], /invalid origin: '\*'/],
    [["--auth", "nopassword"], /--auth: expected USER:PASSWORD/],
    [["--auth", ":pw"], /--auth: expected USER:PASSWORD/],
    [["--max-age", "-1"], /--max-age: invalid seconds/],
    [["--max-age", "99999999999"], /--max-age: invalid seconds/],
    [["--shutdown-timeout", "-1"], /--shutdown-timeout: invalid seconds/],
    [["--shutdown-timeout", "1e3"], /--shutdown-timeout: invalid seconds/],
    [["--shutdown-timeout", "0"], /--shutdown-timeout: invalid seconds/],
    [["--shutdown-timeout", "0.000"], /--shutdown-timeout: invalid seconds/],
    [["--no-cache", "--max-age", "5"], /--no-cache conflicts/],
    [["--immutable", "--no-cache"], /--no-cache conflicts/],
    [["--max-age", "5", "-H", "cache-control: x"], /-H Cache-Control/],
    [["-H", "Content-Length: 1"], /Content-Length is the server's own/],
    [
      ["-H", "X-Name: caf\u00e9\u2603"],
      /invalid value of X-Name: .*Latin-1 text/,
    ],
    [["-H", "transfer-encoding: chunked"], /transfer-encoding is the server's/],
    [["-H", "Content-Type: text/html"], /Content-Type is the server's own/],
    // Sent twice, they confuse caches; two origins fail every CORS request.
    [["-H", "ETag: x"], /ETag is the server's own/],
    [["-H", "Last-Modified: x"], /Last-Modified is the server's own/],
    [["-H", "Accept-Ranges: none"], /Accept-Ranges is the server's own/],
    [["-H", "Server: x"], /Server is the server's own/],
    [
      ["--cors", "-H", "Access-Control-Allow-Origin: https://a.example"],
      /-H Access-Control-Allow-Origin conflicts with --cors/,
    ],
    [
      ["--cors-origin", "https://a.example", "-H", "access-control-max-age: 1"],
      /-H access-control-max-age conflicts with --cors/,
    ],
    // Fetch fails a credentialed request answered with a * origin.
    [
      ["--cors", "-H", "Access-Control-Allow-Credentials: true"],
      /Access-Control-Allow-Credentials needs --cors-origin/,
    ],
    [["--log-format", "apache"], /invalid choice: 'apache'/],
    [["-q", "--log-file", "x.log"], /-q\/--quiet conflicts/],
    [["--cgi", "--cgi-env", "1BAD"], /invalid variable name/],
    // Set by each request: the option would be dropped without a word.
    [
      ["--cgi", "--cgi-env", "REMOTE_USER=root"],
      /--cgi-env: REMOTE_USER is a CGI meta-variable, set by each request/,
    ],
    [["--cgi", "--cgi-env", "HTTP_PROXY"], /HTTP_PROXY is a CGI meta-variable/],
    [["--cgi-env", "PATH"], /--cgi-env needs --cgi/],
  ];
  // Long flags cut short, as argparse takes them, and a flag is no value.
  const short = parseArgs(["--dir", "site", "--proto=HTTP/1.1", "--cors"]);
  assert.equal(short.directory, "site");
  assert.equal(short.protocol, "HTTP/1.1");
  assert.equal(short.cors, true); // whole, though --cors-origin begins so
  assert.throws(
    () => parseArgs(["--c"]),
    /ambiguous option: --c could match --cors-origin, .*--cors/,
  );
  assert.throws(
    () => parseArgs(["-d", "-q"]),
    /argument -d\/--directory: expected one argument/,
  );
  assert.equal(parseArgs(["-d", "-"]).directory, "-");
  assert.equal(parseArgs(["-d", "- site"]).directory, "- site");
  assert.throws(() => parseArgs(["--=x"]), /unrecognized argument: --=x/);
  const joined = parseArgs(["-qb", "127.0.0.1"]);
  assert.equal(joined.quiet, true);
  assert.equal(joined.bind, "127.0.0.1");
  // Without --cors, a page's own CORS fields are the user's to set, and
  // with it those it does not set.
  assert.deepEqual(
    parseArgs(["-H", "Access-Control-Allow-Origin: https://a.example"]).headers,
    [["Access-Control-Allow-Origin", "https://a.example"]],
  );
  assert.equal(
    parseArgs([
      "--cors-origin",
      "https://a.example",
      "-H",
      "Access-Control-Allow-Credentials: true",
    ]).headers.length,
    1,
  );
  for (const [args, pattern] of refused) {
    assert.throws(() => parseArgs(args), (error: Error) => {
      assert.ok(error instanceof TypeError, args.join(" "));
      assert.match(error.message, pattern);
      return true;
    });
  }
});

Deno.test("serve exits 1 with one line naming the flag and the deno permission it needs", async () => {
  const cases: [string[], string[], RegExp][] = [
    [
      ["--log-file", `${tmp}/denied.log`],
      PERMISSIONS,
      /--log-file \S+denied\.log needs write permission: run deno with --allow-write=\S+denied\.log/,
    ],
    [
      ["--cgi", "--cgi-env", "HOME"],
      CGI_PERMISSIONS,
      /--cgi-env HOME .*--allow-env=HOME/,
    ],
    [
      ["--auth-file", `${tmp}/users.txt`],
      ["--allow-net", `--allow-read=${root}`, "--allow-sys=hostname"],
      /--auth-file \S+users\.txt needs read permission: run deno with --allow-read=\S+users\.txt/,
    ],
    [
      ["--tls-cert", `${tmp}/cert.pem`],
      ["--allow-net", `--allow-read=${root}`, "--allow-sys=hostname"],
      /--tls-cert \S+cert\.pem needs read permission/,
    ],
    [
      ["-b", `unix:${tmp}/denied.sock`],
      PERMISSIONS,
      /-b unix:\S+denied\.sock needs write permission: run deno with --allow-write=\S+denied\.sock/,
    ],
    [
      ["-b", `unix:${tmp}/unread.sock`],
      [
        "--allow-net",
        `--allow-read=${root}`,
        "--allow-sys=hostname",
        `--allow-write=${tmp}/unread.sock`,
      ],
      /-b unix:\S+unread\.sock needs read permission: run deno with --allow-read=\S+unread\.sock/,
    ],
    [["--cgi"], PERMISSIONS, /--cgi runs scripts: run deno with --allow-run/],
    [
      ["--workers", "2"],
      PERMISSIONS,
      /--workers starts processes: run deno with --allow-run/,
    ],
    [
      ["--reuse-port"],
      PERMISSIONS,
      /--reuse-port needs Deno's unstable net API: run deno with --unstable-net/,
    ],
  ];
  for (const [flags, permissions, pattern] of cases) {
    const { code, stdout, stderr } = await run([...LOCAL, ...flags], {
      permissions,
    });
    assert.equal(code, 1, flags.join(" "));
    assert.equal(stdout, "");
    assert.match(stderr, /^serve: error: [^\n]*\n$/, `one line: ${stderr}`);
    assert.match(stderr, pattern);
  }
  await assert.rejects(Deno.stat(`${tmp}/denied.log`), Deno.errors.NotFound);
});

Deno.test("serve --log-format common/combined/json --log-file appends Apache's lines and JSON objects", async () => {
  const line = {
    common:
      /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/hello\.txt\?q=1 HTTP\/1\.1" 200 6\n127\.0\.0\.1 - - \[[^\]]+\] "GET \/missing HTTP\/1\.1" 404 \d+\n$/,
    combined:
      /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/hello\.txt\?q=1 HTTP\/1\.1" 200 6 "http:\/\/ref\.example\/page" "test \\"agent\\""\n/,
  };
  for (const format of ["common", "combined", "json"] as const) {
    const path = `${tmp}/${format}.log`;
    await Deno.writeTextFile(path, "earlier line\n");
    await using serve = new Serve([
      ...LOCAL,
      "--log-format",
      format,
      "--log-file",
      path,
    ], { permissions: [...PERMISSIONS, `--allow-write=${path}`] });
    const port = await serve.banner();
    const ok = await request(port, "/hello.txt?q=1", [
      // The password in a Referer never reaches the log.
      "Referer: http://user:secret@ref.example/page",
      'User-Agent: test "agent"',
    ]);
    assert.equal(ok.body, "hello\n");
    const text = await waitForFile(path, /hello\.txt/);
    await request(port, "/missing");
    const all = await waitForFile(path, /missing/);
    await stop(serve);
    assert.ok(text.startsWith("earlier line\n"), "appended");
    const lines = all.slice("earlier line\n".length);
    assert.doesNotMatch(lines, /secret|user:/);
    assert.doesNotMatch(serve.stderr, /GET/, "nothing on stderr");
    if (format !== "json") {
      assert.match(lines, line[format]);
      // Other messages stay on stderr: the file holds access lines only.
      assert.match(serve.stderr, /code 404, message File not found/);
      continue;
    }
    assert.doesNotMatch(serve.stderr, /code 404/);
    // The 404 also has its logError() message, as a JSON object too.
    const records = lines.trimEnd().split("\n").map((l) => JSON.parse(l));
    const access = records.filter((record) => "status" in record);
    assert.equal(access.length, 2);
    const [first, second] = access;
    assert.ok(!Number.isNaN(Date.parse(first.time)));
    assert.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(
      { ...first, time: 0, duration_ms: 0 },
      {
        time: 0,
        remote: "127.0.0.1",
        user: null,
        request: "GET /hello.txt?q=1 HTTP/1.1",
        method: "GET",
        path: "/hello.txt?q=1",
        version: "HTTP/1.1",
        status: 200,
        size: 6,
        referer: "http://ref.example/page",
        user_agent: 'test "agent"',
        duration_ms: 0,
      },
    );
    assert.ok(first.duration_ms >= 0 && first.duration_ms < 5000);
    assert.equal(second.status, 404);
    assert.ok(
      records.some((record) => /code 404/.test(record.message)),
      lines,
    );
  }
});

Deno.test("--log-format json keeps a handler's exception in JSON lines too", async () => {
  const lines: string[] = [];
  class Throws extends SimpleHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override do_GET(): Promise<void> {
      throw new Error("boom");
    }
  }
  const server = new JSONLogServer(
    ["127.0.0.1", 0],
    withAccessLog(Throws, "json"),
    { logSink: (line) => lines.push(line) },
  );
  const serving = server.serveForever(0.05);
  try {
    const response = await request(server.serverPort, "/");
    assert.equal(response.status, 500);
  } finally {
    await server.shutdown();
    await serving;
    await server[Symbol.asyncDispose]();
  }
  const records = lines.map((line) => JSON.parse(line));
  assert.ok(records.some((r) => /Error: boom/.test(r.error)), lines.join("\n"));
  assert.ok(records.some((r) => r.status === 500 && r.path === "/"));
});

Deno.test("--log-format json: a request line refused whole is in request, with no method, path or version", async () => {
  const lines: string[] = [];
  const server = new JSONLogServer(
    ["127.0.0.1", 0],
    withAccessLog(SimpleHTTPRequestHandler, "json"),
    { logSink: (line) => lines.push(line) },
  );
  const serving = server.serveForever(0.05);
  try {
    const { text } = await exchange(
      server.serverPort,
      "GET /a\x1bb HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    assert.match(text, /^HTTP\/1\.0 400 /);
  } finally {
    await server.shutdown();
    await serving;
    await server[Symbol.asyncDispose]();
  }
  const access = lines.map((line) => JSON.parse(line)).find((record) =>
    "status" in record
  );
  assert.equal(access.status, 400);
  assert.equal(access.request, "GET /a\u001bb HTTP/1.1");
  assert.deepEqual([access.method, access.path, access.version], [
    null,
    null,
    null,
  ]);
});

Deno.test("--log-format json makes the server's own lines JSON too (accept() retries out of descriptors)", async () => {
  const lines: string[] = [];
  const server = new JSONLogServer(
    ["127.0.0.1", 0],
    withAccessLog(SimpleHTTPRequestHandler, "json"),
    { logSink: (line) => lines.push(line) },
  );
  failAccepts(server);
  const serving = server.serveForever(0.05);
  await delay(100);
  await server.shutdown();
  await serving;
  await server[Symbol.asyncDispose]();
  const records = lines.map((line) => JSON.parse(line));
  assert.equal(records.length, 1, lines.join("\n"));
  assert.equal(
    records[0].message,
    "accept() failed, retrying: Error: Too many open files",
  );
  assert.match(records[0].time, /^\d{4}-\d\d-\d\dT/);
});

Deno.test("--log-format json escapes C1 controls and line separators, as the other formats do", async () => {
  const lines: string[] = [];
  class Answers extends SimpleHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override async do_GET(): Promise<void> {
      this.logMessage("saw %s", this.headers.get("user-agent"));
      await reply(this, "ok");
    }
  }
  const server = new JSONLogServer(
    ["127.0.0.1", 0],
    withAccessLog(Answers, "json"),
    { logSink: (line) => lines.push(line) },
  );
  const serving = server.serveForever(0.05);
  try {
    // Sent as UTF-8, read as Latin-1: U+009B (CSI), U+0085 (NEL) and the
    // bytes of U+2028 arrive as C1 characters.
    const response = await request(server.serverPort, "/", [
      "User-Agent: x\u009b31mRED\u0085y\u2028z",
      "Referer: http://r/\u009b2J",
    ]);
    assert.equal(response.status, 200);
  } finally {
    await server.shutdown();
    await serving;
    await server[Symbol.asyncDispose]();
  }
  assert.equal(lines.length, 2, lines.join("\n"));
  for (const line of lines) {
    assert.doesNotMatch(line, /[\x7f-\x9f\u2028\u2029]/, line);
    assert.match(line, /\\u009b/);
  }
  const [message, access] = lines.map((line) => JSON.parse(line));
  assert.match(message.message, /^saw x.\u009b31mRED/);
  assert.match(access.user_agent, /^x.\u009b31mRED.\u0085y/);
  assert.equal(access.referer, "http://r/\u00c2\u009b2J");
});

Deno.test("serve warns when the --log-file is in the served directory", async () => {
  const path = `${root}/inside.log`;
  try {
    await using serve = new Serve([...LOCAL, "--log-file", path], {
      permissions: [...PERMISSIONS, `--allow-write=${path}`],
    });
    await serve.banner();
    await stop(serve);
    assert.match(
      serve.stderr,
      /^Warning: the log file \S+inside\.log is in the served directory, where anyone can read it\.$/m,
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test({
  name:
    "serve --log-file reopens the path on SIGHUP, so that a rotated log goes on in a new file",
  ignore: Deno.build.os === "windows",
}, async () => {
  const path = `${tmp}/rotated.log`;
  await using serve = new Serve([
    ...LOCAL,
    "--log-file",
    path,
  ], { permissions: [...PERMISSIONS, `--allow-write=${tmp}`] });
  const port = await serve.banner();
  await request(port, "/hello.txt?before");
  await waitForFile(path, /before/);
  await Deno.rename(path, `${path}.1`);
  serve.child.kill("SIGHUP");
  // The new file appears when the signal is handled.
  const deadline = Date.now() + 5000;
  while (!(await Deno.stat(path).then(() => true, () => false))) {
    assert.ok(Date.now() < deadline, "no new log file after SIGHUP");
    await delay(20);
  }
  await request(port, "/hello.txt?after");
  const fresh = await waitForFile(path, /after/);
  await stop(serve);
  assert.doesNotMatch(fresh, /before/);
  // Python's line, as without --log-format.
  assert.match(
    fresh,
    /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/hello\.txt\?after HTTP\/1\.1" 200 6\n$/,
  );
  const old = await Deno.readTextFile(`${path}.1`);
  assert.match(old, /before/);
  assert.doesNotMatch(old, /after/);
});

Deno.test({
  name:
    "serve --workers 2 passes the log flags on: JSON lines in one file, reopened on SIGHUP to the parent",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const path = `${tmp}/workers.log`;
  await using serve = new Serve([
    ...LOCAL,
    "--workers",
    "2",
    "--log-format",
    "json",
    "--log-file",
    path,
  ], { permissions: [...CGI_PERMISSIONS, `--allow-write=${tmp}`] });
  const port = await serve.banner();
  await serve.waitFor(/^\(2 worker processes share the port\)$/m);
  for (let i = 0; i < 4; i++) await request(port, `/hello.txt?before${i}`);
  await waitForFile(path, /before3/);
  await Deno.rename(path, `${path}.1`);
  serve.child.kill("SIGHUP");
  // Each worker reopens on its own; a request may still reach the old file
  // until both have: ask until the new one has a line.
  const deadline = Date.now() + 5000;
  let fresh = "";
  for (let i = 0; !/after/.test(fresh); i++) {
    assert.ok(Date.now() < deadline, "no new log file after SIGHUP");
    await request(port, `/hello.txt?after${i}`);
    fresh = await Deno.readTextFile(path).catch(() => "");
  }
  await stop(serve);
  const records = (await Deno.readTextFile(`${path}.1`)).trimEnd().split("\n")
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    records.filter((r) => /before/.test(r.path)).map((r) => r.status),
    [200, 200, 200, 200],
  );
  assert.doesNotMatch(fresh, /before/);
});

Deno.test("serve --cgi-env NAME=VALUE and NAME add to scripts' environment", async () => {
  await using serve = new Serve([
    ...LOCAL,
    "--cgi",
    "--cgi-env",
    "GREETING=hello world",
    "--cgi-env",
    "FROM_SERVER",
    "--cgi-env",
    "UNSET_HERE",
    "-q",
  ], {
    permissions: [
      ...CGI_PERMISSIONS,
      "--allow-env=FROM_SERVER,UNSET_HERE",
    ],
    env: { FROM_SERVER: "the server's", SECRET: "not passed" },
  });
  const port = await serve.banner();
  const response = await request(port, "/cgi-bin/env.sh");
  await stop(serve);
  assert.equal(response.status, 200);
  const env = response.body;
  assert.match(env, /^GREETING=hello world$/m);
  assert.match(env, /^FROM_SERVER=the server's$/m);
  assert.match(env, /^PATH=\/usr\/local\/bin:\/usr\/bin:\/bin$/m, "kept");
  assert.doesNotMatch(env, /UNSET_HERE|SECRET/);
});

Deno.test({
  name:
    "the README's CGI example runs form.ts with --cgi-env PATH where deno is only on serve's PATH",
  ignore: Deno.build.os === "windows",
}, async () => {
  // A PATH without /usr/local/bin: deno is found only through bin/.
  const bin = `${tmp}/bin`;
  await Deno.mkdir(bin, { recursive: true });
  await Deno.symlink(Deno.execPath(), `${bin}/deno`);
  const examples = new URL("../examples", import.meta.url).pathname;
  await using serve = new Serve([
    "0",
    "-b",
    "127.0.0.1",
    "--cgi",
    "--cgi-env",
    "PATH",
    "-d",
    examples,
  ], {
    permissions: [...CGI_PERMISSIONS, "--allow-env=PATH"],
    env: { PATH: `${bin}:/usr/bin:/bin` },
  });
  const port = await serve.banner();
  const response = await fetch(`http://127.0.0.1:${port}/cgi-bin/form.ts`, {
    method: "POST",
    body: new URLSearchParams({ name: "Ada", lang: "TypeScript" }),
  });
  const page = await response.text();
  await stop(serve);
  assert.equal(response.status, 200, serve.stderr);
  assert.match(page, /Ada/);
  assert.match(page, /TypeScript/);
});

Deno.test("serve --follow-symlinks serves a link out of the directory, as Python does; without it, 404", async () => {
  const outside = `${tmp}/outside.txt`;
  await Deno.writeTextFile(outside, "from outside\n");
  await Deno.symlink(outside, `${root}/out.txt`);
  try {
    for (const follow of [false, true]) {
      await using serve = new Serve(
        [...LOCAL, ...(follow ? ["--follow-symlinks"] : [])],
        { permissions: PERMISSIONS },
      );
      const port = await serve.banner();
      const response = await request(port, "/out.txt");
      assert.equal(response.status, follow ? 200 : 404);
      if (follow) assert.equal(response.body, "from outside\n");
    }
  } finally {
    await Deno.remove(`${root}/out.txt`);
  }
});

Deno.test("serve --auth and --auth-file require Basic auth; CGI scripts see REMOTE_USER; no credential is logged", async () => {
  const users = `${tmp}/users.txt`;
  await Deno.writeTextFile(users, "# team\n\ncarol:c-pass\n  dave:d:pass  \n");
  await using serve = new Serve([
    ...LOCAL,
    "--auth",
    "alice:a-pass",
    "--auth",
    "zoë山:pä",
    "--auth-file",
    users,
    "--cgi",
    "--log-format",
    "common",
  ], { permissions: CGI_PERMISSIONS });
  const port = await serve.banner();
  const missing = await request(port, "/hello.txt");
  assert.equal(missing.status, 401);
  assert.match(missing.get("www-authenticate")!, /^Basic realm="[^"]*"/);
  const wrong = await request(port, "/hello.txt", [
    `Authorization: ${basic("alice", "wrong")}`,
  ]);
  assert.equal(wrong.status, 401);
  for (const [user, password] of [["alice", "a-pass"], ["dave", "d:pass"]]) {
    const ok = await request(port, "/hello.txt", [
      `Authorization: ${basic(user, password)}`,
    ]);
    assert.equal(ok.status, 200, user);
    assert.equal(ok.body, "hello\n");
  }
  // UTF-8 credentials (RFC 7617's charset), logged as their bytes, as
  // nginx and Apache escape them.
  const utf8 = String.fromCharCode(
    ...new TextEncoder().encode("zoë山:pä"),
  );
  const zoe = await request(port, "/hello.txt", [
    `Authorization: Basic ${btoa(utf8)}`,
  ]);
  assert.equal(zoe.status, 200);
  await serve.waitFor(/ - zo\\xc3\\xab\\xe5\\xb1\\xb1 \[/);
  const script = await request(port, "/cgi-bin/env.sh", [
    `Authorization: ${basic("carol", "c-pass")}`,
  ]);
  assert.equal(script.status, 200);
  assert.match(script.body, /^REMOTE_USER=carol$/m);
  assert.match(script.body, /^AUTH_TYPE=Basic$/m);
  assert.doesNotMatch(script.body, /HTTP_AUTHORIZATION|c-pass/);
  await serve.waitFor(
    / - carol \[[^\]]+\] "GET \/cgi-bin\/env\.sh HTTP\/1\.1" 200/,
  );
  await stop(serve);
  assert.match(
    serve.stderr,
    / - alice \[[^\]]+\] "GET \/hello\.txt HTTP\/1\.1" 200 6/,
  );
  assert.doesNotMatch(serve.stderr, /a-pass|c-pass|d:pass|wrong|Basic /);
  assert.doesNotMatch(serve.stderr, new RegExp(btoa("alice:")));
});

Deno.test("serve refuses an --auth-file inside the served directory, where anyone could download it", async () => {
  await Deno.writeTextFile(`${root}/users.txt`, "eve:e-pass\n");
  try {
    const { code, stderr } = await run([
      ...LOCAL,
      "--auth-file",
      `${root}/users.txt`,
    ]);
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^serve: error: --auth-file .* is in the served directory[^\n]*\n$/,
    );
    const empty = `${tmp}/empty.txt`;
    await Deno.writeTextFile(empty, "# nobody\n");
    const none = await run([...LOCAL, "--auth-file", empty]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^serve: error: no users in \S+empty\.txt\n$/);
    const bad = `${tmp}/bad.txt`;
    await Deno.writeTextFile(bad, "ok:pw\nno-colon-secret\n");
    const broken = await run([...LOCAL, "--auth-file", bad]);
    assert.equal(broken.code, 1);
    assert.match(
      broken.stderr,
      /^serve: error: \S+bad\.txt line 2: expected USER:PASSWORD[^\n]*\n$/,
    );
    assert.doesNotMatch(broken.stderr, /secret/);
    // A user given twice: a password "changed" by adding a line would leave
    // the old one working.
    const twice = `${tmp}/twice.txt`;
    await Deno.writeTextFile(twice, "ann:old-secret\nbob:b\nann:new-secret\n");
    const bob = `${tmp}/bob.txt`;
    await Deno.writeTextFile(bob, "bob:y\n");
    for (
      const args of [
        ["--auth-file", twice],
        ["--auth", "bob:x", "--auth-file", bob],
        ["--auth", "cy:1", "--auth", "cy:2"],
      ]
    ) {
      const refused = await run([...LOCAL, ...args]);
      assert.equal(refused.code, 1, args.join(" "));
      assert.match(
        refused.stderr,
        /^serve: error: user (ann|bob|cy) is given twice: one password each\n$/,
        args.join(" "),
      );
      assert.doesNotMatch(refused.stderr, /secret/);
    }
  } finally {
    await Deno.remove(`${root}/users.txt`);
  }
});

Deno.test("serve --cors-origin answers a preflight from that origin only", async () => {
  await using serve = new Serve([
    ...LOCAL,
    "-q",
    "--cors-origin",
    "https://app.example",
  ]);
  const port = await serve.banner();
  const preflight = (origin: string) =>
    exchange(
      port,
      `OPTIONS /hello.txt HTTP/1.1\r\nHost: h\r\nOrigin: ${origin}\r\n` +
        "Access-Control-Request-Method: GET\r\n" +
        "Access-Control-Request-Headers: x-token\r\nConnection: close\r\n\r\n",
    ).then(({ text }) => parseResponses(text)[0]);
  const allowed = await preflight("https://app.example");
  assert.equal(allowed.status, 204);
  assert.equal(
    allowed.get("access-control-allow-origin"),
    "https://app.example",
  );
  assert.match(allowed.get("vary") ?? "", /Origin/i);
  const other = await preflight("https://evil.example");
  assert.equal(other.status, 204);
  assert.equal(other.get("access-control-allow-origin"), undefined);
  await stop(serve);
});

Deno.test("serve compresses by default (gzip, decoded and compared), not with --no-compress", async () => {
  for (const compress of [true, false]) {
    await using serve = new Serve([
      ...LOCAL,
      "-q",
      ...(compress ? [] : ["--no-compress"]),
    ]);
    const port = await serve.banner();
    const response = await request(port, "/big.txt", [
      "Accept-Encoding: gzip",
    ]);
    await stop(serve);
    assert.equal(response.status, 200);
    if (!compress) {
      assert.equal(response.get("content-encoding"), undefined);
      assert.equal(response.body, big);
      continue;
    }
    assert.equal(response.get("content-encoding"), "gzip");
    const decoded = await new Response(
      new Response(new Uint8Array(latin1Bytes(response.body))).body!
        .pipeThrough(new DecompressionStream("gzip")),
    ).text();
    assert.equal(decoded, big);
  }
});

Deno.test("serve --spa answers a route with index.html, not a missing file with an extension", async () => {
  await using serve = new Serve([...LOCAL, "-q", "--spa"]);
  const port = await serve.banner();
  const route = await request(port, "/app/settings", ["Accept: text/html"]);
  assert.equal(route.status, 200);
  assert.equal(route.body, "<!doctype html><p>app</p>\n");
  const asset = await request(port, "/missing.js", ["Accept: text/html"]);
  assert.equal(asset.status, 404);
  await stop(serve);
});

Deno.test("serve --max-age, --immutable and --no-cache set Cache-Control", async () => {
  const cases: [string[], string][] = [
    [["--max-age", "60"], "max-age=60"],
    [["--max-age", "600", "--immutable"], "max-age=600, immutable"],
    [["--immutable"], "max-age=31536000, immutable"],
    [["--no-cache"], "no-cache"],
  ];
  for (const [flags, expected] of cases) {
    await using serve = new Serve([...LOCAL, "-q", ...flags]);
    const port = await serve.banner();
    const response = await request(port, "/hello.txt");
    await stop(serve);
    assert.equal(response.get("cache-control"), expected, flags.join(" "));
  }
});

Deno.test("access logs drop a Referer's userinfo up to its last @ before the path", async () => {
  const lines: string[] = [];
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "x");
    class Tree extends SimpleHTTPRequestHandler {
      override directory = dir;
    }
    for (const format of ["combined", "json"] as const) {
      await using client = testClient(
        withAccessLog(Tree, format, (line) => lines.push(line)),
      );
      const response = await client.request("GET", "/a.txt", {
        headers: [["Referer", "http://bob:hunt@er@2@ref.example/p"]],
      });
      assert.equal(response.status, 200);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(lines.length, 2);
  for (const line of lines) {
    assert.ok(!/hunt|er@2/.test(line), line);
    assert.ok(line.includes("http://ref.example/p"), line);
  }
});
