// Copyright 2026 the basehttp authors. MIT license.
// Test helpers: a server on 127.0.0.1 port 0, raw socket exchanges, and a
// small response parser for checking exact bytes.

import {
  BaseHTTPRequestHandler,
  type HandlerClass,
  HTTPServer,
  type HTTPServerOptions,
} from "../mod.ts";

const encoder = new TextEncoder();

/** A running server that stops itself when disposed. */
export interface TestServer extends AsyncDisposable {
  server: HTTPServer;
  port: number;
}

/** Starts `Handler` on 127.0.0.1, port 0, with `serveForever`. */
export function startServer(
  Handler: HandlerClass,
  options: HTTPServerOptions = {},
): TestServer {
  const server = new HTTPServer(["127.0.0.1", 0], Handler, options);
  const serving = server.serveForever(0.05);
  return {
    server,
    port: server.serverPort,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await serving;
      await server[Symbol.asyncDispose]();
    },
  };
}

/** A handler base for tests: HTTP/1.1, no log lines, records errors. */
export class QuietHandler extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";
  static logs: string[] = [];
  override logMessage(format: string, ...args: unknown[]): void {
    QuietHandler.logs.push(`${format} ${args.join(" ")}`);
  }
}

/** Sends `body` as one text/plain response with Content-Length. */
export async function reply(
  handler: BaseHTTPRequestHandler,
  body: string,
  code = 200,
): Promise<void> {
  const bytes = encoder.encode(body);
  handler.sendResponse(code);
  handler.sendHeader("Content-Type", "text/plain");
  handler.sendHeader("Content-Length", String(bytes.length));
  await handler.endHeaders();
  await handler.wfile.write(bytes);
}

/** What a raw exchange got back. */
export interface Exchange {
  /** Everything received, decoded as Latin-1. */
  text: string;
  /** Whether the server closed the connection. */
  closed: boolean;
}

/**
 * Sends raw bytes (each string or array one write) and reads until the
 * server closes or stays quiet for `quietMs`.
 */
export async function exchange(
  port: number,
  parts: string | Uint8Array | (string | Uint8Array)[],
  { quietMs = 300, pauseMs = 0 }: { quietMs?: number; pauseMs?: number } = {},
): Promise<Exchange> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const part of Array.isArray(parts) ? parts : [parts]) {
      const bytes = typeof part === "string" ? encoder.encode(part) : part;
      try {
        await writeAll(conn, bytes);
      } catch {
        break; // the server closed early; read what it said
      }
      if (pauseMs > 0) await delay(pauseMs);
    }
    return await readAll(conn, quietMs);
  } finally {
    try {
      conn.close();
    } catch {
      // readAll() closed it to cancel its pending read.
    }
  }
}

/** Writes every byte. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Reads until EOF (closed) or `quietMs` without data. */
export async function readAll(
  conn: Deno.Conn,
  quietMs = 300,
): Promise<Exchange> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  let closed = false;
  let pending = conn.read(buf);
  while (true) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const quiet = new Promise<"quiet">((resolve) => {
      timer = setTimeout(() => resolve("quiet"), quietMs);
    });
    const result = await Promise.race([
      pending.catch(() => null),
      quiet,
    ]);
    clearTimeout(timer);
    if (result === "quiet") {
      // Leave no pending read behind: closing the socket settles it.
      conn.close();
      await pending.catch(() => null);
      return { text: concatText(chunks), closed };
    }
    if (result === null) {
      closed = true;
      return { text: concatText(chunks), closed };
    }
    chunks.push(buf.slice(0, result));
    pending = conn.read(buf);
  }
}

function concatText(chunks: Uint8Array[]): string {
  return chunks.map(latin1).join("");
}

/**
 * Decodes bytes as ISO-8859-1, byte for byte (`TextDecoder("latin1")` is
 * windows-1252, which maps 0x80–0x9F elsewhere).
 */
export function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** Encodes a string of code points 0–255 as those bytes. */
export function latin1Bytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/**
 * Resolves as `promise` does, or to `null` after `ms` milliseconds; the
 * timer is cleared either way (no leaked timer).
 */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms` milliseconds. */
/**
 * Makes every accept() of `server` fail as with EMFILE (out of
 * descriptors): the loop pauses and retries.
 */
export function failAccepts(server: HTTPServer): void {
  const listener = server.listener;
  Object.defineProperty(server, "listener", {
    value: {
      accept: () => Promise.reject(new Error("Too many open files")),
      close: () => listener.close(),
      addr: listener.addr,
    },
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One parsed response. */
export interface ParsedResponse {
  status: number;
  statusLine: string;
  headers: [string, string][];
  body: string;
  get(name: string): string | undefined;
}

/**
 * Parses consecutive responses from raw text (Content-Length, chunked, or to
 * the end). `head` says which responses answer HEAD (and so have no body):
 * all of them, or those whose index the function accepts.
 */
export function parseResponses(
  text: string,
  head: boolean | ((index: number) => boolean) = false,
): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  const isHead = typeof head === "function" ? head : () => head;
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end === -1) throw new Error(`Incomplete response: ${text.slice(at)}`);
    const lines = text.slice(at, end).split("\r\n");
    const statusLine = lines[0];
    const status = Number(statusLine.split(" ")[1]);
    const headers = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon), line.slice(colon + 1).trim()];
    });
    const get = (name: string) =>
      headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    at = end + 4;
    let body = "";
    const length = get("content-length");
    if (
      isHead(out.length) || status < 200 || status === 204 || status === 304
    ) {
      // no body
    } else if (get("transfer-encoding") === "chunked") {
      while (true) {
        const lineEnd = text.indexOf("\r\n", at);
        const size = parseInt(text.slice(at, lineEnd), 16);
        if (lineEnd === -1 || Number.isNaN(size)) {
          throw new Error(`Bad chunk framing: ${text.slice(at, at + 40)}`);
        }
        at = lineEnd + 2;
        if (size === 0) {
          at = text.indexOf("\r\n", at) + 2;
          break;
        }
        body += text.slice(at, at + size);
        at += size + 2;
      }
    } else if (length !== undefined) {
      body = text.slice(at, at + Number(length));
      at += Number(length);
    } else {
      body = text.slice(at);
      at = text.length;
    }
    out.push({ status, statusLine, headers, body, get });
  }
  return out;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A fuzzer's seed: FUZZ_SEED=<n> reruns one, FUZZ_SEED=random explores new
 * inputs, and `fixed` keeps CI reproducible.
 */
export function fuzzSeed(fixed: number): number {
  const env = Deno.env.get("FUZZ_SEED");
  return Number(
    env === "random"
      ? crypto.getRandomValues(new Uint32Array(1))[0]
      : env ?? fixed,
  );
}
