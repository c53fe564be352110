// Copyright 2026 the basehttp authors. MIT license.
// Fuzzing the WebSocket frame reader of a live echo server: random messages
// (text of every UTF-8 length, binary, 0 bytes to 70 KB; on half the
// connections some compressed with permessage-deflate), split into random
// fragments with pings between them, sometimes ended by one frame the
// protocol forbids, all written in chunks of random size, so that frames
// are split across reads and many come in one; some clients read late. The
// server must echo every message before the bad frame, byte for byte and in
// order, answer pings only with what was sent, then close with the code the
// bad frame calls for (1000 when there was none), and end the TCP
// connection. The seed is in the test name; rerun one with FUZZ_SEED=<n>,
// or try a fresh one with FUZZ_SEED=random.
import assert from "node:assert/strict";
import { concatBytes } from "../_bytes.ts";
import {
  delay,
  fuzzSeed,
  mulberry32,
  QuietHandler,
  startServer,
  within,
  writeAll,
} from "./_util.ts";
import {
  closePayload,
  deflate,
  frame,
  inflate,
  RawClient,
  type ServerFrame,
} from "./_websocket_client.ts";

const CASES = 150;
const WORKERS = 8;
const EXCHANGE_LIMIT_MS = 5000;

const SEED = fuzzSeed(20261207);

const encoder = new TextEncoder();
// One, two, three and four bytes of UTF-8, a BOM and a replacement char.
const CHARS = ["a", "Z", " ", "é", "€", "\uFEFF", "\uFFFD", "𝄞", "\u0800"];

class Echo extends QuietHandler {
  async do_GET(): Promise<void> {
    const socket = await this.upgradeWebSocket();
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data);
  }
}

interface Message {
  opcode: number;
  bytes: Uint8Array;
}

interface Case {
  /** The bytes the client sends. */
  wire: Uint8Array;
  /** The messages to come back, in order. */
  echoed: Message[];
  /** The ping payloads sent, as text, for the pongs. */
  pings: Set<string>;
  /** The code of the server's close frame. */
  code: number;
}

// Every message compressed alone both ways, so that each can be read alone.
const DEFLATE =
  "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/** A case; with `compressed`, some messages are sent compressed. */
function makeCase(random: () => number, compressed: boolean): Case {
  const int = (n: number) => Math.floor(random() * n);
  const frames: Uint8Array[] = [];
  const echoed: Message[] = [];
  const pings = new Set<string>();
  const ping = () => {
    const payload = Uint8Array.from({ length: int(126) }, () => int(256));
    pings.add(payload.join());
    frames.push(frame(0x9, payload));
  };
  // Fragments of one message, a ping between some; RSV1 on the first when
  // the bytes are compressed.
  const fragments = (opcode: number, bytes: Uint8Array, rsv = 0) => {
    const cuts = Array.from({ length: int(4) }, () => int(bytes.length + 1))
      .sort((a, b) => a - b);
    let at = 0;
    for (const [i, cut] of [...cuts, bytes.length].entries()) {
      const last = i === cuts.length;
      frames.push(
        frame(i === 0 ? opcode : 0x0, bytes.subarray(at, cut), {
          fin: last,
          rsv: i === 0 ? rsv : 0,
        }),
      );
      if (!last && random() < 0.3) ping();
      at = cut;
    }
  };
  const size = () => {
    const roll = random();
    return roll < 0.8 ? int(200) : roll < 0.97 ? int(5000) : 60000 + int(10000);
  };
  for (let n = 1 + int(12); n > 0; n--) {
    if (random() < 0.15) ping();
    let bytes: Uint8Array;
    const opcode = random() < 0.6 ? 0x1 : 0x2;
    if (opcode === 0x1) {
      let text = "";
      const length = size();
      while (text.length < length) text += CHARS[int(CHARS.length)];
      bytes = encoder.encode(text);
    } else {
      bytes = Uint8Array.from({ length: size() }, () => int(256));
    }
    if (compressed && random() < 0.5) fragments(opcode, deflate(bytes), 4);
    else fragments(opcode, bytes);
    echoed.push({ opcode, bytes });
  }
  let code = 1000;
  if (random() < 0.4) {
    const bad: [number, () => void][] = [
      [1007, () => fragments(0x1, Uint8Array.of(0x68, 0xff, 0x69))],
      [1007, () => fragments(0x1, Uint8Array.of(0x68, 0xe2, 0x82))],
      [1007, () => fragments(0x1, Uint8Array.of(0xef, 0xbf, 0xbd, 0xc0, 0xaf))],
      [1002, () => frames.push(frame(0x3, "x"))],
      [1002, () => frames.push(frame(0x1, "x", { mask: false }))],
      [1002, () => frames.push(frame(0x1, "x", { rsv: 2 }))],
      [1002, () => frames.push(frame(0x9, new Uint8Array(126)))],
      [1002, () => frames.push(frame(0x9, "x", { fin: false }))],
      [1002, () => frames.push(frame(0x0, "x"))],
      [1002, () => frames.push(frame(0x8, closePayload(1005)))],
      [1002, () => {
        frames.push(frame(0x1, "a", { fin: false }), frame(0x2, "b"));
      }],
    ];
    if (compressed) {
      bad.push(
        [1007, () => fragments(0x2, Uint8Array.of(0xff, 0xff, 0xff), 4)],
        [1002, () => {
          frames.push(
            frame(0x1, "a", { fin: false }),
            frame(0x0, "b", { rsv: 4 }),
          );
        }],
      );
    }
    const [expected, add] = bad[int(bad.length)];
    add();
    code = expected;
  } else {
    frames.push(frame(0x8, closePayload(1000)));
  }
  return { wire: concatBytes(frames), echoed, pings, code };
}

/** Writes `bytes` in chunks of random size, now and then after a pause. */
async function trickle(
  conn: Deno.Conn,
  bytes: Uint8Array,
  random: () => number,
): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(random() ** 3 * 20000);
    await writeAll(conn, bytes.subarray(at, at + n));
    at += n;
    if (random() < 0.1) await delay(1);
  }
}

interface Tally {
  messages: number;
  /** Echoes the server compressed. */
  compressed: number;
  bytes: number;
  refused: number;
}

async function run(port: number, index: number, tally: Tally): Promise<void> {
  const random = mulberry32(SEED + index);
  const compressed = index % 2 === 1;
  const test = makeCase(random, compressed);
  const client = await RawClient.open(port, compressed ? [DEFLATE] : []);
  try {
    // A quarter of the clients read only after a while: the server's
    // writes back up, and its frames wait in its queue.
    const late = random() < 0.25;
    const exchanged = await within(
      Promise.all([
        (async () => {
          if (late) await delay(100);
          const frames: ServerFrame[] = [];
          for (let f = await client.frame(); f; f = await client.frame()) {
            frames.push(f);
          }
          return frames;
        })(),
        trickle(client.conn, test.wire, random),
      ]),
      EXCHANGE_LIMIT_MS,
    );
    const where = `case ${index} (seed ${SEED})`;
    assert.ok(exchanged !== null, `${where}: no end within the limit`);
    const [received] = exchanged;
    const data = received.filter((f) => f.opcode === 0x1 || f.opcode === 0x2);
    assert.equal(data.length, test.echoed.length, `${where}: messages`);
    for (const [i, message] of test.echoed.entries()) {
      assert.equal(data[i].opcode, message.opcode, `${where}: opcode ${i}`);
      assert.ok(data[i].fin, `${where}: one frame each`);
      const bytes = data[i].rsv1 ? inflate(data[i].payload) : data[i].payload;
      assert.deepEqual(bytes, message.bytes, `${where}: bytes ${i}`);
    }
    for (const pong of received.filter((f) => f.opcode === 0xa)) {
      assert.ok(
        test.pings.has(pong.payload.join()),
        `${where}: a pong's bytes`,
      );
    }
    tally.messages += data.length;
    tally.compressed += data.filter((f) => f.rsv1).length;
    tally.bytes += test.wire.length;
    if (test.code !== 1000) tally.refused++;
    const last = received.at(-1);
    assert.equal(last?.opcode, 0x8, `${where}: a close frame last`);
    assert.equal((last!.payload[0] << 8) | last!.payload[1], test.code, where);
  } finally {
    client.close();
  }
}

Deno.test(`websocket fuzz: ${CASES} random frame streams, half with permessage-deflate, against an echo server (seed ${SEED}; rerun with FUZZ_SEED=${SEED})`, async () => {
  await using server = startServer(Echo);
  const started = performance.now();
  const tally: Tally = { messages: 0, compressed: 0, bytes: 0, refused: 0 };
  let next = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (next < CASES) await run(server.port, next++, tally);
    }),
  );
  console.log(
    `websocket fuzz seed ${SEED}: ${CASES} streams, ` +
      `${(tally.bytes / 2 ** 20).toFixed(1)} MiB, ${tally.messages} ` +
      `messages echoed (${tally.compressed} compressed), ` +
      `${tally.refused} ended by a bad frame, ` +
      `${Math.round(performance.now() - started)} ms`,
  );
});
