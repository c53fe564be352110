// Copyright 2026 the basehttp authors. MIT license.
// Paths the static handler resolved and found servable, kept while the file
// system reports no change, so that a request for a known file makes no
// realpath(3) or lstat(2) (those two were half of a small file's cost).
//
// Every directory from the root down to a kept path is watched (inotify on
// Linux, through Deno.watchFs, in a worker: _watch_worker.ts says why); any
// event forgets every kept path. A path is kept only once each of those
// directories was reported watched before it was resolved, so no change
// after the resolution goes unseen. Events take milliseconds to arrive, and
// Deno drops some (for a path that now resolves outside what it watches, and
// every one once a FIFO has held its watcher thread), so no resolution is
// used for longer than MAX_AGE_MS either without being confirmed (resolved
// again and found the same). Either way what a kept path gives is a file
// once found servable, for a moment longer: never one that was not.

import { isInside, joinPath, SEP } from "./_path.ts";
import {
  startWatchWorker,
  type WatchReport,
  type WatchRequest,
} from "./_watch_worker.ts";

/** No resolution is used for longer than this, events or not. */
export const MAX_AGE_MS = 1000;
/** Most paths kept. */
const MAX_PATHS = 4096;
/**
 * Most watches one worker is asked for. Deno keeps a closed watcher's
 * registration for the life of its worker (and looks at each on every
 * event), so past this a new worker takes over.
 */
const MAX_WATCHES = 4096;

interface Kept<T> {
  value: T;
  at: number;
}

/** The key, on the server object, of its {@linkcode WatchedPaths}. */
export const WATCHED_PATHS: unique symbol = Symbol("basehttp.watchedPaths");

/**
 * Whether the resolution kept for `path` still holds: what resolving it again
 * would find. It keeps the value in use for another MAX_AGE_MS, its memos
 * (an ETag, say) with it, rather than a new one made and kept.
 */
type Confirm<T> = (path: string, value: T) => boolean;

/**
 * Resolutions of real paths inside one root, kept while nothing changes. The
 * root is a directory's real path: it moves when the directory's path comes
 * to name another (a symlink switched to the next release).
 */
export class WatchedPaths<T> implements Disposable {
  #directory: string;
  #root: string;
  #confirm: Confirm<T>;
  #kept = new Map<string, Kept<T>>();
  // Directories reported watched (true), asked for (the request's id), or
  // refused (false: not asked again until an event names them).
  #watched = new Map<string, boolean | number>();
  #watches = 0;
  #worker: Worker | null = null;
  #closed = false;
  // The root's real path, device and inode, checked once per MAX_AGE_MS: a
  // directory above it renamed and made again, or a symlink on its path
  // switched, changes them and names no watched directory.
  #rootId: string | null;
  #rootCheckedAt = performance.now();

  /**
   * @param directory The directory served, as given (it may be a symlink).
   * @param root Its real path, as the caller found it.
   * @param confirm Says whether a resolution past MAX_AGE_MS still holds.
   */
  constructor(directory: string, root: string, confirm: Confirm<T>) {
    this.#directory = directory;
    this.#root = root;
    this.#confirm = confirm;
    this.#rootId = idOf(root);
  }

  /** The real path of the root, as last checked. */
  get root(): string {
    return this.#root;
  }

  /**
   * Checks the root now if its check is due: for a caller that found
   * another real path for the directory.
   */
  checkRoot(): void {
    const now = performance.now();
    if (now - this.#rootCheckedAt >= MAX_AGE_MS) this.#checkRoot(now);
  }

  /** How many paths are kept. */
  get size(): number {
    return this.#kept.size;
  }

  /**
   * The value kept for `path`, if nothing changed since it was resolved (or
   * confirmed, past MAX_AGE_MS).
   */
  get(path: string): T | undefined {
    const now = performance.now(); // not the wall clock, which can step back
    // First: a root made again forgets what was kept, this path's too.
    if (now - this.#rootCheckedAt >= MAX_AGE_MS) this.#checkRoot(now);
    const kept = this.#kept.get(path);
    if (kept === undefined) return undefined;
    if (now - kept.at < MAX_AGE_MS) return kept.value;
    if (this.#confirm(path, kept.value)) {
      kept.at = now;
      return kept.value;
    }
    this.#kept.delete(path);
    return undefined;
  }

  /**
   * Keeps `value`, just resolved for `key`, if its real path `real` is
   * inside the root and every directory above it was watched already;
   * watches those that were not, for the next resolution.
   */
  set(key: string, real: string, value: T): void {
    const root = this.#root;
    if (
      this.#closed || this.#rootId === null || real === root ||
      !isInside(real, root)
    ) {
      return;
    }
    const below = real.slice(root.length).split(SEP).filter(Boolean);
    let watched = true;
    let dir = root;
    for (const name of below.slice(0, -1)) {
      watched = this.#watch(dir) && watched;
      dir = joinPath(dir, name);
    }
    if (!this.#watch(dir) || !watched) return;
    if (this.#kept.size >= MAX_PATHS) {
      this.#kept.delete(this.#kept.keys().next().value!);
    }
    this.#kept.delete(key);
    this.#kept.set(key, { value, at: performance.now() });
  }

  /** Forgets every path: for a change seen before its event. */
  clear(): void {
    this.#kept.clear();
  }

  /** Stops watching and forgets every path. */
  close(): void {
    this.#closed = true;
    this.#kept.clear();
    this.#watched.clear();
    this.#worker?.terminate();
    this.#worker = null;
  }

  /** The same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Whether `dir` is reported watched; asks for it if it was not asked. */
  #watch(dir: string): boolean {
    const watched = this.#watched.get(dir);
    if (watched !== undefined) return watched === true;
    if (this.#watches >= MAX_WATCHES) this.#restart();
    const id = ++this.#watches;
    this.#watched.set(dir, id);
    this.#send({ watch: dir, id });
    return false;
  }

  #send(request: WatchRequest): void {
    if (this.#closed) return;
    if (this.#worker === null) {
      let worker: Worker;
      try {
        worker = this.#worker = startWatchWorker();
      } catch {
        return this.close(); // no workers here: resolve every time
      }
      worker.onmessage = (event: MessageEvent<WatchReport>) =>
        this.#receive(event.data);
      worker.onerror = worker.onmessageerror = (event: Event) => {
        event.preventDefault();
        this.close(); // nothing is watched now: resolve every time
      };
    }
    this.#worker.postMessage(request);
  }

  #receive(report: WatchReport): void {
    if (this.#closed) return;
    if ("watched" in report || "refused" in report) {
      const dir = "watched" in report ? report.watched : report.refused;
      // Only the latest request's: an event may have named it since.
      if (this.#watched.get(dir) === report.id) {
        this.#watched.set(dir, "watched" in report);
      }
      return;
    }
    this.#kept.clear();
    for (const path of report.changed) this.#unwatch(path);
  }

  /** Starts over with a new worker: nothing is watched or kept till then. */
  #restart(): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.#watches = 0;
    this.#watched.clear();
    this.#kept.clear();
  }

  #checkRoot(now: number): void {
    this.#rootCheckedAt = now;
    const root = realPathOf(this.#directory) ?? this.#root;
    const id = idOf(root);
    if (root === this.#root && id === this.#rootId) return;
    this.#root = root;
    this.#rootId = id;
    this.#restart(); // the old watches follow the old directories
  }

  /**
   * Stops watching a directory that an event names, and those below it: it
   * may be gone or moved, and a watch follows the directory, not its name.
   */
  #unwatch(path: string): void {
    for (const dir of this.#watched.keys()) {
      if (isInside(dir, path)) {
        this.#watched.delete(dir);
        this.#send({ unwatch: dir });
      }
    }
  }
}

/** The real path of `path`, or `null` when it cannot be found. */
function realPathOf(path: string): string | null {
  try {
    return Deno.realPathSync(path);
  } catch {
    return null;
  }
}

/** A directory's device and inode, or `null` when it cannot be found. */
function idOf(path: string): string | null {
  try {
    const { dev, ino } = Deno.statSync(path);
    return `${dev}:${ino}`;
  } catch {
    return null;
  }
}
