// Copyright 2026 the basehttp authors. MIT license.
// Fetch interop both ways: a Hono app on HTTPServer, a handler class under
// Deno.serve, each compared with its native server.
import assert from "node:assert/strict";
import { Hono } from "npm:hono@4.6.14";
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";
import { fetchHandler, toFetchHandler } from "../fetch.ts";
import { serveTest, testClient } from "../testing.ts";
import { memoryConnPair } from "../_memory_conn.ts";
import { delay, readAll, within } from "./_util.ts";

function honoApp(): Hono {
  const app = new Hono();
  app.get("/", (c) => c.text("hello"));
  app.get(
    "/json/:id",
    (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") }),
  );
  app.post("/echo", async (c) => c.json({ got: await c.req.json() }, 201));
  app.get("/fields", (c) => {
    c.header("X-Custom", "yes");
    c.header("Set-Cookie", "a=1");
    c.header("Set-Cookie", "b=2", { append: true });
    return c.text(c.req.header("x-in") ?? "none");
  });
  app.get("/redirect", (c) => c.redirect("/"));
  app.all("/method", (c) => c.text(c.req.method));
  return app;
}

class Native extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
  override logMessage(): void {}

  async do_GET(): Promise<void> {
    if (this.path === "/missing") return await this.sendError(404);
    const body = `path=${this.path} in=${this.headers.get("x-in")}`;
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/plain");
    this.sendHeader("X-Custom", "yes");
    await this.endHeaders(); // chunked
    await this.wfile.write(body);
  }

  do_HEAD(): Promise<void> {
    return this.do_GET();
  }

  async do_POST(): Promise<void> {
    const text = await this.rfile.text();
    this.sendResponse(201, "Made");
    this.sendHeader("Content-Length", String(text.length));
    await this.endHeaders();
    await this.wfile.write(text);
  }
}

const IGNORED = new Set([
  "date",
  "server",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
]);

async function summary(response: Response) {
  const fields = [...response.headers]
    .filter(([name]) => !IGNORED.has(name.toLowerCase()))
    .map(([name, value]) => [name.toLowerCase(), value]);
  return {
    status: response.status,
    body: new Uint8Array(await response.arrayBuffer()),
    fields,
  };
}

const REQUESTS: [string, RequestInit][] = [
  ["/", {}],
  ["/json/7?q=x", {}],
  ["/echo", { method: "POST", body: '{"a":[1,2]}' }],
  ["/fields", { headers: { "X-In": "value" } }],
  ["/redirect", { redirect: "manual" }],
  ["/method", { method: "SPAM" }],
  ["/method", { method: "HEAD" }],
  ["/nowhere", {}],
  ["/missing", {}],
  ["/path?q", { method: "POST", body: "abc" }],
];

async function compare(a: string, b: string) {
  for (const [path, init] of REQUESTS) {
    const headers = new Headers(init.headers);
    headers.set("Accept-Encoding", "identity");
    const [x, y] = await Promise.all(
      [a, b].map((base) => fetch(base + path, { ...init, headers })),
    );
    assert.deepEqual(await summary(x), await summary(y), `${path}`);
  }
}

Deno.test("a Hono app answers on HTTPServer as under Deno.serve", async () => {
  const app = honoApp();
  await using ours = serveTest(fetchHandler(app.fetch));
  await using native = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    app.fetch,
  );
  await compare(ours.url, `http://127.0.0.1:${native.addr.port}`);
  assert.ok(
    ours.log.some((line) => line.includes('"SPAM /method HTTP/1.1" 200')),
  );
});

Deno.test("a handler class answers under Deno.serve as on HTTPServer", async () => {
  await using ours = serveTest(Native);
  await using native = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler(Native),
  );
  await compare(ours.url, `http://127.0.0.1:${native.addr.port}`);
});

Deno.test("fetchHandler: any method but CONNECT, TRACE and TRACK; a GET body is dropped", async () => {
  let seen: [string, boolean, string][] = [];
  const app = async (request: Request) => {
    seen.push([request.method, request.body !== null, await request.text()]);
    return new Response(request.method);
  };
  await using client = testClient(fetchHandler(app));
  const spam = await client.request("SPAM", "/", { body: "eggs" });
  assert.equal(spam.text(), "SPAM");
  const get = await client.request("GET", "/", { body: "ignored" });
  assert.equal(get.status, 200);
  // new Request makes "get" GET, which has no body: not a 500.
  const lower = await client.request("get", "/", { body: "ignored" });
  assert.equal(lower.text(), "GET");
  for (const method of ["TRACE", "TRACK"]) {
    assert.equal((await client.request(method, "/")).status, 501);
  }
  const connect = await client.raw(
    "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
  );
  assert.equal(connect.responses[0].status, 501);
  assert.deepEqual(seen, [
    ["SPAM", true, "eggs"],
    ["GET", false, ""],
    ["GET", false, ""],
  ]);
  seen = [];
});

Deno.test("fetchHandler: maxBodySize binds request.json(); request.body streams past it", async () => {
  const app = async (request: Request) => {
    if (request.url.endsWith("/json")) {
      return Response.json(await request.json());
    }
    let n = 0;
    for await (const chunk of request.body!) n += chunk.length;
    return new Response(String(n));
  };
  await using client = testClient(fetchHandler(app), {
    limits: { maxBodySize: 100 },
  });
  const small = await client.request("POST", "/json", { body: '{"a":1}' });
  assert.deepEqual(small.json(), { a: 1 });
  const big = await client.request("POST", "/json", {
    body: JSON.stringify({ a: "x".repeat(200) }),
  });
  assert.equal(big.status, 413);
  const streamed = await client.request("POST", "/stream", {
    body: new Uint8Array(1000),
  });
  assert.equal(streamed.text(), "1000");
});

Deno.test("fetchHandler: maxBodySize binds a clone's whole reads, and the original's after a clone", async () => {
  // Middleware reads a clone (Hono's method-override, a validator), then
  // the app the original: neither may hold more than the limit.
  const app = async (request: Request) => {
    const path = new URL(request.url).pathname;
    if (path === "/clone") return new Response(await request.clone().text());
    if (path === "/clone-json") {
      return Response.json(await request.clone().clone().json());
    }
    const copy = request.clone();
    return new Response(`${await request.text()} ${await copy.text()}`);
  };
  await using client = testClient(fetchHandler(app), {
    limits: { maxBodySize: 100 },
  });
  const body = "x".repeat(1000);
  for (const path of ["/clone", "/clone-json", "/both"]) {
    const big = await client.request("POST", path, { body });
    assert.equal(big.status, 413, path);
  }
  assert.equal(
    (await client.request("POST", "/clone", { body: "ok" })).text(),
    "ok",
  );
  assert.deepEqual(
    (await client.request("POST", "/clone-json", { body: "[1]" })).json(),
    [1],
  );
  assert.equal(
    (await client.request("POST", "/both", { body: "ab" })).text(),
    "ab ab",
  );
});

Deno.test("fetchHandler: request.signal is the handler's signal: it aborts when the client goes", async () => {
  const aborted = Promise.withResolvers<unknown>();
  // An app that waits for something slow, and stops when the client goes.
  const app = (request: Request) =>
    new Promise<Response>((_, reject) => {
      request.signal.addEventListener("abort", () => {
        aborted.resolve(request.signal.reason);
        reject(request.signal.reason);
      });
    });
  await using server = serveTest(fetchHandler(app));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
  );
  await delay(50);
  const closedAt = Date.now();
  conn.close();
  const reason = await aborted.promise;
  assert.ok(reason instanceof DOMException && reason.name === "AbortError");
  assert.ok(Date.now() - closedAt < 100);
});

Deno.test("toFetchHandler: clientAddress from info, lower-case headers, 1xx dropped", async () => {
  class Inspect extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_POST(): Promise<void> {
      const body = await this.rfile.text();
      this.sendResponse(200);
      this.sendHeader("Content-Type", "application/json");
      await this.endHeaders();
      await this.wfile.write(JSON.stringify({
        address: this.clientAddress,
        names: [...this.headers].map(([name]) => name),
        version: this.requestVersion,
        body,
      }));
    }
  }
  const handler = toFetchHandler(Inspect);
  const response = await handler(
    new Request("http://example.test/x", {
      method: "POST",
      headers: { "X-Mixed-Case": "1", "Expect": "100-continue" },
      body: "data",
    }),
    {
      remoteAddr: { transport: "tcp", hostname: "192.0.2.1", port: 1234 },
      completed: Promise.resolve(),
    },
  );
  assert.equal(response.status, 200);
  const seen = await response.json();
  assert.deepEqual(seen.address, ["192.0.2.1", 1234]);
  assert.ok(seen.names.includes("x-mixed-case"));
  assert.equal(seen.version, "HTTP/1.1");
  assert.equal(seen.body, "data");
});

Deno.test("toFetchHandler: under Deno.serve on a Unix socket, the target is the path and the client is unix:", async () => {
  class Where extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      const body = JSON.stringify([this.path, this.clientAddress]);
      this.sendResponse(200);
      this.sendHeader("Content-Length", String(body.length));
      await this.endHeaders();
      await this.wfile.write(body);
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "basehttp_fetch_unix_" });
  const path = `${dir}/s.sock`;
  const served = Deno.serve(
    { path, transport: "unix", onListen() {} },
    toFetchHandler(Where),
  );
  try {
    for (
      const [request, target] of [
        [
          "GET /x?y=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
          "/x?y=1",
        ],
        ["GET /a? HTTP/1.0\r\n\r\n", "/a?"],
      ]
    ) {
      const conn = await Deno.connect({ transport: "unix", path });
      await conn.write(new TextEncoder().encode(request));
      let text = "";
      const buf = new Uint8Array(4096);
      for (let n; (n = await conn.read(buf)) !== null;) {
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      assert.match(text, /^HTTP\/1\.[01] 200 /, text);
      assert.deepEqual(JSON.parse(text.split("\r\n\r\n")[1]), [target, [
        "unix:",
        0,
      ]]);
    }
  } finally {
    await served.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("toFetchHandler: bytes written before the head give a 500 and a logged TypeError, for the same client", async () => {
  let seen: unknown;
  class Raw extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      seen = this.clientAddress;
      await this.wfile.write("not a response\r\n\r\n");
    }
  }
  const log: string[] = [];
  const handler = toFetchHandler(Raw, { logSink: (line) => log.push(line) });
  const response = await handler(new Request("http://localhost/"));
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.ok(log.some((line) => line.startsWith("TypeError")), log.join("\n"));
  // Without info, the handler and the error report name the same client.
  assert.deepEqual(seen, ["127.0.0.1", 50000]);
  assert.ok(log.some((line) => line.includes("50000")), log.join("\n"));
});

Deno.test("the first response bytes arrive before the handler writes its last, both ways", async () => {
  const release = Promise.withResolvers<void>();
  class Slow extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      this.sendResponse(200);
      await this.endHeaders();
      await this.wfile.write("first");
      await this.wfile.flush();
      await release.promise;
      await this.wfile.write("last");
    }
  }
  const response = await toFetchHandler(Slow)(new Request("http://h/"));
  const reader = response.body!.getReader();
  const first = await within(reader.read(), 5000);
  assert.equal(new TextDecoder().decode(first?.value), "first");
  release.resolve();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "last");
  assert.equal((await reader.read()).done, true);

  const gate = Promise.withResolvers<void>();
  const app = () =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("early"));
          await gate.promise;
          controller.enqueue(new TextEncoder().encode("late"));
          controller.close();
        },
      }),
    );
  await using server = serveTest(fetchHandler(app));
  const streamed = await fetch(server.url);
  const body = streamed.body!.getReader();
  const early = await within(body.read(), 5000);
  assert.equal(new TextDecoder().decode(early?.value), "early");
  gate.resolve();
  assert.equal(new TextDecoder().decode((await body.read()).value), "late");
  assert.equal((await body.read()).done, true);
});

Deno.test("1 GiB streams up and down both ways in flat memory", async () => {
  // In a process of its own that collects garbage as it samples its RSS:
  // what is measured is what the server holds, not when V8 collects.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-net=127.0.0.1",
      new URL("./fixtures/fetch_streams.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  });
  const { code, stdout } = await child.output();
  assert.equal(code, 0);
  const growth: Record<string, number> = JSON.parse(
    new TextDecoder().decode(stdout),
  );
  assert.equal(Object.keys(growth).length, 4);
  for (const [what, mib] of Object.entries(growth)) {
    assert.ok(mib < 64, `${what}: RSS grew by ${mib.toFixed(1)} MiB`);
  }
});

Deno.test("toFetchHandler: a request body that errors mid-upload cuts the body; nothing is left unhandled", async () => {
  class Upload extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_POST(): Promise<void> {
      const status = await this.rfile.bytes().then(() => 200, () => 400);
      this.sendResponse(status);
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  // As Deno.serve gives a request whose client left in the middle.
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) return controller.error(new Error("reset by the client"));
      sent = true;
      controller.enqueue(new Uint8Array(10));
    },
  });
  const response = await toFetchHandler(Upload)(
    new Request("http://h/up", {
      method: "POST",
      body,
      // @ts-ignore: a streamed body needs duplex, missing from Deno's types
      duplex: "half",
    }),
  );
  assert.equal(response.status, 400);
  await response.body?.cancel();
  await delay(50); // an unhandled rejection would fail the test here
});

Deno.test("serveTest: ServerClass makes this.server the application's own server", async () => {
  class Counting extends HTTPServer {
    hits = 0;
  }
  class Count extends BaseHTTPRequestHandler {
    declare server: Counting;
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      this.server.hits++;
      this.sendResponse(204);
      await this.endHeaders();
    }
  }
  await using server = serveTest(Count, { ServerClass: Counting });
  assert.equal((await server.fetch("/")).status, 204);
  assert.ok(server.httpd instanceof Counting);
  assert.equal(server.httpd.hits, 1);
});

Deno.test("fetchHandler: a response stream still waiting is cancelled when the client goes", async () => {
  const cancelled = Promise.withResolvers<unknown>();
  // An event stream: one event, the next not yet due.
  const app = () =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
        },
        pull: () => new Promise(() => {}),
        cancel: (reason) => cancelled.resolve(reason),
      }),
      { headers: { "Content-Type": "text/event-stream" } },
    );
  await using server = serveTest(fetchHandler(app));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
  );
  assert.ok((await conn.read(new Uint8Array(4096)))! > 0);
  conn.close();
  const reason = await within(cancelled.promise, 2000);
  assert.ok(reason !== null, "the stream was not cancelled");
  assert.ok(reason instanceof DOMException && reason.name === "AbortError");
});

Deno.test("toFetchHandler: the handler's signal aborts when the request's does, before any response", async () => {
  const aborted = Promise.withResolvers<void>();
  class Wait extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      await new Promise<void>((resolve) =>
        this.signal.addEventListener("abort", () => resolve())
      );
      aborted.resolve();
    }
  }
  const log: string[] = [];
  const controller = new AbortController();
  const response = toFetchHandler(Wait, { logSink: (line) => log.push(line) })(
    new Request("http://h/", { signal: controller.signal }),
  );
  await delay(20);
  controller.abort(); // as Deno.serve does when its client leaves
  assert.notEqual(await within(aborted.promise, 1000), null);
  await (await response).body?.cancel();
  assert.deepEqual(log, []); // the client left: nothing to report
});

Deno.test("toFetchHandler: a status a Response cannot carry gives a 500 and a logged TypeError", async () => {
  let finished = false;
  class Odd extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      this.sendResponse(600, "Custom"); // Python's range: 100 to 999
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
    override async finish(): Promise<void> {
      await super.finish();
      finished = true;
    }
  }
  const log: string[] = [];
  const handler = toFetchHandler(Odd, { logSink: (line) => log.push(line) });
  const response = await handler(new Request("http://h/"));
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.ok(log.some((line) => line.includes("600")), log.join("\n"));
  await delay(50);
  assert.ok(finished, "the handler was left waiting for its next request");
});

Deno.test("toFetchHandler: request fields go to the handler byte for byte, as Latin-1", async () => {
  class Show extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      const value = this.headers.get("x-name") ?? "";
      this.sendResponse(200);
      this.sendHeader(
        "X-Code-Units",
        [...value].map((c) => c.charCodeAt(0)).join(","),
      );
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  // As Deno.serve gives the byte 0xE9: the ByteString "café".
  const response = await toFetchHandler(Show)(
    new Request("http://h/", { headers: { "X-Name": "caf\u00e9" } }),
  );
  assert.equal(response.headers.get("x-code-units"), "99,97,102,233");
});

Deno.test("fetchHandler: Cookie lines reach the app as one, joined by '; '", async () => {
  const app = (request: Request) => new Response(request.headers.get("cookie"));
  await using client = testClient(fetchHandler(app));
  const { responses } = await client.raw(
    "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
  );
  assert.equal(new TextDecoder().decode(responses[0].body), "a=1; b=2");
});

Deno.test("fetchHandler: a body read whole is used up, and a clone reads it too, as under Deno.serve", async () => {
  const app = async (request: Request) => {
    const url = new URL(request.url);
    if (url.pathname === "/clone") {
      const copy = await request.clone().text();
      return Response.json([copy, await request.text()]);
    }
    const first = await request.text();
    const used = request.bodyUsed;
    const second = await request.text().catch((error) => error.name);
    return Response.json([first, used, second]);
  };
  await using client = testClient(fetchHandler(app));
  const clone = await client.request("POST", "/clone", { body: "payload" });
  assert.deepEqual(clone.json(), ["payload", "payload"]);
  const twice = await client.request("POST", "/twice", { body: "payload" });
  assert.deepEqual(twice.json(), ["payload", true, "TypeError"]);
});

Deno.test("fetchHandler: an app's 101 (Deno.upgradeWebSocket needs Deno.serve) is a 500 and a logged TypeError", async () => {
  const log: string[] = [];
  const app = () => new Response(null, { status: 101 });
  await using client = testClient(fetchHandler(app), {
    logSink: (line) => log.push(line),
  });
  const response = await client.request("GET", "/");
  assert.equal(response.status, 500);
  assert.ok(log.some((line) => line.includes("TypeError")), log.join("\n"));
});

Deno.test("fetchHandler: an app that streams the request body back gets its 100 Continue before the head", async () => {
  const app = (request: Request) => new Response(request.body);
  await using client = testClient(fetchHandler(app));
  const { responses, closed } = await client.raw(
    "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n" +
      "Content-Length: 5\r\n\r\nhello",
  );
  assert.deepEqual(responses.map((r) => r.status), [100, 200]);
  assert.equal(new TextDecoder().decode(responses[1].body), "hello");
  assert.equal(closed, false);
});

Deno.test("toFetchHandler: the target keeps a bare '?', as on the wire", async () => {
  class Path extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      this.sendResponse(200);
      this.sendHeader("X-Path", this.path);
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  const handler = toFetchHandler(Path);
  for (
    const [url, path] of [
      ["http://h/x?", "/x?"],
      ["http://h/x?a=1#f", "/x?a=1"],
      // A user and password are never part of the target (RFC 9110 §4.2.4).
      ["http://user:pw@h/there?q=1", "/there?q=1"],
      ["http://u@h:8080/x", "/x"],
    ]
  ) {
    const response = await handler(new Request(url));
    assert.equal(response.headers.get("x-path"), path, url);
  }
});

Deno.test("fetchHandler: a response with no body says Content-Length: 0, as under Deno.serve", async () => {
  const app = (request: Request) =>
    new Response(null, {
      status: Number(new URL(request.url).pathname.slice(1)),
    });
  await using client = testClient(fetchHandler(app));
  for (
    const [status, length] of [[200, "0"], [205, "0"], [204, null], [
      304,
      null,
    ]] as const
  ) {
    const response = await client.request("GET", `/${status}`);
    assert.equal(response.status, status);
    assert.equal(
      response.headers.get("content-length"),
      length,
      String(status),
    );
    assert.equal(
      response.headers.get("transfer-encoding"),
      null,
      String(status),
    );
  }
});

Deno.test("fetchHandler: a request with no Host gets the server's own port in request.url", async () => {
  const app = (request: Request) => new Response(request.url);
  await using server = serveTest(fetchHandler(app));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(new TextEncoder().encode("GET /x HTTP/1.0\r\n\r\n"));
  const { text } = await readAll(conn);
  conn.close();
  assert.ok(
    text.endsWith(`\r\n\r\nhttp://localhost:${server.port}/x`),
    text,
  );
});

/** The body a server on `port` answers `METHOD TARGET` with, Host h, raw. */
async function bodyOf(port: number, line: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `${line} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`,
    ),
  );
  const { text } = await readAll(conn);
  conn.close();
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

Deno.test("fetchHandler: OPTIONS * reaches the app as under Deno.serve, not as OPTIONS /", async () => {
  const app = (request: Request) => new Response(request.url);
  await using ours = serveTest(fetchHandler(app));
  await using theirs = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    app,
  );
  const urls: string[] = [];
  for (const port of [ours.port, theirs.addr.port]) {
    for (const target of ["*", "/"]) {
      urls.push(await bodyOf(port, `OPTIONS ${target}`));
    }
  }
  assert.deepEqual(urls, [
    "http://h/*",
    "http://h/",
    "http://h/*",
    "http://h/",
  ]);
});

Deno.test("fetchHandler: a target never names the host of request.url: Host does, as under Deno.serve", async () => {
  const app = (request: Request) => new Response(request.url);
  await using ours = serveTest(fetchHandler(app));
  await using theirs = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    app,
  );
  // The URL parser reads "\" as "/": "/\evil.example" is "//evil.example".
  for (
    const target of [
      "/\\evil.example/x",
      "/\\\\evil.example/x",
      "/\\@evil.example/x",
    ]
  ) {
    const urls: URL[] = [];
    for (const port of [ours.port, theirs.addr.port]) {
      urls.push(new URL(await bodyOf(port, `GET ${target}`)));
    }
    const [mine, deno] = urls;
    assert.equal(mine.host, "h", target);
    assert.equal(mine.pathname, deno.pathname, target);
  }
});

Deno.test("fetchHandler: a body that is whole at once goes with its Content-Length; a stream still coming does not wait", async () => {
  const release = Promise.withResolvers<void>();
  const app = (request: Request) => {
    const path = new URL(request.url).pathname;
    if (path === "/json") return Response.json({ a: 1 });
    if (path === "/text") return new Response("hello");
    // Whole at once however large: a string, bytes, as under Deno.serve.
    if (path === "/large") return new Response("a".repeat(100_000));
    if (path === "/bytes") return new Response(new Uint8Array(200_000));
    return new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
          await release.promise;
          controller.close();
        },
      }),
    );
  };
  await using server = serveTest(fetchHandler(app));
  for (
    const [path, length] of [
      ["/json", "7"],
      ["/text", "5"],
      ["/large", "100000"],
      ["/bytes", "200000"],
    ]
  ) {
    const response = await server.fetch(path);
    assert.equal(response.headers.get("content-length"), length, path);
    assert.equal(response.headers.get("transfer-encoding"), null, path);
  }
  const head = await server.fetch("/text", { method: "HEAD" });
  assert.equal(head.headers.get("content-length"), "5");
  // The event stream's head and first event arrive before it ends.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(
    new TextEncoder().encode("GET /events HTTP/1.1\r\nHost: h\r\n\r\n"),
  );
  const { text } = await readAll(conn, 200); // closes it when quiet
  release.resolve();
  assert.match(text, /transfer-encoding: chunked/i);
  assert.match(text, /data: 1/);
});

Deno.test("fetchHandler: a stream that fails while a slow client reads is no unhandled rejection", async () => {
  // The next chunk is read while the last one waits for the socket: its
  // failure comes before anything awaits it.
  const chunk = new Uint8Array(16000).fill(0x61);
  let pulls = 0;
  const app = () =>
    new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 20));
          if (++pulls > 5) throw new Error("upstream broke");
          controller.enqueue(chunk.slice());
        },
      }, { highWaterMark: 0 }),
    );
  const logged: string[] = [];
  const server = new HTTPServer(["127.0.0.1", 0], fetchHandler(app), {
    bindAndActivate: false,
    logSink: (line) => logged.push(line),
  });
  const [client, conn] = memoryConnPair();
  const served = server.processRequest(conn, ["127.0.0.1", 5000]);
  await client.write(
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
  );
  await new Promise((r) => setTimeout(r, 400)); // the client reads late
  let total = 0;
  const buffer = new Uint8Array(65536);
  for (let n; (n = await client.read(buffer).catch(() => null)) !== null;) {
    total += n;
  }
  await served;
  client.close();
  server.close();
  assert.ok(total > 5 * 16000, `read ${total} bytes`);
  assert.ok(
    logged.some((line) => line.includes("upstream broke")),
    logged.join("\n"),
  );
});

Deno.test("fetchHandler: a Response from fetch() whose gzip body fetch decoded goes out without its Content-Encoding and length, as under Deno.serve", async () => {
  const text = "hello proxied world ".repeat(200);
  const gzip = new Uint8Array(
    await new Response(
      new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")),
    ).arrayBuffer(),
  );
  const odd = new TextEncoder().encode("opaque");
  await using upstream = serveTest(fetchHandler((request) => {
    const coding = new URL(request.url).pathname.slice(1);
    return new Response(coding === "gzip" ? gzip : odd, {
      headers: { "Content-Encoding": coding },
    });
  }));
  await using server = serveTest(
    fetchHandler((request) =>
      fetch(new URL(new URL(request.url).pathname, upstream.url), {
        method: request.method,
      })
    ),
  );
  const proxied = await server.fetch("/gzip");
  assert.equal(proxied.headers.get("content-encoding"), null);
  // Its own length, not the compressed one: it came whole.
  assert.equal(proxied.headers.get("content-length"), String(text.length));
  assert.equal(await proxied.text(), text);
  // A HEAD has no bytes to tell by: taken as its GET would be.
  const head = await server.fetch("/gzip", { method: "HEAD" });
  assert.equal(head.headers.get("content-encoding"), null);
  assert.equal(head.headers.get("content-length"), null);
  // Asked for a range, fetch asks for identity and decodes nothing: the
  // gzip bytes keep their field.
  await using ranged = serveTest(
    fetchHandler(() =>
      fetch(new URL("/gzip", upstream.url), { headers: { Range: "bytes=0-" } })
    ),
  );
  const raw = await ranged.fetch("/", {
    headers: { "Accept-Encoding": "identity" },
  });
  assert.equal(raw.headers.get("content-encoding"), "gzip");
  assert.deepEqual(new Uint8Array(await raw.arrayBuffer()), gzip);
  // A coding fetch does not decode passes as it came.
  const kept = await server.fetch("/x-custom");
  assert.equal(kept.headers.get("content-encoding"), "x-custom");
  assert.equal(await kept.text(), "opaque");
  // An app's own Response with the field is the app's to mean.
  await using own = testClient(
    fetchHandler(() =>
      new Response(gzip, { headers: { "Content-Encoding": "gzip" } })
    ),
  );
  const response = await own.request("GET", "/");
  assert.equal(response.headers.get("content-encoding"), "gzip");
  assert.deepEqual(response.body, gzip);
});

Deno.test("fetchHandler: a body whose length is known goes with that length, whatever Content-Length the app set, as under Deno.serve", async () => {
  const app = (request: Request) => {
    const path = new URL(request.url).pathname;
    const length =
      { "/chars": "4", "/long": "10", "/short": "5", "/bad": "abc" }[
        path
      ];
    const body = path === "/chars"
      ? "café"
      : path === "/short"
      ? "hello world"
      : "hi";
    if (path === "/null") {
      return new Response(null, { headers: { "Content-Length": "5" } });
    }
    return new Response(body, { headers: { "Content-Length": length ?? "" } });
  };
  await using client = testClient(fetchHandler(app));
  const cases: [string, string, string][] = [
    ["/chars", "5", "café"],
    ["/long", "2", "hi"],
    ["/short", "11", "hello world"],
    ["/bad", "2", "hi"],
    ["/null", "0", ""],
  ];
  for (const [path, length, text] of cases) {
    const response = await client.request("GET", path);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-length"), length, path);
    assert.equal(response.text(), text, path);
  }
  // A HEAD's Content-Length with no body is the app's, as it says the GET's.
  await using head = testClient(
    fetchHandler(() =>
      new Response(null, { headers: { "Content-Length": "5" } })
    ),
  );
  const answer = await head.request("HEAD", "/");
  assert.equal(answer.headers.get("content-length"), "5");
  // Nor with an empty body: a HEAD's length is the GET's.
  await using empty = testClient(
    fetchHandler(() =>
      new Response("", { headers: { "Content-Length": "1234" } })
    ),
  );
  const headOfEmpty = await empty.request("HEAD", "/");
  assert.equal(headOfEmpty.headers.get("content-length"), "1234");
});

Deno.test("fetchHandler: a response stream's chunk that is not a Uint8Array is a TypeError, as under Deno.serve", async () => {
  const chunks: Record<string, unknown> = {
    "/u16": new Uint16Array([0x4141, 0x4242]),
    "/buffer": new ArrayBuffer(4),
    "/object": { length: 3 },
    "/string": "text",
  };
  const logged: string[] = [];
  const app = (request: Request) =>
    new Response(
      new ReadableStream({
        start(controller) {
          // Not what the stream type allows: what an untyped app may do.
          controller.enqueue(
            chunks[new URL(request.url).pathname] as Uint8Array,
          );
          controller.close();
        },
      }),
    );
  await using client = testClient(fetchHandler(app), {
    logSink: (line) => logged.push(line),
  });
  for (const path of Object.keys(chunks)) {
    const response = await client.request("GET", path);
    assert.equal(response.status, 500, path);
  }
  assert.equal(
    logged.filter((line) => /Uint8Array/.test(line)).length,
    Object.keys(chunks).length,
    logged.join("\n"),
  );
});

Deno.test("fetchHandler: a POST with no body has an empty stream for its body, as under Deno.serve; a GET's is null", async () => {
  const seen: [string, boolean, string][] = [];
  const app = async (request: Request) => {
    const hasBody = request.body !== null;
    seen.push([request.method, hasBody, hasBody ? await request.text() : ""]);
    return new Response("ok");
  };
  await using client = testClient(fetchHandler(app));
  await client.request("POST", "/", { headers: { "Content-Length": "0" } });
  await client.raw("POST / HTTP/1.1\r\nHost: h\r\n\r\n");
  await client.request("PUT", "/", { body: "x" });
  await client.request("GET", "/");
  assert.deepEqual(seen, [
    ["POST", true, ""],
    ["POST", true, ""],
    ["PUT", true, "x"],
    ["GET", false, ""],
  ]);
});
