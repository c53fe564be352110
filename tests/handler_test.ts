// Copyright 2026 the basehttp authors. MIT license.
// What needs a real socket: the timing of bytes on the wire. The handler's
// API and the engine's behaviour are tested in handler_api_test.ts.
import assert from "node:assert/strict";
import { BaseHTTPRequestHandler } from "../mod.ts";
import {
  delay,
  parseResponses,
  QuietHandler,
  reply,
  startServer,
} from "./_util.ts";

Deno.test("dateTimeString() formats a timestamp like Python's formatdate(usegmt=True)", () => {
  const h = Object.create(
    BaseHTTPRequestHandler.prototype,
  ) as BaseHTTPRequestHandler;
  assert.equal(h.dateTimeString(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  assert.equal(h.dateTimeString(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT");
});

class Continue extends QuietHandler {
  async do_PUT() {
    await reply(this, `got ${await this.rfile.text()}`);
  }
}

// The body is sent only once the 100 arrived: testClient.raw() sends all
// its bytes at once.
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

// When the first response arrives matters: testClient.raw() returns only
// once both are written.
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

/** Sends its 200 head first, then streams the body back as it reads it. */
class HeadFirst extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
  override logMessage(): void {}
  async do_PUT(): Promise<void> {
    this.sendResponse(200);
    await this.endHeaders(); // chunked: no Content-Length
    for await (const chunk of this.rfile) await this.wfile.write(chunk);
  }
}

Deno.test("Expect: 100-continue with a 2xx head sent before the body is read: 100 Continue goes first, so a client that waits for it sends the body", async () => {
  await using s = startServer(HeadFirst, { bodyTimeout: 2 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
  try {
    await conn.write(new TextEncoder().encode(
      "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n" +
        "Expect: 100-continue\r\n\r\n",
    ));
    // As node:http does: the body only once 100 Continue has come.
    const buf = new Uint8Array(4096);
    let text = "";
    const waited = Date.now();
    while (
      !text.includes("100 Continue\r\n\r\n") && Date.now() - waited < 1500
    ) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    await conn.write(new TextEncoder().encode("hello"));
    while (!text.includes("0\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.match(text, /100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\n5\r\nhello\r\n0\r\n\r\n$/);
  } finally {
    conn.close();
  }
});
