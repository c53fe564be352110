// Copyright 2026 the basehttp authors. MIT license.
/**
 * How long a change to a cached small file takes to show through the static
 * handler, whose kept resolutions are dropped when the watched directory
 * reports it (see _watched_paths.ts): idle, and with wrk loading the server
 * with another file. For each of --files settled, cached files in turn: the
 * file is rewritten in place (same size, new bytes); the time until the
 * server forgets the path's resolution (until then a request gets the old
 * bytes), then GET until the new bytes come, counting old answers.
 *
 *   deno run -A bench/watch_delay.ts [--files 100]
 *
 * The server runs in this process on 127.0.0.1; wrk (Debian: `apt-get
 * install wrk`), if present, on CPU 1 for the loaded run, stopped after it.
 */

import { HTTPServer } from "../server.ts";
import { SimpleHTTPRequestHandler } from "../static.ts";
import { WATCHED_PATHS, type WatchedPaths } from "../_watched_paths.ts";

const count = Number(
  Deno.args[Deno.args.indexOf("--files") + 1] ?? 100,
) || 100;
const root = await Deno.realPath(await Deno.makeTempDir());

class Quiet extends SimpleHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
  override directory = root;
  override logMessage(): void {}
}

async function text(url: string): Promise<string> {
  return await (await fetch(url)).text();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const httpd = new HTTPServer(["127.0.0.1", 0], Quiet);
const serving = httpd.serveForever();
const base = `http://127.0.0.1:${httpd.serverPort}`;
const kept = () =>
  (httpd as unknown as { [WATCHED_PATHS]?: WatchedPaths<unknown> })[
    WATCHED_PATHS
  ];

async function run(name: string, round: number): Promise<void> {
  const files = Array.from({ length: count }, (_, i) => `r${round}-${i}.txt`);
  for (const file of files) await Deno.writeTextFile(`${root}/${file}`, "old");
  await new Promise((resolve) => setTimeout(resolve, 2100)); // settled
  // Read into the file cache, then until the path is kept (any event
  // forgets every kept path, so again before each change).
  const keep = async (file: string) => {
    for (let i = 0; i < 50 && !kept()?.get(`${root}/${file}`); i++) {
      await text(`${base}/${file}`);
    }
  };
  const forgotten: number[] = [];
  const answered: number[] = [];
  let stale = 0;
  for (const file of files) {
    await keep(file);
    Deno.writeTextFileSync(`${root}/${file}`, "new"); // no turn of the loop
    const start = performance.now();
    while (kept()?.get(`${root}/${file}`) !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    forgotten.push(performance.now() - start);
    const asked = performance.now();
    while (await text(`${base}/${file}`) !== "new") stale++;
    answered.push(performance.now() - asked);
  }
  const ms = (values: number[], p: number) =>
    percentile(values.sort((a, b) => a - b), p).toFixed(2);
  console.log(
    `| ${name} | ${count} | ${ms(forgotten, 0.5)} | ${ms(forgotten, 0.9)} | ${
      ms(forgotten, 1)
    } | ${ms(answered, 0.5)} | ${stale} |`,
  );
}

await Deno.writeFile(`${root}/load.bin`, new Uint8Array(1024));
console.log(
  "| server | files changed | forgotten after, median ms | p90 | max | " +
    "then a GET, median ms | old answers |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
await run("idle", 0);
let wrk: Deno.ChildProcess | null = null;
try {
  wrk = new Deno.Command("taskset", {
    args: ["-c", "1", "wrk", "-t1", "-c32", "-d60", `${base}/load.bin`],
    stdout: "null",
    stderr: "null",
  }).spawn();
} catch {
  console.log("wrk or taskset not found: no loaded run");
}
if (wrk !== null) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  await run("wrk -c32 on another file", 1);
  wrk.kill();
  await wrk.status;
}
await httpd.shutdown();
await serving;
httpd.close();
await Deno.remove(root, { recursive: true });
