// Copyright 2026 the basehttp authors. MIT license.
// Path helpers shared by the static and CGI handlers (not a public entry).

/** Whether paths use Windows rules. */
export const WINDOWS: boolean = Deno.build.os === "windows";
/** The file system's path separator. */
export const SEP: string = WINDOWS ? "\\" : "/";
/** The scheme and authority of an absolute-form request-target. */
export const ABSOLUTE_FORM: RegExp = /^[A-Za-z][A-Za-z0-9+.\-]*:\/\/[^/?#]*/;

/** Whether `path` is absolute. */
export function isAbsolutePath(path: string): boolean {
  return WINDOWS ? /^([A-Za-z]:)?[\\/]/.test(path) : path.startsWith("/");
}

/** `path` made absolute, without `.` segments or trailing separators. */
export function absolutePath(path: string): string {
  const full = isAbsolutePath(path) ? path : `${Deno.cwd()}${SEP}${path}`;
  const trimmed = full.replace(/[\\/]\.(?=[\\/]|$)/g, "")
    .replace(/[\\/]+$/, "");
  return trimmed === "" || /^[A-Za-z]:$/.test(trimmed)
    ? trimmed + SEP
    : trimmed;
}

/** Percent-decodes a URL path as UTF-8; `null` for a bad escape. */
export function decodePath(path: string): string | null {
  try {
    return decodeURIComponent(path);
  } catch {
    return null; // bad %-escape or not UTF-8
  }
}

/** Whether the resolved `path` is `dir` or lies below it. */
export function isInside(path: string, dir: string): boolean {
  return path === dir ||
    path.startsWith(dir.endsWith(SEP) ? dir : dir + SEP);
}

/** `name` in `dir`. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") || dir.endsWith(SEP)
    ? dir + name
    : `${dir}${SEP}${name}`;
}

/**
 * The key of a handler method that says a real path is never served as a
 * file: the CGI handler keeps its scripts' source this way.
 */
export const NOT_SERVED: unique symbol = Symbol("basehttp.notServed");

/**
 * The key of a handler method that answers 503 with `Retry-After`: the
 * static and CGI handlers' answer when the server runs out of something
 * (descriptors, script slots) that a later request may find.
 */
export const SEND_BUSY: unique symbol = Symbol("basehttp.sendBusy");
