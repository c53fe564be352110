// Copyright 2026 the basehttp authors. MIT license.
// The in-memory connection pair: data, partial reads and writes,
// backpressure, half-close, close, reset and the web streams, each as a real
// Deno TCP socket behaves on Linux. No socket, no permission.
import assert from "node:assert/strict";
import { MemoryConn, memoryConnPair } from "../_memory_conn.ts";
import { writeAll } from "./_util.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Whether `promise` has settled once the pending callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  // A macrotask boundary: every microtask queued until now runs first.
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

/** Reads until EOF. */
async function readAll(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(1024);
  let text = "";
  for (let n; (n = await conn.read(buf)) !== null;) {
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
  return text + decoder.decode();
}

/** Writes all of `bytes`, however many calls it takes. */
/** Closes both ends, whatever state they are in. */
function closeBoth(...conns: MemoryConn[]): void {
  for (const conn of conns) conn[Symbol.dispose]();
}

Deno.test("memory conn: poses as a Deno.TcpConn with addresses", () => {
  const [client, server] = memoryConnPair({
    clientAddr: { transport: "tcp", hostname: "10.0.0.2", port: 5555 },
  });
  // Compile-time: assignable without a cast.
  const tcp: Deno.TcpConn = client;
  const conn: Deno.Conn = server;
  assert.deepEqual(tcp.localAddr, {
    transport: "tcp",
    hostname: "10.0.0.2",
    port: 5555,
  });
  assert.deepEqual(tcp.remoteAddr, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 80,
  });
  assert.deepEqual(conn.remoteAddr, client.localAddr);
  assert.deepEqual(conn.localAddr, client.remoteAddr);
  assert.equal("rid" in client, false); // gone in Deno 2
  client.setNoDelay(true);
  client.setKeepAlive(true);
  client.ref();
  client.unref();
  closeBoth(client, server);
  // As Deno: addresses, ref and unref still work; socket options throw.
  assert.equal(client.localAddr.port, 5555);
  client.ref();
  client.unref();
  assert.throws(() => client.setNoDelay(), Deno.errors.BadResource);
  assert.throws(() => client.setKeepAlive(), Deno.errors.BadResource);
});

Deno.test("memory conn: the default addresses", () => {
  const [client, server] = memoryConnPair();
  assert.deepEqual(server.remoteAddr, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 40000,
  });
  assert.deepEqual(server.localAddr, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 80,
  });
  closeBoth(client, server);
});

Deno.test("memory conn: bad options throw RangeError", () => {
  for (const highWaterMark of [0, -1, 1.5, NaN]) {
    assert.throws(() => memoryConnPair({ highWaterMark }), RangeError);
  }
  assert.throws(() => memoryConnPair({ maxReadSize: 0 }), RangeError);
  assert.throws(() => memoryConnPair({ maxWriteSize: 0.5 }), RangeError);
  const [client, server] = memoryConnPair({ highWaterMark: Infinity });
  closeBoth(client, server);
});

Deno.test("memory conn: an end connects to one peer only", () => {
  const [client, server] = memoryConnPair();
  assert.throws(() => new MemoryConn({}, client), TypeError);
  closeBoth(client, server);
});

Deno.test("memory conn: data both ways, copied", async () => {
  const [client, server] = memoryConnPair();
  const bytes = encoder.encode("GET / HTTP/1.1\r\n\r\n");
  assert.equal(await client.write(bytes), bytes.length);
  bytes.fill(0); // the caller may reuse its buffer once write resolved
  const buf = new Uint8Array(64);
  const n = await server.read(buf);
  assert.equal(decoder.decode(buf.subarray(0, n!)), "GET / HTTP/1.1\r\n\r\n");

  assert.equal(await server.write(encoder.encode("HTTP/1.1 200 OK")), 15);
  assert.equal(await client.read(buf), 15);
  assert.equal(decoder.decode(buf.subarray(0, 15)), "HTTP/1.1 200 OK");
  closeBoth(client, server);
});

Deno.test("memory conn: a read waits for data, and reads are served in order", async () => {
  const [client, server] = memoryConnPair();
  const a = new Uint8Array(8);
  const b = new Uint8Array(8);
  const first = server.read(a);
  const second = server.read(b);
  assert.equal(await settled(first), false);
  await client.write(encoder.encode("one"));
  assert.equal(await first, 3);
  assert.equal(await settled(second), false);
  await client.write(encoder.encode("two"));
  assert.equal(await second, 3);
  assert.equal(decoder.decode(a.subarray(0, 3)), "one");
  assert.equal(decoder.decode(b.subarray(0, 3)), "two");
  closeBoth(client, server);
});

Deno.test("memory conn: empty reads and writes resolve 0", async () => {
  const [client, server] = memoryConnPair({ highWaterMark: 1 });
  assert.equal(await server.read(new Uint8Array(0)), 0);
  assert.equal(await client.write(new Uint8Array(1)), 1);
  // Even with no room left.
  assert.equal(await client.write(new Uint8Array(0)), 0);
  closeBoth(client, server);
  // As Deno: an empty read is answered before the resource is looked up,
  // an empty write is not.
  assert.equal(await server.read(new Uint8Array(0)), 0);
  await assert.rejects(
    client.write(new Uint8Array(0)),
    Deno.errors.BadResource,
  );
});

Deno.test("memory conn: maxReadSize makes partial reads", async () => {
  const [client, server] = memoryConnPair({ maxReadSize: 3 });
  await client.write(encoder.encode("abcdefgh"));
  await client.closeWrite();
  const buf = new Uint8Array(64);
  const sizes: number[] = [];
  let text = "";
  for (let n; (n = await server.read(buf)) !== null;) {
    sizes.push(n);
    text += decoder.decode(buf.subarray(0, n));
  }
  assert.deepEqual(sizes, [3, 3, 2]);
  assert.equal(text, "abcdefgh");
  // And never more than the buffer.
  await server.write(encoder.encode("xyz"));
  assert.equal(await client.read(new Uint8Array(2)), 2);
  assert.equal(await client.read(new Uint8Array(2)), 1);
  closeBoth(client, server);
});

Deno.test("memory conn: maxWriteSize makes partial writes", async () => {
  const [client, server] = memoryConnPair({ maxWriteSize: 4 });
  const bytes = encoder.encode("0123456789");
  assert.equal(await client.write(bytes), 4);
  assert.equal(await client.write(bytes.subarray(4)), 4);
  assert.equal(await client.write(bytes.subarray(8)), 2);
  await client.closeWrite();
  assert.equal(await readAll(server), "0123456789");
  closeBoth(client, server);
});

Deno.test("memory conn: backpressure holds a write until the peer reads", async () => {
  const [client, server] = memoryConnPair({ highWaterMark: 8 });
  // Accepts only the room left: a partial write.
  assert.equal(await client.write(new Uint8Array(5).fill(1)), 5);
  assert.equal(await client.write(new Uint8Array(5).fill(2)), 3);
  let accepted = false;
  const waiting = client.write(new Uint8Array(4).fill(3)).then((n) => {
    accepted = true;
    return n;
  });
  assert.equal(await settled(waiting), false);
  assert.equal(accepted, false);

  const buf = new Uint8Array(3);
  assert.equal(await server.read(buf), 3);
  assert.equal(await waiting, 3); // the room that read made
  assert.equal(accepted, true);
  assert.deepEqual([...buf], [1, 1, 1]);

  const rest = new Uint8Array(16);
  assert.equal(await server.read(rest), 8);
  assert.deepEqual([...rest.subarray(0, 8)], [1, 1, 2, 2, 2, 3, 3, 3]);
  closeBoth(client, server);
});

Deno.test("memory conn: each end applies its own highWaterMark to what it receives", async () => {
  const client = new MemoryConn({ highWaterMark: 2 });
  const server = new MemoryConn({ highWaterMark: 4 }, client);
  assert.equal(await client.write(new Uint8Array(10)), 4);
  assert.equal(await server.write(new Uint8Array(10)), 2);
  closeBoth(client, server);
});

Deno.test("memory conn: closeWrite gives the peer EOF, the other way still works", async () => {
  const [client, server] = memoryConnPair();
  await client.write(encoder.encode("request"));
  await client.closeWrite();
  await client.closeWrite(); // again: no error, as shutdown(2)
  assert.equal(await readAll(server), "request");
  assert.equal(await server.read(new Uint8Array(1)), null); // EOF stays

  await assert.rejects(
    client.write(encoder.encode("more")),
    Deno.errors.BrokenPipe,
  );
  await assert.rejects(client.write(new Uint8Array(0)), Deno.errors.BrokenPipe);

  await server.write(encoder.encode("response"));
  await server.closeWrite();
  assert.equal(await readAll(client), "response");
  closeBoth(client, server);
});

Deno.test("memory conn: closeWrite waits for the writes before it", async () => {
  const [client, server] = memoryConnPair({ highWaterMark: 4 });
  assert.equal(await client.write(encoder.encode("abcd")), 4);
  const pending = client.write(encoder.encode("ef"));
  const shutdown = client.closeWrite();
  // As Deno: a write issued meanwhile breaks.
  await assert.rejects(
    client.write(encoder.encode("g")),
    Deno.errors.BrokenPipe,
  );
  assert.equal(await settled(shutdown), false);
  assert.equal(await readAll(server), "abcdef");
  assert.equal(await pending, 2);
  await shutdown;
  closeBoth(client, server);
});

Deno.test("memory conn: close cancels this end's waiting calls with Interrupted", async () => {
  const [client, server] = memoryConnPair({ highWaterMark: 2 });
  const read = client.read(new Uint8Array(8));
  await client.write(new Uint8Array(2));
  const write = client.write(new Uint8Array(2));
  const shutdown = client.closeWrite();
  client.close();
  await assert.rejects(read, Deno.errors.Interrupted);
  await assert.rejects(write, Deno.errors.Interrupted);
  await assert.rejects(shutdown, Deno.errors.Interrupted);
  server.close();
});

Deno.test("memory conn: after close every call fails with BadResource", async () => {
  const [client, server] = memoryConnPair();
  client.close();
  await assert.rejects(client.read(new Uint8Array(1)), Deno.errors.BadResource);
  await assert.rejects(
    client.write(new Uint8Array(1)),
    Deno.errors.BadResource,
  );
  await assert.rejects(client.closeWrite(), Deno.errors.BadResource);
  assert.throws(() => client.close(), Deno.errors.BadResource);
  assert.throws(() => client.reset(), Deno.errors.BadResource);
  client[Symbol.dispose](); // disposal never throws
  server.close();
});

Deno.test("memory conn: close gives the peer EOF after the data, its writes break", async () => {
  const [client, server] = memoryConnPair({ highWaterMark: 4 });
  const waitingRead = client.read(new Uint8Array(8));
  await server.write(encoder.encode("abcd"));
  assert.equal(await waitingRead, 4);
  await server.write(encoder.encode("wxyz"));
  const waitingWrite = server.write(encoder.encode("!")); // no room
  await client.write(encoder.encode("bye"));
  client.close();

  // The peer reads what was sent, then EOF.
  assert.equal(await readAll(server), "bye");
  // Its write waiting for room, and later ones, break; the bytes the closed
  // end never read are dropped.
  await assert.rejects(waitingWrite, Deno.errors.BrokenPipe);
  await assert.rejects(
    server.write(encoder.encode("?")),
    Deno.errors.BrokenPipe,
  );
  // Its own shutdown and close still work.
  await server.closeWrite();
  server.close();
});

Deno.test("memory conn: a read waiting on the peer gets EOF when it closes", async () => {
  const [client, server] = memoryConnPair();
  const read = server.read(new Uint8Array(8));
  assert.equal(await settled(read), false);
  client.close();
  assert.equal(await read, null);
  server.close();
});

Deno.test("memory conn: reset makes the peer's reads and writes fail with ConnectionReset", async () => {
  const [client, server] = memoryConnPair({ highWaterMark: 2 });
  const pendingRead = server.read(new Uint8Array(8));
  assert.equal(await server.write(new Uint8Array(4)), 2);
  const pendingWrite = server.write(new Uint8Array(2)); // no room
  assert.equal(await settled(pendingWrite), false);
  client.reset();

  await assert.rejects(pendingRead, Deno.errors.ConnectionReset);
  await assert.rejects(pendingWrite, Deno.errors.ConnectionReset);
  // Later calls of the peer fail too.
  await assert.rejects(
    server.write(encoder.encode("x")),
    Deno.errors.ConnectionReset,
  );
  await assert.rejects(
    server.read(new Uint8Array(1)),
    Deno.errors.ConnectionReset,
  );
  await server.closeWrite(); // shutdown(2) of a reset socket succeeds
  server.close();
});

Deno.test("memory conn: reset cancels this end's own calls as close does", async () => {
  const [client, server] = memoryConnPair({ highWaterMark: 2 });
  const ownRead = client.read(new Uint8Array(8));
  assert.equal(await client.write(new Uint8Array(4)), 2);
  const ownWrite = client.write(new Uint8Array(2)); // no room
  client.reset();
  await assert.rejects(ownRead, Deno.errors.Interrupted);
  await assert.rejects(ownWrite, Deno.errors.Interrupted);
  await assert.rejects(client.read(new Uint8Array(1)), Deno.errors.BadResource);
  assert.throws(() => client.close(), Deno.errors.BadResource);
  assert.throws(() => client.reset(), Deno.errors.BadResource);
  server.close();
});

Deno.test("memory conn: reset drops the bytes queued for the peer", async () => {
  const [client, server] = memoryConnPair();
  await client.write(encoder.encode("lost"));
  client.reset();
  await assert.rejects(
    server.read(new Uint8Array(8)),
    Deno.errors.ConnectionReset,
  );
  server.close();
});

Deno.test("memory conn: readable streams what arrives and closes the conn at EOF", async () => {
  const [client, server] = memoryConnPair({ maxReadSize: 5 });
  const readable = server.readable;
  assert.equal(server.readable, readable); // one stream, made once
  await client.write(encoder.encode("hello, "));
  await client.write(encoder.encode("world"));
  await client.closeWrite();
  const chunks: string[] = [];
  for await (const chunk of readable) chunks.push(decoder.decode(chunk));
  assert.equal(chunks.join(""), "hello, world");
  // Both writes are queued by then: reads cut them at maxReadSize only.
  assert.deepEqual(chunks.map((c) => c.length), [5, 5, 2]);
  // As Deno: the end of conn.readable closes the conn.
  await assert.rejects(
    server.write(new Uint8Array(1)),
    Deno.errors.BadResource,
  );
  assert.throws(() => server.close(), Deno.errors.BadResource);
  client.close();
});

Deno.test("memory conn: readable serves BYOB readers and cancel closes the conn", async () => {
  const [client, server] = memoryConnPair();
  await client.write(encoder.encode("abc"));
  const reader = server.readable.getReader({ mode: "byob" });
  const { value, done } = await reader.read(new Uint8Array(2));
  assert.equal(done, false);
  assert.equal(decoder.decode(value), "ab");
  await reader.cancel();
  assert.throws(() => server.close(), Deno.errors.BadResource);
  client.close();
});

Deno.test("memory conn: readable errors when the peer resets", async () => {
  const [client, server] = memoryConnPair();
  const reader = server.readable.getReader();
  const read = reader.read();
  client.reset();
  await assert.rejects(read, Deno.errors.ConnectionReset);
  assert.throws(() => server.close(), Deno.errors.BadResource);
});

Deno.test("memory conn: writable writes whole chunks through backpressure", async () => {
  const [client, server] = memoryConnPair({
    highWaterMark: 16,
    maxWriteSize: 7,
  });
  const body = encoder.encode("x".repeat(100) + "y".repeat(100));
  const writing = (async () => {
    const writer = client.writable.getWriter();
    await writer.write(body.subarray(0, 100));
    await writer.write(body.subarray(100));
    await writer.close();
  })();
  assert.equal(await readAll(server), decoder.decode(body));
  await writing;
  // As Deno: closing conn.writable closes the whole conn, not closeWrite.
  await assert.rejects(client.read(new Uint8Array(1)), Deno.errors.BadResource);
  server.close();
});

Deno.test("memory conn: writable fails and closes the conn on a broken pipe", async () => {
  const [client, server] = memoryConnPair();
  await client.closeWrite();
  const writer = client.writable.getWriter();
  await assert.rejects(writer.write(new Uint8Array(1)), Deno.errors.BrokenPipe);
  assert.throws(() => client.close(), Deno.errors.BadResource);
  server.close();
});

Deno.test("memory conn: one end's readable piped into the other's writable", async () => {
  const [a, b] = memoryConnPair({ highWaterMark: 8, maxReadSize: 3 });
  const [c, d] = memoryConnPair({ highWaterMark: 5 });
  // b relays what it receives from a on to d (through c).
  const relay = b.readable.pipeTo(c.writable);
  await writeAll(a, encoder.encode("relayed bytes"));
  await a.closeWrite();
  assert.equal(await readAll(d), "relayed bytes");
  await relay;
  closeBoth(a, b, c, d);
});

Deno.test("memory conn: using closes the end", async () => {
  const [client, server] = memoryConnPair();
  {
    using conn = server;
    await client.write(encoder.encode("x"));
    assert.equal(await conn.read(new Uint8Array(1)), 1);
  }
  await assert.rejects(server.read(new Uint8Array(1)), Deno.errors.BadResource);
  assert.equal(await client.read(new Uint8Array(1)), null);
  client.close();
});
