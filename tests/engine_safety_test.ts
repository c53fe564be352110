// Copyright 2026 the basehttp authors. MIT license.
// Safety that must hold whatever a subclass overrides (issue 11): the
// deadlines survive Python-style overrides of handle(), handleOneRequest(),
// processRequest() and finishRequest(); a forgotten `await` in a handler never
// becomes an unhandled rejection; two servers keep their own timeouts; and
// `this.signal` aborts when the client goes away (on a request timeout: in
// handler_api_test.ts).

import assert from "node:assert/strict";
import {
  BaseHTTPRequestHandler,
  type ClientAddress,
  type HandlerClass,
  HTTPServer,
  type HTTPServerOptions,
} from "../mod.ts";
import { exchange, reply, startServer, within, writeAll } from "./_util.ts";

const encoder = new TextEncoder();

/** Runs `serveForever` until disposed; dispose before the server itself. */
function serving(httpd: HTTPServer): AsyncDisposable {
  const loop = httpd.serveForever(0.05);
  return {
    async [Symbol.asyncDispose]() {
      await httpd.shutdown();
      await loop;
    },
  };
}

function connect(port: number): Promise<Deno.Conn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/**
 * Reads (and ignores what arrives) until the server closes or resets the
 * connection, and returns the milliseconds from `since` to then; `null` when
 * `since + guardMs` passes first. Closes `conn` either way.
 */
async function closedAfter(
  conn: Deno.Conn,
  since: number,
  guardMs = 2000,
): Promise<number | null> {
  const buf = new Uint8Array(65536);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<"guard">((resolve) => {
    timer = setTimeout(
      () => resolve("guard"),
      Math.max(0, since + guardMs - Date.now()),
    );
  });
  try {
    while (true) {
      const read = conn.read(buf).catch(() => null);
      const result = await Promise.race([read, guard]);
      if (result === "guard") {
        conn.close(); // settles the pending read
        await read;
        return null;
      }
      if (result === null) return Date.now() - since;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed above.
    }
  }
}

/** Reads until `text` has arrived whole; throws on EOF or after 2 s. */
async function readUntil(conn: Deno.Conn, ending: string): Promise<string> {
  const buf = new Uint8Array(65536);
  const decoder = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<"guard">((resolve) => {
    timer = setTimeout(() => resolve("guard"), 2000);
  });
  try {
    while (!text.endsWith(ending)) {
      const n = await Promise.race([conn.read(buf), guard]);
      if (n === "guard") throw new Error(`No whole response: ${text}`);
      if (n === null) throw new Error(`Closed before the response: ${text}`);
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
    return text;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// 1. Python-style overrides keep the header, idle and body timeouts.

/** HTTP/1.1, quiet; GET answers "ok", POST reads the whole body first. */
class Hello extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
  override logMessage(): void {}
  async do_GET(): Promise<void> {
    await reply(this, "ok");
  }
  async do_POST(): Promise<void> {
    await this.rfile.bytes();
    await reply(this, "ok");
  }
}

/** The loop of Python's `BaseHTTPRequestHandler.handle`, written out. */
class PythonHandle extends Hello {
  override async handle(): Promise<void> {
    this.closeConnection = true;
    await this.handleOneRequest();
    while (!this.closeConnection) await this.handleOneRequest();
  }
}

/** Own code around `super.handleOneRequest()`. */
class AroundOneRequest extends Hello {
  requests = 0;
  elapsed = 0;
  override async handleOneRequest(): Promise<void> {
    const started = Date.now();
    await Promise.resolve();
    await super.handleOneRequest();
    this.requests++;
    this.elapsed += Date.now() - started;
  }
}

/** Python's `BaseServer.process_request`, without super. */
class PythonProcessRequest extends HTTPServer {
  override async processRequest(
    connection: Deno.Conn,
    clientAddress: ClientAddress,
  ): Promise<void> {
    try {
      await this.finishRequest(connection, clientAddress);
    } finally {
      this.shutdownRequest(connection);
    }
  }
}

/** Python's `BaseServer.finish_request` + `BaseRequestHandler.__init__`. */
class PythonFinishRequest extends HTTPServer {
  override async finishRequest(
    connection: Deno.Conn,
    clientAddress: ClientAddress,
  ): Promise<void> {
    const handler = new this.RequestHandlerClass(
      connection,
      clientAddress,
      this,
    );
    try {
      await handler.setup();
      await handler.handle();
    } finally {
      await handler.finish();
    }
  }
}

const overrides: {
  name: string;
  Server: typeof HTTPServer;
  Handler: HandlerClass;
}[] = [
  { name: "handle()", Server: HTTPServer, Handler: PythonHandle },
  {
    name: "handleOneRequest()",
    Server: HTTPServer,
    Handler: AroundOneRequest,
  },
  {
    name: "HTTPServer.processRequest()",
    Server: PythonProcessRequest,
    Handler: Hello,
  },
  {
    name: "HTTPServer.finishRequest()",
    Server: PythonFinishRequest,
    Handler: Hello,
  },
];

const timeouts: {
  name: string;
  options: HTTPServerOptions;
  /** Drives the client; returns the time from which the close is timed. */
  start(conn: Deno.Conn): Promise<number>;
}[] = [
  {
    name: "headerTimeout (half-sent head)",
    options: { headerTimeout: 0.3 },
    async start(conn) {
      await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
      return Date.now();
    },
  },
  {
    name: "keepAliveTimeout (idle after one request)",
    options: { keepAliveTimeout: 0.3 },
    async start(conn) {
      await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const text = await readUntil(conn, "\r\n\r\nok");
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.doesNotMatch(text, /connection: close/i);
      return Date.now();
    },
  },
  {
    name: "bodyTimeout (stalled body)",
    options: { bodyTimeout: 0.3 },
    async start(conn) {
      await writeAll(
        conn,
        encoder.encode(
          "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        ),
      );
      return Date.now();
    },
  },
];

for (const { name, Server, Handler } of overrides) {
  for (const timeout of timeouts) {
    Deno.test(`a Python-style override of ${name} keeps ${timeout.name}`, async () => {
      await using httpd = new Server(["127.0.0.1", 0], Handler, {
        ...timeout.options,
        shutdownTimeout: 1,
      });
      await using _loop = serving(httpd);
      const conn = await connect(httpd.serverPort);
      let since: number;
      try {
        since = await timeout.start(conn);
      } catch (error) {
        conn.close();
        throw error;
      }
      const after = await closedAfter(conn, since);
      assert.ok(
        after !== null,
        `still open 2 s after the ${timeout.name.split(" ")[0]} of 0.3 s`,
      );
      assert.ok(after >= 250, `closed after ${after} ms, before the timeout`);
      assert.ok(after < 1500, `closed only after ${after} ms`);
    });
  }
}

// ---------------------------------------------------------------------------
// 2. A forgotten `await` never becomes an unhandled rejection, even when the
// client resets mid-response.

const BIG = 4 * 1024 * 1024;
const big = new Uint8Array(BIG);

/** Quiet; `/ok` answers normally, anything else runs `forgetful()`. */
abstract class Forgetful extends BaseHTTPRequestHandler {
  override logMessage(): void {}
  abstract forgetful(): Promise<void>;
  async do_GET(): Promise<void> {
    if (this.path === "/ok") return await reply(this, "ok");
    await this.forgetful();
  }
}

const forgetfulKinds: { name: string; Handler: HandlerClass }[] = [
  {
    name: "wfile.write(4 MiB)",
    Handler: class extends Forgetful {
      async forgetful(): Promise<void> {
        this.sendResponse(200);
        this.sendHeader("Content-Length", String(BIG));
        await this.endHeaders();
        this.wfile.write(big); // forgot await
      }
    },
  },
  {
    name: "endHeaders() with a pending write",
    Handler: class extends Forgetful {
      async forgetful(): Promise<void> {
        this.sendResponse(200);
        this.sendHeader("Content-Length", String(BIG));
        this.endHeaders(); // forgot await
        await this.wfile.write(big);
      }
    },
  },
  {
    name: "sendError(500) with a 4 MiB page",
    Handler: class extends Forgetful {
      // Large enough that its write is still pending when the client resets.
      override errorMessageFormat = "%(code)d %(message)s\n" +
        ".".repeat(BIG);
      async forgetful(): Promise<void> {
        this.sendError(500); // forgot await
        await Promise.resolve();
      }
    },
  },
];

/** 50 connections in a row, each reset (RST) once the first bytes arrive. */
const RESET_50 = `
const net = require("node:net");
const port = Number(process.argv[1]);
let left = 50, answered = 0;
setTimeout(() => { console.log("timeout", answered); process.exit(3); }, 8000)
  .unref();
function one() {
  if (left-- === 0) { console.log("answered", answered); return; }
  const s = net.connect(port, "127.0.0.1");
  s.on("error", () => {});
  s.once("data", () => { answered++; s.resetAndDestroy(); });
  s.on("close", one);
  s.write("GET /reset HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n");
}
one();
`;

/** Runs a Node script with a 10 s guard; returns its exit code and output. */
async function node(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command("node", {
    args: ["-e", script, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    return {
      code,
      stdout: decoder.decode(stdout),
      stderr: decoder.decode(stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A server whose handleError records rather than prints. */
class RecordingServer extends HTTPServer {
  errors: unknown[] = [];
  override handleError(
    _connection: Deno.Conn | null,
    _clientAddress: ClientAddress | null,
    error: unknown,
  ): void {
    this.errors.push(error);
  }
}

/** Runs `body`; the unhandled rejections meanwhile, counted, not fatal. */
async function unhandledRejectionsOf(
  body: () => Promise<void>,
): Promise<unknown[]> {
  const rejections: unknown[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault(); // keep the test file alive, count instead
    rejections.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  try {
    await body();
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  return rejections;
}

for (const { name, Handler } of forgetfulKinds) {
  Deno.test(`a handler that forgets to await ${name} survives 50 client resets`, async () => {
    const rejections = await unhandledRejectionsOf(async () => {
      await serveAndReset(Handler);
      // Rejections from the server's own disposal count too.
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    assert.equal(
      rejections.length,
      0,
      `${rejections.length} unhandled rejections, first: ${
        String(rejections[0])
      }`,
    );
  });
}

Deno.test("a handler that forgets to await upgradeWebSocket(), eventStream() or detach() that fail: no unhandled rejection, the server serves on", async () => {
  class Forgot extends BaseHTTPRequestHandler {
    override protocolVersion = "HTTP/1.1";
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      if (this.path === "/ws") this.upgradeWebSocket(); // not a handshake: 400
      if (this.path === "/events") this.eventStream({ heartbeat: -1 });
      if (this.path === "/detach") {
        void this.signal; // watched: no handover any more
        this.detach();
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (this.path !== "/ws") await reply(this, "answered");
    }
  }
  const rejections = await unhandledRejectionsOf(async () => {
    await using srv = startServer(Forgot);
    const texts: string[] = [];
    for (const path of ["/ws", "/events", "/detach", "/ok"]) {
      const { text } = await exchange(
        srv.port,
        `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      texts.push(`${path} ${text.slice(0, 12)}`);
    }
    assert.deepEqual(texts, [
      "/ws HTTP/1.1 400",
      "/events HTTP/1.1 200",
      "/detach HTTP/1.1 200",
      "/ok HTTP/1.1 200",
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
  });
  assert.deepEqual(rejections.map(String), []);
});

/** Waits ~60 ms between small writes: the sweep sends what each leaves. */
class Trickle extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
  async do_GET(): Promise<void> {
    this.sendResponse(200);
    this.sendHeader("Content-Length", "100000");
    await this.endHeaders();
    for (let i = 0; i < 10; i++) {
      await this.wfile.write(new Uint8Array(1000)).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
  }
}

Deno.test("a logSink that throws while the engine logs a lost client is reported, not an unhandled rejection", async () => {
  await using httpd = new RecordingServer(["127.0.0.1", 0], Trickle, {
    shutdownTimeout: 1,
    logSink(line) {
      if (line.includes("connection lost")) throw new Error("log closed");
    },
  });
  await using _loop = serving(httpd);
  const rejections = await unhandledRejectionsOf(async () => {
    const conn = await connect(httpd.serverPort);
    await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    conn.close();
    // The sweep's flush to the closed socket fails, and logs the loss.
    await new Promise((resolve) => setTimeout(resolve, 700));
  });
  assert.deepEqual(rejections, []);
  assert.ok(
    httpd.errors.some((e) => e instanceof Error && e.message === "log closed"),
    `reported: ${httpd.errors}`,
  );
});

/** A server whose closeRequest override throws. */
class ThrowingClose extends RecordingServer {
  override closeRequest(conn: Deno.Conn): void {
    conn.close();
    throw new Error("closeRequest failed");
  }
}

Deno.test("close() reports a closeRequest override that throws for a connection no loop took", async () => {
  const httpd = new ThrowingClose(["127.0.0.1", 0], Hello);
  const rejections = await unhandledRejectionsOf(async () => {
    httpd.timeout = 0.05;
    await httpd.handleRequest(); // times out; its accept stays pending
    const conn = await connect(httpd.serverPort);
    await new Promise((resolve) => setTimeout(resolve, 50));
    httpd.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    conn.close();
  });
  assert.deepEqual(rejections, []);
  assert.ok(
    httpd.errors.some((e) =>
      e instanceof Error && e.message === "closeRequest failed"
    ),
    `reported: ${httpd.errors}`,
  );
});

/** 50 resets mid-response, then a normal request must still be answered. */
async function serveAndReset(Handler: HandlerClass): Promise<void> {
  await using httpd = new RecordingServer(["127.0.0.1", 0], Handler, {
    shutdownTimeout: 1,
  });
  await using _loop = serving(httpd);
  const run = await node(RESET_50, [String(httpd.serverPort)]);
  assert.equal(run.code, 0, `node: ${run.stdout} ${run.stderr}`);
  assert.match(run.stdout, /answered 50/, "not every client got bytes");
  // Let the server see the resets and settle what it wrote.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/ok`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok");
}

// ---------------------------------------------------------------------------
// 3. Two servers in one process keep their own timeouts.

Deno.test("two servers in one process each keep their own headerTimeout", async () => {
  await using a = new HTTPServer(["127.0.0.1", 0], Hello, {
    headerTimeout: 0.3,
    shutdownTimeout: 1,
  });
  await using _loopA = serving(a);
  await using b = new HTTPServer(["127.0.0.1", 0], Hello, {
    headerTimeout: 3,
    shutdownTimeout: 1,
  });
  await using _loopB = serving(b);
  const half = encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n");
  const connA = await connect(a.serverPort);
  const connB = await connect(b.serverPort);
  await writeAll(connA, half);
  await writeAll(connB, half);
  const since = Date.now();
  const [afterA, afterB] = await Promise.all([
    closedAfter(connA, since, 2000),
    closedAfter(connB, since, 1000),
  ]);
  assert.ok(afterA !== null, "A (0.3 s) still open after 2 s");
  assert.ok(afterA >= 250 && afterA < 1500, `A closed after ${afterA} ms`);
  assert.equal(afterB, null, `B (3 s) closed after ${afterB} ms`);
});

// ---------------------------------------------------------------------------
// 4. `this.signal` aborts when the client goes away.

/** What a signal-watching handler saw. */
interface Probe {
  started: Promise<void>;
  done: Promise<void>;
  abortedAt: number | null;
  error: unknown;
}

/** A handler that waits up to 3 s for `this.signal` to abort. */
function signalWaiter(): { Handler: HandlerClass; probe: Probe } {
  let started!: () => void;
  let done!: () => void;
  const probe: Probe = {
    started: new Promise((resolve) => started = resolve),
    done: new Promise((resolve) => done = resolve),
    abortedAt: null,
    error: undefined,
  };
  class Waiter extends BaseHTTPRequestHandler {
    override logMessage(): void {}
    async do_GET(): Promise<void> {
      started();
      try {
        const s = (this as unknown as { signal: AbortSignal }).signal;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 3000);
          s.addEventListener("abort", () => {
            probe.abortedAt = Date.now();
            clearTimeout(t);
            resolve();
          });
        });
      } catch (error) {
        probe.error = error;
      } finally {
        done();
      }
    }
  }
  return { Handler: Waiter, probe };
}

function checkAbort(probe: Probe, disconnectedAt: number) {
  assert.equal(probe.error, undefined, `the handler failed: ${probe.error}`);
  assert.ok(probe.abortedAt !== null, "this.signal never aborted");
  const lag = probe.abortedAt - disconnectedAt;
  assert.ok(lag < 100, `aborted ${lag} ms after the client left`);
  assert.ok(lag > -20, `aborted ${-lag} ms before the client left`);
}

/** Sends one request, waits, resets (RST) on a line from stdin. */
const RESET_ON_GO = `
const net = require("node:net");
const s = net.connect(Number(process.argv[1]), "127.0.0.1", () => {
  s.write("GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n");
});
s.on("error", () => {});
s.on("close", () => process.exit(0));
process.stdin.once("data", () => { console.log(Date.now()); s.resetAndDestroy(); });
process.stdin.once("end", () => s.destroy());
setTimeout(() => process.exit(3), 5000).unref();
`;

Deno.test("this.signal aborts when the client resets while the handler waits", async () => {
  const { Handler, probe } = signalWaiter();
  await using httpd = new RecordingServer(["127.0.0.1", 0], Handler, {
    shutdownTimeout: 1,
  });
  await using _loop = serving(httpd);
  const child = new Deno.Command("node", {
    args: ["-e", RESET_ON_GO, String(httpd.serverPort)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
  let output: Deno.CommandOutput;
  try {
    const started = await within(probe.started.then(() => true), 2000);
    const writer = child.stdin.getWriter();
    // The child has gone already if the server answered and closed.
    if (started) await writer.write(encoder.encode("go\n")).catch(() => {});
    await writer.close().catch(() => {});
    output = await child.output();
    assert.ok(started, "the handler never ran");
  } finally {
    clearTimeout(kill);
  }
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const resetAt = Number(new TextDecoder().decode(output.stdout).trim());
  await within(probe.done, 1500);
  checkAbort(probe, resetAt);
});

for (
  const [how, leave] of [
    ["closes", (conn: Deno.Conn) => conn.close()],
    ["half-closes", (conn: Deno.Conn) => conn.closeWrite()],
  ] as const
) {
  Deno.test(`this.signal aborts when the client ${how} while the handler waits`, async () => {
    const { Handler, probe } = signalWaiter();
    await using httpd = new RecordingServer(["127.0.0.1", 0], Handler, {
      shutdownTimeout: 1,
    });
    await using _loop = serving(httpd);
    const conn = await connect(httpd.serverPort);
    let open = true;
    try {
      await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      const started = await within(probe.started.then(() => true), 2000);
      assert.ok(started, "the handler never ran");
      const leftAt = Date.now();
      await leave(conn);
      if (how === "closes") open = false;
      await within(probe.done, 1500);
      checkAbort(probe, leftAt);
    } finally {
      if (open) conn.close();
    }
  });
}
