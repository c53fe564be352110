// Copyright 2026 the basehttp authors. MIT license.
// The handler's Python API and the engine's behaviour, over testClient's
// in-memory connections: no socket and no permission (run with
// `deno test --no-prompt`). Tests that need the wire or the OS stay in
// handler_test.ts, server_test.ts and engine_safety_test.ts.
import assert from "node:assert/strict";
import { BaseHTTPRequestHandler, HTTPServer, percentFormat } from "../mod.ts";
import { type RawExchange, testClient, type TestResponse } from "../testing.ts";
import { delay, latin1, latin1Bytes, reply, within } from "./_util.ts";

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

/** Every byte the server wrote in one exchange, as Latin-1 text. */
function wire({ responses }: RawExchange): string {
  return responses.map((r) => latin1(r.raw)).join("");
}

/** The status line exactly as sent. */
function statusLine(response: TestResponse): string {
  return latin1(response.raw).split("\r\n")[0];
}

/** Records what `handleError` gets instead of printing it. */
function recordErrors(httpd: HTTPServer): unknown[] {
  const errors: unknown[] = [];
  httpd.handleError = (_c, _a, error) => {
    errors.push(error);
  };
  return errors;
}

class Http11 extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
}

class Echo extends Http11 {
  async do_GET() {
    await reply(this, `GET ${this.path} ${this.requestVersion}`);
  }
  async do_HEAD() {
    this.sendResponse(200);
    this.sendHeader("Content-Length", "5");
    await this.endHeaders();
  }
  async do_POST() {
    await reply(this, `POST ${await this.rfile.text()}`);
  }
  async do_SPAM() {
    await reply(this, `SPAM ${this.headers.get("x-eggs")}`);
  }
}

Deno.test("handler dispatches GET, HEAD, POST and a custom method to do_*", async () => {
  await using client = testClient(Echo);
  const get = await client.raw("GET /x HTTP/1.0\r\n\r\n");
  assert.equal(get.responses[0].text(), "GET /x HTTP/1.0");
  const head = await client.raw("HEAD /x HTTP/1.0\r\n\r\n");
  assert.match(wire(head), /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(wire(head).endsWith("\r\n\r\n"), "HEAD has no body");
  const post = await client.raw(
    "POST / HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd",
  );
  assert.equal(post.responses[0].text(), "POST abcd");
  const spam = await client.raw("SPAM / HTTP/1.0\r\nX-Eggs: bacon\r\n\r\n");
  assert.equal(spam.responses[0].text(), "SPAM bacon");
});

Deno.test("handler answers a method without do_* with Python's 501 page", async () => {
  await using client = testClient(Echo);
  const { responses: [r], closed } = await client.raw(
    "FOO / HTTP/1.1\r\nHost: h\r\n\r\n",
  );
  assert.equal(
    statusLine(r),
    "HTTP/1.1 501 Unsupported method ('FOO')",
  );
  assert.deepEqual([...r.headers].map(([k]) => k), [
    "Server",
    "Date",
    "Connection",
    "Content-Type",
    "Content-Length",
  ]);
  assert.equal(r.headers.get("connection"), "close");
  assert.equal(r.headers.get("content-type"), "text/html;charset=utf-8");
  assert.match(r.text(), /<p>Message: Unsupported method \('FOO'\)\.<\/p>/);
  assert.match(
    r.text(),
    /Error code explanation: 501 - Server does not support this operation\./,
  );
  assert.equal(Number(r.headers.get("content-length")), r.body.length);
  assert.ok(closed);
});

class Errors extends Http11 {
  async do_GET() {
    const [, code, message] = this.path.split("/");
    await this.sendError(
      Number(code),
      message ? decodeURIComponent(message) : undefined,
    );
  }
  async do_HEAD() {
    await this.sendError(404);
  }
}

Deno.test("sendError() renders Python's 3.14 page, escaped, and sizes match CPython", async () => {
  await using client = testClient(Errors);
  const r = await client.request("GET", "/404/File%20not%20found");
  assert.equal(
    statusLine(r),
    "HTTP/1.1 404 File not found",
  );
  assert.equal(r.body.length, 460); // CPython 3.14's page for this error
  const x = await client.request("GET", "/400/%3Cb%3E%26");
  assert.match(x.text(), /Message: &lt;b&gt;&amp;\./);
  const u = await client.request("GET", "/999");
  assert.equal(statusLine(u), "HTTP/1.1 999 ???");
  assert.match(u.text(), /999 - \?\?\?\./);
});

Deno.test("sendError() sends no body for HEAD, 1xx, 204, 205 and 304", async () => {
  await using client = testClient(Errors);
  const head = await client.raw("HEAD / HTTP/1.0\r\n\r\n");
  const [h] = head.responses;
  assert.equal(h.status, 404);
  assert.ok(Number(h.headers.get("content-length")) > 0);
  assert.ok(wire(head).endsWith("\r\n\r\n"));
  for (const code of [204, 205, 304]) {
    const text = wire(await client.raw(`GET /${code} HTTP/1.0\r\n\r\n`));
    assert.ok(text.endsWith("Connection: close\r\n\r\n"), `${code}: ${text}`);
    assert.equal(text.includes("Content-Length"), false);
  }
});

class ErrorsSeen extends Echo {
  static seen: string[] = [];
  override sendError(code: number, message?: string, explain?: string) {
    // An override that reads the request, as one choosing JSON would.
    ErrorsSeen.seen.push(`${this.path} ${this.headers.get("x-user")}`);
    return super.sendError(code, message, explain);
  }
}

Deno.test("a HEAD refused for its header fields gets its error without a body, logged with its line", async () => {
  await using client = testClient(ErrorsSeen);
  const many = "X: y\r\n".repeat(101);
  const cases = [
    `HEAD / HTTP/1.1\r\nHost: h\r\n${many}\r\n`, // 431, too many
    "HEAD / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n", // 400, space
    "HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n" +
    "Transfer-Encoding: chunked\r\n\r\n", // 400, two framings
    "HEAD / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", // 400, a control
    "HEAD / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", // 400, a bare CR
  ];
  for (const request of cases) {
    const exchange = await client.raw(request);
    const [response] = exchange.responses;
    assert.ok(response.status >= 400, request);
    // As Python's send_error for a HEAD: the header fields, no page.
    assert.ok(Number(response.headers.get("content-length")) > 0, request);
    assert.ok(wire(exchange).endsWith("\r\n\r\n"), request);
    assert.match(client.log.at(-1)!, /"HEAD \/ HTTP\/1\.1" (431|400) \S+$/);
  }
  // A control in the request line itself: refused whole, and logged as
  // Python's log shows such a line (gh-100001), escaped.
  await client.raw("GET /a\x1b[2Jb HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(client.log.at(-1)!, /"GET \/a\\x1b\[2Jb HTTP\/1\.1" 400 \S+$/);
  await client.raw("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(client.log.at(-1)!, /"GET \/a\\x0db HTTP\/1\.1" 400 \S+$/);
  // sendError sees the refused request, never the one before it.
  ErrorsSeen.seen = [];
  await client.raw(
    "GET /admin HTTP/1.1\r\nHost: h\r\nX-User: alice\r\n\r\n" +
      "GET /other HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",
  );
  await client.raw("GET /first HTTP/1.1\r\n\r\n"); // no Host
  assert.deepEqual(ErrorsSeen.seen, ["/other null", "/first null"]);
});

Deno.test("sendResponse() adds Server and Date (IMF-fixdate)", async () => {
  await using client = testClient(Echo);
  const r = await client.request("GET", "/");
  assert.match(r.headers.get("server")!, /^BaseHTTP\/0\.6 Deno\/\d/);
  assert.match(r.headers.get("date")!, IMF_FIXDATE);
  assert.deepEqual([...r.headers].slice(0, 2).map(([k]) => k), [
    "Server",
    "Date",
  ]);
});

Deno.test("Date is never behind the clock: a response made after the event loop was busy past a second's end says the new second", async () => {
  let busyUntil = 0;
  class Busy extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      if (this.path === "/busy") {
        // Holds the loop into the next second: no timer can run meanwhile.
        const end = Math.floor(Date.now() / 1000) * 1000 + 1100;
        while (Date.now() < end);
        busyUntil = Math.floor(Date.now() / 1000);
      }
      this.sendResponse(200);
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  await using client = testClient(Busy);
  await client.request("GET", "/"); // the clock has its date
  const exchange = await client.raw(
    "GET /busy HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
  );
  const [, after] = exchange.responses;
  assert.ok(
    Date.parse(after.headers.get("date")!) / 1000 >= busyUntil,
    `${after.headers.get("date")} before ${
      new Date(busyUntil * 1000).toUTCString()
    }`,
  );
});

Deno.test("a handler's own Date replaces the one sendResponse() added: one Date field (RFC 9110 §5.3)", async () => {
  class OwnDate extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      this.sendResponse(200);
      this.sendHeader("date", "Mon, 01 Jan 2001 00:00:00 GMT");
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  await using client = testClient(OwnDate);
  const exchange = await client.raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const dates = wire(exchange).split("\r\n").filter((line) =>
    /^date:/i.test(line)
  );
  assert.deepEqual(dates, ["Date: Mon, 01 Jan 2001 00:00:00 GMT"]);
});

Deno.test("the Date header follows the clock across a second on a kept-alive connection", async () => {
  await using client = testClient(Echo);
  const dateNow = async () => {
    const r = await client.request("GET", "/");
    return { sent: Date.parse(r.headers.get("date")!), now: Date.now() };
  };
  const first = await dateNow();
  await delay(1000 - (Date.now() % 1000) + 300); // into the next second
  const second = await dateNow();
  for (const { sent, now } of [first, second]) {
    assert.ok(sent <= now && sent > now - 1500, `${sent} at ${now}`);
  }
  assert.ok(second.sent > first.sent);
  assert.equal(client.connections, 1);
});

class Http10 extends Echo {
  override protocolVersion = "HTTP/1.0";
}

Deno.test("keep-alive follows Python's rules with Connection parsed as a token list", async () => {
  const twice = (extra: string, version = "HTTP/1.1") =>
    `GET /1 ${version}\r\nHost: h\r\n${extra}\r\nGET /2 ${version}\r\nHost: h\r\n\r\n`;
  // A fresh connection for each case.
  const count = async (Handler: typeof Echo, text: string) => {
    await using client = testClient(Handler);
    return (await client.raw(text)).responses.length;
  };
  assert.equal(await count(Echo, twice("")), 2);
  assert.equal(await count(Echo, twice("Connection: close\r\n")), 1);
  assert.equal(
    await count(Echo, twice("Connection: keep-alive, close\r\n")),
    1,
  );
  assert.equal(await count(Echo, twice("", "HTTP/1.0")), 1);
  assert.equal(
    await count(Echo, twice("Connection: keep-alive\r\n", "HTTP/1.0")),
    2,
  );
  assert.equal(
    await count(Echo, twice("Connection: Keep-Alive, Upgrade\r\n")),
    2,
  );
  // A server speaking HTTP/1.0 closes after every response.
  assert.equal(await count(Http10, twice("")), 1);
  assert.equal(
    await count(Http10, twice("Connection: keep-alive\r\n", "HTTP/1.0")),
    1,
  );
});

Deno.test("a kept-alive HTTP/1.0 response says Connection: keep-alive; 1.1 ones carry Keep-Alive", async () => {
  await using client = testClient(Echo, { keepAliveTimeout: 7 });
  const ex = await client.raw(
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  );
  const [r] = ex.responses;
  assert.equal(r.headers.get("connection"), "keep-alive");
  assert.equal(r.headers.get("keep-alive"), "timeout=7");
  assert.equal(ex.closed, false);
  const r11 = await client.request("GET", "/", { headers: [["Host", "h"]] });
  assert.equal(r11.headers.get("keep-alive"), "timeout=7");
  assert.equal(r11.headers.get("connection"), null);
});

class Streamer extends Http11 {
  async do_GET() {
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/plain");
    await this.endHeaders();
    await this.wfile.write("hello ");
    await this.wfile.write(new TextEncoder().encode("world"));
  }
}

Deno.test("a response without Content-Length is chunked on 1.1 keep-alive, closed on 1.0", async () => {
  await using client = testClient(Streamer);
  const ex = await client.raw("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const text = wire(ex);
  assert.match(text, /Transfer-Encoding: chunked\r\n/);
  assert.ok(
    text.endsWith("\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"),
    text,
  );
  assert.equal(ex.closed, false);
  const old = await client.raw("GET / HTTP/1.0\r\n\r\n");
  assert.ok(wire(old).endsWith("\r\n\r\nhello world"));
  assert.equal(wire(old).includes("chunked"), false);
  assert.ok(old.closed);
});

class Continue extends Http11 {
  async do_PUT() {
    if (this.path === "/deny") return await reply(this, "denied", 401);
    await reply(this, `got ${await this.rfile.text()}`);
  }
}

Deno.test("Expect: 100-continue is not sent when the handler answers without the body, nor for HTTP/1.0", async () => {
  await using client = testClient(Continue);
  const deny = await client.raw(
    "PUT /deny HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
  );
  assert.match(wire(deny), /^HTTP\/1\.1 401 /);
  assert.ok(deny.closed, "the unsent body cannot be told from a next request");
  const old = await client.raw(
    "PUT / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nxyz",
  );
  assert.match(wire(old), /^HTTP\/1\.1 200 /);
  assert.equal(wire(old).includes("100 Continue"), false);
  const odd = await client.raw(
    "PUT / HTTP/1.1\r\nHost: h\r\nExpect: tea\r\n\r\n",
  );
  assert.match(wire(odd), /^HTTP\/1\.1 417 /);
});

class Refuse100 extends Continue {
  override async handleExpect100(): Promise<boolean> {
    await this.sendError(417);
    return false;
  }
}

Deno.test("handleExpect100() may be overridden to refuse with 417", async () => {
  await using client = testClient(Refuse100);
  const ex = await client.raw(
    "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
  );
  assert.match(wire(ex), /^HTTP\/1\.1 417 Expectation Failed\r\n/);
  assert.ok(ex.closed);
});

/** A parseRequest override as Python's are written: sync, not awaiting. */
class SyncParse extends Echo {
  override parseRequest(): boolean {
    if (!super.parseRequest()) return false;
    if (this.headers.get("x-token") !== "t") {
      void this.sendError(401);
      return false;
    }
    return true;
  }
}

class SyncRefuse100 extends Continue {
  override handleExpect100(): boolean {
    void this.sendError(417);
    return false;
  }
}

/** Asserts each response's body is as long as its Content-Length says. */
function assertWhole(exchange: RawExchange): void {
  assert.ok(exchange.responses.length > 0, "a response came");
  for (const response of exchange.responses) {
    const length = Number(response.headers.get("content-length"));
    assert.ok(length > 0, "the error page has a length");
    assert.equal(response.body.length, length, "the whole page came");
  }
}

// Past SyncParse's token check, refused for its Expect.
const TEA_REQUEST =
  "GET / HTTP/1.1\r\nHost: h\r\nX-Token: t\r\nExpect: tea\r\n\r\n";

Deno.test("a sync parseRequest override, Python's style, gets false for a refused Expect; sendError() not awaited still sends the whole page", async () => {
  await using client = testClient(SyncParse);
  const tea = await client.raw(TEA_REQUEST);
  assert.match(wire(tea), /^HTTP\/1\.1 417 Expectation Failed\r\n/);
  assertWhole(tea);
  assert.equal(tea.responses.length, 1, "not dispatched after the 417");
  const denied = await client.raw("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(wire(denied), /^HTTP\/1\.1 401 Unauthorized\r\n/);
  assertWhole(denied);
  const served = await client.request("GET", "/x", {
    headers: { "x-token": "t" },
  });
  assert.equal(served.text(), "GET /x HTTP/1.1");
});

Deno.test("a sync parseRequest override refuses through a sync sendError override whose page has no Content-Length", async () => {
  class PlainErrors extends SyncParse {
    override sendError(code: number, message?: string): Promise<void> {
      this.sendResponse(code, message);
      this.sendHeader("Content-Type", "text/plain");
      void this.endHeaders();
      void this.wfile.write(`${code} ${message ?? ""}\n`);
      return Promise.resolve();
    }
  }
  await using client = testClient(PlainErrors);
  const tea = await client.raw(TEA_REQUEST);
  assert.equal(tea.responses.length, 1, "not dispatched after the 417");
  assert.equal(tea.responses[0].status, 417);
  assert.equal(tea.responses[0].text(), "417 \n");
});

Deno.test("a sync handleExpect100 override that refuses without awaiting sendError() sends the whole 417", async () => {
  await using client = testClient(SyncRefuse100);
  const ex = await client.raw(
    "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
  );
  assert.match(wire(ex), /^HTTP\/1\.1 417 Expectation Failed\r\n/);
  assertWhole(ex);
  assert.ok(ex.closed);
});

class Body extends Http11 {
  async do_POST() {
    const p = new Uint8Array(2);
    const parts: string[] = [];
    while (true) {
      const n = await this.rfile.read(p);
      if (n === null) break;
      parts.push(new TextDecoder().decode(p.subarray(0, n)));
    }
    await reply(
      this,
      parts.join("|") + ` trailers=${this.rfile.trailers?.get("x-t") ?? "-"}`,
    );
  }
  async do_PUT() {
    await reply(this, JSON.stringify(await this.rfile.json()));
  }
  async do_PATCH() {
    await reply(this, "ignored the body");
  }
}

Deno.test("rfile yields exactly the body: Content-Length or decoded chunks, then null", async () => {
  await using client = testClient(Body);
  const cl = await client.raw(
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
  );
  assert.equal(cl.responses[0].text(), "he|ll|o trailers=-");
  const ch = await client.raw(
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3\r\nabc\r\n1\r\nd\r\n0\r\nX-T: yes\r\n\r\n",
  );
  assert.equal(ch.responses[0].text(), "ab|c|d trailers=yes");
  const js = await client.raw(
    'PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n{"a":[1]}',
  );
  assert.equal(js.responses[0].text(), '{"a":[1]}');
});

class Lines extends Http11 {
  async do_POST() {
    const given = this.headers.get("x-limit");
    const limit = given === "null" ? null : Number(given ?? 65536);
    const lines: string[] = [];
    for (let line; (line = await this.rfile.readline(limit)).length > 0;) {
      lines.push(new TextDecoder().decode(line));
    }
    await reply(this, JSON.stringify(lines));
  }
  async do_PUT() {
    const errors: string[] = [];
    for (const limit of [0, -1, 1.5, NaN]) {
      await this.rfile.readline(limit).catch((e) => errors.push(e.name));
    }
    await reply(this, errors.join(" "));
  }
}

Deno.test("rfile.readline() returns each line with its LF, as Python's, never past the body", async () => {
  await using client = testClient(Lines);
  const next = "GET /next HTTP/1.1\r\nHost: h\r\n\r\n";
  const { responses } = await client.raw(
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\na\nbb\n\nccc" +
      // A line across chunks; the next request right after the body.
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3\r\nx\ny\r\n2\r\ny\n\r\n2\r\nzz\r\n0\r\n\r\n" +
      // limit: a longer line comes in pieces.
      "POST / HTTP/1.1\r\nHost: h\r\nX-Limit: 2\r\nContent-Length: 6\r\n\r\nabcd\ne" +
      "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n" + next,
  );
  assert.deepEqual(responses.map((r) => r.text()).slice(0, 4), [
    JSON.stringify(["a\n", "bb\n", "\n", "ccc"]),
    JSON.stringify(["x\n", "yy\n", "zz"]),
    JSON.stringify(["ab", "cd", "\n", "e"]),
    "RangeError RangeError RangeError RangeError",
  ]);
  assert.equal(responses[4].status, 501); // GET /next, parsed whole
  // Lines longer than the read buffer and than readline's own piece.
  const long = ("x".repeat(4999) + "\n").repeat(4);
  const big = await client.raw(
    `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${long.length}\r\n\r\n${long}`,
  );
  assert.deepEqual(
    JSON.parse(big.responses[0].text()).map((l: string) => l.length),
    [5000, 5000, 5000, 5000],
  );
  // 65536 bytes at most by default; null takes a line of any length.
  const huge = "y".repeat(70000) + "\n";
  for (
    const [limit, lengths] of [["65536", [65536, 4465]], ["null", [70001]]]
  ) {
    const { responses } = await client.raw(
      `POST / HTTP/1.1\r\nHost: h\r\nX-Limit: ${limit}\r\n` +
        `Content-Length: ${huge.length}\r\n\r\n${huge}`,
    );
    assert.deepEqual(
      JSON.parse(responses[0].text()).map((l: string) => l.length),
      lengths,
    );
  }
});

class Unawaited extends Http11 {
  async do_POST() {
    // Begun and never awaited, as a handler that answers early might.
    const rfile = this.rfile;
    const calls: Record<string, () => Promise<unknown>> = {
      read: () => rfile.read(new Uint8Array(8)),
      readline: () => rfile.readline(),
      bytes: () => rfile.bytes(),
      text: () => rfile.text(),
      json: () => rfile.json(),
      discard: () => rfile.discard(1024),
    };
    calls[this.headers.get("x-call")!]();
    await delay(20); // the read fails on the bad chunk meanwhile
    await reply(this, "answered");
  }
}

Deno.test("rfile reads a handler never awaits do not crash the server when the body is bad", async () => {
  await using client = testClient(Unawaited);
  for (const call of ["read", "readline", "bytes", "text", "json", "discard"]) {
    const { responses } = await client.raw(
      `POST / HTTP/1.1\r\nHost: h\r\nX-Call: ${call}\r\n` +
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    );
    assert.equal(responses[0].text(), "answered", call);
  }
});

Deno.test("an unread body is drained, never read as the next request", async () => {
  await using client = testClient(Body);
  const smuggle = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
  const { responses } = await client.raw(
    `PATCH / HTTP/1.1\r\nHost: h\r\nContent-Length: ${smuggle.length}\r\n\r\n${smuggle}` +
      "PATCH / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(responses.map((r) => r.text()), [
    "ignored the body",
    "ignored the body",
  ]);
});

Deno.test("rfile.bytes() is an ArrayBuffer-backed Uint8Array: Web Crypto and Blob take it as it is", async () => {
  class Digest extends Http11 {
    async do_POST() {
      const body = await this.rfile.bytes();
      const digest = new Uint8Array(
        await crypto.subtle.digest("SHA-256", body),
      );
      const size = new Blob([body]).size;
      await reply(this, `${size} ${digest[0].toString(16)}`);
    }
  }
  await using client = testClient(Digest);
  const response = await client.request("POST", "/", { body: "abc" });
  // SHA-256("abc") starts ba 78 16 bf.
  assert.equal(response.text(), "3 ba");
});

Deno.test("bad JSON in rfile.json() answers 400, not 500", async () => {
  await using client = testClient(Body);
  const ex = await client.raw(
    "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n{x}",
  );
  assert.match(wire(ex), /^HTTP\/1\.1 400 Malformed JSON body\r\n/);
});

class Paths extends Http11 {
  async do_GET() {
    await reply(this, this.path);
  }
}

Deno.test("a path starting with // is reduced to one slash (open-redirect defence)", async () => {
  await using client = testClient(Paths);
  const { responses: [r] } = await client.raw(
    "GET //evil.example//x HTTP/1.0\r\n\r\n",
  );
  assert.equal(r.text(), "/evil.example//x");
});

class Thrower extends Http11 {
  async do_GET() {
    if (this.path === "/boom") throw new Error("boom");
    if (this.path === "/late") {
      this.sendResponse(200);
      this.sendHeader("Content-Length", "100");
      await this.endHeaders();
      await this.wfile.write("partial");
      throw new Error("late boom");
    }
    await reply(this, "fine");
  }
}

Deno.test("a handler that throws gets a 500, handleError is called, and the server keeps serving", async () => {
  await using client = testClient(Thrower);
  const errors = recordErrors(client.httpd);
  const boom = await client.raw("GET /boom HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(wire(boom), /^HTTP\/1\.1 500 Internal Server Error\r\n/);
  assert.ok(boom.closed);
  // A response already queued but not sent is replaced by the 500.
  const late = await client.raw("GET /late HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(wire(late), /^HTTP\/1\.1 500 /);
  assert.equal(wire(late).includes("partial"), false);
  assert.deepEqual(errors.map((e) => (e as Error).message), [
    "boom",
    "late boom",
  ]);
  const ok = await client.raw("GET / HTTP/1.0\r\n\r\n");
  assert.equal(ok.responses[0].text(), "fine");
});

Deno.test("log lines keep Python's format with the real byte count and escaped controls", async () => {
  class Logged extends Http11 {
    async do_GET() {
      await reply(this, "12345");
    }
  }
  await using client = testClient(Logged);
  await client.raw("GET /a%1b HTTP/1.0\r\n\r\n");
  await client.raw("BREW / HTTP/1.0\r\n\r\n");
  const date = String.raw`\[\d\d/[A-Z][a-z]{2}/\d{4} \d\d:\d\d:\d\d\]`;
  assert.match(
    client.log[0],
    new RegExp(`^127\\.0\\.0\\.1 - - ${date} "GET /a%1b HTTP/1\\.0" 200 5$`),
  );
  assert.match(
    client.log[1],
    new RegExp(
      `^127\\.0\\.0\\.1 - - ${date} code 501, message Unsupported method \\('BREW'\\)$`,
    ),
  );
  assert.match(client.log[2], /"BREW \/ HTTP\/1\.0" 501 \d+$/);

  class Controls extends Http11 {
    async do_GET() {
      this.logMessage("%s", "\x1b/bar\x00\x1b \\ \x7f\x9f\xa0beans");
      await reply(this, "logged");
    }
  }
  await using other = testClient(Controls, { clientAddress: ["1.2.3.4", 5] });
  await other.request("GET", "/");
  assert.ok(other.log[0].startsWith("1.2.3.4 - - ["), other.log[0]);
  assert.ok(
    other.log[0].endsWith(
      String.raw`\x1b/bar\x00\x1b \\ \x7f\x9f` + "\xa0beans",
    ),
  );
});

// Each line as Python 3.11 formats it (`format % args`).
const PYTHON_PERCENT: [string, unknown[] | Record<string, unknown>, string][] =
  [
    [
      "%s took %.1f ms (%5d bytes) by %s",
      ["/p", 3.14159, 42, "x"],
      "/p took 3.1 ms (   42 bytes) by x",
    ],
    ["%d %i %u", [3.9, -3.9, 7], "3 -3 7"],
    [
      "%5d|%-5d|%05d|%+d|% d",
      [42, 42, 42, 42, 42],
      "   42|42   |00042|+42| 42",
    ],
    [
      "%x %X %#x %#X %o %#o %#010x",
      [255, 255, 255, 255, 8, 8, 255],
      "ff FF 0xff 0XFF 10 0o10 0x000000ff",
    ],
    [
      "%e %E %.2e %10.3e",
      [12345.678, 0.00012, 0, -1.5],
      "1.234568e+04 1.200000E-04 0.00e+00 -1.500e+00",
    ],
    ["%f %.0f %.3F %08.2f %-8.2f|", [
      1.5,
      3.5,
      0.3333333333333333,
      -3.14159,
      3.14159,
    ], "1.500000 4 0.333 -0003.14 3.14    |"],
    ["%g %g %g %g %g %g %.3g %#g %G", [
      100000,
      1000000,
      0.0001,
      1e-05,
      123.456,
      0,
      3.14159,
      1.0,
      1e-10,
    ], "100000 1e+06 0.0001 1e-05 123.456 0 3.14 1.00000 1E-10"],
    ["%c%c", [65, "z"], "Az"],
    ["%r %a %s", ["it's", "x\ty", "plain"], "\"it's\" 'x\\ty' plain"],
    ["%.2s|%5s|%-5s|", ["abcdef", "ab", "ab"], "ab|   ab|ab   |"],
    ["%*d|%-*d|%.*f", [5, 42, 4, 7, 2, 3.14159], "   42|7   |3.14"],
    ["%(code)d %(name)s", { code: 404, name: "nf" }, "404 nf"],
    ["100%% sure", [], "100% sure"],
    ["%.3d %5.3d", [5, 7], "005   007"],
    [
      "%f %F %5f %05f",
      [Infinity, -Infinity, NaN, Infinity],
      "inf -INF   nan 00inf",
    ],
    ["%d", [12345678901234567890123n], "12345678901234567890123"],
    [
      "%g %.3G %g",
      [12345678901, 12345678901, 1.23456e20],
      "1.23457e+10 1.23E+10 1.23456e+20",
    ],
    [
      "%#g %#.0f %#.0e",
      [828106.0, 828106.0, 828106.0],
      "828106. 828106. 8.e+05",
    ],
    ["%*d|%-*s|", [-5, 42, 4, "ab"], "42   |ab  |"],
    ["%f", [1e22], "10000000000000000000000.000000"],
    [
      "%a %d %.3f",
      ["caf\u00e9\u2603", -0.5, -0.0],
      "'caf\\xe9\\u2603' 0 -0.000",
    ],
  ];

Deno.test("percentFormat() formats as Python's % does: flags, width, precision, every type", () => {
  for (const [format, args, python] of PYTHON_PERCENT) {
    assert.equal(percentFormat(format, args), python, format);
  }
  // A specifier Python refuses stays as written, and takes no argument;
  // so does one it lacks an argument for (a literal "100% sure").
  assert.equal(percentFormat("%y %s 100%", ["a"]), "%y a 100%");
  assert.equal(percentFormat("%s and %s", ["one"]), "one and %s");
  assert.equal(
    percentFormat("100% sure, 50% done: %(code)d", { code: 404 }),
    "100% sure, 50% done: 404",
  );
  assert.equal(percentFormat("%.150f", [0.5]).length, 102); // never throws
});

Deno.test("sendHeader() refuses names and values that could split a response", async () => {
  class Inject extends Http11 {
    async do_GET() {
      this.sendResponse(200);
      assert.throws(
        () => this.sendHeader("X", "a\r\nSet-Cookie: x"),
        TypeError,
      );
      assert.throws(() => this.sendHeader("Bad Name", "a"), TypeError);
      // From untyped code: a name is checked as the text it will be sent as.
      const name = { toString: () => "X\r\nSet-Cookie: x" };
      assert.throws(
        () => this.sendHeader(name as unknown as string, "a"),
        TypeError,
      );
      // Good names and values are remembered; bad ones never are.
      for (let i = 0; i < 300; i++) this.sendHeader(`X-${i}`, `v${i}`);
      assert.throws(() => this.sendHeader("X", "v1\n"), TypeError);
      assert.throws(() => this.sendHeader("X-1:", "v1"), TypeError);
      assert.throws(() => this.sendResponseOnly(42), RangeError);
      this.sendHeader("Content-Length", "2");
      await this.endHeaders();
      await this.wfile.write("ok");
    }
  }
  await using client = testClient(Inject);
  const { responses: [r] } = await client.raw("GET / HTTP/1.0\r\n\r\n");
  assert.equal(r.text(), "ok");
  assert.equal(r.headers.get("x-299"), "v299");
});

Deno.test("a handler that sends nothing gets its connection closed, not a hang", async () => {
  class Silent extends Http11 {
    do_GET() {}
  }
  await using client = testClient(Silent);
  const ex = await client.raw("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.equal(wire(ex), "");
  assert.ok(ex.closed);
});

Deno.test("pipelined requests are answered in order", async () => {
  await using client = testClient(Paths);
  let text = "";
  for (let i = 0; i < 20; i++) text += `GET /${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
  const { responses } = await client.raw(text);
  assert.deepEqual(
    responses.map((r) => r.text()),
    Array.from({ length: 20 }, (_, i) => `/${i}`),
  );
});

Deno.test("bodyTimeout covers waiting for the body, not the handler's own work after it", async () => {
  class SlowAfterBody extends Http11 {
    async do_POST() {
      const body = await this.rfile.text();
      await delay(700); // longer than bodyTimeout
      await reply(this, `got ${body}`);
    }
  }
  await using client = testClient(SlowAfterBody, { bodyTimeout: 0.3 });
  const { responses } = await client.raw(
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
  );
  assert.equal(responses[0]?.text(), "got hi");
});

Deno.test("wfile writes reach the socket in order even when not awaited", async () => {
  class Unawaited extends Http11 {
    async do_GET() {
      this.sendResponse(200);
      await this.endHeaders();
      void this.wfile.write(new Uint8Array(20000).fill(65)); // a large write
      void this.wfile.write("ZZZZZ");
      await this.wfile.flush();
    }
  }
  await using client = testClient(Unawaited);
  const r = await client.request("GET", "/", { headers: [["Host", "h"]] });
  assert.equal(r.text(), "A".repeat(20000) + "ZZZZZ");
});

Deno.test("responses stay whole as the output buffer outgrows 4 KiB and 32 KiB, pipelined too", async () => {
  // Writes of these sizes, each of its own letter, cross the small and the
  // large output buffer while earlier pipelined responses are still held.
  const sizes = [1, 300, 5000, 9000, 12000, 16383, 2, 16384, 7, 4095];
  const bodyOf = (shift: number) =>
    sizes.map((n, i) => String.fromCharCode(65 + (i + shift) % 26).repeat(n))
      .join("");
  class Sizes extends Http11 {
    async do_GET() {
      const shift = Number(this.path.slice(1));
      this.sendResponse(200);
      // /9 has a head larger than the large buffer.
      if (shift === 9) this.sendHeader("X-Big", "y".repeat(40000));
      if (shift % 2 === 0) {
        this.sendHeader("Content-Length", String(bodyOf(shift).length));
      }
      await this.endHeaders(); // odd paths are chunked
      for (const [i, n] of sizes.entries()) {
        const piece = String.fromCharCode(65 + (i + shift) % 26).repeat(n);
        await this.wfile.write(i % 3 === 0 ? piece : latin1Bytes(piece));
      }
    }
  }
  await using client = testClient(Sizes);
  let text = "";
  for (let i = 0; i < 10; i++) text += `GET /${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
  const { responses } = await client.raw(text);
  assert.equal(responses.length, 10);
  for (const [i, r] of responses.entries()) {
    assert.equal(r.status, 200);
    assert.equal(
      r.headers.get("transfer-encoding"),
      i % 2 ? "chunked" : null,
    );
    assert.equal(r.headers.get("x-big")?.length, i === 9 ? 40000 : undefined);
    assert.ok(latin1(r.body) === bodyOf(i), `body ${i} is whole and in order`);
  }
});

Deno.test("a handler whose setup() throws is reported, and nothing is left running", async () => {
  class BadSetup extends Http11 {
    override setup(): void {
      throw new Error("no setup");
    }
  }
  await using client = testClient(BadSetup);
  const errors = recordErrors(client.httpd);
  const ex = await client.raw("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.ok(ex.closed);
  assert.deepEqual(errors.map((e) => (e as Error).message), ["no setup"]);
});

Deno.test("a setup() or handle() that throws: socketserver's calls in Python's order, each once", async () => {
  const calls: string[] = [];
  class Server extends HTTPServer {
    override shutdownRequest(connection: Deno.Conn): void {
      calls.push("shutdownRequest");
      super.shutdownRequest(connection);
    }
    override closeRequest(connection: Deno.Conn): void {
      calls.push("closeRequest");
      super.closeRequest(connection);
    }
    override handleError(_c: unknown, _a: unknown, error: unknown): void {
      calls.push(`handleError ${(error as Error).message}`);
    }
  }
  for (const where of ["setup", "handle"]) {
    class Throws extends Http11 {
      override setup(): void {
        calls.push("setup");
        if (where === "setup") throw new Error(where);
      }
      override handle(): Promise<void> {
        calls.push("handle");
        throw new Error(where);
      }
      override async finish(): Promise<void> {
        calls.push("finish");
        await super.finish();
      }
    }
    calls.length = 0;
    await using client = testClient(Throws, { ServerClass: Server });
    const ex = await client.raw("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert.ok(ex.closed);
    // Python: setup() outside handle()'s try, so no finish() after it;
    // process_request_thread: handle_error, then shutdown_request.
    assert.deepEqual(
      calls,
      where === "setup"
        ? ["setup", `handleError ${where}`, "shutdownRequest", "closeRequest"]
        : [
          "setup",
          "handle",
          "finish",
          `handleError ${where}`,
          "shutdownRequest",
          "closeRequest",
        ],
      where,
    );
  }
});

// ---------------------------------------------------------------------------
// From server_test.ts: the server's timeouts and log sink.

Deno.test("a request head that never completes is closed after headerTimeout", async () => {
  await using client = testClient(Echo, { headerTimeout: 0.2 });
  const started = performance.now();
  const ex = await client.raw("GET / HTTP/1.1\r\nHost:");
  assert.ok(ex.closed);
  assert.ok(performance.now() - started < 2000);
});

Deno.test("a handler's timeout shortens the server's timeouts, never lifts them: Infinity, NaN or a longer one keeps the server's", async () => {
  for (const own of [Infinity, 1e12, NaN, 60]) {
    class Lifting extends Echo {
      override timeout = own;
    }
    await using client = testClient(Lifting, {
      headerTimeout: 0.2,
      keepAliveTimeout: 0.2,
    });
    const started = performance.now();
    const ex = await client.raw("GET / HTTP/1.1\r\nHost:");
    assert.ok(ex.closed, `timeout = ${own}`);
    assert.ok(performance.now() - started < 2000, `timeout = ${own}`);
    assert.doesNotMatch(client.log.join("\n"), /timed out/, "the server's");
  }
});

Deno.test("a wait for a request past the handler's own timeout is logged as Python logs it; the server's timeouts close in silence", async () => {
  class Timed extends Echo {
    override timeout = 0.1;
  }
  await using timed = testClient(Timed);
  const served = await timed.request("GET", "/x");
  assert.equal(served.text(), "GET /x HTTP/1.1");
  await delay(400); // past the timeout and a sweep
  await timed.request("GET", "/y");
  assert.equal(timed.connections, 2, "the idle one was closed");
  assert.match(
    timed.log.join("\n"),
    /Request timed out: TimeoutError\('timed out'\)/,
  );
  await using server = testClient(Echo, { keepAliveTimeout: 0.1 });
  await server.request("GET", "/x");
  await delay(400);
  await server.request("GET", "/y");
  assert.equal(server.connections, 2);
  assert.doesNotMatch(server.log.join("\n"), /timed out/);
});

Deno.test("a logMessage override that throws as the handler's timeout is logged is reported; the sweep and the server go on", async () => {
  class Throwing extends Echo {
    override timeout = 0.1;
    override logMessage(format: string): void {
      if (format.startsWith("Request timed out")) {
        throw new Deno.errors.BadResource("log file closed");
      }
    }
  }
  await using client = testClient(Throwing);
  const errors = recordErrors(client.httpd);
  await client.request("GET", "/x");
  await delay(400); // past the timeout and a sweep: nothing uncaught
  assert.equal((await client.request("GET", "/y")).text(), "GET /y HTTP/1.1");
  assert.equal(client.connections, 2);
  assert.deepEqual(errors.map((e) => (e as Error).message), [
    "log file closed",
  ]);
});

Deno.test("an endHeaders() not awaited under an async flushHeaders or endHeaders override ends the head once: one set of framing fields", async () => {
  for (const slow of ["flushHeaders", "endHeaders"]) {
    class Slow extends Http11 {
      override async flushHeaders(): Promise<void> {
        if (slow === "flushHeaders") await delay(5);
        return super.flushHeaders();
      }
      override async endHeaders(): Promise<void> {
        if (slow === "endHeaders") await delay(5);
        return super.endHeaders();
      }
      do_GET(): void {
        this.sendResponse(200);
        this.sendHeader("Content-Type", "text/plain");
        void this.endHeaders();
        void this.wfile.write("hi");
      }
    }
    await using client = testClient(Slow);
    const errors = recordErrors(client.httpd);
    const response = await client.request("GET", "/");
    assert.equal(response.status, 200, slow);
    assert.equal(response.text(), "hi", slow);
    const text = latin1(response.raw);
    assert.equal(text.match(/Transfer-Encoding/g)?.length, 1, text);
    assert.equal(text.match(/Keep-Alive/g)?.length, 1, text);
    assert.deepEqual(errors, [], slow);
  }
});

Deno.test("an async logMessage or handleError override that rejects is printed, not an unhandled rejection: the server serves on", async () => {
  class AsyncLog extends Echo {
    override async logMessage(): Promise<void> {
      await Promise.resolve();
      throw new Error("log file gone");
    }
    do_PUT(): Promise<void> {
      throw new Error("a handler bug");
    }
  }
  class AsyncReport extends HTTPServer {
    override async handleError(): Promise<void> {
      await Promise.resolve();
      throw new Error("report failed");
    }
  }
  const printed: string[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) =>
    printed.push(args.map(String).join(" "));
  try {
    await using client = testClient(AsyncLog, { ServerClass: AsyncReport });
    assert.equal((await client.request("GET", "/a")).status, 200);
    assert.equal((await client.request("PUT", "/b")).status, 500);
    assert.equal((await client.request("GET", "/c")).text(), "GET /c HTTP/1.1");
    await delay(10);
  } finally {
    console.error = error;
  }
  const text = printed.join("\n");
  assert.match(text, /log file gone/);
  assert.match(text, /report failed/);
});

Deno.test("a sendError() not awaited under an async flushHeaders override still sends its whole page", async () => {
  class Slow extends Http11 {
    override async flushHeaders(): Promise<void> {
      await delay(5);
      return super.flushHeaders();
    }
    do_GET(): void {
      void this.sendError(404);
    }
  }
  await using client = testClient(Slow);
  const ex = await client.raw("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assertWhole(ex);
  assert.equal(ex.responses[0].status, 404);
});

Deno.test("a HEAD answered without Content-Length says the Transfer-Encoding its GET would have, and keeps the connection", async () => {
  class Streams extends Http11 {
    async do_GET(): Promise<void> {
      this.sendResponse(200);
      await this.endHeaders();
      await this.wfile.write("a body of unknown length");
    }
    do_HEAD(): Promise<void> {
      return this.do_GET();
    }
  }
  await using client = testClient(Streams);
  const get = await client.raw("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(wire(get), /\r\nTransfer-Encoding: chunked\r\n/);
  const head = await client.raw(
    "HEAD / HTTP/1.1\r\nHost: h\r\n\r\nHEAD / HTTP/1.0\r\n\r\n",
  );
  const [eleven, ten] = head.responses.map((r) => latin1(r.raw));
  // As RFC 9112 §6.1 allows: a client such as node:http's keeps a
  // connection whose HEAD answer has neither field for a new one.
  assert.match(eleven, /\r\nTransfer-Encoding: chunked\r\n/);
  assert.ok(eleven.endsWith("\r\n\r\n"), "no body, not even a last chunk");
  assert.doesNotMatch(ten, /Transfer-Encoding/, "HTTP/1.0 has no chunks");
  assert.equal(client.connections, 1);
});

Deno.test("a sendHeader() after endHeaders() began, under an async flushHeaders override, is refused: never Content-Length beside the chunking", async () => {
  let refused: unknown = null;
  class Late extends Http11 {
    override async flushHeaders(): Promise<void> {
      await delay(5);
      return super.flushHeaders();
    }
    do_GET(): void {
      this.sendResponse(200);
      void this.endHeaders();
      try {
        this.sendHeader("Content-Length", "5");
      } catch (error) {
        refused = error;
      }
      void this.wfile.write("hello");
    }
  }
  await using client = testClient(Late);
  const response = await client.request("GET", "/");
  assert.ok(refused instanceof TypeError, String(refused));
  const text = latin1(response.raw);
  assert.doesNotMatch(text, /Content-Length/, text);
  assert.equal(response.text(), "hello");
});

Deno.test("a HEAD answered 205 says Content-Length: 0, as its GET does, not chunked", async () => {
  class Reset extends Http11 {
    async do_GET(): Promise<void> {
      this.sendResponse(205);
      await this.endHeaders();
    }
    do_HEAD(): Promise<void> {
      return this.do_GET();
    }
  }
  await using client = testClient(Reset);
  const [get, head] = (await client.raw(
    "GET / HTTP/1.1\r\nHost: h\r\n\r\nHEAD / HTTP/1.1\r\nHost: h\r\n\r\n",
  )).responses.map((r) => latin1(r.raw));
  assert.match(get, /\r\nContent-Length: 0\r\n/);
  assert.match(head, /\r\nContent-Length: 0\r\n/);
  assert.doesNotMatch(head, /Transfer-Encoding/);
});

Deno.test("logSink receives the access log and handleError's report, one line per call", async () => {
  const lines: string[] = [];
  class Throws extends BaseHTTPRequestHandler {
    async do_GET(): Promise<void> {
      if (this.path === "/boom") throw new Error("boom");
      await reply(this, "hello");
    }
  }
  await using client = testClient(Throws, {
    logSink: (line) => lines.push(line),
  });
  await client.raw("GET / HTTP/1.0\r\n\r\n");
  await client.raw("GET /boom HTTP/1.0\r\n\r\n");
  assert.match(lines[0], /^127\.0\.0\.1 - - \[.*\] "GET \/ HTTP\/1\.0" 200 5$/);
  // Python's line, the address as its tuple prints.
  assert.ok(
    lines.some((line) =>
      /^Exception occurred during processing of request from \('127\.0\.0\.1', \d+\)$/
        .test(line)
    ),
    lines.join("\n"),
  );
  assert.ok(lines.some((line) => line.includes("Error: boom")));
  // The trace too, one line a call: a sink may write each as a record.
  assert.ok(lines.some((line) => /^\s+at /.test(line)), lines.join("\n"));
  assert.ok(lines.every((line) => !line.includes("\n")), lines.join("|"));
  assert.throws(
    () =>
      new HTTPServer(["localhost", 80], Echo, {
        bindAndActivate: false,
        // @ts-expect-error: not a function
        logSink: "x",
      }),
    TypeError,
  );
});

// ---------------------------------------------------------------------------
// From engine_safety_test.ts: `this.signal` on a request timeout.

Deno.test("this.signal aborts on a request timeout (bodyTimeout), and the read fails with TimedOut", async () => {
  const seen: { abortedAt: number | null; failure: unknown; read: unknown } = {
    abortedAt: null,
    failure: undefined,
    read: undefined,
  };
  let done!: () => void;
  const finished = new Promise<void>((resolve) => done = resolve);
  class Reader extends BaseHTTPRequestHandler {
    async do_POST(): Promise<void> {
      try {
        this.signal.addEventListener(
          "abort",
          () => seen.abortedAt = Date.now(),
        );
        await this.rfile.bytes().catch((error) => seen.read = error);
      } catch (error) {
        seen.failure = error;
      } finally {
        done();
      }
    }
  }
  await using client = testClient(Reader, { bodyTimeout: 0.3 });
  recordErrors(client.httpd);
  const since = Date.now();
  const { closed } = await client.raw(
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
  );
  assert.ok(closed);
  await within(finished, 1000);
  assert.equal(seen.failure, undefined, `the handler failed: ${seen.failure}`);
  assert.ok(seen.abortedAt !== null, "this.signal never aborted");
  const after = seen.abortedAt - since;
  assert.ok(after >= 250 && after < 1500, `aborted after ${after} ms`);
  // The read says why it failed: not the close that the timeout made.
  assert.ok(seen.read instanceof Deno.errors.TimedOut, String(seen.read));
});

Deno.test("pipelined requests to a handler that watches this.signal are answered at once", async () => {
  class Watching extends Http11 {
    async do_GET() {
      const { aborted } = this.signal; // starts the read that watches
      await delay(20); // the watch read is pending when the handler ends
      await reply(this, `${this.path} ${aborted}`);
    }
  }
  // Timeouts that end a stall soon, so that it shows as missing answers.
  await using client = testClient(Watching, {
    keepAliveTimeout: 1,
    headerTimeout: 1,
  });
  const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`;
  const since = Date.now();
  const { responses } = await client.raw(
    request("/1") + request("/2") + request("/3"),
  );
  assert.deepEqual(responses.map((r) => r.text()), [
    "/1 false",
    "/2 false",
    "/3 false",
  ]);
  assert.ok(Date.now() - since < 900, `took ${Date.now() - since} ms`);
});

Deno.test("rfile refuses a read while another is pending with a TypeError, never a hang", async () => {
  let second: unknown;
  class TwoReads extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_POST(): Promise<void> {
      const first = this.rfile.read(new Uint8Array(64)); // not awaited
      second = await this.rfile.bytes().catch((error) => error);
      assert.equal(await first, 2);
      await reply(this, "done");
    }
  }
  await using client = testClient(TwoReads, { bodyTimeout: 5 });
  const exchange = await within(
    client.raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"),
    2000,
  );
  assert.ok(exchange !== null, "the request hung");
  assert.ok(second instanceof TypeError, String(second));
  assert.equal(exchange.responses[0].text(), "done");
});

Deno.test("rfile.read(n) as Python writes it is a TypeError that says what to call", async () => {
  let refused: unknown;
  class PythonRead extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_POST(): Promise<void> {
      const length = Number(this.headers.get("content-length"));
      const rfile = this.rfile as unknown as {
        read(n: number): Promise<number | null>;
      };
      refused = await rfile.read(length).catch((e: unknown) => e);
      await reply(this, await this.rfile.text()); // the body is still whole
    }
  }
  await using client = testClient(PythonRead);
  const { responses } = await client.raw(
    "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
  );
  assert.ok(refused instanceof TypeError, String(refused));
  assert.match(refused.message, /Uint8Array.*rfile\.bytes\(\)/);
  assert.equal(responses[0].text(), "{}");
});

Deno.test("a body whose read failed, the error caught, gets Connection: close in the head, not a keep-alive it loses", async () => {
  let caught = "";
  class Forgiving extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_POST(): Promise<void> {
      caught = await this.rfile.text().then(() => "", (e) => String(e));
      assert.ok(this.rfile.failed);
      await reply(this, "answered");
    }
  }
  await using client = testClient(Forgiving);
  const exchange = await client.raw(
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "zz\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  assert.match(caught, /Bad chunk size/);
  assert.equal(exchange.responses.length, 1);
  assert.equal(exchange.responses[0].headers.get("connection"), "close");
  assert.equal(exchange.responses[0].headers.get("keep-alive"), null);
  assert.ok(exchange.closed);
});

Deno.test("a refused absolute target's userinfo never reaches the log", async () => {
  await using client = testClient(BaseHTTPRequestHandler);
  const { responses } = await client.raw(
    "GET http://alice:s3cret@localhost/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
  );
  assert.equal(responses[0].status, 400);
  assert.ok(client.log.length > 0);
  assert.ok(
    !client.log.some((line) => line.includes("s3cret")),
    client.log.join("\n"),
  );
  assert.ok(client.log.some((line) => line.includes("http://localhost/a.txt")));
  // Nor from a request line refused for its shape: error and access lines.
  for (
    const line of [
      "GET http://alice:s3cret@h/x HTTP/1.1 extra",
      "GET  http://alice:s3cret@h/x HTTP/1.1",
      "GET http://alice:s3cret@h/x HTTP/9.9",
      "GET /x http://alice:s3cret@h/", // as the version
      "GET\thttp://alice:s3cret@h/x HTTP/1.1",
      "GET http://alice\ts3cret@h/x HTTP/1.1", // a tab in the password
      "GET /x HTTP/1.1\thttp://alice:s3cret@h/",
      "http://alice:s3cret@h/ /x HTTP/1.1", // as the method
    ]
  ) {
    await using bad = testClient(BaseHTTPRequestHandler);
    const { responses } = await bad.raw(`${line}\r\nHost: h\r\n\r\n`);
    assert.ok(responses[0].status >= 400, line);
    assert.ok(bad.log.length > 0, line);
    assert.ok(!bad.log.some((l) => l.includes("s3cret")), bad.log.join("\n"));
  }
});

Deno.test("weekdayname and monthname are Python's, and a log date follows monthname", async () => {
  const months = "janv févr mars avr mai juin juil août sept oct nov déc";
  class French extends BaseHTTPRequestHandler {
    override monthname = [null, ...months.split(" ")];
    async do_GET() {
      await reply(this, this.logDateTimeString());
    }
  }
  await using client = testClient(French);
  const stamp = (await client.request("GET", "/")).text();
  const month = months.split(" ")[new Date().getMonth()];
  assert.match(
    stamp,
    new RegExp(`^\\d\\d/${month}/\\d{4} \\d\\d:\\d\\d:\\d\\d$`),
  );
  class Plain extends BaseHTTPRequestHandler {
    async do_GET() {
      await reply(this, JSON.stringify([this.weekdayname, this.monthname]));
    }
  }
  await using python = testClient(Plain);
  assert.deepEqual(JSON.parse((await python.request("GET", "/")).text()), [
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    [null, ..."Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ")],
  ]);
});
