// Copyright 2026 the basehttp authors. MIT license.
// The single byte range of a GET, as the static handler answers it.

import { parseHTTPDate } from "./_conditional.ts";

/**
 * The byte range a request asks for of a representation (RFC 9110 §14),
 * when it applies. Multiple ranges, other units and bad syntax get the
 * whole representation, as does an `If-Range` that does not match.
 *
 * @param headers The request's header fields (`Range`, `If-Range`).
 * @param size The representation's length.
 * @param etag Its entity-tag, compared strongly.
 * @param mtime Its Last-Modified, in seconds since the epoch.
 * @returns `[first, last]`, `"unsatisfiable"`, or `null` for the whole.
 */
export function byteRange(
  headers: { getAll(name: string): string[] },
  size: number,
  etag: string,
  mtime: number,
): [number, number] | "unsatisfiable" | null {
  if (size === 0) return null;
  const ranges = headers.getAll("range");
  if (ranges.length !== 1) return null;
  const ifRanges = headers.getAll("if-range");
  if (ifRanges.length > 0) {
    // One validator (RFC 9110 §13.1.5): two lines are not one.
    if (ifRanges.length !== 1) return null;
    const ifRange = ifRanges[0].trim();
    if (ifRange.startsWith('"') || ifRange.startsWith("W/")) {
      if (ifRange !== etag) return null; // strong comparison
    } else if (
      parseHTTPDate(ifRange) !== mtime ||
      // Weak, from a file changed within the Date's second: another change
      // in that second would have the same (RFC 9110 §8.8.2.2).
      Math.floor(Date.now() / 1000) - mtime < 1
    ) return null;
  }
  const match = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i.exec(ranges[0].trim());
  if (match === null || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const first = Number(match[1]);
  const last = match[2] === "" ? Infinity : Number(match[2]);
  if (last < first) return null; // invalid, so ignored
  if (first >= size) return "unsatisfiable";
  return [first, Math.min(last, size - 1)];
}
