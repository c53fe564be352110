// Copyright 2026 the basehttp authors. MIT license.
// Faults a server must survive: slowloris heads, many idle keep-alive
// connections, clients that vanish mid-response, handlers that throw at
// every stage, and a 1 GiB chunked upload in flat memory. Everything is on
// 127.0.0.1, bounded in count and time, and stops by itself.
import assert from "node:assert/strict";
import {
  delay,
  exchange,
  parseResponses,
  QuietHandler,
  readAll,
  reply,
  startServer,
  within,
  writeAll,
} from "./_util.ts";
import { isConnectionError } from "../_connection.ts";

const encoder = new TextEncoder();

class Hello extends QuietHandler {
  async do_GET() {
    await reply(this, "hello");
  }
}

/** Connects `count` clients, `batch` at a time (the listen queue is finite). */
async function connectMany(
  port: number,
  count: number,
  batch = 100,
): Promise<Deno.TcpConn[]> {
  const conns: Deno.TcpConn[] = [];
  while (conns.length < count) {
    const n = Math.min(batch, count - conns.length);
    conns.push(
      ...await Promise.all(
        Array.from(
          { length: n },
          () => Deno.connect({ hostname: "127.0.0.1", port }),
        ),
      ),
    );
  }
  return conns;
}

/** Resolves with the time the server closed `conn` (EOF or reset). */
async function closedAt(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(4096);
  try {
    while (await conn.read(buf) !== null) {
      // Drain whatever the server says before it closes.
    }
  } catch (error) {
    if (!isConnectionError(error)) throw error;
  }
  return performance.now();
}

/** Times one complete request on a fresh connection, in milliseconds. */
async function timedRequest(port: number): Promise<number> {
  const t0 = performance.now();
  const ex = await exchange(
    port,
    "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    { quietMs: 2000 },
  );
  const took = performance.now() - t0;
  assert.equal(parseResponses(ex.text)[0]?.body, "hello");
  return took;
}

Deno.test("fault: 500 slowloris heads neither delay other clients nor outlive headerTimeout", async () => {
  // Two seconds, so that on a loaded machine the 500 connections' setup
  // leaves time for normal requests before the heads time out.
  const HEADER_TIMEOUT = 2;
  await using s = startServer(Hello, { headerTimeout: HEADER_TIMEOUT });
  const started = performance.now();
  const loris = await connectMany(s.port, 500);
  const closes = loris.map(closedAt);
  const open = new Set(loris);
  closes.forEach((p, i) => p.finally(() => open.delete(loris[i])));
  // A head that never ends: a few bytes now, one more every 100 ms.
  await Promise.all(
    loris.map((c) => writeAll(c, encoder.encode("GET / HTTP/1.1\r\nHo"))),
  );
  const trickle = setInterval(() => {
    for (const c of open) c.write(encoder.encode("x")).catch(() => {});
  }, 100);
  try {
    // Normal clients, one after another, while the heads hang.
    const latencies: number[] = [];
    while (performance.now() - started < HEADER_TIMEOUT * 1000 * 0.8) {
      latencies.push(await timedRequest(s.port));
      await delay(25);
    }
    assert.ok(latencies.length >= 3, `${latencies.length} requests`);
    assert.ok(
      Math.max(...latencies) < 500,
      `latencies ${latencies.map(Math.round)}`,
    );
    // Every slowloris connection is closed after the head timeout, not before.
    const times = await within(
      Promise.all(closes),
      HEADER_TIMEOUT * 1000 + 4000,
    );
    assert.ok(times !== null, `${open.size} still open`);
    const first = Math.min(...times) - started;
    const last = Math.max(...times) - started;
    console.log(
      `slowloris: ${latencies.length} normal requests, max ${
        Math.round(Math.max(...latencies))
      } ms; 500 heads closed ${Math.round(first)}–${Math.round(last)} ms`,
    );
    assert.ok(first >= HEADER_TIMEOUT * 1000 - 100, `first closed at ${first}`);
    assert.ok(last < HEADER_TIMEOUT * 1000 + 3000, `last closed at ${last}`);
    assert.ok((await timedRequest(s.port)) < 500);
  } finally {
    clearInterval(trickle);
    for (const c of loris) c.close();
    await Promise.allSettled(closes);
  }
});

Deno.test("fault: 1,000 idle keep-alive connections are held, then closed by keepAliveTimeout", async () => {
  const IDLE = 1;
  await using s = startServer(Hello, { keepAliveTimeout: IDLE });
  const conns = await connectMany(s.port, 1000);
  const request = encoder.encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const buf = new Uint8Array(4096);
  const sent: number[] = [];
  const answered: number[] = [];
  try {
    // One request each, answered, and the connection kept.
    await Promise.all(conns.map(async (c, i) => {
      sent[i] = performance.now();
      await writeAll(c, request);
      let text = "";
      while (!text.endsWith("hello")) {
        const n = await c.read(buf);
        assert.ok(n !== null, "closed before the response");
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      answered[i] = performance.now();
    }));
    assert.equal(answered.filter((t) => t > 0).length, 1000);
    const closes = conns.map(closedAt);
    // Held, and others still served (that none closed before its own idle
    // timeout is checked per connection below: on a loaded machine the
    // first answered are idle for a second before the last is).
    await delay(IDLE * 1000 * 0.5);
    assert.ok((await timedRequest(s.port)) < 500);
    // Then every one is closed by the server.
    const times = await within(Promise.all(closes), IDLE * 1000 + 4000);
    assert.ok(times !== null, "idle connections outlived keepAliveTimeout");
    // The server's idle clock starts after the request was sent and before
    // the client read the answer: bound it from both sides.
    const atLeast = times.map((t, i) => t - sent[i]);
    const atMost = times.map((t, i) => t - answered[i]);
    console.log(
      `1,000 idle: closed after ${Math.round(Math.min(...atMost))}–${
        Math.round(Math.max(...atLeast))
      } ms idle`,
    );
    assert.ok(
      Math.min(...atLeast) >= IDLE * 1000 - 5,
      `closed ${Math.min(...atLeast)} ms after the request`,
    );
    assert.ok(Math.max(...atMost) < IDLE * 1000 + 3000);
  } finally {
    for (const c of conns) c.close();
  }
});

Deno.test("fault: a client that disconnects mid-response leaves no rejection, no leak, and the server serves on", async () => {
  const rejections: unknown[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    rejections.push(e.reason);
    e.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const outcomes: string[] = [];
  let done!: () => void;
  const handled = new Promise<void>((r) => done = r);
  let pending = 2;
  class Big extends QuietHandler {
    async do_GET() {
      if (this.path === "/small") return await reply(this, "small");
      const piece = new Uint8Array(65536);
      const chunked = this.path === "/chunked";
      this.sendResponse(200);
      if (!chunked) this.sendHeader("Content-Length", String(64 << 20));
      try {
        await this.endHeaders();
        for (let i = 0; i < 1024; i++) await this.wfile.write(piece);
        outcomes.push("completed");
      } catch (error) {
        outcomes.push(isConnectionError(error) ? "lost" : String(error));
        throw error;
      } finally {
        if (--pending === 0) done();
      }
    }
  }
  const errors: unknown[] = [];
  try {
    await using s = startServer(Big);
    s.server.handleError = (_c, _a, error) => {
      errors.push(error);
    };
    for (const path of ["/length", "/chunked"]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
      await writeAll(
        conn,
        encoder.encode(`GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`),
      );
      const buf = new Uint8Array(65536);
      let got = 0;
      while (got < 256 * 1024) got += (await conn.read(buf)) ?? Infinity;
      conn.close(); // gone, mid-body
    }
    await within(handled, 5000);
    assert.deepEqual(outcomes, ["lost", "lost"]);
    // A lost client is not a handler error.
    assert.deepEqual(errors, []);
    const ok = await exchange(s.port, "GET /small HTTP/1.0\r\n\r\n");
    assert.equal(parseResponses(ok.text)[0]?.body, "small");
  } finally {
    await delay(0);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  assert.deepEqual(rejections, []);
});

/** Streams `total` bytes in 64 KiB writes, recording how the writes end. */
function streamer(total: number, outcome: (took: number, how: string) => void) {
  return class Streamer extends QuietHandler {
    async do_GET() {
      if (this.path === "/small") return await reply(this, "small");
      const piece = new Uint8Array(65536).fill(97);
      this.sendResponse(200);
      this.sendHeader("Content-Length", String(total));
      const t0 = performance.now();
      try {
        await this.endHeaders();
        for (let sent = 0; sent < total; sent += piece.length) {
          await this.wfile.write(piece);
        }
        outcome(performance.now() - t0, "completed");
      } catch (error) {
        outcome(performance.now() - t0, isConnectionError(error) ? "cut" : "?");
        throw error;
      }
    }
  };
}

Deno.test("fault: a client that stops reading is cut off after writeTimeout", async () => {
  let result!: (r: [number, string]) => void;
  const ended = new Promise<[number, string]>((r) => result = r);
  // More than loopback's socket buffers hold, so the writes must stall.
  const Streamer = streamer(256 << 20, (took, how) => result([took, how]));
  await using s = startServer(Streamer, { writeTimeout: 0.3 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const logged = QuietHandler.logs.length;
  try {
    await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    const outcome = await within(ended, 5000); // never reading meanwhile
    assert.ok(outcome !== null, "the stalled writes outlived writeTimeout");
    const [took, how] = outcome;
    assert.equal(how, "cut");
    assert.ok(took >= 300 && took < 2000, `cut off after ${took} ms`);
    await delay(20);
    // The log says which timeout, not the close's "operation canceled".
    assert.match(
      QuietHandler.logs.slice(logged).join("\n"),
      /Request timed out: .*no bytes for writeTimeout \(0\.3 s\)/,
    );
  } finally {
    conn.close();
  }
  const ok = await exchange(s.port, "GET /small HTTP/1.0\r\n\r\n");
  assert.equal(parseResponses(ok.text)[0]?.body, "small");
});

Deno.test("fault: a slow, steady reader gets a body that takes many times writeTimeout", async () => {
  let result!: (r: [number, string]) => void;
  const ended = new Promise<[number, string]>((r) => result = r);
  const total = 32 << 20;
  const Streamer = streamer(total, (took, how) => result([took, how]));
  await using s = startServer(Streamer, { writeTimeout: 0.5 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"));
    const buf = new Uint8Array(65536);
    let got = 0;
    // 64 KiB every 4 ms at most: 2 s or more for 32 MiB (and the head).
    while (got <= total) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
      await delay(4);
    }
    const outcome = await within(ended, 5000);
    assert.ok(outcome !== null, "the handler never finished");
    const [took, how] = outcome;
    assert.equal(how, "completed");
    assert.ok(took > 900, `the body took ${took} ms, not many writeTimeouts`);
    assert.ok(got > total, "the whole body (and head) arrived");
  } finally {
    conn.close();
  }
});

Deno.test("fault: time the server spends writing does not count against the next head's timeout", async () => {
  const big = 8 << 20; // more than loopback's socket buffers hold
  class Held extends QuietHandler {
    async do_GET() {
      if (this.path === "/b") return await reply(this, "b");
      this.sendResponse(200);
      this.sendHeader("Content-Length", String(big + 4));
      await this.endHeaders();
      // Not awaited: the tail is held for the next response and flushed
      // before the next read, behind 8 MiB the client is not reading yet.
      void this.wfile.write(new Uint8Array(big).fill(97));
      void this.wfile.write("tail");
    }
  }
  await using s = startServer(Held, { headerTimeout: 0.3, writeTimeout: 5 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    await writeAll(
      conn,
      encoder.encode("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHo"),
    );
    await delay(100);
    await writeAll(conn, encoder.encode("st: h\r\n\r\n")); // on time
    await delay(600); // the server is still writing /a meanwhile
    const { text } = await readAll(conn, 1000);
    const [a, b] = parseResponses(text);
    assert.equal(a?.body.length, big + 4);
    assert.ok(a.body.endsWith("atail"));
    assert.equal(b?.body, "b");
  } finally {
    try {
      conn.close();
    } catch {
      // readAll() closed it to cancel its pending read.
    }
  }
});

class Thrower extends QuietHandler {
  async do_GET() {
    if (this.path === "/early") throw new Error("before any output");
    this.sendResponse(200);
    if (this.path === "/length") this.sendHeader("Content-Length", "200000");
    await this.endHeaders();
    await this.wfile.write(new Uint8Array(100000).fill(120));
    await this.wfile.flush();
    throw new Error("after a flush");
  }
}

Deno.test("fault: a handler that throws after part of its response went out closes the connection, unfinished", async () => {
  await using s = startServer(Thrower);
  const errors: string[] = [];
  s.server.handleError = (_c, _a, error) => {
    errors.push((error as Error).message);
  };
  const probe = "GET /early HTTP/1.1\r\nHost: h\r\n\r\n";
  // Chunked: the body stops without its last chunk, and no 500 follows.
  const chunked = await exchange(
    s.port,
    "GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n" + probe,
    { quietMs: 2000 },
  );
  assert.ok(chunked.closed);
  assert.match(chunked.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(chunked.text, /Transfer-Encoding: chunked\r\n/);
  assert.ok(chunked.text.endsWith("x".repeat(1000) + "\r\n"));
  assert.equal(chunked.text.includes("0\r\n\r\n"), false);
  assert.equal(chunked.text.includes("500"), false);
  // Content-Length: fewer bytes than declared, then the close.
  const length = await exchange(
    s.port,
    "GET /length HTTP/1.1\r\nHost: h\r\n\r\n" + probe,
    { quietMs: 2000 },
  );
  assert.ok(length.closed);
  const body = length.text.slice(length.text.indexOf("\r\n\r\n") + 4);
  assert.equal(body.length, 100000);
  // Before any output: a 500 and the close.
  const early = await exchange(s.port, probe + probe, { quietMs: 2000 });
  assert.equal(parseResponses(early.text).length, 1);
  assert.match(early.text, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
  assert.ok(early.closed);
  assert.deepEqual(errors, [
    "after a flush",
    "after a flush",
    "before any output",
  ]);
});

Deno.test("fault: a handler that throws after earlier pipelined responses went out still gets its 500", async () => {
  class Pipelined extends QuietHandler {
    async do_GET() {
      await reply(this, "ok");
    }
    async do_POST() {
      await this.rfile.bytes();
      throw new Error("after reading the body");
    }
  }
  await using s = startServer(Pipelined);
  s.server.handleError = () => {};
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    // The POST's body is not there yet: reading it sends the GET's response.
    await writeAll(
      conn,
      encoder.encode(
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n" +
          "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n",
      ),
    );
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    assert.match(
      new TextDecoder().decode(buf.subarray(0, n!)),
      /^HTTP\/1\.1 200 /,
    );
    await writeAll(conn, encoder.encode("abc"));
    const { text, closed } = await readAll(conn, 2000);
    const rs = parseResponses(text);
    assert.deepEqual(rs.map((r) => r.status), [500]);
    assert.ok(closed);
  } finally {
    try {
      conn.close();
    } catch {
      // readAll() closed it.
    }
  }
});

Deno.test("fault: a 1 GiB chunked upload streams through rfile in flat memory", async () => {
  const TOTAL = 1 << 30;
  let received = -1;
  let sum = 0;
  let peak = 0;
  class Upload extends QuietHandler {
    async do_POST() {
      const p = new Uint8Array(65536);
      let total = 0;
      let n: number | null;
      let nextSample = 0;
      while ((n = await this.rfile.read(p)) !== null) {
        let s = sum;
        for (let i = 0; i < n; i++) s = (s + p[i]) | 0;
        sum = s >>> 0;
        total += n;
        if (total >= nextSample) {
          peak = Math.max(peak, Deno.memoryUsage().rss);
          nextSample += 64 << 20;
        }
      }
      received = total;
      await reply(this, String(total));
    }
  }
  await using s = startServer(Upload, { limits: { maxBodySize: TOTAL } });
  // Chunks of several sizes, the last one trimmed to land on exactly 1 GiB.
  const pattern = new Uint8Array(65536).map((_, i) => (i * 31 + 7) & 0xff);
  const prefix = new Uint32Array(pattern.length + 1);
  pattern.forEach((b, i) => prefix[i + 1] = prefix[i] + b);
  const frames = new Map<number, Uint8Array>();
  const frame = (size: number) => {
    let f = frames.get(size);
    if (f === undefined) {
      const head = encoder.encode(size.toString(16) + "\r\n");
      f = new Uint8Array(head.length + size + 2);
      f.set(head);
      f.set(pattern.subarray(0, size), head.length);
      f.set([13, 10], head.length + size);
      frames.set(size, f);
    }
    return f;
  };
  const sizes = [65536, 65535, 4097, 17, 32768];
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  const before = Deno.memoryUsage().rss;
  const started = performance.now();
  let expected = 0;
  try {
    await writeAll(
      conn,
      encoder.encode(
        "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
      ),
    );
    let sent = 0;
    for (let i = 0; sent < TOTAL; i++) {
      const size = Math.min(sizes[i % sizes.length], TOTAL - sent);
      await writeAll(conn, frame(size));
      expected = (expected + prefix[size]) >>> 0;
      sent += size;
    }
    await writeAll(conn, encoder.encode("0\r\n\r\n"));
    const { text } = await readAll(conn, 10000);
    assert.equal(parseResponses(text)[0]?.body, String(TOTAL));
  } finally {
    try {
      conn.close();
    } catch {
      // readAll() closed it.
    }
  }
  const took = performance.now() - started;
  const growth = (Math.max(peak, Deno.memoryUsage().rss) - before) / 2 ** 20;
  console.log(
    `1 GiB chunked upload: ${Math.round(took)} ms, RSS growth ${
      growth.toFixed(1)
    } MiB`,
  );
  assert.equal(received, TOTAL);
  assert.equal(sum, expected);
  assert.ok(growth < 64, `RSS grew ${growth.toFixed(1)} MiB`);
  assert.ok(took < 20000, `took ${took} ms`);
});
