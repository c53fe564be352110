// Copyright 2026 the basehttp authors. MIT license.
/**
 * An in-memory pair of connected {@linkcode Deno.TcpConn}s, for testing the
 * engine with no socket, no permission and no resource: what one end writes
 * the other reads, with the semantics of a TCP socket as Deno exposes it on
 * Linux (checked against real sockets):
 *
 * - `write` copies and accepts at most the room left in the peer's buffer
 *   (a partial write), and waits while there is none (backpressure).
 * - `read` returns what is there, waits while nothing is, and `null` (EOF)
 *   once the peer shut down its write side and everything was read.
 * - `close` cancels this end's pending calls with `Interrupted`; later
 *   calls reject `BadResource`, a second `close` throws it. The peer reads
 *   EOF and its writes reject `BrokenPipe`.
 * - `reset` is an abortive close: the peer's reads and writes, pending and
 *   later, reject `ConnectionReset` and what was queued is dropped.
 * - `readable` and `writable` behave as Deno's: the end of `readable`, and
 *   closing or aborting `writable`, close the whole connection.
 *
 * Differences from a real socket, chosen for determinism: a write to a peer
 * that closed rejects `BrokenPipe` at once (on TCP the first write may still
 * succeed); after a reset every later call of the peer rejects
 * `ConnectionReset` (Linux reports it once, then EOF and `BrokenPipe`) and
 * queued bytes are dropped; a write issued while `closeWrite` waits for
 * earlier writes rejects at once instead of queueing behind it.
 *
 * Private: not exported from `deno.json`.
 *
 * @example Both ways
 * ```ts ignore
 * import { memoryConnPair } from "./_memory_conn.ts";
 * import assert from "node:assert/strict";
 *
 * const [client, server] = memoryConnPair();
 * await client.write(new TextEncoder().encode("ping"));
 * const buf = new Uint8Array(16);
 * assert.equal(await server.read(buf), 4);
 * client.close();
 * assert.equal(await server.read(buf), null);
 * server.close();
 * ```
 *
 * @module
 */

/** Options for {@linkcode memoryConnPair} and {@linkcode MemoryConn}. */
export interface MemoryConnOptions {
  /**
   * Bytes a side buffers for its reader before the peer's `write()` waits
   * (backpressure).
   *
   * @default {65536}
   */
  highWaterMark?: number;
  /**
   * Most bytes one `read()` returns, to exercise partial reads.
   *
   * @default {Infinity}
   */
  maxReadSize?: number;
  /**
   * Most bytes one `write()` accepts (it resolves with that count: a partial
   * write).
   *
   * @default {Infinity}
   */
  maxWriteSize?: number;
  /**
   * The client's address: `localAddr` of the client end, `remoteAddr` of the
   * server end.
   *
   * @default {{ transport: "tcp", hostname: "127.0.0.1", port: 40000 }}
   */
  clientAddr?: Deno.NetAddr;
  /**
   * The server's address: `localAddr` of the server end, `remoteAddr` of the
   * client end.
   *
   * @default {{ transport: "tcp", hostname: "127.0.0.1", port: 80 }}
   */
  serverAddr?: Deno.NetAddr;
}

const DEFAULT_HIGH_WATER_MARK = 65536;
// Deno's conn.readable reads 64 KiB at a time.
const STREAM_CHUNK_SIZE = 65536;
const DEFAULT_CLIENT_ADDR: Deno.NetAddr = Object.freeze({
  transport: "tcp",
  hostname: "127.0.0.1",
  port: 40000,
});
const DEFAULT_SERVER_ADDR: Deno.NetAddr = Object.freeze({
  transport: "tcp",
  hostname: "127.0.0.1",
  port: 80,
});

// Deno's own error classes and messages, less the "(os error N)" suffix:
// there is no OS call behind these.
const badResource = (): Error => new Deno.errors.BadResource("Bad resource ID");
const interrupted = (): Error =>
  new Deno.errors.Interrupted("operation canceled");
const brokenPipe = (): Error => new Deno.errors.BrokenPipe("Broken pipe");
const connectionReset = (): Error =>
  new Deno.errors.ConnectionReset("Connection reset by peer");

interface PendingRead {
  p: Uint8Array;
  max: number;
  resolve(n: number | null): void;
  reject(error: Error): void;
}

interface PendingWrite {
  p: Uint8Array;
  max: number;
  resolve(n: number): void;
  reject(error: Error): void;
}

/**
 * One direction of the connection: the bytes one end wrote and the other
 * has not read yet, and the calls waiting on them. Reads and writes are
 * served first come, first served, as Deno serializes them per socket.
 */
class Pipe {
  highWaterMark: number;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  /** The writer shut down: EOF once the queue is read. */
  #ended = false;
  /** The reader is gone: nothing will ever be read, writes fail. */
  #abandoned = false;
  /** Aborted: every call fails with ConnectionReset. */
  #reset = false;
  #readers: PendingRead[] = [];
  #writers: PendingWrite[] = [];
  /** A `closeWrite` waiting for the writes issued before it. */
  #shutdown: PromiseWithResolvers<void> | null = null;
  /** Called once a read waits with nothing queued. */
  #onStarved: (() => void)[] = [];

  constructor(highWaterMark: number) {
    this.highWaterMark = highWaterMark;
  }

  read(p: Uint8Array, max: number): Promise<number | null> {
    if (this.#reset) return Promise.reject(connectionReset());
    return new Promise((resolve, reject) => {
      this.#readers.push({ p, max, resolve, reject });
      this.#pump();
    });
  }

  write(p: Uint8Array, max: number): Promise<number> {
    if (this.#reset) return Promise.reject(connectionReset());
    if (this.#ended || this.#shutdown || this.#abandoned) {
      return Promise.reject(brokenPipe());
    }
    if (p.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      this.#writers.push({ p, max, resolve, reject });
      this.#pump();
    });
  }

  /** Whether a read waits with nothing queued. */
  get starved(): boolean {
    return this.#readers.length > 0 && this.#queued === 0 && !this.#ended;
  }

  /** Resolves once a read waits with nothing queued (now, if one does). */
  whenStarved(): Promise<void> {
    if (this.starved) return Promise.resolve();
    return new Promise((resolve) => this.#onStarved.push(resolve));
  }

  /** Shuts the write side down once the writes before it are accepted. */
  shutdown(): Promise<void> {
    // As shutdown(2) on Linux: again, or on a reset socket, is no error.
    if (this.#ended || this.#reset) return Promise.resolve();
    if (this.#shutdown) return this.#shutdown.promise;
    const shutdown = Promise.withResolvers<void>();
    this.#shutdown = shutdown;
    this.#pump();
    return shutdown.promise;
  }

  /** The writer is gone: EOF once the queue is read. */
  end(): void {
    this.#ended = true;
    this.#pump();
  }

  /** The reader is gone: queued bytes are dropped, writes break. */
  abandon(): void {
    this.#abandoned = true;
    this.#discard();
    this.failWriters(brokenPipe);
    this.#pump(); // a closeWrite that waited on those writes completes
  }

  /** Aborts: every waiting call and every later one fails. */
  reset(): void {
    this.#reset = true;
    this.#discard();
    this.failReaders(connectionReset);
    const shutdown = this.#shutdown;
    this.#shutdown = null; // shutdown(2) of a reset socket succeeds
    this.failWriters(connectionReset);
    shutdown?.resolve();
  }

  /** Rejects the reads waiting (those of one end, the reader). */
  failReaders(error: () => Error): void {
    for (const reader of this.#readers.splice(0)) reader.reject(error());
  }

  /** Rejects the writes and the closeWrite waiting (those of the writer). */
  failWriters(error: () => Error): void {
    const shutdown = this.#shutdown;
    this.#shutdown = null;
    for (const writer of this.#writers.splice(0)) writer.reject(error());
    shutdown?.reject(error());
  }

  #discard(): void {
    this.#chunks = [];
    this.#queued = 0;
  }

  /** Serves waiting calls until none can progress. */
  #pump(): void {
    for (;;) {
      if (this.#readers.length > 0 && (this.#queued > 0 || this.#ended)) {
        this.#serveRead(this.#readers.shift()!);
      } else if (
        this.#writers.length > 0 && this.#queued < this.highWaterMark
      ) {
        this.#serveWrite(this.#writers.shift()!);
      } else if (this.#shutdown && this.#writers.length === 0) {
        // The writes before closeWrite are in: now the EOF goes out.
        const shutdown = this.#shutdown;
        this.#shutdown = null;
        this.#ended = true;
        shutdown.resolve();
      } else {
        if (this.#onStarved.length > 0 && this.starved) {
          for (const resolve of this.#onStarved.splice(0)) resolve();
        }
        return;
      }
    }
  }

  #serveRead(reader: PendingRead): void {
    if (this.#queued === 0) return reader.resolve(null); // ended: EOF
    const want = Math.min(reader.p.length, reader.max, this.#queued);
    let n = 0;
    while (n < want) {
      const chunk = this.#chunks[0];
      const k = Math.min(chunk.length, want - n);
      reader.p.set(chunk.subarray(0, k), n);
      n += k;
      if (k === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(k);
    }
    this.#queued -= n;
    reader.resolve(n);
  }

  #serveWrite(writer: PendingWrite): void {
    const room = this.highWaterMark - this.#queued;
    const n = Math.min(writer.p.length, writer.max, room);
    // A copy: the caller may reuse its buffer once the write resolves.
    this.#chunks.push(writer.p.slice(0, n));
    this.#queued += n;
    writer.resolve(n);
  }
}

/** Checks a size option: a positive integer or `Infinity`. */
function size(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (!(value >= 1) || (!Number.isInteger(value) && value !== Infinity)) {
    throw new RangeError(
      `${name} must be a positive integer or Infinity: ${value}`,
    );
  }
  return value;
}

/**
 * One end of an in-memory connection, made by {@linkcode memoryConnPair}.
 * It passes for a {@linkcode Deno.TcpConn} and holds no resource, so the op
 * and resource sanitizers of `deno test` see nothing; closing both ends
 * settles every call still waiting.
 *
 * @example Backpressure
 * ```ts ignore
 * import { memoryConnPair } from "./_memory_conn.ts";
 * import assert from "node:assert/strict";
 *
 * const [client, server] = memoryConnPair({ highWaterMark: 4 });
 * assert.equal(await client.write(new Uint8Array(10)), 4); // partial
 * const waiting = client.write(new Uint8Array(6)); // no room: waits
 * await server.read(new Uint8Array(3));
 * assert.equal(await waiting, 3);
 * client.close();
 * server.close();
 * ```
 */
export class MemoryConn implements Deno.TcpConn {
  #in: Pipe;
  #out: Pipe;
  readonly #maxReadSize: number;
  readonly #maxWriteSize: number;
  readonly #localAddr: Deno.NetAddr;
  readonly #remoteAddr: Deno.NetAddr;
  #closed = false;
  #paired = false;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /**
   * Makes the client end, or with `peer` the server end connected to that
   * client end (once). Prefer {@linkcode memoryConnPair}, which does both.
   *
   * @param options Sizes and addresses; each end applies its own.
   * @param peer The client end to connect to.
   */
  constructor(options: MemoryConnOptions = {}, peer?: MemoryConn) {
    const highWaterMark = size(
      "highWaterMark",
      options.highWaterMark,
      DEFAULT_HIGH_WATER_MARK,
    );
    this.#maxReadSize = size("maxReadSize", options.maxReadSize, Infinity);
    this.#maxWriteSize = size("maxWriteSize", options.maxWriteSize, Infinity);
    // Copies, so that the caller's objects stay the caller's.
    const clientAddr = { ...(options.clientAddr ?? DEFAULT_CLIENT_ADDR) };
    const serverAddr = { ...(options.serverAddr ?? DEFAULT_SERVER_ADDR) };
    if (peer === undefined) {
      this.#in = new Pipe(highWaterMark);
      // The server end sets its own buffer size when it connects.
      this.#out = new Pipe(DEFAULT_HIGH_WATER_MARK);
      this.#localAddr = clientAddr;
      this.#remoteAddr = serverAddr;
    } else {
      if (peer.#paired) throw new TypeError("The peer is already connected");
      peer.#paired = this.#paired = true;
      this.#in = peer.#out;
      this.#in.highWaterMark = highWaterMark;
      this.#out = peer.#in;
      this.#localAddr = serverAddr;
      this.#remoteAddr = clientAddr;
    }
  }

  /** The address of this end. */
  get localAddr(): Deno.NetAddr {
    return this.#localAddr;
  }

  /** The address of the other end. */
  get remoteAddr(): Deno.NetAddr {
    return this.#remoteAddr;
  }

  /**
   * Reads into `p`: resolves with the count read (at most `p.length` and
   * `maxReadSize`), waiting while nothing is queued, or `null` at EOF.
   * Rejects `BadResource` once closed, `Interrupted` if closed while
   * waiting, `ConnectionReset` once the peer reset.
   *
   * @param p The buffer to read into.
   * @returns The count read, or `null` at EOF.
   */
  read(p: Uint8Array): Promise<number | null> {
    // Deno answers an empty read at once, even on a closed conn.
    if (p.length === 0) return Promise.resolve(0);
    if (this.#closed) return Promise.reject(badResource());
    return this.#in.read(p, this.#maxReadSize);
  }

  /**
   * Writes from `p`: resolves with the count accepted (at most `maxWriteSize`
   * and the room left in the peer's buffer), waiting while there is none.
   * The bytes are copied. Rejects `BadResource` once closed, `Interrupted` if
   * closed while waiting, `BrokenPipe` after `closeWrite()` or once the peer
   * closed, `ConnectionReset` once the peer reset.
   *
   * @param p The bytes to write.
   * @returns The count accepted.
   */
  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(badResource());
    return this.#out.write(p, this.#maxWriteSize);
  }

  /**
   * Resolves the next time a read of this end waits with nothing to read
   * (at once if one waits now): the reader has taken everything sent to it.
   *
   * @returns A promise that never rejects.
   */
  whenReadWaits(): Promise<void> {
    return this.#in.whenStarved();
  }

  /** Whether a read of this end waits with nothing to read. */
  get readWaiting(): boolean {
    return this.#in.starved;
  }

  /**
   * Shuts down the write side: the peer reads EOF after what was written,
   * and this end can still read. As in Deno, it waits for writes still
   * pending; calling it again is no error.
   */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(badResource());
    return this.#out.shutdown();
  }

  /**
   * Closes this end: its waiting calls reject `Interrupted`, later ones
   * `BadResource`; the peer reads EOF after the queued bytes and its writes
   * reject `BrokenPipe`. Throws `BadResource` if already closed, as Deno.
   */
  close(): void {
    if (this.#closed) throw badResource();
    this.#closed = true;
    this.#in.failReaders(interrupted);
    this.#out.failWriters(interrupted);
    this.#out.end();
    this.#in.abandon();
  }

  /**
   * Closes this end abortively (a TCP RST, as `SO_LINGER` 0): as
   * {@linkcode MemoryConn.close} here, while the peer's reads and writes,
   * waiting and later, reject `ConnectionReset` and queued bytes are dropped.
   * Throws `BadResource` if already closed.
   */
  reset(): void {
    if (this.#closed) throw badResource();
    this.#closed = true;
    // This end's own calls first, so that they see Interrupted, not a reset.
    this.#in.failReaders(interrupted);
    this.#out.failWriters(interrupted);
    this.#in.reset();
    this.#out.reset();
  }

  /** Closes this end unless it is closed already (as `using` does in Deno). */
  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }

  /** A no-op: there is no event loop resource to hold. */
  ref(): void {}

  /** A no-op: there is no event loop resource to release. */
  unref(): void {}

  /**
   * A no-op that throws `BadResource` once closed, as Deno's.
   *
   * @param _noDelay Ignored.
   */
  setNoDelay(_noDelay?: boolean): void {
    if (this.#closed) throw badResource();
  }

  /**
   * A no-op that throws `BadResource` once closed, as Deno's.
   *
   * @param _keepAlive Ignored.
   */
  setKeepAlive(_keepAlive?: boolean): void {
    if (this.#closed) throw badResource();
  }

  /**
   * The bytes received, as a byte stream read 64 KiB at a time. As Deno's,
   * it closes the connection when it ends, fails or is cancelled.
   */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.#readable ??= new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: STREAM_CHUNK_SIZE,
      pull: async (controller) => {
        // autoAllocateChunkSize makes a request for every pull.
        const request = controller.byobRequest!;
        const view = request.view!;
        try {
          const n = await this.read(
            new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
          );
          if (n === null) {
            this.#tryClose();
            controller.close();
            request.respond(0); // releases a BYOB reader's pending read
          } else {
            request.respond(n);
          }
        } catch (error) {
          controller.error(error);
          this.#tryClose();
        }
      },
      cancel: () => this.#tryClose(),
    });
  }

  /**
   * A sink for bytes to send; each chunk is written whole. As Deno's,
   * closing or aborting it closes the whole connection (not `closeWrite`),
   * and so does a failed write.
   */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream({
      write: async (chunk, controller) => {
        try {
          let n = 0;
          while (n < chunk.length) n += await this.write(chunk.subarray(n));
        } catch (error) {
          controller.error(error);
          this.#tryClose();
          // Deno's conn.writable rejects the write too (a plain sink that
          // only errors the controller would resolve it).
          throw error;
        }
      },
      close: () => this.#tryClose(),
      abort: () => this.#tryClose(),
    });
  }

  #tryClose(): void {
    if (!this.#closed) this.close();
  }
}

/**
 * Makes two connected in-memory ends: what one writes the other reads.
 *
 * @example Half-close
 * ```ts ignore
 * import { memoryConnPair } from "./_memory_conn.ts";
 * import assert from "node:assert/strict";
 *
 * const [client, server] = memoryConnPair();
 * await client.closeWrite();
 * assert.equal(await server.read(new Uint8Array(1)), null);
 * await server.write(new Uint8Array([1])); // the other way still works
 * assert.equal(await client.read(new Uint8Array(1)), 1);
 * client.close();
 * server.close();
 * ```
 *
 * @param options Sizes and addresses, for both ends.
 * @returns The client end and the server end.
 */
export function memoryConnPair(
  options: MemoryConnOptions = {},
): [client: MemoryConn, server: MemoryConn] {
  const client = new MemoryConn(options);
  return [client, new MemoryConn(options, client)];
}
