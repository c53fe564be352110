// Copyright 2026 the basehttp authors. MIT license.
// What the static handler made of request-targets and file names, for one
// server: translatePath and guessType are pure functions of their string
// and of the handler's settings, and recomputing them (decoding, splitting,
// regex checks, strings made) was a tenth of a small file's CPU. No file
// system fact is kept here, so nothing in it can go stale.

/** Most entries each table holds; a full table starts again empty. */
const MAX_ENTRIES = 1024;
/**
 * The longest key kept: a request-target may be 64 KiB, and 1,024 of them
 * would hold 64 MiB for as long as the server runs.
 */
const MAX_KEY_LENGTH = 1024;

/** The key, on the server object, of its {@linkcode PathMemo}. */
export const PATH_MEMO: unique symbol = Symbol("basehttp.pathMemo");

/** Results for handlers with one root and one dotfiles setting. */
export class PathMemo {
  /** The root the translations are under (an absolute path). */
  readonly directory: string;
  /** Whether dotfiles were servable. */
  readonly dotfiles: boolean;
  readonly #paths = new Map<string, string | null>();
  // Types, from one frozen extensions map.
  #extensions: Readonly<Record<string, string>> | null = null;
  readonly #types = new Map<string, string>();

  constructor(directory: string, dotfiles: boolean) {
    this.directory = directory;
    this.dotfiles = dotfiles;
  }

  /** The translation of a request-target; `undefined` when not known. */
  path(target: string): string | null | undefined {
    return this.#paths.get(target);
  }

  /** Keeps the translation of a request-target. */
  keepPath(target: string, path: string | null): void {
    keep(this.#paths, target, path);
  }

  /**
   * The Content-Type of a file name under a frozen `extensions` map;
   * `undefined` when not known.
   */
  type(
    name: string,
    extensions: Readonly<Record<string, string>>,
  ): string | undefined {
    return extensions === this.#extensions ? this.#types.get(name) : undefined;
  }

  /** Keeps the Content-Type of a file name under a frozen `extensions`. */
  keepType(
    name: string,
    extensions: Readonly<Record<string, string>>,
    type: string,
  ): void {
    if (extensions !== this.#extensions) {
      this.#extensions = extensions;
      this.#types.clear();
    }
    keep(this.#types, name, type);
  }
}

function keep<T>(table: Map<string, T>, key: string, value: T): void {
  if (key.length > MAX_KEY_LENGTH) return;
  if (table.size >= MAX_ENTRIES) table.clear();
  table.set(key, value);
}
