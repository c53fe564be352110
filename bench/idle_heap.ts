// Copyright 2026 the basehttp authors. MIT license.
// V8 heap per idle keep-alive connection, steadier than RSS: N handlers over
// in-memory connections, one GET each, left waiting for their next request,
// garbage collected before and after.
//
//   deno run -A --v8-flags=--expose-gc bench/idle_heap.ts [TREE] [N]
//
// TREE is a checkout of this repository (default: this one), so that two
// commits can be compared: `git worktree add /tmp/old REF`, then both. (An
// old tree's server binds a port it never uses.)
import type { HTTPServer as Server } from "../server.ts";
import { memoryConnPair } from "../_memory_conn.ts";

const tree = Deno.args[0] ?? new URL("..", import.meta.url).pathname;
const count = Number(Deno.args[1] ?? 5000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error("run with --v8-flags=--expose-gc");
  Deno.exit(1);
}
const { HTTPServer } = await import(`${tree}/mod.ts`);
const { Hello } = await import(`${tree}/bench/servers/hello.ts`);

const server: Server = new HTTPServer(["127.0.0.1", 0], Hello, {
  bindAndActivate: false,
  keepAliveTimeout: 600,
});
const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: b\r\n\r\n");
const reply = new Uint8Array(4096);

// The connections are made before the first count: only what the server
// holds for them is measured.
const pairs: Deno.Conn[][] = Array.from(
  { length: count + 1 },
  () => memoryConnPair(),
);

async function serve([client, end]: Deno.Conn[]): Promise<void> {
  server.processRequest(end, ["127.0.0.1", 1]);
  await client.write(request);
  await client.read(reply);
}

const settle = async () => {
  for (let i = 0; i < 3; i++) gc();
  await new Promise((resolve) => setTimeout(resolve, 100));
  for (let i = 0; i < 3; i++) gc();
};

await serve(pairs[0]); // warm up
await settle();
const before = Deno.memoryUsage().heapUsed;
for (let i = 1; i <= count; i++) await serve(pairs[i]);
await settle();
const after = Deno.memoryUsage().heapUsed;
console.log(
  `${tree}: ${
    Math.round((after - before) / count)
  } B of heap per idle connection`,
);
for (const conn of pairs.flat()) {
  try {
    conn.close();
  } catch {
    // The server end closed with its client.
  }
}
server.close();
Deno.exit(0);
