// Copyright 2026 the basehttp authors. MIT license.
// The request head: its errors, limits and fields, what a head may hold and
// what it means. The careful parser lives here; parser.ts holds the fast
// scanner and the readers, and re-exports the public names (this module is
// not a public entry).

import { decodeLatin1, pyRepr, trimOWS, withoutUserinfo } from "./_text.ts";

/**
 * An error in a request, with the HTTP status that answers it. The parser
 * throws it for a bad head; a handler may throw it too, and gets that status
 * as its error page.
 *
 * @example Thrown by the parser
 * ```ts
 * import assert from "node:assert/strict";
 * import { HTTPError, parseRequestHead } from "@basehttp/server/parser";
 *
 * const bad = new TextEncoder().encode("GET / HTTP/2.0\r\n\r\n");
 * assert.throws(
 *   () => parseRequestHead(bad),
 *   (error) => error instanceof HTTPError && error.status === 505,
 * );
 * ```
 */
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
   * @throws {RangeError} When `status` is not an integer from 400 to 599.
   */
  constructor(status: number, message: string, explain?: string) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`HTTPError needs a 4xx or 5xx status: ${status}`);
    }
    super(message);
    this.name = "HTTPError";
    this.status = status;
    this.explain = explain;
  }
}

/**
 * On an HTTPError for a head whose request line was read: that line, so
 * the answer is made as Python's is once parse_request has the method (a
 * HEAD gets no body) and the log shows the line.
 */
const REQUEST_LINE: unique symbol = Symbol("basehttp.requestLine");

/** The request line an HTTPError came after, if it did. */
export function requestLineOf(error: unknown): string | undefined {
  return (error as { [REQUEST_LINE]?: string } | null)?.[REQUEST_LINE];
}

/**
 * On an HTTPError for a request line refused whole (bad syntax, version,
 * method or target): that line, for the log, which Python's shows too.
 */
const REFUSED_LINE: unique symbol = Symbol("basehttp.refusedLine");

/** The request line an HTTPError refused, if it was read whole. */
export function refusedLineOf(error: unknown): string | undefined {
  return (error as { [REFUSED_LINE]?: string } | null)?.[REFUSED_LINE];
}

/**
 * Marks `error`, an HTTPError, as refusing the request line `line`, which
 * the log shows with a target's userinfo left out.
 */
function refusedLine(error: unknown, line: string): unknown {
  (error as HTTPError & { [REFUSED_LINE]?: string })[REFUSED_LINE] =
    withoutUserinfo(line);
  return error;
}

/**
 * Marks `error`, if it is an HTTPError, as coming after the request line
 * of these three words; a target's userinfo is left out, as in the log.
 */
export function afterRequestLine(
  error: unknown,
  command: string,
  target: string,
  version: string,
): unknown {
  if (error instanceof HTTPError) {
    (error as HTTPError & { [REQUEST_LINE]?: string })[REQUEST_LINE] =
      `${command} ${withoutUserinfo(target)} ${version}`;
  }
  return error;
}

/**
 * Limits applied while reading a request; `maxBodySize` and
 * `maxStreamedBodySize` may be `null`, for no bound.
 */
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
  /**
   * Largest body the library holds in memory for a handler: `rfile.bytes()`,
   * `text()`, `json()` and the CGI spool (413 beyond). A body read as a stream
   * is not bound by it. @default {104857600}
   */
  maxBodySize: number | null;
  /**
   * Largest body, however it is read (413 beyond); off by default, as in
   * Python, Node, Go and `Deno.serve`: a streamed upload may be of any size.
   * @default {null}
   */
  maxStreamedBodySize: number | null;
}

/**
 * The default {@linkcode RequestLimits}: Python's line and count limits.
 *
 * @example Tighter limits for one server
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_LIMITS } from "@basehttp/server/parser";
 *
 * assert.equal(DEFAULT_LIMITS.maxRequestLine, 65536); // Python's _MAXLINE
 * const limits = { ...DEFAULT_LIMITS, maxHeaders: 20 };
 * assert.equal(limits.maxHeaders, 20);
 * ```
 */
export const DEFAULT_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxRequestLine: 65536,
  maxHeaderLine: 65536,
  maxHeaders: 100,
  maxHeadBytes: 1 << 20,
  maxChunkLine: 4096,
  maxTrailerBytes: 16384,
  maxBodySize: 100 * 1024 * 1024,
  maxStreamedBodySize: null,
});

function isLetter(lower: number): boolean {
  return lower >= 0x61 && lower <= 0x7a;
}

/** The bit of a name length in a set of lengths; 31 stands for 31 or more. */
export function lengthBit(length: number): number {
  return 1 << (length < 31 ? length : 31);
}

/**
 * Fields already located in a text, for an {@linkcode HTTPMessage} to keep
 * as they are: only this module and parser.ts make one.
 */
export class FieldTable {
  /**
   * Wraps fields located in `text`.
   *
   * @param text The text that holds the fields.
   * @param offsets Name start, name end, value start, value end per field.
   * @param size The number of fields.
   * @param lengths The name lengths present, as lengthBit bits.
   */
  constructor(
    readonly text: string,
    readonly offsets: number[],
    readonly size: number,
    readonly lengths: number,
  ) {}
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
  constructor(fields?: [string, string][]);
  /**
   * Headers over fields the parser located (a module-private type).
   *
   * @ignore
   */
  constructor(fields: FieldTable);
  constructor(fields: [string, string][] | FieldTable = []) {
    if (fields instanceof FieldTable) {
      this.#text = fields.text;
      this.#offsets = fields.offsets;
      this.#size = fields.size;
      this.#lengths = fields.lengths;
      return;
    }
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
   * What `console.log` and `Deno.inspect` show: the fields in order, as
   * pairs (a field may repeat, so not as an object).
   *
   * @param inspect Deno's inspect, passed in by it.
   * @param options Its options, for nested values.
   * @returns The text shown.
   */
  [Symbol.for("Deno.customInspect")](
    inspect: typeof Deno.inspect,
    options: Deno.InspectOptions,
  ): string {
    return `HTTPMessage(${this.#size}) ${inspect(this.items(), options)}`;
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

/**
 * Parses a header field line into `[name, value]`, or throws a 400.
 * Shared by request heads and chunked trailers.
 *
 * @param line The field line, without its line end.
 * @returns The name and the value without surrounding whitespace.
 */
export function parseField(line: string): [string, string] {
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

/**
 * Checks a decoded head or trailer block for characters a head never holds.
 *
 * @param text The decoded text.
 */
export function checkControls(text: string): void {
  if (FORBIDDEN_CONTROL.test(text)) {
    throw new HTTPError(400, "Control character in request head");
  }
}

/**
 * Splits a head into lines, accepting CRLF or bare LF. `ends[i]` is the
 * length of line i's line end, for the line limits.
 */
function splitLines(text: string): { lines: string[]; ends: number[] } {
  const lines = text.split("\n");
  const ends: number[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    ends[i] = lines[i].endsWith("\r") ? 2 : 1;
    if (ends[i] === 2) lines[i] = lines[i].slice(0, -1);
  }
  return { lines, ends };
}

/** A 400 for a stray CR (one not ending a line) or a control character. */
function checkHeadText(text: string): void {
  if (text.includes("\r")) throw new HTTPError(400, "Bare CR in request head");
  checkControls(text);
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

// Byte classes, for the checks here and parser.ts's one-pass head scanner.
/** Token: methods and field names. */
export const TCHAR = 1;
/** Field-content: VCHAR, obs-text, SP, HTAB. */
export const FIELD_CHAR = 2;
/** Request-target: visible ASCII. */
export const TARGET_CHAR = 4;
/** The classes of each byte value, as bits. */
export const CLASSES: Uint8Array = new Uint8Array(256);
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
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isToken } from "@basehttp/server/parser";
 *
 * assert.equal(isToken("X-Request-Id"), true);
 * assert.equal(isToken("Bad Name"), false);
 * ```
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
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isFieldValue } from "@basehttp/server/parser";
 *
 * assert.equal(isFieldValue("text/html; charset=utf-8"), true);
 * assert.equal(isFieldValue("a\r\nSet-Cookie: b"), false);
 * ```
 */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || !(CLASSES[c] & FIELD_CHAR)) return false;
  }
  return true;
}

/** The words of a request line, checked. */
interface RequestLine {
  command: string;
  target: string;
  version: string;
  minor: number;
}

/**
 * Checks a request line: its length, three words, an HTTP/1.x version, a
 * token method, the target's characters.
 *
 * @param requestline The line without its line end.
 * @param end The length of its line end (1 or 2).
 * @param limits The limits to apply (`maxRequestLine`).
 * @returns Its words.
 * @throws {HTTPError} 414, 505 or 400.
 */
export function parseRequestLine(
  requestline: string,
  end: number,
  limits: Readonly<RequestLimits>,
): RequestLine {
  if (requestline.length + end > limits.maxRequestLine) {
    throw new HTTPError(414, "URI Too Long", "URI is too long");
  }
  const words = requestline.split(" ");
  const version = words.at(-1)!;
  const refuse = (status: number, message: string, explain?: string) =>
    refusedLine(new HTTPError(status, message, explain), requestline);
  // The line as the log shows it; a target's userinfo left out, as always,
  // wherever a malformed line has it.
  const logged = withoutUserinfo(requestline);
  if (words.length === 3 && !VERSION.test(version)) {
    throw refuse(
      400,
      `Bad request version (${pyRepr(withoutUserinfo(version))})`,
    );
  }
  if (words.length !== 3) {
    throw refuse(400, `Bad request syntax (${pyRepr(logged)})`);
  }
  const [command, target] = words;
  const major = version.charCodeAt(5) - 48;
  const minor = version.charCodeAt(7) - 48;
  if (major !== 1) {
    throw refuse(
      505,
      `Invalid HTTP version (${major}.${minor})`,
      "Cannot fulfill request",
    );
  }
  if (!isToken(command)) {
    throw refuse(
      400,
      `Bad request method (${pyRepr(withoutUserinfo(command))})`,
    );
  }
  if (!TARGET.test(target)) {
    throw refuse(
      400,
      `Bad request target (${pyRepr(withoutUserinfo(target))})`,
    );
  }
  return { command, target, version, minor };
}

/**
 * The careful parser: anything the one-pass scanner does not accept comes
 * here, to be accepted or refused with the precise status and message.
 *
 * @param bytes The head, through its final empty line.
 * @param limits The limits to apply (all but `maxHeadBytes`).
 * @returns The parsed head.
 * @throws {HTTPError} When the head is malformed or over a limit.
 */
export function parseIrregularHead(
  bytes: Uint8Array,
  limits: Readonly<RequestLimits>,
): RequestHead {
  const text = decodeLatin1(bytes);
  const { lines, ends } = splitLines(text);
  // The head ends with an empty line, so splitting leaves two empty strings.
  if (lines.length < 3 || lines.at(-1) !== "" || lines.at(-2) !== "") {
    throw new HTTPError(400, "Incomplete request head");
  }
  const requestline = lines[0];
  // The request line first, on its own: once it is read, a refusal of the
  // fields is answered as for its method (a HEAD gets no body), and either
  // way the log shows the line.
  try {
    checkHeadText(requestline);
  } catch (error) {
    throw refusedLine(error, requestline);
  }
  const { command, target, version, minor } = parseRequestLine(
    requestline,
    ends[0],
    limits,
  );
  try {
    const count = lines.length - 3;
    if (count > limits.maxHeaders) {
      throw new HTTPError(431, "Too many headers", tooMany(limits.maxHeaders));
    }
    const fields: [string, string][] = new Array(count);
    for (let i = 0; i < count; i++) {
      const line = lines[i + 1];
      checkHeadText(line);
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
  } catch (error) {
    throw afterRequestLine(error, command, target, version);
  }
}

/**
 * Where a connection keeps the last Host value found good: a server sees the
 * same few, again and again, and most are checked by one comparison.
 */
export interface HostCache {
  /** The last Host value found good; `""` before the first. */
  lastHost: string;
}

/**
 * The scanner's state: what the fast scanner found in the head it accepted,
 * relative to the head's start, and a Host cache. Only read right after a
 * scan, so one serves every connection of a server (parseRequestHead makes
 * its own).
 */
export class HeadScanner implements HostCache {
  methodEnd = 0;
  targetEnd = 0;
  /** The field count. */
  size = 0;
  /** The name lengths present (lengthBit). */
  lengths = 0;
  // Name start, name end, value start, value end per field. A plain array:
  // a typed array costs far more to allocate than to fill.
  offsets: number[] = [];
  lastHost = "";
}

/** The key of a BufferedReader's scanner, which its engine may give it. */
export const SCANNER: unique symbol = Symbol("basehttp.scanner");

/** The key of a BufferedReader's skip of the empty lines before a head. */
export const SKIP_EMPTY_LINES: unique symbol = Symbol("basehttp.skipEmpty");

/**
 * The keys of a BufferedReader's read for an engine that issues it itself,
 * so that a connection waiting for a request holds one continuation: the
 * room to read into, then what the read returned.
 */
export const READ_ROOM: unique symbol = Symbol("basehttp.readRoom");
export const READ_DONE: unique symbol = Symbol("basehttp.readDone");

/**
 * Checks what shapes the message, shared by both parsers: the target's form,
 * Host, and the body's framing (Content-Length, Transfer-Encoding).
 *
 * @param requestline The request line without its line end.
 * @param command The method.
 * @param target The request-target.
 * @param version The version token.
 * @param minor The minor version.
 * @param headers The header fields.
 * @param limits The limits to apply (`maxBodySize`).
 * @param hosts The connection's Host cache, if it has one.
 * @returns The head.
 * @throws {HTTPError} When the head is well-formed but not acceptable.
 */
export function frameHead(
  requestline: string,
  command: string,
  target: string,
  version: string,
  minor: number,
  headers: HTTPMessage,
  limits: Readonly<RequestLimits>,
  hosts: HostCache | null = null,
): RequestHead {
  checkTarget(command, target);
  const host = headers.getAll("host");
  if (host.length > 1 || (minor >= 1 && host.length === 0)) {
    throw new HTTPError(
      400,
      host.length ? "Repeated Host header" : "Missing Host",
    );
  }
  if (host.length === 1 && host[0] !== hosts?.lastHost) {
    if (!PLAIN_HOST.test(host[0]) && !HOST.test(host[0])) {
      throw new HTTPError(400, "Bad Host header");
    }
    if (hosts !== null) hosts.lastHost = host[0];
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
    const max = limits.maxStreamedBodySize;
    if (max !== null && contentLength > max) {
      throw contentTooLarge("the body is", max);
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
    throw new HTTPError(
      400,
      `Bad request target (${pyRepr(withoutUserinfo(target))})`,
    );
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

/**
 * The explanation of a 431 for too many fields.
 *
 * @param max The most fields allowed.
 * @returns Python's explanation.
 */
export function tooMany(max: number): string {
  return `got more than ${max} headers`;
}

/**
 * The explanation of a 431 for a field line too long.
 *
 * @param limits The limits that were applied.
 * @returns Python's explanation.
 */
export function lineTooLong(limits: Readonly<RequestLimits>): string {
  return `got more than ${limits.maxHeaderLine} bytes when reading header line`;
}

/**
 * A 413 for what went past `max` bytes: a body, an upload, a form's part.
 *
 * @param what What it was, with its verb: `"the body is"`.
 * @param max The limit.
 * @returns The error.
 */
export function contentTooLarge(what: string, max: number): HTTPError {
  return new HTTPError(
    413,
    "Content Too Large",
    `${what} larger than ${max} bytes`,
  );
}
