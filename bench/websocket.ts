// Copyright 2026 the basehttp authors. MIT license.
/**
 * WebSocket echo: round trips per second and server CPU µs per round trip,
 * basehttp (`upgradeWebSocket`) beside `Deno.serve` + `Deno.upgradeWebSocket`
 * and the `ws` package on Node, in one run, as ratios.
 *
 *   deno run -A bench/websocket.ts [--duration 3] [--rounds 1] [--baseline REF]
 *     [--bytes 32] [--iterate]
 *
 * One Node client program (the `ws` package, no compression) drives each
 * server in turn: 64 connections, each with one text message in flight (32
 * ASCII bytes, or --bytes), sent again as soon as its echo is back. The server runs on CPU 0
 * and the client on CPU 1 (`taskset`; unpinned with a warning if missing).
 * After a one-second warm-up the client counts round trips for --duration
 * seconds while the server's user + system CPU time is read from
 * /proc/PID/stat. Rounds alternate the servers. Needs `node` and `npm` on
 * PATH; `ws` is installed on first use into ~/.cache/basehttp-bench. Every
 * server it starts is stopped before it exits; all traffic is on 127.0.0.1.
 *
 * `--baseline REF` runs basehttp from a temporary worktree of commit REF as
 * well (`basehttp REF`), in the same alternating rounds, instead of node ws:
 * the A/B for a change to the WebSocket code. This box's A/A band for one
 * 3 s round is about ±5 %: take several rounds. `--iterate` makes basehttp's
 * echo a `for await (const message of socket)` loop, not `onmessage`.
 */

import { baselineTree } from "./_baseline.ts";
import { cacheDir, findExecutable, npmInstall } from "./_external.ts";
import { type CpuTimes, cpuTimes } from "./_proc.ts";
import { choosePins, median, pinned, type Pins, start } from "./load.ts";

const WS_VERSION = "8.18.3";
export const CONNECTIONS = 64;
export const MESSAGE_BYTES = 32;
const repoRoot = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

export const basehttpServer = (root: string, iterate = false): string => {
  const echo = iterate
    ? "for await (const message of socket) socket.send(message);"
    : "socket.onmessage = (event) => socket.send(event.data);";
  return `
import { BaseHTTPRequestHandler, HTTPServer } from "${root}/mod.ts";
class Echo extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
  async do_GET(): Promise<void> {
    const socket = await this.upgradeWebSocket({ compression: false });
    ${echo}
  }
}
const httpd = new HTTPServer(["127.0.0.1", Number(Deno.args[0])], Echo, {
  logSink: () => {},
});
await httpd.serveForever();
`;
};

const DENO_SERVE_SERVER = `
Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen() {} },
  (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  },
);
`;

const nodeWsServer = (modules: string): string => `
const { WebSocketServer } = require(${JSON.stringify(`${modules}/ws`)});
const server = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.argv[2]),
  perMessageDeflate: false,
});
server.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
`;

// Prints "start" after the warm-up, then "count N" after the duration.
export const CLIENT = `
const WebSocket = require("ws");
const [port, connections, bytes, warmup, duration] = process.argv.slice(2)
  .map(Number);
const message = "x".repeat(bytes);
let counting = false;
let count = 0;
const sockets = [];
let open = 0;
for (let i = 0; i < connections; i++) {
  const ws = new WebSocket("ws://127.0.0.1:" + port + "/", {
    perMessageDeflate: false,
  });
  sockets.push(ws);
  ws.on("open", () => {
    if (++open === connections) begin();
  });
  ws.on("message", () => {
    if (counting) count++;
    ws.send(message);
  });
  ws.on("error", (error) => {
    console.error(String(error));
    process.exit(1);
  });
}
function begin() {
  for (const ws of sockets) ws.send(message);
  setTimeout(() => {
    counting = true;
    console.log("start");
    setTimeout(() => {
      counting = false;
      console.log("count " + count);
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }, duration);
  }, warmup);
}
`;

interface Options {
  duration: number;
  rounds: number;
  baseline: string | null;
  bytes: number;
  iterate: boolean;
}

function parseArgs(args: string[]): Options {
  const options: Options = {
    duration: 3,
    rounds: 1,
    baseline: null,
    bytes: MESSAGE_BYTES,
    iterate: false,
  };
  for (let i = 0; i < args.length; i++) {
    const value = Number(args[i + 1]);
    if (args[i] === "--iterate") {
      options.iterate = true;
      continue;
    }
    if (args[i] === "--duration" && value > 0) options.duration = value;
    else if (args[i] === "--baseline" && args[i + 1]) {
      options.baseline = args[i + 1];
    } else if (args[i] === "--rounds" && Number.isInteger(value) && value > 0) {
      options.rounds = value;
    } else if (args[i] === "--bytes" && Number.isInteger(value) && value > 0) {
      options.bytes = value;
    } else {
      console.error(
        "usage: deno run -A bench/websocket.ts [--duration S] [--rounds N] " +
          "[--baseline REF] [--bytes N] [--iterate]",
      );
      Deno.exit(2);
    }
    i++;
  }
  return options;
}

/** Installs `ws` into the bench cache on first use; its node_modules path. */
export async function installWs(): Promise<string> {
  const prefix = `${cacheDir(Deno.cwd())}/ws-${WS_VERSION}`;
  const problem = await npmInstall(prefix, "ws", WS_VERSION);
  if (problem !== null) throw new Error(problem);
  return `${prefix}/node_modules`;
}

interface Server {
  name: string;
  command(port: number): string[];
}

interface Result {
  roundTrips: number;
  cpuMicros: number;
  /** The user part of cpuMicros. */
  userMicros: number;
}

/**
 * The client's command line: `script` (CLIENT, written out) against `port`,
 * `bytes` a message, counting for `seconds` after a second of warm-up. It
 * needs NODE_PATH set to {@linkcode installWs}'s folder.
 */
export function clientCommand(
  script: string,
  port: number,
  bytes: number,
  seconds: number,
): string[] {
  return [
    "node",
    script,
    String(port),
    String(CONNECTIONS),
    String(bytes),
    "1000",
    String(seconds * 1000),
  ];
}

/** Reads the client's lines as they come. */
export async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    let end;
    while ((end = text.indexOf("\n")) >= 0) {
      yield text.slice(0, end);
      text = text.slice(end + 1);
    }
  }
}

async function measure(
  server: Server,
  client: (port: number) => string[],
  modules: string,
  pins: Pins,
): Promise<Result> {
  await using running = await start((port) =>
    pinned(pins.server, server.command(port))
  );
  const argv = pinned(pins.wrk, client(running.port));
  const driver = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { NODE_PATH: modules },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let cpuStart: CpuTimes = { user: 0, system: 0 };
  let started = 0;
  let result: Result | null = null;
  for await (const line of lines(driver.stdout)) {
    if (line === "start") {
      cpuStart = await cpuTimes(running.pid);
      started = performance.now();
    } else if (line.startsWith("count ")) {
      const end = await cpuTimes(running.pid);
      const user = end.user - cpuStart.user;
      const cpu = user + end.system - cpuStart.system;
      const seconds = (performance.now() - started) / 1000;
      const count = Number(line.slice(6));
      result = {
        roundTrips: count / seconds,
        cpuMicros: cpu * 1e6 / count,
        userMicros: user * 1e6 / count,
      };
    }
  }
  const status = await driver.status;
  if (!status.success || result === null) {
    throw new Error(`the client failed against ${server.name}`);
  }
  return result;
}

async function main(): Promise<void> {
  const options = parseArgs(Deno.args);
  const node = await findExecutable("node");
  if (node === null) throw new Error("node not found: install Node.js");
  const pins = await choosePins();
  const modules = await installWs();
  await using baseline = options.baseline === null
    ? null
    : await baselineTree(repoRoot, options.baseline);
  const dir = await Deno.makeTempDir({ prefix: "basehttp-ws-bench-" });
  try {
    const write = async (name: string, text: string) => {
      const path = `${dir}/${name}`;
      await Deno.writeTextFile(path, text);
      return path;
    };
    const deno = Deno.execPath();
    // A Deno server program, written out, as a command line for a port.
    const denoServer = async (name: string, source: string) => {
      const path = await write(name, source);
      return (p: number) => [deno, "run", "-A", path, String(p)];
    };
    const clientScript = await write("client.cjs", CLIENT);
    const servers: Server[] = [
      {
        name: "basehttp",
        command: await denoServer(
          "basehttp.ts",
          basehttpServer(repoRoot, options.iterate),
        ),
      },
      {
        name: "Deno.serve",
        command: await denoServer("deno_serve.ts", DENO_SERVE_SERVER),
      },
    ];
    if (baseline === null) {
      const nodeWs = await write("node_ws.cjs", nodeWsServer(modules));
      servers.push({
        name: "node ws",
        command: (p) => [node, nodeWs, String(p)],
      });
    } else {
      servers.push({
        name: `basehttp ${baseline.short}`,
        command: await denoServer(
          "baseline.ts",
          basehttpServer(baseline.dir, options.iterate),
        ),
      });
      console.log(baseline.describe);
    }
    const client = (port: number) =>
      clientCommand(clientScript, port, options.bytes, options.duration);
    const results = new Map<string, Result[]>(servers.map((s) => [s.name, []]));
    for (let round = 0; round < options.rounds; round++) {
      // Alternate the order, so that no server always goes first.
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const server of order) {
        results.get(server.name)!.push(
          await measure(server, client, modules, pins),
        );
      }
    }
    console.log(
      `WebSocket echo, ${CONNECTIONS} connections, one ${options.bytes}-byte ` +
        `message in flight each, ${options.duration} s x ${options.rounds} ` +
        `round(s); server CPU 0, client CPU 1 (Deno ${Deno.version.deno}, ` +
        `ws ${WS_VERSION})` +
        (options.iterate ? "; basehttp echoes with for await" : ""),
    );
    const base = results.get("basehttp")!;
    const baseRate = median(base.map((r) => r.roundTrips));
    const baseCpu = median(base.map((r) => r.cpuMicros));
    console.log(
      "server              round trips/s   CPU µs/round trip   of it user   basehttp ÷ it (rate, CPU)",
    );
    for (const [name, rows] of results) {
      const rate = median(rows.map((r) => r.roundTrips));
      const cpu = median(rows.map((r) => r.cpuMicros));
      const user = median(rows.map((r) => r.userMicros));
      console.log(
        `${name.padEnd(18)}  ${rate.toFixed(0).padStart(13)}   ${
          cpu.toFixed(1).padStart(17)
        }   ${user.toFixed(1).padStart(10)}   ${
          (baseRate / rate).toFixed(2)
        }, ${(baseCpu / cpu).toFixed(2)}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
