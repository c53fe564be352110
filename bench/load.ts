// Copyright 2026 the basehttp authors. MIT license.
/**
 * Load benchmark: basehttp beside Deno.serve, node:http, CPython, nginx and
 * npm's http-server in the same run, on loopback, in alternating rounds;
 * medians and ratios.
 *
 *   deno task bench [--duration 5] [--rounds 3]
 *     [--only hello,pipeline,static,many,large,workers,memory]
 *
 * Needs `wrk` (Debian: `apt-get install wrk`), `node` and `python3` on PATH;
 * for the static anchor nginx (Debian: `apt-get install nginx-light`), and npm
 * to install http-server into a cache folder on first use. A server whose
 * program is missing is skipped with one line saying how to install it. The
 * server runs on CPU 0 and wrk on CPU 1 (`taskset`, util-linux; unpinned with
 * a warning if it is missing), except for `workers`, which is about using
 * both. Every server it starts is stopped before it exits; all traffic goes
 * to 127.0.0.1 and every run is bounded by --duration.
 *
 * The static workloads serve one tree, made here and removed at the end,
 * through `serve` (cli.ts) started as the README starts it
 * (`--allow-net --allow-read --allow-sys=hostname`; a `-A` row beside it),
 * nginx (one worker, `sendfile on`) and http-server, every one with its
 * request log off: `static` one 1 KiB file, `many` 1,000 small files in
 * random order (`random_paths.lua`), `large` a 64 MiB file at `wrk -c4` with
 * each server's RSS at start and after the run. A last table sets this run's
 * ratios beside issue 17's targets.
 *
 * A/B against a commit (the working tree against REF):
 *
 *   deno run -A --unstable-net bench/load.ts --baseline REF [--rounds 5]
 *     [--duration 5] [--handler-only]
 *     [--only handler,hello,pipeline,static,many,large,memory]
 *
 * checks REF out into a temporary `git worktree add --detach` (removed at the
 * end, also on error) and measures basehttp alone, each side from its own tree
 * (`bench/servers/basehttp.ts` run with that tree's deno.json), in alternating
 * rounds (--rounds, 5 by default here): `deno bench` of the working tree's
 * `bench/handler_bench.ts` against each tree's code (ns/iter), then keep-alive
 * hello and pipelined ×16 under wrk (req/s and server CPU µs/req), the
 * static workloads through each tree's `serve` (a tree of files made for the
 * run, 2 s old before the first), then the RSS of 10,000 idle keep-alive
 * connections. The server and `deno bench` run
 * on CPU 0 and wrk on CPU 1. It prints, per metric and side, the median and
 * the min–max over the rounds, and working / baseline (of the medians, and per
 * round: median and min–max of each round's pair); `--baseline HEAD` on an
 * unmodified tree is the A/A run that shows the noise band. `--handler-only`
 * runs only the handler bench (the same as `--only handler`).
 */

import { baselineTree } from "./_baseline.ts";
import { cacheDir, findExecutable, httpServer, nginx } from "./_external.ts";
import { cpuTimes, processTree } from "./_proc.ts";

const here = new URL(".", import.meta.url).pathname;
/** The working tree: the checkout this script is in. */
const repoRoot = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const deno = Deno.execPath();
const decoder = new TextDecoder();

/** What `--only` takes in the full report. */
const WORKLOAD_NAMES = [
  "hello",
  "pipeline",
  "static",
  "many",
  "large",
  "workers",
  "memory",
];
/** What `--only` takes with `--baseline`. */
const BASELINE_NAMES = [
  "handler",
  "hello",
  "pipeline",
  "static",
  "many",
  "large",
  "memory",
];

const USAGE = `usage: deno run -A --unstable-net bench/load.ts [--duration S]
    [--rounds N] [--only ${WORKLOAD_NAMES.join(",")}]
  or: deno run -A --unstable-net bench/load.ts --baseline REF [--rounds N]
    [--duration S] [--handler-only] [--only ${BASELINE_NAMES.join(",")}]`;

interface Options {
  duration: number;
  rounds: number;
  only: Set<string> | null;
  /** The commit to compare the working tree against (`--baseline`). */
  baseline: string | null;
}

function parseArgs(args: string[]): Options {
  const options: Options = {
    duration: 5,
    rounds: NaN,
    only: null,
    baseline: null,
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, value] = [args[i], args[i + 1]];
    if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    }
    if (flag === "--handler-only") {
      options.only = new Set(["handler"]);
      continue;
    }
    if (value === undefined) throw new TypeError(`${flag} needs a value`);
    if (flag === "--duration") options.duration = Number(value);
    else if (flag === "--rounds") options.rounds = Number(value);
    else if (flag === "--only") options.only = new Set(value.split(","));
    else if (flag === "--baseline") options.baseline = value;
    else throw new TypeError(`Unknown flag: ${flag}`);
    i++;
  }
  const names = options.baseline ? BASELINE_NAMES : WORKLOAD_NAMES;
  const unknown = [...options.only ?? []].filter((n) => !names.includes(n));
  if (unknown.length) {
    throw new TypeError(
      `--only ${unknown.join(",")}: not one of ${names.join(",")}`,
    );
  }
  if (Number.isNaN(options.rounds)) options.rounds = options.baseline ? 5 : 3;
  if (!(options.duration > 0) || !(options.rounds >= 1)) {
    throw new RangeError("--duration and --rounds must be positive");
  }
  return options;
}

/** A server to start: its command line, given a port. */
export interface ServerSpec {
  name: string;
  command: (port: number) => string[];
  /** The program it runs, if not deno: skipped where it is missing. */
  needs?: string;
}

/** One measured workload. */
export interface Workload {
  name: string;
  title: string;
  servers: ServerSpec[];
  /** The path checked for a 200 before the run, and wrk's URL path. */
  path: string;
  connections: number;
  script?: string;
  /** Arguments for the script (after wrk's `--`). */
  scriptArgs?: string[];
  /** Report Transfer/sec instead of requests. */
  throughput?: boolean;
  /** Leave server and wrk unpinned (the workload is about using both CPUs). */
  unpinned?: boolean;
}

/** Runs `bench/FILE PORT ...extra` of the tree at `dir`, with its deno.json. */
export const runIn =
  (dir: string) => (file: string, ...extra: string[]) => (port: number) => [
    deno,
    "run",
    "-A",
    "--config",
    `${dir}/deno.json`,
    `${dir}/bench/${file}`,
    String(port),
    ...extra,
  ];
const run = runIn(repoRoot);

const basehttp: ServerSpec = {
  name: "basehttp",
  command: run("servers/basehttp.ts"),
};
const denoServe: ServerSpec = {
  name: "Deno.serve",
  command: run("servers/deno_serve.ts"),
};
// Not a contender: no HTTP, just read and a canned write, to show the floor
// that Deno's own socket ops set for any server on Deno.Conn.
const connLoop: ServerSpec = {
  name: "bare Deno.Conn loop (no HTTP)",
  command: run("servers/deno_conn_loop.ts"),
};
const nodeHttp: ServerSpec = {
  name: "node:http",
  needs: "node",
  command: (port) => ["node", `${here}servers/node_http.mjs`, String(port)],
};
const python: ServerSpec = {
  name: "CPython ThreadingHTTPServer",
  needs: "python3",
  command: (port) => ["python3", `${here}servers/python_http.py`, String(port)],
};

export const HELLO: Workload = {
  name: "hello",
  title: "hello world, keep-alive, wrk -t1 -c64",
  servers: [basehttp, denoServe, nodeHttp, python, connLoop],
  path: "/",
  connections: 64,
};
const PIPELINE: Workload = {
  name: "pipeline",
  title: "hello world, pipelined 16 deep, wrk -t1 -c64",
  servers: [basehttp, denoServe, nodeHttp, connLoop],
  path: "/",
  connections: 64,
  script: `${here}pipeline.lua`,
};

/** The static tree: where it is, and the list file of its many small files. */
export interface Tree {
  root: string;
  /** One URL path a line, for `random_paths.lua`. */
  list: string;
  /** The first of the many small files' paths. */
  first: string;
}

/**
 * Writes the static tree under `dir`: 1k.bin, 64m.bin, and 1,000 files of
 * 200 B to 4 KiB in ten folders, many/dN/fNNN.bin. Readable by everyone: the
 * nginx worker runs as nobody when the bench runs as root.
 */
export async function makeTree(dir: string): Promise<Tree> {
  const root = `${dir}/www`;
  await Deno.mkdir(root, { mode: 0o755 });
  await Deno.chmod(dir, 0o755); // makeTempDir's 0700 would bar the worker
  await Deno.writeFile(`${root}/1k.bin`, new Uint8Array(1024).fill(97));
  await Deno.writeFile(`${root}/64m.bin`, new Uint8Array(64 << 20).fill(98));
  const paths: string[] = [];
  for (let d = 0; d < 10; d++) {
    await Deno.mkdir(`${root}/many/d${d}`, { recursive: true, mode: 0o755 });
    for (let f = 0; f < 100; f++) {
      const path = `/many/d${d}/f${String(f).padStart(3, "0")}.bin`;
      const size = 200 + ((d * 100 + f) * 397) % 3897; // spread, repeatable
      await Deno.writeFile(root + path, new Uint8Array(size).fill(99));
      paths.push(path);
    }
  }
  const list = `${dir}/many.txt`;
  await Deno.writeTextFile(list, paths.join("\n") + "\n");
  return { root, list, first: paths[0] };
}

/** The permissions the README starts `serve` with. */
export const README_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-sys=hostname",
];

/**
 * `serve` of the tree of code at `dir`, over the static `tree`, as a user
 * starts it, its request log off (-q), as nginx's is.
 */
export const serveFrom =
  (dir: string, tree: Tree) =>
  (permissions: string[], ...extra: string[]) =>
  (port: number) => [
    deno,
    "run",
    "--no-prompt",
    ...permissions,
    "--config",
    `${dir}/deno.json`,
    `${dir}/cli.ts`,
    String(port),
    "-b",
    "127.0.0.1",
    "-d",
    tree.root,
    "-q",
    ...extra,
  ];

/** The static workloads over `tree`, with nginx and http-server if present. */
export function staticWorkloads(
  tree: Tree,
  external: ServerSpec[],
): Workload[] {
  const serve = serveFrom(repoRoot, tree);
  const ours: ServerSpec = {
    name: "basehttp",
    command: serve(README_PERMISSIONS),
  };
  const oursAll: ServerSpec = { name: "basehttp -A", command: serve(["-A"]) };
  const workers: ServerSpec = {
    name: "basehttp --workers 2",
    command: serve(["-A", "--unstable-net"], "--workers", "2"),
  };
  const denoServeStatic: ServerSpec = {
    name: "Deno.serve + Deno.open",
    command: run("servers/deno_serve_static.ts", tree.root),
  };
  const pythonStatic: ServerSpec = {
    name: "python -m http.server",
    needs: "python3",
    command: (port) => [
      "python3",
      "-m",
      "http.server",
      String(port),
      "-b",
      "127.0.0.1",
      "-d",
      tree.root,
      "-p",
      "HTTP/1.1",
    ],
  };
  return [
    {
      name: "static",
      title: "static 1 KiB file, keep-alive, wrk -t1 -c64",
      servers: [ours, oursAll, ...external, denoServeStatic, pythonStatic],
      path: "/1k.bin",
      connections: 64,
    },
    {
      name: "many",
      title:
        "static, 1,000 small files (200 B–4 KiB) in random order, keep-alive, wrk -t1 -c64",
      servers: [ours, ...external, denoServeStatic],
      path: tree.first,
      connections: 64,
      script: `${here}random_paths.lua`,
      scriptArgs: [tree.list],
    },
    {
      name: "large",
      title: "static 64 MiB file, wrk -t1 -c4",
      servers: [ours, ...external, denoServeStatic, pythonStatic],
      path: "/64m.bin",
      connections: 4,
      throughput: true,
    },
    {
      name: "workers",
      title:
        "static 1 KiB file with 2 worker processes (2 cores, unpinned, wrk shares them)",
      servers: [{ ...ours, command: serve(["-A", "--unstable-net"]) }, workers],
      path: "/1k.bin",
      connections: 64,
      unpinned: true,
    },
  ];
}

/** Finds a free loopback port. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A started server process, stopped by dispose. */
export interface Running extends AsyncDisposable {
  port: number;
  pid: number;
}

/** Starts a server and waits until it accepts connections. */
export async function start(
  command: (port: number) => string[],
): Promise<Running> {
  const port = freePort();
  const argv = command(port);
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null", // access logs (Python's) would flood the report
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await child.status;
  };
  const ended: { status?: Deno.CommandStatus } = {};
  child.status.then((status) => ended.status = status);
  for (let i = 0; i < 200 && !ended.status; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return { port, pid: child.pid, [Symbol.asyncDispose]: stop };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  throw new Error(
    `${argv.join(" ")} ${
      ended.status
        ? `exited (code ${ended.status.code})`
        : "did not start listening"
    }`,
  );
}

/** Throws unless GET `path` answers 200: a 403 or 404 would time errors. */
async function expectOk(port: number, path: string, name: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(64);
    const n = await conn.read(buf) ?? 0;
    const status = decoder.decode(buf.subarray(0, n)).split("\r\n")[0];
    if (!/^HTTP\/1\.[01] 200 /.test(status)) {
      throw new Error(`${name}: GET ${path} answered "${status}", not 200`);
    }
  } finally {
    conn.close();
  }
}

export interface Sample {
  rps: number;
  /** Requests wrk completed. */
  requests: number;
  p50: number;
  p99: number;
  bytesPerSec: number;
  peakKiB: number;
  /** RSS once listening, and after the run (KiB, all its processes). */
  startKiB: number;
  endKiB: number;
  /** Server CPU time (user + system, all its processes) per request, µs. */
  cpuPerRequest: number;
  /** The user part of it: the server's own code, not the kernel's. */
  userPerRequest: number;
}

const UNITS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, m: 60000 };
const SIZES: Record<string, number> = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
};

/** Prefixes a command line with `taskset -c CPU`, if given a CPU. */
export function pinned(cpu: string | undefined, argv: string[]): string[] {
  return cpu === undefined ? argv : ["taskset", "-c", cpu, ...argv];
}

/**
 * Runs wrk (on `cpu`, if given) and reads requests/s, latency p50/p99 (ms)
 * and Transfer/sec.
 */
export async function wrk(
  port: number,
  workload: Workload,
  seconds: number,
  pid: number,
  onCpu?: string,
): Promise<Sample> {
  const args = [
    "-t1",
    `-c${workload.connections}`,
    `-d${seconds}s`,
    "--latency",
  ];
  if (workload.script) args.push("-s", workload.script);
  args.push(`http://127.0.0.1:${port}${workload.path}`);
  if (workload.scriptArgs) args.push("--", ...workload.scriptArgs);
  const before = await cpuTimes(pid);
  const argv = pinned(onCpu, ["wrk", ...args]);
  const { stdout, stderr, success } = await new Deno.Command(argv[0], {
    args: argv.slice(1),
  }).output();
  const after = await cpuTimes(pid);
  const user = after.user - before.user;
  const cpu = user + after.system - before.system;
  const text = decoder.decode(stdout);
  if (!success) {
    throw new Error(`wrk failed:\n${text}${decoder.decode(stderr)}`);
  }
  const latency = (pct: string) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s|m)$`, "m").exec(
      text,
    );
    // wrk prints 0 for a percentile it has no samples for (pipelined
    // batches are timed once each): unknown, not zero.
    return m && Number(m[1]) > 0 ? Number(m[1]) * UNITS[m[2]] : NaN;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const requests = /(\d+) requests in/.exec(text);
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(text);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(
    text,
  );
  if (errors) console.error(`  wrk reported: ${errors[0]}`);
  return {
    rps: rps ? Number(rps[1]) : 0,
    requests: requests ? Number(requests[1]) : 0,
    p50: latency("50"),
    p99: latency("99"),
    bytesPerSec: transfer ? Number(transfer[1]) * SIZES[transfer[2]] : 0,
    peakKiB: NaN,
    startKiB: NaN,
    endKiB: NaN,
    cpuPerRequest: requests ? cpu * 1e6 / Number(requests[1]) : NaN,
    userPerRequest: requests ? user * 1e6 / Number(requests[1]) : NaN,
  };
}

/**
 * A `/proc/PID/status` memory field (VmRSS, VmHWM) in KiB, summed over the
 * process and its descendants.
 */
async function memoryKiB(pid: number, field: string): Promise<number> {
  let kib = 0;
  for (const each of await processTree(pid)) {
    const status = await Deno.readTextFile(`/proc/${each}/status`).catch(
      () => "",
    );
    kib += Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  }
  return kib;
}

/** Resident memory of a process and its descendants, in KiB. */
export function rssKiB(pid: number): Promise<number> {
  return memoryKiB(pid, "VmRSS");
}

export function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (n: number, digits = 0) =>
  Number.isNaN(n) ? "–" : n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });

/** CPUs for the server (and `deno bench`) and for wrk; none if unpinned. */
export interface Pins {
  server?: string;
  wrk?: string;
}

/** Whether `taskset -c 1` works here (util-linux installed, 2+ CPUs). */
async function canPin(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["-c", "1", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false; // not installed
  }
}

/** Server on CPU 0, wrk on CPU 1, if `taskset` can; else a warning, none. */
export async function choosePins(): Promise<Pins> {
  if (await canPin()) return { server: "0", wrk: "1" };
  console.error(
    "warning: `taskset -c 1` is not available (util-linux missing, or one " +
      "CPU): server and wrk run unpinned, so the noise band is wider.",
  );
  return {};
}

/** Measures each of the workload's servers once a round, by name. */
async function collect(
  workload: Workload,
  options: Options,
  pins: Pins,
): Promise<Map<string, Sample[]>> {
  const { server: serverCpu, wrk: wrkCpu } = workload.unpinned ? {} : pins;
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < options.rounds; round++) {
    // Alternate the order so no server always runs on a warmer machine.
    const order = round % 2
      ? [...workload.servers].reverse()
      : workload.servers;
    for (const server of order) {
      await using running = await start((port) =>
        pinned(serverCpu, server.command(port))
      );
      await expectOk(running.port, workload.path, server.name);
      const startKiB = await rssKiB(running.pid);
      await wrk(running.port, workload, 1, running.pid, wrkCpu); // warm-up
      const sample = await wrk(
        running.port,
        workload,
        options.duration,
        running.pid,
        wrkCpu,
      );
      sample.startKiB = startKiB;
      sample.endKiB = await rssKiB(running.pid);
      sample.peakKiB = await memoryKiB(running.pid, "VmHWM");
      const value = workload.throughput
        ? `${fmt(sample.bytesPerSec / 1024 ** 3, 2)} GiB/s`
        : `${fmt(sample.rps)} req/s`;
      console.error(
        `  ${workload.name} round ${round + 1} ${server.name}: ${value}, ` +
          `${fmt(sample.cpuPerRequest, 2)} µs CPU/req (user ${
            fmt(sample.userPerRequest, 2)
          })`,
      );
      samples.set(server.name, [...samples.get(server.name) ?? [], sample]);
    }
  }
  return samples;
}

/** A workload's table, and each server's median req/s (or bytes/s). */
interface Measured {
  table: string;
  medians: Map<string, number>;
  samples: Map<string, Sample[]>;
}

async function measure(
  workload: Workload,
  options: Options,
  pins: Pins,
): Promise<Measured> {
  const samples = await collect(workload, options, pins);
  const key = (s: Sample) => workload.throughput ? s.bytesPerSec : s.rps;
  const medians = new Map(
    [...samples].map(([name, list]) => [name, median(list.map(key))]),
  );
  const oursMedian = medians.get("basehttp")!;
  const mib = (kib: number) => fmt(kib / 1024, 0);
  const rows = workload.servers.map((server) => {
    const list = samples.get(server.name)!;
    const value = medians.get(server.name)!;
    const ratio = server.name === "basehttp"
      ? "1.00×"
      : `${fmt(oursMedian / value, 2)}×`;
    const shown = workload.throughput
      ? `${fmt(value / 1024 ** 3, 2)} GiB/s`
      : fmt(value);
    const peak = mib(Math.max(...list.map((s) => s.peakKiB)));
    // Bulk transfer: whether memory stays flat, not CPU per request.
    const fourth = workload.throughput
      ? `${mib(median(list.map((s) => s.startKiB)))} → ${
        mib(median(list.map((s) => s.endKiB)))
      }`
      : `${fmt(median(list.map((s) => s.cpuPerRequest)), 1)} (${
        fmt(median(list.map((s) => s.userPerRequest)), 1)
      })`;
    return `| ${server.name} | ${shown} | ${
      fmt(median(list.map((s) => s.p50)), 2)
    } | ${
      fmt(median(list.map((s) => s.p99)), 2)
    } | ${fourth} | ${peak} | ${ratio} |`;
  });
  const table = [
    `### ${workload.title}`,
    "",
    `| server | ${workload.throughput ? "throughput" : "req/s"} (median) | ` +
    `p50 ms | p99 ms | ${
      workload.throughput ? "RSS start → end MiB" : "server CPU µs/req (user)"
    } | peak RSS MiB | basehttp is |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
  return { table, medians, samples };
}

/**
 * Starts a server, holds `count` keep-alive connections to it, each after one
 * request, and reads its RSS (KiB) before and after.
 */
async function idleRss(
  command: (port: number) => string[],
  count: number,
): Promise<{ before: number; after: number }> {
  await using running = await start(command);
  await new Promise((r) => setTimeout(r, 500));
  const before = await rssKiB(running.pid);
  const request = new TextEncoder().encode(
    "GET / HTTP/1.1\r\nHost: bench\r\n\r\n",
  );
  const conns: Deno.Conn[] = [];
  const buf = new Uint8Array(4096);
  try {
    for (let i = 0; i < count; i += 500) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(500, count - i) }, async () => {
          const conn = await Deno.connect({
            hostname: "127.0.0.1",
            port: running.port,
          });
          await conn.write(request);
          await conn.read(buf);
          return conn;
        }),
      );
      conns.push(...batch);
    }
    await new Promise((r) => setTimeout(r, 1000));
    return { before, after: await rssKiB(running.pid) };
  } finally {
    for (const conn of conns) conn.close();
  }
}

/** The idle keep-alive memory report, and KiB per connection. */
async function idleMemory(
  count: number,
): Promise<{ table: string; each: number }> {
  const { before, after } = await idleRss(
    run("servers/basehttp.ts", "600"),
    count,
  );
  const each = (after - before) / count;
  const table = [
    `### ${count.toLocaleString("en-US")} idle keep-alive connections`,
    "",
    `RSS ${fmt(before / 1024, 1)} MiB idle → ${
      fmt(after / 1024, 1)
    } MiB with ${count} connections: ` +
    `**${fmt(each, 2)} KiB per connection**.`,
    "",
  ].join("\n");
  return { table, each };
}

/** An issue 17 target: basehttp over one server in one workload. */
interface Target {
  workload: string;
  label: string;
  over: string;
  atLeast: number;
}

const TARGETS: Target[] = [
  {
    workload: "static",
    label: "static 1 KiB, README permissions",
    over: "nginx",
    atLeast: 1.0,
  },
  {
    workload: "many",
    label: "static, 1,000 small files, random order",
    over: "nginx",
    atLeast: 1.0,
  },
  {
    workload: "large",
    label: "static 64 MiB (throughput)",
    over: "nginx",
    atLeast: 1.2,
  },
  {
    workload: "hello",
    label: "keep-alive hello",
    over: connLoop.name,
    atLeast: 0.9,
  },
  {
    workload: "pipeline",
    label: "pipelined ×16",
    over: denoServe.name,
    atLeast: 3.0,
  },
];

/** This run's ratios beside issue 17's targets, for what was measured. */
function targetsTable(
  results: Map<string, Measured>,
  idleKiB: number | null,
): string {
  const verdict = (ok: boolean) => ok ? "met" : "not met";
  const rows: string[] = [];
  for (const t of TARGETS) {
    const medians = results.get(t.workload)?.medians;
    const ours = medians?.get("basehttp");
    const theirs = medians?.get(t.over);
    if (ours === undefined || theirs === undefined) continue;
    const ratio = ours / theirs;
    rows.push(
      `| ${t.label} | basehttp / ${t.over} | ${fmt(ratio, 2)}× | ≥ ${
        fmt(t.atLeast, 1)
      }× | ${verdict(ratio >= t.atLeast)} |`,
    );
  }
  const large = results.get("large")?.samples.get("basehttp");
  if (large) {
    const growth = median(large.map((s) => s.endKiB - s.startKiB)) / 1024;
    rows.push(
      `| static 64 MiB, memory | basehttp RSS end − start | ${
        fmt(growth, 1)
      } MiB | flat: ≤ 16 MiB, ¼ of the file | ${verdict(growth <= 16)} |`,
    );
  }
  if (idleKiB !== null) {
    rows.push(
      `| 10,000 idle keep-alive connections | basehttp RSS per connection | ${
        fmt(idleKiB, 2)
      } KiB | ≤ 10 KiB | ${verdict(idleKiB <= 10)} |`,
    );
  }
  return [
    "### issue 17 targets, this run (ratios of the medians above)",
    "",
    "| workload | ratio | this run | target | |",
    "| --- | --- | ---: | ---: | --- |",
    ...rows,
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------
// --baseline REF: the working tree against a commit, basehttp only.

/** One side of the comparison: a tree and the basehttp server it holds. */
interface Side {
  name: string;
  dir: string;
  /** That tree's `bench/servers/basehttp.ts`. */
  server: (...extra: string[]) => (port: number) => string[];
}

function side(name: string, dir: string): Side {
  return {
    name,
    dir,
    server: (...extra) => runIn(dir)("servers/basehttp.ts", ...extra),
  };
}

/** One metric's samples, by side name. */
interface Metric {
  workload: string;
  metric: string;
  digits: number;
  values: Map<string, number[]>;
}

/** A metric of a workload, with no values yet. */
function newMetric(workload: string, metric: string, digits: number): Metric {
  return { workload, metric, digits, values: new Map() };
}

/**
 * The rate (req/s, or MiB/s for `throughput`), server CPU and its user part,
 * of samples.
 */
function rateAndCpu(
  label: string,
  samples: Map<string, Sample[]>,
  throughput: boolean,
): Metric[] {
  const rate = newMetric(label, throughput ? "MiB/s" : "req/s", 0);
  const cpu = newMetric(label, "server CPU µs/req", 2);
  const user = newMetric(label, "of it user µs/req", 2);
  for (const [sideName, list] of samples) {
    for (const sample of list) {
      push(
        rate,
        sideName,
        throughput ? sample.bytesPerSec / 2 ** 20 : sample.rps,
      );
      push(cpu, sideName, sample.cpuPerRequest);
      push(user, sideName, sample.userPerRequest);
    }
  }
  return [rate, cpu, user];
}

/** Alternates the two sides, `rounds` times each, ABBA…; by side name. */
async function alternate(
  sides: Side[],
  rounds: number,
  each: (side: Side, round: number) => Promise<void>,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const s of round % 2 ? [...sides].reverse() : sides) {
      await each(s, round);
    }
  }
}

/** `deno bench --json` of the handler bench in a tree; avg ns/iter by name. */
async function handlerBench(
  dir: string,
  pins: Pins,
): Promise<Map<string, number>> {
  const argv = pinned(pins.server, [
    deno,
    "bench",
    "--allow-net",
    "--config",
    `${dir}/deno.json`,
    "--json",
    `${dir}/bench/handler_bench.ts`,
  ]);
  const { success, stdout, stderr } = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: dir,
  }).output();
  if (!success) {
    throw new Error(
      `deno bench failed in ${dir}:\n${decoder.decode(stderr)}`,
    );
  }
  const report = JSON.parse(decoder.decode(stdout)) as {
    benches: { name: string; results: { ok?: { avg: number } }[] }[];
  };
  return new Map(
    report.benches.map((b) => [b.name, b.results[0]?.ok?.avg ?? NaN]),
  );
}

function push(metric: Metric, sideName: string, value: number): void {
  metric.values.set(sideName, [...metric.values.get(sideName) ?? [], value]);
}

/**
 * The comparison table: median (min–max) per side; working / baseline of the
 * medians, and of each round's pair (the two sides run back to back, so the
 * pairs cancel a machine that drifts over the run).
 */
function compareTable(metrics: Metric[], sides: Side[]): string {
  const cell = (values: number[], digits: number, unit = "") => {
    const finite = values.filter((v) => Number.isFinite(v));
    return finite.length === 0
      ? "–"
      : `${fmt(median(finite), digits)}${unit} (${
        fmt(Math.min(...finite), digits)
      }–${fmt(Math.max(...finite), digits)})`;
  };
  const [base, work] = sides;
  const rows = metrics.map((m) => {
    const b = m.values.get(base.name) ?? [];
    const w = m.values.get(work.name) ?? [];
    const paired = w.map((v, i) => v / b[i]);
    return `| ${m.workload} | ${m.metric} | ${cell(b, m.digits)} | ${
      cell(w, m.digits)
    } | ${fmt(median(w) / median(b), 3)}× | ${cell(paired, 3, "×")} |`;
  });
  return [
    `| workload | metric | ${base.name} | ${work.name} | working / baseline | per round |`,
    "| --- | --- | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
}

async function compare(ref: string, options: Options): Promise<void> {
  const pins = await choosePins();
  const wanted = (name: string) => !options.only || options.only.has(name);
  await using tree = await baselineTree(repoRoot, ref);
  const sides = [
    side(`baseline ${tree.short}`, tree.dir),
    side(`working tree`, repoRoot),
  ];
  console.log(`# basehttp: working tree against ${ref}\n`);
  console.log(
    `${new Date().toISOString().slice(0, 10)}, Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cores. ${tree.describe}` +
      `. ${options.rounds} rounds per side, alternating, ${options.duration} s each; ` +
      (pins.server
        ? `server on CPU ${pins.server}, wrk on CPU ${pins.wrk}.`
        : "unpinned.") +
      ` Median (min–max) over the rounds.\n`,
  );
  const metrics: Metric[] = [];
  if (wanted("handler")) {
    // One instrument for both sides: the working tree's bench, run against
    // each tree's code (it only uses HTTPServer and finishRequest).
    await Deno.copyFile(
      `${repoRoot}/bench/handler_bench.ts`,
      `${tree.dir}/bench/handler_bench.ts`,
    );
    const byName = new Map<string, Metric>();
    await alternate(sides, options.rounds, async (s, round) => {
      const results = await handlerBench(s.dir, pins);
      for (const [name, ns] of results) {
        if (!byName.has(name)) {
          byName.set(
            name,
            newMetric(
              name.replace(/^handler: hello world, /, "handler, "),
              "ns/iter (avg)",
              0,
            ),
          );
        }
        push(byName.get(name)!, s.name, ns);
      }
      console.error(
        `  handler round ${round + 1} ${s.name}: ${
          [...results.values()].map((ns) => fmt(ns)).join(", ")
        } ns/iter`,
      );
    });
    metrics.push(...byName.values());
  }
  for (const name of ["hello", "pipeline"]) {
    if (!wanted(name)) continue;
    const workload = name === "hello" ? HELLO : PIPELINE;
    const samples = await collect(
      {
        ...workload,
        servers: sides.map((s) => ({ name: s.name, command: s.server() })),
      },
      options,
      pins,
    );
    const label = name === "hello" ? "keep-alive hello" : "pipelined ×16";
    metrics.push(...rateAndCpu(label, samples, false));
  }
  const staticNames = ["static", "many", "large"].filter(wanted);
  if (staticNames.length > 0) {
    const scratch = await Deno.makeTempDir({ prefix: "basehttp_bench_" });
    try {
      const made = await makeTree(scratch);
      // Past the file cache's 2 s for new files, as in the full report,
      // where the static tables come after others.
      await new Promise((r) => setTimeout(r, 2100));
      for (const workload of staticWorkloads(made, [])) {
        if (!staticNames.includes(workload.name)) continue;
        const samples = await collect(
          {
            ...workload,
            servers: sides.map((s) => ({
              name: s.name,
              command: serveFrom(s.dir, made)(README_PERMISSIONS),
            })),
          },
          options,
          pins,
        );
        const label = workload.name === "static"
          ? "static 1 KiB"
          : workload.name === "many"
          ? "static, 1,000 files"
          : "static 64 MiB";
        metrics.push(
          ...rateAndCpu(label, samples, workload.throughput ?? false),
        );
      }
    } finally {
      await Deno.remove(scratch, { recursive: true });
    }
  }
  if (wanted("memory")) {
    const count = 10000;
    const memory = newMetric(
      `${count.toLocaleString("en-US")} idle keep-alive`,
      "RSS KiB/conn",
      2,
    );
    await alternate(sides, options.rounds, async (s, round) => {
      const { before, after } = await idleRss(
        (port) => pinned(pins.server, s.server("600")(port)),
        count,
      );
      push(memory, s.name, (after - before) / count);
      console.error(
        `  memory round ${round + 1} ${s.name}: ${
          fmt((after - before) / count, 2)
        } KiB/conn`,
      );
    });
    metrics.push(memory);
  }
  console.log(compareTable(metrics, sides));
}

/**
 * The full report: every workload and server, idle memory and the targets,
 * the static tree and nginx's folder in a temporary folder removed at the end.
 */
async function loadReport(options: Options): Promise<void> {
  if (await findExecutable("wrk") === null) {
    console.error(
      "wrk not found: install it with `apt-get install wrk` (Debian/Ubuntu)",
    );
    Deno.exitCode = 1;
    return;
  }
  const wanted = (name: string) => !options.only || options.only.has(name);
  const pins = await choosePins();
  const scratch = await Deno.makeTempDir({ prefix: "basehttp_bench_" });
  try {
    let workloads = [HELLO, PIPELINE];
    const versions = [`Deno ${Deno.version.deno}`];
    if (["static", "many", "large", "workers"].some(wanted)) {
      const tree = await makeTree(scratch);
      const external: ServerSpec[] = [];
      for (
        const [name, found] of [
          ["nginx", await nginx(`${scratch}/nginx`, tree.root)],
          ["http-server", await httpServer(cacheDir(scratch), tree.root)],
        ] as const
      ) {
        if ("skip" in found) console.error(found.skip);
        else {
          external.push({ name, command: found.command });
          versions.push(found.version);
        }
      }
      workloads = [...workloads, ...staticWorkloads(tree, external)];
    }
    for (const program of ["node", "python3"]) {
      if (await findExecutable(program) !== null) continue;
      console.error(`${program} not found, its rows skipped: install it`);
      workloads = workloads.map((w) => ({
        ...w,
        servers: w.servers.filter((s) => s.needs !== program),
      }));
    }
    const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(
      /model name\s*:\s*(.*)/,
    )?.[1];
    console.log(`# basehttp load benchmark\n`);
    console.log(
      `${new Date().toISOString().slice(0, 10)}, ${versions.join(", ")}, ` +
        `${navigator.hardwareConcurrency} cores (${cpu ?? "unknown CPU"}), ` +
        `${options.rounds} rounds × ${options.duration} s, alternating, medians; ` +
        (pins.server
          ? `server on CPU ${pins.server}, wrk on CPU ${pins.wrk}.\n`
          : "client and servers share the machine.\n"),
    );
    const results = new Map<string, Measured>();
    for (const workload of workloads) {
      if (!wanted(workload.name)) continue;
      const measured = await measure(workload, options, pins);
      results.set(workload.name, measured);
      console.log(measured.table);
    }
    let idleKiB: number | null = null;
    if (wanted("memory")) {
      const { table, each } = await idleMemory(10000);
      idleKiB = each;
      console.log(table);
    }
    console.log(targetsTable(results, idleKiB));
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

if (import.meta.main) {
  const options = parseArgs(Deno.args);
  if (options.baseline !== null) await compare(options.baseline, options);
  else await loadReport(options);
}
