// Copyright 2026 the basehttp authors. MIT license.
// The files the static handler sends: opened without waiting and checked to
// be the file that was resolved, or a small file's bytes from the server's
// cache, read alike.

import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  read,
  readSync,
} from "node:fs";

/**
 * What `SimpleHTTPRequestHandler.copyfile` reads from. A `Deno.FsFile` is
 * one; the handler's own files are opened with `node:fs`, because
 * `Deno.openSync` cannot open without blocking, or are the bytes of a small
 * file held by the server's cache (see `SimpleHTTPRequestHandler.fileCache`).
 */
export interface FileSource {
  /** Reads into `p`: the byte count, or `null` at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Reads into `p` at once: the byte count, or `null` at the end. */
  readSync(p: Uint8Array): number | null;
  /** Closes the file. */
  close(): void;
}

/** The file and the byte span that `SimpleHTTPRequestHandler.sendHead` leaves to send. */
export interface FileBody {
  /** The open file, positioned at the first byte to send. */
  file: FileSource;
  /** How many bytes to send from there (all of it, when compressing). */
  length: number;
  /**
   * The content coding to compress the file with while it is sent (see
   * `SimpleHTTPRequestHandler.compress`); absent to send the bytes as
   * stored.
   */
  coding?: "br" | "gzip";
}

// Opening never waits: O_NONBLOCK, or a FIFO renamed in would hold the event
// loop in open(2). A real path has no symlinks, so one met now is a swap.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK |
  constants.O_NOFOLLOW;

/** Whether `error` says no file descriptor is left, to the process or all. */
export function outOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/** Whether two stats are of one file. */
function sameFile(
  a: { dev: number; ino: number | null },
  b: { dev: number; ino: number | null },
): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/**
 * Whether an open file's fstat shows the file as `info` found it: the
 * response's head (length, ETag, Last-Modified) is made from `info`.
 */
function sameVersion(
  stats: {
    dev: number;
    ino: number;
    size: number;
    mtimeMs: number;
    ctimeMs: number;
  },
  info: Deno.FileInfo,
): boolean {
  return sameFile(stats, info) && stats.size === info.size &&
    (info.mtime === null || stats.mtimeMs === info.mtime.getTime()) &&
    (info.ctime === null || stats.ctimeMs === info.ctime.getTime());
}

/** A file opened with `node:fs`, read from `position` on (pread). */
export class NodeFile implements FileSource {
  readonly fd: number;
  position = 0;

  constructor(fd: number) {
    this.fd = fd;
  }

  readSync(p: Uint8Array): number | null {
    const n = readSync(this.fd, p, 0, p.length, this.position);
    this.position += n;
    return n === 0 ? null : n;
  }

  read(p: Uint8Array): Promise<number | null> {
    return new Promise((resolve, reject) => {
      read(this.fd, p, 0, p.length, this.position, (error, n) => {
        if (error !== null) return reject(error);
        this.position += n;
        resolve(n === 0 ? null : n);
      });
    });
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A small file's bytes, held by the server's cache, read like a file. */
export class MemoryFile implements FileSource {
  readonly bytes: Uint8Array;
  position = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  readSync(p: Uint8Array): number | null {
    const n = Math.min(p.length, this.bytes.length - this.position);
    if (n <= 0) return null;
    p.set(this.bytes.subarray(this.position, this.position + n));
    this.position += n;
    return n;
  }

  read(p: Uint8Array): Promise<number | null> {
    return Promise.resolve(this.readSync(p));
  }

  close(): void {}
}

/** An opened file to send: from disk, or its bytes from the cache. */
export type Opened = NodeFile | MemoryFile;

/**
 * Opens a resolved file without waiting, if it is still that file; `null`
 * when it is not (gone, unreadable, swapped). A rename just before the open
 * can put a FIFO there, whose open(2) would wait for a writer and hold the
 * event loop (hence O_NONBLOCK, and the probe: a FIFO cannot be read at an
 * offset), or a symlink in place of the file (O_NOFOLLOW) or of a directory
 * on its path (hence the checks after the open: the descriptor's device and
 * inode must be those resolved). Deno lets only `--allow-all` read
 * `/proc/self/fd`, and has no openat, so a swap timed between the checks
 * themselves is not ruled out.
 *
 * @throws When no file descriptor is left: that is the server's state, not
 *   the file's, and a 404 would say it is gone.
 */
export function openResolved(real: string, info: Deno.FileInfo): number | null {
  let fd: number;
  try {
    fd = openSync(real, OPEN_FLAGS);
  } catch (error) {
    if (outOfDescriptors(error)) throw error;
    return null; // gone, unreadable, or a symlink swapped in
  }
  try {
    // The file opened must be the one resolved inside the root: a
    // directory on the path swapped for a symlink between the checks and
    // the open leads elsewhere, which only the descriptor can tell. And
    // the path must resolve inside before and after that same file is
    // found there again: a swap has to land between each pair of checks.
    if (
      sameVersion(fstatSync(fd), info) && Deno.realPathSync(real) === real &&
      sameFile(Deno.lstatSync(real), info) &&
      Deno.realPathSync(real) === real
    ) {
      readSync(fd, new Uint8Array(1), 0, 1, 0); // ESPIPE for a FIFO
      return fd;
    }
  } catch {
    // gone, or not a regular file
  }
  closeSync(fd);
  return null;
}

/**
 * The whole of an open file of `size` bytes, or `null` when it ends short
 * (it shrank since its lstat).
 */
export function readWhole(file: NodeFile, size: number): Uint8Array | null {
  const bytes = new Uint8Array(size);
  let n = 0;
  while (n < size) {
    const got = readSync(file.fd, bytes, n, size - n, n);
    if (got === 0) return null;
    n += got;
  }
  return bytes;
}
