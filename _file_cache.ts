// Copyright 2026 the basehttp authors. MIT license.
// The static handler's cache of small files' bytes, one per server. It never
// decides what may be served: the handler resolves the real path and checks
// it as for any request, then asks here for the bytes of the file that its
// lstat describes. An entry is used only while that lstat still shows the
// same file (device, inode, size, mtime, ctime) as when it was read.

/** Bounds of the static handler's file cache. */
export interface FileCacheLimits {
  /** Most files held. */
  maxEntries: number;
  /** Most bytes held, over all files. */
  maxBytes: number;
  /** Largest file held; larger ones are read from disk for each request. */
  maxFileSize: number;
}

/** 1,024 files, 8 MiB, files up to 64 KiB. */
export const DEFAULT_FILE_CACHE: Readonly<FileCacheLimits> = Object.freeze({
  maxEntries: 1024,
  maxBytes: 8 * 1024 * 1024,
  maxFileSize: 64 * 1024,
});

/**
 * A file changed this recently is not held. Deno reports ctime in whole
 * seconds and file systems stamp times from a coarse clock, so a rewrite in
 * the same second could keep every field the entry is checked against; any
 * change made after this long shows in ctime.
 */
const SETTLE_MS = 2000;

/** The key, on the server object, of its {@linkcode FileCache}. */
export const FILE_CACHE: unique symbol = Symbol("basehttp.fileCache");

/** A file's bytes and the lstat they were read under. */
interface Entry {
  dev: number;
  ino: number | null;
  mtime: number;
  ctime: number;
  bytes: Uint8Array;
}

/** A time of a file's lstat in ms; NaN when unknown, equal to none. */
export function timeOf(date: Date | null): number {
  return date?.getTime() ?? NaN;
}

/** Small files' bytes by real path, least recently used first. */
export class FileCache {
  /** The bounds this cache keeps to. */
  readonly limits: Readonly<FileCacheLimits>;
  #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(limits: Readonly<FileCacheLimits>) {
    this.limits = limits;
  }

  /** How many files are held. */
  get size(): number {
    return this.#entries.size;
  }

  /** How many bytes are held, over all files. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * The bytes held for `real` if `info` (its lstat now) shows the file
   * they were read from, else `null` (and a stale entry is dropped).
   */
  get(real: string, info: Deno.FileInfo): Uint8Array | null {
    const entry = this.#entries.get(real);
    if (entry === undefined) return null;
    this.#entries.delete(real);
    if (
      entry.dev !== info.dev || entry.ino !== info.ino ||
      entry.bytes.length !== info.size || entry.mtime !== timeOf(info.mtime) ||
      entry.ctime !== timeOf(info.ctime)
    ) {
      this.#bytes -= entry.bytes.length;
      return null;
    }
    this.#entries.set(real, entry); // now the most recently used
    return entry.bytes;
  }

  /** Whether a file of this lstat would be held once read. */
  admits(info: Deno.FileInfo): boolean {
    const { maxEntries, maxBytes, maxFileSize } = this.limits;
    const changed = Math.max(timeOf(info.mtime), timeOf(info.ctime));
    return info.isFile && maxEntries > 0 &&
      info.size <= Math.min(maxFileSize, maxBytes) &&
      Date.now() - changed >= SETTLE_MS; // false for NaN: no times known
  }

  /** Holds `bytes`, the whole of the file `info` describes, if it admits it. */
  set(real: string, info: Deno.FileInfo, bytes: Uint8Array): void {
    if (!this.admits(info) || bytes.length !== info.size) return;
    const old = this.#entries.get(real);
    if (old !== undefined) this.#bytes -= old.bytes.length;
    this.#entries.delete(real);
    const { maxEntries, maxBytes } = this.limits;
    for (const [key, entry] of this.#entries) {
      if (
        this.#entries.size < maxEntries &&
        this.#bytes + bytes.length <= maxBytes
      ) {
        break;
      }
      this.#entries.delete(key);
      this.#bytes -= entry.bytes.length;
    }
    this.#entries.set(real, {
      dev: info.dev,
      ino: info.ino,
      mtime: timeOf(info.mtime),
      ctime: timeOf(info.ctime),
      bytes,
    });
    this.#bytes += bytes.length;
  }
}
