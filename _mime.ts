// Copyright 2026 the basehttp authors. MIT license.
// Content types of file names, for the static handler: mime-db's, ranked
// where several types claim one extension, and Python's own exceptions.

import mimeDb from "npm:mime-db@^1.54.0";
import { SEP } from "./_path.ts";

/** One entry of the `mime-db` package. */
interface MimeEntry {
  source?: string;
  charset?: string;
  extensions?: string[];
}

/** Ranks a type for an extension that several types claim; higher wins. */
function mimeRank(type: string, entry: MimeEntry): number[] {
  // application/xml, not its alias text/xml (RFC 7303 §9.2): a charset
  // given for text would override the file's own encoding declaration.
  if (type === "text/xml") return [-1];
  const [top, sub] = type.split("/");
  // A registered tree beats vendor trees, which beat x- and personal ones.
  const facet = /^(x-|x\.)/.test(sub)
    ? 1
    : sub.startsWith("prs.")
    ? 0
    : sub.startsWith("vnd.")
    ? 2
    : 3;
  const source = ["nginx", "apache", undefined, "iana"].indexOf(entry.source);
  // video/mp4 over application/mp4.
  const kind = top === "application" ? 0 : 1;
  return [facet, source, kind, -type.length];
}

function outranks(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}

const SOURCE_AS_TEXT = (
  "py pyi go rs rb sh bash zsh fish tsx cts kt kts swift scala hs cs " +
  "ex exs erl clj dart zig nim ml r vue svelte hpp toml diff patch"
).split(" ");

/** Extension (lower case, no dot) → Content-Type, built once from mime-db. */
const MIME_TYPES: ReadonlyMap<string, string> = (() => {
  const best = new Map<string, { type: string; rank: number[] }>();
  const db = mimeDb as Record<string, MimeEntry>;
  for (const [type, entry] of Object.entries(db)) {
    if (type === "application/octet-stream") continue; // that is the fallback
    const rank = mimeRank(type, entry);
    for (const ext of entry.extensions ?? []) {
      const held = best.get(ext);
      if (held === undefined || outranks(rank, held.rank)) {
        best.set(ext, { type, rank });
      }
    }
  }
  const types = new Map<string, string>();
  for (const [ext, { type }] of best) {
    const utf8 = type.startsWith("text/") || type.endsWith("+json") ||
      db[type]?.charset?.toUpperCase() === "UTF-8";
    types.set(ext, utf8 ? `${type}; charset=utf-8` : type);
  }
  // Source code that mime-db types as a download (or as another format:
  // .rs is an RLS XML type there) is shown as text, as by Python's
  // mimetypes on Debian. Not .ts or .mts: MPEG transport streams (HLS).
  for (const ext of SOURCE_AS_TEXT) types.set(ext, "text/plain; charset=utf-8");
  types.set("cjs", "text/javascript; charset=utf-8"); // CommonJS: JavaScript
  return types;
})();

/** Python's `extensions_map`: the types its `mimetypes` gets wrong. */
export const PYTHON_EXTENSIONS_MAP: Readonly<Record<string, string>> = Object
  .freeze({
    ".gz": "application/gzip",
    ".Z": "application/octet-stream",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
  });

/**
 * The Content-Type of a file name by its extension: `extensions` first (as
 * given, then in lower case), then mime-db's; `application/octet-stream`
 * when unknown.
 */
export function typeOfName(
  path: string,
  extensions: Readonly<Record<string, string>>,
): string {
  const base = path.slice(
    Math.max(path.lastIndexOf("/"), path.lastIndexOf(SEP)) + 1,
  );
  const dot = base.lastIndexOf(".");
  // Like Python's splitext: ".bashrc" has no extension.
  if (dot <= 0 || base.slice(0, dot).replace(/\./g, "") === "") {
    return "application/octet-stream";
  }
  const ext = base.slice(dot);
  const mapped = extensions[ext] ?? extensions[ext.toLowerCase()];
  if (mapped !== undefined) return mapped;
  return MIME_TYPES.get(ext.slice(1).toLowerCase()) ??
    "application/octet-stream";
}
