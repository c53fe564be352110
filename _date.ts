// Copyright 2026 the basehttp authors. MIT license.
/**
 * HTTP dates, and the clock that keeps the current one: formatting a date
 * costs more than serving a small response, so a server formats it once a
 * second, as Node does.
 *
 * @module
 */

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/** Month abbreviations of HTTP dates and log lines, January first. */
export const MONTHS: readonly string[] =
  "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");

/** Two digits, zero-padded. */
export function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** An IMF-fixdate, such as `Thu, 01 Jan 1970 00:00:00 GMT`. */
export function formatDate(ms: number): string {
  const d = new Date(ms);
  return `${WEEKDAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${
    MONTHS[d.getUTCMonth()]
  } ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${
    pad2(d.getUTCSeconds())
  } GMT`;
}

/**
 * The current date of one server, formatted once a second: no timer, so an
 * idle server holds none.
 */
export class DateClock {
  #date = "";
  // When the second of #date ends: checked against the clock at each call,
  // not left to a timer, which a busy event loop runs late (a response
  // would say a second already past, older than a Last-Modified).
  #until = 0;

  /** The current IMF-fixdate. */
  now(): string {
    const now = Date.now();
    if (now >= this.#until) {
      this.#date = formatDate(now);
      this.#until = now - now % 1000 + 1000;
    }
    return this.#date;
  }
}
