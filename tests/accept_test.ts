// Copyright 2026 the basehttp authors. MIT license.
// The accept loop under faults: out of descriptors, and connections reset
// before they were accepted. Clients and servers on 127.0.0.1 only.

import assert from "node:assert/strict";
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";
import { delay, failAccepts, within } from "./_util.ts";

const fixture = new URL("./fixtures/hello_server.ts", import.meta.url)
  .pathname;

/** Runs the fixture server under `ulimit -n limit`; returns its port. */
async function limitedServer(limit: number, maxConnections?: number) {
  const args = maxConnections === undefined ? "" : ` ${maxConnections}`;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${limit}; exec "${Deno.execPath()}" run -A --no-check "${fixture}"${args}`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    line += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const [port, max] = line.trim().split(" ").map(Number);
  return { child, port, max };
}

async function stop(child: Deno.ChildProcess): Promise<Deno.CommandStatus> {
  await child.stdin.close().catch(() => {});
  const [status, , stderr] = await Promise.all([
    child.status,
    child.stdout.cancel(),
    new Response(child.stderr).text(),
  ]);
  if (!status.success) console.error(stderr);
  return status;
}

Deno.test("accept: out of descriptors, the server stays up and serves once they free", async () => {
  const { child, port } = await limitedServer(64, 1000);
  const idle: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    }
    await delay(1500);
  } finally {
    for (const conn of idle) conn.close();
  }
  await delay(200);
  const response = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "hello\n");
  const status = await stop(child);
  assert.equal(status.success, true, `the server exited with ${status.code}`);
});

Deno.test("accept: the default maxConnections stays below the descriptor limit", async () => {
  const { child, max } = await limitedServer(256);
  try {
    assert.ok(max > 0 && max < 256 * 0.9, `maxConnections ${max}`);
  } finally {
    await stop(child);
  }
});

class Hello extends BaseHTTPRequestHandler {
  override logMessage(): void {}
  async do_GET(): Promise<void> {
    this.sendResponse(200);
    this.sendHeader("Content-Length", "0");
    await this.endHeaders();
  }
}

/** Starts serving, times one GET (which must be 200), and shuts down. */
async function timedGet(httpd: HTTPServer): Promise<number> {
  const serving = httpd.serveForever();
  const start = performance.now();
  const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/`);
  await response.body?.cancel();
  const took = performance.now() - start;
  await httpd.shutdown();
  await serving;
  assert.equal(response.status, 200);
  return took;
}

Deno.test("accept: accept errors for connections reset before accept are retried at once", async () => {
  await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
  const listener = httpd.listener;
  let failures = 40;
  Object.defineProperty(httpd, "listener", {
    value: {
      accept: () =>
        failures-- > 0
          ? Promise.reject(new Deno.errors.NotConnected("reset"))
          : listener.accept(),
      close: () => listener.close(),
      addr: listener.addr,
    },
  });
  const errors: unknown[] = [];
  httpd.handleError = (_c, _a, error) => errors.push(error);
  const took = await timedGet(httpd);
  assert.ok(took < 200, `served after ${took.toFixed(0)} ms`);
  assert.deepEqual(errors, [], "a reset client is not an error to report");
});

Deno.test("accept: shutdown() during accept() retries (out of descriptors) still ends at once; the retries are logged to logSink once a second", async () => {
  const lines: string[] = [];
  const httpd = new HTTPServer(["127.0.0.1", 0], Hello, {
    logSink: (line) => lines.push(line),
  });
  failAccepts(httpd);
  try {
    const serving = httpd.serveForever(0.05);
    await delay(120);
    const stopped = await within(httpd.shutdown().then(() => "stopped"), 1000);
    assert.equal(stopped, "stopped", "still retrying after 1 s");
    await serving;
  } finally {
    httpd.close();
  }
  assert.deepEqual(lines, [
    "accept() failed, retrying: Error: Too many open files",
  ]);
});

Deno.test("accept: 100 clients that reset at once (a Node child) do not delay the next request", async () => {
  // Not accepting yet: the resets wait in the listen queue, as under load.
  await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
  const script = `
    const net = require("node:net");
    let left = 100;
    for (let i = 0; i < 100; i++) {
      const socket = net.connect(${httpd.serverPort}, "127.0.0.1", () =>
        socket.resetAndDestroy());
      socket.on("error", () => {});
      socket.on("close", () => { if (--left === 0) process.exit(0); });
    }
    setTimeout(() => process.exit(1), 5000);
  `;
  const node = await new Deno.Command("node", { args: ["-e", script] })
    .output();
  assert.equal(node.code, 0);
  const took = await timedGet(httpd);
  assert.ok(took < 500, `served after ${took.toFixed(0)} ms`);
});
