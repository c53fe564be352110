// Copyright 2026 the basehttp authors. MIT license.
// WebSocket with real clients: Deno's WebSocket and the ws package; the
// handshake's refusals over raw bytes.

import assert from "node:assert/strict";
import NodeWebSocket from "npm:ws@8";
import type { ServerWebSocket, WebSocketOptions } from "../websocket.ts";
import { HTTPServer } from "../mod.ts";
import { memoryConnPair } from "../_memory_conn.ts";
import { frame } from "./_websocket_client.ts";
import {
  delay,
  exchange,
  latin1,
  parseResponses,
  QuietHandler,
  startServer,
  within,
  writeAll,
} from "./_util.ts";
import { hasOpenssl, withCertificate } from "./_tls.ts";

/** Echoes every message; records what the handler saw. */
class Echo extends QuietHandler {
  static options: WebSocketOptions = {};
  static sockets: ServerWebSocket[] = [];
  static states: number[] = [];
  async do_GET(): Promise<void> {
    const socket = await this.upgradeWebSocket(Echo.options);
    Echo.sockets.push(socket);
    Echo.states.push(socket.readyState);
    // Set after the await: open still fires.
    socket.onopen = () => Echo.states.push(socket.readyState);
    socket.onmessage = (event) => socket.send(event.data);
  }
  do_POST(): Promise<void> {
    return this.do_GET();
  }
}

function reset(options: WebSocketOptions = {}): void {
  Echo.options = options;
  Echo.sockets = [];
  Echo.states = [];
}

function next<T extends Event>(target: EventTarget, type: string): Promise<T> {
  return new Promise((resolve) =>
    target.addEventListener(type, (e) => resolve(e as T), { once: true })
  );
}

async function open(url: string, protocols?: string[]): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols);
  await next(ws, "open");
  return ws;
}

/** A socket to Echo on `port` that has had one message echoed: open both ends. */
async function echoed(port: number): Promise<WebSocket> {
  const ws = await open(`ws://127.0.0.1:${port}/`);
  ws.send("x");
  await next(ws, "message");
  return ws;
}

async function closeClient(ws: WebSocket): Promise<CloseEvent> {
  const closed = next<CloseEvent>(ws, "close");
  ws.close();
  return await closed;
}

function nodeOpen(
  url: string,
  options: Record<string, unknown> = {},
): Promise<NodeWebSocket> {
  const ws = new NodeWebSocket(url, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function nodeMessage(ws: NodeWebSocket): Promise<[Uint8Array, boolean]> {
  return new Promise((resolve) =>
    ws.once(
      "message",
      (data: Uint8Array, isBinary: boolean) => resolve([data, isBinary]),
    )
  );
}

function nodeClose(ws: NodeWebSocket): Promise<[number, string]> {
  return new Promise((resolve) =>
    ws.once(
      "close",
      (code: number, reason: Uint8Array) => resolve([code, String(reason)]),
    )
  );
}

Deno.test("Deno's WebSocket: text and binary echo, open after the await", async () => {
  reset();
  await using srv = startServer(Echo);
  const ws = await open(`ws://127.0.0.1:${srv.port}/chat`);
  ws.binaryType = "arraybuffer";
  ws.send("héllo");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "héllo");
  ws.send(new Uint8Array([1, 2, 3, 250]));
  const echoed = (await next<MessageEvent>(ws, "message")).data;
  assert.deepEqual(new Uint8Array(echoed), new Uint8Array([1, 2, 3, 250]));
  assert.deepEqual(Echo.states, [0, 1]);
  const socket = Echo.sockets[0];
  assert.equal(socket.url, `ws://127.0.0.1:${srv.port}/chat`);
  assert.equal(socket.bufferedAmount, 0);
  const serverClosed = next<CloseEvent>(socket, "close");
  const closed = next<CloseEvent>(ws, "close");
  ws.close(4000, "done");
  const [server, client] = await Promise.all([serverClosed, closed]);
  assert.equal(server.code, 4000);
  assert.equal(server.reason, "done");
  assert.equal(server.wasClean, true);
  assert.equal(client.code, 4000);
  assert.equal(socket.readyState, 3);
});

Deno.test("server close(): code and reason reach the client", async () => {
  reset();
  await using srv = startServer(Echo);
  const ws = await echoed(srv.port);
  const closed = next<CloseEvent>(ws, "close");
  const socket = Echo.sockets[0];
  // What a close frame may not carry (RFC 6455 §7.4.1-2).
  for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5]) {
    assert.throws(() => socket.close(code), { name: "InvalidAccessError" });
  }
  assert.throws(() => socket.close(1000, "x".repeat(124)), {
    name: "SyntaxError",
  });
  socket.close(undefined, "bye"); // a reason alone means 1000 (WHATWG)
  assert.equal(socket.readyState, 2);
  const event = await closed;
  assert.equal(event.code, 1000);
  assert.equal(event.reason, "bye");
  assert.equal(event.wasClean, true);
  await next(socket, "close");
});

Deno.test("server close(): the codes RFC 6455 gives a server (1001, 1008, 1011, 1013) reach the client", async () => {
  for (const code of [1001, 1008, 1011, 1013]) {
    reset();
    await using srv = startServer(Echo);
    const ws = await echoed(srv.port);
    const closed = next<CloseEvent>(ws, "close");
    Echo.sockets[0].close(code, "why");
    const event = await closed;
    assert.deepEqual([event.code, event.reason], [code, "why"]);
    await next(Echo.sockets[0], "close");
  }
});

Deno.test("subprotocols: a list picks the first offered, a function picks any", async () => {
  reset({ protocols: ["b", "a"] });
  await using srv = startServer(Echo);
  const ws = await open(`ws://127.0.0.1:${srv.port}/`, ["a", "b"]);
  assert.equal(ws.protocol, "a");
  assert.equal(Echo.sockets[0].protocol, "a");
  await closeClient(ws);
  reset({ protocols: (offered) => offered.at(-1) ?? null });
  const ws2 = await open(`ws://127.0.0.1:${srv.port}/`, ["x", "y"]);
  assert.equal(ws2.protocol, "y");
  await closeClient(ws2);
  reset({ protocols: ["z"] });
  const ws3 = await open(`ws://127.0.0.1:${srv.port}/`);
  assert.equal(ws3.protocol, "");
  await closeClient(ws3);
});

Deno.test("send() takes Blob, ArrayBuffer and a view's own bytes, in order", async () => {
  class Sender extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket();
      assert.throws(() => socket.send("early"), { name: "InvalidStateError" });
      socket.onopen = () => {
        socket.send(new Blob(["blob"]));
        socket.send(new Uint8Array([9, 1, 2, 9]).subarray(1, 3));
        socket.send(new Uint8Array([7]).buffer);
        socket.send("text");
        socket.close(1000);
      };
    }
  }
  await using srv = startServer(Sender);
  const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/`);
  ws.binaryType = "arraybuffer";
  const got: unknown[] = [];
  ws.onmessage = (e) =>
    got.push(typeof e.data === "string" ? e.data : [...new Uint8Array(e.data)]);
  await next(ws, "close");
  assert.deepEqual(got, [[98, 108, 111, 98], [1, 2], [7], "text"]);
});

Deno.test("ws client: permessage-deflate with context takeover, large messages", async () => {
  reset();
  await using srv = startServer(Echo);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  assert.match(ws.extensions, /permessage-deflate/);
  assert.match(Echo.sockets[0].extensions, /^permessage-deflate/);
  for (let i = 0; i < 5; i++) {
    const text = `message ${i} `.repeat(5000);
    ws.send(text);
    const [data, binary] = await nodeMessage(ws);
    assert.equal(binary, false);
    assert.equal(new TextDecoder().decode(data), text);
  }
  const bytes = new Uint8Array(300000).map((_, i) => i % 7);
  ws.send(bytes);
  const [echoed, binary] = await nodeMessage(ws);
  assert.equal(binary, true);
  assert.deepEqual(new Uint8Array(echoed), bytes);
  const closed = nodeClose(ws);
  ws.close(1000);
  assert.deepEqual(await closed, [1000, ""]);
});

Deno.test({
  name:
    "wss: the ws client over TLS, a large compressed message, the socket's url",
  ignore: !hasOpenssl,
  async fn() {
    reset();
    await withCertificate(async ({ cert, key }) => {
      await using srv = startServer(Echo, { tls: { cert, key } });
      const ws = await nodeOpen(`wss://localhost:${srv.port}/secure`, {
        ca: cert,
      });
      const text = "over TLS ".repeat(20000);
      ws.send(text);
      const [data, binary] = await nodeMessage(ws);
      assert.equal(binary, false);
      assert.equal(new TextDecoder().decode(data), text);
      assert.equal(Echo.sockets[0].url, `wss://localhost:${srv.port}/secure`);
      const closed = nodeClose(ws);
      ws.close(1000, "bye");
      assert.deepEqual(await closed, [1000, "bye"]);
    });
  },
});

Deno.test("ws client: no_context_takeover and window bits are honoured", async () => {
  reset();
  await using srv = startServer(Echo);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`, {
    perMessageDeflate: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 9,
    },
  });
  const agreed = Echo.sockets[0].extensions;
  assert.match(agreed, /server_no_context_takeover/);
  assert.match(agreed, /client_no_context_takeover/);
  assert.match(agreed, /server_max_window_bits=10/);
  for (let i = 0; i < 3; i++) {
    const text = `abc${i}`.repeat(3000);
    ws.send(text);
    assert.equal(new TextDecoder().decode((await nodeMessage(ws))[0]), text);
  }
  const closed = nodeClose(ws);
  ws.close();
  await closed;
});

Deno.test("compression: false declines permessage-deflate", async () => {
  reset({ compression: false });
  await using srv = startServer(Echo);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  assert.equal(ws.extensions, "");
  assert.equal(Echo.sockets[0].extensions, "");
  ws.send("x".repeat(5000));
  assert.equal((await nodeMessage(ws))[0].length, 5000);
  const closed = nodeClose(ws);
  ws.close();
  await closed;
});

Deno.test("maxMessageSize: a larger message closes with 1009", async () => {
  reset({ maxMessageSize: 1000 });
  await using srv = startServer(Echo);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`, {
    perMessageDeflate: false,
  });
  ws.send("a".repeat(1000));
  assert.equal((await nodeMessage(ws))[0].length, 1000);
  const closed = nodeClose(ws);
  ws.send("a".repeat(1001));
  assert.equal((await closed)[0], 1009);
  await next(Echo.sockets[0], "close");
});

Deno.test("maxMessageSize bounds a compressed message once inflated", async () => {
  reset({ maxMessageSize: 10000 });
  await using srv = startServer(Echo);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  const closed = nodeClose(ws);
  ws.send("a".repeat(200000)); // a few hundred bytes on the wire
  assert.equal((await closed)[0], 1009);
  await next(Echo.sockets[0], "close");
});

Deno.test("for await: at most 1 MiB is read ahead while the body holds a message", async () => {
  const seen: number[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  class Slow extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ compression: false });
      for await (const message of socket) {
        seen.push((message as Uint8Array).length);
        if (seen.length === 1) await released;
        if (seen.length === 32) socket.close(1000);
      }
    }
  }
  await using srv = startServer(Slow);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`, {
    perMessageDeflate: false,
  });
  const chunk = new Uint8Array(256 * 1024);
  for (let i = 0; i < 32; i++) ws.send(chunk);
  await delay(500);
  // The server took one message and read about 1 MiB ahead: the rest of
  // the 8 MiB fills the kernel's buffers and then the client's own.
  assert.equal(seen.length, 1);
  assert.ok(ws.bufferedAmount > 1024 * 1024, `buffered ${ws.bufferedAmount}`);
  const closed = nodeClose(ws);
  release();
  assert.equal((await closed)[0], 1000);
  assert.equal(seen.length, 32);
  assert.equal(ws.bufferedAmount, 0);
});

Deno.test("for await: the answer to the last message goes out before the close that came behind it", async () => {
  let pause = false;
  class Iterating extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ compression: false });
      for await (const message of socket) {
        if (pause) await delay(5); // an answer that takes a while
        socket.send(message);
      }
    }
  }
  await using srv = startServer(Iterating);
  for (const slow of [false, true]) {
    pause = slow;
    const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`, {
      perMessageDeflate: false,
    });
    const echoes: string[] = [];
    ws.on("message", (data: Uint8Array) => echoes.push(String(data)));
    const closed = nodeClose(ws);
    // The client's last request and its close, as they often go: at once.
    ws.send("a");
    ws.send("b");
    ws.send("c");
    ws.close(1000);
    assert.equal((await closed)[0], 1000);
    assert.deepEqual(echoes, ["a", "b", "c"], slow ? "slow body" : "sync");
  }
});

Deno.test("for await: while the body works, pings are answered and a client that left is seen", async () => {
  const states: number[] = [];
  class Busy extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ compression: false });
      for await (const _ of socket) {
        const end = Date.now() + 1500;
        while (Date.now() < end && socket.readyState === WebSocket.OPEN) {
          await delay(20);
        }
        states.push(socket.readyState);
      }
    }
  }
  await using srv = startServer(Busy);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  ws.send("work");
  await delay(100);
  const pinged = Date.now();
  const pong = new Promise<number>((resolve) =>
    ws.once("pong", () => resolve(Date.now() - pinged))
  );
  ws.ping("are you there");
  assert.ok((await pong) < 500, "the pong waited for the body");
  // Gone without a close: the body sees it at once, not after its work.
  const started = Date.now();
  ws.terminate();
  while (states.length === 0) await delay(10);
  assert.equal(states[0], WebSocket.CLOSED);
  assert.ok(Date.now() - started < 1000);
});

Deno.test("for await: what comes behind a message read ahead is read too: a ping answered, a close taken after 5 s", async () => {
  const states: number[] = [];
  class Streaming extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ compression: false });
      for await (const message of socket) {
        if (message !== "subscribe") continue;
        const end = Date.now() + 10000; // bounded, for a failing run
        while (socket.readyState === WebSocket.OPEN && Date.now() < end) {
          socket.send("tick");
          await delay(50);
        }
        states.push(socket.readyState);
      }
    }
  }
  await using srv = startServer(Streaming);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  const closed = nodeClose(ws);
  ws.send("subscribe");
  await delay(100);
  ws.send("a chat line"); // read ahead: waits for the body
  const pinged = Date.now();
  const pong = new Promise<number>((resolve) =>
    ws.once("pong", () => resolve(Date.now() - pinged))
  );
  ws.ping("behind it");
  assert.ok((await pong) < 500, "the pong waited for the body");
  const started = Date.now();
  ws.close(1000);
  assert.equal((await closed)[0], 1000);
  const took = Date.now() - started;
  assert.ok(took > 4000 && took < 7000, `closed after ${took} ms`);
  while (states.length === 0) await delay(10);
  assert.notEqual(states[0], WebSocket.OPEN);
});

Deno.test("for await: a client's close is answered once the body is done, or after 5 s of a body that goes on", async () => {
  let ticks = 0;
  class Streaming extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ compression: false });
      for await (const message of socket) {
        if (message !== "subscribe") continue;
        while (socket.readyState === WebSocket.OPEN) {
          socket.send(`tick ${++ticks}`);
          await delay(50);
        }
      }
    }
  }
  await using srv = startServer(Streaming);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  const closed = nodeClose(ws);
  ws.send("subscribe");
  await delay(200);
  const started = Date.now();
  ws.close(1000);
  assert.equal((await closed)[0], 1000);
  const took = Date.now() - started;
  assert.ok(took > 4000 && took < 7000, `closed after ${took} ms`);
});

Deno.test("for await: a second loop over the same socket at once is a TypeError", async () => {
  const errors: unknown[] = [];
  class Twice extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ compression: false });
      const first = (async () => {
        for await (const message of socket) socket.send(message);
      })();
      try {
        for await (const _ of socket) socket.send("second");
      } catch (error) {
        errors.push(error);
      }
      await first;
    }
  }
  await using srv = startServer(Twice);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  const closed = nodeClose(ws);
  ws.send("one");
  assert.equal(String((await nodeMessage(ws))[0]), "one");
  ws.close(1000);
  await closed;
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof TypeError);
});

Deno.test("bufferedAmount counts bytes not yet taken by the socket, and those sent after close() (WHATWG)", async () => {
  let amounts: number[] = [];
  class Big extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ compression: false });
      socket.onopen = () => {
        socket.send(new Uint8Array(4 * 1024 * 1024));
        amounts.push(socket.bufferedAmount);
      };
      socket.onmessage = () => {
        amounts.push(socket.bufferedAmount);
        socket.close(1000);
        socket.send("late"); // as in browsers: counted, never sent
        amounts.push(socket.bufferedAmount);
      };
    }
  }
  await using srv = startServer(Big);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  const [data] = await nodeMessage(ws);
  assert.equal(data.length, 4 * 1024 * 1024);
  const closed = nodeClose(ws);
  ws.send("ack");
  await closed;
  assert.equal(amounts[0], 4 * 1024 * 1024);
  assert.deepEqual(amounts.slice(1), [0, 4]);
  amounts = [];
});

Deno.test("idleTimeout: a live client answers pings and stays open", async () => {
  reset({ idleTimeout: 0.1 });
  await using srv = startServer(Echo);
  const ws = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  let pings = 0;
  ws.on("ping", () => pings++);
  await delay(600);
  assert.ok(pings >= 2, `pings ${pings}`);
  assert.equal(ws.readyState, NodeWebSocket.OPEN);
  ws.send("still here");
  assert.equal(String((await nodeMessage(ws))[0]), "still here");
  const closed = nodeClose(ws);
  ws.close();
  await closed;
});

Deno.test("once upgraded, the server's HTTP timeouts no longer apply", async () => {
  reset({ idleTimeout: null });
  await using srv = startServer(Echo, {
    headerTimeout: 0.1,
    keepAliveTimeout: 0.1,
    bodyTimeout: 0.1,
    writeTimeout: 0.1,
  });
  const ws = await open(`ws://127.0.0.1:${srv.port}/`);
  await delay(600);
  ws.send("late");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "late");
  await closeClient(ws);
});

Deno.test("shutdown() closes open sockets with 1001 and does not wait the grace", async () => {
  reset();
  const srv = startServer(Echo, { shutdownTimeout: 10 });
  const a = await open(`ws://127.0.0.1:${srv.port}/`);
  const b = await nodeOpen(`ws://127.0.0.1:${srv.port}/`);
  const closedA = next<CloseEvent>(a, "close");
  const closedB = nodeClose(b);
  const started = Date.now();
  await srv[Symbol.asyncDispose]();
  assert.ok(Date.now() - started < 2000);
  assert.equal((await closedA).code, 1001);
  assert.equal((await closedB)[0], 1001);
  // The clients' own close timers end a moment after their close events
  // (seen once in 40 loaded runs as a timer leak of this test).
  await delay(50);
});

Deno.test("the handshake: refusals are 400 (426 for another version), never a socket", async () => {
  reset();
  await using srv = startServer(Echo);
  const key = "dGhlIHNhbXBsZSBub25jZQ==";
  const head = (lines: string[], version = "HTTP/1.1", method = "GET") =>
    `${method} / ${version}\r\nHost: x\r\n${lines.join("\r\n")}\r\n\r\n`;
  const good = [
    "Upgrade: websocket",
    "Connection: keep-alive, Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  const cases: [string, string, number][] = [
    ["POST", head([...good, "Content-Length: 0"], "HTTP/1.1", "POST"), 400],
    ["HTTP/1.0", head(good, "HTTP/1.0"), 400],
    ["no Upgrade", head(good.slice(1)), 400],
    ["no Connection", head([good[0], ...good.slice(2)]), 400],
    ["no key", head([good[0], good[1], good[3]]), 400],
    [
      "short key",
      head([good[0], good[1], "Sec-WebSocket-Key: abc=", good[3]]),
      400,
    ],
    ["two keys", head([...good, `Sec-WebSocket-Key: ${key}`]), 400],
    ["no version", head(good.slice(0, 3)), 400],
    ["version 8", head([...good.slice(0, 3), "Sec-WebSocket-Version: 8"]), 426],
    ["a body", head([...good, "Content-Length: 5"]) + "hello", 400],
  ];
  for (const [name, request, status] of cases) {
    const { text, closed } = await exchange(srv.port, request);
    const [response] = parseResponses(text);
    assert.equal(response.status, status, name);
    assert.ok(closed, name);
    if (status === 426) {
      assert.equal(response.get("sec-websocket-version"), "13");
    }
  }
  assert.equal(Echo.sockets.length, 0);
  // The accept key of RFC 6455 §1.3.
  const { text } = await exchange(srv.port, head(good), { quietMs: 150 });
  const [response] = parseResponses(
    text.slice(0, text.indexOf("\r\n\r\n") + 4),
  );
  assert.equal(response.status, 101);
  assert.equal(
    response.get("sec-websocket-accept"),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
  );
  assert.equal(response.get("upgrade"), "websocket");
  await within(next(Echo.sockets[0], "close"), 6000);
});

Deno.test("a Deno.Conn-shaped socket whose write throws or gives 0 ends the WebSocket (1006), with no endless loop", async () => {
  for (const broken of ["throws", "gives 0"]) {
    reset();
    const [client, conn] = memoryConnPair();
    let failing = false;
    const shaped = {
      read: (p: Uint8Array) => conn.read(p),
      write: (p: Uint8Array) => {
        if (!failing) return conn.write(p);
        if (broken === "throws") throw new Deno.errors.BrokenPipe("a throw");
        return Promise.resolve(0);
      },
      close: () => conn.close(),
      closeWrite: () => conn.closeWrite(),
      localAddr: conn.localAddr,
      remoteAddr: conn.remoteAddr,
    } as unknown as Deno.Conn;
    const httpd = new HTTPServer(["127.0.0.1", 0], Echo, {
      bindAndActivate: false,
    });
    const served = httpd.processRequest(shaped, ["127.0.0.1", 40000]);
    await writeAll(client, UPGRADE);
    const head = new Uint8Array(1024);
    assert.match(latin1(head.subarray(0, (await client.read(head))!)), / 101 /);
    while (Echo.sockets.length === 0) await delay(5);
    const closed = next<CloseEvent>(Echo.sockets[0], "close");
    failing = true;
    await writeAll(client, frame(0x1, "echo me"));
    const event = await within(closed, 2000);
    assert.equal(event?.code, 1006, broken);
    client.close();
    assert.equal(await within(served.then(() => true), 2000), true, broken);
    httpd.close();
  }
});

Deno.test("an echo to a client that never reads stays bounded for empty messages too: each queued frame counts", async () => {
  reset();
  const [client, conn] = memoryConnPair();
  const httpd = new HTTPServer(["127.0.0.1", 0], Echo, {
    bindAndActivate: false,
  });
  const served = httpd.processRequest(conn, ["127.0.0.1", 40000]);
  await writeAll(client, UPGRADE);
  const head = new Uint8Array(1024);
  assert.match(latin1(head.subarray(0, (await client.read(head))!)), / 101 /);
  // Empty binary frames (6 bytes each with the mask), never a read: the
  // echoes fill the client's 64 KiB, then wait in the server's queue.
  const batch = new Uint8Array(1000 * 6);
  const empty = frame(0x2, new Uint8Array(0));
  for (let i = 0; i < 1000; i++) batch.set(empty, i * 6);
  let sent = 0;
  let pending: Promise<void> | null = null;
  while (sent < 500_000) {
    pending = writeAll(client, batch);
    if (await within(pending.then(() => true), 500) === null) break;
    pending = null;
    sent += 1000;
  }
  // Without a cost per frame (bufferedAmount stays 0) it read them all.
  assert.ok(sent < 200_000, `the server read ${sent} empty messages`);
  pending?.catch(() => {}); // cut off by the close
  client.close();
  assert.equal(await within(served.then(() => true), 2000), true);
  httpd.close();
});

Deno.test("a handler that throws after upgrading closes its socket with 1011, not left open unserved", async () => {
  class Thrower extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket();
      if (this.path === "/iterate") {
        for await (const _ of socket) throw new Error("bug in the loop");
      }
      if (this.path === "/own-io") {
        // A connection error, but from a file of its own: not the client's.
        const file = await Deno.open(import.meta.filename!);
        file.close();
        await file.read(new Uint8Array(8));
      }
      throw new Error("bug after the upgrade");
    }
  }
  const errors: string[] = [];
  await using srv = startServer(Thrower, {
    logSink: (line: string) => errors.push(line),
  });
  for (const path of ["/", "/iterate", "/own-io"]) {
    const ws = await open(`ws://127.0.0.1:${srv.port}${path}`);
    const closed = next<CloseEvent>(ws, "close");
    ws.send("x");
    const event = await within(closed, 2000);
    assert.ok(event !== null, `${path}: still open after 2 s`);
    assert.equal(event.code, 1011, path);
  }
  assert.equal(
    errors.filter((line) => /Exception occurred/.test(line)).length,
    3,
  );
});

// The open event is a task of its own; a handler that fails at once closes
// the socket first, and a test that ends then leaves that task's timer
// behind. The op sanitizer checks each test (not each step); each failed
// more often than not without the fix.
class FailsAtOnce extends QuietHandler {
  async do_GET(): Promise<void> {
    await this.upgradeWebSocket();
    throw new Error("bug after the upgrade");
  }
}
const UPGRADE = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
);
for (let i = 1; i <= 5; i++) {
  Deno.test(`a socket closed before its open event leaves no timer behind (${i} of 5)`, async () => {
    await using srv = startServer(FailsAtOnce, { logSink: () => {} });
    using conn = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    await writeAll(conn, UPGRADE);
    const buffer = new Uint8Array(4096);
    let got = "";
    // Up to the close frame's 1011, and not a moment longer.
    while (!got.includes("\x03\xf3")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      got += latin1(buffer.subarray(0, n));
    }
    assert.match(got, /^HTTP\/1\.1 101 /);
    assert.ok(got.includes("\x03\xf3"), "no close frame with 1011");
  });
}

Deno.test("an on* handler that throws or rejects is reported; the server lives on", async () => {
  const reported: unknown[] = [];
  class Careless extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket();
      socket.onmessage = (event) => {
        if (event.data === "throw") throw new Error("thrown");
        if (event.data === "reject") {
          return Promise.reject(new Error("rejected"));
        }
        socket.send(event.data);
      };
    }
  }
  await using srv = startServer(Careless, {
    logSink: (line) => reported.push(line),
  });
  const ws = await open(`ws://127.0.0.1:${srv.port}/`);
  ws.send("throw");
  ws.send("reject");
  ws.send("fine");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "fine");
  const text = reported.join("\n");
  assert.match(text, /Error: thrown/);
  assert.match(text, /Error: rejected/);
  // A handleError that throws too goes to stderr; the socket lives on.
  srv.server.handleError = () => {
    throw new Error("handleError broke");
  };
  const printed: unknown[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => printed.push(...args);
  try {
    ws.send("throw");
    ws.send("reject");
    ws.send("still fine");
    assert.equal((await next<MessageEvent>(ws, "message")).data, "still fine");
  } finally {
    console.error = consoleError;
  }
  assert.match(printed.map(String).join("\n"), /handleError broke/);
  await closeClient(ws);
});

Deno.test("an addEventListener listener that throws or rejects is reported too; removeEventListener still removes it", async () => {
  const reported: unknown[] = [];
  class Listens extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket();
      const careless = (event: MessageEvent) => {
        if (event.data === "throw") throw new Error("listener thrown");
        if (event.data === "reject") {
          return Promise.reject(new Error("listener rejected"));
        }
      };
      const object = {
        handleEvent(event: Event) {
          const { data } = event as MessageEvent;
          if (data === "object") throw new Error("handleEvent thrown");
        },
      };
      const removed = () => socket.send("removed listener ran");
      socket.addEventListener("message", careless);
      socket.addEventListener("message", object);
      socket.addEventListener("message", removed);
      socket.removeEventListener("message", removed);
      socket.addEventListener("message", undefined as never); // no error
      socket.addEventListener("message", (event) => {
        if (event.data === "fine") socket.send("fine");
      });
    }
  }
  await using srv = startServer(Listens, {
    logSink: (line) => reported.push(line),
  });
  const ws = await open(`ws://127.0.0.1:${srv.port}/`);
  ws.send("throw");
  ws.send("reject");
  ws.send("object");
  ws.send("fine");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "fine");
  const text = reported.join("\n");
  assert.match(text, /Error: listener thrown/);
  assert.match(text, /Error: listener rejected/);
  assert.match(text, /Error: handleEvent thrown/);
  await closeClient(ws);
});

Deno.test("a second upgrade, or one once this.signal watches, fails before any byte", async () => {
  const errors: string[] = [];
  class Twice extends QuietHandler {
    async do_GET(): Promise<void> {
      if (this.path === "/signal") void this.signal;
      else {
        const socket = await this.upgradeWebSocket();
        socket.onmessage = (event) => socket.send(event.data);
      }
      await this.upgradeWebSocket().catch((error) => {
        errors.push(error.name);
      });
    }
  }
  await using srv = startServer(Twice, { logSink: () => {} });
  const ws = await open(`ws://127.0.0.1:${srv.port}/`);
  ws.send("intact");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "intact");
  await closeClient(ws);
  const response = await fetch(`http://127.0.0.1:${srv.port}/signal`, {
    headers: {
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version": "13",
    },
  }).catch((error) => error);
  await (response as Response).body?.cancel();
  assert.deepEqual(errors, ["TypeError", "TypeError"]);
});

Deno.test("binaryType is arraybuffer by default, as on Deno.upgradeWebSocket's socket", async () => {
  const seen = Promise.withResolvers<[BinaryType, unknown]>();
  class Binary extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket();
      socket.onmessage = (event) => {
        seen.resolve([socket.binaryType, event.data]);
        socket.close();
      };
    }
  }
  await using srv = startServer(Binary);
  const ws = await open(`ws://127.0.0.1:${srv.port}/`);
  const closed = next<CloseEvent>(ws, "close");
  ws.send(new Uint8Array([1, 2, 3]));
  const [type, data] = await seen.promise;
  await closed;
  assert.equal(type, "arraybuffer");
  assert.ok(data instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(data)], [1, 2, 3]);
});
