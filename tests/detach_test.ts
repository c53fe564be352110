// Copyright 2026 the basehttp authors. MIT license.
// this.detach(): a CONNECT tunnel, another protocol after the head, and a
// connection the server no longer counts, waits for or closes.

import assert from "node:assert/strict";
import type { DetachedConnection } from "../handler.ts";
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An upstream that echoes every byte, for the tunnel. */
function echoUpstream(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn.readable.pipeTo(conn.writable).catch(() => {}));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await accepting;
      await Promise.all(conns);
    },
  };
}

/** Reads until `text` has come, returning all that came. */
async function readUntil(conn: Deno.Conn, text: string): Promise<string> {
  let got = "";
  const buf = new Uint8Array(4096);
  while (!got.includes(text)) {
    const n = await conn.read(buf);
    if (n === null) break;
    got += decoder.decode(buf.subarray(0, n));
  }
  return got;
}

Deno.test("a CONNECT tunnel: 200 with no framing header, then the bytes both ways", async () => {
  const upstream = echoUpstream();
  const tunnels: Promise<void>[] = [];
  class Proxy extends QuietHandler {
    async do_CONNECT(): Promise<void> {
      const [hostname, port] = this.path.split(":");
      const up = await Deno.connect({ hostname, port: Number(port) });
      this.sendResponse(200, "Connection Established");
      await this.endHeaders();
      const { conn, buffered } = await this.detach();
      await writeAll(up, buffered);
      tunnels.push(
        Promise.all([
          conn.readable.pipeTo(up.writable),
          up.readable.pipeTo(conn.writable),
        ]).then(() => {}, () => {}),
      );
    }
  }
  await using srv = startServer(Proxy);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  const target = `127.0.0.1:${upstream.port}`;
  // The tunnel's first bytes come in the same write as the head.
  await writeAll(
    conn,
    encoder.encode(
      `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nearly;`,
    ),
  );
  const got = await readUntil(conn, "early;");
  const head = got.slice(0, got.indexOf("\r\n\r\n") + 4);
  const [response] = parseResponses(head);
  assert.equal(response.status, 200);
  assert.equal(response.get("transfer-encoding"), undefined);
  assert.equal(response.get("content-length"), undefined);
  assert.equal(got.slice(head.length), "early;");
  await writeAll(conn, encoder.encode("later"));
  assert.equal(await readUntil(conn, "later"), "later");
  conn.close();
  await Promise.all(tunnels);
  await upstream.close();
});

Deno.test("a 2xx to CONNECT goes out with no Content-Length or Transfer-Encoding, whatever the handler sent, and ends as a tunnel", async () => {
  // A client takes the bytes after a 2xx to CONNECT as the tunnel's and
  // ignores framing fields (RFC 9112 §6.3), so a server that kept them
  // would read the client's tunnel bytes as its next request.
  const framings = [["Content-Length", "5"], ["Transfer-Encoding", "chunked"]];
  for (const [name, value] of framings) {
    class Framed extends QuietHandler {
      async do_CONNECT(): Promise<void> {
        this.sendResponse(200, "Connection Established");
        this.sendHeader(name, value);
        await this.endHeaders();
        await this.wfile.write("hello");
      }
    }
    await using srv = startServer(Framed);
    const { text, closed } = await exchange(
      srv.port,
      "CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    const head = text.slice(0, text.indexOf("\r\n\r\n") + 4);
    const [response] = parseResponses(head);
    assert.equal(response.status, 200, name);
    assert.equal(response.get("content-length"), undefined, name);
    assert.equal(response.get("transfer-encoding"), undefined, name);
    // What the handler wrote, as tunnel bytes, then the close: the bytes
    // the client sent after its CONNECT are not read as a request.
    assert.equal(text.slice(head.length), "hello", name);
    assert.ok(closed, name);
  }
});

Deno.test("a 101 answers only a request that offered Upgrade (RFC 9110 §7.8): else a TypeError, never on the wire", async () => {
  let refused: unknown;
  class Switcher extends QuietHandler {
    async do_GET(): Promise<void> {
      this.sendResponse(101, "Switching Protocols");
      this.sendHeader("Upgrade", "shout");
      refused = await Promise.resolve().then(() => this.endHeaders()).catch(
        (error) => error,
      );
      this.sendResponse(200);
      this.sendHeader("Content-Length", "2");
      await this.endHeaders();
      await this.wfile.write("ok");
    }
  }
  await using srv = startServer(Switcher);
  const { text } = await exchange(
    srv.port,
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
  );
  assert.ok(refused instanceof TypeError, String(refused));
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(text.endsWith("\r\n\r\nok"), text);
});

Deno.test("another protocol after a 101: the handler owns the connection", async () => {
  const sessions: Promise<void>[] = [];
  class Upgrader extends QuietHandler {
    async do_GET(): Promise<void> {
      this.sendResponse(101, "Switching Protocols");
      this.sendHeader("Upgrade", "shout");
      this.sendHeader("Connection", "Upgrade");
      await this.endHeaders();
      const { conn, buffered } = await this.detach();
      // The handler returns; the session goes on without the server.
      sessions.push((async () => {
        let text = decoder.decode(buffered);
        const buf = new Uint8Array(1024);
        while (!text.endsWith("\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          text += decoder.decode(buf.subarray(0, n));
        }
        await writeAll(conn, encoder.encode(text.toUpperCase()));
        conn.close();
      })());
    }
  }
  await using srv = startServer(Upgrader);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  await writeAll(
    conn,
    encoder.encode("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: shout\r\n\r\nhel"),
  );
  await delay(50);
  await writeAll(conn, encoder.encode("lo\n"));
  const { text, closed } = await readAll(conn, 2000);
  conn.close();
  assert.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.ok(text.endsWith("\r\n\r\nHELLO\n"), text);
  assert.ok(closed);
  await Promise.all(sessions);
});

Deno.test("shutdown() neither waits for nor closes a detached connection", async () => {
  let detached!: (d: DetachedConnection) => void;
  const taken = new Promise<DetachedConnection>((resolve) =>
    detached = resolve
  );
  let returned!: () => void;
  const handlerDone = new Promise<void>((resolve) => returned = resolve);
  class Taker extends QuietHandler {
    async do_GET(): Promise<void> {
      detached(await this.detach());
      // The handler may run on for as long as it likes.
      await delay(300);
      returned();
    }
  }
  const srv = startServer(Taker, { shutdownTimeout: 10 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const { conn: theirs } = await taken;
  const started = Date.now();
  await srv.server.shutdown();
  assert.ok(
    Date.now() - started < 200,
    `shutdown took ${Date.now() - started} ms`,
  );
  srv.server.close();
  // Still open, both ways.
  await writeAll(theirs, encoder.encode("after"));
  assert.equal(await readUntil(conn, "after"), "after");
  await writeAll(conn, encoder.encode("back"));
  assert.equal(await readUntil(theirs, "back"), "back");
  theirs.close();
  conn.close();
  await srv[Symbol.asyncDispose]();
  await handlerDone;
});

Deno.test("a detached connection frees its maxConnections slot", async () => {
  const held: DetachedConnection[] = [];
  class Mixed extends QuietHandler {
    async do_GET(): Promise<void> {
      if (this.path === "/detach") {
        held.push(await this.detach());
        return;
      }
      await reply(this, "served");
    }
  }
  await using srv = startServer(Mixed, { maxConnections: 1 });
  const first = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  await writeAll(
    first,
    encoder.encode("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n"),
  );
  while (held.length === 0) await delay(10);
  const response = await within(
    fetch(`http://127.0.0.1:${srv.port}/`).then((r) => r.text()),
    2000,
  );
  assert.equal(response, "served");
  held[0].conn.close();
  first.close();
});

Deno.test("detach() once this.signal watches the connection is refused", async () => {
  class Late extends QuietHandler {
    async do_GET(): Promise<void> {
      void this.signal; // starts the read that watches the client
      await this.detach();
    }
  }
  await using srv = startServer(Late, { logSink: () => {} });
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  assert.equal(response.status, 500);
  await response.body?.cancel();
});

Deno.test("shutdown() does not wait for a connection detached during its grace", async () => {
  const detached = Promise.withResolvers<Deno.Conn>();
  class Tunnel extends QuietHandler {
    async do_CONNECT(): Promise<void> {
      await delay(200); // dialling upstream while the shutdown begins
      this.sendResponse(200, "Connection Established");
      await this.endHeaders();
      const { conn } = await this.detach();
      detached.resolve(conn);
      // The tunnel goes on inside the handler until the client closes it.
      const buf = new Uint8Array(1024);
      while (await conn.read(buf).catch(() => null) !== null) {
        // Nothing to relay here.
      }
    }
  }
  await using srv = startServer(Tunnel, { shutdownTimeout: 5 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  await writeAll(
    client,
    encoder.encode("CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n"),
  );
  await delay(50);
  const started = Date.now();
  await within(srv.server.shutdown(), 3000);
  const took = Date.now() - started;
  client.close();
  (await detached.promise).close();
  assert.ok(took < 1000, `shutdown() took ${took} ms`);
});
