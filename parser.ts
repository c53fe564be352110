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

import { decodeLatin1, pyRepr } from "./_text.ts";
import {
  afterRequestLine,
  checkControls,
  CLASSES,
  contentTooLarge,
  DEFAULT_LIMITS,
  FIELD_CHAR,
  FieldTable,
  frameHead,
  HeadScanner,
  type HostCache,
  HTTPError,
  HTTPMessage,
  lengthBit,
  lineTooLong,
  parseField,
  parseIrregularHead,
  parseRequestLine,
  READ_DONE,
  READ_ROOM,
  type RequestHead,
  type RequestLimits,
  SCANNER,
  SKIP_EMPTY_LINES,
  TARGET_CHAR,
  TCHAR,
  tooMany,
} from "./_head.ts";

export {
  DEFAULT_LIMITS,
  HTTPError,
  HTTPMessage,
  isFieldValue,
  isToken,
  type RequestHead,
  type RequestLimits,
} from "./_head.ts";
import { GrowingBytes, LF } from "./_bytes.ts";
import { handled } from "./_handled.ts";

const utf8 = new TextDecoder();

const INCOMPLETE = -1;
const IRREGULAR = -2;
const MAX_SCANNED_FIELDS = 1024;
// parseRequestHead scans shorter heads byte by byte: a DataView costs more to
// make than it saves there.
const VIEWED_HEAD = 256;

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
 * byte of no class (a sentinel), or the bytes must end with an empty line
 * (the scanner reads none past it), so the inner loops need no bounds checks.
 * `view` is a DataView over `b`: targets and values, the long parts, are
 * checked four bytes at a time (or byte by byte, without one). What it finds
 * goes to `scan`.
 *
 * @returns The head's length; INCOMPLETE when more bytes may complete it;
 *   IRREGULAR for anything else, which the careful parser then judges.
 */
function scanHead(
  b: Uint8Array,
  view: DataView | null,
  start: number,
  end: number,
  limits: Readonly<RequestLimits>,
  scan: HeadScanner,
): number {
  let i = start;
  while (CLASSES[b[i]] & TCHAR) i++;
  if (i === end) return INCOMPLETE;
  if (b[i] !== 0x20 || i === start) return IRREGULAR;
  const targetStart = ++i;
  while (
    view !== null && i + 4 <= end && isTargetWord(view.getInt32(i, true))
  ) i += 4;
  while (CLASSES[b[i]] & TARGET_CHAR) i++;
  if (i + 10 > end) return i === end || b[i] === 0x20 ? INCOMPLETE : IRREGULAR;
  if (
    b[i] !== 0x20 || i === targetStart || b[i + 1] !== 0x48 ||
    b[i + 2] !== 0x54 || b[i + 3] !== 0x54 || b[i + 4] !== 0x50 ||
    b[i + 5] !== 0x2f || b[i + 6] !== 0x31 || b[i + 7] !== 0x2e ||
    b[i + 8] < 0x30 || b[i + 8] > 0x39
  ) return IRREGULAR;
  // The fields the limit allows, up to a bound: a head with more fields
  // than that goes to the careful parser.
  const room = Math.min(limits.maxHeaders, MAX_SCANNED_FIELDS);
  const offsets = scan.offsets;
  const methodEnd = targetStart - 1 - start;
  const targetEnd = i - start;
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
      scan.methodEnd = methodEnd;
      scan.targetEnd = targetEnd;
      scan.size = fields;
      scan.lengths = lengths;
      return i + 1 - start;
    }
    if (i === end) return INCOMPLETE;
    if (b[i] !== 0x3a || fields === room) return IRREGULAR;
    const at = 4 * fields++;
    lengths |= lengthBit(i - lineStart);
    offsets[at] = lineStart - start;
    offsets[at + 1] = i - start;
    i++;
    while (b[i] === 0x20 || b[i] === 0x09) i++;
    const valueStart = i;
    while (
      view !== null && i + 4 <= end && isValueWord(view.getInt32(i, true))
    ) i += 4;
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

/**
 * Builds the head that scanHead found (`scan`) in `text`, its bytes
 * decoded; the headers keep `offsets`, the fields' offsets (scan.offsets or
 * a copy). `hosts` is the connection's Host cache, if there is one.
 */
function headOfScan(
  text: string,
  scan: HeadScanner,
  offsets: number[],
  limits: Readonly<RequestLimits>,
  hosts: HostCache | null = null,
): RequestHead {
  const { methodEnd, targetEnd } = scan;
  const requestline = text.slice(0, targetEnd + 9);
  const command = text.slice(0, methodEnd);
  const target = text.slice(methodEnd + 1, targetEnd);
  const version = requestline.slice(targetEnd + 1);
  try {
    return frameHead(
      requestline,
      command,
      target,
      version,
      text.charCodeAt(targetEnd + 8) - 48,
      new HTTPMessage(new FieldTable(text, offsets, scan.size, scan.lengths)),
      limits,
      hosts,
    );
  } catch (error) {
    throw afterRequestLine(error, command, target, version);
  }
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
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRequestHead } from "@basehttp/server/parser";
 *
 * const head = parseRequestHead(
 *   new TextEncoder().encode("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n"),
 * );
 * assert.equal(head.command, "POST");
 * assert.equal(head.headers.get("host"), "a");
 * assert.equal(head.contentLength, 3);
 * ```
 */
export function parseRequestHead(
  bytes: Uint8Array,
  limits?: Readonly<RequestLimits>,
): RequestHead {
  limits ??= DEFAULT_LIMITS;
  // readHead() checks this only while a head is incomplete; one that came
  // whole in a single read is checked here.
  if (bytes.length > limits.maxHeadBytes) {
    throw new HTTPError(431, "Request head too large");
  }
  const n = bytes.length;
  // Bytes that end with an empty line need no sentinel (see scanHead); any
  // other bytes are no head, and the careful parser says what is wrong.
  const ended = n >= 2 && bytes[n - 1] === 0x0a &&
    (bytes[n - 2] === 0x0a ||
      (n >= 3 && bytes[n - 2] === 0x0d && bytes[n - 3] === 0x0a));
  if (!ended) return parseIrregularHead(bytes, limits);
  const scan = new HeadScanner();
  const view = n < VIEWED_HEAD
    ? null
    : new DataView(bytes.buffer, bytes.byteOffset, n);
  return scanHead(bytes, view, 0, n, limits, scan) === n
    ? headOfScan(decodeLatin1(bytes), scan, scan.offsets, limits)
    : parseIrregularHead(bytes, limits);
}

/** What {@linkcode BufferedReader} reads from: a `Deno.Conn` or alike. */
export interface Reader {
  /** Reads into `p`; resolves to the byte count (maybe 0) or `null` at EOF. */
  read(p: Uint8Array): Promise<number | null>;
}

const INITIAL_BUFFER = 1024;
// Reads that give 0 in a row before the source is taken to have ended.
const MAX_EMPTY_READS = 100;
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
 *
 * @example Two pipelined heads from one source
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferedReader } from "@basehttp/server/parser";
 *
 * const bytes = new TextEncoder().encode(
 *   "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
 * );
 * let sent = false;
 * const reader = new BufferedReader({
 *   read(p: Uint8Array): Promise<number | null> {
 *     if (sent) return Promise.resolve(null);
 *     sent = true;
 *     p.set(bytes);
 *     return Promise.resolve(bytes.length);
 *   },
 * });
 * assert.equal((await reader.readHead())?.target, "/a");
 * assert.equal((await reader.readHead())?.target, "/b");
 * assert.equal(await reader.readHead(), null);
 * ```
 */
export class BufferedReader {
  /** The source. */
  readonly source: Reader;
  /**
   * The scanner's state, made when a head is first scanned; its server's
   * engine gives it one scanner for all its connections.
   *
   * @ignore
   */
  [SCANNER]: HeadScanner | null = null;
  #buf: Uint8Array | null = null;
  // Over #buf, made for a long head and dropped when the reader goes idle.
  #view: DataView | null = null;
  #start = 0;
  #end = 0;
  #eof = false;
  // Reads in a row that gave 0: allowed (Deno's Reader discourages them),
  // but a source that gives only 0 ends, as Go's bufio gives up after 100.
  #zeros = 0;
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

  /**
   * Drops the empty lines buffered before a request line, which RFC 9112
   * §2.2 ignores: they start no head (a CR alone may, until its LF comes).
   *
   * @ignore
   */
  [SKIP_EMPTY_LINES](): void {
    const buf = this.#buf;
    let start = this.#start;
    while (buf !== null && start < this.#end) {
      if (buf[start] === 10) start++;
      else if (
        buf[start] === 13 && start + 1 < this.#end && buf[start + 1] === 10
      ) {
        start += 2;
      } else break;
    }
    this.#start = start;
  }

  /** The size of the buffer: the memory this reader holds. */
  get capacity(): number {
    return this.#buf?.length ?? 0;
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
   * @param max The most bytes a head may need the buffer to hold; 1 MiB
   *   when absent.
   * @returns `false` at the end of the source.
   */
  fill(max?: number): Promise<boolean> {
    if (this.#eof) return ENDED;
    return this.source.read(this.#room(max ?? 1 << 20)).then((n) =>
      this.#took(n)
    );
  }

  /**
   * The room of the read that waits for the next request, for an engine that
   * reads the source itself and hands what the read returned to
   * `[READ_DONE]`. A buffer grown past its first size goes back to it when
   * the last reads used no more than that: an idle connection holds 1 KiB.
   *
   * @ignore
   */
  [READ_ROOM](max: number): Uint8Array {
    const buf = this.#buf;
    if (
      buf !== null && buf.length > INITIAL_BUFFER &&
      this.#start === this.#end && this.#end < INITIAL_BUFFER
    ) {
      this.#buf = this.#view = null;
      this.#start = this.#end = 0;
      this.#full = false;
    }
    return this.#room(max);
  }

  /**
   * Takes what a read into the room of `[READ_ROOM]` returned.
   *
   * @ignore
   */
  [READ_DONE](n: number | null): boolean {
    return this.#took(n);
  }

  /** Makes room for a read, moving or growing the buffer; returns it. */
  #room(max: number): Uint8Array {
    this.#text = ""; // the bytes may move
    let buf = this.#buf ??= new Uint8Array(INITIAL_BUFFER);
    const used = this.#end - this.#start;
    // A read that took all the room says more was waiting.
    const batch = this.#full && buf.length < BATCH_BUFFER;
    if (used === 0 && !batch) {
      this.#start = this.#end = 0;
      this.#view = null; // an idle connection holds its buffer alone
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
    // A read into an empty buffer takes all of it; else the last byte stays
    // free for takeHead()'s sentinel.
    return this.#end === 0 ? buf : buf.subarray(this.#end, buf.length - 1);
  }

  /**
   * Whether a read that gave `n`, null or 0, ends the source: null does,
   * and the 0 of the last of MAX_EMPTY_READS reads in a row that gave 0.
   */
  #ended(n: number | null): boolean {
    if (n !== null && ++this.#zeros < MAX_EMPTY_READS) return false;
    this.#eof = true;
    return true;
  }

  #took(n: number | null): boolean {
    if (n === null || !(n > 0)) return !this.#ended(n);
    this.#zeros = 0;
    const room = this.#buf!.length - (this.#end === 0 ? 0 : 1) - this.#end;
    this.#full = n === room; // took all the room
    this.#end += n;
    return true;
  }

  /**
   * Takes a request head of the usual shape that is already buffered whole,
   * without waiting: pipelined requests are parsed with no await.
   *
   * @param limits The limits to apply.
   * @returns The head, or `undefined` when {@linkcode readHead} must decide.
   * @throws {HTTPError} When the head is well-formed but not acceptable.
   */
  takeHead(limits?: Readonly<RequestLimits>): RequestHead | undefined {
    limits ??= DEFAULT_LIMITS;
    const buf = this.#buf;
    const start = this.#start;
    if (buf === null || start === this.#end) return undefined;
    // The scanner's sentinel goes after the bytes; in a buffer that a read
    // filled, on its last byte, kept aside meanwhile (a head that ends
    // there is left to readHead).
    const end = Math.min(this.#end, buf.length - 1);
    const last = buf[end];
    buf[end] = 0;
    // A DataView costs more to make than it saves on a short head.
    const view = end - start < VIEWED_HEAD
      ? null
      : this.#view ??= new DataView(buf.buffer);
    const scan = this[SCANNER] ??= new HeadScanner();
    const length = scanHead(buf, view, start, end, limits, scan);
    buf[end] = last;
    if (length <= 0 || length > limits.maxHeadBytes) return undefined;
    const text = this.#textOf(buf, length, scan) ??
      decodeLatin1(buf.subarray(this.#start, this.#start + length));
    const offsets = scan.offsets.slice(0, 4 * scan.size);
    const head = headOfScan(text, scan, offsets, limits, scan);
    this.#start += length;
    return head;
  }

  /**
   * The text of the head of `length` bytes at the start of the buffer, when
   * it can be had cheaper than by decoding it alone: pipelined heads are
   * decoded together, once (a decode costs more to start than per byte).
   * `scan` is what scanHead found in it.
   */
  #textOf(
    buf: Uint8Array,
    length: number,
    scan: HeadScanner,
  ): string | undefined {
    const start = this.#start;
    let at = start - this.#textStart;
    if (at < 0 || at + length > this.#text.length) {
      // Only a head without a body is likely followed by another head.
      const end = Math.min(this.#end, start + BATCH_TEXT);
      if (end - start <= length || scan.lengths & BODY_NAMES) return;
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
    limits?: Readonly<RequestLimits>,
  ): Promise<RequestHead | null> {
    limits ??= DEFAULT_LIMITS;
    // Offsets are relative to #start so that fill() may move the bytes.
    let scanned = 0;
    let lineStart = 0;
    let lines = 0;
    let firstLineEnd = 0;
    while (true) {
      const buf = this.#buf;
      if (scanned === 0) {
        const head = this.takeHead(limits);
        if (head !== undefined) return head;
      }
      while (buf !== null && scanned < this.#end - this.#start) {
        if (lines === 0 && scanned === 0) {
          this.#checkFirstByte(buf[this.#start]);
        }
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
          if (lines === 0) firstLineEnd = scanned;
          this.#checkLine(lines++, scanned - lineStart, limits, firstLineEnd);
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
      const refuse = (status: number, message: string, explain?: string) =>
        this.#afterFirstLine(
          new HTTPError(status, message, explain),
          firstLineEnd,
          limits,
        );
      this.#checkLine(
        Math.min(lines, 1),
        scanned - lineStart,
        limits,
        firstLineEnd,
      );
      if (scanned > limits.maxHeadBytes) {
        throw refuse(431, "Request head too large");
      }
      // A line that starts with CR can only be the empty line that ends
      // the head: CR and then any byte but LF is a bare CR, known now.
      const first = this.#start + lineStart;
      if (lines > 0 && buf?.[first] === 13 && first + 1 < this.#end) {
        throw refuse(400, "Bare CR in the request head");
      }
      if (!await this.fill(limits.maxHeadBytes + 1)) {
        if (this.#end === this.#start) return null;
        throw refuse(400, "Incomplete request head");
      }
    }
  }

  /**
   * A request line begins with a method, a token: any other first byte is
   * refused now rather than once its line ends, which garbage (a TLS
   * handshake on a plain port) may never do within headerTimeout; and
   * before any limit, however the bytes arrive. CR and LF may begin an
   * empty line; the careful parser refuses the rest with 400 too.
   */
  #checkFirstByte(byte: number): void {
    if (byte === 10 || byte === 13 || CLASSES[byte] & TCHAR) return;
    throw byte === 0x16
      ? new HTTPError(
        400,
        "Bad request: a TLS handshake (https://) on a plain HTTP port",
      )
      : new HTTPError(
        400,
        `Bad request syntax: a request cannot begin with ${
          pyRepr(String.fromCharCode(byte))
        }`,
      );
  }

  #checkLine(
    index: number,
    length: number,
    limits: Readonly<RequestLimits>,
    firstLineEnd: number,
  ) {
    if (index === 0) {
      if (length > limits.maxRequestLine) {
        throw new HTTPError(414, "URI Too Long", "URI is too long");
      }
    } else if (length > limits.maxHeaderLine) {
      throw this.#afterFirstLine(
        new HTTPError(431, "Line too long", lineTooLong(limits)),
        firstLineEnd,
        limits,
      );
    } else if (index > limits.maxHeaders) {
      throw this.#afterFirstLine(
        new HTTPError(431, "Too many headers", tooMany(limits.maxHeaders)),
        firstLineEnd,
        limits,
      );
    }
  }

  /**
   * `error`, marked with the request line when a good one came whole
   * before it (`firstLineEnd` bytes from the head's start; 0: none).
   */
  #afterFirstLine(
    error: HTTPError,
    firstLineEnd: number,
    limits: Readonly<RequestLimits>,
  ): HTTPError {
    if (firstLineEnd === 0 || this.#buf === null) return error;
    const line = decodeLatin1(
      this.#buf.subarray(this.#start, this.#start + firstLineEnd),
    );
    const end = line.endsWith("\r\n") ? 2 : 1;
    try {
      const words = parseRequestLine(line.slice(0, -end), end, limits);
      afterRequestLine(error, words.command, words.target, words.version);
    } catch {
      // Not a request line: nothing is known of the method.
    }
    return error;
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
   * @param until A byte to stop after (a line's LF), if any.
   * @returns The byte count, or `null` at the end of the source.
   */
  async readInto(
    p: Uint8Array,
    max: number,
    until?: number,
  ): Promise<number | null> {
    let want = Math.min(p.length, max);
    if (this.#start === this.#end) {
      if (this.#eof) return null;
      // Not past the stop byte: a read straight into p could go beyond it.
      if (
        until === undefined && want >= (this.#buf?.length ?? INITIAL_BUFFER)
      ) {
        const n = await this.source.read(p.subarray(0, want));
        if (n !== null && n > 0) {
          this.#zeros = 0;
          return n;
        }
        return this.#ended(n) ? null : 0;
      }
      if (!await this.fill()) return null;
    }
    if (until !== undefined) {
      const at = this.#buf!.indexOf(until, this.#start);
      if (at !== -1 && at < this.#end) {
        want = Math.min(want, at - this.#start + 1);
      }
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

// Framing a chunked body may carry beyond its data, as Go's: 16 bytes a
// chunk and twice its data are free, then 16 KiB in all. One byte a chunk
// ("1\r\nX\r\n") passes; 4 KB of extensions a byte of data does not, which
// would let a drain of 64 KiB of data read 256 MiB.
const FREE_CHUNK_OVERHEAD = 16;
const MAX_CHUNK_OVERHEAD = 16384;

/** The size of the chunk a chunk-size line opens (RFC 9112 §7.1); 0 ends. */
function chunkSizeOf(line: string): number {
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

/** Reads the trailer section after the last chunk, with the header rules. */
async function readTrailers(
  reader: BodySource,
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

/** Where a {@linkcode BodyReader} reads: a {@linkcode BufferedReader} is one. */
export interface BodySource {
  /** Reads one CRLF-terminated line of at most `max` bytes, without it. */
  readLine(max: number, what: string): Promise<string>;
  /**
   * Reads up to `max` bytes into `p`, and no further than the first
   * `until` byte when given (`BodyReader.readline()` relies on it: it cannot
   * give back bytes past its line); `null` at the end of the source.
   */
  readInto(
    p: Uint8Array,
    max: number,
    until?: number,
  ): Promise<number | null>;
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
  #reader: BodySource | null;
  #limits: Readonly<RequestLimits>;
  #chunked: boolean;
  #state: number;
  #left: number;
  #total = 0;
  // Chunk framing beyond what its data allows (FREE_CHUNK_OVERHEAD).
  #overhead = 0;
  #cap: number | null;
  #error: unknown = null;
  #reading = false;
  #lineBuffer: Uint8Array | null = null;

  /**
   * Creates the body reader of one request.
   *
   * @param reader Where the body's bytes come from, such as the
   *   connection's {@linkcode BufferedReader}; `null` for no body.
   * @param head The parsed head that frames the body.
   * @param limits The limits to apply to chunks, trailers and size.
   */
  constructor(
    reader: BodySource | null,
    head?: Pick<RequestHead, "contentLength" | "chunked"> | null,
    limits?: Readonly<RequestLimits>,
  ) {
    limits ??= DEFAULT_LIMITS;
    this.#limits = limits;
    this.#chunked = head?.chunked ?? false;
    this.#left = head?.contentLength ?? 0;
    this.#cap = limits.maxStreamedBodySize;
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

  /**
   * Whether a read of the body failed (malformed, too large, cut off): the
   * rest of it cannot be found, so the connection closes after the answer.
   */
  get failed(): boolean {
    return this.#state === BROKEN;
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
   * @throws {TypeError} While another read of the body is pending, or
   *   when `p` is not a `Uint8Array`.
   */
  read(p: Uint8Array): Promise<number | null> {
    // Python's rfile.read(n) takes a count; ported as it is, it would fail
    // deep inside with "p.set is not a function".
    if (!(p instanceof Uint8Array)) {
      return handled(Promise.reject(
        new TypeError(
          "rfile.read() fills the Uint8Array it is given; for the whole body, await rfile.bytes()",
        ),
      ));
    }
    return handled(this.#guarded(p));
  }

  /**
   * Reads one line of the body, its LF included, as Python's
   * `rfile.readline(limit)` does: at most `limit` bytes (a longer line comes
   * in pieces), and an empty array at the end of the body.
   *
   * @example Read a body line by line
   * ```ts ignore
   * for (let line; (line = await this.rfile.readline()).length > 0;) {
   *   console.log(new TextDecoder().decode(line));
   * }
   * ```
   *
   * @param limit The most bytes to return; `null` for no bound (Python's
   *   `readline(-1)`), which holds a line of any length in memory.
   * @returns The line, or an empty array at the end of the body.
   * @throws {RangeError} When `limit` is neither a positive integer nor null.
   * @throws {HTTPError} When the body is malformed, too large, or cut off.
   */
  readline(limit: number | null = 65536): Promise<Uint8Array<ArrayBuffer>> {
    return handled(this.#readline(limit));
  }

  async #readline(bound: number | null): Promise<Uint8Array<ArrayBuffer>> {
    if (bound !== null && (!Number.isSafeInteger(bound) || bound < 1)) {
      throw new RangeError(
        "readline() limit must be a positive integer, or null for no bound",
      );
    }
    const limit = bound ?? Infinity;
    const p = this.#lineBuffer ??= new Uint8Array(4096);
    // Most lines come in one piece: copied out once, at their own size.
    let line: GrowingBytes | null = null;
    for (let got = 0; got < limit;) {
      const room = p.subarray(0, Math.min(p.length, limit - got));
      const n = await this.#guarded(room, LF);
      if (n === null) break;
      const piece = room.subarray(0, n);
      const ended = piece[n - 1] === LF || got + n === limit;
      if (line === null && ended) return piece.slice();
      (line ??= new GrowingBytes(limit)).append(piece);
      got += n;
      if (ended) break;
    }
    return line?.bytes() ?? new Uint8Array(0);
  }

  async #guarded(p: Uint8Array, until?: number): Promise<number | null> {
    if (this.#state === DONE) return null;
    if (this.#state === BROKEN) throw this.#error;
    if (p.length === 0) return 0;
    // Two reads at once would both count the same bytes as left.
    if (this.#reading) {
      throw new TypeError("rfile is already being read: await that read");
    }
    this.#reading = true;
    try {
      return await this.#read(p, until);
    } catch (error) {
      this.#state = BROKEN;
      this.#error = error;
      throw error;
    } finally {
      this.#reading = false;
    }
  }

  async #read(p: Uint8Array, until?: number): Promise<number | null> {
    const reader = this.#reader!;
    while (true) {
      if (this.#state === NEED_SIZE) {
        const line = await reader.readLine(
          this.#limits.maxChunkLine,
          "chunk-size line",
        );
        const size = chunkSizeOf(line);
        // The line, its CRLF and the CRLF after the data.
        this.#overhead = Math.max(
          0,
          this.#overhead + line.length + 4 - FREE_CHUNK_OVERHEAD - 2 * size,
        );
        if (this.#overhead > MAX_CHUNK_OVERHEAD) {
          throw new HTTPError(400, "Chunked body has too much non-data");
        }
        if (size === 0) {
          this.trailers = await readTrailers(reader, this.#limits);
          this.#state = DONE;
          return null;
        }
        this.#checkSize(size);
        this.#left = size;
        this.#state = IN_DATA;
      }
      const n = await reader.readInto(p, this.#left, until);
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

  // A chunk that would take the body past the limit of this read: the
  // stream's, or the one of bytes() while it collects.
  #checkSize(size: number): void {
    const max = this.#cap;
    if (max !== null && this.#total + size > max) {
      throw contentTooLarge("the body is", max);
    }
  }

  /**
   * Reads the rest of the body into one array.
   *
   * @param limit The most bytes to accept (413 beyond): `limits.maxBodySize`
   *   when absent, `null` for no bound.
   * @returns The bytes.
   * @throws {HTTPError} 413 when the body is larger than `limit`.
   */
  bytes(limit?: number | null): Promise<Uint8Array<ArrayBuffer>> {
    return handled(this.#bytes(limit));
  }

  async #bytes(limit?: number | null): Promise<Uint8Array<ArrayBuffer>> {
    if (limit === undefined) limit = this.#limits.maxBodySize;
    // What is held in memory is bound: a declared length past the limit is
    // refused before a byte is read, a chunk past it before it is read.
    if (limit !== null && !this.#chunked && this.#total + this.#left > limit) {
      this.#state = BROKEN;
      throw this.#error = contentTooLarge("the body is", limit);
    }
    const stream = this.#cap;
    if (limit !== null) {
      this.#cap = stream === null ? limit : Math.min(stream, limit);
    }
    // Gathered as they come: a body of many tiny chunks holds about its
    // size, not a read buffer per chunk.
    const gathered = new GrowingBytes();
    const p = this.#readBuffer();
    try {
      for (let n; (n = await this.#guarded(p)) !== null;) {
        gathered.append(p.subarray(0, n));
      }
    } finally {
      this.#cap = stream;
    }
    return gathered.bytes();
  }

  /**
   * Reads the rest of the body as UTF-8 text.
   *
   * @param limit The most bytes to accept (413 beyond).
   * @returns The text.
   */
  text(limit?: number | null): Promise<string> {
    return handled(this.#bytes(limit).then((bytes) => utf8.decode(bytes)));
  }

  /**
   * Reads the rest of the body as JSON; malformed JSON is a 400.
   *
   * @param limit The most bytes to accept (413 beyond).
   * @returns The parsed value.
   * @throws {HTTPError} 400 when the body is not JSON.
   */
  json(limit?: number | null): Promise<unknown> {
    return handled(
      this.#bytes(limit).then((bytes) => {
        try {
          return JSON.parse(utf8.decode(bytes));
        } catch {
          throw new HTTPError(400, "Malformed JSON body");
        }
      }),
    );
  }

  /**
   * Iterates the rest of the body in chunks of at most 64 KiB.
   *
   * @returns An async iterator of fresh arrays.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    // One read buffer; each piece is copied out at its own size, so that a
    // body of tiny chunks neither makes nor pins 64 KiB per chunk.
    const p = this.#readBuffer();
    while (true) {
      const n = await this.#guarded(p);
      if (n === null) return;
      yield p.slice(0, n);
    }
  }

  #readBuffer(): Uint8Array {
    return new Uint8Array(
      this.#chunked ? 65536 : Math.min(65536, Math.max(this.#left, 1)),
    );
  }

  /**
   * Reads and discards the rest of the body, up to `max` bytes.
   *
   * @param max The most bytes to discard.
   * @returns `true` when the body ended within `max` bytes.
   */
  discard(max: number): Promise<boolean> {
    return handled(this.#discard(max));
  }

  async #discard(max: number): Promise<boolean> {
    if (this.#state === DONE) return true;
    if (this.#state === BROKEN) return false;
    if (!this.#chunked && this.#left > max) return false;
    const scratch = new Uint8Array(Math.min(65536, Math.max(max, 1)));
    let left = max;
    while (left >= 0) {
      const n = await this.#guarded(scratch);
      if (n === null) return true;
      left -= n;
    }
    return false;
  }
}
