// Copyright 2026 the basehttp authors. MIT license.
/**
 * {@linkcode HTTPServer}: Python's `HTTPServer` with the socketserver loops,
 * over `Deno.listen` (TCP or Unix socket) or `Deno.listenTls`.
 *
 * @module
 */

import type { ClientAddress, HandlerClass } from "./handler.ts";
import { DEFAULT_LIMITS, type RequestLimits } from "./parser.ts";
import {
  awaitHandlers,
  reportError,
  SERVE_CONNECTION,
  SERVER_STATE,
  ServerState,
  sleep,
} from "./_server_state.ts";
import { pyRepr } from "./_text.ts";
import { granted } from "./_permission.ts";

/** PEM certificate chain and private key for HTTPS. */
export interface TlsOptions {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/**
 * Options for {@linkcode HTTPServer}. Durations are in seconds; a timeout
 * that may be `null` is off then.
 */
export interface HTTPServerOptions {
  /** Serve HTTPS with this certificate and key. */
  tls?: TlsOptions;
  /**
   * Time to receive a whole request head: from the connection's start for
   * its first, from a later head's first bytes for the others. @default {30}
   */
  headerTimeout?: number | null;
  /** Idle time allowed between keep-alive requests. @default {5} */
  keepAliveTimeout?: number | null;
  /** Longest wait for more of a request body. @default {30} */
  bodyTimeout?: number | null;
  /**
   * Longest time the client may take no response bytes while some wait for
   * it, as nginx's `send_timeout`: a slow client that keeps reading is not
   * cut, but a blocked socket write ends only once the kernel has room for
   * more (on Linux a third of its send buffer, up to 4 MiB on loopback), so
   * a reader slower than that much a writeTimeout is. @default {60}
   */
  writeTimeout?: number | null;
  /**
   * Slowest request body, in bytes per second of waiting for it, once
   * {@linkcode HTTPServerOptions.minBodyRateGrace} seconds have passed
   * (Apache's `MinRate`): a body trickled byte by byte cannot hold a
   * connection for hours, and an upload at an honest speed always passes.
   * There is no bound on a body's total time. `null` disables.
   * @default {500}
   */
  minBodyRate?: number | null;
  /** Seconds of waiting for a body before `minBodyRate` applies. @default {20} */
  minBodyRateGrace?: number;
  /**
   * Grace period for in-flight requests on {@linkcode HTTPServer.shutdown},
   * then as long again for handler code still running once their
   * connections are closed. @default {10}
   */
  shutdownTimeout?: number;
  /**
   * Most connections served at once; more wait in the listen queue.
   * @default {10000, or less under a lower descriptor limit: three quarters of what it leaves once 32 are spared; Deno 2.9 lets only --allow-all read the limit}
   */
  maxConnections?: number;
  /**
   * Most bytes all unfinished request heads may hold together: past it, the
   * connection with the largest gets 431 and is closed, so that many slow
   * clients with large heads cannot exhaust memory. @default {67108864}
   */
  maxUnfinishedHeadBytes?: number;
  /** Request size limits; see {@linkcode RequestLimits}. */
  limits?: Partial<RequestLimits>;
  /**
   * Bind with `SO_REUSEPORT` (Linux), so that several processes can serve
   * one port and the kernel spreads connections among them. Deno treats
   * this as unstable: run with `--unstable-net`, or Deno exits.
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * Bind and listen at construction, as Python's `bind_and_activate`. With
   * `false` the server has no listener until {@linkcode HTTPServer.serverBind};
   * it can still serve connections from elsewhere through
   * {@linkcode HTTPServer.processRequest}, with all its timeouts and limits.
   * @default {true}
   */
  bindAndActivate?: boolean;
  /**
   * Where log lines go: the default {@linkcode BaseHTTPRequestHandler.logMessage}
   * and {@linkcode HTTPServer.handleError} call it with one line each, without
   * a newline. A test can collect the lines; an access log can go to a file.
   * @default {a function that writes the line to stderr}
   */
  logSink?: (line: string) => void;
}

/** `[host, port]` for TCP (`""` = every IPv4 interface, 0.0.0.0, as in Python; `"::"` adds IPv6; port 0 = any free port), or a Unix socket path. */
export type ServerAddress = [host: string, port: number] | string;

function checkSeconds(
  name: string,
  value: number | null | undefined,
): void {
  if (value === null || value === undefined) return;
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(`${name} must be a positive number of seconds`);
  }
}

/** Whether `accept()` failed for a client that left before it was taken. */
function isGoneBeforeAccept(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}

// Descriptors kept free of connections: files, CGI pipes, the listener.
const SPARE_DESCRIPTORS = 32;

/**
 * The default for maxConnections: 10000, or three quarters of what the
 * descriptor limit leaves once a few are spared, where it can be read
 * without asking for a permission.
 */
function defaultMaxConnections(): number {
  const path = "/proc/self/limits";
  if (!granted({ name: "read", path })) return 10000;
  try {
    const line = Deno.readTextFileSync(path).split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s+/)[3]);
    if (!Number.isFinite(soft)) return 10000;
    const room = Math.floor((soft - SPARE_DESCRIPTORS) * 3 / 4);
    return Math.max(1, Math.min(10000, room));
  } catch {
    return 10000;
  }
}

const noop = (): void => {};

function writeToStderr(line: string): void {
  console.error(line);
}

/**
 * Deno 2.9 starts its signal driver on first need, which takes a descriptor;
 * when none is free then (accept() at EMFILE), the runtime panics. Starting
 * it while descriptors are free avoids that; SIGWINCH is ignored by default,
 * so a handler left behind changes nothing.
 */
function startSignalDriver(): void {
  try {
    Deno.addSignalListener("SIGWINCH", noop);
    Deno.removeSignalListener("SIGWINCH", noop);
  } catch {
    // No such signal here (Windows).
  }
}

/** Whether an error means the listener has been closed. */
function isClosedListener(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

// What a wait resolves to when its caller stops waiting for a connection.
const STOPPED = Symbol("stopped");

/**
 * Python's `HTTPServer`: binds at construction, then serves connections with
 * {@linkcode serveForever} (concurrently) or {@linkcode handleRequest} (one
 * connection per call).
 *
 * @example Serve until shut down
 * ```ts
 * import { BaseHTTPRequestHandler, HTTPServer } from "@basehttp/server";
 *
 * class Hello extends BaseHTTPRequestHandler {
 *   async do_GET(): Promise<void> {
 *     this.sendResponse(200);
 *     this.sendHeader("Content-Length", "0");
 *     await this.endHeaders();
 *   }
 * }
 *
 * await using httpd = new HTTPServer(["127.0.0.1", 0], Hello);
 * const serving = httpd.serveForever();
 * const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/`);
 * await response.body?.cancel();
 * await httpd.shutdown();
 * await serving;
 * ```
 */
export class HTTPServer implements AsyncDisposable {
  /** The bound address: `[host, port]` with the real port, or a socket path. */
  serverAddress: ServerAddress;
  /** The host name of the server (Python's `server_name`). */
  serverName: string;
  /** The bound port; 0 for a Unix socket (or before binding). */
  serverPort = 0;
  /** The handler class instantiated for each connection. */
  readonly RequestHandlerClass: HandlerClass;
  /** Seconds {@linkcode handleRequest} waits for a connection; `null` waits forever. */
  timeout: number | null = null;
  /** Time to receive a whole request head, in seconds. */
  readonly headerTimeout: number | null;
  /** Idle time allowed between keep-alive requests, in seconds. */
  readonly keepAliveTimeout: number | null;
  /** Longest wait for more of a request body, in seconds. */
  readonly bodyTimeout: number | null;
  /** Longest time the client may take no response bytes, in seconds. */
  readonly writeTimeout: number | null;
  /** Slowest request body, in bytes per second of waiting; `null` for none. */
  readonly minBodyRate: number | null;
  /** Seconds of waiting for a body before {@linkcode minBodyRate} applies. */
  readonly minBodyRateGrace: number;
  /** Grace period for in-flight requests on shutdown, in seconds. */
  readonly shutdownTimeout: number;
  /** Most connections served at once. */
  readonly maxConnections: number;
  /** Request size limits. */
  readonly limits: Readonly<RequestLimits>;
  /** Most bytes all unfinished request heads may hold together. */
  readonly maxUnfinishedHeadBytes: number;
  /** Where log lines go; see {@linkcode HTTPServerOptions.logSink}. */
  logSink: (line: string) => void;

  /** @ignore */
  readonly [SERVER_STATE]: ServerState = new ServerState();
  #listener: Deno.Listener | null = null;
  #bindTo: ServerAddress;
  #tls: TlsOptions | undefined;
  #reusePort: boolean;
  // The connections being served; a detached one leaves early.
  #tasks = new Set<Deno.Conn>();
  // An accept still pending when its caller stopped waiting (a timeout, a
  // stop); the next caller takes it, so an accepted connection is never lost.
  #accepting: Promise<Deno.Conn | null> | null = null;
  #serving: Promise<void> | null = null;
  #emptied: PromiseWithResolvers<void> | null = null;
  #stop: (() => void) | null = null;
  #shuttingDown = false;
  #closed = false;
  // shutdown() closed the listener: serveForever() opens it again.
  #listenAgain = false;
  #slotFree: (() => void) | null = null;
  #acceptErrorAt = 0;

  /**
   * Binds and listens at once, like Python.
   *
   * @param serverAddress `[host, port]` or a Unix socket path.
   * @param RequestHandlerClass The handler class for each connection.
   * @param options Timeouts, limits and TLS.
   * @throws {TypeError} When the address or handler class is not usable.
   * @throws {RangeError} When an option is out of range, or the port is
   *   not 0–65535.
   */
  constructor(
    serverAddress: ServerAddress,
    RequestHandlerClass: HandlerClass,
    options?: HTTPServerOptions,
  ) {
    options ??= {};
    if (typeof RequestHandlerClass !== "function") {
      throw new TypeError("RequestHandlerClass must be a handler class");
    }
    checkSeconds("headerTimeout", options.headerTimeout);
    checkSeconds("keepAliveTimeout", options.keepAliveTimeout);
    checkSeconds("bodyTimeout", options.bodyTimeout);
    checkSeconds("writeTimeout", options.writeTimeout);
    checkSeconds("shutdownTimeout", options.shutdownTimeout);
    checkSeconds("minBodyRateGrace", options.minBodyRateGrace);
    const rate = options.minBodyRate;
    if (rate !== undefined && rate !== null && !(rate > 0)) {
      throw new RangeError("minBodyRate must be a positive number of bytes");
    }
    const maxConnections = options.maxConnections ?? defaultMaxConnections();
    if (!Number.isInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError("maxConnections must be a positive integer");
    }
    this.RequestHandlerClass = RequestHandlerClass;
    this.headerTimeout = options.headerTimeout === undefined
      ? 30
      : options.headerTimeout;
    this.keepAliveTimeout = options.keepAliveTimeout === undefined
      ? 5
      : options.keepAliveTimeout;
    this.bodyTimeout = options.bodyTimeout === undefined
      ? 30
      : options.bodyTimeout;
    this.writeTimeout = options.writeTimeout === undefined
      ? 60
      : options.writeTimeout;
    this.shutdownTimeout = options.shutdownTimeout ?? 10;
    this.minBodyRate = rate === undefined ? 500 : rate;
    this.minBodyRateGrace = options.minBodyRateGrace ?? 20;
    this.maxConnections = maxConnections;
    const budget = options.maxUnfinishedHeadBytes ?? 64 * 1024 * 1024;
    if (!Number.isSafeInteger(budget) || budget < 1) {
      throw new RangeError("maxUnfinishedHeadBytes must be a positive integer");
    }
    this.maxUnfinishedHeadBytes = budget;
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    for (const [name, value] of Object.entries(this.limits)) {
      if (
        value === null && name.startsWith("max") && name.endsWith("BodySize")
      ) {
        continue;
      }
      if (!Number.isSafeInteger(value) || (value as number) < 1) {
        throw new RangeError(`limits.${name} must be a positive integer`);
      }
    }

    if (typeof serverAddress === "string") {
      if (options.tls || options.reusePort) {
        throw new TypeError("tls and reusePort need a TCP address");
      }
    } else {
      if (!Array.isArray(serverAddress) || serverAddress.length !== 2) {
        throw new TypeError("serverAddress must be [host, port] or a path");
      }
      const port = serverAddress[1];
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new RangeError(`Invalid port: ${port}`);
      }
    }
    this.#bindTo = this.serverAddress = serverAddress;
    this.serverName = typeof serverAddress === "string"
      ? serverAddress
      : serverAddress[0];
    if (
      options.logSink !== undefined && typeof options.logSink !== "function"
    ) {
      throw new TypeError("logSink must be a function");
    }
    this.logSink = options.logSink ?? writeToStderr;
    this[SERVER_STATE].onDetach = (conn) => this.#untrack(conn);
    this.#tls = options.tls;
    this.#reusePort = options.reusePort ?? false;
    if (options.bindAndActivate ?? true) this.serverBind();
  }

  /**
   * The listening socket.
   *
   * @throws {TypeError} Before {@linkcode serverBind}, after a
   *   {@linkcode shutdown} until the next loop listens again, and after
   *   {@linkcode close} once a shutdown closed it.
   */
  get listener(): Deno.Listener {
    if (this.#listener === null) {
      throw new TypeError(
        this.#closed
          ? "The server is closed"
          : this.#listenAgain
          ? "The listener was closed by shutdown(): serveForever(), handleRequest() or serverBind() listens again"
          : "The server is not bound: call serverBind()",
      );
    }
    return this.#listener;
  }

  /**
   * Binds and listens (Python's `server_bind` and `server_activate`); the
   * constructor calls it unless `bindAndActivate` is `false`.
   *
   * @throws {TypeError} When the server is bound already.
   */
  serverBind(): void {
    if (this.#listener !== null) throw new TypeError("Already bound");
    startSignalDriver(); // once, while descriptors are free
    this[SERVER_STATE].resources ??= new DisposableStack();
    const listener = this.#listener = this.#listen();
    // A shutdown's close, undone (by hand too); not if the listen threw.
    this.#listenAgain = false;
    if (typeof this.#bindTo === "string") return;
    const addr = listener.addr as Deno.NetAddr;
    this.serverAddress = [addr.hostname, addr.port];
    this.serverPort = addr.port;
    this.serverName = serverNameOf(addr.hostname);
  }

  #listen(): Deno.Listener {
    const address = this.#bindTo;
    if (typeof address === "string") {
      return Deno.listen({ transport: "unix", path: address });
    }
    const [host, port] = address;
    const hostname = host === "" ? "0.0.0.0" : host;
    // Only asked for when wanted: the option alone needs --unstable-net.
    const reuse = this.#reusePort ? { reusePort: true } : {};
    return this.#tls
      ? Deno.listenTls({ hostname, port, ...reuse, ...this.#tls })
      : Deno.listen({ hostname, port, ...reuse });
  }

  /** Whether {@linkcode shutdown} has begun; handlers then close after their request. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Serves connections concurrently until {@linkcode shutdown} is called.
   * On the way out, idle connections are closed at once and in-flight
   * requests get {@linkcode shutdownTimeout} seconds to finish.
   *
   * @param pollInterval Seconds between calls to {@linkcode serviceActions};
   *   0.5 when absent.
   * @throws {RangeError} When `pollInterval` is not a positive number.
   * @throws {TypeError} While it serves already, before
   *   {@linkcode serverBind}, and after {@linkcode close}.
   */
  serveForever(pollInterval?: number): Promise<void> {
    if (this.#serving !== null) {
      throw new TypeError("The server is already serving");
    }
    this.#checkOpen();
    pollInterval ??= 0.5;
    if (!(pollInterval > 0)) {
      throw new RangeError("pollInterval must be a positive number of seconds");
    }
    this.#reopen();
    // Unbound: the getter's TypeError now, not a loop that fails unseen.
    void this.listener;
    // A shutdown() asked before this ran ends it at once; the request is
    // spent when it returns (Python's serve_forever).
    this.#serving = this.#serveForever(pollInterval).finally(() => {
      this.#serving = null;
      this.#shuttingDown = false;
    });
    return this.#serving;
  }

  async #serveForever(pollInterval: number): Promise<void> {
    const stopped = new Promise<typeof STOPPED>((resolve) => {
      this.#stop = () => resolve(STOPPED);
    });
    let acting: Promise<void> | null = null;
    // After each accept and each poll interval, as Python's loop calls it;
    // one call at a time; a throw, sync or async, is reported, and serving
    // goes on.
    const act = () => {
      acting ??= Promise.try(() => this.serviceActions())
        .catch((error) => reportError(this, null, null, error))
        .finally(() => acting = null);
    };
    const actions = setInterval(act, pollInterval * 1000);
    try {
      while (!this.#shuttingDown) {
        if (this.#tasks.size >= this.maxConnections) {
          const free = new Promise<null>((r) => this.#slotFree = () => r(null));
          await Promise.race([free, stopped]);
          continue;
        }
        const conn = await Promise.race([this.#accept(), stopped]);
        if (conn === STOPPED) break;
        this.#accepting = null;
        if (conn === null) break;
        this.#serve(conn);
        act();
      }
    } finally {
      clearInterval(actions);
      this.#stop = null;
      await this.#stopListening();
      await this.#drainConnections();
      await acting; // nor does the loop end before the call it made
    }
  }

  /**
   * Stops {@linkcode serveForever} and resolves once it has returned: the
   * listener closes, so new connections are refused (as Go's `Shutdown`;
   * a later serveForever() listens again on the same address), idle
   * connections close at once, requests in flight get
   * {@linkcode shutdownTimeout} seconds, then their connections are closed
   * too, and it waits for handler code still running, as Python's
   * `server_close()` joins its request threads, for at most another
   * `shutdownTimeout` (then a log line names how many are left running).
   * So a handler that asks for the shutdown does not await it (it would
   * wait for itself): it answers, and calls `void this.server.shutdown()`.
   * Called before {@linkcode serveForever} starts, it makes that return at
   * once; until then {@linkcode shuttingDown} holds, and connections served
   * by {@linkcode handleRequest} close after each request.
   *
   * @example A handler that stops its server
   * ```ts ignore
   * async do_POST(): Promise<void> {
   *   this.sendResponse(202);
   *   this.sendHeader("Content-Length", "0");
   *   await this.endHeaders();
   *   void this.server.shutdown(); // once this request has ended
   * }
   * ```
   */
  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    this.#stop?.();
    // Its failure is serveForever's caller's to see; a `void shutdown()`
    // must not raise it again, unhandled.
    await this.#serving?.catch(() => {});
  }

  /**
   * Accepts one connection and serves it to its end. If {@linkcode timeout}
   * passes first, calls {@linkcode handleTimeout} instead.
   *
   * @throws {TypeError} Before {@linkcode serverBind}, and after
   *   {@linkcode close}.
   */
  async handleRequest(): Promise<void> {
    this.#checkOpen();
    this.#reopen();
    let conn: Deno.Conn | null | typeof STOPPED;
    if (this.timeout === null) {
      conn = await this.#accept();
    } else {
      const timer = sleep(this.timeout);
      conn = await Promise.race([
        this.#accept(),
        timer.promise.then((): typeof STOPPED => STOPPED),
      ]);
      timer.cancel();
      if (conn === STOPPED) return await this.handleTimeout();
    }
    this.#accepting = null;
    if (conn !== null) await this.#serve(conn);
  }

  /** After close(), nothing listens again: a loop would end at once, unseen. */
  #checkOpen(): void {
    if (this.#closed) throw new TypeError("The server is closed");
  }

  /** Called when {@linkcode handleRequest} times out; does nothing by default. */
  handleTimeout(): void | Promise<void> {}

  /**
   * Decides whether to serve a connection; `true` by default.
   *
   * @param _connection The accepted connection.
   * @param _clientAddress The client's address.
   * @returns `false` to close the connection unserved.
   */
  verifyRequest(
    _connection: Deno.Conn,
    _clientAddress: ClientAddress,
  ): boolean | Promise<boolean> {
    return true;
  }

  /**
   * Serves a connection: {@linkcode finishRequest}, then
   * {@linkcode shutdownRequest}; an error of the handler's goes to
   * {@linkcode handleError} first, as in Python's `ThreadingMixIn`.
   *
   * @param connection The accepted connection.
   * @param clientAddress The client's address.
   */
  async processRequest(
    connection: Deno.Conn,
    clientAddress: ClientAddress,
  ): Promise<void> {
    try {
      await this.finishRequest(connection, clientAddress);
    } catch (error) {
      reportError(this, connection, clientAddress, error);
    } finally {
      this.shutdownRequest(connection);
    }
  }

  /**
   * Creates the handler for a connection and runs it: `setup()`,
   * `handle()`, `finish()`.
   *
   * @param connection The accepted connection.
   * @param clientAddress The client's address.
   */
  async finishRequest(
    connection: Deno.Conn,
    clientAddress: ClientAddress,
  ): Promise<void> {
    const handler = new this.RequestHandlerClass(
      connection,
      clientAddress,
      this,
    );
    try {
      // Outside handle()'s try, as in Python: no finish() after a failed setup.
      await handler.setup();
      try {
        await handler.handle();
      } finally {
        await handler.finish();
      }
    } finally {
      const engine = this[SERVER_STATE].connections.get(connection);
      await engine?.linger();
      engine?.release();
    }
  }

  /**
   * Closes a connection that has been served.
   *
   * @param connection The connection.
   */
  shutdownRequest(connection: Deno.Conn): void {
    this.closeRequest(connection);
  }

  /**
   * Closes a connection, ignoring one that is already closed.
   *
   * @param connection The connection.
   */
  closeRequest(connection: Deno.Conn): void {
    // A detached connection belongs to its handler.
    if (this[SERVER_STATE].detached.has(connection)) return;
    try {
      connection.close();
    } catch {
      // Already closed (a timeout, or the handler closed it).
    }
  }

  /**
   * Reports an error raised while serving a connection; by default writes
   * it to {@linkcode logSink} (stderr) as Python does.
   *
   * @param _connection The connection, or `null` outside one.
   * @param clientAddress The client's address, or `null`.
   * @param error The error.
   */
  handleError(
    _connection: Deno.Conn | null,
    clientAddress: ClientAddress | null,
    error: unknown,
  ): void {
    const dashes = "-".repeat(40);
    // As Python prints the address: a tuple, or None.
    const from = clientAddress === null
      ? "None"
      : `(${pyRepr(clientAddress[0])}, ${clientAddress[1]})`;
    this.logSink(dashes);
    this.logSink(
      `Exception occurred during processing of request from ${from}`,
    );
    // One line a call, the trace's too: a sink may write each as a record.
    for (const line of Deno.inspect(error).split("\n")) this.logSink(line);
    this.logSink(dashes);
  }

  /**
   * Called by {@linkcode serveForever} after each connection it accepts and
   * every poll interval, as Python's loop calls it, never while the last
   * call's promise is pending; does nothing by default. A throw is
   * reported through {@linkcode handleError}'s log, and serving goes on.
   */
  serviceActions(): void | Promise<void> {}

  /**
   * Closes the listener and every open connection (Python's `server_close`).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this[SERVER_STATE].resources?.dispose();
    try {
      this.#listener?.close();
    } catch {
      // Already closed.
    }
    for (const engine of this[SERVER_STATE].connections.values()) {
      engine.close();
    }
    // A connection accepted that no loop took is closed, not leaked.
    this.#accepting?.then((conn) => {
      if (conn === null) return;
      try {
        this.closeRequest(conn);
      } catch (error) {
        reportError(this, conn, null, error);
      }
    });
    this.#accepting = null;
  }

  /** Shuts down, closes, and waits for every connection to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    const draining = this.#serving !== null;
    await this.shutdown();
    const accepting = this.#accepting;
    this.close();
    // shutdown() waited for serveForever's; handleRequest's are cut now.
    if (!draining) {
      await awaitHandlers(this, this.#allUntracked(), () => this.#tasks.size);
    }
    await accepting;
  }

  /** The next connection, or `null` once the listener is closed. */
  #accept(): Promise<Deno.Conn | null> {
    if (this.#accepting !== null) return this.#accepting;
    if (this.#listenAgain) return Promise.resolve(null);
    const listener = this.listener; // unbound: the getter's TypeError, thrown
    return this.#accepting = this.#acceptOne(listener);
  }

  async #acceptOne(listener: Deno.Listener): Promise<Deno.Conn | null> {
    // Until shutdown() closes it, maybe during a retry's pause.
    while (!this.#listenAgain) {
      try {
        return await listener.accept();
      } catch (error) {
        if (this.#closed || isClosedListener(error)) return null;
        // A client that reset before it was accepted: take the next one.
        if (isGoneBeforeAccept(error)) continue;
        // Out of descriptors and the like: say so, breathe, go on. The
        // connections already open are served meanwhile.
        this.#reportAcceptError(error);
        await sleep(0.05).promise;
      }
    }
    return null;
  }

  /**
   * One line, at most once a second, and a string: formatting an error
   * object with no descriptor free makes Deno 2.9 panic.
   */
  #reportAcceptError(error: unknown): void {
    const now = Date.now();
    if (now - this.#acceptErrorAt < 1000) return;
    this.#acceptErrorAt = now;
    const line = `accept() failed, retrying: ${String(error)}`;
    try {
      this.logSink(line);
    } catch {
      console.error(line); // an override's failure must not end the loop
    }
  }

  /**
   * Serves a connection that did not come from the listener, as an accepted
   * one, counted among the tasks {@linkcode shutdown} waits for.
   *
   * @ignore
   */
  [SERVE_CONNECTION](conn: Deno.Conn): Promise<void> {
    return this.#serve(conn);
  }

  /** Serves a connection, counted until it ends or is detached. */
  #serve(conn: Deno.Conn): Promise<void> {
    this.#tasks.add(conn);
    return this.#serveCounted(conn);
  }

  async #serveCounted(conn: Deno.Conn): Promise<void> {
    let clientAddress: ClientAddress | null = null;
    try {
      if ("setNoDelay" in conn && typeof conn.setNoDelay === "function") {
        try {
          conn.setNoDelay(true);
        } catch {
          // Not a TCP socket after all.
        }
      }
      const remote = conn.remoteAddr as Deno.NetAddr | Deno.UnixAddr;
      clientAddress = "hostname" in remote
        ? [remote.hostname, remote.port]
        : [remote.path || "unix:", 0]; // a client's socket has no name
      if (await this.verifyRequest(conn, clientAddress)) {
        await this.processRequest(conn, clientAddress);
      } else {
        this.shutdownRequest(conn);
      }
    } catch (error) {
      reportError(this, conn, clientAddress, error);
      try {
        this.shutdownRequest(conn);
      } catch (failure) {
        reportError(this, conn, clientAddress, failure);
      }
    } finally {
      // Whatever the overrides did, the connection leaves the sweep.
      this[SERVER_STATE].connections.get(conn)?.release();
      this.#untrack(conn);
    }
  }

  /** Stops counting a connection's task, and frees its slot. */
  #untrack(conn: Deno.Conn): void {
    if (!this.#tasks.delete(conn)) return;
    const free = this.#slotFree;
    this.#slotFree = null;
    free?.();
    if (this.#tasks.size === 0) {
      this.#emptied?.resolve();
      this.#emptied = null;
    }
  }

  /** Resolves when no task is counted: a detached one leaves the count. */
  #allUntracked(): Promise<void> {
    if (this.#tasks.size === 0) return Promise.resolve();
    return (this.#emptied ??= Promise.withResolvers()).promise;
  }

  /**
   * Closes the listener while the connections drain, as Go's Shutdown does:
   * a client (or a proxy, which then tries another upstream) is refused at
   * once rather than left in the backlog until close(). The next
   * serveForever() listens again on the same address.
   */
  async #stopListening(): Promise<void> {
    const listener = this.#listener;
    if (this.#closed || listener === null) return;
    try {
      listener.close();
    } catch {
      // Closed by the user.
    }
    this.#listener = null;
    if (typeof this.serverAddress !== "string") {
      this.#bindTo = this.serverAddress; // the port a port 0 was given
    }
    this.#listenAgain = true;
    const accepting = this.#accepting;
    this.#accepting = null;
    // One accepted as the listener closed is closed too, not leaked.
    const conn = await accepting;
    if (conn) this.closeRequest(conn);
  }

  /** Listens again after a shutdown closed the listener. */
  #reopen(): void {
    if (this.#listenAgain && !this.#closed) this.serverBind();
  }

  async #drainConnections(): Promise<void> {
    const connections = this[SERVER_STATE].connections;
    for (const engine of connections.values()) {
      // WebSockets close with 1001, event streams end.
      if (engine.idle) engine.close();
      else engine.goAway();
    }
    if (this.#tasks.size === 0) return;
    const grace = sleep(this.shutdownTimeout);
    await Promise.race([this.#allUntracked(), grace.promise]);
    grace.cancel();
    const cut = new Deno.errors.Interrupted(
      `the server shut down: shutdownTimeout (${this.shutdownTimeout} s) passed`,
    );
    for (const engine of connections.values()) engine.cut(cut);
    await awaitHandlers(this, this.#allUntracked(), () => this.#tasks.size);
  }
}

/** Python's `getfqdn` stand-in: the machine's name for a wildcard address. */
function serverNameOf(hostname: string): string {
  if (hostname !== "0.0.0.0" && hostname !== "::") return hostname;
  return granted({ name: "sys", kind: "hostname" })
    ? Deno.hostname()
    : hostname;
}

/**
 * Python's `ThreadingHTTPServer`, for code ported as it is: the same class
 * as {@linkcode HTTPServer}, which already serves its connections
 * concurrently (Deno has no threads to hand a connection to).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HTTPServer, ThreadingHTTPServer } from "@basehttp/server";
 *
 * assert.equal(ThreadingHTTPServer, HTTPServer);
 * // A type too, as a Python class is.
 * const portOf = (httpd: ThreadingHTTPServer): number => httpd.serverPort;
 * assert.equal(typeof portOf, "function");
 * ```
 */
export const ThreadingHTTPServer: typeof HTTPServer = HTTPServer;
/** The type of a {@linkcode ThreadingHTTPServer}: an {@linkcode HTTPServer}. */
export type ThreadingHTTPServer = HTTPServer;
