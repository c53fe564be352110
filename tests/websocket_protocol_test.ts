// Copyright 2026 the basehttp authors. MIT license.
// WebSocket frames over raw sockets: every protocol error answered with its
// close code, fragmentation, pings, the closing handshake, the idle ping,
// and permessage-deflate on and off.

import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import zlib from "node:zlib";
import type { WebSocketOptions } from "../websocket.ts";
import { concatBytes } from "../_bytes.ts";
import {
  closePayload,
  deflate,
  frame,
  inflate,
  RawClient,
} from "./_websocket_client.ts";
import { delay, QuietHandler, startServer, within, writeAll } from "./_util.ts";

const encoder = new TextEncoder();

class Echo extends QuietHandler {
  static options: WebSocketOptions = {};
  static closes: CloseEvent[] = [];
  async do_GET(): Promise<void> {
    const socket = await this.upgradeWebSocket(Echo.options);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data);
    socket.onclose = (event) => Echo.closes.push(event);
  }
}

/** Opens a client, sends `frames`, expects the server to close with `code`. */
async function expectClose(
  port: number,
  code: number,
  send: (client: RawClient) => Promise<void>,
): Promise<void> {
  const client = await RawClient.open(port);
  try {
    await send(client);
    assert.equal(await client.closedWith(), code);
  } finally {
    client.close();
  }
}

const cases: [string, number, (c: RawClient) => Promise<void>][] = [
  ["an unmasked frame", 1002, (c) => c.send(0x1, "hi", { mask: false })],
  ["a reserved opcode", 1002, (c) => c.send(0x3, "hi")],
  ["a reserved control opcode", 1002, (c) => c.send(0xb, "")],
  ["RSV1 without an extension", 1002, (c) => c.send(0x1, "hi", { rsv: 4 })],
  ["RSV2", 1002, (c) => c.send(0x1, "hi", { rsv: 2 })],
  ["a close code of 1005", 1002, (c) => c.send(0x8, closePayload(1005))],
  ["a close code of 999", 1002, (c) => c.send(0x8, closePayload(999))],
  ["a close code of 2000", 1002, (c) => c.send(0x8, closePayload(2000))],
  ["a close payload of 1 byte", 1002, (c) => c.send(0x8, Uint8Array.of(3))],
  [
    "a close reason not UTF-8",
    1007,
    (c) => c.send(0x8, closePayload(1000, Uint8Array.of(0xc3, 0x28))),
  ],
  [
    "invalid UTF-8 in one frame",
    1007,
    (c) => c.send(0x1, Uint8Array.of(0x68, 0xff)),
  ],
  [
    "invalid UTF-8 split across fragments",
    1007,
    async (c) => {
      await c.send(0x1, Uint8Array.of(0x68, 0xe2, 0x82), { fin: false });
      await c.send(0x0, Uint8Array.of(0x28)); // 0xE2 0x82 0x28
    },
  ],
  [
    "a truncated sequence at the end of a message",
    1007,
    (c) => c.send(0x1, Uint8Array.of(0x68, 0xe2, 0x82)),
  ],
  [
    "a control frame over 125 bytes",
    1002,
    (c) => c.send(0x9, new Uint8Array(126)),
  ],
  ["a fragmented control frame", 1002, (c) => c.send(0x9, "x", { fin: false })],
  ["a continuation with no start", 1002, (c) => c.send(0x0, "x")],
  [
    "a new message inside a fragmented one",
    1002,
    async (c) => {
      await c.send(0x1, "a", { fin: false });
      await c.send(0x1, "b");
    },
  ],
];

for (const [name, code, send] of cases) {
  Deno.test(`protocol error: ${name} closes with ${code}`, async () => {
    Echo.options = {};
    await using srv = startServer(Echo);
    await expectClose(srv.port, code, send);
  });
}

Deno.test("maxMessageSize counts a message across its fragments (1009)", async () => {
  Echo.options = { maxMessageSize: 100 };
  await using srv = startServer(Echo);
  await expectClose(srv.port, 1009, async (c) => {
    await c.send(0x2, new Uint8Array(40), { fin: false });
    await c.send(0x0, new Uint8Array(40), { fin: false });
    await c.send(0x0, new Uint8Array(40));
  });
});

Deno.test("read ahead of a for await body: maxMessageSize still counts fragments (1009 at once), a bad close read ahead is a 1002 once taken", async () => {
  class Holding extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ maxMessageSize: 100 });
      for await (const _ of socket) await delay(600);
    }
  }
  await using srv = startServer(Holding);
  const c = await RawClient.open(srv.port);
  try {
    await c.send(0x1, "hold");
    await c.send(0x2, new Uint8Array(40), { fin: false });
    await c.send(0x0, new Uint8Array(40), { fin: false });
    await c.send(0x0, new Uint8Array(40));
    assert.equal(await within(c.closedWith(), 400), 1009);
  } finally {
    c.close();
  }
  await expectClose(srv.port, 1002, async (c) => {
    await c.send(0x1, "hold");
    await c.send(0x1, "then");
    await c.send(0x8, closePayload(999));
  });
});

Deno.test("read ahead of a for await body: the messages before the client's end still reach the loop, and a failure found there keeps its code", async () => {
  const seen: string[] = [];
  const closes: CloseEvent[] = [];
  class Holding extends QuietHandler {
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket({ compression: false });
      socket.onclose = (event) => closes.push(event);
      for await (const message of socket) {
        seen.push(String(message));
        if (seen.length === 1) await delay(300);
      }
    }
  }
  await using srv = startServer(Holding);
  const closed = async () => {
    while (closes.length === 0) await delay(10);
    await delay(400); // the loop's body is done
    return closes.pop()!;
  };
  // The client leaves without a close frame, or sends one in error.
  for (const last of ["end", "reserved opcode"]) {
    seen.length = 0;
    const c = await RawClient.open(srv.port);
    try {
      await c.send(0x1, "a");
      await delay(50);
      await c.send(0x1, "b");
      await c.send(0x1, "c");
      if (last !== "end") {
        await c.send(0x3, "");
        assert.equal(await within(c.closedWith(), 2000), 1002);
      }
    } finally {
      c.close();
    }
    const event = await within(closed(), 3000);
    assert.equal(event?.code, last === "end" ? 1006 : 1002);
    assert.deepEqual(seen, ["a", "b", "c"], last);
  }
  // Text read ahead that is not UTF-8, while the reader waits inside the
  // next frame: the close event says 1007, not the EOF that ends it.
  const c = await RawClient.open(srv.port);
  try {
    await c.send(0x1, "a");
    await delay(50);
    await c.send(0x1, Uint8Array.of(0xc3, 0x28));
    await c.conn.write(Uint8Array.of(0x82, 0x80 | 100, 1, 2, 3, 4, 9, 9));
    assert.equal(await within(c.closedWith(), 2000), 1007);
  } finally {
    c.close();
  }
  assert.equal((await within(closed(), 3000))?.code, 1007);
});

Deno.test("a fragment that cannot begin UTF-8 closes with 1007 at once, not at the message's end", async () => {
  // Autobahn 6.4.1–6.4.4: RFC 6455 §8.1 fails the connection when the bytes
  // are found not UTF-8; a client need not send up to maxMessageSize first.
  Echo.options = {};
  await using srv = startServer(Echo);
  const starts: [Uint8Array, Uint8Array | null][] = [
    [encoder.encode("κόσμε"), Uint8Array.of(0xed, 0xa0, 0x80)], // a surrogate
    [Uint8Array.of(0x41, 0xff), null],
    [Uint8Array.of(0xf4), Uint8Array.of(0x90)], // past U+10FFFF
  ];
  for (const [first, second] of starts) {
    const c = await RawClient.open(srv.port);
    try {
      await c.send(0x1, first, { fin: false });
      if (second !== null) await c.send(0x0, second, { fin: false });
      // No last fragment is sent: the close comes without it.
      assert.equal(await within(c.closedWith(), 2000), 1007);
    } finally {
      c.close();
    }
  }
});

Deno.test("UTF-8 split across fragments is joined; a ping between fragments is answered", async () => {
  Echo.options = {};
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port);
  await c.send(0x1, Uint8Array.of(0x41, 0xe2, 0x82), { fin: false });
  await c.send(0x9, "are you there");
  await c.send(0x0, Uint8Array.of(0xac, 0x42)); // "A€B"
  const pong = await c.frame();
  assert.equal(pong?.opcode, 0xa);
  assert.equal(new TextDecoder().decode(pong!.payload), "are you there");
  const echo = await c.frame();
  assert.equal(echo?.opcode, 0x1);
  assert.equal(new TextDecoder().decode(echo!.payload), "A€B");
  await c.send(0x8, closePayload(1000, "bye"));
  const close = await c.frame();
  assert.equal(close?.opcode, 0x8);
  assert.deepEqual(close!.payload, closePayload(1000, "bye"));
  assert.equal(await c.frame(), null);
  c.close();
});

Deno.test("a leading U+FEFF is kept in text, fragmented, compressed, and in a close reason", async () => {
  Echo.options = {};
  Echo.closes = [];
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port, [
    "Sec-WebSocket-Extensions: permessage-deflate",
  ]);
  const bom = Uint8Array.of(0xef, 0xbb, 0xbf, 0x68, 0x69); // "\uFEFFhi"
  await c.send(0x1, bom);
  assert.deepEqual((await c.frame())?.payload, bom);
  await c.send(0x1, bom.subarray(0, 2), { fin: false });
  await c.send(0x0, bom.subarray(2));
  assert.deepEqual((await c.frame())?.payload, bom);
  await c.send(0x1, deflate(bom), { rsv: 4 });
  assert.deepEqual((await c.frame())?.payload, bom);
  await c.send(0x8, closePayload(1000, bom));
  assert.equal(await c.closedWith(), 1000);
  c.close();
  await srv[Symbol.asyncDispose]();
  assert.equal(Echo.closes[0].reason, "\uFEFFhi");
});

Deno.test("a U+FFFD sent as text is text; bytes that are not UTF-8 beside it close with 1007", async () => {
  Echo.options = {};
  Echo.closes = [];
  await using srv = startServer(Echo);
  const replacement = Uint8Array.of(0x68, 0xef, 0xbf, 0xbd, 0x69); // "h\uFFFDi"
  const c = await RawClient.open(srv.port);
  await c.send(0x1, replacement);
  assert.deepEqual((await c.frame())?.payload, replacement);
  await c.send(0x8, closePayload(1000, replacement));
  assert.equal(await c.closedWith(), 1000);
  c.close();
  for (const bad of [[0xef, 0xbf, 0xbd, 0xff], [0xff, 0xef, 0xbf, 0xbd]]) {
    const d = await RawClient.open(srv.port);
    await d.send(0x1, Uint8Array.from(bad));
    assert.equal(await d.closedWith(), 1007);
    d.close();
  }
  await srv[Symbol.asyncDispose]();
  assert.equal(Echo.closes[0].reason, "h\uFFFDi");
});

class Sends extends QuietHandler {
  static options: WebSocketOptions = {};
  static texts: string[] = [];
  async do_GET(): Promise<void> {
    const socket = await this.upgradeWebSocket(Sends.options);
    socket.onopen = () => Sends.texts.forEach((text) => socket.send(text));
  }
}

Deno.test("text sent at each length goes out as its UTF-8, in the shortest header, compressed or not", async () => {
  Sends.texts = [
    "",
    "a",
    "x".repeat(125),
    "x".repeat(126),
    "\u20ac".repeat(41), // 123 bytes
    "\u00e9".repeat(63), // 126 bytes
    "\ud800", // a lone surrogate: U+FFFD, as TextEncoder gives it
    "\u{1f600}".repeat(2),
    "x".repeat(400),
    "x".repeat(1365),
    "\u20ac".repeat(1365), // 4,095 bytes
    "x".repeat(1366),
    "\u20ac".repeat(30_000), // 90,000 bytes: a 64-bit length, uncompressed
  ];
  await using srv = startServer(Sends);
  for (const compression of [false, true]) {
    Sends.options = { compression };
    const c = await RawClient.open(
      srv.port,
      // Each message alone: inflate() has no context of the ones before.
      compression
        ? [
          "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
        ]
        : [],
    );
    try {
      for (const text of Sends.texts) {
        const got = (await c.frame())!;
        assert.equal(got.opcode, 0x1);
        assert.ok(got.fin);
        const utf8 = encoder.encode(text);
        // Compressed only where deflate pays (1 KiB or more).
        assert.equal(got.rsv1, compression && utf8.length >= 1024);
        const payload = got.rsv1 ? inflate(got.payload) : got.payload;
        assert.deepEqual(payload, utf8, `${text.length} chars`);
        const length = got.payload.length;
        assert.equal(got.header, length < 126 ? 2 : length < 65536 ? 4 : 10);
      }
    } finally {
      c.close();
    }
  }
});

/**
 * Sends `count` texts of `length(i)` chars at once to `clients` sockets
 * whose clients wait 200 ms before they read: each gets every one, whole
 * and in order.
 */
async function sentWhole(
  count: number,
  length: (i: number) => number,
  clients: number,
): Promise<void> {
  Sends.texts = Array.from(
    { length: count },
    (_, i) => `${i}:`.padEnd(length(i), String.fromCharCode(97 + i % 26)),
  );
  Sends.options = {};
  await using srv = startServer(Sends);
  const opened = await Promise.all(
    Array.from({ length: clients }, () => RawClient.open(srv.port)),
  );
  try {
    await delay(200); // the server's writes back up meanwhile
    await Promise.all(opened.map(async (c) => {
      for (const text of Sends.texts) {
        const got = (await c.frame())!;
        assert.equal(new TextDecoder().decode(got.payload), text);
      }
    }));
  } finally {
    for (const c of opened) c.close();
  }
}

Deno.test("messages sent faster than the client reads arrive whole and in order", async () => {
  // The socket builds small frames in one buffer of its own: each must be
  // written before the next is built over it.
  await sentWhole(3000, (i) => 1 + (i * 7919) % 1100, 1);
});

Deno.test("two sockets sending frames built in the server's pooled buffers each get their own, whole", async () => {
  // Frames of 1 to 64 KiB are built in buffers the server's sockets share:
  // each goes back to the pool only once written.
  await sentWhole(600, (i) => 1000 + (i * 7919) % 70000, 2);
});

Deno.test("a burst of text, bytes, Blobs and empty messages, compressed where it pays, with pings, arrives whole and in order", async () => {
  // Frames queued behind one another share a write; a Blob or a message to
  // compress is not framed ahead of its turn.
  const payloadOf = (i: number) =>
    new Uint8Array((i * 7919) % 1500).map((_, j) => 97 + (i + j) % 26);
  const COUNT = 3000;
  class MixedBurst extends QuietHandler {
    async do_GET(): Promise<void> {
      const ws = await this.upgradeWebSocket();
      ws.onopen = () => {
        for (let i = 0; i < COUNT; i++) {
          const bytes = payloadOf(i);
          const kind = i % 4;
          if (kind === 0) ws.send(new TextDecoder().decode(bytes));
          else if (kind === 1) ws.send(bytes);
          else if (kind === 2) ws.send(new Blob([bytes]));
          else ws.send("");
        }
      };
    }
  }
  await using srv = startServer(MixedBurst);
  const c = await RawClient.open(srv.port, [
    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
  ]);
  try {
    await writeAll(c.conn, concatBytes([frame(0x9, "p1"), frame(0x9, "p2")]));
    let pongs = 0;
    for (let i = 0; i < COUNT;) {
      const got = (await c.frame())!;
      if (got.opcode === 0xa) {
        pongs++;
        continue;
      }
      const kind = i % 4;
      const expected = kind === 3 ? new Uint8Array(0) : payloadOf(i);
      assert.equal(got.opcode, kind === 0 || kind === 3 ? 0x1 : 0x2, `#${i}`);
      assert.equal(got.rsv1, expected.length >= 1024, `#${i}`);
      const payload = got.rsv1 ? inflate(got.payload) : got.payload;
      assert.deepEqual(payload, expected, `#${i}`);
      i++;
    }
    // A pong may still come after the last message.
    await c.send(0x8, closePayload(1000));
    for (let got = await c.frame(); got !== null; got = await c.frame()) {
      if (got.opcode === 0xa) pongs++;
      if (got.opcode === 0x8) break;
    }
    assert.ok(pongs >= 1 && pongs <= 2, `${pongs} pongs`);
  } finally {
    c.close();
  }
});

class Hoard extends QuietHandler {
  async do_GET(): Promise<void> {
    const socket = await this.upgradeWebSocket({ compression: false });
    socket.binaryType = "arraybuffer";
    const kept: (string | ArrayBuffer)[] = [];
    socket.onmessage = ({ data }) => {
      if (data !== "end") return void kept.push(data);
      for (const message of kept) socket.send(message);
    };
  }
}

Deno.test("messages that came many to a read, at every offset, are each their own bytes", async () => {
  // A whole text frame is unmasked where it lies in the read buffer and
  // decoded from there; the messages kept are read over again and again.
  const sent: [number, Uint8Array][] = [];
  for (let length = 0; length < 400; length += 1 + (length % 7)) {
    const bytes = Uint8Array.from({ length }, (_, i) => 97 + (i + length) % 26);
    sent.push([length % 3 === 0 ? 0x2 : 0x1, bytes]);
  }
  for (const length of [1000, 4093, 9000]) {
    sent.push([0x1, encoder.encode("é".repeat(length))]);
  }
  await using srv = startServer(Hoard);
  const c = await RawClient.open(srv.port);
  try {
    const frames = sent.map(([opcode, bytes]) => frame(opcode, bytes));
    await writeAll(c.conn, concatBytes([...frames, frame(0x1, "end")]));
    for (const [opcode, bytes] of sent) {
      const got = (await c.frame())!;
      assert.equal(got.opcode, opcode);
      assert.deepEqual(got.payload, bytes);
    }
  } finally {
    c.close();
  }
});

Deno.test("a close with no payload is echoed empty; the server closes the TCP first", async () => {
  Echo.options = {};
  Echo.closes = [];
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port);
  await c.send(0x8, new Uint8Array(0));
  const close = await c.frame();
  assert.equal(close?.opcode, 0x8);
  assert.equal(close!.payload.length, 0);
  assert.equal(await c.frame(), null);
  c.close();
  await srv[Symbol.asyncDispose]();
  assert.equal(Echo.closes[0].code, 1005);
  assert.equal(Echo.closes[0].wasClean, true);
});

// A full collection on demand, so that heapUsed counts only what is kept.
v8.setFlagsFromString("--expose-gc");
const gc: () => void = vm.runInNewContext("gc");

function heapKept(): number {
  gc();
  return Deno.memoryUsage().heapUsed;
}

Deno.test("a message of many empty or 1-byte fragments holds about its size in memory", async () => {
  Echo.options = { compression: false };
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port);
  const empty = frame(0x0, "", { fin: false });
  const one = frame(0x0, "x", { fin: false });
  const count = 10_000; // of each
  const flood = new Uint8Array(count * (empty.length + one.length));
  for (let at = 0; at < flood.length; at += empty.length + one.length) {
    flood.set(empty, at);
    flood.set(one, at + empty.length);
  }
  const before = heapKept();
  await c.send(0x2, "x", { fin: false });
  await writeAll(c.conn, flood);
  await c.send(0x9, "read"); // answered once every fragment before it was
  assert.equal((await c.frame())?.opcode, 0xa);
  const kept = heapKept() - before;
  await c.send(0x0, "x");
  const echo = await c.frame();
  assert.equal(echo?.opcode, 0x2);
  assert.deepEqual(echo.payload, new Uint8Array(count + 2).fill(0x78));
  await c.send(0x8, closePayload(1000));
  assert.equal(await c.closedWith(), 1000);
  c.close();
  // Kept one by one, the fragments took about 200 bytes each.
  assert.ok(kept < 1 << 20, `${kept >> 10} KiB kept`);
});

Deno.test("maxMessageSize: a message of 4 KiB fragments, compressed or not, is taken up to the limit", async () => {
  Echo.options = { maxMessageSize: 65536 };
  await using srv = startServer(Echo);
  // Each echo compressed on its own, for inflate() to read.
  const c = await RawClient.open(srv.port, [
    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover",
  ]);
  const data = new Uint8Array(65536).map((_, i) => (i * 7919) >> 5);
  const sendInFragments = async (bytes: Uint8Array, rsv: number) => {
    for (let at = 0; at < bytes.length; at += 4096) {
      const end = Math.min(at + 4096, bytes.length);
      await c.send(at === 0 ? 0x2 : 0x0, bytes.subarray(at, end), {
        fin: end === bytes.length,
        rsv: at === 0 ? rsv : 0,
      });
    }
  };
  await sendInFragments(data, 0);
  assert.deepEqual(inflate((await c.frame())!.payload), data);
  await sendInFragments(deflate(data), 4);
  assert.deepEqual(inflate((await c.frame())!.payload), data);
  await sendInFragments(new Uint8Array(65537), 0);
  assert.equal(await c.closedWith(), 1009);
  c.close();
});

Deno.test("a 16 MiB message in 4 fragments is echoed whole", async () => {
  Echo.options = {};
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port);
  const size = 16 * 1024 * 1024;
  const data = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
  const quarter = size / 4;
  for (let i = 0; i < 4; i++) {
    await c.send(
      i === 0 ? 0x2 : 0x0,
      data.subarray(i * quarter, (i + 1) * quarter),
      {
        fin: i === 3,
      },
    );
  }
  const echo = await c.frame();
  assert.equal(echo?.opcode, 0x2);
  assert.equal(echo!.payload.length, size);
  assert.deepEqual(echo!.payload, data);
  await c.send(0x8, closePayload(1000));
  assert.equal(await c.closedWith(), 1000);
  c.close();
});

Deno.test("idleTimeout: a ping after silence, then the close when no pong comes", async () => {
  Echo.options = { idleTimeout: 0.15 };
  Echo.closes = [];
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port);
  const started = Date.now();
  const ping = await c.frame();
  assert.equal(ping?.opcode, 0x9);
  const pinged = Date.now() - started;
  assert.ok(pinged >= 100 && pinged < 1000, `pinged at ${pinged} ms`);
  assert.equal(await c.frame(), null); // no pong: closed
  const closed = Date.now() - started;
  assert.ok(closed >= 250 && closed < 2000, `closed at ${closed} ms`);
  c.close();
  await srv[Symbol.asyncDispose]();
  assert.equal(Echo.closes[0].code, 1006);
});

Deno.test("permessage-deflate on: compressed frames both ways", async () => {
  Echo.options = {};
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port, [
    "Sec-WebSocket-Extensions: x-unknown, permessage-deflate; client_max_window_bits",
  ]);
  assert.match(
    c.head,
    /\r\nSec-WebSocket-Extensions: permessage-deflate\r\n|\r\nSec-WebSocket-Extensions: permessage-deflate$/,
  );
  const text = "compress me ".repeat(500);
  await c.send(0x1, deflate(encoder.encode(text)), { rsv: 4 });
  const echo = await c.frame();
  assert.equal(echo?.opcode, 0x1);
  assert.equal(echo?.rsv1, true);
  assert.ok(echo!.payload.length < 200);
  assert.equal(new TextDecoder().decode(inflate(echo!.payload)), text);
  // Small messages go uncompressed; both kinds may mix.
  await c.send(0x1, "small");
  const small = await c.frame();
  assert.equal(small?.rsv1, false);
  assert.equal(new TextDecoder().decode(small!.payload), "small");
  // RSV1 on a continuation frame is an error.
  await c.send(0x1, deflate(encoder.encode("a")), { rsv: 4, fin: false });
  await c.send(0x0, "b", { rsv: 4 });
  assert.equal(await c.closedWith(), 1002);
  c.close();
});

Deno.test("permessage-deflate: bad compressed data closes with 1007", async () => {
  Echo.options = {};
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port, [
    "Sec-WebSocket-Extensions: permessage-deflate",
  ]);
  await c.send(0x2, Uint8Array.of(0xff, 0xff, 0xff, 0xff), { rsv: 4 });
  assert.equal(await c.closedWith(), 1007);
  c.close();
});

Deno.test("permessage-deflate: a compression bomb stops inflating at maxMessageSize (1009 at once)", async () => {
  // 4 MiB on the wire, under the limit, inflating to about 4 GiB: all of
  // it would take seconds, so the bound below holds on a loaded machine.
  const limit = 4 << 20;
  Echo.options = { maxMessageSize: limit };
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port, [
    "Sec-WebSocket-Extensions: permessage-deflate",
  ]);
  // 1 MiB of zeros, sync-flushed, is about 1 KiB.
  const chunk = zlib.deflateRawSync(new Uint8Array(1 << 20), {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const count = Math.floor(limit / chunk.length);
  const bomb = new Uint8Array(chunk.length * count);
  for (let i = 0; i < count; i++) bomb.set(chunk, i * chunk.length);
  const started = Date.now();
  await c.send(0x2, bomb, { rsv: 4 });
  assert.equal(await c.closedWith(), 1009);
  const took = Date.now() - started;
  c.close();
  assert.ok(took < 1000, `closed after ${took} ms`);
});

Deno.test("permessage-deflate: messages each a complete DEFLATE stream (BFINAL) all arrive", async () => {
  Echo.options = {};
  await using srv = startServer(Echo);
  for (
    const offer of [
      "permessage-deflate",
      "permessage-deflate; client_no_context_takeover",
    ]
  ) {
    const c = await RawClient.open(srv.port, [
      `Sec-WebSocket-Extensions: ${offer}`,
    ]);
    for (const word of ["hello", "world", "again"]) {
      // Z_FINISH, as RFC 7692 §7.2.3.4 allows: the block has BFINAL set.
      await c.send(0x1, zlib.deflateRawSync(encoder.encode(word)), { rsv: 4 });
      const echo = await c.frame();
      assert.equal(echo?.opcode, 0x1, offer);
      assert.equal(new TextDecoder().decode(echo.payload), word, offer);
    }
    await c.send(0x8, closePayload(1000));
    assert.equal(await c.closedWith(), 1000);
    c.close();
  }
});

Deno.test("permessage-deflate off: no extension, and RSV1 is an error", async () => {
  Echo.options = { compression: false };
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port, [
    "Sec-WebSocket-Extensions: permessage-deflate",
  ]);
  assert.doesNotMatch(c.head, /Sec-WebSocket-Extensions/i);
  await c.send(0x1, deflate(encoder.encode("x")), { rsv: 4 });
  assert.equal(await c.closedWith(), 1002);
  c.close();
});

Deno.test("permessage-deflate: offers the server cannot honour are declined", async () => {
  Echo.options = {};
  await using srv = startServer(Echo);
  for (
    const offer of [
      "permessage-deflate; server_max_window_bits=8",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; client_max_window_bits=7",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; unknown_param",
    ]
  ) {
    const c = await RawClient.open(srv.port, [
      `Sec-WebSocket-Extensions: ${offer}`,
    ]);
    assert.doesNotMatch(c.head, /Sec-WebSocket-Extensions/i, offer);
    await c.send(0x8, closePayload(1000));
    assert.equal(await c.closedWith(), 1000);
    c.close();
  }
  // A declined offer, then one that is accepted.
  const c = await RawClient.open(srv.port, [
    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=11",
  ]);
  assert.match(
    c.head,
    /Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11/,
  );
  await c.send(0x8, closePayload(1000));
  assert.equal(await c.closedWith(), 1000);
  c.close();
});

Deno.test("a handler speaking HTTP/1.0 (Python's default) still answers HTTP/1.1 101", async () => {
  class Old extends QuietHandler {
    override protocolVersion = "HTTP/1.0";
    async do_GET(): Promise<void> {
      const socket = await this.upgradeWebSocket();
      socket.onmessage = (event) => socket.send(event.data);
    }
  }
  await using srv = startServer(Old);
  const c = await RawClient.open(srv.port); // asserts "HTTP/1.1 101"
  await c.send(0x1, "hi");
  assert.equal(new TextDecoder().decode((await c.frame())!.payload), "hi");
  await c.send(0x8, closePayload(1000));
  assert.equal(await c.closedWith(), 1000);
  c.close();
});

Deno.test("pings in a burst: the last one's payload is answered last", async () => {
  Echo.options = {};
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port);
  const burst = [1, 2, 3, 4, 5].map((i) => frame(0x9, `ping ${i}`));
  await writeAll(c.conn, concatBytes(burst));
  await c.send(0x1, "after");
  const pongs: string[] = [];
  let next = await c.frame();
  while (next !== null && next.opcode === 0xa) {
    pongs.push(new TextDecoder().decode(next.payload));
    next = await c.frame();
  }
  assert.ok(pongs.length >= 1 && pongs.length <= 5, String(pongs));
  assert.equal(pongs.at(-1), "ping 5");
  assert.equal(new TextDecoder().decode(next!.payload), "after");
  await c.send(0x8, closePayload(1000));
  assert.equal(await c.closedWith(), 1000);
  c.close();
});

Deno.test("idleTimeout: a frame still arriving is not silence", async () => {
  Echo.options = { idleTimeout: 0.2 };
  Echo.closes = [];
  await using srv = startServer(Echo);
  const c = await RawClient.open(srv.port);
  // A 20 KiB frame trickled over about a second, well past the timeout.
  const bytes = frame(0x2, new Uint8Array(20480));
  for (let at = 0; at < bytes.length; at += 2048) {
    await writeAll(c.conn, bytes.subarray(at, at + 2048));
    await delay(100);
  }
  let echoed = await c.frame();
  while (echoed?.opcode === 0x9) echoed = await c.frame(); // pings, unanswered
  assert.equal(echoed?.opcode, 0x2, "the frame came through and was echoed");
  assert.equal(echoed.payload.length, 20480);
  c.close();
});

Deno.test("a frame header alone does not make the server allocate its announced length", async () => {
  Echo.options = {};
  await using srv = startServer(Echo);
  const clients = await Promise.all(
    Array.from({ length: 8 }, () => RawClient.open(srv.port)),
  );
  const before = Deno.memoryUsage().external;
  for (const c of clients) {
    // A masked binary frame of 60 MiB announced (under maxMessageSize):
    // FIN+opcode, MASK+127, the 64-bit length, the key; then 16 bytes.
    const announce = new Uint8Array(14);
    announce.set([0x82, 0xff]);
    new DataView(announce.buffer).setBigUint64(2, BigInt(60 * 1024 * 1024));
    announce.set([1, 2, 3, 4], 10);
    await writeAll(c.conn, announce);
    await writeAll(c.conn, new Uint8Array(16));
  }
  await delay(100);
  const grown = (Deno.memoryUsage().external - before) / (1 << 20);
  for (const c of clients) c.close();
  assert.ok(grown < 64, `external memory grew by ${grown.toFixed(0)} MiB`);
});

for (const style of ["for await", "onmessage"]) {
  Deno.test(`${style}: an echo to a client that never reads stops reading once 1 MiB waits to be sent`, async () => {
    let socket: { bufferedAmount: number } | null = null;
    let taken = 0;
    class Echo extends QuietHandler {
      async do_GET(): Promise<void> {
        const ws = await this.upgradeWebSocket();
        socket = ws;
        if (style === "onmessage") {
          ws.onmessage = (event) => {
            taken++;
            ws.send(event.data);
          };
          return;
        }
        for await (const message of ws) {
          taken++;
          ws.send(message);
        }
      }
    }
    await using srv = startServer(Echo);
    const c = await RawClient.open(srv.port);
    const message = frame(0x2, new Uint8Array(65536));
    const deadline = Date.now() + 2000;
    // 16 MiB sent, nothing read; a write that blocks is given up at the deadline.
    for (let i = 0; i < 256 && Date.now() < deadline; i++) {
      const wait = deadline - Date.now();
      const sent = await within(
        writeAll(c.conn, message).then(() => true),
        wait,
      );
      if (sent === null) break;
    }
    await delay(100);
    const queued = socket!.bufferedAmount;
    c.close();
    // 1 MiB, plus the messages already read ahead when it was reached.
    assert.ok(queued < 2 << 20, `${queued} bytes queued`);
    assert.ok(taken < 256, `${taken} messages taken`);
  });
}

Deno.test("idleTimeout: a client that keeps sending but takes no bytes is closed", async () => {
  const closed = Promise.withResolvers<CloseEvent>();
  let queued = 0;
  class OnMessageEcho extends QuietHandler {
    async do_GET(): Promise<void> {
      const ws = await this.upgradeWebSocket({ idleTimeout: 0.3 });
      ws.onmessage = (event) => {
        ws.send(event.data);
        queued = Math.max(queued, ws.bufferedAmount);
      };
      ws.onclose = (event) => closed.resolve(event);
    }
  }
  await using srv = startServer(OnMessageEcho);
  const c = await RawClient.open(srv.port);
  const message = frame(0x2, new Uint8Array(16384));
  const seen: { closed: CloseEvent | null } = { closed: null };
  closed.promise.then((event) => seen.closed = event);
  const deadline = Date.now() + 4000;
  // Sends all along and never reads: the server's writes make no progress.
  while (seen.closed === null && Date.now() < deadline) {
    const sent = await within(
      writeAll(c.conn, message).then(() => true, () => false),
      500,
    );
    if (sent === false) break; // the server closed
  }
  const event = seen.closed; // before the client closes
  c.close();
  await closed.promise;
  assert.ok(event !== null, `still open after 4 s, ${queued} bytes queued`);
  assert.equal(event.code, 1006);
});

Deno.test("a ping flood while many frames wait to be written costs the server no scan of the queue", async () => {
  // The kernel's buffers are filled first by a client that does not read,
  // then 60,000 small frames wait in the queue (under the high-water mark:
  // reading goes on) while 20,000 pings come: each must cost the same
  // whatever waits (a scan of the queue for a pong to replace took 9 s).
  const queued = Promise.withResolvers<void>();
  class Flooded extends QuietHandler {
    override protocolVersion = "HTTP/1.1";
    async do_GET(): Promise<void> {
      if (this.headers.get("upgrade") === null) {
        this.sendResponse(200);
        this.sendHeader("Content-Length", "2");
        await this.endHeaders();
        await this.wfile.write(encoder.encode("ok"));
        return;
      }
      const ws = await this.upgradeWebSocket();
      await new Promise((resolve) => ws.onopen = resolve);
      const big = new Uint8Array(256 * 1024);
      for (let sent = 0; sent < 512; sent++) {
        ws.send(big);
        await delay(ws.bufferedAmount > 0 ? 20 : 0);
        if (ws.bufferedAmount > 0) break; // the kernel's buffers are full
      }
      for (let i = 0; i < 60_000; i++) ws.send("0123456789");
      queued.resolve();
    }
  }
  await using srv = startServer(Flooded);
  const c = await RawClient.open(srv.port);
  await queued.promise;
  const started = Date.now();
  await writeAll(
    c.conn,
    concatBytes(Array.from({ length: 20_000 }, () => frame(0x9, ""))),
  );
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  assert.equal(await response.text(), "ok");
  const waited = Date.now() - started;
  c.close();
  assert.ok(waited < 3000, `the pings and a request took ${waited} ms`);
});
