// Copyright 2026 the basehttp authors. MIT license.
/**
 * Load benchmark: basehttp beside Deno.serve, node:http and CPython in the
 * same run, on loopback, in alternating rounds; medians and ratios.
 *
 *   deno task bench [--duration 5] [--rounds 3] [--only hello,pipeline,...]
 *
 * Needs `wrk` (Debian: `apt-get install wrk`), `node` and `python3` on PATH.
 * Every server it starts is stopped before it exits; all traffic goes to
 * 127.0.0.1 and every run is bounded by --duration.
 *
 * A/B against a commit (the working tree against REF):
 *
 *   deno run -A --unstable-net bench/load.ts --baseline REF [--rounds 5]
 *     [--duration 5] [--handler-only] [--only handler,hello,pipeline,memory]
 *
 * checks REF out into a temporary `git worktree add --detach` (removed at the
 * end, also on error) and measures basehttp alone, each side from its own tree
 * (`bench/servers/basehttp.ts` run with that tree's deno.json), in alternating
 * rounds (--rounds, 5 by default here): `deno bench` of the working tree's
 * `bench/handler_bench.ts` against each tree's code (ns/iter), then keep-alive
 * hello and pipelined ×16 under wrk (req/s and server CPU µs/req), then the
 * RSS of 10,000 idle keep-alive connections. The server and `deno bench` run
 * on CPU 0 and wrk on CPU 1 (`taskset`, util-linux; unpinned with a warning if
 * it is missing). It prints, per metric and side, the median and the min–max
 * over the rounds, and working / baseline (of the medians, and per round:
 * median and min–max of each round's pair); `--baseline HEAD` on an unmodified
 * tree is the A/A run that shows the noise band. `--handler-only` runs only
 * the handler bench (the same as `--only handler`).
 */

const here = new URL(".", import.meta.url).pathname;
/** The working tree: the checkout this script is in. */
const repoRoot = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const deno = Deno.execPath();

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
  if (Number.isNaN(options.rounds)) options.rounds = options.baseline ? 5 : 3;
  if (!(options.duration > 0) || !(options.rounds >= 1)) {
    throw new RangeError("--duration and --rounds must be positive");
  }
  return options;
}

/** A server to start: its command line, given a port. */
interface ServerSpec {
  name: string;
  command: (port: number) => string[];
}

/** One measured workload. */
interface Workload {
  name: string;
  title: string;
  servers: ServerSpec[];
  path: string;
  connections: number;
  script?: string;
  /** Report Transfer/sec instead of requests. */
  throughput?: boolean;
}

/** Runs `bench/FILE PORT ...extra` of the tree at `dir`, with its deno.json. */
const runIn =
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
  command: (port) => ["node", `${here}servers/node_http.mjs`, String(port)],
};
const python: ServerSpec = {
  name: "CPython ThreadingHTTPServer",
  command: (port) => ["python3", `${here}servers/python_http.py`, String(port)],
};

// Static files are served from a tree this script makes (and removes).
const root = await Deno.makeTempDir({ prefix: "basehttp_bench_" });
await Deno.writeFile(`${root}/1k.bin`, new Uint8Array(1024).fill(97));
await Deno.writeFile(`${root}/64m.bin`, new Uint8Array(64 << 20).fill(98));
const cli = new URL("../cli.ts", import.meta.url).pathname;
const serveCommand = (...extra: string[]) => (port: number) => [
  deno,
  "run",
  "-A",
  "--unstable-net",
  cli,
  String(port),
  "-b",
  "127.0.0.1",
  "-d",
  root,
  "-q",
  ...extra,
];
const basehttpStatic: ServerSpec = {
  name: "basehttp",
  command: serveCommand(),
};
const basehttpWorkers: ServerSpec = {
  name: "basehttp --workers 2",
  command: serveCommand("--workers", "2"),
};
const denoServeStatic: ServerSpec = {
  name: "Deno.serve + Deno.open",
  command: run("servers/deno_serve_static.ts", root),
};
const pythonStatic: ServerSpec = {
  name: "python -m http.server",
  command: (port) => [
    "python3",
    "-m",
    "http.server",
    String(port),
    "-b",
    "127.0.0.1",
    "-d",
    root,
    "-p",
    "HTTP/1.1",
  ],
};

const WORKLOADS: Workload[] = [
  {
    name: "hello",
    title: "hello world, keep-alive, wrk -t1 -c64",
    servers: [basehttp, denoServe, nodeHttp, python, connLoop],
    path: "/",
    connections: 64,
  },
  {
    name: "pipeline",
    title: "hello world, pipelined 16 deep, wrk -t1 -c64",
    servers: [basehttp, denoServe, nodeHttp, connLoop],
    path: "/",
    connections: 64,
    script: `${here}pipeline.lua`,
  },
  {
    name: "static",
    title: "static 1 KiB file, keep-alive, wrk -t1 -c64",
    servers: [basehttpStatic, denoServeStatic, pythonStatic],
    path: "/1k.bin",
    connections: 64,
  },
  {
    name: "large",
    title: "static 64 MiB file, wrk -t1 -c4",
    servers: [basehttpStatic, denoServeStatic, pythonStatic],
    path: "/64m.bin",
    connections: 4,
    throughput: true,
  },
  {
    name: "workers",
    title:
      "static 1 KiB file with 2 worker processes (2 cores, wrk shares them)",
    servers: [basehttpStatic, basehttpWorkers],
    path: "/1k.bin",
    connections: 64,
  },
];

/** Finds a free loopback port. */
function freePort(): number {
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
  for (let i = 0; i < 200; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return { port, pid: child.pid, [Symbol.asyncDispose]: stop };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  await stop();
  throw new Error(`${argv.join(" ")} did not start listening`);
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  bytesPerSec: number;
  peakKiB: number;
  /** Server CPU time (user + system, all its processes) per request, µs. */
  cpuPerRequest: number;
}

const UNITS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, m: 60000 };
const SIZES: Record<string, number> = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
};

/** Prefixes a command line with `taskset -c CPU`, if given a CPU. */
function pinned(cpu: string | undefined, argv: string[]): string[] {
  return cpu === undefined ? argv : ["taskset", "-c", cpu, ...argv];
}

/**
 * Runs wrk (on `cpu`, if given) and reads requests/s, latency p50/p99 (ms)
 * and Transfer/sec.
 */
async function wrk(
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
  const cpuBefore = await cpuSeconds(pid);
  const argv = pinned(onCpu, ["wrk", ...args]);
  const { stdout, success } = await new Deno.Command(argv[0], {
    args: argv.slice(1),
  }).output();
  const cpu = await cpuSeconds(pid) - cpuBefore;
  const text = new TextDecoder().decode(stdout);
  if (!success) throw new Error(`wrk failed:\n${text}`);
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
    p50: latency("50"),
    p99: latency("99"),
    bytesPerSec: transfer ? Number(transfer[1]) * SIZES[transfer[2]] : 0,
    peakKiB: NaN,
    cpuPerRequest: requests ? cpu * 1e6 / Number(requests[1]) : NaN,
  };
}

const TICKS_PER_SECOND = 100; // Linux's USER_HZ

/** CPU seconds (user + system) used so far by a process and its children. */
async function cpuSeconds(pid: number): Promise<number> {
  let ticks = 0;
  let children: string[] = [];
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // Fields after the command name, which is in parentheses: utime is 14th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks = Number(fields[11]) + Number(fields[12]);
  } catch {
    return NaN; // gone
  }
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const list = await Deno.readTextFile(
      `/proc/${pid}/task/${task.name}/children`,
    ).catch(() => ""); // a thread that ended meanwhile
    children = children.concat(list.split(" ").filter(Boolean));
  }
  let seconds = ticks / TICKS_PER_SECOND;
  for (const child of children) seconds += await cpuSeconds(Number(child));
  return seconds;
}

function median(values: number[]): number {
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

/** Measures each of the workload's servers once a round, by name. */
async function collect(
  workload: Workload,
  options: Options,
  wrkCpu?: string,
): Promise<Map<string, Sample[]>> {
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < options.rounds; round++) {
    // Alternate the order so no server always runs on a warmer machine.
    const order = round % 2
      ? [...workload.servers].reverse()
      : workload.servers;
    for (const server of order) {
      await using running = await start(server.command);
      await wrk(running.port, workload, 1, running.pid, wrkCpu); // warm-up
      const sample = await wrk(
        running.port,
        workload,
        options.duration,
        running.pid,
        wrkCpu,
      );
      sample.peakKiB = await peakKiB(running.pid);
      const value = workload.throughput
        ? `${fmt(sample.bytesPerSec / 1024 ** 3, 2)} GiB/s`
        : `${fmt(sample.rps)} req/s`;
      console.error(
        `  ${workload.name} round ${round + 1} ${server.name}: ${value}, ` +
          `${fmt(sample.cpuPerRequest, 2)} µs CPU/req`,
      );
      samples.set(server.name, [...samples.get(server.name) ?? [], sample]);
    }
  }
  return samples;
}

async function measure(workload: Workload, options: Options): Promise<string> {
  const samples = await collect(workload, options);
  const ours = samples.get("basehttp")!;
  const key = (s: Sample) => workload.throughput ? s.bytesPerSec : s.rps;
  const oursMedian = median(ours.map(key));
  const rows = workload.servers.map((server) => {
    const list = samples.get(server.name)!;
    const value = median(list.map(key));
    const ratio = server.name === "basehttp"
      ? "1.00×"
      : `${fmt(oursMedian / value, 2)}×`;
    const shown = workload.throughput
      ? `${fmt(value / 1024 ** 3, 2)} GiB/s`
      : fmt(value);
    const peak = fmt(Math.max(...list.map((s) => s.peakKiB)) / 1024, 0);
    const cpu = workload.throughput
      ? "–"
      : fmt(median(list.map((s) => s.cpuPerRequest)), 1);
    return `| ${server.name} | ${shown} | ${
      fmt(median(list.map((s) => s.p50)), 2)
    } | ${
      fmt(median(list.map((s) => s.p99)), 2)
    } | ${cpu} | ${peak} | ${ratio} |`;
  });
  return [
    `### ${workload.title}`,
    "",
    `| server | ${
      workload.throughput ? "throughput" : "req/s"
    } (median) | p50 ms | p99 ms | server CPU µs/req | peak RSS MiB | basehttp is |`,
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n");
}

/** The peak resident memory of a process, in KiB. */
async function peakKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]);
}

/** Resident memory of a process, in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
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

/** The idle keep-alive memory report: RSS with `count` connections held. */
async function idleMemory(count: number): Promise<string> {
  const { before, after } = await idleRss(
    run("servers/basehttp.ts", "600"),
    count,
  );
  const each = ((after - before) * 1024) / count;
  return [
    `### ${count.toLocaleString("en-US")} idle keep-alive connections`,
    "",
    `RSS ${fmt(before / 1024, 1)} MiB idle → ${
      fmt(after / 1024, 1)
    } MiB with ${count} connections: ` +
    `**${fmt(each / 1024, 2)} KiB per connection**.`,
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------
// --baseline REF: the working tree against a commit, basehttp only.

const decoder = new TextDecoder();

/** Runs git in the working tree; its trimmed stdout. */
async function git(...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("git", {
    args: ["-C", repoRoot, ...args],
  }).output();
  if (!success) {
    throw new Error(`git ${args.join(" ")}: ${decoder.decode(stderr).trim()}`);
  }
  return decoder.decode(stdout).trim();
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

/** One side of the comparison: a tree and the basehttp server it holds. */
interface Side {
  name: string;
  dir: string;
  /** That tree's `bench/servers/basehttp.ts`, on the server's CPU. */
  server: (...extra: string[]) => (port: number) => string[];
}

/** CPUs for the server (and `deno bench`) and for wrk; none if unpinned. */
interface Pins {
  server?: string;
  wrk?: string;
}

function side(name: string, dir: string, pins: Pins): Side {
  return {
    name,
    dir,
    server: (...extra) => (port) =>
      pinned(pins.server, runIn(dir)("servers/basehttp.ts", ...extra)(port)),
  };
}

/** One metric's samples, by side name. */
interface Metric {
  workload: string;
  metric: string;
  digits: number;
  values: Map<string, number[]>;
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
  const commit = await git("rev-parse", "--verify", `${ref}^{commit}`);
  const short = commit.slice(0, 9);
  const head = await git("rev-parse", "--short=9", "HEAD");
  const dirty = (await git("status", "--porcelain", "--untracked-files=no"))
    .split("\n").filter(Boolean).length;
  const pins: Pins = {};
  if (await canPin()) {
    pins.server = "0";
    pins.wrk = "1";
  } else {
    console.error(
      "warning: `taskset -c 1` is not available (util-linux missing, or one " +
        "CPU): server and wrk run unpinned, so the noise band is wider.",
    );
  }
  const wanted = (name: string) => !options.only || options.only.has(name);
  const temp = await Deno.makeTempDir({ prefix: "basehttp_baseline_" });
  const tree = `${temp}/tree`;
  try {
    await git("worktree", "add", "--detach", tree, commit);
    const sides = [
      side(`baseline ${short}`, tree, pins),
      side(`working tree`, repoRoot, pins),
    ];
    console.log(`# basehttp: working tree against ${ref}\n`);
    console.log(
      `${new Date().toISOString().slice(0, 10)}, Deno ${Deno.version.deno}, ` +
        `${navigator.hardwareConcurrency} cores. Baseline ${ref} = ${short} ` +
        `(worktree ${tree}); working tree ${repoRoot} at ${head}` +
        (dirty ? ` + ${dirty} modified files` : ", unmodified") +
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
        `${tree}/bench/handler_bench.ts`,
      );
      const byName = new Map<string, Metric>();
      await alternate(sides, options.rounds, async (s, round) => {
        const results = await handlerBench(s.dir, pins);
        for (const [name, ns] of results) {
          if (!byName.has(name)) {
            byName.set(name, {
              workload: name.replace(/^handler: hello world, /, "handler, "),
              metric: "ns/iter (avg)",
              digits: 0,
              values: new Map(),
            });
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
      const workload = WORKLOADS.find((w) => w.name === name)!;
      const samples = await collect(
        {
          ...workload,
          servers: sides.map((s) => ({ name: s.name, command: s.server() })),
        },
        options,
        pins.wrk,
      );
      const label = name === "hello" ? "keep-alive hello" : "pipelined ×16";
      const rps: Metric = {
        workload: label,
        metric: "req/s",
        digits: 0,
        values: new Map(),
      };
      const cpu: Metric = {
        workload: label,
        metric: "server CPU µs/req",
        digits: 2,
        values: new Map(),
      };
      for (const [sideName, list] of samples) {
        for (const sample of list) {
          push(rps, sideName, sample.rps);
          push(cpu, sideName, sample.cpuPerRequest);
        }
      }
      metrics.push(rps, cpu);
    }
    if (wanted("memory")) {
      const count = 10000;
      const memory: Metric = {
        workload: `${count.toLocaleString("en-US")} idle keep-alive`,
        metric: "RSS KiB/conn",
        digits: 2,
        values: new Map(),
      };
      await alternate(sides, options.rounds, async (s, round) => {
        const { before, after } = await idleRss(s.server("600"), count);
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
  } finally {
    await git("worktree", "remove", "--force", tree).catch((e) =>
      console.error(`warning: ${e.message}`)
    );
    await git("worktree", "prune").catch(() => {});
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
}

/** The full report: every workload and server, and idle memory. */
async function loadReport(options: Options): Promise<void> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(
    /model name\s*:\s*(.*)/,
  )?.[1];
  console.log(`# basehttp load benchmark\n`);
  console.log(
    `${new Date().toISOString().slice(0, 10)}, Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cores (${cpu ?? "unknown CPU"}), ` +
      `${options.rounds} rounds × ${options.duration} s, medians; client and servers share the machine.\n`,
  );
  for (const workload of WORKLOADS) {
    if (options.only && !options.only.has(workload.name)) continue;
    console.log(await measure(workload, options));
  }
  if (!options.only || options.only.has("memory")) {
    console.log(await idleMemory(10000));
  }
}

if (import.meta.main) {
  const options = parseArgs(Deno.args);
  try {
    if (options.baseline !== null) await compare(options.baseline, options);
    else await loadReport(options);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
