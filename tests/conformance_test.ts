// Copyright 2026 the basehttp authors. MIT license.
// The conformance table (conformance_cases.ts) against a live server, one
// raw connection per case, plus the framing and connection rules that need
// more than one exchange: pipelining, keep-alive hints, bodiless responses,
// Content-Length mismatches and graceful shutdown.
import assert from "node:assert/strict";
import { HTTPError, HTTPServer } from "../mod.ts";
import { isConnectionError } from "../_connection.ts";
import { type Case, CASES, PROBE, SMALL_LIMITS } from "./conformance_cases.ts";
import {
  delay,
  exchange,
  latin1,
  latin1Bytes,
  parseResponses,
  QuietHandler,
  readAll,
  reply,
  startServer,
  within,
  writeAll,
} from "./_util.ts";

/** What one handler invocation saw, as recorded by {@linkcode Recorder}. */
interface Record {
  method: string;
  path: string;
  version: string;
  headers: [string, string][];
  body: string | null;
  trailers: [string, string][] | null;
  bodyError?: number;
}

/** Records every request it is given, keyed by the client's port. */
class Recorder extends QuietHandler {
  static seen = new Map<number, Record[]>();

  async #record(): Promise<void> {
    const record: Record = {
      method: this.command,
      path: this.path,
      version: this.requestVersion,
      headers: this.headers.items(),
      body: null,
      trailers: null,
    };
    const port = this.clientAddress[1];
    Recorder.seen.set(port, [...Recorder.seen.get(port) ?? [], record]);
    if (!this.path.startsWith("/skip")) {
      try {
        record.body = latin1(await this.rfile.bytes());
        record.trailers = this.rfile.trailers?.items() ?? null;
      } catch (error) {
        if (error instanceof HTTPError) record.bodyError = error.status;
        throw error;
      }
    }
    await reply(this, this.path === "/probe" ? "probe" : "ok");
  }

  do_GET() {
    return this.#record();
  }
  do_POST() {
    return this.#record();
  }
  do_PURGE() {
    return this.#record();
  }
  do_OPTIONS() {
    return this.#record();
  }
  do_CONNECT() {
    return this.#record();
  }
}

const encoder = new TextEncoder();

async function run(c: Case): Promise<void> {
  await using s = startServer(Recorder, {
    headerTimeout: 5,
    bodyTimeout: 5,
    keepAliveTimeout: 5,
    limits: c.small ? SMALL_LIMITS : {},
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const port = (conn.localAddr as Deno.NetAddr).port;
  let text: string;
  let closed: boolean;
  try {
    try {
      await writeAll(conn, latin1Bytes(c.eof ? c.request : c.request + PROBE));
      if (c.eof) await conn.closeWrite();
    } catch {
      // The server closed early; what it answered is still to be read.
    }
    // Every case ends with the server closing: after an error, after the
    // probe's Connection: close, or at the half-close. Quiet means a hang.
    ({ text, closed } = await readAll(conn, 3000));
  } finally {
    try {
      conn.close();
    } catch {
      // readAll() closed it.
    }
  }
  assert.ok(closed, `the server hung; got ${JSON.stringify(text)}`);

  const responses = parseResponses(text);
  const probed = !c.eof && responses.at(-1)?.body === "probe";
  const answers = probed ? responses.slice(0, -1) : responses;
  const records = (Recorder.seen.get(port) ?? []).filter((r) =>
    r.path !== "/probe"
  );
  Recorder.seen.delete(port);

  assert.deepEqual(
    answers.map((r) => r.status),
    c.statuses,
    `statuses; got ${JSON.stringify(text.slice(0, 300))}`,
  );
  for (const r of answers) {
    if (r.status >= 400) assert.equal(r.get("connection"), "close");
  }
  if (!c.eof) {
    assert.equal(!probed, c.closed, c.closed ? "stayed open" : "was closed");
  }
  assert.equal(
    records.length,
    c.seen.length,
    `handler calls: ${JSON.stringify(records.map((r) => r.path))}`,
  );
  c.seen.forEach((want, i) => {
    const got = records[i];
    assert.equal(got.method, want.method);
    assert.equal(got.path, want.path);
    if (want.version !== undefined) assert.equal(got.version, want.version);
    if (want.headers !== undefined) assert.deepEqual(got.headers, want.headers);
    assert.equal(got.body, want.body === undefined ? "" : want.body);
    if (want.trailers !== undefined) {
      assert.deepEqual(got.trailers, want.trailers);
    }
    assert.equal(got.bodyError, want.bodyError);
  });
}

Deno.test("the conformance table has at least 150 cases, each named once", () => {
  assert.ok(CASES.length >= 150, `${CASES.length} cases`);
  assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length);
});

for (const c of CASES) {
  Deno.test(`conformance: ${c.name}`, () => run(c));
}

// --- Framing and connection rules beyond one exchange -------------------------

Deno.test("50 pipelined requests are answered in order, coalesced into few writes", async () => {
  let writes = 0;
  class Counting extends QuietHandler {
    constructor(...args: ConstructorParameters<typeof QuietHandler>) {
      const [connection] = args;
      const write = connection.write.bind(connection);
      connection.write = (p: Uint8Array) => {
        writes++;
        return write(p);
      };
      super(...args);
    }
    async do_GET() {
      await reply(this, this.path);
    }
  }
  await using s = startServer(Counting);
  let text = "";
  for (let i = 0; i < 49; i++) text += `GET /${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
  text += "GET /49 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  const ex = await exchange(s.port, text, { quietMs: 2000 });
  assert.ok(ex.closed);
  assert.deepEqual(
    parseResponses(ex.text).map((r) => r.body),
    Array.from({ length: 50 }, (_, i) => `/${i}`),
  );
  assert.ok(writes <= 3, `${writes} socket writes for 50 responses`);
});

class Bodiless extends QuietHandler {
  async do_HEAD() {
    this.sendResponse(200);
    this.sendHeader("Content-Length", "5");
    await this.endHeaders();
    await this.wfile.write("hello");
  }
  async do_GET() {
    const code = Number(this.path.slice(1));
    if (code === 103) {
      this.sendResponse(103);
      this.sendHeader("Link", "</style.css>; rel=preload");
      await this.endHeaders();
      return await reply(this, "final");
    }
    if (code === 204 || code === 304) {
      this.sendResponse(code);
      await this.endHeaders();
      await this.wfile.write("never sent");
      return;
    }
    await reply(this, "probe");
  }
}

Deno.test("HEAD, 1xx, 204 and 304 never carry a body, even when the handler writes one", async () => {
  await using s = startServer(Bodiless);
  const ex = await exchange(
    s.port,
    "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET /204 HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET /304 HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET /103 HTTP/1.1\r\nHost: h\r\n\r\n" + PROBE,
    { quietMs: 2000 },
  );
  assert.equal(ex.text.includes("hello"), false);
  assert.equal(ex.text.includes("never sent"), false);
  const rs = parseResponses(ex.text, (i) => i === 0);
  assert.deepEqual(rs.map((r) => r.status), [200, 204, 304, 103, 200, 200]);
  assert.deepEqual(rs.map((r) => r.body), ["", "", "", "", "final", "probe"]);
  // Bodiless means no framing either: no chunked, and the connection kept.
  for (const r of rs.slice(0, 4)) {
    assert.equal(r.get("transfer-encoding"), undefined);
  }
  assert.equal(rs[0].get("content-length"), "5");
  assert.ok(ex.closed);
});

Deno.test("a 1xx or 204 carries no Content-Length or Transfer-Encoding, even the handler's (RFC 9110 §8.6, RFC 9112 §6.1)", async () => {
  class Declares extends QuietHandler {
    async do_GET() {
      if (this.path === "/103") {
        this.sendResponse(103);
        this.sendHeader("Content-Length", "5");
        await this.endHeaders();
        return await reply(this, "final");
      }
      this.sendResponse(204);
      if (this.path === "/cl") this.sendHeader("Content-Length", "5");
      else this.sendHeader("Transfer-Encoding", "chunked");
      await this.endHeaders();
    }
  }
  await using s = startServer(Declares);
  const ex = await exchange(
    s.port,
    "GET /cl HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET /te HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET /103 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  const rs = parseResponses(ex.text);
  assert.deepEqual(rs.map((r) => r.status), [204, 204, 103, 200]);
  assert.equal(rs[3].body, "final");
  for (const r of rs.slice(0, 3)) {
    assert.equal(r.get("content-length"), undefined);
    assert.equal(r.get("transfer-encoding"), undefined);
  }
});

Deno.test("a 205 has no content: Content-Length: 0, what the handler writes dropped, the connection kept (RFC 9110 §15.3.6)", async () => {
  class Reset extends QuietHandler {
    async do_GET() {
      if (this.path === "/probe") return await reply(this, "probe");
      this.sendResponse(205);
      await this.endHeaders();
      await this.wfile.write("never sent");
    }
  }
  await using s = startServer(Reset);
  const ex = await exchange(
    s.port,
    "GET /205 HTTP/1.1\r\nHost: h\r\n\r\n" + PROBE,
  );
  assert.equal(ex.text.includes("never sent"), false);
  const rs = parseResponses(ex.text);
  assert.deepEqual(rs.map((r) => [r.status, r.body]), [
    [205, ""],
    [200, "probe"],
  ]);
  assert.equal(rs[0].get("content-length"), "0");
  assert.equal(rs[0].get("transfer-encoding"), undefined);
});

Deno.test("no 1xx goes to an HTTP/1.0 client (RFC 9110 §15.2), which would take it for the answer", async () => {
  await using s = startServer(Bodiless);
  const old = await exchange(s.port, "GET /103 HTTP/1.0\r\nHost: h\r\n\r\n");
  assert.deepEqual(parseResponses(old.text).map((r) => [r.status, r.body]), [
    [200, "final"],
  ]);
  assert.ok(old.closed);
  // And HTTP/1.1 still gets its early hints.
  const ex = await exchange(
    s.port,
    "GET /103 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(parseResponses(ex.text).map((r) => r.status), [103, 200]);
});

class Mismatch extends QuietHandler {
  static logged: [string, number | string][] = [];
  override logRequest(_code?: number | string, size?: number | string): void {
    Mismatch.logged.push([this.path, size ?? "-"]);
  }
  async do_GET() {
    if (this.path === "/probe") return await reply(this, "probe");
    this.sendResponse(200);
    this.sendHeader("Content-Length", "5");
    await this.endHeaders();
    if (this.path === "/more") await this.wfile.write("hello, world");
    if (this.path === "/more-in-pieces") {
      for (const piece of ["hel", "lo, w", "orld"]) {
        await this.wfile.write(piece);
      }
    }
    if (this.path === "/less") await this.wfile.write("hel");
    if (this.path === "/exact") await this.wfile.write("hello");
  }
}

Deno.test("a handler writing more or less than its Content-Length: the declared bytes at most, then the close", async () => {
  await using s = startServer(Mismatch);
  for (
    const [path, body, closed] of [
      ["/more", "hello", true],
      ["/more-in-pieces", "hello", true],
      ["/less", "hel", true],
      ["/exact", "hello", false],
    ] as const
  ) {
    const ex = await exchange(
      s.port,
      `GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n${PROBE}`,
      { quietMs: 2000 },
    );
    assert.ok(ex.closed);
    const head = ex.text.indexOf("\r\n\r\n") + 4;
    const rest = ex.text.slice(head);
    if (closed) {
      // Nothing past the declared length, and the probe never answered.
      assert.equal(rest, body, path);
    } else {
      assert.equal(rest.slice(0, 5), body);
      assert.equal(parseResponses(ex.text).at(-1)?.body, "probe");
    }
  }
  // The log counts what went out, not what the handler wrote.
  assert.deepEqual(Mismatch.logged, [
    ["/more", 5],
    ["/more-in-pieces", 5],
    ["/less", 3],
    ["/exact", 5],
    ["/probe", 5],
  ]);
});

Deno.test("Keep-Alive: timeout=N is sent on kept-alive responses only, in whole seconds", async () => {
  class Hello extends QuietHandler {
    async do_GET() {
      await reply(this, "hello");
    }
  }
  const request = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  {
    await using s = startServer(Hello, { keepAliveTimeout: 2.5 });
    const [kept] = parseResponses((await exchange(s.port, request)).text);
    assert.equal(kept.get("keep-alive"), "timeout=2");
    const [closing] = parseResponses(
      (await exchange(
        s.port,
        "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      ))
        .text,
    );
    assert.equal(closing.get("keep-alive"), undefined);
    assert.equal(closing.get("connection"), "close");
    const [old] = parseResponses(
      (await exchange(s.port, "GET / HTTP/1.0\r\n\r\n")).text,
    );
    assert.equal(old.get("keep-alive"), undefined);
  }
  {
    await using s = startServer(Hello, { keepAliveTimeout: null });
    const [r] = parseResponses((await exchange(s.port, request)).text);
    assert.equal(r.get("keep-alive"), undefined);
  }
});

Deno.test("shutdown(): idle connections close at once, in-flight ones finish, late ones are refused", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  class Slow extends QuietHandler {
    async do_GET() {
      if (this.path === "/slow") await gate;
      await reply(this, this.path);
    }
  }
  const httpd = new HTTPServer(["127.0.0.1", 0], Slow, { shutdownTimeout: 5 });
  const serving = httpd.serveForever(0.05);
  const port = httpd.serverPort;
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port });
  const idle = await connect();
  const inflight = await connect();
  try {
    await writeAll(
      idle,
      encoder.encode("GET /idle HTTP/1.1\r\nHost: h\r\n\r\n"),
    );
    const buf = new Uint8Array(4096);
    assert.ok((await idle.read(buf))! > 0);
    await writeAll(
      inflight,
      encoder.encode("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"),
    );
    await delay(50);
    const stopping = httpd.shutdown();
    const t0 = performance.now();
    const idleEnd = await within(readAll(idle, 3000), 3000);
    assert.ok(idleEnd?.closed, "the idle connection was not closed");
    // At once: well before the 5 s keepAliveTimeout would close it.
    assert.ok(performance.now() - t0 < 1000, "idle not closed at once");
    // A connection made during the grace period is refused (as Go's).
    await assert.rejects(connect(), Deno.errors.ConnectionRefused);
    release();
    const done = await readAll(inflight, 3000);
    const [r] = parseResponses(done.text);
    assert.equal(r.body, "/slow");
    assert.equal(r.get("connection"), "close");
    assert.ok(done.closed);
    await stopping;
    await serving;
    httpd.close();
  } finally {
    for (const c of [idle, inflight]) {
      try {
        c?.close();
      } catch {
        // readAll() closed it.
      }
    }
    await httpd[Symbol.asyncDispose]();
  }
});

Deno.test("this.signal's reason is the same DOMException whether it was asked for before the loss or after", async () => {
  const reasons: string[] = [];
  class Watching extends QuietHandler {
    async do_GET() {
      if (this.path === "/early") {
        const signal = this.signal;
        await new Promise((resolve) => signal.onabort = resolve);
      } else await delay(400); // the cut comes meanwhile
      const reason = this.signal.reason as DOMException;
      reasons.push(`${this.path} ${reason.name}: ${reason.message}`);
    }
  }
  const httpd = new HTTPServer(["127.0.0.1", 0], Watching, {
    shutdownTimeout: 0.1,
  });
  const serving = httpd.serveForever(0.05);
  const conns: Deno.Conn[] = [];
  try {
    for (const path of ["/early", "/late"]) {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: httpd.serverPort,
      });
      conns.push(conn);
      await writeAll(
        conn,
        latin1Bytes(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`),
      );
    }
    await delay(50);
    await httpd.shutdown();
    await serving;
    await within(
      (async () => {
        while (reasons.length < 2) await delay(20);
      })(),
      2000,
    );
  } finally {
    for (const conn of conns) conn.close();
    await httpd[Symbol.asyncDispose]();
  }
  const cut = "AbortError: The server closed the connection: the server " +
    "shut down: shutdownTimeout (0.1 s) passed";
  assert.deepEqual(reasons.sort(), [`/early ${cut}`, `/late ${cut}`]);
});

Deno.test("shutdown(): a request still in flight after shutdownTimeout is cut off", async () => {
  let failure: unknown;
  let aborted: unknown;
  QuietHandler.logs = [];
  class Upload extends QuietHandler {
    async do_POST() {
      const signal = this.signal;
      try {
        await this.rfile.bytes();
      } catch (error) {
        failure = error;
        aborted = signal.reason;
        throw error;
      }
      await reply(this, "never");
    }
  }
  const httpd = new HTTPServer(["127.0.0.1", 0], Upload, {
    shutdownTimeout: 0.3,
  });
  const serving = httpd.serveForever(0.05);
  // A body that never arrives in full: the handler waits on its socket.
  const client = exchange(
    httpd.serverPort,
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
    { quietMs: 3000 },
  );
  await delay(50);
  const t0 = performance.now();
  await httpd.shutdown();
  await serving;
  const took = performance.now() - t0;
  const ex = await client;
  assert.ok(ex.closed);
  assert.equal(ex.text, "");
  assert.ok(isConnectionError(failure), String(failure));
  assert.ok(took >= 250 && took < 2000, `shutdown took ${took} ms`);
  // The log line says the shutdown cut it, not what the close did to a read.
  const lost = QuietHandler.logs.filter((line) => line.includes("lost"));
  assert.equal(lost.length, 1, String(lost));
  assert.match(lost[0], /shutdownTimeout \(0\.3 s\)/);
  // Nor does the request's signal say the client went away.
  assert.equal((aborted as DOMException).name, "AbortError");
  assert.match((aborted as DOMException).message, /^The server closed/);
  await httpd[Symbol.asyncDispose]();
});
