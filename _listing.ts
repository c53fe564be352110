// Copyright 2026 the basehttp authors. MIT license.
// Directory listings: the HTML page for people, JSON for programs, and the
// `?sort=name|size|mtime&order=asc|desc` order both follow.

import { htmlEscape } from "./handler.ts";
import { uploadFormHtml } from "./_upload.ts";

const encoder = new TextEncoder();

/** One listed name, as it would be served. */
export interface ListingEntry {
  name: string;
  isDirectory: boolean;
  isSymlink: boolean;
  /** Bytes; `null` for a directory. */
  size: number | null;
  mtime: Date | null;
}

const SORT_KEYS = ["name", "size", "mtime"] as const;

/** How a listing is ordered. */
interface ListingOrder {
  sort: typeof SORT_KEYS[number];
  descending: boolean;
}

/**
 * The order a query asks for; by name, ascending, unless it names another.
 *
 * @param query The request-target's query, without `?`.
 */
export function listingOrder(query: string): ListingOrder {
  const params = new URLSearchParams(query);
  const sort = SORT_KEYS.find((key) => key === params.get("sort")) ?? "name";
  return { sort, descending: params.get("order") === "desc" };
}

/** Case-insensitive, then by code unit, as Python's listing sorts. */
function byName(a: ListingEntry, b: ListingEntry): number {
  const x = a.name.toLowerCase(), y = b.name.toLowerCase();
  return x < y
    ? -1
    : x > y
    ? 1
    : a.name < b.name
    ? -1
    : a.name > b.name
    ? 1
    : 0;
}

/** Sorts in place; ties on size or time go by name. */
export function sortListing(
  entries: ListingEntry[],
  order: ListingOrder,
): void {
  const sign = order.descending ? -1 : 1;
  const key = (entry: ListingEntry): number =>
    order.sort === "size" ? entry.size ?? -1 : entry.mtime?.getTime() ?? 0;
  entries.sort((a, b) =>
    order.sort === "name"
      ? sign * byName(a, b)
      : sign * (key(a) - key(b)) || byName(a, b)
  );
}

/** `[{name, type, size, mtime}]`, mtime in ISO 8601, size `null` for a directory. */
export function listingJSON(entries: readonly ListingEntry[]): Uint8Array {
  return encoder.encode(JSON.stringify(entries.map((entry) => ({
    name: entry.name,
    type: entry.isDirectory ? "directory" : "file",
    size: entry.size,
    mtime: entry.mtime?.toISOString() ?? null,
  }))));
}

/** Sizes for people: `512 B`, `1.5 KiB`, `32.0 MiB`. */
function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let size = bytes / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  return `${size.toFixed(1)} ${units[unit]}`;
}

/** Escapes text for HTML content and double-quoted attributes. */
function escapeAttribute(text: string): string {
  return htmlEscape(text).replaceAll('"', "&quot;");
}

const STYLE = `:root { color-scheme: light dark; }
body { font-family: system-ui, sans-serif; margin: 1em; line-height: 1.4; }
h1 { font-size: 1.25em; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 0.25em 0.75em 0.25em 0; text-align: left; vertical-align: top; }
th a { color: inherit; }
td:first-child { overflow-wrap: anywhere; }
.size, .modified { white-space: nowrap; }
.size { text-align: right; font-variant-numeric: tabular-nums; }
@media (max-width: 32em) { .modified { display: none; } }`;

/** A column header that links to its sort, the other way if it is current. */
function columnHeader(
  label: string,
  key: ListingOrder["sort"],
  className: string,
  order: ListingOrder,
): string {
  const current = order.sort === key;
  const next = current && !order.descending ? "desc" : "asc";
  const attributes = (className === "" ? "" : ` class="${className}"`) +
    (current
      ? ` aria-sort="${order.descending ? "descending" : "ascending"}"`
      : "");
  return `<th${attributes}><a href="?sort=${key}&amp;order=${next}">${label}</a></th>`;
}

/**
 * Python's listing page, readable on a phone and in dark mode.
 *
 * @param location The decoded URL path, for the title.
 * @param entries The sorted entries.
 * @param order Their order, for the column headers.
 * @param parent Whether to link the parent directory.
 * @param upload Whether to show the upload form.
 * @param base The page's `<base href>`, for a URL that does not end in `/`.
 */
export function listingHTML(
  location: string,
  entries: readonly ListingEntry[],
  order: ListingOrder,
  parent: boolean,
  upload = false,
  base?: string,
): Uint8Array {
  const title = escapeAttribute(`Directory listing for ${location}`);
  const lines = [
    "<!DOCTYPE HTML>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // Else the browser asks for /favicon.ico after each listing: a 404.
    '<link rel="icon" href="data:,">',
    ...(base === undefined ? [] : [`<base href="${escapeAttribute(base)}">`]),
    `<style type="text/css">\n${STYLE}\n</style>`,
    `<title>${title}</title>`,
    "</head>",
    "<body>",
    `<h1>${title}</h1>`,
    ...(upload ? [uploadFormHtml()] : []),
    "<hr>",
    "<table>",
    "<thead><tr>" + columnHeader("Name", "name", "", order) +
    columnHeader("Size", "size", "size", order) +
    columnHeader("Modified (UTC)", "mtime", "modified", order) +
    "</tr></thead>",
    "<tbody>",
  ];
  if (parent) {
    lines.push('<tr><td><a href="../">../</a></td><td></td><td></td></tr>');
  }
  for (const entry of entries) {
    const href = encodeURIComponent(entry.name) +
      (entry.isDirectory ? "/" : "");
    // Python's marks: "dir/", and "link@" for a symlink of either kind.
    const text = entry.name +
      (entry.isSymlink ? "@" : entry.isDirectory ? "/" : "");
    const size = entry.size === null
      ? "-"
      : `<span title="${entry.size} ${entry.size === 1 ? "byte" : "bytes"}">${
        formatSize(entry.size)
      }</span>`;
    const iso = entry.mtime?.toISOString() ?? "";
    const when = iso === ""
      ? ""
      : `<time datetime="${iso}">${iso.slice(0, 10)} ${
        iso.slice(11, 19)
      }</time>`;
    lines.push(
      `<tr><td><a href="${escapeAttribute(href)}">${
        escapeAttribute(text)
      }</a></td><td class="size">${size}</td><td class="modified">${when}</td></tr>`,
    );
  }
  lines.push("</tbody>", "</table>", "<hr>", "</body>", "</html>", "");
  return encoder.encode(lines.join("\n"));
}
