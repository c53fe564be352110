// Copyright 2026 the basehttp authors. MIT license.
// The connection engine over the in-memory connection: no socket, no
// listener, no permission. Each test serves one connection through an
// unbound HTTPServer's processRequest, as the accept loop would.

import assert from "node:assert/strict";
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";
import type { HandlerClass, HTTPServerOptions } from "../mod.ts";
import {
  type MemoryConn,
  type MemoryConnOptions,
  memoryConnPair,
} from "../_memory_conn.ts";
import { SERVE_CONNECTION, SERVER_STATE } from "../_server_state.ts";
import {
  delay,
  latin1,
  parseResponses,
  QuietHandler,
  reply,
  within,
} from "./_util.ts";

const encoder = new TextEncoder();

interface Served {
  server: HTTPServer;
  client: MemoryConn;
  /** The server's processRequest, settled once the connection is served. */
  done: Promise<void>;
}

/** Serves one in-memory connection with `Handler`; the test is the client. */
function serve(
  Handler: HandlerClass,
  options: HTTPServerOptions = {},
  server = new HTTPServer(["127.0.0.1", 0], Handler, {
    bindAndActivate: false,
    ...options,
  }),
  connOptions: MemoryConnOptions = {},
): Served {
  const [client, conn] = memoryConnPair(connOptions);
  const done = server.processRequest(conn, ["127.0.0.1", 40000]);
  return { server, client, done };
}

/** Reads until `enough(text)` holds or the server closes. */
async function readUntil(
  client: MemoryConn,
  enough: (text: string) => boolean = () => false,
): Promise<{ text: string; closed: boolean }> {
  const buf = new Uint8Array(65536);
  let text = "";
  while (!enough(text)) {
    const n = await client.read(buf);
    if (n === null) return { text, closed: true };
    text += latin1(buf.subarray(0, n));
  }
  return { text, closed: false };
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

async function send(client: MemoryConn, text: string): Promise<void> {
  const bytes = encoder.encode(text);
  let at = 0;
  while (at < bytes.length) at += await client.write(bytes.subarray(at));
}

class Echo extends QuietHandler {
  async do_GET() {
    await reply(this, `path ${this.path}\n`);
  }

  async do_POST() {
    await reply(this, `got ${await this.rfile.text()}\n`);
  }

  async do_PUT() {
    await reply(this, "ignored the body\n");
  }
}

/**
 * Asks for /a, /b and /c in turn over one keep-alive connection, each
 * answered whole with the connection kept, waiting `pause` ms after each;
 * then ends the connection.
 */
async function getInTurn({ client, done }: Served, pause = 0): Promise<void> {
  for (const path of ["/a", "/b", "/c"]) {
    await send(client, `GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`);
    const { text, closed } = await readUntil(
      client,
      (t) => t.endsWith(`path ${path}\n`),
    );
    assert.equal(closed, false);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nKeep-Alive: timeout=5\r\n/);
    await delay(pause);
  }
  client.closeWrite();
  assert.equal((await readUntil(client)).closed, true);
  await done;
  client.close();
}

Deno.test("engine: keep-alive serves requests one after another on one connection", async () => {
  await getInTurn(serve(Echo));
});

Deno.test("engine: a socket that takes 5 bytes a write gets each response whole, and each flush ends", async () => {
  const server = new HTTPServer(["127.0.0.1", 0], Echo, {
    bindAndActivate: false,
    writeTimeout: 0.1,
  });
  // A flush never counted as ended would be taken for a stalled write.
  await getInTurn(serve(Echo, {}, server, { maxWriteSize: 5 }), 300);
});

Deno.test("engine: a client that resets while a response goes out 5 bytes a write ends its connection only", async () => {
  class Long extends QuietHandler {
    async do_GET() {
      await reply(this, "x".repeat(2000));
    }
  }
  const server = new HTTPServer(["127.0.0.1", 0], Long, {
    bindAndActivate: false,
  });
  const { client, done } = serve(Long, {}, server, { maxWriteSize: 5 });
  await send(client, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await client.read(new Uint8Array(10));
  client.reset();
  assert.equal(await within(done.then(() => "ended"), 2000), "ended");
  // The output's buffer is back in the pool: none of its size is out.
  const pool = server[SERVER_STATE].pool;
  const buffer = pool.take(4096, 1);
  assert.ok(buffer !== null, "the failed write kept its buffer");
  pool.release(buffer);
  const next = serve(Long, {}, server);
  await send(
    next.client,
    "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  const { text, closed } = await readUntil(next.client);
  assert.ok(closed);
  assert.ok(text.endsWith("x".repeat(2000)));
  await next.done;
  next.client.close();
});

Deno.test("engine: pipelined requests are answered in order, in one write", async () => {
  const { client, done } = serve(Echo);
  await send(
    client,
    "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  const buf = new Uint8Array(65536);
  const n = await client.read(buf);
  const first = latin1(buf.subarray(0, n!));
  const { text, closed } = await readUntil(client);
  assert.equal(closed, true);
  const bodies = parseResponses(first + text).map((r) => r.body);
  assert.deepEqual(bodies, ["path /1\n", "path /2\n", "path /3\n"]);
  assert.equal(text, "", "all three responses came in one read");
  await done;
  client.close();
});

// Heads with a fixed Server and Date, so that a test can expect their bytes.
class FixedHead extends QuietHandler {
  override serverVersion = "T/1";
  override sysVersion = "S/2";
  override dateTimeString(): string {
    return "Thu, 01 Jan 2026 00:00:00 GMT";
  }
}

Deno.test("engine: each response gets its own head, whether it repeats the one before or not", async () => {
  // The server copies a head that repeats the last one's strings: a changed
  // value, a longer head, or a Latin-1 one must still go out as written.
  const values: Record<string, string> = {
    "/a": "one",
    "/b": "two",
    "/long": "x".repeat(2000),
    "/latin": "caf\xe9",
  };
  class Heads extends FixedHead {
    async do_GET(): Promise<void> {
      this.sendResponse(200);
      this.sendHeader("X-Value", values[this.path]);
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  const { client, done } = serve(Heads);
  const head = (value: string) =>
    "HTTP/1.1 200 OK\r\nServer: T/1 S/2\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\n" +
    `X-Value: ${value}\r\nContent-Length: 0\r\nKeep-Alive: timeout=5\r\n\r\n`;
  for (
    const path of ["/a", "/a", "/b", "/a", "/long", "/a", "/latin", "/latin"]
  ) {
    await send(client, `GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`);
    const { text } = await readUntil(client, (t) => t.endsWith("\r\n\r\n"));
    assert.equal(text, head(values[path]), path);
  }
  client.closeWrite();
  await readUntil(client);
  await done;
  client.close();
});

Deno.test("engine: a head kept under its ETag is used only for the same head", async () => {
  // Heads are kept by ETag: the same tag with another field, another case
  // of the name, or between other heads must still go out as written.
  const fields: Record<string, [string, string, string]> = {
    "/1": ["ETag", '"1"', "a"],
    "/2": ["ETag", '"2"', "a"],
    "/1b": ["ETag", '"1"', "b"],
    "/lower": ["etag", '"1"', "a"],
  };
  class Tagged extends FixedHead {
    async do_GET(): Promise<void> {
      const [name, etag, value] = fields[this.path];
      this.sendResponse(200);
      this.sendHeader(name, etag);
      this.sendHeader("X-Value", value);
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
    }
  }
  const { client, done } = serve(Tagged);
  for (
    const path of ["/1", "/2", "/1", "/1b", "/1", "/lower", "/2", "/1b"]
  ) {
    const [name, etag, value] = fields[path];
    await send(client, `GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`);
    const { text } = await readUntil(client, (t) => t.endsWith("\r\n\r\n"));
    assert.equal(
      text,
      "HTTP/1.1 200 OK\r\nServer: T/1 S/2\r\n" +
        `Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n${name}: ${etag}\r\n` +
        `X-Value: ${value}\r\nContent-Length: 0\r\nKeep-Alive: timeout=5\r\n\r\n`,
      path,
    );
  }
  client.closeWrite();
  await readUntil(client);
  await done;
  client.close();
});

Deno.test("engine: an idle connection gives back a read buffer grown for a burst of requests", async () => {
  const server = new HTTPServer(["127.0.0.1", 0], Echo, {
    bindAndActivate: false,
  });
  const [client, conn] = memoryConnPair();
  const rooms: number[] = [];
  const read = conn.read.bind(conn);
  conn.read = (p) => {
    rooms.push(p.length);
    return read(p);
  };
  const done = server.processRequest(conn, ["127.0.0.1", 40000]);
  const big = `GET /big HTTP/1.1\r\nHost: h\r\nCookie: ${
    "c".repeat(660)
  }\r\n\r\n`;
  await send(client, big.repeat(64));
  await readUntil(client, (t) => count(t, "path /big\n") === 64);
  assert.ok(Math.max(...rooms) > 8192, `the burst grew the buffer: ${rooms}`);
  await send(client, "GET /small HTTP/1.1\r\nHost: h\r\n\r\n");
  await readUntil(client, (t) => t.endsWith("path /small\n"));
  await conn.whenReadWaits();
  assert.equal(rooms.at(-1), 1024, "the idle read has 1 KiB");
  client.close();
  await done;
});

Deno.test("engine: an unread body is drained, and the next request is served", async () => {
  const { client, done } = serve(Echo);
  await send(
    client,
    "PUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789" +
      "PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\n01234\r\n0\r\n\r\n" +
      "GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  const { text, closed } = await readUntil(client);
  assert.equal(closed, true);
  assert.deepEqual(
    parseResponses(text).map((r) => r.body),
    ["ignored the body\n", "ignored the body\n", "path /after\n"],
  );
  assert.equal(text.match(/Connection: close/g)?.length, 1); // the last's
  await done;
  client.close();
});

Deno.test("engine: chunk framing far larger than its data (long extensions) is not drained; one byte a chunk is", async () => {
  // Go's budget: 16 bytes of overhead a chunk and twice its data are free,
  // 16 KiB more in all. Here 30 bytes of data came with 120 KB of framing.
  const cases: [string, string[]][] = [
    [`1;${"a".repeat(4000)}\r\nx\r\n`.repeat(30), ["ignored the body\n"]],
    ["1\r\nx\r\n".repeat(1000), ["ignored the body\n", "path /after\n"]],
  ];
  for (const [framing, bodies] of cases) {
    const { client, done } = serve(Echo);
    await send(
      client,
      "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
        framing + "0\r\n\r\n" +
        "GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    const { text, closed } = await readUntil(client);
    assert.deepEqual(parseResponses(text).map((r) => r.body), bodies);
    assert.ok(closed);
    await done;
    client.close();
  }
});

class NoLength extends QuietHandler {
  async do_GET() {
    this.sendResponse(200);
    await this.endHeaders();
    await this.wfile.write("hello, ");
    await this.wfile.write("world");
  }
}

Deno.test("engine: a body left unread that will not be drained is answered with Connection: close", async () => {
  const cases = [
    // Past what is drained (64 KiB): the connection cannot be reused.
    "PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n0123456789",
    // (A body 100 Continue never asked for, which may or may not come, is
    // in "Expect: 100-continue is not sent when the handler answers
    // without the body": a 2xx head now sends the 100 first.)
    // A chunked body whose length shows only as the end drains it: more
    // than 64 KiB, so the head is said again before it goes out.
    "PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
    `8000\r\n${"x".repeat(0x8000)}\r\n`.repeat(3),
  ];
  for (const request of cases) {
    const { client, done } = serve(Echo);
    await send(client, request);
    const { text, closed } = await readUntil(client);
    const label = request.slice(0, 72);
    assert.match(text, /ignored the body\n$/, label);
    assert.match(text, /\r\nConnection: close\r\n/, label);
    assert.doesNotMatch(text, /Keep-Alive/, label);
    assert.ok(closed, label);
    await done;
    client.close();
  }
});

Deno.test("engine: a keep-alive response without Content-Length is sent chunked", async () => {
  const { client, done } = serve(NoLength);
  await send(client, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const { text } = await readUntil(client, (t) => t.endsWith("0\r\n\r\n"));
  assert.match(text, /\r\nTransfer-Encoding: chunked\r\n/);
  assert.ok(text.endsWith("\r\n\r\n7\r\nhello, \r\n5\r\nworld\r\n0\r\n\r\n"));
  // HTTP/1.0 cannot be chunked: the body ends with the connection.
  await send(client, "GET / HTTP/1.0\r\n\r\n");
  const old = await readUntil(client);
  assert.equal(old.closed, true);
  assert.ok(old.text.endsWith("\r\n\r\nhello, world"));
  await done;
  client.close();
});

Deno.test("engine: 100 Continue goes out before the body is read, not before", async () => {
  const { client, done } = serve(Echo);
  await send(
    client,
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
  );
  const interim = await readUntil(client, (t) => t.endsWith("\r\n\r\n"));
  assert.equal(interim.text, "HTTP/1.1 100 Continue\r\n\r\n");
  await send(client, "abc");
  const { text } = await readUntil(client, (t) => t.endsWith("got abc\n"));
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  client.closeWrite();
  await readUntil(client);
  await done;
  client.close();
});

class Throws extends QuietHandler {
  static errors: unknown[] = [];
  do_GET(): Promise<void> {
    if (this.path === "/ok") return reply(this, "fine\n");
    // A pipe to a child process or an upstream socket broke, not this
    // connection: the client still waits for an answer.
    if (this.path === "/pipe") throw new Deno.errors.BrokenPipe("upstream");
    throw new Error("boom");
  }
}

class ReportingServer extends HTTPServer {
  errors: unknown[] = [];
  override handleError(_c: unknown, _a: unknown, error: unknown): void {
    this.errors.push(error);
  }
}

Deno.test("engine: a handler that throws gets a 500 and handleError; the next connection is served", async () => {
  const server = new ReportingServer(["127.0.0.1", 0], Throws, {
    bindAndActivate: false,
  });
  const first = serve(Throws, {}, server);
  await send(first.client, "GET /bad HTTP/1.1\r\nHost: h\r\n\r\n");
  const failed = await readUntil(first.client);
  assert.match(failed.text, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
  assert.equal(failed.closed, true);
  assert.equal(server.errors.length, 1);
  assert.equal((server.errors[0] as Error).message, "boom");
  await first.done;
  first.client.close();

  const second = serve(Throws, {}, server);
  await send(
    second.client,
    "GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.match((await readUntil(second.client)).text, /fine\n$/);
  await second.done;
  second.client.close();
});

Deno.test("engine: a handleError that throws is reported to stderr; the client gets its 500 and the server goes on", async () => {
  class Fragile extends HTTPServer {
    override handleError(): void {
      throw new Error("handleError broke");
    }
    override shutdownRequest(connection: Deno.Conn): void {
      super.shutdownRequest(connection);
      throw new Error("shutdownRequest broke");
    }
  }
  const printed: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => printed.push(args);
  try {
    const server = new Fragile(["127.0.0.1", 0], Throws, {
      bindAndActivate: false,
    });
    for (const path of ["/bad", "/ok"]) {
      // As the accept loop serves a connection.
      const [client, conn] = memoryConnPair();
      const done = server[SERVE_CONNECTION](conn);
      await send(
        client,
        `GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`,
      );
      const { text } = await readUntil(client);
      if (path === "/bad") assert.match(text, /^HTTP\/1\.1 500 /);
      else assert.match(text, /fine\n$/);
      await done; // never rejects
      client.close();
    }
  } finally {
    console.error = consoleError;
  }
  const said = printed.map((args) => args.map(String).join(" ")).join("\n");
  assert.match(said, /handleError broke/);
  assert.match(said, /boom/); // what it was asked to report
  assert.match(said, /shutdownRequest broke/);
});

Deno.test("engine: a connection whose address cannot be read is reported and closed, and shutdown does not wait for it", async () => {
  const reported: unknown[] = [];
  class Reporting extends HTTPServer {
    override handleError(_c: unknown, _a: unknown, error: unknown): void {
      reported.push(error);
    }
  }
  const server = new Reporting(["127.0.0.1", 0], Throws, {
    bindAndActivate: false,
  });
  const [client, conn] = memoryConnPair();
  Object.defineProperty(conn, "remoteAddr", {
    get: () => {
      throw new Error("no address");
    },
  });
  await server[SERVE_CONNECTION](conn); // never rejects
  assert.match(String(reported[0]), /no address/);
  assert.equal(await client.read(new Uint8Array(1)), null); // closed
  client.close();
  await server[Symbol.asyncDispose]();
});

Deno.test("engine: a handler's own I/O error is a 500 and handleError; only this connection's loss closes in silence", async () => {
  const server = new ReportingServer(["127.0.0.1", 0], Throws, {
    bindAndActivate: false,
  });
  const { client, done } = serve(Throws, {}, server);
  await send(client, "GET /pipe HTTP/1.1\r\nHost: h\r\n\r\n");
  const failed = await readUntil(client);
  assert.match(failed.text, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
  assert.equal(server.errors.length, 1);
  assert.ok(server.errors[0] instanceof Deno.errors.BrokenPipe);
  await done;
  client.close();
});

Deno.test("engine: an error that is not HTTP's while the head is read reaches handleError, is logged, and gets a 500", async () => {
  const server = new ReportingServer(["127.0.0.1", 0], Echo, {
    bindAndActivate: false,
  });
  const [client, conn] = memoryConnPair();
  // A Deno.Conn-shaped object whose read fails as a bug would.
  const broken = {
    read: () => Promise.reject(new TypeError("a bug, not the client")),
    write: (p: Uint8Array) => conn.write(p),
    close: () => conn.close(),
    localAddr: conn.localAddr,
    remoteAddr: conn.remoteAddr,
  } as unknown as Deno.Conn;
  const logs = QuietHandler.logs.length;
  const done = server.processRequest(broken, ["127.0.0.1", 40000]);
  const { text, closed } = await readUntil(client);
  await done;
  client.close();
  assert.equal(closed, true);
  assert.match(text, /^HTTP\/1\.1 500 /);
  assert.equal(server.errors.length, 1);
  assert.ok(server.errors[0] instanceof TypeError);
  assert.ok(
    QuietHandler.logs.slice(logs).some((line) => line.includes("500")),
    "the 500 is logged",
  );
});

Deno.test("engine: a read that throws rather than rejects is answered as one that rejects", async () => {
  const server = new ReportingServer(["127.0.0.1", 0], Echo, {
    bindAndActivate: false,
  });
  const [client, conn] = memoryConnPair();
  // A Deno.Conn-shaped object whose read() is no async function: after the
  // first request it throws at once, as a bug would.
  let reads = 0;
  const broken = {
    read: (p: Uint8Array) => {
      if (reads++ === 0) return conn.read(p);
      throw new TypeError("a bug, not the client");
    },
    write: (p: Uint8Array) => conn.write(p),
    close: () => conn.close(),
    localAddr: conn.localAddr,
    remoteAddr: conn.remoteAddr,
  } as unknown as Deno.Conn;
  const done = server.processRequest(broken, ["127.0.0.1", 40000]);
  await send(client, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
  const { text, closed } = await readUntil(client);
  assert.equal(await done, undefined); // resolved: no traceback, no rejection
  client.close();
  assert.equal(closed, true);
  assert.match(text, /path \/a\n/);
  assert.match(text, /HTTP\/1\.1 500 /);
  assert.equal(server.errors.length, 1);
  assert.ok(server.errors[0] instanceof TypeError);
});

/** Writes "hello", waits past a sweep (which flushes it), then "world". */
class WritesInTwo extends QuietHandler {
  override protocolVersion = "HTTP/1.1";
  async do_GET() {
    this.sendResponse(200);
    this.sendHeader("Content-Length", "10");
    await this.endHeaders();
    await this.wfile.write("hello");
    await delay(150);
    await this.wfile.write("world");
  }
}

/**
 * A Deno.Conn-shaped object that serves `request` to its first read, then
 * answers reads with `read` and writes with `write`.
 */
function shapedConn(
  request: string,
  read: () => Promise<number | null>,
  write: (p: Uint8Array) => Promise<number>,
): { conn: Deno.Conn; closed: () => boolean } {
  let given = false;
  let closed = false;
  const conn = {
    read: (p: Uint8Array) => {
      if (given) return read();
      given = true;
      p.set(encoder.encode(request));
      return Promise.resolve(request.length);
    },
    write,
    close: () => {
      closed = true;
    },
  } as unknown as Deno.Conn;
  return { conn, closed: () => closed };
}

const never = () => new Promise<never>(() => {});

/** Whether the server is done with `conn`: true when it has served it. */
function serving(server: HTTPServer, conn: Deno.Conn): Promise<boolean> {
  return server.processRequest(conn, ["127.0.0.1", 40000]).then(() => true);
}

Deno.test("engine: a write that throws rather than rejects, in the sweep's flush, ends that connection only: nothing uncaught", async () => {
  const server = new ReportingServer(["127.0.0.1", 0], WritesInTwo, {
    bindAndActivate: false,
  });
  const { conn, closed } = shapedConn(
    "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    never,
    () => {
      throw new Deno.errors.BrokenPipe("a write that throws");
    },
  );
  assert.equal(await within(serving(server, conn), 2000), true);
  assert.ok(closed());
  server.close();
});

Deno.test("engine: a read that only ever resolves 0 ends the stream, with no endless loop", async () => {
  for (
    const request of [
      "GET / HTTP/1.1\r\nHost: h\r\n\r\n", // then 0 for the next head
      "GET / HTTP/1.1\r\nHost:", // 0 within the head
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nab", // in the body
    ]
  ) {
    const server = new ReportingServer(["127.0.0.1", 0], Echo, {
      bindAndActivate: false,
    });
    const { conn, closed } = shapedConn(
      request,
      () => Promise.resolve(0),
      (p) => Promise.resolve(p.length),
    );
    assert.equal(await within(serving(server, conn), 2000), true);
    assert.ok(closed(), request);
    server.close();
  }
});

Deno.test("engine: a head read that fails TimedOut (the kernel's, a dead peer) closes in silence, as a reset does", async () => {
  const server = new ReportingServer(["127.0.0.1", 0], Echo, {
    bindAndActivate: false,
  });
  let sent = "";
  const { conn, closed } = shapedConn(
    "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    () =>
      Promise.reject(
        new Deno.errors.TimedOut("Connection timed out (os error 110)"),
      ),
    (p) => {
      sent += latin1(p);
      return Promise.resolve(p.length);
    },
  );
  assert.equal(await within(serving(server, conn), 2000), true);
  assert.ok(closed());
  assert.deepEqual(server.errors, []);
  assert.match(sent, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(sent, / 500 /);
  server.close();
});

Deno.test("engine: a write that resolves 0 fails its flush (WriteZero), not an endless retry past writeTimeout", async () => {
  const server = new ReportingServer(["127.0.0.1", 0], Echo, {
    bindAndActivate: false,
    writeTimeout: 10,
  });
  let writes = 0;
  const { conn, closed } = shapedConn(
    "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    never,
    () => {
      writes++;
      return delay(5).then(() => 0);
    },
  );
  assert.equal(await within(serving(server, conn), 2000), true);
  assert.ok(closed());
  assert.equal(writes, 1);
  assert.deepEqual(server.errors, [], "a lost connection, not a bug");
  server.close();
});

/** Counts the handleOneRequest() calls that threw rather than rejected. */
class SendErrorThrows extends BaseHTTPRequestHandler {
  static syncThrows = 0;
  static rejections = 0;
  override protocolVersion = "HTTP/1.1";
  override logMessage(): void {}
  override sendError(): Promise<void> {
    throw new Error("an override that throws");
  }
  async do_GET() {
    await reply(this, "ok\n");
  }
  override async handle(): Promise<void> {
    this.closeConnection = true;
    do {
      let request: Promise<void>;
      try {
        request = this.handleOneRequest();
      } catch (error) {
        SendErrorThrows.syncThrows++;
        throw error;
      }
      await request.catch((error) => {
        SendErrorThrows.rejections++;
        throw error;
      });
    } while (!this.closeConnection);
  }
}

Deno.test("engine: handleOneRequest() rejects, never throws, when an override of sendError throws for a buffered bad head", async () => {
  const server = new ReportingServer(["127.0.0.1", 0], SendErrorThrows, {
    bindAndActivate: false,
  });
  const { client, done } = serve(SendErrorThrows, {}, server);
  // The second head is buffered when the first is answered: it is taken,
  // and refused, with no read in between.
  await send(
    client,
    "GET / HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n",
  );
  const { text, closed } = await readUntil(client);
  await done;
  // handle() rethrew, and processRequest reported it.
  assert.deepEqual(
    server.errors.map((error) => (error as Error).message),
    ["an override that throws"],
  );
  client.close();
  assert.match(text, /^HTTP\/1\.1 200 OK/);
  assert.equal(closed, true);
  assert.equal(SendErrorThrows.syncThrows, 0);
  assert.equal(SendErrorThrows.rejections, 1);
});

class ShadowsServer extends BaseHTTPRequestHandler {
  // What `override server!: MyServer` does under `deno run`, which does not
  // type-check: the field shadows `server` with undefined (`declare server:
  // MyServer` is the way). The engine does not depend on it.
  override server: HTTPServer = undefined as unknown as HTTPServer;
  override logMessage(): void {}
  async do_GET() {
    await reply(this, "ok\n");
  }
}

Deno.test("engine: a handler runs over any Deno.Conn-shaped object, with no listener", async () => {
  const server = new HTTPServer(["127.0.0.1", 0], ShadowsServer, {
    bindAndActivate: false,
  });
  assert.throws(() => server.listener, TypeError);
  const { client, done } = serve(ShadowsServer, {}, server);
  await send(client, "GET / HTTP/1.0\r\n\r\n");
  const { text, closed } = await readUntil(client);
  assert.equal(closed, true);
  assert.match(text, /^HTTP\/1\.0 200 OK\r\n/);
  await done;
  client.close();
});

Deno.test("engine: an empty line after a request starts no head: the idle timeout still applies", async () => {
  const { client, done } = serve(Echo, {
    keepAliveTimeout: 0.3,
    headerTimeout: 3,
  });
  const since = Date.now();
  // Some clients end a request with an extra CRLF (RFC 9112 §2.2).
  await send(client, "GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n");
  const { text, closed } = await readUntil(client);
  const took = Date.now() - since;
  assert.match(text, /path \/\n$/);
  assert.ok(closed);
  assert.ok(took < 1500, `closed after ${took} ms`);
  await done;
  client.close();
});

Deno.test("engine: a head begun after an idle wait has headerTimeout from its first bytes, whatever the idle timeout", async () => {
  // As Go's IdleTimeout, then ReadHeaderTimeout: with no idle timeout, or a
  // longer one, a later request's head trickled forever (or for the idle
  // timeout) once its first bytes came.
  for (const keepAliveTimeout of [null, 3]) {
    const { client, done } = serve(Echo, {
      keepAliveTimeout,
      headerTimeout: 0.3,
    });
    await send(client, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n");
    await readUntil(client, (text) => text.endsWith("path /a\n"));
    await delay(400); // idle, past the head timeout: no head yet
    const start = Date.now();
    await send(client, "GET /slow HTTP/1.1\r\nHost:");
    const { closed } = await readUntil(client);
    const took = Date.now() - start;
    assert.equal(closed, true);
    assert.ok(took >= 250 && took < 1000, `${keepAliveTimeout}: ${took} ms`);
    await done;
    client.close();
  }
});

Deno.test("engine: headerTimeout holds over the in-memory connection", async () => {
  const { client, done } = serve(Echo, { headerTimeout: 0.1 });
  const start = Date.now();
  await send(client, "GET / HTTP/1.1\r\nHost:");
  const { closed } = await readUntil(client);
  const took = Date.now() - start;
  assert.equal(closed, true);
  assert.ok(took >= 90 && took < 1000, `closed after ${took} ms`);
  await done;
  client.close();
});

class Framing extends QuietHandler {
  static fields: [string, string][] = [];
  static body = "0123456789abcdef";
  async do_GET() {
    this.sendResponse(200);
    for (const [name, value] of Framing.fields) this.sendHeader(name, value);
    await this.endHeaders();
    await this.wfile.write(Framing.body);
  }
}

Deno.test("engine: sendHeader refuses framing it cannot honour with a TypeError, answered 500", async () => {
  const cases: [string, string][][] = [
    [["Content-Length", "0x10"]],
    [["Content-Length", "-1"]],
    [["Content-Length", "abc"]],
    [["Content-Length", "1e1"]],
    [["Content-Length", ""]],
    [["Content-Length", "99999999999999999999"]],
    [["Content-Length", "16"], ["Content-Length", "16"]],
    [["Transfer-Encoding", "chunked"], ["Transfer-Encoding", "chunked"]],
    [["Content-Length", "16"], ["Transfer-Encoding", "chunked"]],
  ];
  for (const fields of cases) {
    Framing.fields = fields;
    const server = new ReportingServer(["127.0.0.1", 0], Framing, {
      bindAndActivate: false,
    });
    const { client, done } = serve(Framing, {}, server);
    await send(client, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    const { text, closed } = await readUntil(client);
    await done;
    client.close();
    const label = JSON.stringify(fields);
    assert.match(text, /^HTTP\/1\.1 500 /, label);
    assert.equal(count(text, "HTTP/1.1"), 1, label);
    assert.equal(closed, true, label);
    assert.ok(server.errors[0] instanceof TypeError, label);
  }
  // A plain decimal length is fine.
  Framing.fields = [["Content-Length", "16"]];
  const { client, done } = serve(Framing);
  await send(client, "GET / HTTP/1.0\r\n\r\n");
  assert.match(
    (await readUntil(client)).text,
    /^HTTP\/1\.1 200 .*0123456789abcdef$/s,
  );
  await done;
  client.close();
});

Deno.test("engine: a handler's own Transfer-Encoding keeps the connection only when it ends in chunked, to HTTP/1.1", async () => {
  const cases: [string, string, boolean][] = [
    ["HTTP/1.1", "gzip", false], // the body ends only at the close
    ["HTTP/1.1", "gzip, chunked", true],
    ["HTTP/1.0", "chunked", false], // a 1.0 client cannot read chunks
  ];
  // The handler's own chunks, whole.
  Framing.body = "10\r\n0123456789abcdef\r\n0\r\n\r\n";
  for (const [version, coding, kept] of cases) {
    Framing.fields = [["Transfer-Encoding", coding]];
    const { client, done } = serve(Framing);
    const keepAlive = version === "HTTP/1.0"
      ? "Connection: keep-alive\r\n"
      : "";
    const request = `GET / ${version}\r\nHost: h\r\n${keepAlive}\r\n`;
    await send(client, request + request);
    const { text, closed } = await readUntil(
      client,
      (text) => count(text, "0123456789abcdef") === 2,
    );
    const label = `${version} ${coding}`;
    assert.equal(count(text, "HTTP/1.1 200"), kept ? 2 : 1, label);
    assert.equal(closed, !kept, label);
    // Told: Connection: close to HTTP/1.1, no keep-alive to HTTP/1.0.
    assert.equal(/\r\nKeep-Alive: /.test(text), kept, label);
    if (version === "HTTP/1.1") {
      assert.equal(/\r\nConnection: close\r\n/.test(text), !kept, label);
    }
    if (kept) client.close();
    await done;
    if (!kept) client.close();
  }
  Framing.body = "0123456789abcdef";
});

Deno.test("engine: a handler's own chunked body keeps the connection only if it ends at its last chunk", async () => {
  const cases: [string, string, boolean][] = [
    ["whole", "10\r\n0123456789abcdef\r\n0\r\n\r\n", true],
    ["with trailers", "10;x=y\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n", true],
    ["no last chunk", "10\r\n0123456789abcdef\r\n", false],
    ["short chunk", "20\r\n0123456789abcdef", false],
    ["not chunks at all", "0123456789abcdef", false],
    ["bytes after the end", "10\r\n0123456789abcdef\r\n0\r\n\r\nzz", false],
  ];
  Framing.fields = [["Transfer-Encoding", "chunked"]];
  for (const [label, body, kept] of cases) {
    Framing.body = body;
    const { client, done } = serve(Framing);
    const request = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    await send(client, request + request);
    const { text, closed } = await readUntil(
      client,
      (text) => count(text, "0123456789abcdef") === 2,
    );
    // Never the next response read as chunk data: it is sent only after a
    // whole body.
    assert.equal(count(text, "HTTP/1.1 200"), kept ? 2 : 1, label);
    assert.equal(closed, !kept, label);
    client.close();
    await done;
  }
  Framing.fields = [];
  Framing.body = "0123456789abcdef";
});

Deno.test("engine: what a handler writes past its own last chunk, or after its chunks break, is dropped: never read as the next response", async () => {
  const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";
  const cases: [string, string, string][] = [
    ["after the end", "5\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\n"],
    ["broken", "5\r\nhelloXX0\r\n\r\n", "5\r\nhello"],
    // A bare LF would end a line for a lax client, not for the engine.
    ["bare LF in an extension", "0;x\n\r\n\r\n", "0;x"],
    ["bare LF in a trailer", "0\r\nT: 1\n\r\n", "0\r\nT: 1"],
    ["bare LF as the empty trailer line", "0\r\n\n", "0\r\n"],
  ];
  Framing.fields = [["Transfer-Encoding", "chunked"]];
  for (const [label, body, sent] of cases) {
    Framing.body = body + smuggled;
    const { client, done } = serve(Framing);
    const request = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    await send(client, request + request);
    const { text, closed } = await readUntil(client, () => false);
    assert.ok(closed, label);
    assert.equal(text.slice(text.indexOf("\r\n\r\n") + 4), sent, label);
    assert.equal(count(text, "HTTP/1.1 200"), 1, label);
    client.close();
    await done;
  }
  Framing.fields = [];
  Framing.body = "0123456789abcdef";
});

Deno.test("engine: bytes written before a head are not counted as its body, and the connection closes after it; a write into an open 1xx head is refused", async () => {
  const logged: string[] = [];
  class RawThenHead extends QuietHandler {
    override logError(format: string, ...args: unknown[]): void {
      logged.push(format);
      super.logError(format, ...args);
    }
    async do_GET() {
      if (this.path === "/interim") {
        this.sendResponseOnly(103);
        this.sendHeader("Link", "</a.css>; rel=preload");
        await assert.rejects(this.wfile.write("x"), /1xx head/);
        await this.endHeaders();
      } else await this.wfile.write("XYZ");
      this.sendResponse(200);
      // The handler's own keep-alive does not keep it either.
      this.sendHeader("Connection", "keep-alive");
      this.sendHeader("Content-Length", "2");
      await this.endHeaders();
      await this.wfile.write("ok");
    }
  }
  const { client, done } = serve(RawThenHead);
  const request = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  await send(client, request + request);
  const { text, closed } = await readUntil(client);
  assert.ok(closed, "closed after a response its raw bytes came before");
  assert.ok(text.startsWith("XYZHTTP/1.1 200 "), text);
  assert.ok(text.includes("\r\nConnection: close\r\n"), text);
  assert.ok(text.endsWith("\r\n\r\nok"), text);
  assert.deepEqual(logged, []);
  client.close();
  await done;
  // A 1xx head left open as the handler returns is no write: the request
  // still ends, with the answer for a handler that sent nothing.
  class OpenInterim extends QuietHandler {
    do_GET() {
      this.sendResponseOnly(103);
    }
  }
  const open = serve(OpenInterim);
  const errors: unknown[] = [];
  open.server.handleError = (_conn, _address, error) => errors.push(error);
  await send(open.client, request);
  const ended = await within(readUntil(open.client), 2000);
  assert.ok(ended !== null, "the request ended");
  open.client.close();
  await open.done;
  assert.deepEqual(errors, [], "no error of the engine's own");
  const interim = serve(RawThenHead);
  await send(interim.client, "GET /interim HTTP/1.1\r\nHost: h\r\n\r\n");
  const answer = await readUntil(interim.client, (t) => t.endsWith("ok"));
  assert.match(answer.text, /^HTTP\/1\.1 103 [^]*Link: [^]*HTTP\/1\.1 200 /);
  interim.client.close();
  await interim.done;
});

class OwnChunks extends QuietHandler {
  static pieces: string[] = [];
  async do_GET() {
    this.sendResponse(200);
    this.sendHeader("Transfer-Encoding", "chunked");
    await this.endHeaders();
    for (const piece of OwnChunks.pieces) await this.wfile.write(piece);
  }
  do_HEAD() {
    return this.do_GET();
  }
}

class OwnChunks10 extends OwnChunks {
  override protocolVersion = "HTTP/1.0";
}

Deno.test("engine: a handler's own chunks reach a client without chunks decoded, with no Transfer-Encoding (RFC 9112 §6.1)", async () => {
  // Python's way of streaming, split across writes anywhere.
  const whole = [
    "1",
    "0;x=y\r\n0123",
    "456789abcdef\r",
    "\n3\r\nxyz\r\n0\r\nT: 1\r\n",
    "\r\n",
  ];
  const cases: [string, typeof OwnChunks, string, string[], string][] = [
    [
      "HTTP/1.0 client",
      OwnChunks,
      "GET / HTTP/1.0",
      whole,
      "0123456789abcdefxyz",
    ],
    [
      "HTTP/1.0 handler",
      OwnChunks10,
      "GET / HTTP/1.1",
      whole,
      "0123456789abcdefxyz",
    ],
    ["HEAD", OwnChunks, "HEAD / HTTP/1.0", whole, ""],
    // Broken framing: what was data went out, the rest is dropped.
    ["broken", OwnChunks, "GET / HTTP/1.0", ["3\r\nabc\r\nzz\r\n"], "abc"],
    [
      "after the end",
      OwnChunks,
      "GET / HTTP/1.0",
      ["3\r\nabc\r\n0\r\n\r\nzz"],
      "abc",
    ],
  ];
  for (const [label, Handler, line, pieces, body] of cases) {
    OwnChunks.pieces = pieces;
    const { client, done } = serve(Handler);
    // Asked to persist, the GETs still end by the close.
    const persist = line.startsWith("GET") ? "Connection: keep-alive\r\n" : "";
    await send(client, `${line}\r\nHost: h\r\n${persist}\r\n`);
    const { text, closed } = await readUntil(client);
    await done;
    client.close();
    const [head, got] = text.split("\r\n\r\n");
    assert.match(head, /^HTTP\/1\.[01] 200 /, label);
    assert.doesNotMatch(head, /transfer-encoding|content-length/i, label);
    assert.doesNotMatch(head, /keep-alive/i, label); // delimited by the close
    assert.equal(got, body, label);
    assert.equal(closed, true, label);
  }
  // HTTP/1.1 both sides: passed as written.
  OwnChunks.pieces = whole;
  const { client, done } = serve(OwnChunks);
  await send(client, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  const { text } = await readUntil(client);
  await done;
  client.close();
  assert.match(text, /\r\nTransfer-Encoding: chunked\r\n/);
  assert.ok(text.endsWith("\r\n\r\n" + whole.join("")));
});

Deno.test("engine: a handler's Connection: keep-alive keeps only a connection the client would keep", async () => {
  Framing.fields = [["Content-Length", "16"], ["Connection", "keep-alive"]];
  const cases: [string, boolean][] = [
    ["GET / HTTP/1.1\r\nHost: h\r\n\r\n", true],
    ["GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true],
    // RFC 9112 §9.6: the server MUST close after a request with "close";
    // §9.3: an HTTP/1.0 request persists only with keep-alive.
    ["GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false],
    ["GET / HTTP/1.0\r\n\r\n", false],
  ];
  for (const [request, kept] of cases) {
    const { client, done } = serve(Framing);
    await send(client, request + request);
    const { text, closed } = await readUntil(
      client,
      (text) => count(text, "0123456789abcdef") === 2,
    );
    assert.equal(count(text, "HTTP/1.1 200"), kept ? 2 : 1, request);
    assert.equal(closed, !kept, request);
    client.close();
    await done;
  }
});

Deno.test("engine: a handler's Connection: keep-alive on a response the server closes becomes close, as Go's", async () => {
  // Each response has no framing that can keep the connection: it ends by
  // closing, so its head must not promise the connection (RFC 9112 §9.6).
  const gzip: [string, string] = ["Transfer-Encoding", "gzip"];
  const cases: [string, [string, string][]][] = [
    ["HTTP/1.0", [["Connection", "keep-alive"]]],
    ["HTTP/1.1", [["Connection", "keep-alive"], gzip]],
    ["HTTP/1.1", [["Connection", "Keep-Alive, Upgrade"], gzip]],
  ];
  for (const [version, fields] of cases) {
    Framing.fields = fields;
    const { client, done } = serve(Framing);
    await send(
      client,
      `GET / ${version}\r\nHost: h\r\nConnection: keep-alive\r\n\r\n`,
    );
    const { text, closed } = await readUntil(client);
    const label = `${version} ${JSON.stringify(fields)}`;
    assert.ok(closed, label);
    const head = text.slice(0, text.indexOf("\r\n\r\n"));
    assert.doesNotMatch(head, /keep-alive/i, label);
    assert.equal(
      /\r\nConnection: close(\r\n|$)/.test(head),
      version === "HTTP/1.1",
      label,
    );
    client.close();
    await done;
  }
});

Deno.test("engine: a first line that cannot begin a request is a 400 at once, not after headerTimeout", async () => {
  const cases: [string, RegExp][] = [
    // A TLS ClientHello, from a browser told https:// on a plain port.
    ["\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", /TLS handshake/],
    [" GET", /Bad request syntax/],
    ["(GET /", /Bad request syntax/],
    // After a request: the next one's first byte is judged as soon as it is here.
    ["GET /a HTTP/1.1\r\nHost: h\r\n\r\n\x16\x03\x01\x00", /TLS handshake/],
  ];
  for (const [bytes, reason] of cases) {
    const { client, done } = serve(Echo, { headerTimeout: 30 });
    await client.write(Uint8Array.from(bytes, (c) => c.charCodeAt(0)));
    const answer = await within(readUntil(client), 2000);
    assert.ok(answer !== null, `${JSON.stringify(bytes)}: no answer in 2 s`);
    assert.ok(answer.closed, JSON.stringify(bytes));
    assert.match(answer.text, /HTTP\/1\.1 400 /, JSON.stringify(bytes));
    assert.match(answer.text, reason, JSON.stringify(bytes));
    client.close();
    await done;
  }
});

Deno.test("engine: a refused request line is logged whole, as Python logs it", async () => {
  const cases: [string, string][] = [
    ["GARBAGE", '"GARBAGE" 400'],
    ["GET / HTTP/9.9", '"GET / HTTP/9.9" 505'],
    ["GET /x HTTP/1.1 extra", '"GET /x HTTP/1.1 extra" 400'],
    ["GET /x HTTP/1.x", '"GET /x HTTP/1.x" 400'],
    // Over maxRequestLine: not read whole, so not logged (Python's too).
    [`GET /${"a".repeat(70000)} HTTP/1.1`, `"" 414`],
  ];
  for (const [line, logged] of cases) {
    const lines: string[] = [];
    const { client, done } = serve(BaseHTTPRequestHandler, {
      logSink: (text) => lines.push(text),
    });
    await send(client, `${line}\r\nHost: h\r\n\r\n`);
    await readUntil(client);
    client.close();
    await done;
    assert.ok(
      lines.some((text) => text.includes(`] ${logged} `)),
      lines.join(""),
    );
  }
});

Deno.test("engine: pipelined requests to a client that reads nothing wait for the socket, though the handler waits on something", async () => {
  let handled = 0;
  const body = new Uint8Array(15000).fill(120);
  class Waits extends QuietHandler {
    async do_GET(): Promise<void> {
      await delay(0); // a file read, a database: the held batch goes out
      handled++;
      this.sendResponse(200);
      this.sendHeader("Content-Length", String(body.length));
      await this.endHeaders();
      await this.wfile.write(body);
    }
  }
  const { client, done } = serve(Waits);
  const requests = 300;
  await send(client, "GET / HTTP/1.1\r\nHost: h\r\n\r\n".repeat(requests));
  await delay(300);
  // 64 KiB fits the pipe: a handful of 15 KB responses, not all 300 queued.
  assert.ok(handled < 20, `${handled} requests answered into a full socket`);
  // Read, and every response comes.
  const { text } = await readUntil(
    client,
    (text) => count(text, "HTTP/1.1 200 ") === requests,
  );
  assert.equal(count(text, "HTTP/1.1 200 "), requests);
  client.close();
  await done;
});

/** Answers, then writes again after its request has ended (a bug). */
class Late extends QuietHandler {
  static how: "write" | "sendError" | "sendResponse" = "write";
  static refused: unknown[] = [];
  async do_GET() {
    await reply(this, "ok");
    if (this.path !== "/late") return;
    setTimeout(() => {
      const late = Late.how === "write"
        ? this.wfile.write("GARBAGE")
        : Late.how === "sendError"
        ? this.sendError(503)
        : Promise.resolve().then(() => this.sendResponse(204));
      late.catch((error) => Late.refused.push(error));
    }, 20);
  }
}

Deno.test("engine: a write after the response ended is dropped while the next request is awaited", async () => {
  for (const how of ["write", "sendError", "sendResponse"] as const) {
    Late.how = how;
    Late.refused = [];
    const logs = QuietHandler.logs.length;
    const { client, done } = serve(Late);
    await send(client, "GET /late HTTP/1.1\r\nHost: h\r\n\r\n");
    await delay(80);
    await send(
      client,
      "GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    const { text } = await readUntil(client);
    const responses = parseResponses(text);
    assert.deepEqual(
      responses.map((r) => [r.status, r.body]),
      [[200, "ok"], [200, "ok"]],
      `${how}: ${JSON.stringify(text)}`,
    );
    assert.equal(Late.refused.length, 1, how);
    assert.ok(
      Late.refused[0] instanceof TypeError,
      `${how}: ${Late.refused[0]}`,
    );
    assert.ok(
      QuietHandler.logs.slice(logs).some((l) =>
        l.includes("after its response")
      ),
      how,
    );
    client.close();
    await done;
  }
  // The last response of a connection that closes: the same.
  Late.how = "write";
  Late.refused = [];
  const logs = QuietHandler.logs.length;
  const { client, done } = serve(Late);
  await send(
    client,
    "GET /late HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  await readUntil(client);
  await done;
  await delay(60);
  client.close();
  assert.ok(Late.refused[0] instanceof TypeError, `${Late.refused[0]}`);
  assert.ok(
    QuietHandler.logs.slice(logs).some((l) => l.includes("after its response")),
  );
});

/** An override that breaks every error page it helps to build. */
class BadErrorPages extends QuietHandler {
  override sendResponse(code: number, message?: string): void {
    super.sendResponse(code, message);
    if (code >= 400) this.sendHeader("X-Bad", "a\nb"); // a TypeError
  }
  async do_GET() {
    if (this.path === "/throw") throw new Error("handler bug");
    await reply(this, "ok");
  }
}

Deno.test("engine: an error page that fails to build is reported and the connection closed, no half page", async () => {
  for (
    const request of ["GET /throw HTTP/1.1\r\nHost: h\r\n\r\n", "BAD\r\n\r\n"]
  ) {
    const server = new ReportingServer(["127.0.0.1", 0], BadErrorPages, {
      bindAndActivate: false,
    });
    const { client, done } = serve(BadErrorPages, {}, server);
    await send(client, request);
    const { text, closed } = await readUntil(client);
    await done;
    client.close();
    assert.ok(closed, request);
    assert.equal(text, "", `${request}: ${JSON.stringify(text)}`);
    assert.ok(
      server.errors.some((e) =>
        e instanceof TypeError && /X-Bad/.test(String(e))
      ),
      `${request}: ${server.errors}`,
    );
  }
});

Deno.test("engine: a HEAD whose first header line is over the limit gets its 431 without a body", async () => {
  for (const before of ["", "Host: h\r\n"]) {
    const logs = QuietHandler.logs.length;
    const { client, done } = serve(Echo);
    const request = `HEAD / HTTP/1.1\r\n${before}X-Foo: bar${
      "r".repeat(65537)
    }\r\nHost: h\r\n\r\n`;
    await send(client, request).catch(() => {}); // the server may close first
    const { text, closed } = await readUntil(client);
    client.close();
    await done;
    assert.ok(closed, JSON.stringify(before));
    assert.match(text, /^HTTP\/1\.1 431 /, JSON.stringify(before));
    assert.ok(text.endsWith("\r\n\r\n"), `${JSON.stringify(before)}: a body`);
    assert.ok(
      QuietHandler.logs.slice(logs).some((l) => l.includes("HEAD / HTTP/1.1")),
      QuietHandler.logs.slice(logs).join("\n"),
    );
  }
});

class Ticks extends QuietHandler {
  async do_GET() {
    this.sendResponse(200);
    await this.endHeaders(); // no Content-Length: the body ends at the close
    for (let i = 1; i <= 2; i++) {
      await this.wfile.write(`tick ${i}\n`);
      await delay(400); // a handler that waits on something else
    }
  }
}

Deno.test("engine: what a handler wrote goes out while it waits on something else, not when it ends", async () => {
  const { client, done } = serve(Ticks);
  await send(client, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  const since = Date.now();
  const first = await readUntil(client, (text) => text.includes("tick 1"));
  const took = Date.now() - since;
  assert.match(first.text, /^HTTP\/1\.1 200 OK\r\n/);
  // Within a sweep (50 ms), long before the handler ends.
  assert.ok(took < 250, `the first tick came after ${took} ms`);
  const rest = await readUntil(client);
  assert.match(first.text + rest.text, /\r\n\r\ntick 1\ntick 2\n$/);
  await done;
  client.close();
});

class Big extends QuietHandler {
  static size = 4 << 20;
  static logged: (number | string)[] = [];
  override logRequest(_code?: number | string, size?: number | string) {
    Big.logged.push(size ?? "-");
  }
  async do_GET() {
    this.sendResponse(200);
    this.sendHeader("Content-Length", String(Big.size));
    await this.endHeaders();
    await this.wfile.write(new Uint8Array(Big.size)); // one write, one flush
  }
  do_HEAD() {
    return this.do_GET();
  }
}

/** Serves like `serve`, with the pair's own options (buffer sizes). */
function serveWith(
  Handler: HandlerClass,
  options: HTTPServerOptions,
  conn: Parameters<typeof memoryConnPair>[0],
): Served {
  const server = new HTTPServer(["127.0.0.1", 0], Handler, {
    bindAndActivate: false,
    ...options,
  });
  const [client, side] = memoryConnPair(conn);
  return { server, client, done: server.processRequest(side, ["h", 1]) };
}

Deno.test("engine: writeTimeout times the lack of progress, so a slow, steady reader gets a large write whole", async () => {
  const { client, done } = serveWith(Big, { writeTimeout: 0.2 }, {
    highWaterMark: 65536,
  });
  await send(client, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  const buf = new Uint8Array(65536);
  let total = 0;
  const start = Date.now();
  while (true) {
    const n = await client.read(buf);
    if (n === null) break;
    total += n;
    await new Promise((r) => setTimeout(r, 5)); // about 10 MB/s
  }
  const took = Date.now() - start;
  await done;
  client.close();
  assert.ok(took > 300, `the transfer took ${took} ms, over writeTimeout`);
  assert.ok(total > Big.size, `got ${total} bytes`);
});

Deno.test("engine: the access log counts the body bytes the client took, not those written", async () => {
  Big.logged = [];
  const { client, done } = serveWith(Big, {}, { highWaterMark: 65536 });
  await send(client, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  const buf = new Uint8Array(100);
  await client.read(buf);
  client.reset();
  await done;
  assert.equal(Big.logged.length, 1);
  const logged = Number(Big.logged[0]);
  assert.ok(logged >= 0 && logged <= 2 * 65536, `logged ${logged}`);
  // A response sent whole logs its whole length.
  Big.logged = [];
  const whole = serveWith(Big, {}, {});
  await send(whole.client, "GET / HTTP/1.0\r\n\r\n");
  await readUntil(whole.client);
  await whole.done;
  whole.client.close();
  assert.deepEqual(Big.logged, [Big.size]);
  // What a HEAD response drops is not counted.
  Big.logged = [];
  const head = serveWith(Big, {}, {});
  await send(head.client, "HEAD / HTTP/1.0\r\n\r\n");
  await readUntil(head.client);
  await head.done;
  head.client.close();
  assert.deepEqual(Big.logged, [0]);
});

class Upload extends QuietHandler {
  async do_POST() {
    await reply(this, `got ${(await this.rfile.bytes()).length}\n`);
  }
}

Deno.test("engine: a body that trickles below minBodyRate is cut once the grace has passed; an honest one passes", async () => {
  const options = { minBodyRate: 1000, minBodyRateGrace: 0.3 };
  const slow = serve(Upload, options);
  await send(
    slow.client,
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n",
  );
  const start = Date.now();
  let cut = false;
  for (let i = 0; i < 100 && !cut; i++) {
    await new Promise((r) => setTimeout(r, 50)); // 20 bytes a second
    cut = await slow.client.write(new Uint8Array(1)).then(
      () => false,
      () => true,
    );
  }
  const { closed } = await readUntil(slow.client);
  const took = Date.now() - start;
  await slow.done;
  slow.client.close();
  assert.ok(closed);
  assert.ok(took >= 300 && took < 1500, `cut after ${took} ms`);

  const honest = serve(Upload, options);
  await send(
    honest.client,
    "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10000\r\nConnection: close\r\n\r\n",
  );
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 50)); // 20 kB a second
    await send(honest.client, "x".repeat(1000));
  }
  assert.match((await readUntil(honest.client)).text, /got 10000\n$/);
  await honest.done;
  honest.client.close();
});

Deno.test("engine: a head that ends in CR and then a byte other than LF is a 400 at once, not a wait", async () => {
  const { client, done } = serve(Echo, { headerTimeout: 2 });
  const start = Date.now();
  await send(
    client,
    "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\rabc",
  );
  const { text, closed } = await readUntil(client);
  const took = Date.now() - start;
  await done;
  client.close();
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.ok(closed);
  assert.ok(took < 1000, `answered after ${took} ms`);
});

Deno.test("engine: a body shorter than its Content-Length is logged, as a longer one is, and the connection closes", async () => {
  const logged: string[] = [];
  class Short extends QuietHandler {
    override protocolVersion = "HTTP/1.1";
    override logError(format: string, ...args: unknown[]): void {
      logged.push(
        format.replace("%d", String(args[0])).replace(
          "%d",
          String(args[1]),
        ),
      );
    }
    async do_GET() {
      this.sendResponse(200);
      this.sendHeader("Content-Length", this.path === "/long" ? "2" : "10");
      await this.endHeaders();
      await this.wfile.write("abc");
    }
  }
  for (const path of ["/short", "/long"]) {
    const { client, done } = serve(Short);
    await send(client, `GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`);
    const { closed } = await readUntil(client);
    assert.ok(closed, path);
    client.close();
    await done;
  }
  assert.deepEqual(logged, [
    "response body shorter than its Content-Length (3 of 10 bytes)",
    "response body longer than its Content-Length (2)",
  ]);
});
