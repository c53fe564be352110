// Copyright 2026 the basehttp authors. MIT license.
/**
 * What a server keeps for all its connections: the deadline sweep, buffer
 * pools, the date, and caches of strings already checked or built. One per
 * server, never shared between servers; the engine reaches it through
 * {@linkcode ConnectionHost}.
 *
 * @module
 */

import type { Connection } from "./_connection.ts";
import { DateClock } from "./_date.ts";
import { DeadlineSweep } from "./_deadlines.ts";
import { watched } from "./_handled.ts";
import { HeadScanner } from "./_head.ts";
import { FLUSH_AT, RecentHeads } from "./_output.ts";
import { BufferPool } from "./_pool.ts";
import type { ClientAddress } from "./handler.ts";
import { isFieldValue, isToken, type RequestLimits } from "./parser.ts";

/** The key of a server's {@linkcode ServerState}. */
export const SERVER_STATE: unique symbol = Symbol("basehttp.serverState");

/**
 * The key of the server's method that serves a connection from elsewhere
 * as it serves an accepted one (verifyRequest, processRequest, handleError)
 * and counts it among its tasks for shutdown: the testing and fetch modules
 * use it.
 */
export const SERVE_CONNECTION: unique symbol = Symbol("basehttp.serve");

/** What the engine needs of its server; `HTTPServer` is one. */
export interface ConnectionHost {
  /** Time to receive a whole request head, in seconds. */
  readonly headerTimeout: number | null;
  /** Idle time allowed between keep-alive requests, in seconds. */
  readonly keepAliveTimeout: number | null;
  /** Longest wait for more of a request body, in seconds. */
  readonly bodyTimeout: number | null;
  /** Longest wait for the client to take response bytes, in seconds. */
  readonly writeTimeout: number | null;
  /** Slowest body, in bytes a second of waiting for it; `null` for none. */
  readonly minBodyRate: number | null;
  /** Seconds of waiting for a body before minBodyRate applies. */
  readonly minBodyRateGrace: number;
  /** Request size limits. */
  readonly limits: Readonly<RequestLimits>;
  /** Most bytes all unfinished request heads may hold together. */
  readonly maxUnfinishedHeadBytes: number;
  /** Whether the server is shutting down: responses then close. */
  readonly shuttingDown: boolean;
  /** Reports an error raised while serving a connection. */
  handleError(
    connection: Deno.Conn | null,
    clientAddress: ClientAddress | null,
    error: unknown,
  ): void;
  /** The server's own state. */
  readonly [SERVER_STATE]: ServerState;
}

/**
 * Calls the server's `handleError`, which a user's override may make throw:
 * then what it raised and what it was given go to stderr, as Python's
 * threading.excepthook prints what escaped a handler thread, and serving
 * goes on.
 */
export function reportError(
  host: Pick<ConnectionHost, "handleError">,
  connection: Deno.Conn | null,
  clientAddress: ClientAddress | null,
  error: unknown,
): void {
  try {
    watched(host.handleError(connection, clientAddress, error), "handleError");
  } catch (failure) {
    console.error("Exception in handleError:", failure);
    console.error("while handling:", error);
  }
}

/** A timer as a promise, that can be cancelled. */
export function sleep(
  seconds: number,
): { promise: Promise<void>; cancel(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    id = setTimeout(resolve, seconds * 1000);
  });
  return { promise, cancel: () => clearTimeout(id) };
}

/**
 * Waits for handler code still running once its connections are closed
 * (Python's server_close joins its threads), but at most the server's
 * `shutdownTimeout`: code that awaits what never settles cannot hold a
 * shutdown for ever. Then says how many `left()` it leaves running.
 */
export async function awaitHandlers(
  server: { readonly shutdownTimeout: number; logSink(line: string): void },
  done: Promise<unknown>,
  left: () => number,
): Promise<void> {
  const timer = sleep(server.shutdownTimeout);
  await Promise.race([done, timer.promise]);
  timer.cancel();
  const count = left();
  if (count === 0) return;
  const one = count === 1;
  server.logSink(
    `${count} handler${one ? "" : "s"} still running ` +
      `${server.shutdownTimeout} s after ${
        one ? "its connection was" : "their connections were"
      } closed; not waiting for ${one ? "it" : "them"}`,
  );
}

/**
 * Strings that passed a check, remembered: most responses repeat the same
 * few header names and values, and a lookup is cheaper than a check.
 */
class CheckedStrings {
  #passed = new Set<string>();
  #check: (text: string) => boolean;

  constructor(check: (text: string) => boolean) {
    this.#check = check;
  }

  /** Whether `text` passes the check. */
  test(text: string): boolean {
    if (this.#passed.has(text)) return true;
    if (!this.#check(text)) return false;
    if (text.length <= 256) {
      if (this.#passed.size >= 256) this.#passed.clear();
      this.#passed.add(text);
    }
    return true;
  }
}

/** One server's shared state. */
export class ServerState {
  /** Byte buffers for output and file copies. */
  readonly pool: BufferPool = new BufferPool();
  /** The current date for `Date` headers. */
  readonly clock: DateClock = new DateClock();
  /** The live connections, whose deadlines are swept. */
  readonly connections: DeadlineSweep<Deno.Conn, Connection> =
    new DeadlineSweep();
  /** Header names and values known to be valid. */
  readonly headerNames: CheckedStrings = new CheckedStrings(isToken);
  readonly headerValues: CheckedStrings = new CheckedStrings(isFieldValue);
  /** What the fast scanner found in a head: one for all connections. */
  readonly scanner: HeadScanner = new HeadScanner();
  /** Bytes held in unfinished request heads, over all connections. */
  headBytes = 0;
  /** Short body strings are encoded here, then copied into the output. */
  readonly scratch: Uint8Array = new Uint8Array(FLUSH_AT);
  /** Response heads queued lately, and their bytes. */
  readonly recentHeads: RecentHeads = new RecentHeads();
  // The last Server and Keep-Alive values, so that each response sends the
  // same string rather than building one.
  #version: [string, string, string] = ["", "", ""];
  #keepAlive: [number, string] = [-1, ""];
  // The last status line, for the same reason.
  #statusLine: [string, number, string, string] = ["", 0, "", ""];
  // The last protocolVersion parsed, and its minor version.
  #protocol: [string, number] = ["", 0];
  // Connections holding finished pipelined responses, and the one timer
  // that sends what they still hold at the next macrotask.
  #holding = new Set<Connection>();
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * What handlers opened for all the server's connections, disposed by its
   * close(); `null` until it binds a listener of its own (a test client's or
   * a fetch handler's server may never be closed).
   */
  resources: DisposableStack | null = null;
  /** Connections their handler took with `detach()`: never closed here. */
  readonly detached: WeakSet<Deno.Conn> = new WeakSet();
  /** The server's hook: it stops counting and waiting for a detached one. */
  onDetach: (conn: Deno.Conn) => void = () => {};

  /** Marks `conn` detached from the server. */
  detach(conn: Deno.Conn): void {
    this.detached.add(conn);
    this.onDetach(conn);
  }

  /** `server + " " + sys`, the same string while both stay the same. */
  versionString(server: string, sys: string): string {
    const version = this.#version;
    if (version[0] !== server || version[1] !== sys) {
      this.#version = [server, sys, `${server} ${sys}`];
    }
    return this.#version[2];
  }

  /** `${version} ${code} ${phrase}\r\n`, the same string while they stay. */
  statusLine(version: string, code: number, phrase: string): string {
    const last = this.#statusLine;
    if (last[1] !== code || last[0] !== version || last[2] !== phrase) {
      this.#statusLine = [
        version,
        code,
        phrase,
        `${version} ${code} ${phrase}\r\n`,
      ];
    }
    return this.#statusLine[3];
  }

  /** The Keep-Alive value for an idle timeout, in whole seconds rounded down. */
  keepAliveValue(idle: number): string {
    const seconds = Math.floor(idle);
    if (this.#keepAlive[0] !== seconds) {
      this.#keepAlive = [seconds, `timeout=${seconds}`];
    }
    return this.#keepAlive[1];
  }

  /** The minor version of a `protocolVersion`: 1 above HTTP/1.x, 0 if none. */
  protocolMinor(version: string): number {
    if (this.#protocol[0] !== version) {
      const match = /^HTTP\/(\d+)\.(\d+)$/.exec(version);
      const major = match === null ? 0 : Number(match[1]);
      this.#protocol = [
        version,
        major > 1 ? 1 : major === 1 ? Number(match![2]) : 0,
      ];
    }
    return this.#protocol[1];
  }

  /** Refuses the connection that holds the largest unfinished head. */
  evictLargestHead(): void {
    let largest: Connection | null = null;
    for (const connection of this.connections.values()) {
      if (connection.headHeld > (largest?.headHeld ?? 0)) largest = connection;
    }
    largest?.evictHead();
  }

  /** Has `connection.sendHeld()` called at the next macrotask. */
  hold(connection: Connection): void {
    this.#holding.add(connection);
    this.#holdTimer ??= setTimeout(() => {
      this.#holdTimer = undefined;
      for (const held of this.#holding) held.sendHeld();
      this.#holding.clear();
    }, 0);
  }

  /** Forgets a connection that ends while it holds output. */
  unhold(connection: Connection): void {
    if (!this.#holding.delete(connection) || this.#holding.size > 0) return;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
  }
}
