// Copyright 2026 the basehttp authors. MIT license.
// Conditional requests (RFC 9110 §13), shared by the static handler and
// uploads (not a public entry): HTTP-dates, entity-tags, and the order in
// which preconditions are evaluated.

import { MONTHS } from "./_date.ts";
import type { HTTPMessage } from "./_head.ts";

const WEEKDAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d\\d):(\\d\\d):(\\d\\d)";
const IMF_FIXDATE = new RegExp(
  `^${WEEKDAY}, (\\d\\d) ${MONTH} (\\d{4}) ${TIME} GMT$`,
);
const RFC850_DATE = new RegExp(
  `^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\\d\\d)-${MONTH}-(\\d\\d) ${TIME} GMT$`,
);
const ASCTIME_DATE = new RegExp(
  `^${WEEKDAY} ${MONTH} ( \\d|\\d\\d) ${TIME} (\\d{4})$`,
);

/**
 * Parses an HTTP-date in any of RFC 9110's three forms.
 *
 * @returns Seconds since the epoch, or `null` when it is not a valid date.
 */
export function parseHTTPDate(value: string): number | null {
  let day: string, month: string, year: number, h: string, m: string, s: string;
  let match = IMF_FIXDATE.exec(value);
  if (match !== null) {
    [, day, month, , h, m, s] = match;
    year = Number(match[3]);
  } else if ((match = RFC850_DATE.exec(value)) !== null) {
    [, day, month, , h, m, s] = match;
    // A two-digit year more than 50 years ahead is in the past (§5.6.7).
    const now = new Date().getUTCFullYear();
    year = 2000 + Number(match[3]);
    if (year > now + 50) year -= 100;
  } else if ((match = ASCTIME_DATE.exec(value)) !== null) {
    [, month, day, h, m, s] = match;
    year = Number(match[6]);
  } else {
    return null;
  }
  const d = Number(day), hh = Number(h), mm = Number(m), ss = Number(s);
  if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return null;
  return Date.UTC(year, MONTHS.indexOf(month), d, hh, mm, ss) / 1000;
}

/** The entity-tags of an `If-Match` / `If-None-Match` value, or `["*"]`. */
function parseETags(values: string[]): string[] {
  const value = values.join(",").trim();
  if (value === "*") return ["*"];
  return value.match(/(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/g) ?? [];
}

/** A file's entity-tag: its size, mtime and inode. */
export function etagOf(info: Deno.FileInfo, suffix = ""): string {
  return `"${info.size.toString(16)}-${
    (info.mtime?.getTime() ?? 0).toString(16)
  }${info.ino === null ? "" : "-" + info.ino.toString(16)}${suffix}"`;
}

/** A file's modification time in whole seconds, as HTTP-dates carry it. */
export function mtimeOf(info: Deno.FileInfo): number {
  return Math.floor((info.mtime?.getTime() ?? 0) / 1000);
}

/**
 * The validators of a target's current representation: an entity-tag and a
 * modification time in seconds, either `null` when it has none (a
 * directory listing has neither).
 */
interface Validators {
  /** Its entity-tag, or `null`. */
  etag: string | null;
  /** Its modification time in seconds, or `null`. */
  mtime: number | null;
}

/**
 * The one HTTP-date of a field, in seconds; `null` when absent or not one
 * date. A field on two lines is a list (RFC 9110 §5.3), which the date
 * preconditions ignore (§13.1.3, §13.1.4): its first line alone would not be
 * what was sent.
 */
function fieldDate(headers: HTTPMessage, name: string): number | null {
  const values = headers.getAll(name);
  return values.length === 1 ? parseHTTPDate(values[0].trim()) : null;
}

/**
 * Evaluates a request's preconditions in RFC 9110 §13.2.2's order:
 * If-Match, else If-Unmodified-Since; then If-None-Match, else
 * If-Modified-Since (GET and HEAD only).
 *
 * @param headers The request's header fields.
 * @param method The request method.
 * @param current The validators of the target's current representation,
 * or `null` when it has none (a file to be created): then If-Match fails
 * and If-None-Match holds. A date field is not evaluated without a date.
 * @returns 200 to go on, 304 (GET and HEAD) or 412.
 */
export function preconditions(
  headers: HTTPMessage,
  method: string,
  current: Validators | null,
): 200 | 304 | 412 {
  const etag = current?.etag ?? null;
  const mtime = current?.mtime ?? null;
  if (headers.has("if-match")) {
    const tags = parseETags(headers.getAll("if-match"));
    // Strong comparison: a weak tag never matches.
    const matched = current !== null &&
      (tags.includes("*") ||
        (etag !== null && !etag.startsWith("W/") && tags.includes(etag)));
    if (!matched) return 412;
  } else if (mtime !== null) {
    const since = fieldDate(headers, "if-unmodified-since");
    if (since !== null && mtime > since) return 412;
  }
  const read = method === "GET" || method === "HEAD";
  if (headers.has("if-none-match")) {
    if (current === null) return 200;
    const tags = parseETags(headers.getAll("if-none-match"));
    // Weak comparison: W/"x" matches "x".
    const opaque = etag?.replace(/^W\//, "");
    const matched = tags.some((tag) =>
      tag === "*" || tag.replace(/^W\//, "") === opaque
    );
    if (matched) return read ? 304 : 412;
  } else if (read && mtime !== null) {
    const since = fieldDate(headers, "if-modified-since");
    if (since !== null && mtime <= since) return 304;
  }
  return 200;
}
