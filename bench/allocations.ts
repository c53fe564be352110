// Copyright 2026 the basehttp authors. MIT license.
/**
 * JavaScript heap allocated per request, and where: the keep-alive hello
 * server and the bare `Deno.Conn` loop under `wrk -t1 -c64`, each sampled by
 * V8's sampling heap profiler through the inspector (objects a collection
 * freed included, so it counts what was allocated, not what stayed).
 *
 *   deno run -A bench/allocations.ts [--duration 4] [--top 15]
 *     [--baseline REF]
 *
 * With `--baseline REF` the hello server of REF (a `git worktree`, removed
 * at the end) is sampled too. Each site is the allocating function and its
 * two callers, with line numbers of the JavaScript Deno runs (types
 * stripped), not of the .ts file. Allocation is not time: V8 allocates by
 * bumping a pointer, so fewer bytes pay only when they mean less work; a
 * change still needs `bench/load.ts --baseline` to show it is faster. The
 * servers run on CPU 0 and wrk on CPU 1 when `taskset` is there; every
 * server is stopped before the end, and all traffic goes to 127.0.0.1.
 */
import { baselineTree } from "./_baseline.ts";
import { inspector } from "./_inspector.ts";
import { choosePins, freePort, HELLO, pinned, start, wrk } from "./load.ts";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  children: ProfileNode[];
}

interface Sampled {
  requests: number;
  /** Bytes sampled per request, by allocating function and its callers. */
  sites: Map<string, number>;
  total: number;
}

const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function option(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at === -1 ? fallback : Deno.args[at + 1];
}

const duration = Number(option("duration", "4"));
// The longest wrk run under one profile (wrk takes whole seconds).
const PIECE_SECONDS = 2;
const top = Number(option("top", "15"));
const baseline = option("baseline", "");
if (!Number.isInteger(duration) || duration < 1) {
  console.error("--duration takes whole seconds (wrk's -d)");
  Deno.exit(2);
}

const pins = await choosePins();

/** A site: the allocating function, then its two nearest callers. */
function siteOf(stack: CallFrame[]): string {
  return stack.slice(-3).reverse().map((frame) =>
    `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*\//, "")}:${
      frame.lineNumber + 1
    }`
  ).join(" ← ");
}

async function sample(name: string, script: string): Promise<Sampled> {
  const inspectPort = freePort();
  await using server = await start((port) =>
    pinned(pins.server, [
      Deno.execPath(),
      "run",
      "-A",
      `--inspect=127.0.0.1:${inspectPort}`,
      script,
      String(port),
    ])
  );
  const run = async (seconds: number) =>
    (await wrk(server.port, HELLO, seconds, server.pid, pins.wrk)).requests;
  await run(2); // warm up: the code optimised first
  const session = await inspector(inspectPort);
  try {
    await session.call("HeapProfiler.enable");
    const bytes = new Map<string, number>();
    const walk = (node: ProfileNode, stack: CallFrame[]) => {
      const here = [...stack, node.callFrame];
      if (node.selfSize > 0) {
        const site = siteOf(here);
        bytes.set(site, (bytes.get(site) ?? 0) + node.selfSize);
      }
      for (const child of node.children) walk(child, here);
    };
    // A profile per piece of the run: its samples grow with the run, and
    // Deno's WebSocket takes no frame over 64 MiB (a 4 s profile was more).
    let requests = 0;
    for (let left = duration; left > 0; left -= PIECE_SECONDS) {
      await session.call("HeapProfiler.startSampling", {
        samplingInterval: 256,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      requests += await run(Math.min(left, PIECE_SECONDS));
      const { profile } = await session.call("HeapProfiler.stopSampling") as {
        profile: { head: ProfileNode };
      };
      walk(profile.head, []);
    }
    const sites = new Map<string, number>();
    let total = 0;
    for (const [site, size] of bytes) {
      sites.set(site, size / requests);
      total += size / requests;
    }
    console.error(`${name}: ${requests} requests sampled`);
    return { requests, sites, total };
  } finally {
    session.close();
  }
}

function report(name: string, sampled: Sampled): void {
  console.log(`\n${name}: ${Math.round(sampled.total)} B per request`);
  const sorted = [...sampled.sites].sort((a, b) => b[1] - a[1]);
  for (const [site, bytes] of sorted.slice(0, top)) {
    console.log(`${String(Math.round(bytes)).padStart(7)} B  ${site}`);
  }
}

const here = await sample(
  "basehttp",
  `${repo}/bench/servers/basehttp.ts`,
);
const floor = await sample(
  "bare loop",
  `${repo}/bench/servers/deno_conn_loop.ts`,
);
let before: Sampled | null = null;
if (baseline !== "") {
  await using tree = await baselineTree(repo, baseline);
  console.error(tree.describe);
  before = await sample(
    `basehttp at ${tree.short}`,
    `${tree.dir}/bench/servers/basehttp.ts`,
  );
}
report("basehttp (keep-alive hello)", here);
if (before !== null) {
  report(`basehttp at ${baseline}`, before);
  console.log(
    `\nworking / baseline: ${(here.total / before.total).toFixed(3)}×`,
  );
}
report("bare Deno.Conn loop (no HTTP)", floor);
console.log(
  `\nbasehttp allocates ${
    Math.round(here.total - floor.total)
  } B per request more than the bare loop.`,
);
