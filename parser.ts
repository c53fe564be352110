// Copyright 2026 the basehttp authors. MIT license.
/**
 * The streaming HTTP/1.x request parser: a buffered reader over a
 * {@linkcode Deno.Conn}, the request head (request line and header fields),
 * body framing (Content-Length and chunked) and the limits that bound them.
 *
 * Parsing is strict (RFC 9112): anything ambiguous throws an
 * {@linkcode HTTPError} carrying the status to answer, and the connection is
 * then closed by the handler.
 *
 * @example Parse a request head from bytes
 * ```ts
 * import { parseRequestHead } from "@basehttp/server/parser";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode(
 *   "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
 * );
 * const head = parseRequestHead(bytes);
 * assert.equal(head.command, "GET");
 * assert.equal(head.headers.get("host"), "example.com");
 * ```
 *
 * @module
 */

/** An error in a request, with the HTTP status that answers it. */
export class HTTPError extends Error {
  /** The HTTP status code to answer with, such as 400 or 431. */
  readonly status: number;
  /** A longer explanation for the error page, if any. */
  readonly explain: string | undefined;

  /**
   * Creates an error that answers `status`.
   *
   * @param status The HTTP status code, 400–599.
   * @param message The short message (reason phrase of the error page).
   * @param explain A longer explanation for the error page.
   */
  constructor(status: number, message: string, explain?: string) {
    super(message);
    this.name = "HTTPError";
    this.status = status;
    this.explain = explain;
  }
}

/** Limits applied while reading a request. `null` disables a limit. */
export interface RequestLimits {
  /** Longest request line, in bytes with its line end (414 beyond). @default {65536} */
  maxRequestLine: number;
  /** Longest header line, in bytes with its line end (431 beyond). @default {65536} */
  maxHeaderLine: number;
  /** Most header fields in a head (431 beyond). @default {100} */
  maxHeaders: number;
  /** Most bytes in a whole request head (431 beyond). @default {1048576} */
  maxHeadBytes: number;
  /** Longest chunk-size line with its extensions (400 beyond). @default {4096} */
  maxChunkLine: number;
  /** Most bytes of chunked trailer fields (431 beyond). @default {16384} */
  maxTrailerBytes: number;
  /** Largest request body, declared or chunked (413 beyond). @default {104857600} */
  maxBodySize: number | null;
}

/** The default {@linkcode RequestLimits}: Python's line and count limits. */
export const DEFAULT_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxRequestLine: 65536,
  maxHeaderLine: 65536,
  maxHeaders: 100,
  maxHeadBytes: 1 << 20,
  maxChunkLine: 4096,
  maxTrailerBytes: 16384,
  maxBodySize: 100 * 1024 * 1024,
});

function isLetter(lower: number): boolean {
  return lower >= 0x61 && lower <= 0x7a;
}

// Set by HTTPMessage's static block: headers over a scanned head's text.
let fieldsOfHead: (
  text: string,
  offsets: number[],
  size: number,
  lengths: number,
) => HTTPMessage;

/** The bit of a name length in a set of lengths; 31 stands for 31 or more. */
function lengthBit(length: number): number {
  return 1 << (length < 31 ? length : 31);
}

/**
 * Header fields in wire order, with their original case. Lookup by name is
 * case-insensitive; duplicates are kept.
 *
 * @example Usage
 * ```ts
 * import { HTTPMessage } from "@basehttp/server/parser";
 * import assert from "node:assert/strict";
 *
 * const headers = new HTTPMessage([["Accept", "a"], ["accept", "b"]]);
 * assert.equal(headers.get("ACCEPT"), "a");
 * assert.deepEqual(headers.getAll("accept"), ["a", "b"]);
 * ```
 */
export class HTTPMessage implements Iterable<[string, string]> {
  // The fields live in one string, located by offsets (name start, name
  // end, value start, value end per field): a parsed head becomes headers
  // without a string or an array per field until one is asked for.
  #text: string;
  #offsets: number[];
  #size: number;
  // The name lengths present (lengthBit): most lookups are for a name that
  // is absent, and most of those end here.
  #lengths = 0;

  /**
   * Creates a header list.
   *
   * @param fields `[name, value]` pairs, in order.
   */
  constructor(fields: [string, string][] = []) {
    let text = "";
    const offsets: number[] = new Array(fields.length * 4);
    for (let i = 0; i < fields.length; i++) {
      const [name, value] = fields[i];
      offsets[4 * i] = text.length;
      text += name;
      offsets[4 * i + 1] = text.length;
      offsets[4 * i + 2] = text.length + 1;
      text += ":" + value;
      offsets[4 * i + 3] = text.length;
      this.#lengths |= lengthBit(name.length);
    }
    this.#text = text;
    this.#offsets = offsets;
    this.#size = fields.length;
  }

  static {
    fieldsOfHead = (text, offsets, size, lengths) => {
      const message = new HTTPMessage();
      message.#text = text;
      message.#offsets = offsets;
      message.#size = size;
      message.#lengths = lengths;
      return message;
    };
  }

  /** The number of fields, duplicates included. */
  get size(): number {
    return this.#size;
  }

  /** Whether field `i` is named `key` in any case, compared without slicing. */
  #is(i: number, key: string): boolean {
    const start = this.#offsets[4 * i];
    if (this.#offsets[4 * i + 1] - start !== key.length) return false;
    const text = this.#text;
    for (let j = 0; j < key.length; j++) {
      const a = text.charCodeAt(start + j);
      const b = key.charCodeAt(j);
      if (a === b) continue;
      // The same letter in the other case; nothing else matches.
      if ((a | 0x20) !== (b | 0x20) || !isLetter(a | 0x20)) return false;
    }
    return true;
  }

  #name(i: number): string {
    return this.#text.slice(this.#offsets[4 * i], this.#offsets[4 * i + 1]);
  }

  #value(i: number): string {
    return this.#text.slice(this.#offsets[4 * i + 2], this.#offsets[4 * i + 3]);
  }

  /**
   * The first value of a field, or `null` when it is absent.
   *
   * @param name The field name, in any case.
   * @returns The value, or `null`.
   */
  get(name: string): string | null {
    if (!(this.#lengths & lengthBit(name.length))) return null;
    for (let i = 0; i < this.#size; i++) {
      if (this.#is(i, name)) return this.#value(i);
    }
    return null;
  }

  /**
   * Every value of a field, in wire order.
   *
   * @param name The field name, in any case.
   * @returns The values; empty when the field is absent.
   */
  getAll(name: string): string[] {
    const values: string[] = [];
    if (!(this.#lengths & lengthBit(name.length))) return values;
    for (let i = 0; i < this.#size; i++) {
      if (this.#is(i, name)) values.push(this.#value(i));
    }
    return values;
  }

  /**
   * Whether a field is present.
   *
   * @param name The field name, in any case.
   * @returns `true` when at least one field has that name.
   */
  has(name: string): boolean {
    return this.get(name) !== null;
  }

  /**
   * Appends a field.
   *
   * @param name The field name.
   * @param value The field value.
   */
  append(name: string, value: string): void {
    const offsets = this.#offsets;
    const at = 4 * this.#size;
    offsets[at] = this.#text.length + 1;
    offsets[at + 1] = offsets[at] + name.length;
    offsets[at + 2] = offsets[at + 1] + 1;
    offsets[at + 3] = offsets[at + 2] + value.length;
    this.#text += `\n${name}:${value}`;
    this.#size++;
    this.#lengths |= lengthBit(name.length);
  }

  /**
   * The field names in wire order, as sent.
   *
   * @returns The names, duplicates included.
   */
  keys(): string[] {
    return Array.from({ length: this.#size }, (_, i) => this.#name(i));
  }

  /**
   * The `[name, value]` pairs in wire order (Python's `items()`).
   *
   * @returns A copy of the pairs.
   */
  items(): [string, string][] {
    return Array.from(
      { length: this.#size },
      (_, i): [string, string] => [this.#name(i), this.#value(i)],
    );
  }

  /**
   * Iterates the `[name, value]` pairs in wire order.
   *
   * @returns An iterator of pairs.
   */
  [Symbol.iterator](): Iterator<[string, string]> {
    return this.items()[Symbol.iterator]();
  }

  /**
   * Converts to a web {@linkcode Headers} (which lower-cases and combines).
   *
   * @returns A new `Headers`.
   */
  toHeaders(): Headers {
    const headers = new Headers();
    for (let i = 0; i < this.#size; i++) {
      headers.append(this.#name(i), this.#value(i));
    }
    return headers;
  }

  /**
   * The fields as they were on the wire, one `Name: value` per line.
   *
   * @returns The text, each line ending in CRLF.
   */
  toString(): string {
    let text = "";
    for (let i = 0; i < this.#size; i++) {
      text += `${this.#name(i)}: ${this.#value(i)}\r\n`;
    }
    return text;
  }
}

/** A parsed request head. */
export interface RequestHead {
  /** The request line without its line end. */
  requestline: string;
  /** The method, case-sensitive, such as `GET`. */
  command: string;
  /** The request-target as sent. */
  target: string;
  /** The version token, such as `HTTP/1.1`. */
  version: string;
  /** The minor version (the major is always 1). */
  minor: number;
  /** The header fields. */
  headers: HTTPMessage;
  /** The declared body length, or `null` when there is none. */
  contentLength: number | null;
  /** Whether the body is chunked. */
  chunked: boolean;
}

const VERSION = /^HTTP\/(\d)\.(\d)$/;
const TARGET = /^[\x21-\x7e]+$/;
// uri-host (RFC 3986): an IP literal, or a reg-name of unreserved,
// sub-delims and pct-encoded. No "@": userinfo is refused everywhere.
const IP_LITERAL = String.raw`\[[0-9A-Fa-f:.]+\]`;
const REG_NAME = String.raw`(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})`;
// The usual Host value, checked first: the full grammar's regex is slower.
const PLAIN_HOST = /^[A-Za-z0-9.\-]+(?::\d{1,5})?$/;
// The Host field value; empty is allowed (RFC 9110 §7.2).
const HOST = new RegExp(`^(?:${IP_LITERAL}|${REG_NAME}*)(?::\\d*)?$`);
// The last Host value found good: a server sees the same few, again and again.
let lastHost = "";
// CONNECT's target: uri-host ":" port, both required (RFC 9112 §3.2.3).
const AUTHORITY_FORM = new RegExp(`^(?:${IP_LITERAL}|${REG_NAME}+):\\d+$`);
// absolute-URI with an authority; group 1 is checked as a non-empty host.
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.\-]*:\/\/([^/?#]*)/;
const ABSOLUTE_HOST = new RegExp(
  `^(?:${IP_LITERAL}|${REG_NAME}+)(?::\\d*)?$`,
);
const DIGITS = /^\d+$/;
// Control characters other than HTAB, LF and CR never belong in a head.
const FORBIDDEN_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const utf8 = new TextDecoder();

/** Decodes bytes as Latin-1, byte for byte; fast when they are ASCII. */
export function decodeLatin1(bytes: Uint8Array): string {
  const text = utf8.decode(bytes);
  if (text.length === bytes.length && !text.includes("\uFFFD")) return text;
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** Strips optional whitespace (SP and HTAB) from both ends. */
function trimOWS(value: string): string {
  let a = 0;
  let b = value.length;
  while (a < b && (value[a] === " " || value[a] === "\t")) a++;
  while (b > a && (value[b - 1] === " " || value[b - 1] === "\t")) b--;
  return a === 0 && b === value.length ? value : value.slice(a, b);
}

/**
 * Splits comma-separated field values into lower-cased tokens.
 *
 * @param values The field values, such as `headers.getAll("connection")`.
 * @returns The non-empty elements, trimmed and lower-cased.
 */
export function splitTokens(values: string[]): string[] {
  const tokens: string[] = [];
  for (const value of values) {
    for (const part of value.split(",")) {
      const token = trimOWS(part).toLowerCase();
      if (token !== "") tokens.push(token);
    }
  }
  return tokens;
}

/** Python's `repr()` of a string, for messages that quote the client. */
export function pyRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (ch === "\\" || ch === quote) out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || (c >= 0x7f && c < 0xa1)) {
      out += "\\x" + c.toString(16).padStart(2, "0");
    } else out += ch;
  }
  return out + quote;
}

/**
 * Parses a header field line into `[name, value]`, or throws a 400.
 * Shared by request heads and chunked trailers.
 */
function parseField(line: string): [string, string] {
  if (line[0] === " " || line[0] === "\t") {
    throw new HTTPError(400, "Obsolete line folding is not allowed");
  }
  const colon = line.indexOf(":");
  const name = colon > 0 ? line.slice(0, colon) : "";
  if (!isToken(name)) {
    throw new HTTPError(400, `Bad header line (${pyRepr(line)})`);
  }
  return [name, trimOWS(line.slice(colon + 1))];
}

/** Checks a decoded head or trailer block for characters a head never holds. */
function checkControls(text: string): void {
  if (FORBIDDEN_CONTROL.test(text)) {
    throw new HTTPError(400, "Control character in request head");
  }
}

/**
 * Splits a head into lines, accepting CRLF or bare LF; a stray CR is a 400.
 * `ends[i]` is the length of line i's line end, for the line limits.
 */
function splitLines(text: string): { lines: string[]; ends: number[] } {
  const lines = text.split("\n");
  const ends: number[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    ends[i] = line.endsWith("\r") ? 2 : 1;
    if (ends[i] === 2) line = lines[i] = line.slice(0, -1);
    if (line.includes("\r")) {
      throw new HTTPError(400, "Bare CR in request head");
    }
  }
  return { lines, ends };
}

/** Parses a Content-Length value list; all elements must agree. */
function parseContentLength(values: string[]): number {
  let length = -1;
  for (const value of values) {
    for (const part of value.split(",")) {
      const digits = trimOWS(part);
      if (!DIGITS.test(digits)) {
        throw new HTTPError(400, "Bad Content-Length");
      }
      const n = Number(digits);
      if (!Number.isSafeInteger(n)) {
        throw new HTTPError(400, "Content-Length out of range");
      }
      if (length !== -1 && n !== length) {
        throw new HTTPError(400, "Conflicting Content-Length values");
      }
      length = n;
    }
  }
  return length;
}

// Byte classes for the one-pass head scanner.
const TCHAR = 1; // token: methods and field names
const FIELD_CHAR = 2; // field-content: VCHAR, obs-text, SP, HTAB
const TARGET_CHAR = 4; // request-target: visible ASCII
const CLASSES = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) CLASSES[c] = FIELD_CHAR | TARGET_CHAR;
for (let c = 0x80; c < 0x100; c++) CLASSES[c] = FIELD_CHAR;
CLASSES[0x20] = CLASSES[0x09] = FIELD_CHAR;
for (const c of "!#$%&'*+-.^_`|~0123456789") CLASSES[c.charCodeAt(0)] |= TCHAR;
for (let c = 0x41; c <= 0x5a; c++) CLASSES[c] |= TCHAR;
for (let c = 0x61; c <= 0x7a; c++) CLASSES[c] |= TCHAR;

/**
 * Whether `text` is an HTTP token (RFC 9110 §5.6.2): a method or field name.
 *
 * @param text The text to check.
 * @returns `true` for a non-empty token.
 */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f || !(CLASSES[c] & TCHAR)) return false;
  }
  return true;
}

/**
 * Whether `text` may be a field value on the wire: visible Latin-1, SP and
 * HTAB, so never CR, LF or NUL (which would split a message).
 *
 * @param text The text to check.
 * @returns `true` when it is safe to send.
 */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || !(CLASSES[c] & FIELD_CHAR)) return false;
  }
  return true;
}

const INCOMPLETE = -1;
const IRREGULAR = -2;
const MAX_SCANNED_FIELDS = 1024;
// What scanHead found, relative to the head's start: [0] method end,
// [1] target end, [2] field count, [3] the name lengths (lengthBit), then
// 4 offsets per field from [4].
let scanOffsets = new Int32Array(4 * 101);

// Four bytes at once (SWAR): `hasLess(x, n)` is non-zero when some byte
// of x is below n (n <= 0x80), `hasZero(x)` when some byte is zero. A word
// that fails is rescanned byte by byte, so a false alarm only costs time.
function hasLess(x: number, n: number): number {
  return (x - n * 0x01010101) & ~x & 0x80808080;
}

function hasZero(x: number): number {
  return (x - 0x01010101) & ~x & 0x80808080;
}

/** Four bytes of visible ASCII (TARGET_CHAR). */
function isTargetWord(x: number): boolean {
  return !(hasLess(x, 0x21) | hasZero(x ^ 0x7f7f7f7f) | (x & 0x80808080));
}

/** Four bytes of field-content other than HTAB (FIELD_CHAR). */
function isValueWord(x: number): boolean {
  return !(hasLess(x, 0x20) | hasZero(x ^ 0x7f7f7f7f));
}

/**
 * Scans a head of the common strict shape in one pass over its bytes:
 * `token SP target SP HTTP/1.d`, then `token ":" field-content` lines, each
 * ended by CRLF or LF, within the line and count limits. `b[end]` must be a
 * byte of no class (a sentinel), so the inner loops need no bounds checks.
 * `view` is a DataView over `b`: targets and values, the long parts, are
 * checked four bytes at a time.
 *
 * @returns The head's length; INCOMPLETE when more bytes may complete it;
 *   IRREGULAR for anything else, which the careful parser then judges.
 */
function scanHead(
  b: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  limits: Readonly<RequestLimits>,
): number {
  let i = start;
  while (CLASSES[b[i]] & TCHAR) i++;
  if (i === end) return INCOMPLETE;
  if (b[i] !== 0x20 || i === start) return IRREGULAR;
  const targetStart = ++i;
  while (i + 4 <= end && isTargetWord(view.getInt32(i, true))) i += 4;
  while (CLASSES[b[i]] & TARGET_CHAR) i++;
  if (i + 10 > end) return i === end || b[i] === 0x20 ? INCOMPLETE : IRREGULAR;
  if (
    b[i] !== 0x20 || i === targetStart || b[i + 1] !== 0x48 ||
    b[i + 2] !== 0x54 || b[i + 3] !== 0x54 || b[i + 4] !== 0x50 ||
    b[i + 5] !== 0x2f || b[i + 6] !== 0x31 || b[i + 7] !== 0x2e ||
    b[i + 8] < 0x30 || b[i + 8] > 0x39
  ) return IRREGULAR;
  // Room for the fields the limit allows, up to a bound: a head with more
  // fields than that goes to the careful parser.
  const room = Math.min(limits.maxHeaders, MAX_SCANNED_FIELDS);
  const offsets = scanOffsets.length >= 4 * room + 4
    ? scanOffsets
    : scanOffsets = new Int32Array(4 * room + 4);
  offsets[0] = targetStart - 1 - start;
  offsets[1] = i - start;
  i += 9;
  let fields = 0;
  let lengths = 0;
  let lineStart = start;
  while (true) {
    // The line end of the line before.
    if (b[i] === 0x0d) i++;
    if (i >= end) return INCOMPLETE;
    if (b[i] !== 0x0a) return IRREGULAR;
    const max = fields === 0 ? limits.maxRequestLine : limits.maxHeaderLine;
    if (++i - lineStart > max) return IRREGULAR;
    lineStart = i;
    while (CLASSES[b[i]] & TCHAR) i++;
    if (i === lineStart) {
      // The empty line that ends the head.
      if (b[i] === 0x0d) i++;
      if (i >= end) return INCOMPLETE;
      if (b[i] !== 0x0a) return IRREGULAR;
      offsets[2] = fields;
      offsets[3] = lengths;
      return i + 1 - start;
    }
    if (i === end) return INCOMPLETE;
    if (b[i] !== 0x3a || fields === room) return IRREGULAR;
    const at = 4 * ++fields;
    lengths |= lengthBit(i - lineStart);
    offsets[at] = lineStart - start;
    offsets[at + 1] = i - start;
    i++;
    while (b[i] === 0x20 || b[i] === 0x09) i++;
    const valueStart = i;
    while (i + 4 <= end && isValueWord(view.getInt32(i, true))) i += 4;
    while (CLASSES[b[i]] & FIELD_CHAR) i++;
    if (i === end) return INCOMPLETE;
    let valueEnd = i;
    while (
      valueEnd > valueStart &&
      (b[valueEnd - 1] === 0x20 || b[valueEnd - 1] === 0x09)
    ) valueEnd--;
    offsets[at + 2] = valueStart - start;
    offsets[at + 3] = valueEnd - start;
  }
}

// A plain array: a typed array costs far more to allocate than to fill.
function copyOffsets(offsets: Int32Array, size: number): number[] {
  const copy: number[] = new Array(4 * size);
  for (let i = 0; i < 4 * size; i++) copy[i] = offsets[i + 4];
  return copy;
}

/**
 * Builds the head that scanHead just found in `b`; `text` is its bytes
 * already decoded, when the caller has them.
 */
function headOfScan(
  b: Uint8Array,
  start: number,
  length: number,
  limits: Readonly<RequestLimits>,
  text: string = decodeLatin1(b.subarray(start, start + length)),
): RequestHead {
  const offsets = scanOffsets;
  const methodEnd = offsets[0];
  const targetEnd = offsets[1];
  const size = offsets[2];
  const requestline = text.slice(0, targetEnd + 9);
  return frameHead(
    requestline,
    text.slice(0, methodEnd),
    text.slice(methodEnd + 1, targetEnd),
    requestline.slice(targetEnd + 1),
    text.charCodeAt(targetEnd + 8) - 48,
    fieldsOfHead(text, copyOffsets(offsets, size), size, offsets[3]),
    limits,
  );
}

/**
 * Parses a complete request head: the request line, the header fields and
 * the empty line that ends them (CRLF or bare LF line ends). Line and count
 * limits are checked here too, so the bytes may come from anywhere.
 *
 * @param bytes The head, through its final empty line.
 * @param limits The limits to apply; defaults to {@linkcode DEFAULT_LIMITS}.
 * @returns The parsed head.
 * @throws {HTTPError} When the head is malformed or over a limit.
 */
export function parseRequestHead(
  bytes: Uint8Array,
  limits: Readonly<RequestLimits> = DEFAULT_LIMITS,
): RequestHead {
  // readHead() checks this only while a head is incomplete; one that came
  // whole in a single read is checked here.
  if (bytes.length > limits.maxHeadBytes) {
    throw new HTTPError(431, "Request head too large");
  }
  if (scratch.length <= bytes.length) {
    scratch = new Uint8Array(bytes.length * 2);
    scratchView = new DataView(scratch.buffer);
  }
  scratch.set(bytes);
  scratch[bytes.length] = 0; // the scanner's sentinel
  return scanHead(scratch, scratchView, 0, bytes.length, limits) ===
      bytes.length
    ? headOfScan(scratch, 0, bytes.length, limits)
    : parseIrregularHead(bytes, limits);
}

let scratch = new Uint8Array(1024);
let scratchView = new DataView(scratch.buffer);

/**
 * The careful parser: anything the one-pass scanner does not accept comes
 * here, to be accepted or refused with the precise status and message.
 */
function parseIrregularHead(
  bytes: Uint8Array,
  limits: Readonly<RequestLimits>,
): RequestHead {
  const text = decodeLatin1(bytes);
  checkControls(text);
  const { lines, ends } = splitLines(text);
  // The head ends with an empty line, so splitting leaves two empty strings.
  if (lines.length < 3 || lines.at(-1) !== "" || lines.at(-2) !== "") {
    throw new HTTPError(400, "Incomplete request head");
  }
  const requestline = lines[0];
  if (requestline.length + ends[0] > limits.maxRequestLine) {
    throw new HTTPError(414, "URI Too Long", "URI is too long");
  }
  const words = requestline.split(" ");
  const version = words.at(-1)!;
  if (words.length === 3 && !VERSION.test(version)) {
    throw new HTTPError(400, `Bad request version (${pyRepr(version)})`);
  }
  if (words.length !== 3) {
    throw new HTTPError(400, `Bad request syntax (${pyRepr(requestline)})`);
  }
  const [command, target] = words;
  const major = version.charCodeAt(5) - 48;
  const minor = version.charCodeAt(7) - 48;
  if (major !== 1) {
    throw new HTTPError(
      505,
      `Invalid HTTP version (${major}.${minor})`,
      "Cannot fulfill request",
    );
  }
  if (!isToken(command)) {
    throw new HTTPError(400, `Bad request method (${pyRepr(command)})`);
  }
  if (!TARGET.test(target)) {
    throw new HTTPError(400, `Bad request target (${pyRepr(target)})`);
  }
  const count = lines.length - 3;
  if (count > limits.maxHeaders) {
    throw new HTTPError(431, "Too many headers", tooMany(limits.maxHeaders));
  }
  const fields: [string, string][] = new Array(count);
  for (let i = 0; i < count; i++) {
    const line = lines[i + 1];
    if (line.length + ends[i + 1] > limits.maxHeaderLine) {
      throw new HTTPError(431, "Line too long", lineTooLong(limits));
    }
    fields[i] = parseField(line);
  }
  return frameHead(
    requestline,
    command,
    target,
    version,
    minor,
    new HTTPMessage(fields),
    limits,
  );
}

/**
 * Checks what shapes the message, shared by both parsers: the target's form,
 * Host, and the body's framing (Content-Length, Transfer-Encoding).
 */
function frameHead(
  requestline: string,
  command: string,
  target: string,
  version: string,
  minor: number,
  headers: HTTPMessage,
  limits: Readonly<RequestLimits>,
): RequestHead {
  checkTarget(command, target);
  const hosts = headers.getAll("host");
  if (hosts.length > 1 || (minor >= 1 && hosts.length === 0)) {
    throw new HTTPError(
      400,
      hosts.length ? "Repeated Host header" : "Missing Host",
    );
  }
  if (hosts.length === 1 && hosts[0] !== lastHost) {
    if (!PLAIN_HOST.test(hosts[0]) && !HOST.test(hosts[0])) {
      throw new HTTPError(400, "Bad Host header");
    }
    lastHost = hosts[0];
  }

  const lengths = headers.getAll("content-length");
  const codings = headers.getAll("transfer-encoding");
  let contentLength: number | null = null;
  let chunked = false;
  if (codings.length > 0) {
    if (lengths.length > 0) {
      throw new HTTPError(400, "Both Transfer-Encoding and Content-Length");
    }
    if (minor === 0) {
      throw new HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    chunked = checkCodings(codings);
  } else if (lengths.length > 0) {
    contentLength = parseContentLength(lengths);
    if (limits.maxBodySize !== null && contentLength > limits.maxBodySize) {
      throw new HTTPError(413, "Content Too Large", tooLarge(limits));
    }
  }

  return {
    requestline,
    command,
    target,
    version,
    minor,
    headers,
    contentLength,
    chunked,
  };
}

/**
 * Checks the request-target's form against the method (RFC 9112 §3.2);
 * its characters are already checked.
 */
function checkTarget(command: string, target: string): void {
  if (target[0] === "/" && command !== "CONNECT") return;
  const ok = command === "CONNECT"
    ? AUTHORITY_FORM.test(target)
    : target === "*"
    ? command === "OPTIONS"
    : ABSOLUTE_HOST.test(ABSOLUTE_FORM.exec(target)?.[1] ?? "");
  if (!ok) {
    throw new HTTPError(400, `Bad request target (${pyRepr(target)})`);
  }
}

/** Checks Transfer-Encoding codings; a request's must be exactly chunked. */
function checkCodings(values: string[]): true {
  const codings: string[] = [];
  for (const value of values) {
    for (const part of value.split(",")) {
      const coding = trimOWS(part).toLowerCase();
      if (!isToken(coding)) {
        throw new HTTPError(400, "Bad Transfer-Encoding");
      }
      codings.push(coding);
    }
  }
  if (codings.at(-1) !== "chunked") {
    throw new HTTPError(400, "Transfer-Encoding must end with chunked");
  }
  // A malformed message (400) outranks an unsupported coding (501).
  if (codings.indexOf("chunked") !== codings.length - 1) {
    throw new HTTPError(400, "chunked applied more than once");
  }
  if (codings.length > 1) {
    throw new HTTPError(501, `Unsupported transfer coding (${codings[0]})`);
  }
  return true;
}

function tooMany(max: number): string {
  return `got more than ${max} headers`;
}

function lineTooLong(limits: Readonly<RequestLimits>): string {
  return `got more than ${limits.maxHeaderLine} bytes when reading header line`;
}

function tooLarge(limits: Readonly<RequestLimits>): string {
  return `the body is larger than ${limits.maxBodySize} bytes`;
}

/** What {@linkcode BufferedReader} reads from: a `Deno.Conn` or alike. */
export interface Reader {
  /** Reads into `p`; resolves to the byte count (maybe 0) or `null` at EOF. */
  read(p: Uint8Array): Promise<number | null>;
}

const INITIAL_BUFFER = 1024;
const BATCH_BUFFER = 16 * 1024;
// The most bytes decoded at once for pipelined heads.
const BATCH_TEXT = 4096;
// The name lengths of Content-Length and Transfer-Encoding (lengthBit).
const BODY_NAMES = lengthBit(14) | lengthBit(17);
const ENDED: Promise<boolean> = Promise.resolve(false);

/**
 * A buffered reader over a {@linkcode Reader}: one buffer, reused, that
 * grows only as a head needs, up to the limits. Bytes read past one request
 * stay buffered for the next (pipelining).
 */
export class BufferedReader {
  /** The source. */
  readonly source: Reader;
  /**
   * Called before each read from the source, e.g. to flush pending output;
   * returns a promise to wait for, or `null` when there is nothing to do.
   */
  beforeFill: (() => Promise<void> | null) | null = null;
  #buf: Uint8Array | null = null;
  #view: DataView | null = null; // over #buf, made when a head is scanned
  #start = 0;
  #end = 0;
  #eof = false;
  #full = false; // the last read filled the buffer
  // Buffered bytes from #textStart decoded, one char per byte (#textOf).
  #text = "";
  #textStart = 0;

  /**
   * Wraps a source.
   *
   * @param source What to read from.
   */
  constructor(source: Reader) {
    this.source = source;
  }

  /** The number of bytes read from the source and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Whether the source has reached its end. */
  get eof(): boolean {
    return this.#eof;
  }

  /**
   * Reads more from the source, keeping what is buffered. A read takes all
   * the free room of the buffer; the buffer grows when a head needs it, and
   * up to 16 KiB when reads keep filling it (pipelined requests, uploads).
   *
   * @param max The most bytes a head may need the buffer to hold.
   * @returns `false` at the end of the source.
   */
  fill(max: number = 1 << 20): Promise<boolean> {
    if (this.#eof) return ENDED;
    try {
      const flushing = this.beforeFill?.();
      if (flushing) return flushing.then(() => this.#readMore(max));
      return this.#readMore(max);
    } catch (error) {
      return Promise.reject(error); // a promise either way, as when async
    }
  }

  // No async frame: a connection waiting for its next request holds only
  // the read's promise (idle connections are most of a server's memory).
  #readMore(max: number): Promise<boolean> {
    this.#text = ""; // the bytes may move
    let buf = this.#buf ??= new Uint8Array(INITIAL_BUFFER);
    const used = this.#end - this.#start;
    // A read that took all the room says more was waiting.
    const batch = this.#full && buf.length < BATCH_BUFFER;
    if (used === 0 && !batch) {
      this.#start = this.#end = 0;
    } else if (
      !batch && this.#end > buf.length >> 1 && used <= buf.length >> 1
    ) {
      // A little left far in: move it to the front so that the read has
      // room, rather than reading a few bytes into the tail.
      buf.copyWithin(0, this.#start, this.#end);
      this.#start = 0;
      this.#end = used;
    } else if (batch || this.#end >= buf.length - 1) {
      const size = Math.max(
        batch ? Math.min(2 * buf.length, BATCH_BUFFER) : 0,
        Math.min(
          Math.max(used * 2, INITIAL_BUFFER),
          Math.max(max, used + 1),
        ) + 1,
      );
      const bigger = new Uint8Array(size);
      bigger.set(buf.subarray(this.#start, this.#end));
      this.#buf = buf = bigger;
      this.#view = null;
      this.#start = 0;
      this.#end = used;
    }
    // The last byte stays free for readHead()'s sentinel.
    return this.source.read(buf.subarray(this.#end, buf.length - 1))
      .then(this.#took);
  }

  // Made once, so that a read's continuation allocates no closure.
  #took = (n: number | null): boolean => {
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#full = n === this.#buf!.length - 1 - this.#end; // took all the room
    this.#end += n;
    return true;
  };

  /**
   * Takes a request head of the usual shape that is already buffered whole,
   * without waiting: pipelined requests are parsed with no await.
   *
   * @param limits The limits to apply.
   * @returns The head, or `undefined` when {@linkcode readHead} must decide.
   * @throws {HTTPError} When the head is well-formed but not acceptable.
   */
  takeHead(
    limits: Readonly<RequestLimits> = DEFAULT_LIMITS,
  ): RequestHead | undefined {
    const buf = this.#buf;
    if (buf === null || this.#start === this.#end) return undefined;
    buf[this.#end] = 0; // the scanner's sentinel; fill() leaves a byte for it
    const view = this.#view ??= new DataView(buf.buffer);
    const length = scanHead(buf, view, this.#start, this.#end, limits);
    if (length <= 0 || length > limits.maxHeadBytes) return undefined;
    const text = this.#textOf(buf, length);
    const head = headOfScan(buf, this.#start, length, limits, text);
    this.#start += length;
    return head;
  }

  /**
   * The text of the head of `length` bytes at the start of the buffer, when
   * it can be had cheaper than by decoding it alone: pipelined heads are
   * decoded together, once (a decode costs more to start than per byte).
   */
  #textOf(buf: Uint8Array, length: number): string | undefined {
    const start = this.#start;
    let at = start - this.#textStart;
    if (at < 0 || at + length > this.#text.length) {
      // Only a head without a body is likely followed by another head.
      const end = Math.min(this.#end, start + BATCH_TEXT);
      if (end - start <= length || scanOffsets[3] & BODY_NAMES) return;
      const text = utf8.decode(buf.subarray(start, end));
      if (text.length !== end - start) return; // not one char per byte
      this.#text = text;
      this.#textStart = start;
      at = 0;
    }
    const text = this.#text.slice(at, at + length);
    // Bytes past ASCII are Latin-1 in a head: decodeLatin1 has them right.
    return text.includes("\uFFFD") ? undefined : text;
  }

  /**
   * Reads a request head, skipping empty lines before it (RFC 9112 §2.2).
   *
   * @param limits The limits to apply.
   * @returns The head, or `null` when the source ended before any byte of one.
   * @throws {HTTPError} When the head is malformed, over a limit, or cut off.
   */
  async readHead(
    limits: Readonly<RequestLimits> = DEFAULT_LIMITS,
  ): Promise<RequestHead | null> {
    // Offsets are relative to #start so that fill() may move the bytes.
    let scanned = 0;
    let lineStart = 0;
    let lines = 0;
    while (true) {
      const buf = this.#buf;
      if (scanned === 0) {
        const head = this.takeHead(limits);
        if (head !== undefined) return head;
      }
      while (buf !== null && scanned < this.#end - this.#start) {
        const at = buf.indexOf(10, this.#start + scanned);
        if (at === -1 || at >= this.#end) {
          scanned = this.#end - this.#start;
          break;
        }
        const lf = at - this.#start;
        const empty = lf === lineStart ||
          (lf === lineStart + 1 && buf[this.#start + lineStart] === 13);
        scanned = lf + 1;
        if (!empty) {
          this.#checkLine(lines++, scanned - lineStart, limits);
          lineStart = scanned;
        } else if (lines === 0) {
          this.#start += scanned; // an empty line before the request line
          scanned = 0;
        } else {
          const head = buf.subarray(this.#start, this.#start + scanned);
          this.#start += scanned;
          return parseRequestHead(head, limits);
        }
      }
      this.#checkLine(Math.min(lines, 1), scanned - lineStart, limits);
      if (scanned > limits.maxHeadBytes) {
        throw new HTTPError(431, "Request head too large");
      }
      if (!await this.fill(limits.maxHeadBytes + 1)) {
        if (this.#end === this.#start) return null;
        throw new HTTPError(400, "Incomplete request head");
      }
    }
  }

  #checkLine(index: number, length: number, limits: Readonly<RequestLimits>) {
    if (index === 0) {
      if (length > limits.maxRequestLine) {
        throw new HTTPError(414, "URI Too Long", "URI is too long");
      }
    } else if (length > limits.maxHeaderLine) {
      throw new HTTPError(431, "Line too long", lineTooLong(limits));
    } else if (index > limits.maxHeaders) {
      throw new HTTPError(431, "Too many headers", tooMany(limits.maxHeaders));
    }
  }

  /**
   * Reads one CRLF-terminated line (chunk framing: a bare LF is an error).
   *
   * @param max The longest line, CRLF included.
   * @param what What the line is, for error messages.
   * @returns The line without its CRLF, decoded as Latin-1.
   * @throws {HTTPError} When the line is too long, malformed or cut off.
   */
  async readLine(max: number, what: string): Promise<string> {
    let scanned = 0;
    while (true) {
      const buf = this.#buf;
      if (buf !== null) {
        const at = buf.indexOf(10, this.#start + scanned);
        if (at !== -1 && at < this.#end) {
          const length = at - this.#start + 1;
          if (length > max) throw new HTTPError(400, `${what} too long`);
          if (length < 2 || buf[at - 1] !== 13) {
            throw new HTTPError(400, `${what} must end with CRLF`);
          }
          // The CRLF after chunk data is the common case: skip decoding.
          const line = length === 2
            ? ""
            : decodeLatin1(buf.subarray(this.#start, at - 1));
          if (line.includes("\r")) {
            throw new HTTPError(400, `Bare CR in ${what}`);
          }
          this.#start += length;
          return line;
        }
        scanned = this.#end - this.#start;
      }
      if (scanned > max) throw new HTTPError(400, `${what} too long`);
      if (!await this.fill(max + 1)) {
        throw new HTTPError(400, `Incomplete ${what}`);
      }
    }
  }

  /**
   * Reads up to `max` bytes into `p`: from the buffer when it holds any;
   * else straight from the source when `p` is at least as large as the
   * buffer (no copy for large bodies), or through the buffer (one read for
   * many small pieces, such as small chunks with their framing).
   *
   * @param p Where to put the bytes.
   * @param max The most bytes to read.
   * @returns The byte count, or `null` at the end of the source.
   */
  async readInto(p: Uint8Array, max: number): Promise<number | null> {
    const want = Math.min(p.length, max);
    if (this.#start === this.#end) {
      if (this.#eof) return null;
      if (want >= (this.#buf?.length ?? INITIAL_BUFFER)) {
        const flushing = this.beforeFill?.();
        if (flushing) await flushing;
        const n = await this.source.read(p.subarray(0, want));
        if (n === null) this.#eof = true;
        return n;
      }
      if (!await this.fill()) return null;
    }
    const n = Math.min(want, this.#end - this.#start);
    p.set(this.#buf!.subarray(this.#start, this.#start + n));
    this.#start += n;
    return n;
  }
}

const CHUNK_SIZE = /^[0-9A-Fa-f]+$/;
// Significant hex digits that always fit a safe integer (2^52 - 1).
const MAX_CHUNK_DIGITS = 13;
const CHUNK_EXT =
  /^(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*=[ \t]*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"))?)*$/;

/**
 * Reads the chunk-size line that opens a chunk (RFC 9112 §7.1).
 *
 * @returns The chunk size; 0 for the last chunk.
 */
export async function readChunkSize(
  reader: BufferedReader,
  limits: Readonly<RequestLimits>,
): Promise<number> {
  const line = await reader.readLine(limits.maxChunkLine, "chunk-size line");
  checkControls(line);
  let end = 0;
  while (
    end < line.length && line[end] !== ";" && line[end] !== " " &&
    line[end] !== "\t"
  ) end++;
  const hex = line.slice(0, end);
  if (!CHUNK_SIZE.test(hex) || !CHUNK_EXT.test(line.slice(end))) {
    throw new HTTPError(400, `Bad chunk size line (${pyRepr(line)})`);
  }
  // Leading zeros are valid (1*HEXDIG); only the significant digits count.
  let first = 0;
  while (first < hex.length - 1 && hex[first] === "0") first++;
  if (hex.length - first > MAX_CHUNK_DIGITS) {
    throw new HTTPError(400, "Chunk size too large");
  }
  return parseInt(hex, 16);
}

/**
 * Reads the trailer section after the last chunk, with the header rules.
 *
 * @returns The trailer fields.
 */
export async function readTrailers(
  reader: BufferedReader,
  limits: Readonly<RequestLimits>,
): Promise<HTTPMessage> {
  const trailers = new HTTPMessage();
  let total = 0;
  while (true) {
    const left = limits.maxTrailerBytes - total;
    const line = await reader.readLine(Math.max(left, 2), "trailer line")
      .catch((e) => {
        if (e instanceof HTTPError && e.message.endsWith("too long")) {
          throw new HTTPError(431, "Trailers too large");
        }
        throw e;
      });
    if (line === "") return trailers;
    total += line.length + 2;
    if (total > limits.maxTrailerBytes || trailers.size >= limits.maxHeaders) {
      throw new HTTPError(431, "Trailers too large");
    }
    checkControls(line);
    const [name, value] = parseField(line);
    trailers.append(name, value);
  }
}

const NEED_SIZE = 0;
const IN_DATA = 1;
const DONE = 2;
const BROKEN = 3;

/**
 * The body of one request: exactly its bytes (Content-Length) or its decoded
 * chunks, never a byte of the next request. This is the handler's `rfile`.
 *
 * @example Read a JSON body in a handler
 * ```ts ignore
 * const data = await this.rfile.json();
 * ```
 */
export class BodyReader implements AsyncIterable<Uint8Array> {
  /** Trailer fields of a chunked body, once it has been read to its end. */
  trailers: HTTPMessage | null = null;
  /**
   * Called with `true` before each read (to send `100 Continue`, or arm a
   * timer) and with `false` once it has settled.
   */
  onRead: ((reading: boolean) => void) | null = null;
  #reader: BufferedReader | null;
  #limits: Readonly<RequestLimits>;
  #chunked: boolean;
  #state: number;
  #left: number;
  #total = 0;
  #error: unknown = null;

  /**
   * Creates the body reader of one request.
   *
   * @param reader The connection's buffered reader, or `null` for no body.
   * @param head The parsed head that frames the body.
   * @param limits The limits to apply to chunks, trailers and size.
   */
  constructor(
    reader: BufferedReader | null,
    head: Pick<RequestHead, "contentLength" | "chunked"> | null = null,
    limits: Readonly<RequestLimits> = DEFAULT_LIMITS,
  ) {
    this.#limits = limits;
    this.#chunked = head?.chunked ?? false;
    this.#left = head?.contentLength ?? 0;
    this.#reader = reader;
    this.#state = this.#chunked
      ? NEED_SIZE
      : this.#left > 0 && reader !== null
      ? IN_DATA
      : DONE;
  }

  /** Whether the whole body has been read. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** Whether the body is chunked. */
  get chunked(): boolean {
    return this.#chunked;
  }

  /** The body bytes read so far. */
  get bytesRead(): number {
    return this.#total;
  }

  /**
   * Reads body bytes into `p`, like `Deno.Reader`.
   *
   * @param p Where to put the bytes.
   * @returns The number of bytes read, or `null` at the end of the body.
   * @throws {HTTPError} When the body is malformed, too large, or cut off.
   */
  async read(p: Uint8Array): Promise<number | null> {
    if (this.#state === DONE) return null;
    if (this.#state === BROKEN) throw this.#error;
    if (p.length === 0) return 0;
    this.onRead?.(true);
    try {
      return await this.#read(p);
    } catch (error) {
      this.#state = BROKEN;
      this.#error = error;
      throw error;
    } finally {
      this.onRead?.(false);
    }
  }

  async #read(p: Uint8Array): Promise<number | null> {
    const reader = this.#reader!;
    while (true) {
      if (this.#state === NEED_SIZE) {
        const size = await readChunkSize(reader, this.#limits);
        if (size === 0) {
          this.trailers = await readTrailers(reader, this.#limits);
          this.#state = DONE;
          return null;
        }
        this.#checkSize(size);
        this.#left = size;
        this.#state = IN_DATA;
      }
      const n = await reader.readInto(p, this.#left);
      if (n === null) {
        throw new HTTPError(400, "Request body ended early");
      }
      this.#left -= n;
      this.#total += n;
      if (this.#left === 0) {
        if (this.#chunked) {
          if (await reader.readLine(2, "chunk data end") !== "") {
            throw new HTTPError(400, "Chunk data must end with CRLF");
          }
          this.#state = NEED_SIZE;
        } else {
          this.#state = DONE;
        }
      }
      if (n > 0) return n;
    }
  }

  #checkSize(size: number): void {
    const max = this.#limits.maxBodySize;
    if (max !== null && this.#total + size > max) {
      throw new HTTPError(413, "Content Too Large", tooLarge(this.#limits));
    }
  }

  /**
   * Reads the rest of the body into one array.
   *
   * @param limit The most bytes to accept (413 beyond).
   * @returns The bytes.
   * @throws {HTTPError} 413 when the body is larger than `limit`.
   */
  async bytes(
    limit: number | null = this.#limits.maxBodySize,
  ): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const part of this) {
      size += part.length;
      if (limit !== null && size > limit) {
        throw new HTTPError(413, "Content Too Large");
      }
      parts.push(part);
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(size);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  /**
   * Reads the rest of the body as UTF-8 text.
   *
   * @param limit The most bytes to accept (413 beyond).
   * @returns The text.
   */
  async text(limit?: number | null): Promise<string> {
    return new TextDecoder().decode(await this.bytes(limit));
  }

  /**
   * Reads the rest of the body as JSON; malformed JSON is a 400.
   *
   * @param limit The most bytes to accept (413 beyond).
   * @returns The parsed value.
   * @throws {HTTPError} 400 when the body is not JSON.
   */
  async json(limit?: number | null): Promise<unknown> {
    const text = await this.text(limit);
    try {
      return JSON.parse(text);
    } catch {
      throw new HTTPError(400, "Malformed JSON body");
    }
  }

  /**
   * Iterates the rest of the body in chunks of at most 64 KiB.
   *
   * @returns An async iterator of fresh arrays.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      const p = new Uint8Array(
        this.#chunked ? 65536 : Math.min(65536, Math.max(this.#left, 1)),
      );
      const n = await this.read(p);
      if (n === null) return;
      yield p.subarray(0, n);
    }
  }

  /**
   * Reads and discards the rest of the body, up to `max` bytes.
   *
   * @param max The most bytes to discard.
   * @returns `true` when the body ended within `max` bytes.
   */
  async discard(max: number): Promise<boolean> {
    if (this.#state === DONE) return true;
    if (this.#state === BROKEN) return false;
    if (!this.#chunked && this.#left > max) return false;
    const scratch = new Uint8Array(Math.min(65536, Math.max(max, 1)));
    let left = max;
    while (left >= 0) {
      const n = await this.read(scratch);
      if (n === null) return true;
      left -= n;
    }
    return false;
  }
}
