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
 */

const here = new URL(".", import.meta.url).pathname;
const deno = Deno.execPath();

interface Options {
  duration: number;
  rounds: number;
  only: Set<string> | null;
}

function parseArgs(args: string[]): Options {
  const options: Options = { duration: 5, rounds: 3, only: null };
  for (let i = 0; i < args.length; i++) {
    const [flag, value] = [args[i], args[i + 1]];
    if (flag === "--duration") options.duration = Number(value);
    else if (flag === "--rounds") options.rounds = Number(value);
    else if (flag === "--only") options.only = new Set(value.split(","));
    else throw new TypeError(`Unknown flag: ${flag}`);
    i++;
  }
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

const run = (file: string, ...extra: string[]) => (port: number) => [
  deno,
  "run",
  "-A",
  `${here}${file}`,
  String(port),
  ...extra,
];

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

/** Runs wrk and reads requests/s, latency p50/p99 (ms) and Transfer/sec. */
async function wrk(
  port: number,
  workload: Workload,
  seconds: number,
  pid: number,
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
  const { stdout, success } = await new Deno.Command("wrk", { args }).output();
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

async function measure(workload: Workload, options: Options): Promise<string> {
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < options.rounds; round++) {
    // Alternate the order so no server always runs on a warmer machine.
    const order = round % 2
      ? [...workload.servers].reverse()
      : workload.servers;
    for (const server of order) {
      await using running = await start(server.command);
      await wrk(running.port, workload, 1, running.pid); // warm-up
      const sample = await wrk(
        running.port,
        workload,
        options.duration,
        running.pid,
      );
      sample.peakKiB = await peakKiB(running.pid);
      const value = workload.throughput
        ? `${fmt(sample.bytesPerSec / 1024 ** 3, 2)} GiB/s`
        : `${fmt(sample.rps)} req/s`;
      console.error(
        `  ${workload.name} round ${round + 1} ${server.name}: ${value}`,
      );
      samples.set(server.name, [...samples.get(server.name) ?? [], sample]);
    }
  }
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

/** Holds `count` keep-alive connections, each after one request, and reads the server's RSS. */
async function idleMemory(count: number): Promise<string> {
  await using running = await start(run("servers/basehttp.ts", "600"));
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
    const after = await rssKiB(running.pid);
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
  } finally {
    for (const conn of conns) conn.close();
  }
}

if (import.meta.main) {
  const options = parseArgs(Deno.args);
  const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(
    /model name\s*:\s*(.*)/,
  )?.[1];
  console.log(`# basehttp load benchmark\n`);
  console.log(
    `${new Date().toISOString().slice(0, 10)}, Deno ${Deno.version.deno}, ` +
      `${navigator.hardwareConcurrency} cores (${cpu ?? "unknown CPU"}), ` +
      `${options.rounds} rounds × ${options.duration} s, medians; client and servers share the machine.\n`,
  );
  try {
    for (const workload of WORKLOADS) {
      if (options.only && !options.only.has(workload.name)) continue;
      console.log(await measure(workload, options));
    }
    if (!options.only || options.only.has("memory")) {
      console.log(await idleMemory(10000));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}
