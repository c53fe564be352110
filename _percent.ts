// Copyright 2026 the basehttp authors. MIT license.
// Python's printf-style `%` formatting, for log formats and error pages.
import { pyRepr } from "./_text.ts";

// %[(key)][flags][width][.precision][length modifier]type, as Python reads it.
const SPECIFIER =
  /%(?:\(([^)]*)\))?([-#0 +]*)(\*|\d+)?(?:\.(\*|\d*))?[hlL]?([diouxXeEfFgGcrsa%])/g;

/**
 * Python's `%` formatting (`format % args`): `%s`, `%r`, `%a`, `%c`, the
 * integers `%d %i %u %o %x %X` and the floats `%e %E %f %F %g %G`, with
 * `%(name)s` keys, the flags `-`, `+`, space, `0` and `#`, a width and a
 * precision (`*` takes either from the arguments), and `%%`. What
 * `format % args` is in a `log_message` override, for a `logMessage` one.
 * A specifier Python would refuse, or lacks an argument for (a literal
 * "100% sure" reads as `% s`), is left as written; a float's tie rounds
 * up, as JavaScript's `toFixed` does (Python's goes to even: `%.0f` of 2.5).
 *
 * @param format The template.
 * @param args Positional arguments, or one record for `%(name)s` keys.
 * @returns The formatted text.
 *
 * @example A logMessage override that sends lines elsewhere
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler, percentFormat } from "@basehttp/server";
 *
 * const lines: string[] = [];
 * class Handler extends BaseHTTPRequestHandler {
 *   override logMessage(format: string, ...args: unknown[]): void {
 *     lines.push(percentFormat(format, args));
 *   }
 * }
 * assert.equal(typeof Handler, "function");
 * assert.equal(percentFormat('"%s" %s %s', ["GET / HTTP/1.1", 200, 5]), '"GET / HTTP/1.1" 200 5');
 * assert.equal(percentFormat("%r", ["it's"]), `"it's"`);
 * assert.equal(percentFormat("%.1f ms, %5d bytes", [2.345, 42]), "2.3 ms,    42 bytes");
 * ```
 */
export function percentFormat(
  format: string,
  args: unknown[] | Record<string, unknown>,
): string {
  let index = 0;
  const list = Array.isArray(args) ? args : null;
  const next = () => list![index++];
  return format.replace(
    SPECIFIER,
    (
      whole: string,
      key: string | undefined,
      flags: string,
      width: string | undefined,
      precision: string | undefined,
      type: string,
    ) => {
      if (type === "%") return whole === "%%" ? "%" : whole;
      // What Python would refuse for want of an argument (a literal "100%
      // sure" reads as "% s") stays as written, and takes none.
      const wanted = (width === "*" ? 1 : 0) + (precision === "*" ? 1 : 0) +
        (key === undefined ? 1 : 0);
      if (
        wanted > 0 && (list === null || index + wanted > list.length) ||
        key !== undefined && (list !== null || !(key in args))
      ) return whole;
      // The access log's own: "%s", nothing to read but the argument.
      if (whole === "%s") return String(next());
      let size = width === "*" ? Number(next()) : Number(width ?? 0);
      const places = precision === undefined
        ? undefined
        : Math.min(precision === "*" ? Number(next()) : Number(precision), 100);
      if (size < 0) { // a negative width from "*" left-justifies, as Python's
        size = -size;
        flags += "-";
      }
      const value = key !== undefined
        ? (args as Record<string, unknown>)[key]
        : next();
      const text = formatOne(value, type, flags, places);
      return text.length >= size
        ? text
        : pad(text, size, flags, "diouxXeEfFgG".includes(type));
    },
  );
}

/** One value by its specifier, before the width is applied. */
function formatOne(
  value: unknown,
  type: string,
  flags: string,
  places: number | undefined,
): string {
  if (type === "s" || type === "r" || type === "a") {
    let text = type === "s" || typeof value !== "string"
      ? String(value)
      : pyRepr(value);
    if (type === "a") text = asciiEscape(text);
    return places === undefined ? text : text.slice(0, places);
  }
  if (type === "c") {
    return Number.isInteger(value) && (value as number) >= 0 &&
        (value as number) <= 0x10ffff
      ? String.fromCodePoint(value as number)
      : String(value).slice(0, 1);
  }
  const integer = "diuoxX".includes(type);
  let number = Number(value);
  if (integer && Number.isFinite(number)) number = Math.trunc(number) || 0;
  const sign = number < 0 || Object.is(number, -0)
    ? "-"
    : flags.includes("+")
    ? "+"
    : flags.includes(" ")
    ? " "
    : "";
  const size = Math.abs(number);
  const alternate = flags.includes("#");
  let digits: string;
  if (!Number.isFinite(size)) {
    digits = Number.isNaN(size) ? "nan" : "inf";
  } else if (integer) {
    // BigInt for every digit of a large one (Number's would be 1e+21).
    const whole = typeof value === "bigint"
      ? (value < 0n ? -value : value)
      : BigInt(size);
    digits = whole.toString(type === "o" ? 8 : "xX".includes(type) ? 16 : 10);
    if (places !== undefined) digits = digits.padStart(places, "0");
    if (alternate && !"diu".includes(type)) {
      digits = (type === "o" ? "0o" : "0x") + digits;
    }
  } else {
    digits = type === "f" || type === "F"
      ? fixed(size, places ?? 6)
      : type === "e" || type === "E"
      ? exponent(size.toExponential(places ?? 6))
      : general(size, places ?? 6, alternate);
    // The alternate form always has its point: "%#.0f" of 5 is "5.".
    if (alternate && !digits.includes(".")) {
      digits = digits.replace(/(?=e|$)/, ".");
    }
  }
  return sign + ("XEFG".includes(type) ? digits.toUpperCase() : digits);
}

/** `toFixed`, with every digit of a number past 1e21 (which it writes 1e+21). */
function fixed(size: number, places: number): string {
  if (size < 1e21) return size.toFixed(places);
  return BigInt(size).toString() + (places > 0 ? "." + "0".repeat(places) : "");
}

/** Python's `ascii()` of a repr: past ASCII as \xNN, \uNNNN or \UNNNNNNNN. */
function asciiEscape(text: string): string {
  return text.replace(/[^\x00-\x7f]/gu, (ch) => {
    const code = ch.codePointAt(0)!;
    return code < 0x100
      ? "\\x" + code.toString(16).padStart(2, "0")
      : code < 0x10000
      ? "\\u" + code.toString(16).padStart(4, "0")
      : "\\U" + code.toString(16).padStart(8, "0");
  });
}

/** JavaScript's exponent (`1.5e+0`) as Python writes it (`1.5e+00`). */
function exponent(text: string): string {
  return text.replace(/e([+-])(\d)$/, "e$10$2");
}

/** Python's `%g`: fixed or exponent by size, trailing zeros dropped. */
function general(size: number, places: number, keepZeros: boolean): string {
  const digits = Math.max(places, 1);
  const power = size === 0
    ? 0
    : Number(size.toExponential(digits - 1).split("e")[1]);
  const text = power < -4 || power >= digits
    ? exponent(size.toExponential(digits - 1))
    : size.toFixed(digits - 1 - power);
  if (keepZeros || !text.includes(".")) return text;
  // Zeros of the mantissa only, never of the exponent ("1.23457e+10").
  const [mantissa, power10] = text.split("e");
  const kept = mantissa.replace(/\.?0+$/, "");
  return power10 === undefined ? kept : `${kept}e${power10}`;
}

/** Pads to `size`: left-justified with `-`, zeros after the sign with `0`. */
function pad(
  text: string,
  size: number,
  flags: string,
  numeric: boolean,
): string {
  if (flags.includes("-")) return text.padEnd(size);
  if (!numeric || !flags.includes("0")) {
    return text.padStart(size);
  }
  const prefix = /^[-+ ]?(0[xo])?/i.exec(text)![0].length;
  return text.slice(0, prefix) +
    text.slice(prefix).padStart(size - prefix, "0");
}
