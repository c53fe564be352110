// Copyright 2026 the basehttp authors. MIT license.
// Proactive negotiation (RFC 9110 §12.5): the q-values of Accept and
// Accept-Encoding.

import { splitTokens } from "./_text.ts";

// More elements than any client lists: the rest of a longer field is not
// read (a head of 1 MiB of them took 55 ms to weigh).
const MAX_ELEMENTS = 256;

/**
 * The elements of a q-value list, lower-cased, each with its weight; an
 * element with a malformed q-value is dropped (RFC 9110 §12.4.2). Only the
 * first MAX_ELEMENTS count.
 */
function weights(values: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (const element of splitTokens(values, MAX_ELEMENTS)) {
    const [name, ...params] = element.split(";").map((part) => part.trim());
    let q = 1;
    for (const param of params) {
      const match = /^q[ \t]*=[ \t]*(.*)$/.exec(param);
      if (match === null) continue;
      q = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(match[1])
        ? Number(match[1])
        : NaN;
    }
    if (!Number.isNaN(q)) out.push([name, q]);
  }
  return out;
}

/**
 * The content coding to send, of `available` (in the server's order of
 * preference), for the request's `Accept-Encoding` values.
 *
 * @returns A coding of `available`, `"identity"`, or `null` when none is
 * acceptable (406).
 */
export function chooseEncoding(
  values: string[],
  available: readonly string[],
): string | null {
  if (values.length === 0) return "identity"; // no field: do not compress
  const prefs = new Map(weights(values));
  const any = prefs.get("*");
  let best: string | null = null;
  let bestQ = 0;
  for (const coding of available) {
    const q = prefs.get(coding) ??
      (coding === "gzip" ? prefs.get("x-gzip") : undefined) ?? any ?? 0;
    if (q > bestQ) [best, bestQ] = [coding, q];
  }
  // Identity is acceptable unless excluded, but listed only it outranks.
  const identity = prefs.get("identity");
  if (identity !== undefined && identity > bestQ) return "identity";
  if (best !== null) return best;
  return (identity ?? any ?? 1) > 0 ? "identity" : null;
}

/**
 * The weight an `Accept` field gives a media type: the most specific range
 * that matches it (`type/sub`, `type/*`, `*\/*`) decides. No field accepts
 * everything.
 *
 * @param values The request's `Accept` values.
 * @param type A media type without parameters, such as `text/html`.
 * @returns The q-value, 0 to 1.
 */
export function mediaQuality(values: string[], type: string): number {
  if (values.length === 0) return 1;
  const top = type.slice(0, type.indexOf("/"));
  let q = 0;
  let rank = -1;
  for (const [range, weight] of weights(values)) {
    const specific = range === type
      ? 2
      : range === `${top}/*`
      ? 1
      : range === "*/*"
      ? 0
      : -1;
    if (specific > rank) [q, rank] = [weight, specific];
  }
  return q;
}
