// Copyright 2026 the basehttp authors. MIT license.
// Fuzzing a live server with mutated requests. Every input goes out on its
// own connection and ends with a half-close, so every exchange must end
// with the server closing. What the handler saw is compared with a small
// reference model of the rules this server documents (RFC 9112 strict, bare
// LF allowed in the head): the server must dispatch exactly the requests the
// model dispatches, with the same method, target, fields and body. A request
// smuggled inside a body, or a malformed one let through, shows up as a
// difference. The seed is in the test name; rerun one with FUZZ_SEED=<n>,
// or try a fresh one with FUZZ_SEED=random.
import assert from "node:assert/strict";
import { HTTPError } from "../mod.ts";
import {
  exchange,
  fuzzSeed,
  latin1,
  latin1Bytes,
  mulberry32,
  parseResponses,
  QuietHandler,
  readAll,
  reply,
  startServer,
  writeAll,
} from "./_util.ts";

const CASES = 3000;
const WORKERS = 16;
const EXCHANGE_LIMIT_MS = 2000;

const SEED = fuzzSeed(20261123);

// --- Inputs -----------------------------------------------------------------

/** A request hidden in bodies: the server must never serve it unless the model does. */
const BAIT = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";

const BASES: string[] = [
  "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: fuzz\r\nAccept: */*\r\n\r\n",
  `POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: ${BAIT.length}\r\n\r\n${BAIT}`,
  "POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
  `${
    BAIT.length.toString(16)
  };ext="v"\r\n${BAIT}\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n`,
  `PUT /unread HTTP/1.1\r\nHost: h\r\nContent-Length: ${BAIT.length}\r\n\r\n${BAIT}`,
  "PUT /unread-chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
  `${BAIT.length.toString(16)}\r\n${BAIT}\r\n0\r\n\r\n`,
  "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  "POST /expect HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
  "GET http://example.com:8080/abs HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
  "GET /close HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  "POST /te HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nX-Te: chunked\r\n\r\n",
];

/** Bytes and snippets that tend to change how a message is framed. */
const BYTES = '\r\n\x00 \t:,;0123456789abcdefABCDEF"\\\x7f\x80\xff\x0b';
const SNIPPETS = [
  "\r\n",
  "\n",
  "\r",
  " ",
  "Content-Length: 5\r\n",
  "Content-Length: 0\r\n",
  "Transfer-Encoding: chunked\r\n",
  "Transfer-Encoding: gzip, chunked\r\n",
  "Host: x\r\n",
  "Connection: close\r\n",
  "Expect: 100-continue\r\n",
  "0\r\n\r\n",
  " chunked",
  "\r\n\r\n",
  BAIT,
];

/** One mutated input: 1 to 3 requests, then 1 to 4 mutations. */
function makeInput(random: () => number): string {
  const pick = <T>(list: readonly T[]): T =>
    list[Math.floor(random() * list.length)];
  let text = "";
  const requests = 1 + Math.floor(random() * 3);
  for (let i = 0; i < requests; i++) text += pick(BASES);
  const mutations = 1 + Math.floor(random() * 4);
  for (let i = 0; i < mutations; i++) {
    const at = Math.floor(random() * (text.length + 1));
    switch (Math.floor(random() * 6)) {
      case 0: // flip a byte
        text = text.slice(0, at) + pick([...BYTES]) + text.slice(at + 1);
        break;
      case 1: // insert a byte
        text = text.slice(0, at) + pick([...BYTES]) + text.slice(at);
        break;
      case 2: // insert a snippet
        text = text.slice(0, at) + pick(SNIPPETS) + text.slice(at);
        break;
      case 3: // delete a few bytes
        text = text.slice(0, at) +
          text.slice(at + 1 + Math.floor(random() * 3));
        break;
      case 4: // truncate
        text = text.slice(0, at);
        break;
      case 5: { // duplicate a short run in place
        const length = 1 + Math.floor(random() * 40);
        text = text.slice(0, at + length) + text.slice(at, at + length) +
          text.slice(at + length);
        break;
      }
    }
  }
  return text;
}

// --- The reference model ----------------------------------------------------

/** What a handler sees of one dispatched request. */
interface Seen {
  method: string;
  path: string;
  version: string;
  headers: [string, string][];
  /** The body the handler read; `null` for PUT, which leaves it unread. */
  body: string | null;
  trailers: [string, string][] | null;
  /** Set when reading the body failed. */
  bodyError: boolean;
}

const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const REQUEST_LINE = new RegExp(
  `^(${TCHAR}+) ([\\x21-\\x7e]+) HTTP/([0-9])\\.([0-9])$`,
);
const FIELD_LINE = new RegExp(`^(${TCHAR}+):[ \\t]*(.*?)[ \\t]*$`);
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const REG_NAME = "(?:[A-Za-z0-9\\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})";
const IP_LITERAL = "\\[[0-9A-Fa-f:.]+\\]";
const HOST_FIELD = new RegExp(`^(?:${IP_LITERAL}|${REG_NAME}*)(?::[0-9]*)?$`);
const NAMED_HOST = new RegExp(`^(?:${IP_LITERAL}|${REG_NAME}+)(?::[0-9]*)?$`);
const AUTHORITY = new RegExp(`^(?:${IP_LITERAL}|${REG_NAME}+):[0-9]+$`);
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.\-]*:\/\/([^/?#]*)/;
const CHUNK_LINE = new RegExp(
  `^([0-9A-Fa-f]+)((?:[ \\t]*;[ \\t]*${TCHAR}+(?:[ \\t]*=[ \\t]*(?:${TCHAR}+|"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"))?)*)$`,
);
const HANDLED = new Set(["GET", "POST", "PUT"]);

/** Comma-separated elements, trimmed and lower-cased, empty ones dropped. */
function elements(values: string[]): string[] {
  return values.flatMap((v) => v.split(","))
    .map((e) => e.replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase())
    .filter((e) => e !== "");
}

/** Reads one CRLF line at `at`: the line, and where the next one starts. */
function crlfLine(text: string, at: number, max: number): [string, number] {
  const lf = text.indexOf("\n", at);
  if (lf === -1 || lf - at + 1 > max || text[lf - 1] !== "\r" || lf === at) {
    throw new Error("bad line");
  }
  const line = text.slice(at, lf - 1);
  if (line.includes("\r")) throw new Error("bare CR");
  return [line, lf + 1];
}

/** Decodes a chunked body at `at`: the body, trailers and where it ends. */
function dechunk(
  text: string,
  at: number,
): [string, [string, string][], number] {
  let body = "";
  while (true) {
    const [line, next] = crlfLine(text, at, 4096);
    const m = CHUNK_LINE.exec(line);
    if (m === null || CONTROL.test(line)) throw new Error("chunk line");
    if (m[1].replace(/^0+(?=.)/, "").length > 13) throw new Error("overflow");
    const size = parseInt(m[1], 16);
    at = next;
    if (size === 0) break;
    if (text.length < at + size + 2) throw new Error("short chunk");
    body += text.slice(at, at + size);
    if (text.slice(at + size, at + size + 2) !== "\r\n") {
      throw new Error("no CRLF after data");
    }
    at += size + 2;
  }
  const trailers: [string, string][] = [];
  let bytes = 0;
  while (true) {
    const lf = text.indexOf("\n", at);
    if (lf === at + 1 && text[at] === "\r") return [body, trailers, lf + 1];
    const [line, next] = crlfLine(text, at, 16384 - bytes);
    bytes += next - at;
    const m = FIELD_LINE.exec(line);
    if (m === null || CONTROL.test(line) || trailers.length >= 100) {
      throw new Error("trailer");
    }
    trailers.push([m[1], m[2]]);
    at = next;
  }
}

/**
 * What the documented rules dispatch from `text` (ending in EOF), in order:
 * requests until the first refused one or the one that closes.
 */
function reference(text: string): Seen[] {
  const seen: Seen[] = [];
  let at = 0;
  while (true) {
    while (text.startsWith("\r\n", at) || text[at] === "\n") {
      at += text[at] === "\n" ? 1 : 2;
    }
    if (at >= text.length) return seen;
    // The head: lines ended by LF or CRLF, up to an empty line.
    const lines: string[] = [];
    while (true) {
      const lf = text.indexOf("\n", at);
      if (lf === -1) return seen; // cut off: 400
      let line = text.slice(at, lf);
      at = lf + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.includes("\r") || CONTROL.test(line)) return seen;
      if (line === "") break;
      lines.push(line);
    }
    const start = REQUEST_LINE.exec(lines[0]);
    if (start === null || start[3] !== "1") return seen;
    const [, method, target, , minorText] = start;
    const minor = Number(minorText);
    const targetOk = method === "CONNECT"
      ? AUTHORITY.test(target)
      : target[0] === "/" ||
        (target === "*"
          ? method === "OPTIONS"
          : NAMED_HOST.test(ABSOLUTE.exec(target)?.[1] ?? ""));
    if (!targetOk) return seen;
    const headers: [string, string][] = [];
    for (const line of lines.slice(1)) {
      const m = FIELD_LINE.exec(line);
      if (m === null) return seen;
      headers.push([m[1], m[2]]);
    }
    const all = (name: string) =>
      headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
    const hosts = all("host");
    if (hosts.length > 1 || (minor >= 1 && hosts.length === 0)) return seen;
    if (hosts.length === 1 && !HOST_FIELD.test(hosts[0])) return seen;
    const te = all("transfer-encoding");
    const cl = all("content-length");
    let length = 0;
    let chunked = false;
    if (te.length > 0) {
      if (cl.length > 0 || minor === 0) return seen;
      const codings = te.flatMap((v) => v.split(","))
        .map((e) => e.replace(/^[ \t]+|[ \t]+$/g, "").toLowerCase());
      if (codings.some((c) => !/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(c))) {
        return seen;
      }
      if (codings.length !== 1 || codings[0] !== "chunked") return seen;
      chunked = true;
    } else if (cl.length > 0) {
      const values = cl.flatMap((v) => v.split(","))
        .map((e) => e.replace(/^[ \t]+|[ \t]+$/g, ""));
      if (values.some((v) => !/^[0-9]+$/.test(v))) return seen;
      if (new Set(values.map(Number)).size !== 1) return seen;
      length = Number(values[0]);
      if (length > 100 * 1024 * 1024) return seen;
    }
    const expect = elements(all("expect"));
    if (
      expect.length > 0 && (expect.length > 1 || expect[0] !== "100-continue")
    ) return seen;
    if (!HANDLED.has(method)) return seen;

    const request: Seen = {
      method,
      path: target.startsWith("//") ? "/" + target.replace(/^\/+/, "") : target,
      version: `HTTP/1.${minor}`,
      headers,
      body: null,
      trailers: null,
      bodyError: false,
    };
    seen.push(request);
    // The body, whether the handler reads it (GET, POST) or it is drained.
    let body: string;
    let trailers: [string, string][] | null = null;
    try {
      if (chunked) {
        [body, trailers, at] = dechunk(text, at);
      } else {
        if (text.length < at + length) throw new Error("short body");
        body = text.slice(at, at + length);
        at += length;
      }
    } catch {
      if (method !== "PUT") request.bodyError = true;
      return seen;
    }
    if (method !== "PUT") {
      request.body = body;
      request.trailers = trailers;
    }
    const connection = elements(all("connection"));
    if (connection.includes("close")) return seen;
    if (minor === 0 && !connection.includes("keep-alive")) return seen;
    // PUT leaves a body it was invited to send (100-continue) unread: close.
    if (
      method === "PUT" && minor >= 1 && expect.length > 0 &&
      (chunked || length > 0)
    ) return seen;
  }
}

// --- The server ---------------------------------------------------------------

class Recorder extends QuietHandler {
  static seen = new Map<number, Seen[]>();

  async #record(read: boolean): Promise<void> {
    const seen: Seen = {
      method: this.command,
      path: this.path,
      version: this.requestVersion,
      headers: this.headers.items(),
      body: null,
      trailers: null,
      bodyError: false,
    };
    const port = this.clientAddress[1];
    Recorder.seen.set(port, [...Recorder.seen.get(port) ?? [], seen]);
    if (read) {
      try {
        seen.body = latin1(await this.rfile.bytes());
        seen.trailers = this.rfile.trailers?.items() ?? null;
      } catch (error) {
        seen.bodyError = error instanceof HTTPError;
        throw error;
      }
    }
    await reply(this, "ok");
  }

  do_GET() {
    return this.#record(true);
  }
  do_POST() {
    return this.#record(true);
  }
  do_PUT() {
    return this.#record(false);
  }
}

/** Sends `text`, half-closes, and reads until the server closes (bounded). */
async function send(port: number, text: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const local = (conn.localAddr as Deno.NetAddr).port;
  try {
    try {
      await writeAll(conn, latin1Bytes(text));
      await conn.closeWrite();
    } catch {
      // Closed early by the server: read what it answered.
    }
    return { local, ...await readAll(conn, EXCHANGE_LIMIT_MS) };
  } finally {
    try {
      conn.close();
    } catch {
      // readAll() closed it.
    }
  }
}

Deno.test(`fuzz: ${CASES} mutated requests against a live server (seed ${SEED}; rerun with FUZZ_SEED=${SEED})`, async () => {
  const errors: unknown[] = [];
  await using s = startServer(Recorder, {
    headerTimeout: 5,
    bodyTimeout: 5,
    keepAliveTimeout: 5,
  });
  s.server.handleError = (_c, _a, error) => {
    errors.push(error);
  };
  const random = mulberry32(SEED);
  const inputs = Array.from({ length: CASES }, () => makeInput(random));
  const failures: string[] = [];
  let next = 0;
  let served = 0;
  let smuggledSeen = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < inputs.length && failures.length < 5) {
      const index = next++;
      const input = inputs[index];
      const t0 = performance.now();
      const got = await send(s.port, input);
      const took = performance.now() - t0;
      const seen = Recorder.seen.get(got.local) ?? [];
      Recorder.seen.delete(got.local);
      const expected = reference(input);
      const problem = !got.closed
        ? `no answer and no close within ${EXCHANGE_LIMIT_MS} ms`
        : took > EXCHANGE_LIMIT_MS
        ? `took ${took} ms`
        : checkResponses(got.text, seen);
      try {
        assert.deepEqual(seen, expected);
      } catch {
        failures.push(
          `#${index} ${JSON.stringify(input)}\n  server: ${
            JSON.stringify(seen)
          }\n  model:  ${JSON.stringify(expected)}`,
        );
        continue;
      }
      if (problem !== null) {
        failures.push(`#${index} ${JSON.stringify(input)}: ${problem}`);
      }
      served += seen.length;
      smuggledSeen += seen.filter((r) => r.path === "/smuggled").length;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  assert.deepEqual(failures, [], `seed ${SEED}`);
  assert.deepEqual(errors, [], "handleError was called");
  // The mix must exercise both sides: many dispatched, many refused.
  assert.ok(served > CASES / 4 && served < CASES * 2, `${served} served`);
  // After all that, a normal request is served promptly.
  const after = await exchange(
    s.port,
    "GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
  );
  assert.equal(parseResponses(after.text)[0].body, "ok");
  console.log(
    `fuzz seed ${SEED}: ${CASES} inputs, ${served} requests served ` +
      `(${smuggledSeen} /smuggled, each one agreed by the model), ` +
      `${Math.round(performance.now() - started)} ms`,
  );
});

/**
 * The responses must be whole and in order: 1xx, 200 for each request read
 * to its end, then at most one error, last.
 */
function checkResponses(text: string, seen: Seen[]): string | null {
  let responses;
  try {
    responses = parseResponses(text).filter((r) => r.status >= 200);
  } catch (error) {
    return `unparsable response: ${String(error)} in ${JSON.stringify(text)}`;
  }
  const ok = responses.filter((r) => r.status === 200).length;
  const fine = seen.filter((r) => !r.bodyError).length;
  const errors = responses.slice(ok);
  if (responses.slice(0, ok).some((r) => r.status !== 200)) {
    return `an error before a success: ${responses.map((r) => r.status)}`;
  }
  if (ok !== fine || errors.length > 1 || errors.some((r) => r.status < 400)) {
    return `responses ${responses.map((r) => r.status)} for ${fine} served`;
  }
  return null;
}
