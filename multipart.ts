// Copyright 2026 the basehttp authors. MIT license.
/**
 * Streaming form parsers for request bodies: {@linkcode parseMultipart} for
 * `multipart/form-data` (RFC 7578), one part at a time and never a whole
 * file in memory, and {@linkcode parseForm} for
 * `application/x-www-form-urlencoded`. They take the place of Python's
 * `cgi.FieldStorage` (removed in Python 3.13), with limits: a body over one
 * is an {@linkcode HTTPError} 413, a malformed one a 400.
 *
 * @example Save the files a form posts
 * ```ts
 * import { BaseHTTPRequestHandler, HTTPServer } from "@basehttp/server";
 * import { parseMultipart } from "@basehttp/server/multipart";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * class Upload extends BaseHTTPRequestHandler {
 *   override logMessage(): void {}
 *   async do_POST(): Promise<void> {
 *     const type = this.headers.get("content-type") ?? "";
 *     for await (const part of parseMultipart(this.rfile, type)) {
 *       // Fields, and inputs with no file chosen, are skipped unread. A real
 *       // server also refuses names such as ".." or ".htaccess".
 *       if (!part.filename) continue;
 *       const file = await Deno.create(`${dir}/${part.filename}`);
 *       await part.readable.pipeTo(file.writable); // closes the file
 *     }
 *     this.sendResponse(204);
 *     await this.endHeaders();
 *   }
 * }
 *
 * await using httpd = new HTTPServer(["127.0.0.1", 0], Upload);
 * const serving = httpd.serveForever();
 * const form = new FormData();
 * form.append("note", "not saved");
 * form.append("file", new Blob(["hello\n"]), "hello.txt");
 * const url = `http://127.0.0.1:${httpd.serverPort}/`;
 * const response = await fetch(url, { method: "POST", body: form });
 * assert.equal(response.status, 204);
 * assert.equal(await Deno.readTextFile(`${dir}/hello.txt`), "hello\n");
 * await httpd.shutdown();
 * await serving;
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { checkControls, contentTooLarge, parseField } from "./_head.ts";
import { decodeLatin1, trimOWS } from "./_text.ts";
import { HTTPError, HTTPMessage, type Reader } from "./parser.ts";
import { concatBytes, CR, LF } from "./_bytes.ts";
import { handled } from "./_handled.ts";

/**
 * Limits applied while parsing a form body; each one exceeded is an
 * {@linkcode HTTPError} 413. `maxFileSize` and `maxTotalSize` may be
 * `null`, for no limit.
 *
 * @example Accept files of up to 10 MiB in a body of up to 50 MiB
 * ```ts
 * import type { MultipartLimits } from "@basehttp/server/multipart";
 *
 * const limits: Partial<MultipartLimits> = {
 *   maxFileSize: 10 << 20,
 *   maxTotalSize: 50 << 20,
 * };
 * ```
 */
export interface MultipartLimits {
  /** Most parts in a multipart body, or name=value pairs in a form. @default {1000} */
  maxParts: number;
  /** Most bytes of one part's header section. @default {16384} */
  maxHeaderBytes: number;
  /**
   * Largest body of a part without a filename (a field), or of a whole
   * urlencoded form, which {@linkcode parseForm} holds in memory.
   * @default {1048576}
   */
  maxFieldSize: number;
  /** Largest body of a part with a filename (a file). @default {null} */
  maxFileSize: number | null;
  /** Largest request body, preamble and epilogue included. @default {null} */
  maxTotalSize: number | null;
}

/**
 * The default {@linkcode MultipartLimits}: fields are bound, files and the
 * body are not, since they are streamed.
 *
 * @example Raise one limit, keep the others
 * ```ts
 * import { DEFAULT_MULTIPART_LIMITS } from "@basehttp/server/multipart";
 * import assert from "node:assert/strict";
 *
 * const limits = { ...DEFAULT_MULTIPART_LIMITS, maxFileSize: 10 << 20 };
 * assert.equal(limits.maxParts, 1000);
 * ```
 */
export const DEFAULT_MULTIPART_LIMITS: Readonly<MultipartLimits> = Object
  .freeze({
    maxParts: 1000,
    maxHeaderBytes: 16384,
    maxFieldSize: 1 << 20,
    maxFileSize: null,
    maxTotalSize: null,
  });

const DASH = 0x2d;
const BUFFER_SIZE = 65536;
const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

// RFC 2046 §5.1.1: bchars, 1 to 70 of them, the last not a space.
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
const PARAM = /^\s*;\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*=\s*/;
// Unquoted values are tokens, but senders leave boundaries with "/", "=",
// ":" or "?" unquoted too: anything up to a space, ";" or quote is taken.
const BARE_VALUE = /^[^\s;"\\]+/;
// RFC 8187 ext-value: charset'language'value-chars.
const EXT_VALUE =
  /^(UTF-8|ISO-8859-1)'[A-Za-z0-9-]*'((?:%[0-9A-Fa-f]{2}|[!#$&+\-.^_`|~0-9A-Za-z])*)$/i;

function malformed(message: string): HTTPError {
  return new HTTPError(400, message);
}

/** A value and its parameters, such as a Content-Type or Content-Disposition. */
interface Parameterized {
  value: string;
  params: Map<string, string>;
}

/**
 * Parses `value *( ";" name "=" ( token / quoted-string ) )`; `null` when it
 * is not that. Names are lower-cased; a repeated name is `null`, so that no
 * two readers of the same field see different files. A quoted string is
 * read as browsers (and Deno's and Node's FormData) write it, with no
 * escapes (WHATWG: `"`, CR and LF are `%22`, `%0D`, `%0A`), so a name may
 * hold `\\` or end in `\` (`"C:\dir\"`); only text that does not parse so
 * is read with RFC 9110's `\"` and `\\`, as curl before 7.81 wrote a quote.
 */
function parseParameterized(text: string): Parameterized | null {
  return parseParameters(text, false) ?? parseParameters(text, true);
}

function parseParameters(text: string, escapes: boolean): Parameterized | null {
  const semi = text.indexOf(";");
  const value = trimOWS(semi === -1 ? text : text.slice(0, semi));
  const params = new Map<string, string>();
  let rest = semi === -1 ? "" : text.slice(semi);
  while (true) {
    rest = rest.replace(/^[\s;]*(?=;|$)/, "");
    if (rest.trim() === "") return { value, params };
    const match = PARAM.exec(rest);
    if (match === null) return null;
    const name = match[1].toLowerCase();
    rest = rest.slice(match[0].length);
    let param: string;
    if (rest.startsWith('"')) {
      param = "";
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (
          escapes && rest[i] === "\\" &&
          (rest[i + 1] === '"' || rest[i + 1] === "\\")
        ) i++;
        param += rest[i];
      }
      if (i === rest.length) return null; // no closing quote
      rest = rest.slice(i + 1);
    } else {
      const token = BARE_VALUE.exec(rest);
      if (token === null) return null;
      param = token[0];
      rest = rest.slice(param.length);
    }
    if (params.has(name)) return null;
    params.set(name, param);
    if (!/^\s*(;|$)/.test(rest)) return null;
  }
}

/** The boundary of a `multipart/form-data` Content-Type, or an HTTPError. */
function boundaryOf(contentType: string): string {
  const type = parseParameterized(contentType);
  if (type === null) throw malformed("Malformed Content-Type");
  if (type.value.toLowerCase() !== "multipart/form-data") {
    throw new HTTPError(415, "Unsupported Media Type");
  }
  const boundary = type.params.get("boundary");
  if (boundary === undefined || !BOUNDARY.test(boundary)) {
    throw malformed("Missing or malformed multipart boundary");
  }
  return boundary;
}

/** Decodes an RFC 8187 ext-value (`filename*`); `null` when it is not one. */
function decodeExtValue(text: string): string | null {
  const match = EXT_VALUE.exec(text);
  if (match === null) return null;
  if (match[1].toUpperCase() === "ISO-8859-1") {
    return match[2].replace(
      /%([0-9A-Fa-f]{2})/g,
      (_, hex) => String.fromCharCode(parseInt(hex, 16)),
    );
  }
  try {
    return decodeURIComponent(match[2]);
  } catch {
    return null; // not UTF-8
  }
}

/**
 * A `filename*` that is no ext-value, taken as Python's email parser and
 * busboy take it, so that the part stays a file: its %XX bytes decoded,
 * the rest kept, and bytes that are not UTF-8 as U+FFFD.
 */
function decodeExtLoosely(text: string): string {
  const match = /^([^']*)'[^']*'/.exec(text);
  const value = match === null ? text : text.slice(match[0].length);
  const bytes: number[] = [];
  for (const [token] of value.matchAll(/%[0-9A-Fa-f]{2}|[^%]+|%/g)) {
    if (token.length === 3 && token[0] === "%") {
      bytes.push(parseInt(token.slice(1), 16));
    } else for (const byte of encoder.encode(token)) bytes.push(byte);
  }
  const array = Uint8Array.from(bytes);
  return match?.[1].toUpperCase() === "ISO-8859-1"
    ? decodeLatin1(array)
    : new TextDecoder().decode(array);
}

/** The last path component: what follows the last `/` or `\`. */
function baseName(name: string): string {
  return name.slice(
    Math.max(name.lastIndexOf("/"), name.lastIndexOf("\\")) + 1,
  );
}

/** Decodes header bytes as UTF-8 (what browsers send), else as Latin-1. */
function decodeHeader(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return decodeLatin1(bytes);
  }
}

/** The state of one multipart body: its buffer and where the parse is. */
class MultipartStream {
  #source: Reader;
  #limits: Readonly<MultipartLimits>;
  #delimiter: Uint8Array;
  #buf = new Uint8Array(BUFFER_SIZE);
  #start = 0;
  #end = 0;
  // Bytes before #clear hold no delimiter start; #found is where the next
  // delimiter starts, or -1 when it is not in the buffer yet.
  #clear = 0;
  #found = -1;
  #eof = false;
  #total = 0;
  #error: unknown = null;

  constructor(source: Reader, boundary: string, limits: MultipartLimits) {
    this.#source = source;
    this.#limits = limits;
    this.#delimiter = encoder.encode(`\r\n--${boundary}`);
    // A body may open with its first delimiter line, without the CRLF
    // before it: a CRLF put in front makes that an ordinary delimiter.
    this.#buf[0] = CR;
    this.#buf[1] = LF;
    this.#end = 2;
  }

  /** Runs `step`, and keeps its error: a stream that failed stays failed. */
  async guard<T>(step: () => Promise<T>): Promise<T> {
    if (this.#error !== null) throw this.#error;
    try {
      return await step();
    } catch (error) {
      this.#error ??= error;
      throw error;
    }
  }

  /** Reads more from the source; `false` at its end. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#start > 0 && this.#buf.length - this.#end < BUFFER_SIZE / 2) {
      // Only the unconsumed tail moves, at most a delimiter or a head.
      const shift = this.#start;
      this.#buf.copyWithin(0, shift, this.#end);
      this.#start = 0;
      this.#end -= shift;
      this.#clear = Math.max(0, this.#clear - shift);
      if (this.#found !== -1) this.#found -= shift;
    }
    if (this.#end === this.#buf.length) {
      const grown = new Uint8Array(this.#buf.length * 2);
      grown.set(this.#buf);
      this.#buf = grown;
    }
    while (true) {
      const n = await this.#source.read(this.#buf.subarray(this.#end));
      if (n === null) {
        this.#eof = true;
        return false;
      }
      if (n === 0) continue;
      this.#end += n;
      this.#total += n;
      const max = this.#limits.maxTotalSize;
      if (max !== null && this.#total > max) {
        throw contentTooLarge("the request body is", max);
      }
      return true;
    }
  }

  /** Looks for the next delimiter from #clear, moving #clear up. */
  #search(): void {
    const buf = this.#buf.subarray(0, this.#end);
    const delimiter = this.#delimiter;
    const last = this.#end - delimiter.length;
    let i = this.#clear;
    while (i <= last) {
      i = buf.indexOf(CR, i);
      if (i === -1 || i > last) break;
      if (this.#delimiterAt(i)) {
        this.#found = this.#clear = i;
        return;
      }
      i++;
    }
    // A delimiter may still start in the last bytes, cut off by the read.
    this.#clear = Math.max(this.#clear, last + 1);
  }

  /**
   * Makes data of the current part available: the count of bytes from
   * #start that are data (at most `max`), or 0 at the part's end, with the
   * delimiter consumed.
   */
  async #available(max: number): Promise<number> {
    while (true) {
      if (this.#start < this.#clear) {
        return Math.min(max, this.#clear - this.#start);
      }
      if (this.#found === this.#start) {
        this.#start += this.#delimiter.length;
        this.#clear = this.#start;
        this.#found = -1;
        return 0;
      }
      this.#search();
      if (this.#start < this.#clear || this.#found !== -1) continue;
      if (!await this.#fill()) {
        throw malformed("Multipart body ended before its final boundary");
      }
    }
  }

  /**
   * Reads data of the current part into `p` (skips it when `p` is null),
   * counting it against `max`; `null` at the part's end.
   */
  async read(
    p: Uint8Array | null,
    counted: { size: number; max: number | null; what: string },
  ): Promise<number | null> {
    const n = await this.#available(p?.length ?? Infinity);
    if (n === 0) return null;
    counted.size += n;
    if (counted.max !== null && counted.size > counted.max) {
      throw contentTooLarge(counted.what, counted.max);
    }
    p?.set(this.#buf.subarray(this.#start, this.#start + n));
    this.#start += n;
    return n;
  }

  /** Makes at least `n` bytes available from #start, or throws a 400. */
  async #need(n: number): Promise<void> {
    while (this.#end - this.#start < n) {
      if (!await this.#fill()) {
        throw malformed("Multipart body ended before its final boundary");
      }
    }
  }

  /**
   * After a delimiter: `true` and the CRLF consumed when a part follows,
   * `false` (and the epilogue read and dropped) after the close delimiter.
   */
  async afterDelimiter(): Promise<boolean> {
    await this.#need(2);
    if (
      this.#buf[this.#start] === DASH && this.#buf[this.#start + 1] === DASH
    ) {
      while (await this.#fill()) this.#start = this.#end; // the epilogue
      this.#start = this.#clear = this.#end;
      return false;
    }
    // Transport padding (RFC 2046 §5.1.1), then CRLF.
    let skipped = 0;
    while (true) {
      await this.#need(1);
      const c = this.#buf[this.#start];
      if (c !== 0x20 && c !== 0x09) break;
      this.#start++;
      if (++skipped > this.#limits.maxHeaderBytes) {
        throw contentTooLarge(
          "a boundary line is",
          this.#limits.maxHeaderBytes,
        );
      }
    }
    await this.#need(2);
    if (this.#buf[this.#start] !== CR || this.#buf[this.#start + 1] !== LF) {
      throw malformed("Malformed multipart boundary line");
    }
    this.#start += 2;
    this.#clear = this.#start;
    return true;
  }

  /** Whether the delimiter is in the buffer at `at`. */
  #delimiterAt(at: number): boolean {
    const delimiter = this.#delimiter;
    for (let i = 0; i < delimiter.length; i++) {
      if (this.#buf[at + i] !== delimiter[i]) return false;
    }
    return true;
  }

  /** Reads a part's header section, through its empty line. */
  async readHeaders(): Promise<HTTPMessage> {
    const fields: [string, string][] = [];
    const max = this.#limits.maxHeaderBytes;
    let size = 0;
    while (true) {
      let lf = this.#buf.subarray(this.#start, this.#end).indexOf(LF);
      while (lf === -1) {
        if (size + this.#end - this.#start > max) {
          throw contentTooLarge("a part's header section is", max);
        }
        const scanned = this.#end - this.#start;
        await this.#need(scanned + 1);
        lf = this.#buf.subarray(this.#start + scanned, this.#end).indexOf(LF);
        if (lf !== -1) lf += scanned;
      }
      size += lf + 1;
      if (size > max) throw contentTooLarge("a part's header section is", max);
      if (lf === 1 && this.#buf[this.#start] === CR) {
        // The empty line's CRLF may be the next delimiter's (RFC 2046: a
        // part of headers alone, as Python and Deno read it): then it is
        // left for the body's search, which finds the delimiter at once.
        await this.#need(this.#delimiter.length);
        if (!this.#delimiterAt(this.#start)) this.#start += 2;
        break;
      }
      const line = this.#buf.subarray(this.#start, this.#start + lf);
      this.#start += lf + 1;
      if (line.at(-1) !== CR) throw malformed("Bare LF in a part's header");
      const text = decodeHeader(line.subarray(0, -1));
      if (text.includes("\r")) throw malformed("Bare CR in a part's header");
      checkControls(text);
      fields.push(parseField(text));
    }
    this.#clear = this.#start;
    return new HTTPMessage(fields);
  }

  /** Skips to just past the first delimiter: the preamble. */
  async skipPreamble(): Promise<void> {
    const counted = { size: 0, max: null, what: "" };
    while (await this.read(null, counted) !== null) { /* dropped */ }
  }
}

/**
 * One part of a `multipart/form-data` body, from
 * {@linkcode parseMultipart}. Its body can be read until the next part is
 * asked for; what is left unread then is skipped.
 *
 * @example Read a field's value
 * ```ts
 * import { parseMultipart } from "@basehttp/server/multipart";
 * import assert from "node:assert/strict";
 *
 * const body = new TextEncoder().encode(
 *   '--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b--\r\n',
 * );
 * let done = false;
 * const rfile = {
 *   read: (p: Uint8Array) => {
 *     if (done) return Promise.resolve(null);
 *     done = true;
 *     p.set(body);
 *     return Promise.resolve(body.length);
 *   },
 * };
 * for await (const part of parseMultipart(rfile, "multipart/form-data; boundary=b")) {
 *   assert.equal(part.name, "note");
 *   assert.equal(part.filename, null);
 *   assert.equal(await part.text(), "hi");
 * }
 * ```
 */
export class MultipartPart {
  /** The part's header fields, as sent. */
  readonly headers: HTTPMessage;
  /** The form field name (`name` of Content-Disposition). */
  readonly name: string;
  /**
   * The file name without any path (`filename*` wins over `filename`), or
   * `null` for a field that is not a file. It may be empty: a file input
   * with no file chosen sends `filename=""`.
   */
  readonly filename: string | null;
  /**
   * The file name as sent, path and all, or `null`: only to refuse names
   * that came with a path (`../x`, `C:\dir\x`); never a path to open.
   */
  readonly rawFilename: string | null;
  /** The part's Content-Type; `text/plain` when absent (RFC 7578 §4.4). */
  readonly contentType: string;
  #stream: MultipartStream;
  #counted: { size: number; max: number | null; what: string };
  #ended = false;
  #detached = false;

  /**
   * Wraps a part whose header section has been read (the parser makes
   * parts).
   *
   * @ignore
   */
  constructor(
    stream: MultipartStream,
    headers: HTTPMessage,
    limits: Readonly<MultipartLimits>,
  ) {
    this.#stream = stream;
    this.headers = headers;
    // One per part (RFC 7578 §4.2): with two, readers could see two files.
    const dispositions = headers.getAll("content-disposition");
    if (dispositions.length > 1) {
      throw malformed("A part may have one Content-Disposition");
    }
    const disposition = parseParameterized(dispositions[0] ?? "");
    if (
      disposition === null ||
      disposition.value.toLowerCase() !== "form-data" ||
      !disposition.params.has("name")
    ) {
      throw malformed("A part needs Content-Disposition: form-data; name=…");
    }
    this.name = formDecode(disposition.params.get("name")!);
    const extended = disposition.params.get("filename*");
    const given = disposition.params.get("filename");
    const plain = given === undefined ? undefined : formDecode(given);
    // A bad ext-value gives way to filename (RFC 6266 §4.3), or stands.
    const filename = extended === undefined
      ? plain ?? null
      : decodeExtValue(extended) ?? plain ?? decodeExtLoosely(extended);
    this.rawFilename = filename;
    this.filename = filename === null ? null : baseName(filename);
    this.contentType = headers.get("content-type") ?? "text/plain";
    this.#counted = this.filename === null
      ? { size: 0, max: limits.maxFieldSize, what: "a field is" }
      : { size: 0, max: limits.maxFileSize, what: "a file is" };
  }

  /** The body bytes read (or skipped) so far. */
  get bytesRead(): number {
    return this.#counted.size;
  }

  /**
   * Reads body bytes into `p`, like `Deno.Reader`.
   *
   * @param p Where to put the bytes.
   * @returns The number of bytes read, or `null` at the end of the part.
   * @throws {HTTPError} 413 past a limit, 400 for a malformed body.
   * @throws {Error} When the parse has moved on to a later part.
   */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#detached) {
      return handled(Promise.reject(
        new Error("This part was skipped: the next part was asked for"),
      ));
    }
    if (this.#ended) return Promise.resolve(null);
    if (p.length === 0) return Promise.resolve(0);
    return handled(this.#stream.guard(async () => {
      const n = await this.#stream.read(p, this.#counted);
      if (n === null) this.#ended = true;
      return n;
    }));
  }

  /**
   * Reads the rest of the body into one array, held in memory.
   *
   * @param limit The most bytes to accept (413 beyond), on top of the
   *   field or file limit.
   * @returns The bytes.
   */
  bytes(limit?: number | null): Promise<Uint8Array<ArrayBuffer>> {
    return handled(this.#bytes(limit ?? null));
  }

  async #bytes(limit: number | null): Promise<Uint8Array<ArrayBuffer>> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const p = new Uint8Array(BUFFER_SIZE);
    while (true) {
      const n = await this.read(p);
      if (n === null) break;
      size += n;
      if (limit !== null && size > limit) {
        throw contentTooLarge("the part is", limit);
      }
      chunks.push(p.slice(0, n));
    }
    return concatBytes(chunks, size);
  }

  /**
   * Reads the rest of the body as UTF-8 text.
   *
   * @param limit The most bytes to accept (413 beyond).
   * @returns The text.
   */
  text(limit?: number | null): Promise<string> {
    return handled(
      this.#bytes(limit ?? null).then((bytes) =>
        new TextDecoder().decode(bytes)
      ),
    );
  }

  /**
   * The rest of the body as a stream, to pipe to a file:
   * `await part.readable.pipeTo(file.writable)`.
   *
   * @returns A stream of fresh chunks of at most 64 KiB.
   */
  get readable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const p = new Uint8Array(BUFFER_SIZE);
        const n = await this.read(p);
        if (n === null) controller.close();
        else controller.enqueue(p.subarray(0, n));
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Skips what is left of the body and lets go of the stream.
   *
   * @ignore
   */
  async skip(): Promise<void> {
    if (!this.#ended) {
      await this.#stream.guard(async () => {
        while (await this.#stream.read(null, this.#counted) !== null) {
          // dropped: nothing of a skipped part is kept
        }
      });
      this.#ended = true;
    }
    this.#detached = true;
  }
}

function checkLimits(
  limits: Partial<MultipartLimits>,
): Readonly<MultipartLimits> {
  if (typeof limits !== "object" || limits === null) {
    throw new TypeError("limits must be an object");
  }
  const merged = { ...DEFAULT_MULTIPART_LIMITS, ...limits };
  for (const key of Object.keys(DEFAULT_MULTIPART_LIMITS)) {
    const value = merged[key as keyof MultipartLimits];
    const nullable = key === "maxFileSize" || key === "maxTotalSize";
    if (value === null && nullable) continue;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new TypeError(
        `${key} must be an integer${nullable ? " or null" : ""}`,
      );
    }
    if (value < 0) throw new RangeError(`${key} must not be negative`);
  }
  return merged;
}

/**
 * Parses a `multipart/form-data` body (RFC 7578) as it arrives, one part at
 * a time: a part's body is read from `rfile` only as the caller reads it,
 * and a part not read is skipped without being held. The preamble and the
 * epilogue are ignored. Defaults are in
 * {@linkcode DEFAULT_MULTIPART_LIMITS}.
 *
 * @example Iterate the parts of a body
 * ```ts
 * import { parseMultipart } from "@basehttp/server/multipart";
 * import assert from "node:assert/strict";
 *
 * const body = new TextEncoder().encode([
 *   "--XyZ",
 *   'Content-Disposition: form-data; name="title"',
 *   "",
 *   "Notes",
 *   "--XyZ",
 *   'Content-Disposition: form-data; name="file"; filename="C:\\tmp\\a.txt"',
 *   "Content-Type: text/plain",
 *   "",
 *   "line one\r\nline two",
 *   "--XyZ--",
 *   "",
 * ].join("\r\n"));
 * let at = 0;
 * const rfile = {
 *   // A reader that gives 7 bytes at a time, as a slow network would.
 *   read(p: Uint8Array): Promise<number | null> {
 *     if (at === body.length) return Promise.resolve(null);
 *     const n = Math.min(7, p.length, body.length - at);
 *     p.set(body.subarray(at, at + n));
 *     at += n;
 *     return Promise.resolve(n);
 *   },
 * };
 * const seen: string[] = [];
 * const type = "multipart/form-data; boundary=XyZ";
 * for await (const part of parseMultipart(rfile, type, { maxFileSize: 1024 })) {
 *   seen.push(`${part.name}=${part.filename ?? ""}:${await part.text()}`);
 * }
 * assert.deepEqual(seen, ["title=:Notes", "file=a.txt:line one\r\nline two"]);
 * ```
 *
 * @param rfile The body, such as a handler's `rfile`: anything with
 *   `read(p)`.
 * @param contentType The request's Content-Type, with its `boundary`.
 * @param limits Limits over {@linkcode DEFAULT_MULTIPART_LIMITS}.
 * @returns An async iterator of the parts, in order.
 * @throws {HTTPError} 415 for another media type; 400 for a bad boundary or
 *   a malformed body (a missing final boundary too); 413 past a limit.
 * @throws {TypeError} When a limit is not an integer.
 */
export function parseMultipart(
  rfile: Reader,
  contentType: string,
  limits?: Partial<MultipartLimits>,
): AsyncGenerator<MultipartPart, void, undefined> {
  const checked = checkLimits(limits ?? {});
  return parts(rfile, contentType, checked);
}

async function* parts(
  rfile: Reader,
  contentType: string,
  limits: Readonly<MultipartLimits>,
): AsyncGenerator<MultipartPart, void, undefined> {
  const stream = new MultipartStream(rfile, boundaryOf(contentType), limits);
  await stream.guard(() => stream.skipPreamble());
  let count = 0;
  while (await stream.guard(() => stream.afterDelimiter())) {
    if (++count > limits.maxParts) {
      throw new HTTPError(
        413,
        "Content Too Large",
        `more than ${limits.maxParts} parts`,
      );
    }
    const headers = await stream.guard(() => stream.readHeaders());
    const part = new MultipartPart(stream, headers, limits);
    yield part;
    await part.skip();
  }
}

/**
 * Parses an `application/x-www-form-urlencoded` body (what an HTML form
 * sends by default) as UTF-8. The form is held in memory, so its body is
 * bound by `maxFieldSize` as well as `maxTotalSize`, and its pairs by
 * `maxParts`.
 *
 * @example Read a posted form
 * ```ts
 * import { parseForm } from "@basehttp/server/multipart";
 * import assert from "node:assert/strict";
 *
 * const body = new TextEncoder().encode("name=Ada+L&tags=a&tags=b%26c");
 * let done = false;
 * const rfile = {
 *   read: (p: Uint8Array) => {
 *     if (done) return Promise.resolve(null);
 *     done = true;
 *     p.set(body);
 *     return Promise.resolve(body.length);
 *   },
 * };
 * const form = await parseForm(rfile, "application/x-www-form-urlencoded");
 * assert.equal(form.get("name"), "Ada L");
 * assert.deepEqual(form.getAll("tags"), ["a", "b&c"]);
 * ```
 *
 * @param rfile The body, such as a handler's `rfile`.
 * @param contentType The request's Content-Type.
 * @param limits Limits over {@linkcode DEFAULT_MULTIPART_LIMITS}.
 * @returns The name/value pairs, in order.
 * @throws {HTTPError} 415 for another media type; 413 past a limit.
 * @throws {TypeError} When a limit is not an integer.
 */
export function parseForm(
  rfile: Reader,
  contentType: string,
  limits?: Partial<MultipartLimits>,
): Promise<URLSearchParams> {
  return handled(readForm(rfile, contentType, limits));
}

async function readForm(
  rfile: Reader,
  contentType: string,
  limits?: Partial<MultipartLimits>,
): Promise<URLSearchParams> {
  const checked = checkLimits(limits ?? {});
  const type = parseParameterized(contentType);
  if (type === null) throw malformed("Malformed Content-Type");
  if (type.value.toLowerCase() !== "application/x-www-form-urlencoded") {
    throw new HTTPError(415, "Unsupported Media Type");
  }
  const max = Math.min(checked.maxFieldSize, checked.maxTotalSize ?? Infinity);
  let buf = new Uint8Array(Math.min(max + 1, BUFFER_SIZE));
  let size = 0;
  while (true) {
    if (size === buf.length) {
      const grown = new Uint8Array(Math.min(buf.length * 2, max + 1));
      grown.set(buf);
      buf = grown;
    }
    const n = await rfile.read(buf.subarray(size));
    if (n === null) break;
    size += n;
    if (size > max) throw contentTooLarge("the form is", max);
  }
  const form = buf.subarray(0, size);
  // The pairs URLSearchParams makes: the pieces between "&" not empty.
  let pairs = 0;
  for (let start = 0; start < form.length;) {
    const end = form.indexOf(0x26, start);
    const stop = end === -1 ? form.length : end;
    if (stop > start) pairs++;
    start = stop + 1;
  }
  if (pairs > checked.maxParts) {
    throw new HTTPError(
      413,
      "Content Too Large",
      `more than ${checked.maxParts} fields`,
    );
  }
  return new URLSearchParams(new TextDecoder().decode(form));
}

/**
 * A name as browsers write it in multipart/form-data (WHATWG): `"`, CR and
 * LF as `%22`, `%0D` and `%0A`, and nothing else escaped.
 */
function formDecode(value: string): string {
  return value.replace(
    /%(22|0D|0A)/gi,
    (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)),
  );
}
