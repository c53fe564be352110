// Copyright 2026 the basehttp authors. MIT license.
/**
 * Where basehttp's time goes under load: the share of V8's CPU profile each
 * function takes while `wrk -t1 -c64` drives the keep-alive hello server, or
 * `serve` (started as the README starts it) over a static tree made for the
 * run, or while `bench/websocket.ts`'s Node client drives its echo server,
 * sampled every 50 µs through the inspector.
 *
 *   deno run -A bench/cpu_profile.ts [--workload hello|static|many|websocket]
 *     [--rounds 3] [--duration 3] [--top 30] [--baseline REF]
 *
 * A share is a function's self time over all samples, `(idle)`, `(program)`
 * and `(garbage collector)` among them; a function V8 inlined counts in its
 * caller, and a native op (`op_write`) holds the kernel's time under it.
 * Rows are by function name and file, not line: the JavaScript Deno runs has
 * its types stripped, so lines are not the .ts file's, and they move between
 * two trees. With `--baseline REF` the same server of REF (a `git worktree`,
 * removed at the end) is profiled in alternating rounds and the table gives
 * both sides' medians: on a noisy machine a share moves much less from run to
 * run than the rate, so it shows a change of one or two percent that
 * `load.ts --baseline` cannot. A share is not a speed-up: a change still lands
 * with `load.ts --baseline`'s figures beside it. The profiler slows the server
 * (about a third fewer requests); the rate under it is printed for each round.
 * The server runs on CPU 0 and the load on CPU 1 when `taskset` is there;
 * every server is stopped before the end, and all traffic goes to 127.0.0.1.
 */
import { baselineTree } from "./_baseline.ts";
import { inspector } from "./_inspector.ts";
import {
  choosePins,
  freePort,
  HELLO,
  makeTree,
  median,
  pinned,
  type Pins,
  README_PERMISSIONS,
  runIn,
  serveFrom,
  start,
  staticWorkloads,
  type Tree,
  wrk,
} from "./load.ts";
import {
  basehttpServer,
  CLIENT,
  clientCommand,
  CONNECTIONS,
  installWs,
  lines,
  MESSAGE_BYTES,
} from "./websocket.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One tree's server, profiled round after round. */
interface Side {
  name: string;
  command: (port: number) => string[];
  /** Each function's share (%) of each round's samples. */
  shares: Map<string, number[]>;
  rates: number[];
}

/** The profiler, started and stopped around the timed part of a load. */
interface Window {
  begin(): Promise<void>;
  end(): Promise<void>;
}

/** A load to profile the server under. */
interface Load {
  title: string;
  /** What the rate counts: "req/s", "round trips/s". */
  unit: string;
  /** Each tree's server, given the tree's folder. */
  server(dir: string): Promise<(port: number) => string[]>;
  /** Warms the server up, then times the load inside `window`; its rate. */
  run(port: number, pid: number, window: Window): Promise<number>;
}

const WORKLOADS = ["hello", "static", "many", "websocket"];
const repo = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function option(name: string, fallback: string): string {
  const at = Deno.args.indexOf(`--${name}`);
  return at === -1 ? fallback : Deno.args[at + 1];
}

/** A wrk workload: two seconds of warm-up, then `seconds` timed. */
async function wrkLoad(
  name: string,
  scratch: string,
  seconds: number,
  pins: Pins,
): Promise<Load> {
  const tree: Tree | null = name === "hello" ? null : await makeTree(scratch);
  // Files changed in the last 2 s are not cached: let the tree settle.
  if (tree !== null) await new Promise((r) => setTimeout(r, 2100));
  const workload = tree === null
    ? HELLO
    : staticWorkloads(tree, []).find((w) => w.name === name)!;
  return {
    title: workload.title,
    unit: "req/s",
    server: (dir) =>
      Promise.resolve(
        tree === null
          ? runIn(dir)("servers/basehttp.ts")
          : serveFrom(dir, tree)(README_PERMISSIONS),
      ),
    async run(port, pid, window) {
      await wrk(port, workload, 2, pid, pins.wrk);
      await window.begin();
      const sample = await wrk(port, workload, seconds, pid, pins.wrk);
      await window.end();
      return sample.rps;
    },
  };
}

/** bench/websocket.ts's echo: its Node client, one second of warm-up. */
async function websocketLoad(
  scratch: string,
  seconds: number,
  pins: Pins,
): Promise<Load> {
  const modules = await installWs();
  const client = `${scratch}/client.cjs`;
  await Deno.writeTextFile(client, CLIENT);
  let made = 0;
  return {
    title: `WebSocket echo, ${CONNECTIONS} connections, one ` +
      `${MESSAGE_BYTES}-byte message in flight each`,
    unit: "round trips/s",
    async server(dir) {
      const path = `${scratch}/websocket_${made++}.ts`;
      await Deno.writeTextFile(path, basehttpServer(dir));
      return (port) => [Deno.execPath(), "run", "-A", path, String(port)];
    },
    async run(port, _pid, window) {
      const argv = pinned(
        pins.wrk,
        clientCommand(client, port, MESSAGE_BYTES, seconds),
      );
      const driver = new Deno.Command(argv[0], {
        args: argv.slice(1),
        env: { NODE_PATH: modules },
        stdout: "piped",
      }).spawn();
      let count = 0;
      for await (const line of lines(driver.stdout)) {
        if (line === "start") await window.begin();
        else if (line.startsWith("count ")) {
          await window.end();
          count = Number(line.slice(6));
        }
      }
      if (!(await driver.status).success) throw new Error("the client failed");
      return count / seconds;
    },
  };
}

/** `argv` of `deno run …` with the inspector on `port`. */
function inspected(argv: string[], port: number): string[] {
  const at = argv.indexOf("run") + 1;
  return [
    ...argv.slice(0, at),
    `--inspect=127.0.0.1:${port}`,
    ...argv.slice(at),
  ];
}

/** Each function's share (%) of a profile's time. */
function sharesOf(profile: Profile): Map<string, number> {
  const byNode = new Map<number, string>();
  for (const { id, callFrame } of profile.nodes) {
    const file = callFrame.url.replace(/^.*\//, "");
    byNode.set(
      id,
      `${callFrame.functionName || "(anonymous)"}${file ? ` ${file}` : ""}`,
    );
  }
  const time = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const name = byNode.get(id)!;
    time.set(name, (time.get(name) ?? 0) + delta);
    total += delta;
  });
  const shares = new Map<string, number>();
  for (const [name, t] of time) shares.set(name, 100 * t / total);
  return shares;
}

const name = option("workload", "hello");
const rounds = Number(option("rounds", "3"));
const duration = Number(option("duration", "3"));
const top = Number(option("top", "30"));
const baseline = option("baseline", "");
if (!WORKLOADS.includes(name)) {
  console.error(`--workload takes one of ${WORKLOADS.join(", ")}`);
  Deno.exit(2);
}
if (!(Number.isInteger(duration) && duration >= 1 && rounds >= 1)) {
  console.error(
    "--duration takes whole seconds (wrk's -d), --rounds 1 or more",
  );
  Deno.exit(2);
}

const pins = await choosePins();
const scratch = await Deno.makeTempDir({ prefix: "basehttp_profile_" });
try {
  const load = name === "websocket"
    ? await websocketLoad(scratch, duration, pins)
    : await wrkLoad(name, scratch, duration, pins);
  await using old = baseline === "" ? null : await baselineTree(repo, baseline);
  if (old !== null) console.error(old.describe);
  const sides: Side[] = [];
  for (
    const [sideName, dir] of [
      ["working tree", repo],
      ...(old === null ? [] : [[`baseline ${old.short}`, old.dir]]),
    ]
  ) {
    const command = await load.server(dir);
    sides.push({ name: sideName, command, shares: new Map(), rates: [] });
  }
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 ? [...sides].reverse() : sides) {
      const inspectPort = freePort();
      await using running = await start((port) =>
        pinned(pins.server, inspected(side.command(port), inspectPort))
      );
      const session = await inspector(inspectPort);
      try {
        await session.call("Profiler.enable");
        await session.call("Profiler.setSamplingInterval", { interval: 50 });
        let profile: Profile | null = null;
        const rate = await load.run(running.port, running.pid, {
          begin: async () => {
            await session.call("Profiler.start");
          },
          end: async () => {
            ({ profile } = await session.call("Profiler.stop") as {
              profile: Profile;
            });
          },
        });
        side.rates.push(rate);
        for (const [fn, share] of sharesOf(profile!)) {
          const list = side.shares.get(fn) ?? [];
          list[round] = share;
          side.shares.set(fn, list);
        }
        console.error(
          `  round ${round + 1} ${side.name}: ${
            Math.round(rate)
          } ${load.unit} under the profiler`,
        );
      } finally {
        session.close();
      }
    }
  }
  // A function absent from a round's profile had no sample there: 0 %.
  const medianOf = (side: Side, fn: string) =>
    median(
      Array.from({ length: rounds }, (_, i) => side.shares.get(fn)?.[i] ?? 0),
    );
  const names = new Set(sides.flatMap((side) => [...side.shares.keys()]));
  const rows = [...names].map((fn) => ({
    fn,
    medians: sides.map((side) => medianOf(side, fn)),
  })).sort((a, b) => Math.max(...b.medians) - Math.max(...a.medians));
  console.log(
    `\n# V8 CPU profile: ${load.title}\n\n` +
      `${new Date().toISOString().slice(0, 10)}, Deno ${Deno.version.deno}; ` +
      `${rounds} rounds × ${duration} s per side, sampled every 50 µs; ` +
      `median share of the samples per function.\n`,
  );
  const header = sides.map((side) => side.name);
  if (sides.length === 2) header.push("working − baseline");
  console.log(`| function | ${header.join(" | ")} |`);
  console.log(`| --- |${" ---: |".repeat(header.length)}`);
  const pct = (n: number) => `${n.toFixed(2)}%`;
  for (const { fn, medians } of rows.slice(0, top)) {
    const cells = medians.map(pct);
    if (sides.length === 2) {
      const diff = medians[0] - medians[1];
      cells.push(`${diff >= 0 ? "+" : "−"}${Math.abs(diff).toFixed(2)}`);
    }
    console.log(`| ${fn} | ${cells.join(" | ")} |`);
  }
  console.log(
    `| ${load.unit} under the profiler | ${
      sides.map((side) => Math.round(median(side.rates))).join(" | ")
    } |${sides.length === 2 ? " |" : ""}`,
  );
} finally {
  await Deno.remove(scratch, { recursive: true });
}
