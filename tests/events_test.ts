// Copyright 2026 the basehttp authors. MIT license.
// Server-sent events: read by fetch and by Deno's EventSource (which
// reconnects with Last-Event-ID), framed on HTTP/1.1 and HTTP/1.0, ended by
// the client, by close() and by shutdown().

import assert from "node:assert/strict";
import type { EventStream } from "../events.ts";
import { HTTPServer } from "../mod.ts";
import { testClient } from "../testing.ts";
import {
  exchange,
  QuietHandler,
  readAll,
  startServer,
  within,
} from "./_util.ts";

Deno.test("fetch reads events: multi-line data, event, id, retry, comments", async () => {
  class Events extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      await events.send({ data: "one" });
      await events.send({ event: "multi", data: "a\nb\r\nc\rd", id: "7" });
      await events.comment("just saying\nsecond line");
      await events.send({ data: "", retry: 1500 });
      await events.close();
      assert.ok(events.closed);
    }
  }
  await using srv = startServer(Events);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  assert.equal(response.headers.get("cache-control"), "no-cache");
  assert.equal(response.headers.get("x-accel-buffering"), "no");
  assert.equal(response.headers.get("transfer-encoding"), "chunked");
  assert.equal(
    await response.text(),
    "data: one\n\n" +
      "event: multi\nid: 7\ndata: a\ndata: b\ndata: c\ndata: d\n\n" +
      ": just saying\n: second line\n\n" +
      "retry: 1500\ndata: \n\n",
  );
});

Deno.test("each event goes out at once, while the stream stays open", async () => {
  let stream!: EventStream;
  let opened!: () => void;
  const isOpen = new Promise<void>((resolve) => opened = resolve);
  class Held extends QuietHandler {
    async do_GET(): Promise<void> {
      // The handler returns; the request stays open until close().
      stream = await this.eventStream();
      opened();
    }
  }
  await using srv = startServer(Held);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  await isOpen;
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  await stream.send({ data: "first" });
  assert.equal((await reader.read()).value, "data: first\n\n");
  await stream.send({ data: "second" });
  assert.equal((await reader.read()).value, "data: second\n\n");
  await stream.close();
  assert.equal((await reader.read()).done, true);
  await assert.rejects(stream.send({ data: "late" }), TypeError);
});

Deno.test("HTTP/1.0: no chunking, the stream ends with the connection", async () => {
  class Old extends QuietHandler {
    override protocolVersion = "HTTP/1.0";
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      await events.send({ data: "x" });
      await events.close();
    }
  }
  await using srv = startServer(Old);
  const { text, closed } = await exchange(
    srv.port,
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  assert.ok(closed);
  assert.match(text, /^HTTP\/1\.0 200 OK\r\n/);
  assert.doesNotMatch(text, /Transfer-Encoding/i);
  assert.ok(text.endsWith("\r\n\r\ndata: x\n\n"), text);
});

Deno.test("send() rejects a line break in event or id, and a bad retry", async () => {
  const errors: string[] = [];
  class Strict extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      for (
        const event of [
          { data: "", event: "a\nb" },
          { data: "", id: "1\r" },
          { data: "", id: "a\0b" },
          { data: "", retry: -1 },
          { data: "", retry: 1.5 },
        ]
      ) {
        // A rejection, never a throw: a caller that only chains .catch sees it.
        await events.send(event).catch((error) => errors.push(error.name));
      }
      await events.close();
    }
  }
  await using srv = startServer(Strict);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  assert.equal(await response.text(), "");
  assert.deepEqual(errors, [
    "TypeError",
    "TypeError",
    "TypeError",
    "RangeError",
    "RangeError",
  ]);
});

Deno.test("EventSource reconnects with Last-Event-ID", async () => {
  const lastIds: string[] = [];
  class Resumable extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      lastIds.push(events.lastEventId);
      if (events.lastEventId === "") {
        await events.send({ id: "41", data: "first", retry: 20 });
      } else {
        await events.send({ id: "42", data: `after ${events.lastEventId}` });
      }
      // Ending the stream makes the client reconnect.
      await events.close();
    }
  }
  await using srv = startServer(Resumable);
  const source = new EventSource(`http://127.0.0.1:${srv.port}/events`);
  const data: string[] = [];
  await new Promise<void>((resolve) => {
    source.onmessage = (event) => {
      data.push(event.data);
      if (data.length === 2) resolve();
    };
  });
  source.close();
  assert.deepEqual(data, ["first", "after 41"]);
  assert.deepEqual(lastIds.slice(0, 2), ["", "41"]);
});

Deno.test("a Last-Event-ID in UTF-8 is the id that was sent, é✓, a leading BOM and all", async () => {
  class Echo extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      await events.send({ data: events.lastEventId });
      await events.close();
    }
  }
  await using client = testClient(Echo);
  const id = "é✓41";
  for (
    const [bytes, expected] of [
      [new TextEncoder().encode(id), id],
      [Uint8Array.of(0xe9), "\xe9"], // not UTF-8: kept byte for byte
      // A browser keeps a BOM inside an id (only the stream's first is cut).
      [new TextEncoder().encode("\ufeffx"), "\ufeffx"],
    ] as const
  ) {
    const head = new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: h\r\nLast-Event-ID: ",
    );
    const end = new TextEncoder().encode("\r\nConnection: close\r\n\r\n");
    const { responses } = await client.raw(
      new Uint8Array([...head, ...bytes, ...end]),
    );
    assert.match(responses[0].text(), new RegExp(`^data: ${expected}\n\n$`));
  }
});

Deno.test("a client that leaves aborts the stream's signal", async () => {
  let ended!: (reason: unknown) => void;
  const endedWith = new Promise<unknown>((resolve) => ended = resolve);
  class Ticker extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      events.signal.addEventListener(
        "abort",
        () => ended(events.signal.reason),
      );
      while (!events.signal.aborted) {
        await events.send({ data: "tick" }).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }
  await using srv = startServer(Ticker);
  const controller = new AbortController();
  const response = await fetch(`http://127.0.0.1:${srv.port}/`, {
    signal: controller.signal,
  });
  const reader = response.body!.getReader();
  await reader.read();
  controller.abort();
  await reader.closed.catch(() => {});
  const reason = await within(endedWith, 2000);
  assert.ok(reason instanceof Deno.errors.UnexpectedEof, String(reason));
});

Deno.test("a heartbeat past what a timer can hold is a RangeError, not a flood", async () => {
  const errors: string[] = [];
  class Heartbeats extends QuietHandler {
    async do_GET(): Promise<void> {
      for (const heartbeat of [Infinity, 2147484, NaN, 0]) {
        await this.eventStream({ heartbeat }).catch((error) =>
          errors.push(`${heartbeat} ${error.name}`)
        );
      }
      await this.sendError(404);
    }
  }
  await using srv = startServer(Heartbeats);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  await response.body?.cancel();
  assert.equal(response.status, 404); // nothing was sent before
  assert.deepEqual(errors, [
    "Infinity RangeError",
    "2147484 RangeError",
    "NaN RangeError",
    "0 RangeError",
  ]);
});

Deno.test("a handler that throws after starting its stream ends the stream and the response", async () => {
  let stream!: EventStream;
  class Failing extends QuietHandler {
    async do_GET(): Promise<void> {
      stream = await this.eventStream();
      await stream.send({ data: "before" });
      throw new Error("the producer broke");
    }
  }
  await using srv = startServer(Failing, { logSink: () => {} });
  const since = Date.now();
  const ex = await exchange(srv.port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", {
    quietMs: 1000,
  });
  assert.ok(ex.closed, "the connection stayed open");
  assert.ok(Date.now() - since < 1500, `closed after ${Date.now() - since} ms`);
  assert.match(ex.text, /data: before\n\n/);
  // Cut, not ended: no last chunk makes it look complete.
  assert.doesNotMatch(ex.text, /\r\n0\r\n\r\n$/);
  assert.ok(stream.closed);
});

Deno.test("heartbeat comments keep an idle stream talking", async () => {
  let stream!: EventStream;
  class Quiet extends QuietHandler {
    async do_GET(): Promise<void> {
      stream = await this.eventStream({ heartbeat: 0.05 });
    }
  }
  await using srv = startServer(Quiet);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (text.split(":\n\n").length < 3) text += (await reader.read()).value;
  assert.match(text, /^(:\n\n)+$/);
  await stream.close();
  while (!(await reader.read()).done) { /* the end of the stream */ }
});

Deno.test("no heartbeat goes out while events flow", async () => {
  class Busy extends QuietHandler {
    async do_GET(): Promise<void> {
      const stream = await this.eventStream({ heartbeat: 0.1 });
      for (let i = 0; i < 25; i++) {
        await stream.send({ data: String(i) });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await stream.close();
    }
  }
  await using srv = startServer(Busy);
  const text = await (await fetch(`http://127.0.0.1:${srv.port}/`)).text();
  assert.equal(
    text.split("\n\n").filter((e) => e.startsWith("data")).length,
    25,
  );
  assert.doesNotMatch(text, /^:/m);
});

Deno.test("an event sent just after a heartbeat does not stretch the next quiet to twice the interval", async () => {
  class Once extends QuietHandler {
    async do_GET(): Promise<void> {
      const stream = await this.eventStream({ heartbeat: 0.5 });
      await new Promise((resolve) => setTimeout(resolve, 520));
      await stream.send({ data: "e" });
      await new Promise((resolve) => setTimeout(resolve, 1600));
      await stream.close();
    }
  }
  await using srv = startServer(Once);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  const reader = response.body!.getReader();
  const gaps: number[] = [];
  let last = performance.now();
  while (!(await reader.read()).done) {
    gaps.push(performance.now() - last);
    last = performance.now();
  }
  // A proxy that cuts after the interval plus a little never sees more.
  const longest = Math.max(...gaps.slice(1));
  assert.ok(longest < 800, `${gaps.map(Math.round)} ms`);
});

Deno.test("shutdown() ends open event streams without waiting out the grace", async () => {
  let opened!: () => void;
  const isOpen = new Promise<void>((resolve) => opened = resolve);
  let failure: unknown = null;
  class Forever extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      opened();
      try {
        while (true) {
          await events.send({ data: "tick" });
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } catch (error) {
        failure = error;
      }
    }
  }
  const srv = startServer(Forever, { shutdownTimeout: 10 });
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  await isOpen;
  const body = response.text();
  const started = Date.now();
  await srv[Symbol.asyncDispose]();
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
  assert.match(await body, /^(data: tick\n\n)+$/);
  assert.ok(failure instanceof Deno.errors.Interrupted, String(failure));
});

Deno.test("shutdown() ends the documented loop's stream cleanly: a last chunk, no error report", async () => {
  let opened!: () => void;
  const isOpen = new Promise<void>((resolve) => opened = resolve);
  // The EventStream example's loop, which lets the abort's reason escape.
  const nextUpdate = (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => resolve("tick"), 5000);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    });
  class Loop extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      await events.send({ data: "hello" });
      opened();
      while (!events.signal.aborted) {
        await events.send({ data: await nextUpdate(events.signal) });
      }
    }
  }
  class Recording extends HTTPServer {
    errors: unknown[] = [];
    override handleError(_c: unknown, _a: unknown, error: unknown): void {
      this.errors.push(error);
    }
  }
  const httpd = new Recording(["127.0.0.1", 0], Loop, { shutdownTimeout: 10 });
  const serving = httpd.serveForever(0.05);
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: httpd.serverPort,
  });
  await conn.write(
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
  );
  await isOpen;
  const read = readAll(conn, 3000);
  await httpd.shutdown();
  await serving;
  httpd.close();
  const { text, closed } = await read;
  conn.close();
  assert.ok(closed);
  assert.ok(
    text.endsWith("hello\n\n\r\n0\r\n\r\n"),
    JSON.stringify(text.slice(-40)),
  );
  assert.deepEqual(httpd.errors, []);
});

Deno.test("send() after the stream ended rejects for an await, and is harmless without one", async () => {
  const streams = new Set<EventStream>();
  class Feed extends QuietHandler {
    async do_GET(): Promise<void> {
      streams.add(await this.eventStream());
    }
  }
  await using srv = startServer(Feed);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  await response.body!.cancel(); // the client leaves
  const [events] = streams;
  await within(
    new Promise((resolve) => events.signal.addEventListener("abort", resolve)),
    2000,
  );
  // A broadcast that does not await: an unhandled rejection fails the test.
  for (let i = 0; i < 3; i++) events.send({ data: "tick" });
  await assert.rejects(events.send({ data: "awaited" }));
  await new Promise((resolve) => setTimeout(resolve, 20));
});

Deno.test("HEAD of an event stream: the head alone, the stream ended at once and quietly, the connection kept", async () => {
  const errors: string[] = [];
  const reasons: unknown[] = [];
  class Ticker extends QuietHandler {
    async do_GET(): Promise<void> {
      if (this.path === "/next") {
        this.sendResponse(204);
        return await this.endHeaders();
      }
      const events = await this.eventStream();
      // Awaited sends, as the documented loop has them: they reject.
      while (!events.signal.aborted) {
        await events.send({ data: "tick" });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      reasons.push(events.signal.reason);
    }
    do_HEAD(): Promise<void> {
      return this.do_GET();
    }
  }
  await using srv = startServer(Ticker, {
    logSink: (line: string) => errors.push(line),
  });
  const { text } = await exchange(
    srv.port,
    "HEAD / HTTP/1.1\r\nHost: h\r\n\r\n" +
      "GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    { quietMs: 3000 },
  );
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n.*HTTP\/1\.1 204 /s);
  assert.equal(reasons.length, 1);
  assert.deepEqual(errors.filter((line) => !line.includes('"')), []);
});

Deno.test("an unawaited broadcast to a client that reads nothing is bounded: past 16 MiB waiting, the stream ends and the connection closes", async () => {
  let stream!: EventStream;
  let peak = 0;
  QuietHandler.logs = [];
  let ended!: () => void;
  const done = new Promise<void>((resolve) => ended = resolve);
  class Broadcast extends QuietHandler {
    async do_GET(): Promise<void> {
      stream = await this.eventStream();
      const data = "x".repeat(64 * 1024);
      for (let i = 0; i < 400; i++) {
        stream.send({ data }); // not awaited: a broadcast's habit
        peak = Math.max(peak, stream.bufferedAmount);
      }
      ended();
    }
  }
  await using srv = startServer(Broadcast);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  try {
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    );
    await within(done, 5000);
    assert.ok(stream.closed);
    assert.ok(
      stream.signal.reason instanceof Deno.errors.ConnectionAborted,
      String(stream.signal.reason),
    );
    assert.ok(peak <= 16 * 1024 * 1024, `peak ${peak}`);
    assert.ok(peak > 8 * 1024 * 1024, `peak ${peak}`);
    // The server closed the connection: reading ends (after what it sent).
    const buf = new Uint8Array(1 << 20);
    const end = await within(
      (async () => {
        while ((await conn.read(buf)) !== null);
        return "closed";
      })().catch(() => "closed"),
      5000,
    );
    assert.equal(end, "closed");
    // The log says why, not what the close did to the pending write.
    const lost = QuietHandler.logs.filter((line) => line.includes("lost"));
    assert.equal(lost.length, 1, String(lost));
    assert.match(lost[0], /ConnectionAborted: The client reads too slowly/);
  } finally {
    conn.close();
  }
});

Deno.test("comment() with no text, an event with no data, a number as id", async () => {
  const outcomes: string[] = [];
  class Edges extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      const untyped = events as unknown as {
        comment(): Promise<void>;
        send(event: Record<string, unknown>): Promise<void>;
      };
      await untyped.comment();
      await untyped.send({ event: "ping" }).catch((error) =>
        outcomes.push(error.name)
      );
      await untyped.send({ data: "five", id: 5 });
      await events.close();
    }
  }
  await using srv = startServer(Edges);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  assert.equal(await response.text(), ": \n\nid: 5\ndata: five\n\n");
  assert.deepEqual(outcomes, ["TypeError"]);
});

Deno.test("one awaited event larger than the bound goes out whole: the bound is on what waits behind it", async () => {
  const outcomes: string[] = [];
  const data = "y".repeat(17 * 1024 * 1024);
  class Big extends QuietHandler {
    async do_GET(): Promise<void> {
      const events = await this.eventStream();
      await events.send({ data }).then(
        () => outcomes.push("sent"),
        (error) => outcomes.push(error.name),
      );
      await events.close();
    }
  }
  await using srv = startServer(Big);
  const response = await fetch(`http://127.0.0.1:${srv.port}/`);
  assert.equal((await response.text()).length, data.length + 8);
  assert.deepEqual(outcomes, ["sent"]);
});
