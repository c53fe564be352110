// Copyright 2026 the basehttp authors. MIT license.
import assert from "node:assert/strict";
import { BaseHTTPRequestHandler, HTTPServer, percentFormat } from "../mod.ts";
import { serveTest, testClient } from "../testing.ts";
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
import { hasOpenssl, withCertificate } from "./_tls.ts";

class Hello extends QuietHandler {
  async do_GET() {
    await reply(this, "hello");
  }
}

Deno.test("HTTPServer binds at construction; port 0 gives a real port", async () => {
  await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
  assert.ok(httpd.serverPort > 0);
  assert.deepEqual(httpd.serverAddress, ["127.0.0.1", httpd.serverPort]);
  assert.equal(httpd.serverName, "127.0.0.1");
  // Already listening: a client can connect before any loop runs.
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: httpd.serverPort,
  });
  conn.close();
});

Deno.test("HTTPServer rejects bad arguments with TypeError and RangeError", () => {
  assert.throws(() => new HTTPServer(["127.0.0.1", 70000], Hello), RangeError);
  assert.throws(
    () => new HTTPServer(["127.0.0.1", 0], Hello, { headerTimeout: -1 }),
    RangeError,
  );
  assert.throws(
    // @ts-expect-error: not a class
    () => new HTTPServer(["127.0.0.1", 0], null),
    TypeError,
  );
});

Deno.test("handleRequest() serves exactly one connection, to its end", async () => {
  await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
  const port = httpd.serverPort;
  const first = exchange(
    port,
    "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  await httpd.handleRequest();
  const rs = parseResponses((await first).text);
  assert.equal(rs.length, 2);
  // The loop from the Python docs: while (keepRunning()) handleRequest().
  let served = 0;
  const clients = [1, 2, 3].map(() => exchange(port, "GET / HTTP/1.0\r\n\r\n"));
  while (served < 3) {
    await httpd.handleRequest();
    served++;
  }
  for (const c of await Promise.all(clients)) {
    assert.equal(parseResponses(c.text)[0].body, "hello");
  }
});

Deno.test("handleRequest() calls handleTimeout() when timeout passes first", async () => {
  let timeouts = 0;
  class Timed extends HTTPServer {
    override handleTimeout() {
      timeouts++;
    }
  }
  await using httpd = new Timed(["127.0.0.1", 0], Hello);
  httpd.timeout = 0.05;
  const started = performance.now();
  await httpd.handleRequest();
  assert.equal(timeouts, 1);
  assert.ok(performance.now() - started >= 45);
  // A connection that arrives later is still accepted by the next call.
  const client = exchange(httpd.serverPort, "GET / HTTP/1.0\r\n\r\n");
  httpd.timeout = 5;
  await httpd.handleRequest();
  assert.equal(parseResponses((await client).text)[0].body, "hello");
  assert.equal(timeouts, 1);
});

Deno.test("a connection that arrives after handleRequest() timed out is served by the next call, not lost", async () => {
  await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
  let timeouts = 0;
  httpd.handleTimeout = () => {
    timeouts++;
  };
  httpd.timeout = 0.05;
  await httpd.handleRequest();
  assert.equal(timeouts, 1);
  // Between two calls (the loop doing other work), a client connects.
  const client = exchange(httpd.serverPort, "GET / HTTP/1.0\r\n\r\n", {
    quietMs: 2000,
  });
  await delay(100);
  httpd.timeout = 2;
  await httpd.handleRequest();
  assert.equal(timeouts, 1);
  assert.equal(parseResponses((await client).text)[0].body, "hello");
});

Deno.test("serveForever() serves connections concurrently; shutdown() resolves when it stops", async () => {
  const httpd = new HTTPServer(["127.0.0.1", 0], Hello);
  const serving = httpd.serveForever(0.05);
  // An idle keep-alive connection must not block another client.
  const idle = await Deno.connect({
    hostname: "127.0.0.1",
    port: httpd.serverPort,
  });
  await writeAll(
    idle,
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
  );
  const other = await exchange(httpd.serverPort, "GET / HTTP/1.0\r\n\r\n");
  assert.equal(parseResponses(other.text)[0].body, "hello");
  await httpd.shutdown();
  await serving;
  // The idle connection was closed by the shutdown.
  const rest = await readAll(idle, 1000);
  assert.ok(rest.closed);
  try {
    idle.close();
  } catch { /* readAll may have closed it */ }
  httpd.close();
});

Deno.test("shutdown() lets an in-flight request finish", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  class Slow extends QuietHandler {
    async do_GET() {
      await gate;
      await reply(this, "done");
    }
  }
  const httpd = new HTTPServer(["127.0.0.1", 0], Slow);
  const serving = httpd.serveForever(0.05);
  const client = exchange(
    httpd.serverPort,
    "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    { quietMs: 2000 },
  );
  await delay(50);
  const stopped = httpd.shutdown();
  await delay(50);
  release();
  await stopped;
  await serving;
  const ex = await client;
  assert.equal(parseResponses(ex.text)[0].body, "done");
  assert.match(ex.text, /Connection: close/);
  assert.ok(ex.closed);
  httpd.close();
});

Deno.test("shutdown() refuses new connections while in-flight requests finish, as Go's; serveForever() listens again", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  class Slow extends QuietHandler {
    async do_GET() {
      if (this.path === "/slow") await gate;
      await reply(this, "done");
    }
  }
  await using httpd = new HTTPServer(["127.0.0.1", 0], Slow, {
    shutdownTimeout: 5,
  });
  const port = httpd.serverPort;
  const serving = httpd.serveForever(0.05);
  const slow = exchange(port, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n", {
    quietMs: 3000,
  });
  await delay(50);
  const stopped = httpd.shutdown();
  await delay(50);
  // Refused at once: a proxy then tries another upstream. Left in the
  // backlog, it would wait for the drain and then be reset.
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
  release();
  await stopped;
  await serving;
  assert.equal(parseResponses((await slow).text)[0].body, "done");
  const again = httpd.serveForever(0.05);
  const response = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await response.text(), "done");
  await httpd.shutdown();
  await again;
});

Deno.test('serverBind() by hand after a shutdown(), then serveForever(): serves, no "Already bound"', async () => {
  await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
  const port = httpd.serverPort;
  const first = httpd.serveForever(0.05);
  await httpd.shutdown();
  await first;
  // Closed by the shutdown, and the error says what listens again.
  assert.throws(() => httpd.listener, /closed by shutdown\(\)/);
  // A bind that fails (the port taken meanwhile) leaves it to listen again.
  const squatter = Deno.listen({ hostname: "127.0.0.1", port });
  assert.throws(() => httpd.serverBind(), Deno.errors.AddrInUse);
  squatter.close();
  assert.throws(() => httpd.listener, /closed by shutdown\(\)/);
  httpd.serverBind(); // Python's order: bind, then serve_forever()
  assert.equal(httpd.serverPort, port);
  const again = httpd.serveForever(0.05);
  const response = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(await response.text(), "hello");
  await httpd.shutdown();
  await again;
  httpd.close();
  assert.throws(() => httpd.listener, /^TypeError: The server is closed$/);
  // Not a loop that returns at once, silently: Python's raises too.
  assert.throws(
    () => httpd.serveForever(),
    /^TypeError: The server is closed$/,
  );
  await assert.rejects(
    httpd.handleRequest(),
    /^TypeError: The server is closed$/,
  );
});

/**
 * Writes `head` and `size` body bytes as a proxy does: the whole body, and a
 * failed write ends it (nginx then answers 502 without reading the answer).
 * @returns "all sent", or the name of the write's error.
 */
function sendWhole(
  conn: Deno.Conn,
  head: string,
  size: number,
): Promise<string> {
  return (async () => {
    await writeAll(conn, new TextEncoder().encode(head));
    const chunk = new Uint8Array(65536);
    for (let sent = 0; sent < size; sent += chunk.length) {
      await writeAll(conn, chunk);
    }
    return "all sent";
  })().catch((error) => error.name);
}

Deno.test("a body left unread is read and dropped before the close: a client still sending gets no EPIPE or reset", async () => {
  class Reject extends QuietHandler {
    async do_POST() {
      // Answered without reading a byte, as a too-large upload is.
      this.sendResponse(413);
      this.sendHeader("Content-Length", "8");
      await this.endHeaders();
      await this.wfile.write("too big\n");
    }
  }
  await using httpd = new HTTPServer(["127.0.0.1", 0], Reject);
  const serving = httpd.serveForever(0.05);
  const size = 8 * 1024 * 1024;
  for (let i = 0; i < 3; i++) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: httpd.serverPort,
    });
    const writing = sendWhole(
      conn,
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n\r\n`,
      size,
    );
    const { text } = await readAll(conn, 5000);
    assert.match(text, /^HTTP\/1\.1 413 [^]*too big\n$/);
    assert.equal(await writing, "all sent");
    conn.close();
  }
  // A client that leaves its body half sent holds no shutdown for the linger.
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: httpd.serverPort,
  });
  await writeAll(
    conn,
    new TextEncoder().encode(
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n\r\nxyz`,
    ),
  );
  assert.ok((await readAll(conn, 5000)).closed);
  const t0 = performance.now();
  await httpd.shutdown();
  await serving;
  const took = performance.now() - t0;
  assert.ok(took < 1000, `shutdown took ${took.toFixed(0)} ms`);
  conn.close();
});

Deno.test("a head refused with its body still coming lingers too: the client gets its 413 or 400, not EPIPE", async () => {
  await using httpd = new HTTPServer(["127.0.0.1", 0], Hello, {
    limits: { maxStreamedBodySize: 1_000_000 },
  });
  const serving = httpd.serveForever(0.05);
  const size = 8 * 1024 * 1024;
  const heads = [
    // Past the limit, refused before a byte of the body is read.
    [413, `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n\r\n`],
    // Framing that cannot be trusted (RFC 9112 §6.1).
    [
      400,
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${size}\r\n` +
      "Transfer-Encoding: chunked\r\n\r\n",
    ],
  ] as const;
  for (const [status, head] of heads) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: httpd.serverPort,
    });
    const writing = sendWhole(conn, head, size);
    const { text } = await readAll(conn, 5000);
    assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
    assert.equal(await writing, "all sent", String(status));
    conn.close();
  }
  await httpd.shutdown();
  await serving;
});

Deno.test("handleRequest() on a server never bound rejects with a TypeError that says so", async () => {
  const httpd = new HTTPServer(["127.0.0.1", 0], Hello, {
    bindAndActivate: false,
  });
  await assert.rejects(httpd.handleRequest(), {
    name: "TypeError",
    message: /call serverBind\(\)/,
  });
  httpd.close(); // and no rejection left behind for close() to leak
});

Deno.test("a shutdown() asked before serveForever() runs ends it at once, as in Python; a later one serves", async () => {
  // A signal handler may fire while the server is still starting.
  await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
  await httpd.shutdown();
  const first = await within(
    httpd.serveForever(0.05).then(() => "ended"),
    1000,
  );
  assert.equal(first, "ended");
  const serving = httpd.serveForever(0.05);
  const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/`);
  assert.equal(await response.text(), "hello");
  await httpd.shutdown();
  await serving;
});

Deno.test("the server's timeouts by default: 30 s for a head and a body read, 5 s idle, 60 s without a written byte (nginx's send_timeout)", () => {
  const httpd = new HTTPServer(["127.0.0.1", 0], Hello, {
    bindAndActivate: false,
  });
  assert.equal(httpd.headerTimeout, 30);
  assert.equal(httpd.keepAliveTimeout, 5);
  assert.equal(httpd.bodyTimeout, 30);
  assert.equal(httpd.writeTimeout, 60);
  httpd.close();
});

/** Counts its serviceActions() calls. */
class Busy extends HTTPServer {
  calls = 0;
  override serviceActions() {
    this.calls++;
  }
}

Deno.test("serviceActions() runs every poll interval of serveForever()", async () => {
  const httpd = new Busy(["127.0.0.1", 0], Hello);
  const serving = httpd.serveForever(0.02);
  await delay(150);
  await httpd.shutdown();
  await serving;
  httpd.close();
  const { calls } = httpd;
  assert.ok(calls >= 3, `called ${calls} times`);
});

Deno.test("serviceActions() runs after each connection serveForever() accepts too, as Python's loop", async () => {
  const httpd = new Busy(["127.0.0.1", 0], Hello);
  const serving = httpd.serveForever(60); // no poll comes in this test
  for (let i = 0; i < 3; i++) {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: httpd.serverPort,
    });
    await conn.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
    const buf = new Uint8Array(1024);
    while (await conn.read(buf) !== null) { /* the whole response */ }
    conn.close();
  }
  await httpd.shutdown();
  await serving;
  httpd.close();
  const { calls } = httpd;
  assert.equal(calls, 3);
});

Deno.test("serviceActions(): a throw, sync or async, is reported and serving goes on; calls never overlap", async () => {
  let calls = 0;
  let running = 0;
  let most = 0;
  class Flaky extends HTTPServer {
    override serviceActions(): void | Promise<void> {
      calls++;
      if (calls === 1) throw new Error("sync boom"); // ended the process
      if (calls === 2) return Promise.reject(new Error("async boom"));
      running++;
      most = Math.max(most, running);
      return delay(60).then(() => void running--);
    }
  }
  const lines: string[] = [];
  const httpd = new Flaky(["127.0.0.1", 0], Hello, {
    logSink: (line: string) => lines.push(line),
  });
  const serving = httpd.serveForever(0.01);
  await delay(300);
  const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/`);
  assert.equal(await response.text(), "hello");
  await httpd.shutdown();
  await serving;
  httpd.close();
  assert.ok(lines.some((line) => line.includes("sync boom")));
  assert.ok(lines.some((line) => line.includes("async boom")));
  assert.ok(calls >= 4, `called ${calls} times`);
  assert.equal(most, 1); // as Python's loop: one call at a time
});

Deno.test("verifyRequest() returning false closes the connection unserved", async () => {
  class Picky extends HTTPServer {
    override verifyRequest() {
      return false;
    }
  }
  const httpd = new Picky(["127.0.0.1", 0], Hello);
  const serving = httpd.serveForever(0.05);
  const ex = await exchange(httpd.serverPort, "GET / HTTP/1.0\r\n\r\n");
  assert.equal(ex.text, "");
  assert.ok(ex.closed);
  await httpd.shutdown();
  await serving;
  httpd.close();
});

Deno.test("HTTPServer serves on a Unix socket path", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/http.sock`;
  try {
    await using s = { ...startUnix(path) };
    const conn = await Deno.connect({ transport: "unix", path });
    await writeAll(conn, new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
    const ex = await readAll(conn, 1000);
    try {
      conn.close();
    } catch { /* closed by readAll */ }
    assert.equal(parseResponses(ex.text)[0].body, "hello");
    assert.equal(s.httpd.serverAddress, path);
    // A client's socket has no name: it is "unix:", as nginx's
    // $remote_addr gives it, so a log line keeps its first field.
    assert.deepEqual(s.logged, ['unix: - - "GET / HTTP/1.0" 200 5']);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function startUnix(path: string) {
  const logged: string[] = [];
  class Logged extends Hello {
    override logMessage(format: string, ...args: unknown[]): void {
      logged.push(
        `${this.addressString()} - - ${percentFormat(format, args)}`,
      );
    }
  }
  const httpd = new HTTPServer(path, Logged);
  const serving = httpd.serveForever(0.05);
  return {
    httpd,
    logged,
    async [Symbol.asyncDispose]() {
      await httpd.shutdown();
      await serving;
      httpd.close();
    },
  };
}

// testClient.raw() returns as soon as the server waits idle, so it cannot
// wait for this close.
Deno.test("an idle keep-alive connection is closed after keepAliveTimeout", async () => {
  await using s = startServer(Hello, { keepAliveTimeout: 0.2 });
  const started = performance.now();
  const ex = await exchange(s.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", {
    quietMs: 3000,
  });
  const took = performance.now() - started;
  assert.equal(parseResponses(ex.text)[0].body, "hello");
  assert.ok(ex.closed);
  assert.ok(took >= 150 && took < 2000, `closed after ${took} ms`);
});

Deno.test("HTTPServer refuses limits that are not positive integers", () => {
  for (
    const limits of [{ maxHeaders: Infinity }, { maxRequestLine: 0 }, {
      maxHeaders: null as unknown as number,
    }, { maxBodySize: -1 }]
  ) {
    assert.throws(
      () => new HTTPServer(["127.0.0.1", 0], Hello, { limits }),
      RangeError,
      JSON.stringify(limits),
    );
  }
});

/** Connects and sends one keep-alive GET, leaving the connection open. */
async function sendOne(port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(
    conn,
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
  );
  return conn;
}

for (
  const how of [
    "shutdown()",
    "asyncDispose",
    "testClient close()",
    "serveTest close()",
  ]
) {
  Deno.test(`${how} waits for handler code past its cut connection, but only another shutdownTimeout`, async () => {
    const release = Promise.withResolvers<void>();
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => entered = resolve);
    class Stuck extends QuietHandler {
      async do_GET(): Promise<void> {
        entered();
        await release.promise; // a lock, a fetch without a signal, …
      }
    }
    const lines: string[] = [];
    const options = {
      shutdownTimeout: 0.2,
      logSink: (line: string) => lines.push(line),
    };
    let stop: () => Promise<void>;
    let after: () => void | Promise<void> = () => {};
    if (how === "testClient close()") {
      const client = testClient(Stuck, options);
      void client.raw("GET / HTTP/1.1\r\nHost: h\r\n\r\n").catch(() => {});
      stop = () => client.close();
    } else if (how === "serveTest close()") {
      const server = serveTest(Stuck, options);
      const conn = await sendOne(server.port);
      stop = () => server.close();
      after = () => conn.close();
    } else {
      const httpd = new HTTPServer(["127.0.0.1", 0], Stuck, options);
      const serving = httpd.serveForever(0.05);
      const conn = await sendOne(httpd.serverPort);
      stop = how === "shutdown()"
        ? () => httpd.shutdown()
        : () => httpd[Symbol.asyncDispose]();
      after = async () => {
        await serving;
        httpd.close();
        conn.close();
      };
    }
    await inHandler;
    const since = performance.now();
    const stopped = await within(stop().then(() => true), 3000);
    const took = performance.now() - since;
    release.resolve();
    await after();
    await new Promise((resolve) => setTimeout(resolve, 20)); // the handler ends
    assert.equal(stopped, true, `${how} never resolved`);
    assert.ok(took < 1500, `${took} ms`);
    assert.ok(
      lines.some((line) => /1 handler still running/.test(line)),
      lines.join("\n"),
    );
  });
}

Deno.test("a handler that calls shutdown() without awaiting it answers, and serveForever returns", async () => {
  class Quit extends QuietHandler {
    async do_POST(): Promise<void> {
      this.sendResponse(202);
      this.sendHeader("Content-Length", "0");
      await this.endHeaders();
      void this.server.shutdown(); // awaited, it would wait for itself
    }
  }
  const httpd = new HTTPServer(["127.0.0.1", 0], Quit);
  const serving = httpd.serveForever(0.05);
  const since = performance.now();
  const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/quit`, {
    method: "POST",
  });
  await response.body?.cancel();
  assert.equal(response.status, 202);
  await serving;
  const took = performance.now() - since;
  assert.ok(took < 1000, `serveForever returned after ${took} ms`);
  await httpd[Symbol.asyncDispose]();
});

Deno.test({
  name:
    "HTTPS: a corrupt TLS record in a request body is one log line, not a traceback and a 500",
  ignore: !hasOpenssl,
  async fn() {
    await withCertificate(async ({ cert, key }) => {
      class Echo extends BaseHTTPRequestHandler {
        override protocolVersion = "HTTP/1.1";
        async do_POST() {
          await reply(this, await this.rfile.text());
        }
      }
      const lines: string[] = [];
      await using srv = startServer(Echo, {
        tls: { cert, key },
        logSink: (line) => lines.push(line),
      });
      // A TCP relay that can put a forged record in the client's stream.
      using relay = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const relayed = (async () => {
        const client = await relay.accept();
        const server = await Deno.connect({
          hostname: "127.0.0.1",
          port: srv.port,
        });
        const up = client.readable.pipeTo(server.writable).catch(() => {});
        const down = server.readable.pipeTo(client.writable).catch(() => {});
        return { server, done: Promise.all([up, down]) };
      })();
      const conn = await Deno.connectTls({
        hostname: "localhost",
        port: (relay.addr as Deno.NetAddr).port,
        caCerts: [cert],
      });
      await writeAll(
        conn,
        new TextEncoder().encode(
          "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n",
        ),
      );
      const { server, done } = await relayed;
      await delay(100);
      // An application-data record that cannot decrypt.
      await server.write(
        Uint8Array.of(0x17, 3, 3, 0, 32, ...Array(32).fill(7)),
      );
      await delay(300);
      conn.close();
      await done;
      assert.ok(
        lines.some((line) => /TLS error: /.test(line)),
        lines.join("\n"),
      );
      assert.ok(
        !lines.some((line) => /Exception occurred|code 500|" 500 /.test(line)),
        lines.join("\n"),
      );
    });
  },
});

Deno.test({
  name:
    "HTTPS: a failed TLS handshake is one log line, not a 500 and a traceback",
  ignore: !hasOpenssl,
  async fn() {
    await withCertificate(async ({ cert, key }) => {
      class Logged extends BaseHTTPRequestHandler {
        override protocolVersion = "HTTP/1.1";
        async do_GET() {
          await reply(this, "secure");
        }
      }
      const lines: string[] = [];
      await using srv = startServer(Logged, {
        tls: { cert, key },
        logSink: (line) => lines.push(line),
      });
      // Plain HTTP to the HTTPS port.
      const plain = await Deno.connect({
        hostname: "127.0.0.1",
        port: srv.port,
      });
      await writeAll(plain, new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
      if ((await readAll(plain)).closed) plain.close(); // else readAll did
      // A client that does not trust the certificate (a browser's first visit).
      await assert.rejects(
        Deno.connectTls({ hostname: "localhost", port: srv.port }).then(
          async (conn) => {
            try {
              await conn.handshake();
            } finally {
              conn.close();
            }
          },
        ),
      );
      // And one that does, still served.
      const good = await Deno.connectTls({
        hostname: "localhost",
        port: srv.port,
        caCerts: [cert],
      });
      await writeAll(
        good,
        new TextEncoder().encode(
          "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        ),
      );
      const answer = await readAll(good);
      if (answer.closed) good.close();
      assert.match(answer.text, /^HTTP\/1\.1 200 [\s\S]*secure$/);
      await delay(50);
      const failures = lines.filter((line) =>
        !/"GET \/ HTTP\/1\.1" 200/.test(line)
      );
      assert.equal(failures.length, 2, failures.join("\n"));
      for (const line of failures) assert.match(line, /TLS handshake failed: /);
    });
  },
});

Deno.test("shutdown() does not reject with the error serveForever() already gave", async () => {
  // Its caller holds that error; a handler's `void shutdown()` would make
  // it an unhandled rejection. Here the loop fails as the drain reports a
  // handler still running to a logSink that throws.
  const gate = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  const ended = Promise.withResolvers<void>();
  class Stuck extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      entered.resolve();
      try {
        await gate.promise;
      } finally {
        ended.resolve();
      }
    }
  }
  const httpd = new HTTPServer(["127.0.0.1", 0], Stuck, {
    shutdownTimeout: 0.05,
    logSink: (line) => {
      if (line.includes("still running")) throw new Error("sink failed");
    },
  });
  const serving = httpd.serveForever(0.05);
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: httpd.serverPort,
  });
  await conn.write(
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
  );
  await entered.promise;
  void httpd.shutdown();
  await assert.rejects(serving, /sink failed/);
  await httpd.shutdown(); // and once it has ended
  gate.resolve();
  await ended.promise;
  conn.close();
  httpd.close();
});

Deno.test("serveForever() on an unbound server throws at once, as after close()", () => {
  const httpd = new HTTPServer(["127.0.0.1", 0], BaseHTTPRequestHandler, {
    bindAndActivate: false,
  });
  assert.throws(() => httpd.serveForever(), {
    name: "TypeError",
    message: /not bound: call serverBind/,
  });
  httpd.close();
});

Deno.test("serveTest() with bindAndActivate: false is a TypeError, not a loop that fails unseen", () => {
  assert.throws(
    () => serveTest(BaseHTTPRequestHandler, { bindAndActivate: false }),
    { name: "TypeError", message: /bindAndActivate/ },
  );
});
