// Copyright 2026 the basehttp authors. MIT license.
// The handler's own cost per request, without the kernel: a hello-world
// handler served through the server's entry point (`finishRequest`: setup,
// handle, finish) over a fake connection whose reads hand it wrk's request
// (1 or 16 per read) and whose writes complete at once.
// `deno bench --allow-net bench/handler_bench.ts`; each iteration serves 100
// requests, so the time per iteration in µs is 100× that per request.
// `bench/load.ts --baseline REF --handler-only` runs it against another commit.
import { HTTPServer } from "../mod.ts";
import { Hello } from "./servers/hello.ts";

const encoder = new TextEncoder();
const REQUEST = encoder.encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
);
const REQUESTS = 100;
let served = 0;

/** The benchmarks' handler, counting the requests it has answered. */
class Counted extends Hello {
  override logRequest(): void {
    served++;
  }
}

/** A connection that reads `total` requests, `perRead` at a time, then EOF. */
function fakeConn(total: number, perRead: number): Deno.Conn {
  const batch = new Uint8Array(REQUEST.length * perRead);
  for (let i = 0; i < perRead; i++) batch.set(REQUEST, i * REQUEST.length);
  let left = total;
  const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1 } as const;
  return {
    read(p: Uint8Array) {
      if (left === 0) return Promise.resolve(null);
      const n = Math.min(perRead, left);
      left -= n;
      p.set(batch.subarray(0, n * REQUEST.length));
      return Promise.resolve(n * REQUEST.length);
    },
    write: (p: Uint8Array) => Promise.resolve(p.length),
    close() {},
    localAddr: addr,
    remoteAddr: addr,
  } as unknown as Deno.Conn;
}

// The server binds a port (as Python's does) but nothing connects to it: each
// iteration hands it a fake connection, as serveForever hands it an accepted one.
const server = new HTTPServer(["127.0.0.1", 0], Counted);
globalThis.addEventListener("unload", () => server.close());

for (const perRead of [1, 16]) {
  Deno.bench(
    `handler: hello world, ${REQUESTS} requests, ${perRead} per read`,
    { group: "handler", baseline: perRead === 1 },
    async () => {
      served = 0;
      await server.finishRequest(fakeConn(REQUESTS, perRead), [
        "127.0.0.1",
        1,
      ]);
      if (served !== REQUESTS) throw new Error(`served ${served} requests`);
    },
  );
}
