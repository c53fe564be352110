// Copyright 2026 the basehttp authors. MIT license.
import assert from "node:assert/strict";
import { CGIHTTPRequestHandler, urlCollapsePath } from "../cgi.ts";
import { percentFormat } from "../handler.ts";
import {
  delay,
  exchange,
  type ParsedResponse,
  parseResponses,
  startServer,
  writeAll,
} from "./_util.ts";

// The tree every test serves: <tmp>/www with cgi-bin/ and htbin/, and
// <tmp>/outside next to it, which no request may reach.
const tmp = await Deno.realPath(
  await Deno.makeTempDir({ prefix: "basehttp_cgi_" }),
);
globalThis.addEventListener("unload", () => {
  Deno.removeSync(tmp, { recursive: true });
});
const root = `${tmp}/www`;
const cgiBin = `${root}/cgi-bin`;
const encoder = new TextEncoder();

const HEADERS = "printf 'Content-Type: text/plain\\n\\n'";
const SCRIPTS: Record<string, string> = {
  "cgi-bin/env.sh": `${HEADERS}\nenv`,
  "cgi-bin/echo.sh":
    `${HEADERS}\nprintf 'length=%s type=%s method=%s\\n' "$CONTENT_LENGTH" "$CONTENT_TYPE" "$REQUEST_METHOD"\ncat`,
  "cgi-bin/args.sh":
    `${HEADERS}\nprintf 'query=%s method=%s\\n' "$QUERY_STRING" "$REQUEST_METHOD"\nfor a in "$@"; do printf 'arg=%s\\n' "$a"; done`,
  "cgi-bin/status.sh":
    "printf 'Status: 404 Not Here\\r\\nContent-Type: text/plain\\r\\nX-Script: yes\\r\\nConnection: keep-alive\\r\\n\\r\\nmissing\\n'",
  "cgi-bin/cors.sh":
    "printf 'Content-Type: text/plain\\nAccess-Control-Allow-Origin: https://a.example\\n\\nok'",
  "cgi-bin/nocontent.sh": "printf 'Status: 204\\nContent-Length: 0\\n\\n'",
  "cgi-bin/local.sh": "printf 'Location: /static.txt\\n\\n'",
  "cgi-bin/local-cgi.sh":
    "printf 'Location: /cgi-bin/args.sh?from+local\\n\\nignored'",
  "cgi-bin/loop.sh": "printf 'Location: /cgi-bin/loop.sh\\n\\n'",
  "cgi-bin/client.sh": "printf 'Location: https://example.com/elsewhere\\n\\n'",
  "cgi-bin/nph-raw.sh":
    "printf 'HTTP/1.1 299 Custom\\r\\nContent-Type: text/plain\\r\\nX-Nph: 1\\r\\n\\r\\nraw body'",
  "cgi-bin/crash.sh": "echo 'about to fail' >&2\nexit 3",
  "cgi-bin/dies.sh": `${HEADERS}\necho whole\nexit 3`,
  "cgi-bin/nocontent-fails.sh": "printf 'Status: 204\\n\\n'\nfalse",
  "cgi-bin/linger.sh": `${HEADERS}\necho whole\nexec >&- 2>&-\nexec sleep 30`,
  "cgi-bin/killed.sh": `${HEADERS}\necho partial\nkill -9 $$`,
  "cgi-bin/garbage.sh": "echo 'this is not a header'\necho\necho body",
  "cgi-bin/silent.sh": "exit 0",
  "cgi-bin/notype.sh": "printf 'X-Foo: bar\\n\\nbody'",
  "cgi-bin/badlength.sh":
    "printf 'Content-Type: text/plain\\nContent-Length: ten\\n\\nbody'",
  "cgi-bin/hugelength.sh":
    "printf 'Content-Type: text/plain\\nContent-Length: 99999999999999999999\\n\\nbody'",
  "cgi-bin/hang.sh": "echo $$ > hang.pid\nexec sleep 30",
  "cgi-bin/partial.sh": `${HEADERS}\necho partial\nexec sleep 30`,
  "cgi-bin/stubborn.sh":
    "trap '' TERM\nsleep 30 &\necho \"$$ $!\" > stubborn.pid\nwait\nwait",
  "cgi-bin/stream.sh":
    `${HEADERS}\necho $$ > stream.pid\nwhile :; do echo tick; sleep 0.05; done`,
  "cgi-bin/slow.sh": `${HEADERS}\necho first\nsleep 0.6\necho second`,
  // Leaves a child behind that holds stdout and stderr open.
  "cgi-bin/background.sh": `${HEADERS}\necho done\nsleep 3 &`,
  "cgi-bin/sub/deep.sh":
    `${HEADERS}\nprintf 'script=%s info=%s translated=%s pwd=%s\\n' "$SCRIPT_NAME" "$PATH_INFO" "$PATH_TRANSLATED" "$(pwd)"`,
  "htbin/h.sh": `${HEADERS}\necho htbin`,
  "cgi-bin/.hidden.sh": `${HEADERS}\necho hidden`,
  "secret.sh": `touch secret.ran\n${HEADERS}\necho ran`,
  "plain/run.sh": `touch plain.ran\n${HEADERS}\necho ran`,
};

async function makeTree(): Promise<void> {
  for (const [name, body] of Object.entries(SCRIPTS)) {
    const path = `${root}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  await Deno.writeTextFile(`${root}/static.txt`, "static file\n");
  await Deno.writeTextFile(`${cgiBin}/noexec.sh`, "#!/bin/sh\necho hi\n", {
    mode: 0o644,
  });
  await Deno.writeTextFile(`${cgiBin}/noexec.py`, "print('hi')\n", {
    mode: 0o644,
  });
  await Deno.mkdir(`${cgiBin}/dir`);
  // A script outside the root, reachable only through a symlink.
  await Deno.mkdir(`${tmp}/outside`);
  await Deno.writeTextFile(
    `${tmp}/outside/evil.sh`,
    `#!/bin/sh\ntouch "${tmp}/outside/evil.ran"\n${HEADERS}\necho evil\n`,
    { mode: 0o755 },
  );
  await Deno.symlink(`${tmp}/outside/evil.sh`, `${cgiBin}/linked.sh`);
  // Links inside the root, out of the CGI directories: to a folder, a file.
  await Deno.symlink("../plain", `${cgiBin}/plainlink`);
  await Deno.symlink("../plain/run.sh", `${cgiBin}/runlink.sh`);
  // A Deno script: the environment is cleared, so the shebang names Deno.
  await Deno.writeTextFile(
    `${cgiBin}/form.ts`,
    `#!/usr/bin/env -S ${Deno.execPath()} run --allow-env --no-config
const body = await new Response(Deno.stdin.readable).text();
const reply = JSON.stringify({
  method: Deno.env.get("REQUEST_METHOD"),
  query: Deno.env.get("QUERY_STRING"),
  body,
});
console.log("Content-Type: application/json\\n");
console.log(reply);
`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    `${cgiBin}/hello.py`,
    `#!/usr/bin/env python3
import os, sys
body = sys.stdin.read()
print("Content-Type: text/plain")
print()
print(os.environ["REQUEST_METHOD"], os.environ.get("QUERY_STRING"), body)
`,
    { mode: 0o755 },
  );
}
await makeTree();

const hasPython = await new Deno.Command("python3", { args: ["--version"] })
  .output().then((o) => o.success, () => false);

const logs: string[] = [];

/** A CGI handler over the test tree, HTTP/1.1, logging into `logs`. */
class Handler extends CGIHTTPRequestHandler {
  override directory = root;
  override protocolVersion = "HTTP/1.1";
  override cgiTimeout: number | null = 10;
  override logMessage(format: string, ...args: unknown[]): void {
    logs.push(percentFormat(format, args));
  }
}

/** One raw request on its own connection; returns the parsed response. */
async function raw(
  port: number,
  target: string,
  { method = "GET", headers = "", body = "", quietMs = 3000 }: {
    method?: string;
    headers?: string;
    body?: string;
    quietMs?: number;
  } = {},
): Promise<ParsedResponse> {
  const length = body === "" ? "" : `Content-Length: ${body.length}\r\n`;
  const { text } = await exchange(
    port,
    `${method} ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n${length}${headers}\r\n${body}`,
    { quietMs },
  );
  const [response] = parseResponses(text, method === "HEAD");
  return response;
}

/** Parses `env` output into a map. */
function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

/** Whether a process runs (a zombie, or a reaped one, does not). */
function running(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
  }
  try {
    Deno.kill(pid, "SIGCONT"); // no /proc: does the process exist?
    return true;
  } catch {
    return false;
  }
}

/** Waits until none of `pids` runs, up to `ms`; returns those still running. */
async function awaitGone(pids: number[], ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  while (pids.some(running) && Date.now() < end) await delay(50);
  return pids.filter(running);
}

async function readPids(path: string): Promise<number[]> {
  const end = Date.now() + 3000;
  while (Date.now() < end) {
    const text = await Deno.readTextFile(path).catch(() => "");
    if (text.endsWith("\n")) return text.trim().split(/\s+/).map(Number);
    await delay(20);
  }
  throw new Error(`no pid file ${path}`);
}

Deno.test("urlCollapsePath matches Python's _url_collapse_path vectors", () => {
  const vectors: [string, string | null][] = [
    ["", "//"],
    ["..", null],
    ["/.//..", null],
    ["/", "//"],
    ["//", "//"],
    ["/\\", "//\\"],
    ["/.//", "//"],
    ["cgi-bin/file1.py", "/cgi-bin/file1.py"],
    ["/cgi-bin/file1.py", "/cgi-bin/file1.py"],
    ["a", "//a"],
    ["/a", "//a"],
    ["//a", "//a"],
    ["./a", "//a"],
    ["./C:/", "/C:/"],
    ["/a/b", "/a/b"],
    ["/a/b/", "/a/b/"],
    ["/a/b/.", "/a/b/"],
    ["/a/b/c/..", "/a/b/"],
    ["/a/b/c/../d", "/a/b/d"],
    ["/a/b/c/../d/e/../f", "/a/b/d/f"],
    ["/a/b/c/../d/e/../../f", "/a/b/f"],
    ["/a/b/c/../d/e/.././././..//f", "/a/b/f"],
    ["../a/b/c/../d/e/.././././..//f", null],
    ["/a/b/c/../d/e/../../../f", "/a/f"],
    ["/a/b/c/../d/e/../../../../f", "//f"],
    ["/a/b/c/../d/e/../../../../../f", null],
    ["/a/b/c/../d/e/../../../../f/..", "//"],
    ["/a/b/c/../d/e/../../../../f/../.", "//"],
    // Beyond Python's tests: decoding comes first, the query stays as sent.
    ["/cgi-bin/%2e%2e/x", "//x"],
    ["/cgi-bin/..%2f..%2fetc", null],
    ["/a/./b?x=%2e%2e/", "/a/b?x=%2e%2e/"],
    ["/a?", "//a"],
    ["/%zz", null],
  ];
  for (const [input, expected] of vectors) {
    assert.equal(urlCollapsePath(input), expected, `input ${input}`);
  }
});

Deno.test("isPython accepts .py and .pyw in any case", () => {
  const { isPython } = CGIHTTPRequestHandler.prototype;
  assert.equal(isPython("/cgi-bin/x.py"), true);
  assert.equal(isPython("/cgi-bin/x.PYW"), true);
  assert.equal(isPython("/cgi-bin/x.pyc"), false);
  assert.equal(isPython("/cgi-bin/py"), false);
});

Deno.test("CGI GET passes the query, as QUERY_STRING and as search arguments", async () => {
  await using s = startServer(Handler);
  const form = await raw(s.port, "/cgi-bin/args.sh?a=1&b=%20");
  assert.equal(form.status, 200);
  assert.equal(form.statusLine, "HTTP/1.1 200 Script output follows");
  assert.equal(form.get("content-type"), "text/plain");
  assert.equal(form.body, "query=a=1&b=%20 method=GET\n");
  const search = await raw(s.port, "/cgi-bin/args.sh?hello+big%20world");
  assert.equal(
    search.body,
    "query=hello+big%20world method=GET\narg=hello\narg=big world\n",
  );
  // No arguments that could be taken for options, and none for a POST.
  const option = await raw(s.port, "/cgi-bin/args.sh?x+-rf");
  assert.equal(option.body, "query=x+-rf method=GET\n");
  const post = await raw(s.port, "/cgi-bin/args.sh?x", {
    method: "POST",
    body: "b",
  });
  assert.equal(post.body, "query=x method=POST\n");
});

Deno.test("CGI scripts get the RFC 3875 meta-variables, HTTP_* fields, and nothing of the server's environment", async () => {
  Deno.env.set("BASEHTTP_CGI_SECRET", "must not leak");
  try {
    await using s = startServer(Handler);
    const response = await raw(s.port, "/cgi-bin/env.sh/extra/path%20x?q=1", {
      headers: "X-Custom: yes\r\nAccept: a\r\nAccept: b\r\n" +
        "Cookie: c=1\r\nCookie: d=2\r\nProxy: http://evil:8080\r\n" +
        "X_Under: sneaky\r\nUser-Agent: test/1\r\nTE: trailers\r\n" +
        "Keep-Alive: timeout=5\r\nUpgrade: h2c\r\n" +
        "Connection: X-Hop\r\nX-Hop: for the next hop only\r\n" +
        `Authorization: Basic ${btoa("alice:pass:word")}\r\n`,
    });
    assert.equal(response.status, 200);
    const env = parseEnv(response.body);
    const expected: Record<string, string> = {
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_NAME: "127.0.0.1",
      SERVER_PORT: String(s.port),
      SERVER_PROTOCOL: "HTTP/1.1",
      REQUEST_METHOD: "GET",
      SCRIPT_NAME: "/cgi-bin/env.sh",
      PATH_INFO: "/extra/path x",
      PATH_TRANSLATED: `${root}/extra/path x`,
      QUERY_STRING: "q=1",
      REMOTE_ADDR: "127.0.0.1",
      REMOTE_HOST: "127.0.0.1",
      AUTH_TYPE: "Basic",
      REMOTE_USER: "alice",
      PATH: "/usr/local/bin:/usr/bin:/bin",
      PWD: cgiBin, // the script runs in its directory
      HTTP_HOST: "t",
      HTTP_X_CUSTOM: "yes",
      HTTP_ACCEPT: "a, b",
      HTTP_COOKIE: "c=1; d=2",
      HTTP_USER_AGENT: "test/1",
    };
    for (const [name, value] of Object.entries(expected)) {
      assert.equal(env.get(name), value, name);
    }
    assert.match(env.get("SERVER_SOFTWARE")!, /^SimpleHTTP\/0\.6 Deno\//);
    assert.match(env.get("REMOTE_PORT")!, /^\d+$/);
    // Nothing else: no HTTP_PROXY (httpoxy), no credentials, no aliased
    // X_Under, no hop-by-hop fields (Connection, TE, Keep-Alive, Upgrade:
    // the server's, not the script's), no body variables for a GET,
    // nothing from the server.
    const allowed = new Set([
      ...Object.keys(expected),
      "SERVER_SOFTWARE",
      "REMOTE_PORT",
    ]);
    assert.deepEqual([...env.keys()].filter((k) => !allowed.has(k)), []);
  } finally {
    Deno.env.delete("BASEHTTP_CGI_SECRET");
  }
});

Deno.test("CGI HTTP_ACCEPT is always set, empty without Accept, as in Python", async () => {
  // A script ported from Python reads os.environ["HTTP_ACCEPT"] unguarded.
  await using s = startServer(Handler);
  const response = await raw(s.port, "/cgi-bin/env.sh");
  assert.equal(response.status, 200);
  assert.equal(parseEnv(response.body).get("HTTP_ACCEPT"), "");
});

Deno.test("CGI POST streams a Content-Length body to stdin, with CONTENT_TYPE and CONTENT_LENGTH", async () => {
  await using s = startServer(Handler);
  const response = await fetch(`http://127.0.0.1:${s.port}/cgi-bin/echo.sh`, {
    method: "POST",
    headers: { "Content-Type": "text/x-test" },
    body: "hello body",
  });
  assert.equal(response.status, 200);
  assert.equal(
    await response.text(),
    "length=10 type=text/x-test method=POST\nhello body",
  );
  // A body far larger than a pipe's buffer goes through both ways.
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) % 251);
  const echoed = await fetch(`http://127.0.0.1:${s.port}/cgi-bin/echo.sh`, {
    method: "POST",
    body: big,
  });
  const bytes = new Uint8Array(await echoed.arrayBuffer());
  const prefix = encoder.encode(`length=${big.length} type= method=POST\n`);
  assert.deepEqual(bytes.subarray(0, prefix.length), prefix);
  assert.deepEqual(bytes.subarray(prefix.length), big);
});

Deno.test("CGI POST with a chunked body gives the script its exact CONTENT_LENGTH", async () => {
  await using s = startServer(Handler);
  const { text } = await exchange(s.port, [
    "POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
    "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n",
    "5\r\nhello\r\n",
    "7\r\n chunks\r\n0\r\n\r\n",
  ], { pauseMs: 20 });
  const [response] = parseResponses(text);
  assert.equal(response.status, 200);
  assert.equal(
    response.body,
    "length=12 type=text/plain method=POST\nhello chunks",
  );
  // The body is no longer chunked: a script (a WSGI adapter) that saw
  // HTTP_TRANSFER_ENCODING would ignore CONTENT_LENGTH and read nothing.
  const env = await exchange(s.port, [
    "POST /cgi-bin/env.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" +
    "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n",
    "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
  ], { pauseMs: 20 });
  const variables = parseEnv(parseResponses(env.text)[0].body);
  assert.equal(variables.get("CONTENT_LENGTH"), "5");
  assert.equal(variables.get("HTTP_TRANSFER_ENCODING"), undefined);
  assert.equal(variables.get("HTTP_TRAILER"), undefined);
});

Deno.test("CGI cgiEnv sets no meta-variable: the request's win, or there are none", async () => {
  class Pinned extends Handler {
    override cgiEnv = {
      PATH: "/usr/bin:/bin",
      KEPT: "yes",
      http_proxy: "http://proxy.example:3128", // lower case: a setting
      REMOTE_USER: "root",
      AUTH_TYPE: "Basic",
      CONTENT_LENGTH: "9",
      CONTENT_TYPE: "text/evil",
      PATH_TRANSLATED: "/etc",
      REMOTE_IDENT: "root",
      HTTP_HOST: "pinned",
      HTTP_X_FROM_ENV: "forged",
      SERVER_PROTOCOL: "HTTP/9",
    };
  }
  await using s = startServer(Pinned);
  const env = parseEnv((await raw(s.port, "/cgi-bin/env.sh")).body);
  assert.equal(env.get("KEPT"), "yes");
  assert.equal(env.get("PATH"), "/usr/bin:/bin");
  assert.equal(env.get("http_proxy"), "http://proxy.example:3128");
  assert.equal(env.get("HTTP_HOST"), "t");
  assert.equal(env.get("SERVER_PROTOCOL"), "HTTP/1.1");
  for (
    const name of [
      "REMOTE_USER",
      "AUTH_TYPE",
      "CONTENT_LENGTH",
      "CONTENT_TYPE",
      "PATH_TRANSLATED",
      "REMOTE_IDENT",
      "HTTP_X_FROM_ENV",
    ]
  ) {
    assert.equal(env.get(name), undefined, name);
  }
});

Deno.test("CGI SERVER_PROTOCOL is the request's protocol (RFC 3875 §4.1.16)", async () => {
  await using s = startServer(Handler);
  const { text } = await exchange(
    s.port,
    "GET /cgi-bin/env.sh HTTP/1.0\r\nHost: t\r\n\r\n",
  );
  const [response] = parseResponses(text);
  assert.equal(parseEnv(response.body).get("SERVER_PROTOCOL"), "HTTP/1.0");
});

Deno.test("CGI output without Content-Length is chunked on HTTP/1.1 and keeps the connection", async () => {
  await using s = startServer(Handler);
  const request = "GET /cgi-bin/args.sh?x HTTP/1.1\r\nHost: t\r\n\r\n";
  const { text } = await exchange(s.port, [
    request,
    request.replace("HTTP/1.1\r\n", "HTTP/1.1\r\nConnection: close\r\n"),
  ], { pauseMs: 100 });
  const [kept, closed] = parseResponses(text);
  assert.equal(kept.get("transfer-encoding"), "chunked");
  assert.equal(kept.body, "query=x method=GET\narg=x\n");
  // The last one ends with the connection instead.
  assert.equal(closed.get("transfer-encoding"), undefined);
  assert.equal(closed.get("connection"), "close");
  assert.equal(closed.body, "query=x method=GET\narg=x\n");
});

Deno.test("CGI output is streamed as the script writes it", async () => {
  await using s = startServer(Handler);
  const response = await fetch(`http://127.0.0.1:${s.port}/cgi-bin/slow.sh`);
  const reader = response.body!.getReader();
  // The first line comes alone, well before the script ends.
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "first\n");
  let rest = "";
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    rest += new TextDecoder().decode(r.value);
  }
  assert.equal(rest, "second\n");
});

Deno.test("CGI HEAD runs the script and sends its header fields only", async () => {
  await using s = startServer(Handler);
  const response = await raw(s.port, "/cgi-bin/args.sh?x", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(response.get("content-type"), "text/plain");
  assert.equal(response.body, "");
});

Deno.test("CGI Status: sets the status; other fields pass, hop-by-hop ones do not", async () => {
  await using s = startServer(Handler);
  const response = await raw(s.port, "/cgi-bin/status.sh");
  assert.equal(response.statusLine, "HTTP/1.1 404 Not Here");
  assert.equal(response.get("x-script"), "yes");
  assert.equal(response.get("connection"), "close"); // the client's, not the script's
  assert.equal(response.body, "missing\n");
  const empty = await raw(s.port, "/cgi-bin/nocontent.sh");
  assert.equal(empty.statusLine, "HTTP/1.1 204 No Content");
  // A 204 carries no Content-Length (RFC 9110 §8.6), whatever the script said.
  assert.equal(empty.get("content-length"), undefined);
});

Deno.test("CGI: the answer ends when the script exits, though a child it left holds its output", async () => {
  await using s = startServer(Handler);
  const started = Date.now();
  const response = await raw(s.port, "/cgi-bin/background.sh");
  assert.equal(response.body, "done\n");
  // Python's CGI answers at once too; the child's 3 s are not waited for.
  assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
});

Deno.test("CGI with cors: the server's Access-Control-Allow-Origin is the only one", async () => {
  class Cors extends Handler {
    override cors = true;
  }
  await using s = startServer(Cors);
  const response = await raw(s.port, "/cgi-bin/cors.sh");
  const origins = response.headers.filter(([name]) =>
    name.toLowerCase() === "access-control-allow-origin"
  );
  assert.deepEqual(origins.map(([, value]) => value), ["*"]);
  // Without cors, the script's own is relayed.
  await using plain = startServer(Handler);
  const own = await raw(plain.port, "/cgi-bin/cors.sh");
  assert.equal(own.get("access-control-allow-origin"), "https://a.example");
});

Deno.test("CGI Location: a local path is served internally, a URL is a 302", async () => {
  await using s = startServer(Handler);
  const local = await raw(s.port, "/cgi-bin/local.sh");
  assert.equal(local.status, 200);
  assert.equal(local.body, "static file\n");
  assert.equal(local.get("location"), undefined);
  // To another script, as a GET without the body.
  const hop = await raw(s.port, "/cgi-bin/local-cgi.sh", {
    method: "POST",
    body: "data",
  });
  assert.equal(hop.body, "query=from+local method=GET\narg=from\narg=local\n");
  const loop = await raw(s.port, "/cgi-bin/loop.sh");
  assert.equal(loop.status, 502);
  const client = await raw(s.port, "/cgi-bin/client.sh");
  assert.equal(client.statusLine, "HTTP/1.1 302 Found");
  assert.equal(client.get("location"), "https://example.com/elsewhere");
});

Deno.test("CGI nph- scripts write the whole response, and the connection closes after it", async () => {
  await using s = startServer(Handler);
  const { text, closed } = await exchange(
    s.port,
    "GET /cgi-bin/nph-raw.sh HTTP/1.1\r\nHost: t\r\n\r\n",
  );
  assert.equal(
    text,
    "HTTP/1.1 299 Custom\r\nContent-Type: text/plain\r\nX-Nph: 1\r\n\r\nraw body",
  );
  assert.equal(closed, true);
});

Deno.test("CGI scripts that crash or write no valid header block get 500 or 502, and the server goes on", async () => {
  logs.length = 0;
  await using s = startServer(Handler);
  const crash = await raw(s.port, "/cgi-bin/crash.sh");
  assert.equal(crash.statusLine, "HTTP/1.1 500 CGI script failed");
  assert.ok(logs.includes("CGI script '/cgi-bin/crash.sh': about to fail"));
  assert.ok(logs.includes("CGI script '/cgi-bin/crash.sh' exit code 3"));
  for (
    const name of [
      "garbage.sh",
      "silent.sh",
      "notype.sh",
      "badlength.sh",
      "hugelength.sh", // digits, but past what any body holds
    ]
  ) {
    const response = await raw(s.port, `/cgi-bin/${name}`);
    assert.equal(response.status, 502, name);
  }
  assert.ok(logs.some((line) => line.includes("bad header line")));
  const after = await raw(s.port, "/cgi-bin/args.sh?ok");
  assert.equal(after.status, 200);
  // One killed by a signal as its output ended (a crash, the OOM killer)
  // is cut off: no last chunk that would tell the client its body is
  // whole, and a close.
  const killed = await exchange(
    s.port,
    "GET /cgi-bin/killed.sh HTTP/1.1\r\nHost: t\r\n\r\n",
  );
  assert.match(killed.text, /^HTTP\/1\.1 200 .*\r\n8\r\npartial\n\r\n$/s);
  assert.equal(killed.closed, true);
  // One that exits non-zero after its answer (a shell script's last test
  // may) wrote what it meant to, as Python and Apache take it: logged only.
  logs.length = 0;
  const dies = await exchange(
    s.port,
    "GET /cgi-bin/dies.sh HTTP/1.1\r\nHost: t\r\n\r\n",
  );
  assert.match(dies.text, /^HTTP\/1\.1 200 .*\r\n6\r\nwhole\n\r\n0\r\n\r\n$/s);
  assert.ok(logs.includes("CGI script '/cgi-bin/dies.sh' exit code 3"));
  const head = await raw(s.port, "/cgi-bin/dies.sh", { method: "HEAD" });
  assert.equal(head.status, 200);
  const empty = await raw(s.port, "/cgi-bin/nocontent-fails.sh");
  assert.equal(empty.status, 204);
  // Nor is a head whose script is killed after it cut off.
  const killedHead = await raw(s.port, "/cgi-bin/killed.sh", {
    method: "HEAD",
  });
  assert.equal(killedHead.status, 200);
});

Deno.test("CGI scripts past cgiTimeout are killed and answered 504", async () => {
  class Quick extends Handler {
    override cgiTimeout = 1;
  }
  await using s = startServer(Quick);
  const started = Date.now();
  const response = await raw(s.port, "/cgi-bin/hang.sh");
  assert.equal(response.statusLine, "HTTP/1.1 504 CGI script timed out");
  assert.ok(Date.now() - started < 5000); // the script would sleep 30 s
  const [pid] = await readPids(`${cgiBin}/hang.pid`);
  assert.deepEqual(await awaitGone([pid], 3000), []);
  // One that ignores SIGTERM, and its child, get SIGKILL after the grace.
  const stubborn = await raw(s.port, "/cgi-bin/stubborn.sh", {
    quietMs: 5000,
  });
  assert.equal(stubborn.status, 504);
  const pids = await readPids(`${cgiBin}/stubborn.pid`);
  assert.deepEqual(await awaitGone(pids, 3000), []);
  // Once the response has begun, it is cut off: no last chunk, a close.
  const { text, closed } = await exchange(
    s.port,
    "GET /cgi-bin/partial.sh HTTP/1.1\r\nHost: t\r\n\r\n",
    { quietMs: 5000 },
  );
  assert.match(text, /^HTTP\/1\.1 200 .*\r\n8\r\npartial\n\r\n$/s);
  assert.equal(closed, true);
  // One that closed its output before the limit wrote all it meant to: the
  // answer is whole, though the script is killed at the limit.
  const linger = await exchange(
    s.port,
    "GET /cgi-bin/linger.sh HTTP/1.1\r\nHost: t\r\n\r\n",
    { quietMs: 5000 },
  );
  assert.match(linger.text, /\r\n6\r\nwhole\n\r\n0\r\n\r\n$/s);
});

Deno.test("CGI scripts stop when the client goes away", async () => {
  await using s = startServer(Handler);
  await Deno.remove(`${cgiBin}/stream.pid`).catch(() => {});
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  await writeAll(
    conn,
    encoder.encode("GET /cgi-bin/stream.sh HTTP/1.1\r\nHost: t\r\n\r\n"),
  );
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes("tick")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  conn.close();
  assert.match(text, /tick/);
  const [pid] = await readPids(`${cgiBin}/stream.pid`);
  assert.deepEqual(await awaitGone([pid], 4000), []);
});

Deno.test("CGI paths cannot climb out of the CGI directories", async () => {
  await using s = startServer(Handler);
  const cases: [string, number, string?][] = [
    // Collapsed out of cgi-bin: a plain file, served as such, never run.
    ["/cgi-bin/../secret.sh", 200, "#!/bin/sh\ntouch secret.ran"],
    ["/cgi-bin/%2e%2e/secret.sh", 200, "#!/bin/sh\ntouch secret.ran"],
    ["/cgi-bin/%2E%2E%2fsecret.sh", 200, "#!/bin/sh\ntouch secret.ran"],
    ["/cgi-bin/x/../../static.txt", 200, "static file\n"],
    ["/cgi-bin/x/../../y", 404],
    ["/cgi-bin/../../../etc/passwd", 404],
    ["/cgi-bin/%2e%2e/%2e%2e/etc/passwd", 404],
    // A script's source is never served, however the path is spelled.
    ["/../cgi-bin/env.sh", 404],
    ["/cgi-bin/..%2f..%2fcgi-bin/env.sh", 404],
    ["/cgi-bin", 404],
    ["/cgi-bin#/env.sh", 404],
    // Not a script: missing, a directory, not executable, linked outside.
    ["/cgi-bin/missing.sh", 404, "No such CGI script ('/cgi-bin/missing.sh')"],
    ["/cgi-bin/dir", 403, "CGI script is not a plain file ('/cgi-bin/dir')"],
    ["/cgi-bin/", 403, "CGI script is not a plain file ('/cgi-bin/')"],
    [
      "/cgi-bin/noexec.sh",
      403,
      "CGI script is not executable ('/cgi-bin/noexec.sh')",
    ],
    [
      "/cgi-bin/noexec.py",
      403,
      "CGI script is not executable ('/cgi-bin/noexec.py')",
    ],
    ["/cgi-bin/linked.sh", 404],
    // Linked out of the CGI directories within the root: a file that is
    // served as source elsewhere is never run.
    ["/cgi-bin/plainlink/run.sh", 404],
    ["/cgi-bin/runlink.sh", 404],
    ["/cgi-bin/.hidden.sh", 404],
    ["/cgi-bin/env.sh%00", 404],
  ];
  for (const [target, status, text] of cases) {
    const response = await raw(s.port, target);
    assert.equal(response.status, status, target);
    if (text !== undefined) assert.ok(response.body.includes(text), target);
  }
  await assert.rejects(Deno.stat(`${root}/secret.ran`));
  await assert.rejects(Deno.stat(`${root}/plain/plain.ran`));
  await assert.rejects(Deno.stat(`${tmp}/outside/evil.ran`));
});

Deno.test("CGI serves other paths as static files, and POST only to scripts", async () => {
  await using s = startServer(Handler);
  const file = await raw(s.port, "/secret.sh");
  assert.equal(file.status, 200);
  assert.ok(file.body.startsWith("#!/bin/sh\n"));
  await assert.rejects(Deno.stat(`${root}/secret.ran`));
  const post = await raw(s.port, "/static.txt", { method: "POST", body: "x" });
  assert.equal(post.statusLine, "HTTP/1.1 501 Can only POST to CGI scripts");
  const put = await raw(s.port, "/cgi-bin/env.sh", { method: "PUT" });
  assert.equal(put.status, 501);
});

Deno.test("CGI finds scripts in nested directories, in /htbin, and by absolute-form targets", async () => {
  await using s = startServer(Handler);
  const deep = await raw(s.port, "/cgi-bin/sub/deep.sh/extra/path");
  assert.equal(
    deep.body,
    `script=/cgi-bin/sub/deep.sh info=/extra/path translated=${root}/extra/path pwd=${cgiBin}/sub\n`,
  );
  const htbin = await raw(s.port, "/htbin/h.sh");
  assert.equal(htbin.body, "htbin\n");
  const absolute = await raw(s.port, "http://t/cgi-bin/./args.sh?abs");
  assert.equal(absolute.body, "query=abs method=GET\narg=abs\n");
});

Deno.test("CGI runs a Deno script", async () => {
  await using s = startServer(Handler);
  const response = await fetch(
    `http://127.0.0.1:${s.port}/cgi-bin/form.ts?name=deno`,
    { method: "POST", body: "a=1" },
  );
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(await response.json(), {
    method: "POST",
    query: "name=deno",
    body: "a=1",
  });
});

Deno.test({
  name: "CGI runs a Python script through python3",
  ignore: !hasPython,
  async fn() {
    await using s = startServer(Handler);
    const response = await raw(s.port, "/cgi-bin/hello.py?x=1", {
      method: "POST",
      body: "from python",
    });
    assert.equal(response.status, 200);
    assert.equal(response.body, "POST x=1 from python\n");
  },
});
