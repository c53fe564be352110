// Copyright 2026 the basehttp authors. MIT license.
// The testing module, run with no permission at all (see deno.json).
import assert from "node:assert/strict";
import { BaseHTTPRequestHandler, HTTPMessage, HTTPServer } from "../mod.ts";
import { testClient, TestResponse } from "../testing.ts";
import { within } from "./_util.ts";

class App extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";

  async do_GET(): Promise<void> {
    if (this.path === "/boom") throw new Error("boom");
    const body = `hello ${this.path}`;
    this.sendResponse(200);
    this.sendHeader("X-First", "1");
    this.sendHeader("content-type", "text/plain");
    this.sendHeader("X-Multi", "a");
    this.sendHeader("X-Multi", "b");
    this.sendHeader("Content-Length", String(body.length));
    await this.endHeaders();
    await this.wfile.write(body);
  }

  do_HEAD(): Promise<void> {
    return this.do_GET();
  }

  async do_POST(): Promise<void> {
    const text = await this.rfile.text();
    this.sendResponse(201);
    this.sendHeader("Content-Type", "application/json");
    await this.endHeaders(); // no length: chunked by the engine
    await this.wfile.write(
      JSON.stringify({ text, chunked: this.rfile.chunked }),
    );
  }
}

Deno.test("testClient: status, reason, fields in wire order and case, body", async () => {
  await using client = testClient(App);
  const response = await client.request("GET", "/a");
  assert.equal(response.status, 200);
  assert.equal(response.reason, "OK");
  assert.equal(response.version, "HTTP/1.1");
  assert.deepEqual([...response.headers].map(([name]) => name), [
    "Server",
    "Date",
    "X-First",
    "content-type",
    "X-Multi",
    "X-Multi",
    "Content-Length",
    "Keep-Alive",
  ]);
  assert.equal(response.headers.get("CONTENT-TYPE"), "text/plain");
  assert.deepEqual(response.headers.getAll("x-multi"), ["a", "b"]);
  assert.equal(response.text(), "hello /a");
  const raw = new TextDecoder().decode(response.raw);
  assert.ok(raw.startsWith("HTTP/1.1 200 OK\r\nServer: "));
  assert.ok(raw.endsWith("\r\n\r\nhello /a"));
});

Deno.test("TestResponse: console.log shows the body and raw bytes as text, binary as bytes", async () => {
  await using client = testClient(App);
  const shown = Deno.inspect(await client.request("GET", "/a"));
  assert.match(shown, /^TestResponse \{/);
  assert.match(shown, /status: 200,/);
  assert.match(shown, /headers: HTTPMessage\(8\) \[/);
  assert.match(shown, /body: "hello \/a",/);
  assert.match(shown, /raw: "HTTP\/1\.1 200 OK\\r\\n" \+\s+"Server: /);
  const binary = new TestResponse({
    version: "HTTP/1.1",
    status: 200,
    reason: "OK",
    headers: new HTTPMessage(),
    body: new Uint8Array([0x89, 0x50, 0x4e, 0x47]), // not UTF-8
    raw: new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n\x00\x01"),
  });
  assert.match(
    Deno.inspect(binary),
    /body: Uint8Array\(4\) \[ 137, 80, 78, 71 \]/,
  );
  assert.match(Deno.inspect(binary), /raw: Uint8Array\(21\) \[/);
});

Deno.test("testClient: consecutive requests share a kept-alive connection", async () => {
  await using client = testClient(App);
  for (const path of ["/1", "/2", "/3"]) {
    assert.equal((await client.request("GET", path)).text(), `hello ${path}`);
  }
  assert.equal(client.connections, 1);
  await client.request("GET", "/4", { headers: [["Connection", "close"]] });
  await client.request("GET", "/5");
  assert.equal(client.connections, 2);
});

Deno.test("testClient: raw bytes, pipelined, split by framing, HEAD and chunked", async () => {
  await using client = testClient(App);
  const { responses, closed } = await client.raw(
    "GET /x HTTP/1.1\r\nHost: h\r\n\r\n" +
      "HEAD /y HTTP/1.1\r\nHost: h\r\n\r\n" +
      "POST /z HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
      "GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(responses.map((r) => r.status), [200, 200, 201, 200]);
  assert.equal(responses[1].headers.get("content-length"), "8");
  assert.equal(responses[1].body.length, 0);
  assert.equal(responses[2].headers.get("transfer-encoding"), "chunked");
  assert.deepEqual(responses[2].json(), { text: "abc", chunked: false });
  assert.equal(responses[3].text(), "hello /last");
  assert.equal(closed, true);
  const total = responses.reduce((n, r) => n + r.raw.length, 0);
  assert.ok(total > 0);
});

Deno.test("testClient: a handler reads a chunked body; 100 Continue is an entry of its own", async () => {
  await using client = testClient(App);
  const { responses } = await client.raw(
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n" +
      "Expect: 100-continue\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
  );
  assert.deepEqual(responses.map((r) => r.status), [100, 201]);
  assert.equal(
    new TextDecoder().decode(responses[0].raw),
    "HTTP/1.1 100 Continue\r\n\r\n",
  );
  assert.deepEqual(responses[1].json(), { text: "abcde", chunked: true });
  const final = await client.request("POST", "/", {
    headers: { "Transfer-Encoding": "chunked" },
    body: "1\r\nq\r\n0\r\n\r\n",
  });
  assert.deepEqual(final.json(), { text: "q", chunked: true });
});

Deno.test("testClient: raw() of a head that expects 100-continue returns at the 100; the body follows in the next raw()", async () => {
  await using client = testClient(App); // bodyTimeout: 20 s
  const head = await within(
    client.raw(
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n" +
        "Expect: 100-continue\r\n\r\n",
    ),
    2000,
  );
  assert.ok(head !== null, "raw() waited for the body the 100 invited");
  assert.deepEqual(head.responses.map((r) => r.status), [100]);
  assert.equal(head.closed, false);
  const { responses } = await client.raw("hello");
  assert.deepEqual(responses.map((r) => r.status), [201]);
  assert.deepEqual(responses[0].json(), { text: "hello", chunked: false });
});

Deno.test("testClient: malformed requests get their status and a close", async () => {
  await using client = testClient(App);
  const bad = await client.raw(
    "GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n",
  );
  assert.equal(bad.responses.length, 1);
  assert.equal(bad.responses[0].status, 400);
  assert.equal(bad.closed, true);
  const smuggle = await client.raw(
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  );
  assert.equal(smuggle.responses[0].status, 400);
  assert.equal(client.connections, 2);
});

Deno.test("testClient: a throwing handler gets a 500 and the error is in log", async () => {
  await using client = testClient(App);
  const response = await client.request("GET", "/boom");
  assert.equal(response.status, 500);
  assert.ok(client.log.some((line) => line.startsWith("Exception occurred")));
  assert.ok(client.log.some((line) => line.includes("Error: boom")));
  assert.match(client.log.at(-1)!, /"GET \/boom HTTP\/1.1" 500 \d+$/);
  // The server goes on serving.
  assert.equal((await client.request("GET", "/ok")).status, 200);
});

Deno.test("testClient: a response cut short of its Content-Length is reported as such", async () => {
  class Short extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    async do_GET(): Promise<void> {
      this.sendResponse(200);
      this.sendHeader("Content-Length", "10");
      await this.endHeaders();
      await this.wfile.write("hello"); // 5 of 10: the server closes after
    }
  }
  await using client = testClient(Short);
  for (
    const call of [
      () => client.raw("GET / HTTP/1.0\r\n\r\n"),
      () => client.request("GET", "/"),
    ]
  ) {
    await assert.rejects(call(), (error: Error) => {
      assert.match(error.message, /response 1 \(200\) was cut off/);
      assert.doesNotMatch(error.message, /^Request/); // not the request's fault
      return true;
    });
  }
});

Deno.test("testClient: timeouts in fractions of a second", async () => {
  await using client = testClient(App, { headerTimeout: 0.2 });
  const started = Date.now();
  const { responses, closed } = await client.raw("GET / HTTP/1.1\r\nHo");
  const took = Date.now() - started;
  assert.equal(closed, true);
  assert.deepEqual(responses, []);
  assert.ok(took >= 190 && took < 1000, `closed after ${took} ms`);
});

Deno.test("testClient: fetch() gives a web Response; a URL's origin sets Host", async () => {
  class Host extends BaseHTTPRequestHandler {
    async do_GET(): Promise<void> {
      this.sendResponse(200);
      this.sendHeader("Content-Type", "text/plain");
      await this.endHeaders();
      await this.wfile.write(`${this.headers.get("host")} ${this.path}`);
    }
  }
  await using client = testClient(Host);
  const first = await client.fetch("/p?q=1");
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "text/plain");
  assert.equal(await first.text(), "localhost /p?q=1");
  const second = await client.fetch(new URL("http://example.test:8080/u"));
  assert.equal(await second.text(), "example.test:8080 /u");
  const virtual = await client.fetch("/v", { headers: { Host: "vhost.test" } });
  assert.equal(await virtual.text(), "vhost.test /v");
  const third = await client.fetch(
    new Request("http://h/r", { method: "POST", body: "x" }),
  );
  assert.equal(third.status, 501);
  await third.body?.cancel();
});

Deno.test("testClient: clientAddress, ServerClass and the server's options reach the handler", async () => {
  class MyServer extends HTTPServer {
    greeting = "hi";
  }
  let seen: unknown[] = [];
  class Who extends BaseHTTPRequestHandler {
    declare server: MyServer;
    async do_GET(): Promise<void> {
      seen = [this.clientAddress, this.server.greeting, this.server.limits];
      this.sendResponse(204);
      await this.endHeaders();
    }
  }
  await using client = testClient(Who, {
    clientAddress: ["10.1.2.3", 4567],
    ServerClass: MyServer,
    limits: { maxHeaders: 5 },
  });
  assert.equal((await client.request("GET", "/")).status, 204);
  assert.deepEqual(seen[0], ["10.1.2.3", 4567]);
  assert.equal(seen[1], "hi");
  assert.equal((seen[2] as { maxHeaders: number }).maxHeaders, 5);
  assert.match(client.log[0], /^10\.1\.2\.3 - - /);
  const many = Array.from({ length: 6 }, (_, i) => [`X-${i}`, "v"]);
  const refused = await client.request("GET", "/", {
    headers: many as [string, string][],
  });
  assert.equal(refused.status, 431);
});

Deno.test("testClient: tls and reusePort are a TypeError", () => {
  assert.throws(() => testClient(App, { reusePort: true }), TypeError);
  assert.throws(
    () => testClient(App, { tls: { cert: "", key: "" } }),
    TypeError,
  );
});

Deno.test("testClient: a user's logMessage override keeps working", async () => {
  const mine: string[] = [];
  class Logs extends App {
    override logMessage(format: string, ...args: unknown[]): void {
      mine.push(format);
      super.logMessage(format, ...args);
    }
  }
  await using client = testClient(Logs);
  await client.request("GET", "/");
  assert.deepEqual(mine, ['"%s" %s %s']);
  assert.equal(client.log.length, 1);
});

Deno.test("testClient: raw() returns once the connection is handed over (a 101, detach())", async () => {
  class Takes extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ idleTimeout: null });
      socket.onmessage = (event) => socket.send(event.data);
    }
    async do_CONNECT(): Promise<void> {
      this.sendResponse(200, "Connection Established");
      await this.endHeaders();
      const { conn } = await this.detach();
      const buf = new Uint8Array(1024);
      while (await conn.read(buf).catch(() => null) !== null) {
        // A tunnel to nowhere, until the client closes.
      }
      conn.close();
    }
  }
  const upgrade = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n";
  const tunnel =
    "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n";
  for (const [request, status] of [[upgrade, 101], [tunnel, 200]] as const) {
    await using client = testClient(Takes);
    const exchange = await within(client.raw(request), 2000);
    assert.ok(exchange !== null, `raw() of ${status} did not return`);
    assert.deepEqual(exchange.responses.map((r) => r.status), [status]);
    assert.equal(exchange.closed, false);
  }
});

Deno.test("testClient.request() sends fields as Latin-1, as fetch() does; other text is a TypeError", async () => {
  class Show extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      const body = this.headers.get("x-name") ?? "";
      this.sendResponse(200);
      this.sendHeader(
        "Content-Length",
        String(new TextEncoder().encode(body).length),
      );
      await this.endHeaders();
      await this.wfile.write(body);
    }
  }
  await using client = testClient(Show);
  const response = await client.request("GET", "/", {
    headers: { "X-Name": "caf\u00e9" },
  });
  assert.equal(response.text(), "caf\u00e9");
  await assert.rejects(
    client.request("GET", "/", { headers: { "X-Name": "\u65e5\u672c" } }),
    TypeError,
  );
});

Deno.test("testClient: requests started together each get their own response, on connections of their own", async () => {
  await using client = testClient(App);
  const paths = ["/a", "/b", "/c"];
  const responses = await Promise.all(
    paths.map((path) => client.request("GET", path)),
  );
  assert.deepEqual(
    responses.map((r) => r.text()),
    paths.map((p) => `hello ${p}`),
  );
  assert.equal(client.connections, 3);
  // Once they are answered, the next request takes one that is free.
  assert.equal((await client.request("GET", "/d")).text(), "hello /d");
  assert.equal(client.connections, 3);
});

Deno.test("testClient: a request that waits for another one of the same client is answered", async () => {
  const release = Promise.withResolvers<void>();
  class LongPoll extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      await release.promise;
      this.sendResponse(200);
      this.sendHeader("Content-Length", "5");
      await this.endHeaders();
      await this.wfile.write("woken");
    }
    async do_POST(): Promise<void> {
      release.resolve();
      this.sendResponse(204);
      await this.endHeaders();
    }
  }
  await using client = testClient(LongPoll);
  const waiting = client.request("GET", "/wait");
  const notified = await within(client.request("POST", "/notify"), 2000);
  release.resolve(); // unblocks the GET when the POST never reached it
  assert.equal(notified?.status, 204);
  assert.equal((await within(waiting, 2000))?.text(), "woken");
});

Deno.test("testClient: after a 101 the next request goes on a new connection", async () => {
  class Upgrades extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      if (this.path === "/ws") {
        const socket = await this.upgradeWebSocket({ idleTimeout: null });
        socket.onmessage = (event) => socket.send(event.data);
        return;
      }
      this.sendResponse(200);
      this.sendHeader("Content-Length", "2");
      await this.endHeaders();
      await this.wfile.write("ok");
    }
  }
  await using client = testClient(Upgrades);
  const upgraded = await client.request("GET", "/ws", {
    headers: {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version": "13",
    },
  });
  assert.equal(upgraded.status, 101);
  const after = await within(client.request("GET", "/plain"), 2000);
  assert.equal(after?.status, 200);
  assert.equal(after?.text(), "ok");
  assert.equal(client.connections, 2);
});

Deno.test("testClient: fetch() returns at the head, so an event stream can be read as it comes", async () => {
  class Events extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      // Open until the client leaves.
      const stream = await this.eventStream();
      await stream.send({ data: "one" });
    }
  }
  await using client = testClient(Events);
  const response = await within(client.fetch("/events"), 2000);
  assert.ok(response !== null, "fetch() waited for a body that does not end");
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const reader = response.body!.getReader();
  const first = await within(reader.read(), 2000);
  assert.match(new TextDecoder().decode(first?.value), /^data: one\n\n$/);
  await reader.cancel();
});

Deno.test("testClient: fetch() follows redirects as fetch does; redirect: manual shows them", async () => {
  class Moves extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async #answer(status: number, location?: string): Promise<void> {
      const body = `${this.command} ${this.path} ${this.headers.get("host")}`;
      this.sendResponse(status);
      if (location !== undefined) this.sendHeader("Location", location);
      this.sendHeader("Content-Length", String(body.length));
      await this.endHeaders();
      await this.wfile.write(body);
    }
    async do_GET(): Promise<void> {
      if (this.path === "/old") return await this.#answer(301, "/new");
      if (this.path === "/away") {
        return await this.#answer(302, "http://other.test/there");
      }
      if (this.path === "/loop") return await this.#answer(302, "/loop");
      await this.#answer(200);
    }
    async do_POST(): Promise<void> {
      await this.rfile.text();
      if (this.path === "/form") return await this.#answer(303, "/done");
      if (this.path === "/keep") return await this.#answer(307, "/kept");
      await this.#answer(200);
    }
  }
  await using client = testClient(Moves);
  const moved = await client.fetch("/old");
  assert.equal(moved.status, 200);
  assert.equal(moved.redirected, true);
  assert.equal(moved.url, "http://localhost/new");
  assert.equal(await moved.text(), "GET /new localhost");
  const away = await client.fetch("/away");
  assert.equal(away.url, "http://other.test/there");
  assert.equal(await away.text(), "GET /there other.test");
  const seeOther = await client.fetch("/form", { method: "POST", body: "a" });
  assert.equal(await seeOther.text(), "GET /done localhost");
  const kept = await client.fetch("/keep", { method: "POST", body: "a" });
  assert.equal(await kept.text(), "POST /kept localhost");
  const manual = await client.fetch("/old", { redirect: "manual" });
  assert.equal(manual.status, 301);
  assert.equal(manual.headers.get("location"), "/new");
  assert.equal(manual.redirected, false);
  await manual.body?.cancel();
  await assert.rejects(client.fetch("/old", { redirect: "error" }), TypeError);
  await assert.rejects(client.fetch("/loop"), TypeError);
  const plain = await client.fetch("/plain");
  assert.equal(plain.url, "http://localhost/plain");
  assert.equal(plain.redirected, false);
  await plain.body?.cancel();
});

Deno.test("testClient: fetch() of HEAD has a null body; a signal aborts it", async () => {
  const entered = Promise.withResolvers<void>();
  class Slow extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      if (this.path === "/slow") {
        entered.resolve();
        const { signal } = this; // aborts when the client leaves
        await new Promise((resolve) =>
          signal.addEventListener("abort", resolve)
        );
      }
      this.sendResponse(200);
      this.sendHeader("Content-Length", "2");
      await this.endHeaders();
      await this.wfile.write("ok");
    }
    do_HEAD(): Promise<void> {
      return this.do_GET();
    }
  }
  await using client = testClient(Slow);
  const head = await client.fetch("/", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  await assert.rejects(
    client.fetch("/", { signal: AbortSignal.abort() }),
    { name: "AbortError" },
  );
  const controller = new AbortController();
  const slow = client.fetch("/slow", { signal: controller.signal });
  await entered.promise;
  controller.abort();
  await assert.rejects(within(slow, 1000), { name: "AbortError" });
});

Deno.test("testClient: fetch() decodes a gzip, deflate or br body as fetch does, keeping the fields", async () => {
  const text = "hello ".repeat(100);
  class Squeezed extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      const coding = this.path.slice(1);
      const format = coding === "br" ? "brotli" : coding;
      const body = await new Response(
        new Blob([text]).stream().pipeThrough(
          new CompressionStream(format as CompressionFormat),
        ),
      ).bytes();
      this.sendResponse(200);
      this.sendHeader("Content-Encoding", coding);
      this.sendHeader("Content-Length", String(body.length));
      await this.endHeaders();
      await this.wfile.write(body);
    }
  }
  await using client = testClient(Squeezed);
  for (const coding of ["gzip", "deflate", "br"]) {
    const response = await client.fetch(`/${coding}`);
    assert.equal(response.headers.get("content-encoding"), coding);
    assert.equal(await response.text(), text, coding);
  }
});

Deno.test("testClient: after raw() stops at a 100, request() goes elsewhere and the next raw() brings the body", async () => {
  await using client = testClient(App);
  const head = await client.raw(
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n" +
      "Expect: 100-continue\r\n\r\n",
  );
  assert.deepEqual(head.responses.map((r) => r.status), [100]);
  const other = await within(client.request("GET", "/x"), 2000);
  assert.equal(other?.text(), "hello /x");
  const { responses } = await client.raw("hello");
  assert.deepEqual(responses[0].json(), { text: "hello", chunked: false });
  assert.equal(client.connections, 2);
});

Deno.test("testClient: fetch()'s body ends at its framing though the handler runs on; the log has a finished request", async () => {
  const gate = Promise.withResolvers<void>();
  class Lingers extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    async do_GET(): Promise<void> {
      this.sendResponse(200);
      this.sendHeader("Content-Length", "2");
      await this.endHeaders();
      await this.wfile.write("ok");
      if (this.path === "/a") await gate.promise; // until /b comes
      else gate.resolve();
    }
  }
  await using client = testClient(Lingers);
  const a = await client.fetch("/a");
  assert.equal(await within(a.text(), 2000), "ok");
  const b = await within(client.fetch("/b"), 2000);
  assert.equal(await b?.text(), "ok");
  // /b's handler had returned when its body ended: its line is in.
  assert.match(client.log.join("\n"), /"GET \/b HTTP\/1\.1" 200/);
});

Deno.test("testClient: fetch() of an empty gzip body is empty; url has no fragment; clone() keeps url and redirected", async () => {
  class Odd extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      if (this.path === "/old") {
        this.sendResponse(301);
        this.sendHeader("Location", "/new");
      } else {
        this.sendResponse(200);
        this.sendHeader("Content-Encoding", "gzip");
      }
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  await using client = testClient(Odd);
  const empty = await client.fetch("/e#frag");
  assert.equal(await empty.text(), "");
  assert.equal(empty.url, "http://localhost/e");
  const moved = await client.fetch("/old");
  const copy = moved.clone();
  assert.equal(copy.url, "http://localhost/new");
  assert.equal(copy.redirected, true);
  await moved.body?.cancel();
  await copy.body?.cancel();
});

Deno.test("testClient: fetch() streams a stream body chunked, answered before it ends; it is not sent again on a redirect", async () => {
  class Early extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_POST(): Promise<void> {
      const said = `${this.headers.get("transfer-encoding")} ${
        this.headers.get("content-length")
      }`;
      if (this.path === "/keep") {
        this.sendResponse(307);
        this.sendHeader("Location", "/early");
      } else if (this.path === "/ftp") {
        this.sendResponse(302);
        this.sendHeader("Location", "ftp://localhost/x");
      } else {
        this.sendResponse(200);
      }
      this.sendHeader("Content-Length", String(said.length));
      await this.endHeaders();
      await this.wfile.write(said); // the body is never read
    }
    async do_GET(): Promise<void> {
      const cookie = this.headers.get("cookie") ?? "none";
      if (this.path === "/away") {
        this.sendResponse(302);
        this.sendHeader("Location", "http://other.test/back");
      } else {
        this.sendResponse(200);
      }
      this.sendHeader("Content-Length", String(cookie.length));
      await this.endHeaders();
      await this.wfile.write(cookie);
    }
  }
  await using client = testClient(Early);
  const endless = () =>
    new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(1024)),
    });
  const early = await within(
    client.fetch("/early", { method: "POST", body: endless() }),
    2000,
  );
  assert.equal(await early?.text(), "chunked null");
  await assert.rejects(
    client.fetch("/keep", { method: "POST", body: endless() }),
    TypeError,
  );
  const empty = await client.fetch("/early", { method: "POST" });
  assert.equal(await empty.text(), "null 0");
  await assert.rejects(
    client.fetch("/ftp", { method: "POST", body: "x" }),
    TypeError,
  );
  const crossed = await client.fetch("/away", { headers: { Cookie: "k=v" } });
  assert.equal(await crossed.text(), "none");
});

Deno.test("testClient.webSocket(): messages both ways, subprotocol, the server's close, a refused handshake", async () => {
  class Chat extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      if (this.path !== "/ws") {
        this.sendError(403);
        return;
      }
      const socket = await this.upgradeWebSocket({ protocols: ["chat"] });
      socket.onopen = () => socket.send("welcome");
      socket.onmessage = (event) => {
        if (event.data === "bye") socket.close(4000, "bye yourself");
        else if (typeof event.data === "string") {
          socket.send(event.data.toUpperCase());
        } else socket.send(new Uint8Array(event.data).reverse());
      };
    }
  }
  await using client = testClient(Chat);
  await using ws = await client.webSocket("/ws", { protocols: ["x", "chat"] });
  assert.equal(ws.protocol, "chat");
  assert.equal(await ws.next(), "welcome");
  await ws.send("hello");
  assert.equal(await ws.next(), "HELLO");
  await ws.send(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await ws.next(), new Uint8Array([3, 2, 1]));
  const big = "x".repeat(70000); // a 64-bit length each way
  await ws.send(big);
  assert.equal(await ws.next(), big.toUpperCase());
  await ws.send("bye");
  assert.equal(await ws.next(), null);
  assert.deepEqual(ws.closed, { code: 4000, reason: "bye yourself" });
  await assert.rejects(ws.send("more"), TypeError);
  await assert.rejects(client.webSocket("/other"), /refused: 403/);
  // The HTTP connection is still free for requests.
  assert.equal((await client.request("GET", "/other")).status, 403);
});

Deno.test("testClient.webSocket(): close() does the closing handshake; pings are answered", async () => {
  let closedWith: [number, string] | null = null;
  class Pinger extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      // A ping after 50 ms of silence: the client's pong keeps it open.
      const socket = await this.upgradeWebSocket({ idleTimeout: 0.05 });
      socket.onclose = (event) => closedWith = [event.code, event.reason];
      socket.onmessage = (event) => socket.send(event.data);
    }
  }
  await using client = testClient(Pinger);
  const ws = await client.webSocket("/");
  await new Promise((resolve) => setTimeout(resolve, 200));
  await ws.send("still here");
  assert.equal(await ws.next(), "still here");
  assert.deepEqual(await ws.close(1000, "done"), {
    code: 1000,
    reason: "done",
  });
  assert.deepEqual(closedWith, [1000, "done"]);
});

Deno.test("testClient.webSocket(): sends not awaited go out whole and in order; bad arguments to close() are a RangeError", async () => {
  class Echo extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket();
      socket.onmessage = (event) => socket.send(event.data);
    }
  }
  await using client = testClient(Echo);
  await using ws = await client.webSocket("/");
  const first = "1".repeat(100000);
  const second = "2".repeat(100000);
  void ws.send(first);
  void ws.send(second);
  assert.equal(await ws.next(), first);
  assert.equal(await ws.next(), second);
  await assert.rejects(ws.close(1005), RangeError);
  await assert.rejects(ws.close(1000, "\u00e9".repeat(100)), RangeError);
  assert.deepEqual(await ws.close(), { code: 1000, reason: "" });
});

/** A handler that answers the handshake itself, then writes `frames`. */
function rawWebSocket(
  frames: Uint8Array,
  fields: [string, string][] = [],
): typeof BaseHTTPRequestHandler {
  return class extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      const key = this.headers.get("sec-websocket-key") ?? "";
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
      );
      this.sendResponse(101);
      this.sendHeader("Upgrade", "websocket");
      this.sendHeader("Connection", "Upgrade");
      this.sendHeader(
        "Sec-WebSocket-Accept",
        btoa(String.fromCharCode(...new Uint8Array(digest))),
      );
      for (const [name, value] of fields) this.sendHeader(name, value);
      await this.endHeaders();
      const { conn } = await this.detach();
      await conn.write(frames);
      conn.close();
    }
  };
}

Deno.test("testClient.webSocket(): a server that breaks RFC 6455 is a TypeError", async () => {
  const cases: [string, number[]][] = [
    ["reserved opcode", [0x83, 1, 0x78]],
    ["fragmented ping", [0x09, 0]],
    ["ping over 125 bytes", [0x89, 126, 0, 126, ...new Array(126).fill(0)]],
    ["one-byte close", [0x88, 1, 3]],
    ["close code 1005 on the wire", [0x88, 2, 0x03, 0xed]],
    ["close reason not UTF-8", [0x88, 3, 0x03, 0xe8, 0xff]],
  ];
  for (const [what, bytes] of cases) {
    await using client = testClient(rawWebSocket(new Uint8Array(bytes)));
    await using ws = await client.webSocket("/");
    await assert.rejects(ws.next(), TypeError, what);
  }
  // A ping, a message, a close, then the end: the message is kept though
  // the pong cannot be written.
  const kept = [0x89, 0, 0x81, 2, 0x68, 0x69, 0x88, 2, 0x03, 0xe8];
  await using client = testClient(rawWebSocket(new Uint8Array(kept)));
  await using ws = await client.webSocket("/");
  assert.equal(await ws.next(), "hi");
  assert.equal(await ws.next(), null);
  assert.deepEqual(ws.closed, { code: 1000, reason: "" });
  // A subprotocol or an extension never offered.
  for (
    const field of [["Sec-WebSocket-Protocol", "evil"], [
      "Sec-WebSocket-Extensions",
      "permessage-deflate",
    ]] as [string, string][]
  ) {
    await using other = testClient(rawWebSocket(new Uint8Array(0), [field]));
    await assert.rejects(other.webSocket("/"), TypeError, field[0]);
  }
});

Deno.test("testClient: fetch() with an upload that stalls settles, and cancels the upload; so does an abort", async () => {
  const entered = Promise.withResolvers<void>();
  class Answers extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_POST(): Promise<void> {
      if (this.path === "/slow") {
        entered.resolve();
        // Until the client leaves: the upload stalls.
        await this.rfile.text().catch(() => {});
      }
      this.sendResponse(this.path === "/204" ? 204 : 200);
      this.sendHeader("Content-Length", this.path === "/204" ? "0" : "2");
      await this.endHeaders();
      if (this.path !== "/204") await this.wfile.write("ok");
    }
  }
  await using client = testClient(Answers);
  const stalled = () => {
    const cancelled = Promise.withResolvers<void>();
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) controller.enqueue(new Uint8Array(10));
        sent = true;
        return new Promise(() => {}); // and nothing more, ever
      },
      cancel: () => cancelled.resolve(),
    });
    return { body, cancelled: within(cancelled.promise, 2000) };
  };
  for (const path of ["/200", "/204"]) {
    const upload = stalled();
    const response = await within(
      client.fetch(path, { method: "POST", body: upload.body }),
      2000,
    );
    assert.ok(response !== null, `${path}: no response`);
    assert.equal(
      await within(response.text(), 2000),
      path === "/204" ? "" : "ok",
    );
    assert.notEqual(await upload.cancelled, null, `${path}: not cancelled`);
  }
  const upload = stalled();
  const controller = new AbortController();
  const aborted = client.fetch("/slow", {
    method: "POST",
    body: upload.body,
    signal: controller.signal,
  });
  await entered.promise;
  controller.abort();
  await assert.rejects(within(aborted, 2000), { name: "AbortError" });
  assert.notEqual(await upload.cancelled, null, "abort: not cancelled");
});

Deno.test("testClient: fetch() of HEAD or a 204 returns while the handler runs on; close() then leaves no timer", async () => {
  let release = Promise.withResolvers<void>();
  class Lingers extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      this.sendResponse(this.path === "/204" ? 204 : 200);
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
      await release.promise;
    }
    do_HEAD(): Promise<void> {
      return this.do_GET();
    }
  }
  for (const [method, path] of [["HEAD", "/"], ["GET", "/204"]]) {
    await using client = testClient(Lingers);
    const response = await within(client.fetch(path, { method }), 2000);
    assert.equal(response?.body, null, `${method} ${path}`);
    release.resolve(); // the handler returns; the release is under way
    await client.close();
    release = Promise.withResolvers<void>();
  }
});

Deno.test("testClient.webSocket(): a close that crosses the server's still sends what was queued", async () => {
  let closedWith: [number, boolean] | null = null;
  class Leaves extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket();
      socket.onopen = () => socket.close(1000, "bye");
      socket.onclose = (event) => closedWith = [event.code, event.wasClean];
    }
  }
  await using client = testClient(Leaves);
  const ws = await client.webSocket("/");
  const sent = ws.send(new Uint8Array(8 << 20));
  assert.deepEqual(await ws.close(), { code: 1000, reason: "bye" });
  await sent;
  assert.deepEqual(closedWith, [1000, true]);
});

Deno.test("testClient: fetch() with a signal aborted before it cancels its stream body", async () => {
  await using client = testClient(App);
  const cancelled = Promise.withResolvers<boolean>();
  const body = new ReadableStream<Uint8Array>({
    cancel: () => cancelled.resolve(true),
  });
  await assert.rejects(
    client.fetch("/", { method: "POST", body, signal: AbortSignal.abort() }),
    { name: "AbortError" },
  );
  assert.equal(await within(cancelled.promise, 1000), true);
});

Deno.test("testClient: fetch() whose stream body fails rejects with that failure, as fetch does", async () => {
  await using client = testClient(App);
  const failure = new Error("disk gone");
  const body = new ReadableStream<Uint8Array>({
    start: (controller) => controller.enqueue(new TextEncoder().encode("abc")),
    pull: () => Promise.reject(failure),
  });
  await assert.rejects(
    client.fetch("/", { method: "POST", body }),
    (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.equal(error.cause, failure);
      assert.match(error.message, /request body of POST \/ failed/);
      return true;
    },
  );
  // The client goes on serving.
  assert.equal((await client.fetch("/after")).status, 200);
});

Deno.test("testClient.webSocket(): a message over maxMessageSize (64 MiB by default) is a TypeError, found from the frame's length", async () => {
  const huge = [0x82, 127, 0, 0, 1, 0, 0, 0, 0, 0]; // 2^40 bytes announced
  const x = "x".charCodeAt(0);
  const fragments = [0x01, 6, ...new Array(6).fill(x), 0x80, 6];
  const cases: [string, number[], number | undefined][] = [
    ["announced", huge, undefined],
    ["whole", [0x81, 11, ...new Array(11).fill(x)], 10],
    ["in fragments", [...fragments, ...new Array(6).fill(x)], 10],
  ];
  for (const [what, bytes, maxMessageSize] of cases) {
    await using client = testClient(rawWebSocket(new Uint8Array(bytes)));
    await using ws = await client.webSocket("/", { maxMessageSize });
    await assert.rejects(ws.next(), /maxMessageSize/, what);
  }
  await using client = testClient(rawWebSocket(new Uint8Array(0)));
  await assert.rejects(
    client.webSocket("/", { maxMessageSize: 0 }),
    RangeError,
  );
  await using fits = testClient(
    rawWebSocket(new Uint8Array([0x81, 10, ...new Array(10).fill(x)])),
  );
  await using ws = await fits.webSocket("/", { maxMessageSize: 10 });
  assert.equal(await ws.next(), "x".repeat(10));
  // A ping between fragments is not part of the message.
  const three = new Array(3).fill(x);
  const ping = [0x89, 20, ...new Array(20).fill(0)];
  await using pinged = testClient(rawWebSocket(
    new Uint8Array([0x01, 3, ...three, ...ping, 0x80, 3, ...three]),
  ));
  await using other = await pinged.webSocket("/", { maxMessageSize: 10 });
  assert.equal(await other.next(), "x".repeat(6));
});
