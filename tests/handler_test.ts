// Copyright 2026 the basehttp authors. MIT license.
import assert from "node:assert/strict";
import { BaseHTTPRequestHandler } from "../mod.ts";
import {
  delay,
  exchange,
  latin1Bytes,
  parseResponses,
  QuietHandler,
  reply,
  startServer,
} from "./_util.ts";

const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

class Echo extends QuietHandler {
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
  await using s = startServer(Echo);
  const get = parseResponses(
    (await exchange(s.port, "GET /x HTTP/1.0\r\n\r\n")).text,
  );
  assert.equal(get[0].body, "GET /x HTTP/1.0");
  const head = await exchange(s.port, "HEAD /x HTTP/1.0\r\n\r\n");
  assert.match(head.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(head.text.endsWith("\r\n\r\n"), "HEAD has no body");
  const post = parseResponses(
    (await exchange(s.port, "POST / HTTP/1.0\r\nContent-Length: 4\r\n\r\nabcd"))
      .text,
  );
  assert.equal(post[0].body, "POST abcd");
  const spam = parseResponses(
    (await exchange(s.port, "SPAM / HTTP/1.0\r\nX-Eggs: bacon\r\n\r\n")).text,
  );
  assert.equal(spam[0].body, "SPAM bacon");
});

Deno.test("handler answers a method without do_* with Python's 501 page", async () => {
  await using s = startServer(Echo);
  const { text, closed } = await exchange(
    s.port,
    "FOO / HTTP/1.1\r\nHost: h\r\n\r\n",
  );
  const [r] = parseResponses(text);
  assert.equal(r.statusLine, "HTTP/1.1 501 Unsupported method ('FOO')");
  assert.deepEqual(r.headers.map(([k]) => k), [
    "Server",
    "Date",
    "Connection",
    "Content-Type",
    "Content-Length",
  ]);
  assert.equal(r.get("connection"), "close");
  assert.equal(r.get("content-type"), "text/html;charset=utf-8");
  assert.match(r.body, /<p>Message: Unsupported method \('FOO'\)\.<\/p>/);
  assert.match(
    r.body,
    /Error code explanation: 501 - Server does not support this operation\./,
  );
  assert.equal(Number(r.get("content-length")), r.body.length);
  assert.ok(closed);
});

class Errors extends QuietHandler {
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
  await using s = startServer(Errors);
  const [r] = parseResponses(
    (await exchange(s.port, "GET /404/File%20not%20found HTTP/1.0\r\n\r\n"))
      .text,
  );
  assert.equal(r.statusLine, "HTTP/1.1 404 File not found");
  assert.equal(r.body.length, 460); // CPython 3.14's page for this error
  const [x] = parseResponses(
    (await exchange(s.port, "GET /400/%3Cb%3E%26 HTTP/1.0\r\n\r\n")).text,
  );
  assert.match(x.body, /Message: &lt;b&gt;&amp;\./);
  const [u] = parseResponses(
    (await exchange(s.port, "GET /999 HTTP/1.0\r\n\r\n")).text,
  );
  assert.equal(u.statusLine, "HTTP/1.1 999 ???");
  assert.match(u.body, /999 - \?\?\?\./);
});

Deno.test("sendError() sends no body for HEAD, 1xx, 204, 205 and 304", async () => {
  await using s = startServer(Errors);
  const head = await exchange(s.port, "HEAD / HTTP/1.0\r\n\r\n");
  const [h] = parseResponses(head.text, true);
  assert.equal(h.status, 404);
  assert.ok(Number(h.get("content-length")) > 0);
  assert.ok(head.text.endsWith("\r\n\r\n"));
  for (const code of [204, 205, 304]) {
    const { text } = await exchange(s.port, `GET /${code} HTTP/1.0\r\n\r\n`);
    assert.ok(text.endsWith("Connection: close\r\n\r\n"), `${code}: ${text}`);
    assert.equal(text.includes("Content-Length"), false);
  }
});

Deno.test("sendResponse() adds Server and Date (IMF-fixdate)", async () => {
  await using s = startServer(Echo);
  const [r] = parseResponses(
    (await exchange(s.port, "GET / HTTP/1.0\r\n\r\n")).text,
  );
  assert.match(r.get("server")!, /^BaseHTTP\/0\.6 Deno\/\d/);
  assert.match(r.get("date")!, IMF_FIXDATE);
  assert.deepEqual(r.headers.slice(0, 2).map(([k]) => k), ["Server", "Date"]);
});

Deno.test("the Date header follows the clock across a second on a kept-alive connection", async () => {
  await using s = startServer(Echo);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const buf = new Uint8Array(4096);
  const dateNow = async () => {
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    );
    const n = await conn.read(buf);
    const [r] = parseResponses(new TextDecoder().decode(buf.subarray(0, n!)));
    return { sent: Date.parse(r.get("date")!), now: Date.now() };
  };
  try {
    const first = await dateNow();
    await delay(1000 - (Date.now() % 1000) + 300); // into the next second
    const second = await dateNow();
    for (const { sent, now } of [first, second]) {
      assert.ok(sent <= now && sent > now - 1500, `${sent} at ${now}`);
    }
    assert.ok(second.sent > first.sent);
  } finally {
    conn.close();
  }
});

Deno.test("dateTimeString() formats a timestamp like Python's formatdate(usegmt=True)", () => {
  const h = Object.create(
    BaseHTTPRequestHandler.prototype,
  ) as BaseHTTPRequestHandler;
  assert.equal(h.dateTimeString(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  assert.equal(h.dateTimeString(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT");
});

class Http10 extends Echo {
  override protocolVersion = "HTTP/1.0";
}

Deno.test("keep-alive follows Python's rules with Connection parsed as a token list", async () => {
  await using s11 = startServer(Echo);
  await using s10 = startServer(Http10);
  const twice = (extra: string, version = "HTTP/1.1") =>
    `GET /1 ${version}\r\nHost: h\r\n${extra}\r\nGET /2 ${version}\r\nHost: h\r\n\r\n`;
  const count = async (port: number, text: string) =>
    parseResponses((await exchange(port, text)).text).length;
  assert.equal(await count(s11.port, twice("")), 2);
  assert.equal(await count(s11.port, twice("Connection: close\r\n")), 1);
  assert.equal(
    await count(s11.port, twice("Connection: keep-alive, close\r\n")),
    1,
  );
  assert.equal(await count(s11.port, twice("", "HTTP/1.0")), 1);
  assert.equal(
    await count(s11.port, twice("Connection: keep-alive\r\n", "HTTP/1.0")),
    2,
  );
  assert.equal(
    await count(s11.port, twice("Connection: Keep-Alive, Upgrade\r\n")),
    2,
  );
  // A server speaking HTTP/1.0 closes after every response.
  assert.equal(await count(s10.port, twice("")), 1);
  assert.equal(
    await count(s10.port, twice("Connection: keep-alive\r\n", "HTTP/1.0")),
    1,
  );
});

Deno.test("a kept-alive HTTP/1.0 response says Connection: keep-alive; 1.1 ones carry Keep-Alive", async () => {
  await using s = startServer(Echo, { keepAliveTimeout: 7 });
  const ex = await exchange(
    s.port,
    "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  );
  const [r] = parseResponses(ex.text);
  assert.equal(r.get("connection"), "keep-alive");
  assert.equal(r.get("keep-alive"), "timeout=7");
  assert.equal(ex.closed, false);
  const [r11] = parseResponses(
    (await exchange(s.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")).text,
  );
  assert.equal(r11.get("keep-alive"), "timeout=7");
  assert.equal(r11.get("connection"), undefined);
});

class Streamer extends QuietHandler {
  async do_GET() {
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/plain");
    await this.endHeaders();
    await this.wfile.write("hello ");
    await this.wfile.write(new TextEncoder().encode("world"));
  }
}

Deno.test("a response without Content-Length is chunked on 1.1 keep-alive, closed on 1.0", async () => {
  await using s = startServer(Streamer);
  const ex = await exchange(s.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(ex.text, /Transfer-Encoding: chunked\r\n/);
  assert.ok(
    ex.text.endsWith("\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"),
    ex.text,
  );
  assert.equal(ex.closed, false);
  const old = await exchange(s.port, "GET / HTTP/1.0\r\n\r\n");
  assert.ok(old.text.endsWith("\r\n\r\nhello world"));
  assert.equal(old.text.includes("chunked"), false);
  assert.ok(old.closed);
});

class Continue extends QuietHandler {
  async do_PUT() {
    if (this.path === "/deny") return await reply(this, "denied", 401);
    await reply(this, `got ${await this.rfile.text()}`);
  }
}

Deno.test("Expect: 100-continue is answered when the handler reads the body", async () => {
  await using s = startServer(Continue);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    await conn.write(new TextEncoder().encode(
      "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
    ));
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    assert.equal(
      new TextDecoder().decode(buf.subarray(0, n!)),
      "HTTP/1.1 100 Continue\r\n\r\n",
    );
    await conn.write(new TextEncoder().encode("abc"));
    const m = await conn.read(buf);
    const [r] = parseResponses(new TextDecoder().decode(buf.subarray(0, m!)));
    assert.equal(r.body, "got abc");
  } finally {
    conn.close();
  }
});

Deno.test("Expect: 100-continue is not sent when the handler answers without the body, nor for HTTP/1.0", async () => {
  await using s = startServer(Continue);
  const deny = await exchange(
    s.port,
    "PUT /deny HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
  );
  assert.match(deny.text, /^HTTP\/1\.1 401 /);
  assert.ok(deny.closed, "the unsent body cannot be told from a next request");
  const old = await exchange(
    s.port,
    "PUT / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nxyz",
  );
  assert.match(old.text, /^HTTP\/1\.1 200 /);
  assert.equal(old.text.includes("100 Continue"), false);
  const odd = await exchange(
    s.port,
    "PUT / HTTP/1.1\r\nHost: h\r\nExpect: tea\r\n\r\n",
  );
  assert.match(odd.text, /^HTTP\/1\.1 417 /);
});

class Refuse100 extends Continue {
  override async handleExpect100(): Promise<boolean> {
    await this.sendError(417);
    return false;
  }
}

Deno.test("handleExpect100() may be overridden to refuse with 417", async () => {
  await using s = startServer(Refuse100);
  const ex = await exchange(
    s.port,
    "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
  );
  assert.match(ex.text, /^HTTP\/1\.1 417 Expectation Failed\r\n/);
  assert.ok(ex.closed);
});

class Body extends QuietHandler {
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
  await using s = startServer(Body);
  const [cl] = parseResponses(
    (await exchange(
      s.port,
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    )).text,
  );
  assert.equal(cl.body, "he|ll|o trailers=-");
  const chunked =
    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "3\r\nabc\r\n1\r\nd\r\n0\r\nX-T: yes\r\n\r\n";
  const [ch] = parseResponses((await exchange(s.port, chunked)).text);
  assert.equal(ch.body, "ab|c|d trailers=yes");
  const [js] = parseResponses(
    (await exchange(
      s.port,
      'PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n{"a":[1]}',
    )).text,
  );
  assert.equal(js.body, '{"a":[1]}');
});

Deno.test("an unread body is drained, never read as the next request", async () => {
  await using s = startServer(Body);
  const smuggle = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
  const text =
    `PATCH / HTTP/1.1\r\nHost: h\r\nContent-Length: ${smuggle.length}\r\n\r\n${smuggle}` +
    "PATCH / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  const rs = parseResponses((await exchange(s.port, text)).text);
  assert.deepEqual(rs.map((r) => r.body), [
    "ignored the body",
    "ignored the body",
  ]);
});

Deno.test("bad JSON in rfile.json() answers 400, not 500", async () => {
  await using s = startServer(Body);
  const ex = await exchange(
    s.port,
    "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n{x}",
  );
  assert.match(ex.text, /^HTTP\/1\.1 400 Malformed JSON body\r\n/);
});

class Paths extends QuietHandler {
  async do_GET() {
    await reply(this, this.path);
  }
}

Deno.test("a path starting with // is reduced to one slash (open-redirect defence)", async () => {
  await using s = startServer(Paths);
  const [r] = parseResponses(
    (await exchange(s.port, "GET //evil.example//x HTTP/1.0\r\n\r\n")).text,
  );
  assert.equal(r.body, "/evil.example//x");
});

class Thrower extends QuietHandler {
  static errors: unknown[] = [];
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
  await using s = startServer(Thrower);
  const errors: unknown[] = [];
  s.server.handleError = (_c, _a, error) => {
    errors.push(error);
  };
  const boom = await exchange(s.port, "GET /boom HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(boom.text, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
  assert.ok(boom.closed);
  // A response already queued but not sent is replaced by the 500.
  const late = await exchange(s.port, "GET /late HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.match(late.text, /^HTTP\/1\.1 500 /);
  assert.equal(late.text.includes("partial"), false);
  assert.deepEqual(errors.map((e) => (e as Error).message), [
    "boom",
    "late boom",
  ]);
  const [ok] = parseResponses(
    (await exchange(s.port, "GET / HTTP/1.0\r\n\r\n")).text,
  );
  assert.equal(ok.body, "fine");
});

class Logged extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
  static lines: string[] = [];
  async do_GET() {
    await reply(this, "12345");
  }
}

Deno.test("log lines keep Python's format with the real byte count and escaped controls", async () => {
  const original = console.error;
  const lines: string[] = [];
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    await using s = startServer(Logged);
    await exchange(s.port, "GET /a%1b HTTP/1.0\r\n\r\n");
    await exchange(s.port, "BREW / HTTP/1.0\r\n\r\n");
  } finally {
    console.error = original;
  }
  const date = String.raw`\[\d\d/[A-Z][a-z]{2}/\d{4} \d\d:\d\d:\d\d\]`;
  assert.match(
    lines[0],
    new RegExp(`^127\\.0\\.0\\.1 - - ${date} "GET /a%1b HTTP/1\\.0" 200 5$`),
  );
  assert.match(
    lines[1],
    new RegExp(
      `^127\\.0\\.0\\.1 - - ${date} code 501, message Unsupported method \\('BREW'\\)$`,
    ),
  );
  assert.match(lines[2], /"BREW \/ HTTP\/1\.0" 501 \d+$/);

  const h = Object.create(
    BaseHTTPRequestHandler.prototype,
  ) as BaseHTTPRequestHandler;
  Object.defineProperty(h, "clientAddress", { value: ["1.2.3.4", 5] });
  Object.defineProperty(h, "server", {
    value: { logSink: (line: string) => lines.push(line) },
  });
  h.logMessage("%s", "\x1b/bar\x00\x1b \\ \x7f\x9f\xa0beans");
  assert.ok(
    lines.at(-1)!.endsWith(
      String.raw`\x1b/bar\x00\x1b \\ \x7f\x9f` + "\xa0beans",
    ),
  );
});

Deno.test("sendHeader() refuses names and values that could split a response", async () => {
  class Inject extends QuietHandler {
    async do_GET() {
      this.sendResponse(200);
      assert.throws(
        () => this.sendHeader("X", "a\r\nSet-Cookie: x"),
        TypeError,
      );
      assert.throws(() => this.sendHeader("Bad Name", "a"), TypeError);
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
  await using s = startServer(Inject);
  const [r] = parseResponses(
    (await exchange(s.port, "GET / HTTP/1.0\r\n\r\n")).text,
  );
  assert.equal(r.body, "ok");
  assert.equal(r.get("x-299"), "v299");
});

Deno.test("a handler that sends nothing gets its connection closed, not a hang", async () => {
  class Silent extends QuietHandler {
    do_GET() {}
  }
  await using s = startServer(Silent);
  const ex = await exchange(s.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", {
    quietMs: 2000,
  });
  assert.equal(ex.text, "");
  assert.ok(ex.closed);
});

Deno.test("pipelined requests are answered in order", async () => {
  await using s = startServer(Paths);
  let text = "";
  for (let i = 0; i < 20; i++) text += `GET /${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
  const rs = parseResponses((await exchange(s.port, text)).text);
  assert.deepEqual(
    rs.map((r) => r.body),
    Array.from({ length: 20 }, (_, i) => `/${i}`),
  );
});

Deno.test("a pipelined response is not held behind the next handler's wait", async () => {
  class SlowSecond extends QuietHandler {
    async do_GET() {
      if (this.path === "/slow") await delay(800);
      await reply(this, this.path);
    }
  }
  await using s = startServer(SlowSecond);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    const started = Date.now();
    await conn.write(new TextEncoder().encode(
      "GET /fast HTTP/1.1\r\nHost: h\r\n\r\n" +
        "GET /slow HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    const first = Date.now() - started;
    const text = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    assert.match(text, /\r\n\r\n\/fast$/);
    assert.ok(first < 400, `first response after ${first} ms`);
    let rest = "";
    for (let m; (m = await conn.read(buf)) !== null;) {
      rest += new TextDecoder().decode(buf.subarray(0, m));
    }
    assert.equal(parseResponses(rest)[0].body, "/slow");
  } finally {
    conn.close();
  }
});

Deno.test("bodyTimeout covers waiting for the body, not the handler's own work after it", async () => {
  class SlowAfterBody extends QuietHandler {
    async do_POST() {
      const body = await this.rfile.text();
      await delay(700); // longer than bodyTimeout
      await reply(this, `got ${body}`);
    }
  }
  await using s = startServer(SlowAfterBody, { bodyTimeout: 0.3 });
  const ex = await exchange(
    s.port,
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    { quietMs: 3000 },
  );
  assert.equal(parseResponses(ex.text)[0]?.body, "got hi");
});

Deno.test("wfile writes reach the socket in order even when not awaited", async () => {
  class Unawaited extends QuietHandler {
    async do_GET() {
      this.sendResponse(200);
      await this.endHeaders();
      void this.wfile.write(new Uint8Array(20000).fill(65)); // a large write
      void this.wfile.write("ZZZZZ");
      await this.wfile.flush();
    }
  }
  await using s = startServer(Unawaited);
  const ex = await exchange(s.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const [r] = parseResponses(ex.text);
  assert.equal(r.body, "A".repeat(20000) + "ZZZZZ");
});

Deno.test("responses stay whole as the output buffer outgrows 4 KiB and 32 KiB, pipelined too", async () => {
  // Writes of these sizes, each of its own letter, cross the small and the
  // large output buffer while earlier pipelined responses are still held.
  const sizes = [1, 300, 5000, 9000, 12000, 16383, 2, 16384, 7, 4095];
  const bodyOf = (shift: number) =>
    sizes.map((n, i) => String.fromCharCode(65 + (i + shift) % 26).repeat(n))
      .join("");
  class Sizes extends QuietHandler {
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
  await using s = startServer(Sizes);
  let text = "";
  for (let i = 0; i < 10; i++) text += `GET /${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
  const rs = parseResponses((await exchange(s.port, text)).text);
  assert.equal(rs.length, 10);
  for (const [i, r] of rs.entries()) {
    assert.equal(r.status, 200);
    assert.equal(r.get("transfer-encoding"), i % 2 ? "chunked" : undefined);
    assert.equal(r.get("x-big")?.length, i === 9 ? 40000 : undefined);
    assert.ok(r.body === bodyOf(i), `body ${i} is whole and in order`);
  }
});

Deno.test("a handler whose setup() throws is reported, and nothing is left running", async () => {
  class BadSetup extends QuietHandler {
    override setup(): void {
      throw new Error("no setup");
    }
  }
  await using s = startServer(BadSetup);
  const errors: unknown[] = [];
  s.server.handleError = (_c, _a, error) => {
    errors.push(error);
  };
  const ex = await exchange(s.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  assert.ok(ex.closed);
  assert.deepEqual(errors.map((e) => (e as Error).message), ["no setup"]);
});
