// Copyright 2026 the basehttp authors. MIT license.
// Helpers shared by the static handler's tests.
import { simpleHandler, type SimpleHandlerOptions } from "../static.ts";
import { percentFormat } from "../handler.ts";
import {
  exchange,
  type ParsedResponse,
  parseResponses,
  readAll,
  writeAll,
} from "./_util.ts";

const encoder = new TextEncoder();

/** A handler over `root`, HTTP/1.1, logging into `logs`. */
export function treeHandler(
  root: string,
  logs: string[],
  options: SimpleHandlerOptions = {},
) {
  return class extends simpleHandler({
    directory: root,
    protocolVersion: "HTTP/1.1",
    ...options,
  }) {
    override logMessage(format: string, ...args: unknown[]): void {
      logs.push(percentFormat(format, args));
    }
  };
}

/** One raw request on its own connection; returns the parsed response. */
export async function rawRequest(
  port: number,
  target: string,
  { method = "GET", headers = "", version = "HTTP/1.1" }: {
    method?: string;
    headers?: string;
    version?: string;
  } = {},
): Promise<ParsedResponse & { closed: boolean; text: string }> {
  const { text, closed } = await exchange(
    port,
    `${method} ${target} ${version}\r\nHost: t\r\nConnection: close\r\n${headers}\r\n`,
  );
  const [response] = parseResponses(text, method === "HEAD");
  return { ...response, closed, text };
}

/** GET on its own connection; `null` when nothing came within `ms`. */
export async function getOnce(
  port: number,
  path: string,
  ms = 1000,
): Promise<{ status: number; body: string } | null> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(
      conn,
      encoder.encode(
        `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`,
      ),
    );
    const { text, closed } = await readAll(conn, ms);
    if (!closed) return null;
    const [response] = parseResponses(text);
    return { status: response.status, body: response.body };
  } finally {
    try {
      conn.close();
    } catch {
      // readAll() closed it to cancel its read.
    }
  }
}

/**
 * Runs `loop` (JavaScript, synchronous file operations) in a child process
 * for `ms` while GETting `path` one request after another. Counts the
 * answers: `"200 <body>"`, other statuses, and `"no answer"` for a request
 * that got nothing within a second, where the race stops.
 */
export async function race(
  port: number,
  path: string,
  loop: string,
  ms: number,
): Promise<Map<string, number>> {
  const swapper = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `const end = performance.now() + ${ms};
       while (performance.now() < end) { ${loop} }`,
    ],
    stdin: "null",
    stdout: "null",
  }).spawn();
  let running = true;
  const status = swapper.status.finally(() => running = false);
  const counts = new Map<string, number>();
  while (running) {
    const response = await getOnce(port, path);
    const key = response === null
      ? "no answer"
      : response.status === 200
      ? `200 ${response.body}`
      : String(response.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (response === null) break;
  }
  if (running) swapper.kill();
  await status;
  return counts;
}
