// Copyright 2026 the basehttp authors. MIT license.
// Text helpers shared by the parser and the handlers (not a public entry).

// Replacing (U+FFFD for what is not UTF-8); a leading U+FEFF is text.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

/**
 * Decodes bytes as Latin-1, byte for byte; fast when they are ASCII.
 *
 * @param bytes The bytes to decode.
 * @returns One char per byte, U+0000 to U+00FF.
 */
export function decodeLatin1(bytes: Uint8Array): string {
  const text = utf8.decode(bytes);
  if (text.length === bytes.length && !text.includes("\uFFFD")) return text;
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/**
 * Decodes UTF-8 strictly; a leading U+FEFF is kept, as text.
 *
 * @param bytes The bytes to decode.
 * @returns The text.
 * @throws {TypeError} For bytes that are not UTF-8.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  // Deno's fatal decoder costs 3–10 times its replacing one (32 B to 64
  // KiB). Text with no U+FFFD had nothing replaced: only text that has one
  // is decoded again, strictly.
  const text = utf8.decode(bytes);
  return text.includes("\uFFFD") ? strictUtf8.decode(bytes) : text;
}

/**
 * Encodes text as Latin-1, one byte per char, as a head goes on the wire;
 * fast when it is ASCII.
 *
 * @param text The text to encode.
 * @returns One byte per char.
 * @throws {TypeError} For a char above U+00FF.
 */
export function encodeLatin1(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(text.length);
  const { read, written } = utf8Encoder.encodeInto(text, bytes);
  if (read === text.length && written === read) return bytes;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) {
      throw new TypeError(`${pyRepr(text[i])} is not Latin-1 in a head`);
    }
    bytes[i] = code;
  }
  return bytes;
}

/**
 * Strips optional whitespace (SP and HTAB) from both ends.
 *
 * @param value The text to strip.
 * @returns The text without leading and trailing SP and HTAB.
 */
export function trimOWS(value: string): string {
  let a = 0;
  let b = value.length;
  while (a < b && (value[a] === " " || value[a] === "\t")) a++;
  while (b > a && (value[b - 1] === " " || value[b - 1] === "\t")) b--;
  return a === 0 && b === value.length ? value : value.slice(a, b);
}

/**
 * A head's text (Latin-1, one char per byte) read as the UTF-8 it is, as a
 * browser sends a Last-Event-ID; text that is not UTF-8 is kept as it is.
 *
 * @param text A field value as the parser gives it.
 * @returns The value as UTF-8 text, or `text`.
 */
export function utf8OfHead(text: string): string {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  try {
    return decodeUtf8(encodeLatin1(text));
  } catch {
    return text;
  }
}

/**
 * Splits comma-separated field values into lower-cased tokens.
 *
 * @param values The field values, such as `headers.getAll("connection")`.
 * @param max The most elements to look at (empty ones too); all without.
 * @returns The non-empty elements, trimmed and lower-cased.
 */
export function splitTokens(values: string[], max?: number): string[] {
  const tokens: string[] = [];
  let left = max;
  for (const value of values) {
    // split() with a limit makes no more pieces than it is asked for, but
    // is slower: a value shorter than the limit cannot have more.
    const parts = left === undefined || value.length < left
      ? value.split(",")
      : value.split(",", left);
    for (const part of parts) {
      const token = trimOWS(part).toLowerCase();
      if (token !== "") tokens.push(token);
    }
    if (left !== undefined && (left -= parts.length) <= 0) break;
  }
  return tokens;
}

/**
 * Python's `repr()` of a string, for messages that quote the client.
 *
 * @param text The text to quote.
 * @returns The text in quotes, with control characters escaped.
 */
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

// The userinfo of an absolute URL: it ends at the last "@" before the path.
// Anywhere in the text: a malformed request line may have it in any word,
// and a tab or space inside it.
const USERINFO = /([A-Za-z][A-Za-z0-9+.\-]*:\/\/)[^/?#]*@/g;

/**
 * A URL (or a request line) without its `user:password@`, so that a
 * password never reaches a log.
 *
 * @param url A URL or request-target, absolute or not, or a request line.
 * @returns It without the userinfo.
 */
export function withoutUserinfo(url: string): string {
  return url.replace(USERINFO, "$1");
}
