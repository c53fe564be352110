// Copyright 2026 the basehttp authors. MIT license.
/**
 * {@linkcode CGIHTTPRequestHandler}: Python's CGI handler (removed from
 * Python in 3.15), rebuilt on RFC 3875 and made safe to expose: scripts run
 * without a shell, in a minimal environment, under a time limit; their
 * output is parsed and streamed back; paths are collapsed so that nothing
 * outside the CGI directories ever runs.
 *
 * @example Run a script
 * ```ts
 * import { HTTPServer } from "@basehttp/server";
 * import { CGIHTTPRequestHandler } from "@basehttp/server/cgi";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/cgi-bin`);
 * await Deno.writeTextFile(
 *   `${root}/cgi-bin/hello.sh`,
 *   '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nhello %s\\n" "$QUERY_STRING"\n',
 *   { mode: 0o755 },
 * );
 * class Handler extends CGIHTTPRequestHandler {
 *   override directory = root;
 *   override logMessage(): void {}
 * }
 *
 * await using httpd = new HTTPServer(["127.0.0.1", 0], Handler);
 * const serving = httpd.serveForever();
 * const url = `http://127.0.0.1:${httpd.serverPort}/cgi-bin/hello.sh?world`;
 * assert.equal(await (await fetch(url)).text(), "hello world\n");
 * await httpd.shutdown();
 * await serving;
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

import {
  ABSOLUTE_FORM,
  decodePath,
  isInside,
  NOT_SERVED,
  SEND_BUSY,
  SEP,
  WINDOWS,
} from "./_path.ts";
import { decodeLatin1, pyRepr, splitTokens } from "./_text.ts";
import { concatBytes, CR, GrowingBytes, LF } from "./_bytes.ts";
import { HTTPError, isFieldValue, isToken } from "./parser.ts";
import { type FileBody, SimpleHTTPRequestHandler } from "./static.ts";
import { granted } from "./_permission.ts";

// Only these names become HTTP_* variables: with "_" or other symbols, two
// different fields ("X-Id", "X_Id") would land on the same variable.
const PASSED_NAME = /^[A-Za-z0-9-]+$/;
const STATUS = /^([2-5]\d\d)(?:[ \t]+(.*))?$/;
// A local redirect (RFC 3875 §6.2.2): an absolute path, not "//host".
const LOCAL_PATH = /^\/(?!\/)[\x21-\x7e]*$/;
// Fields of one connection (RFC 9110 §7.6.1): the server's framing and
// keep-alive on either side, never the script's.
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
];
// Request fields not passed: hop-by-hop ones (a chunked body reaches the
// script with a CONTENT_LENGTH), those with variables of their own, those
// that carry credentials or a proxy.
const NOT_PASSED = new Set([
  ...HOP_BY_HOP,
  "content-type",
  "content-length",
  "proxy", // httpoxy: HTTP_PROXY is read as a proxy setting by scripts
  "proxy-authorization",
]);
// Script fields the server owns: framing, connection and its own stamps.
const NOT_RELAYED = new Set([...HOP_BY_HOP, "server", "date"]);
const META_VARIABLE =
  /^(?:AUTH_TYPE|CONTENT_LENGTH|CONTENT_TYPE|GATEWAY_INTERFACE|PATH_INFO|PATH_TRANSLATED|QUERY_STRING|REMOTE_ADDR|REMOTE_HOST|REMOTE_IDENT|REMOTE_PORT|REMOTE_USER|REQUEST_METHOD|SCRIPT_NAME|SERVER_NAME|SERVER_PORT|SERVER_PROTOCOL|SERVER_SOFTWARE|HTTP_.*)$/;

/**
 * Whether `name` is a CGI meta-variable: one of RFC 3875 §4.1 (and
 * `REMOTE_PORT`), or any `HTTP_*`. Only the request sets those, so that
 * {@linkcode CGIHTTPRequestHandler.cgiEnv} cannot forge one the request did
 * not produce (its names of them are left out).
 *
 * @example
 * ```ts
 * import { isMetaVariable } from "@basehttp/server/cgi";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isMetaVariable("REMOTE_USER"), true);
 * assert.equal(isMetaVariable("HTTP_PROXY"), true);
 * assert.equal(isMetaVariable("http_proxy"), false); // a setting, kept
 * ```
 *
 * @param name A variable's name.
 * @returns `true` for a meta-variable.
 */
export function isMetaVariable(name: string): boolean {
  return META_VARIABLE.test(name);
}
// Most bytes of a script's header block (502 beyond).
const MAX_HEAD = 65536;
// Longest stderr line logged as one entry; longer ones are split.
const MAX_LOG_LINE = 4096;
// Nested local redirects followed before answering 502.
const MAX_LOCAL_REDIRECTS = 1;
// Milliseconds between SIGTERM and SIGKILL when a script is stopped.
const KILL_GRACE = 2000;
// Once the script has exited, how long its output may pause before it has
// ended: what it wrote is in the pipe already, and a child it left behind
// may hold stdout or stderr open for as long as it runs (Python's CGI, which
// hands the script the socket, answers at the exit too).
const EXIT_GRACE = 250;
// Most stderr bytes of one run that are logged; the rest is read and dropped,
// so that a script cannot flood the log.
const MAX_STDERR = 65536;
// Largest chunked body held in memory; a larger one goes to a temporary file.
const MAX_HELD_BODY = 1024 * 1024;
// The number of scripts a server runs, kept on the server object so that all
// its handlers share one count (see cgiMaxScripts).
const RUNNING: unique symbol = Symbol("basehttp.cgiRunning");
// The number of chunked bodies a server reads ahead of their scripts, kept
// as RUNNING is, and bound by cgiMaxScripts too.
const READING: unique symbol = Symbol("basehttp.cgiReading");

/** A script found for the request. */
interface Script {
  /** SCRIPT_NAME: the URL path of the script, decoded. */
  name: string;
  /** The script file on disk. */
  file: string;
  /** PATH_INFO: the decoded path after the script name, or "". */
  pathInfo: string;
  /** QUERY_STRING, as sent. */
  query: string;
}

/** A script's parsed header block. */
interface CGIHead {
  status: number | null;
  reason: string | undefined;
  location: string | null;
  contentType: boolean;
  fields: [string, string][];
}

/** The request body as a script gets it on stdin. */
interface Input {
  /** CONTENT_LENGTH, or `null` without a body. */
  length: number | null;
  /** The body's bytes, in order. */
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  /** The temporary file that holds them, if any. */
  spool: Spool | null;
}

/** What a running script is doing, shared by the tasks that serve it. */
interface Run {
  script: Script;
  proc: ScriptProcess;
  stdout: ReadableStreamDefaultReader<Uint8Array>;
  /** Why the run was cut short: the body broke off, or the client left. */
  cut: unknown;
  /** When the script exited (`performance.now()`), or `null`. */
  exitedAt: number | null;
  /** Called when it exits: the read waiting then. */
  onExit: (() => void) | null;
}

/** A decoded path back in URL form, for `translatePath`. */
function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * Resolves `.` and `..` in a decoded path as RFC 2396 §5.2 step 6 does;
 * `null` where Python raises IndexError (a `..` above the root).
 */
function collapsePath(path: string): string | null {
  const parts = path.split("/");
  let tail = parts.pop()!;
  const head: string[] = [];
  for (const part of parts) {
    if (part === "..") {
      if (head.length === 0) return null;
      head.pop();
    } else if (part !== "" && part !== ".") {
      head.push(part);
    }
  }
  if (tail === "..") {
    if (head.length === 0) return null;
    head.pop();
    tail = "";
  } else if (tail === ".") {
    tail = "";
  }
  return `/${head.join("/")}/${tail}`;
}

/**
 * Python's `_url_collapse_path`: percent-decodes the path of a URL, resolves
 * `.` and `..` segments and empty ones, and puts the query back. The result
 * always starts with `/`.
 *
 * @example Usage
 * ```ts
 * import { urlCollapsePath } from "@basehttp/server/cgi";
 * import assert from "node:assert/strict";
 *
 * assert.equal(urlCollapsePath("/cgi-bin/x/../%2e/y.sh?a=1"), "/cgi-bin/y.sh?a=1");
 * assert.equal(urlCollapsePath("/cgi-bin/%2e%2e/%2e%2e/etc"), null);
 * ```
 *
 * @param path A URL path, with an optional query.
 * @returns The collapsed path, or `null` when a `..` climbs above the root
 * (Python raises IndexError) or the path is not valid percent-encoded UTF-8.
 */
export function urlCollapsePath(path: string): string | null {
  const q = path.indexOf("?");
  const decoded = decodePath(q === -1 ? path : path.slice(0, q));
  const collapsed = decoded === null ? null : collapsePath(decoded);
  if (collapsed === null) return null;
  const query = q === -1 ? "" : path.slice(q + 1);
  return query === "" ? collapsed : `${collapsed}?${query}`;
}

/**
 * RFC 3875 §4.4: the query of a GET or HEAD without an unencoded `=` is a
 * search string, given to the script as arguments, one per `+`-separated
 * word. None are given if a word does not decode, or starts with `-`: an
 * interpreter could take it for an option (CVE-2012-1823).
 */
function searchArguments(method: string, query: string): string[] {
  if (method !== "GET" && method !== "HEAD") return [];
  if (query === "" || query.includes("=")) return [];
  const words = query.split("+").map(decodePath);
  const usable = words.every((word) =>
    word !== null && !word.includes("\0") && !word.startsWith("-")
  );
  return usable ? words as string[] : [];
}

/** The user of a Basic credential, or `null` when it does not decode. */
function basicUser(credentials: string): string | null {
  let text: string;
  try {
    const bytes = Uint8Array.from(atob(credentials), (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  // RFC 7617: the user-id ends at the first colon; the password may hold more.
  const colon = text.indexOf(":");
  const user = colon === -1 ? null : text.slice(0, colon);
  return user === null || user.includes("\0") ? null : user;
}

/**
 * Where a script's header block ends: `[end of its last line, start of the
 * body]`, or `null` when the empty line has not come yet. Lines end with LF
 * or CRLF.
 */
function findHeadEnd(buf: Uint8Array, from: number): [number, number] | null {
  if (buf[0] === LF) return [0, 1];
  if (buf[0] === CR && buf[1] === LF) return [0, 2];
  for (let i = buf.indexOf(LF, from); i !== -1; i = buf.indexOf(LF, i + 1)) {
    if (buf[i + 1] === LF) return [i, i + 2];
    if (buf[i + 1] === CR && buf[i + 2] === LF) return [i, i + 3];
  }
  return null;
}

async function realPath(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch {
    return null;
  }
}

/** Resolves as `promise` does, or after `ms`; the timer never outlives it. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What `reader` reads, in one buffer that each step refills: a chunk must be
 * used up before the next is asked for. Fresh buffers would be garbage held
 * outside V8's heap until a collection, tens of MiB for a large body.
 */
async function* chunksOf(
  reader: { read(p: Uint8Array): Promise<number | null> },
): AsyncGenerator<Uint8Array> {
  const buf = new Uint8Array(65536);
  for (let n; (n = await reader.read(buf)) !== null;) {
    yield buf.subarray(0, n);
  }
}

/**
 * The temporary directory, when reading and writing it are granted (asked,
 * never prompted for); else `null`.
 */
function spoolDirectory(): string | null {
  const variable = WINDOWS ? "TEMP" : "TMPDIR";
  const named = granted({ name: "env", variable })
    ? Deno.env.get(variable)
    : undefined;
  const dir = named || (WINDOWS ? undefined : "/tmp");
  if (dir === undefined) return null;
  const usable = granted({ name: "read", path: dir }) &&
    granted({ name: "write", path: dir });
  return usable ? dir : null;
}

/** A request body in a temporary file, removed by {@linkcode dispose}. */
class Spool {
  /** Bytes written so far. */
  length = 0;
  readonly #path: string;
  readonly #file: Deno.FsFile;

  private constructor(path: string, file: Deno.FsFile) {
    this.#path = path;
    this.#file = file;
  }

  static async create(dir: string): Promise<Spool> {
    const path = await Deno.makeTempFile({ dir, prefix: "basehttp_cgi_body_" });
    try {
      return new Spool(
        path,
        await Deno.open(path, { read: true, write: true }),
      );
    } catch (error) {
      await Deno.remove(path).catch(() => {});
      throw error;
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) {
      at += await this.#file.write(bytes.subarray(at));
    }
    this.length += bytes.length;
  }

  /** The bytes written, from the start (see {@linkcode chunksOf}). */
  async *chunks(): AsyncGenerator<Uint8Array> {
    await this.#file.seek(0, Deno.SeekMode.Start);
    yield* chunksOf(this.#file);
  }

  async dispose(): Promise<void> {
    this.#file.close();
    await Deno.remove(this.#path).catch(() => {});
  }
}

/**
 * A running script: its time limit, and a stop that reaches the processes
 * it started too (it runs in a process group of its own).
 */
class ScriptProcess {
  readonly child: Deno.ChildProcess;
  timedOut = false;
  #stopped = false;
  #limit: ReturnType<typeof setTimeout> | undefined;
  #kill: ReturnType<typeof setTimeout> | undefined;

  constructor(
    child: Deno.ChildProcess,
    seconds: number | null,
    onTimeout: () => void,
  ) {
    this.child = child;
    if (seconds !== null) {
      this.#limit = setTimeout(() => {
        this.timedOut = true;
        this.stop();
        onTimeout();
      }, seconds * 1000);
    }
  }

  /** SIGTERM now, SIGKILL after a grace period. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#signal("SIGTERM");
    this.#kill = setTimeout(() => {
      this.#kill = undefined;
      this.#signal("SIGKILL");
    }, KILL_GRACE);
  }

  /** SIGKILL now: nobody is left to wait for the script's answer. */
  kill(): void {
    this.#stopped = true;
    clearTimeout(this.#kill);
    this.#kill = undefined;
    this.#signal("SIGKILL");
  }

  /** Clears the timers once the script has exited; a stopped group is killed. */
  dispose(): void {
    clearTimeout(this.#limit);
    if (this.#kill !== undefined) {
      clearTimeout(this.#kill);
      this.#signal("SIGKILL"); // children that outlived the script
    }
  }

  #signal(signal: Deno.Signal): void {
    try {
      if (WINDOWS) this.child.kill(signal);
      else Deno.kill(-this.child.pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Python's `CGIHTTPRequestHandler`: runs the scripts under
 * {@linkcode cgiDirectories} for GET, HEAD and POST, and serves every other
 * path as {@linkcode SimpleHTTPRequestHandler} does.
 *
 * A script runs when it is a regular, executable file whose real path is
 * inside {@linkcode directory} and a CGI directory (unless
 * `followSymlinks`); `.py` and `.pyw` scripts through `python3 -u`.
 * It gets the RFC 3875 meta-variables in an environment of its own (see
 * {@linkcode cgiEnv}), the request body on stdin, and its directory as the
 * working directory. `REMOTE_USER` and `AUTH_TYPE` name the user that the
 * server's Basic auth let in (`remoteUser`); without it, the user named in
 * a Basic `Authorization` field, unchecked, as in Python. Its stdout is a
 * CGI response: header fields, an empty
 * line, the body. `Status:` sets the status; `Location:` with a local path
 * is served internally, any other `Location:` is a 302. Scripts whose name
 * starts with `nph-` write the whole HTTP response themselves. Lines on
 * stderr go to {@linkcode logError}, up to 64 KiB a run. The answer ends
 * when the script exits, even if a child it started holds its output.
 * With `cors` or `corsOrigins` the server's `Access-Control-Allow-Origin`
 * replaces the script's.
 *
 * A script that fails answers 500 (it exited non-zero before its header
 * block), 502 (it wrote no valid header block) or 504 (it ran past
 * {@linkcode cgiTimeout} and was killed); once its response has begun, the
 * connection is closed instead (no last chunk) when it timed out or died of
 * a signal as its output ended. A non-zero exit after its answer is only
 * logged, as in Python. A script runs in a process group of its
 * own, killed when the client goes away or the request times out (also when
 * the server's shutdown closes the connection after its `shutdownTimeout`).
 * At most {@linkcode cgiMaxScripts} run at once in one server; beyond, the
 * answer is 503 with `Retry-After`. The count is kept on the server object,
 * under a symbol of this module.
 *
 * Differences from Python: the server's environment is not inherited; the
 * script can set the status; `Authorization` is withheld from scripts
 * unless {@linkcode cgiPassAuth} is set, as RFC 3875 §4.1.18 advises; every
 * other header field but the hop-by-hop ones (`Connection`,
 * `Transfer-Encoding`, `TE`, `Trailer`, `Upgrade`, `Keep-Alive`, and those
 * `Connection` names) is passed as `HTTP_*` (repeated ones joined by `, `;
 * `HTTP_ACCEPT` is there even empty, as in Python); `SERVER_PROTOCOL` is
 * the request's protocol, not `protocolVersion` (RFC 3875 §4.1.16); a
 * chunked body is read whole (up to the server's `maxBodySize`, 413
 * beyond) so that `CONTENT_LENGTH` is exact: in memory up to 1 MiB, past
 * that into a temporary file when reading and writing the temporary
 * directory are granted, else 411 (the log names the flags); the files in
 * CGI directories are never served as files.
 *
 * @example Configure by subclassing
 * ```ts ignore
 * import { HTTPServer } from "@basehttp/server";
 * import { CGIHTTPRequestHandler } from "@basehttp/server/cgi";
 *
 * class Handler extends CGIHTTPRequestHandler {
 *   override directory = "/srv/www";
 *   override cgiDirectories = ["/cgi-bin"];
 *   override cgiTimeout = 10;
 * }
 * await new HTTPServer(["127.0.0.1", 8000], Handler).serveForever();
 * ```
 */
export class CGIHTTPRequestHandler extends SimpleHTTPRequestHandler {
  /**
   * URL paths whose files are scripts, each starting with `/` and without
   * a trailing one; nested directories under them hold scripts too.
   */
  cgiDirectories: readonly string[] = ["/cgi-bin", "/htbin"];
  /**
   * Seconds a script may run before it is stopped (SIGTERM, then SIGKILL);
   * `null` for no limit.
   */
  cgiTimeout: number | null = 30;
  /**
   * The variables every script starts with; by default only a `PATH`.
   * Nothing is inherited from the server: add what scripts need here
   * (`serve --cgi-env`), such as a `PATH` that finds `deno`. The names of
   * meta-variables (RFC 3875's, such as `REMOTE_USER` or `CONTENT_TYPE`,
   * and every `HTTP_*`) are left out: only the request sets those.
   */
  cgiEnv: Readonly<Record<string, string>> = {
    PATH: "/usr/local/bin:/usr/bin:/bin",
  };
  /** Pass the `Authorization` field to scripts as `HTTP_AUTHORIZATION`. */
  cgiPassAuth = false;
  /**
   * Most scripts one server runs at once (a script whose chunked body is
   * still being read counts); a request beyond gets 503 with
   * `Retry-After`. Four per CPU core by default.
   */
  cgiMaxScripts: number = navigator.hardwareConcurrency * 4;
  /**
   * What {@linkcode isCGI} found: the CGI directory, the decoded path after
   * it, and the query string.
   */
  cgiInfo: [dir: string, rest: string, query: string] | null = null;

  #redirects = 0;

  /**
   * Runs a CGI script; anything else saves files with
   * {@linkcode SimpleHTTPRequestHandler.upload}, else gets 501, as in
   * Python.
   */
  override async do_POST(): Promise<void> {
    if (this.isCGI()) await this.runCGI();
    else if (this.upload !== null) await super.do_POST();
    else await this.sendError(501, "Can only POST to CGI scripts");
  }

  /**
   * Runs the script when the path is a CGI one, else answers as
   * {@linkcode SimpleHTTPRequestHandler} does, except that files inside the
   * CGI directories are 404: their source is never served.
   *
   * @returns What {@linkcode do_GET} still has to send; `null` after a
   * script.
   */
  override async sendHead(): Promise<FileBody | Uint8Array | null> {
    if (this.isCGI()) {
      await this.runCGI();
      return null;
    }
    // Files in the CGI directories are 404 there: see [NOT_SERVED].
    return await super.sendHead();
  }

  /**
   * Whether the request path names a CGI script: after percent-decoding
   * and collapsing `.` and `..` (see {@linkcode urlCollapsePath}), it
   * starts with one of {@linkcode cgiDirectories} and a `/`. Sets
   * {@linkcode cgiInfo}.
   *
   * @returns `true` for a CGI path.
   */
  isCGI(): boolean {
    this.cgiInfo = null;
    // As the static handler reads it: no scheme and authority, no fragment.
    const target = this.path.replace(ABSOLUTE_FORM, "").split("#", 1)[0];
    const q = target.indexOf("?");
    const decoded = decodePath(q === -1 ? target : target.slice(0, q));
    if (decoded === null || decoded.includes("\0")) return false;
    const collapsed = collapsePath(decoded);
    if (collapsed === null) return false;
    for (
      let sep = collapsed.indexOf("/", 1);
      sep > 0;
      sep = collapsed.indexOf("/", sep + 1)
    ) {
      const dir = collapsed.slice(0, sep);
      if (this.cgiDirectories.includes(dir)) {
        const query = q === -1 ? "" : target.slice(q + 1);
        this.cgiInfo = [dir, collapsed.slice(sep + 1), query];
        return true;
      }
    }
    return false;
  }

  /**
   * Whether a file may be executed: any execute bit is set (on Windows,
   * always).
   *
   * @param path The file's path on disk.
   * @returns `true` when it is executable.
   */
  async isExecutable(path: string): Promise<boolean> {
    try {
      const { mode } = await Deno.stat(path);
      return mode === null || (mode & 0o111) !== 0;
    } catch {
      return false;
    }
  }

  /**
   * Whether a script is Python: its extension is `.py` or `.pyw`, in any
   * case.
   *
   * @param path The script's name or path.
   * @returns `true` for a Python script.
   */
  isPython(path: string): boolean {
    return /\.pyw?$/i.test(path);
  }

  /**
   * Runs the script that {@linkcode isCGI} found and relays its response.
   * Answers 404 when there is no such script, 403 when it is not a regular
   * executable file, 503 when {@linkcode cgiMaxScripts} are running, 411
   * for a chunked body that can be neither held nor spooled.
   *
   * @throws {TypeError} When {@linkcode isCGI} has not accepted the path.
   * @throws {HTTPError} 500, 502 or 504 when the script fails; the handler
   * answers it (or closes the connection if the response has begun).
   */
  async runCGI(): Promise<void> {
    if (this.cgiInfo === null) {
      throw new TypeError("runCGI() needs a path that isCGI() accepted");
    }
    if (this.cgiTimeout !== null && !(this.cgiTimeout > 0)) {
      throw new RangeError("cgiTimeout must be a positive number of seconds");
    }
    if (!Number.isInteger(this.cgiMaxScripts) || this.cgiMaxScripts < 1) {
      throw new RangeError("cgiMaxScripts must be a positive integer");
    }
    let [dir, rest] = this.cgiInfo;
    const query = this.cgiInfo[2];
    // Python's walk: /cgi-bin/sub/x.sh/info runs sub/x.sh.
    for (
      let slash = rest.indexOf("/");
      slash !== -1;
      slash = rest.indexOf("/")
    ) {
      const next = `${dir}/${rest.slice(0, slash)}`;
      if (!await this.#isDirectory(next)) break;
      dir = next;
      rest = rest.slice(slash + 1);
    }
    const slash = rest.indexOf("/");
    const name = `${dir}/${slash === -1 ? rest : rest.slice(0, slash)}`;
    const pathInfo = slash === -1 ? "" : rest.slice(slash);
    const file = this.translatePath(encodePath(name));
    const info = file === null ? null : await Deno.stat(file).catch(() => null);
    if (file === null || info === null || !await this.#inCGIDirectory(file)) {
      await this.sendError(404, `No such CGI script (${pyRepr(name)})`);
      return;
    }
    if (!info.isFile) {
      await this.sendError(
        403,
        `CGI script is not a plain file (${pyRepr(name)})`,
      );
      return;
    }
    if (!await this.isExecutable(file)) {
      await this.sendError(
        403,
        `CGI script is not executable (${pyRepr(name)})`,
      );
      return;
    }
    const location = await this.#execute({ name, file, pathInfo, query });
    if (location !== null) await this.#redirectLocally(location);
  }

  /**
   * Runs the script in one of the server's {@linkcode cgiMaxScripts} slots,
   * taken once a chunked body is read: a slow upload, read before the
   * script starts and so before cgiTimeout runs, would hold it for as long
   * as the client keeps to minBodyRate. Bodies read ahead have as many
   * slots of their own (their memory and spool files are bound too).
   */
  async #execute(script: Script): Promise<string | null> {
    const server = this.server as { [RUNNING]?: number };
    let input: Input | null = null;
    try {
      // Asked before the body too: a busy server reads none for nothing.
      if ((server[RUNNING] ?? 0) >= this.cgiMaxScripts) {
        await this[SEND_BUSY]("Too many CGI scripts running");
        return null;
      }
      input = await this.#input(script);
      if (input === null) return null;
      // Checked and taken with no await between: another request's check
      // must see it.
      if ((server[RUNNING] ?? 0) >= this.cgiMaxScripts) {
        await this[SEND_BUSY]("Too many CGI scripts running");
        return null;
      }
      server[RUNNING] = (server[RUNNING] ?? 0) + 1;
      try {
        return await this.#run(script, input);
      } finally {
        server[RUNNING]!--;
      }
    } finally {
      await input?.spool?.dispose();
    }
  }

  /**
   * The body for the script's stdin. A chunked one is read first, as
   * CONTENT_LENGTH must be exact: in memory up to {@linkcode MAX_HELD_BODY},
   * past that into a temporary file, in one of cgiMaxScripts slots for
   * bodies read ahead; `null` once answered: 503 when none is free, 411 when
   * no such file may be written.
   */
  async #input(script: Script): Promise<Input | null> {
    const none: Input = { length: null, chunks: [], spool: null };
    // A local redirect is a GET: the body went to the first script.
    if (this.#redirects > 0) return none;
    if (!this.rfile.chunked) {
      const declared = this.headers.get("content-length");
      if (declared === null) return none;
      const length = Number(declared.split(",")[0].trim());
      return { length, chunks: chunksOf(this.rfile), spool: null };
    }
    const server = this.server as { [READING]?: number };
    if ((server[READING] ?? 0) >= this.cgiMaxScripts) {
      await this[SEND_BUSY]("Too many CGI uploads being read");
      return null;
    }
    server[READING] = (server[READING] ?? 0) + 1;
    try {
      return await this.#readAhead(script);
    } finally {
      server[READING]!--;
    }
  }

  /** Reads a chunked body whole: held in memory, or spooled past a bound. */
  async #readAhead(script: Script): Promise<Input | null> {
    // What is held or spooled is bound by maxBodySize, as bytes() is.
    const max = this.server.limits.maxBodySize;
    const bound = (size: number) => {
      if (max !== null && size > max) {
        throw new HTTPError(413, "Content Too Large");
      }
    };
    // Gathered into one buffer: a body of many tiny chunks would otherwise
    // keep a read buffer for each.
    const held = new GrowingBytes();
    for await (const chunk of this.rfile) {
      held.append(chunk);
      bound(held.length);
      if (held.length > MAX_HELD_BODY) break;
    }
    const length = held.length;
    if (length <= MAX_HELD_BODY) {
      return { length, chunks: [held.bytes()], spool: null };
    }
    const dir = spoolDirectory();
    if (dir === null) {
      this.logError(
        "Chunked body over %d bytes for CGI script %r refused: spooling it " +
          "needs --allow-read and --allow-write for the temporary directory",
        MAX_HELD_BODY,
        script.name,
      );
      await this.sendError(411);
      return null;
    }
    const spool = await Spool.create(dir);
    try {
      await spool.write(held.bytes());
      for await (const chunk of chunksOf(this.rfile)) {
        bound(spool.length + chunk.length);
        await spool.write(chunk);
      }
    } catch (error) {
      await spool.dispose();
      throw error;
    }
    return { length: spool.length, chunks: spool.chunks(), spool };
  }

  /** Starts the script, feeds it the body, relays its output, reaps it. */
  async #run(script: Script, input: Input): Promise<string | null> {
    const env = this.#environment(script, input.length);
    const python = this.isPython(script.file);
    const args = searchArguments(this.command, script.query);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(python ? "python3" : script.file, {
        args: python ? ["-u", script.file, ...args] : args,
        cwd: script.file.slice(0, script.file.lastIndexOf(SEP)) || SEP,
        env,
        clearEnv: true,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        // A process group of its own, so that a stop reaches its children.
        detached: !WINDOWS,
      }).spawn();
    } catch (error) {
      this.logError("CGI script %r could not run: %s", script.name, error);
      throw new HTTPError(500, "CGI script could not run");
    }
    const stdout = child.stdout.getReader();
    const cancel = () => void stdout.cancel().catch(() => {});
    const proc = new ScriptProcess(child, this.cgiTimeout, cancel);
    const run: Run = {
      script,
      proc,
      stdout,
      cut: null,
      exitedAt: null,
      onExit: null,
    };
    const exited = () => {
      run.exitedAt = performance.now();
      run.onExit?.();
    };
    child.status.then(exited, exited);
    const stderr = child.stderr.getReader();
    const logging = this.#logStderr(stderr, script.name);
    const feeding = this.#feed(child.stdin, input.chunks).catch((error) => {
      // The client's body broke off: the script must not act on half.
      run.cut = error;
      proc.stop();
      cancel();
    });
    // The client left or the request timed out (at shutdown too, once the
    // server closes the connection): nobody waits for the answer any more.
    const signal = this.signal;
    const leave = () => {
      run.cut ??= new Deno.errors.ConnectionAborted(
        `CGI script stopped: ${signal.reason}`,
      );
      proc.kill();
      cancel();
    };
    if (signal.aborted) leave();
    else signal.addEventListener("abort", leave, { once: true });
    let relayed = false;
    try {
      const location = await this.#relay(run);
      relayed = true;
      return location;
    } finally {
      if (!relayed) proc.stop();
      await stdout.cancel().catch(() => {});
      const status = await child.status;
      signal.removeEventListener("abort", leave); // its pid may be reused
      // A child of the script may still hold stdin: the time limit, still
      // armed, stops it.
      await feeding;
      // The same grace as stdout's, from the exit: stdout took it already
      // when a child left behind holds both.
      const left = (run.exitedAt ?? performance.now()) + EXIT_GRACE -
        performance.now();
      await within(logging, Math.max(0, left));
      await stderr.cancel().catch(() => {});
      await logging;
      proc.dispose();
      if (proc.timedOut) {
        this.logError(
          "CGI script %r timed out after %s seconds",
          script.name,
          this.cgiTimeout,
        );
      } else if (status.signal !== null) {
        this.logError("CGI script %r killed by %s", script.name, status.signal);
      } else if (status.code !== 0) {
        this.logError("CGI script %r exit code %d", script.name, status.code);
      }
    }
  }

  /** The environment of a script: RFC 3875 meta-variables and HTTP_*. */
  #environment(script: Script, length: number | null): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(this.cgiEnv)) {
      if (!isMetaVariable(name)) env[name] = value;
    }
    // Fields the client's Connection names are hop-by-hop too (RFC 9110
    // §7.6.1).
    const hop = splitTokens(this.headers.getAll("connection"));
    for (const [name, value] of this.headers) {
      const key = name.toLowerCase();
      if (!PASSED_NAME.test(name) || NOT_PASSED.has(key) || hop.includes(key)) {
        continue;
      }
      if (key === "authorization" && !this.cgiPassAuth) continue;
      const variable = "HTTP_" + key.toUpperCase().replaceAll("-", "_");
      const held = env[variable];
      // RFC 3875 §4.1.18: repeated fields become one value.
      env[variable] = held === undefined
        ? value
        : held + (key === "cookie" ? "; " : ", ") + value;
    }
    env.HTTP_ACCEPT ??= ""; // always there, as in Python
    env.SERVER_SOFTWARE = this.versionString();
    env.SERVER_NAME = this.server.serverName;
    env.GATEWAY_INTERFACE = "CGI/1.1";
    // The request's (RFC 3875 §4.1.16); Python gives its protocolVersion.
    env.SERVER_PROTOCOL = this.requestVersion;
    env.SERVER_PORT = String(this.server.serverPort);
    env.REQUEST_METHOD = this.command;
    env.PATH_INFO = script.pathInfo;
    const translated = script.pathInfo === ""
      ? null
      : this.translatePath(encodePath(script.pathInfo));
    if (translated !== null) env.PATH_TRANSLATED = translated;
    env.SCRIPT_NAME = script.name;
    env.QUERY_STRING = script.query;
    env.REMOTE_ADDR = env.REMOTE_HOST = this.clientAddress[0];
    env.REMOTE_PORT = String(this.clientAddress[1]);
    const authorization = this.headers.get("authorization")?.trim() ?? "";
    const words = authorization.split(/[ \t]+/);
    if (this.remoteUser !== null) {
      // Checked by the server's own Basic auth (`auth`).
      env.AUTH_TYPE = "Basic";
      env.REMOTE_USER = this.remoteUser;
    } else if (words.length === 2) {
      env.AUTH_TYPE = words[0];
      const user = words[0].toLowerCase() === "basic"
        ? basicUser(words[1])
        : null;
      if (user !== null) env.REMOTE_USER = user;
    }
    if (length !== null) {
      env.CONTENT_LENGTH = String(length);
      const type = this.headers.get("content-type");
      if (type !== null) env.CONTENT_TYPE = type;
    }
    return env;
  }

  /**
   * Writes the request body to the script's stdin and closes it. Stops
   * quietly when the script stops reading; throws when the body breaks.
   */
  async #feed(
    stdin: WritableStream<Uint8Array>,
    chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const writer = stdin.getWriter();
    let reading = true; // false once the script has closed its stdin
    const write = (bytes: Uint8Array) =>
      writer.write(bytes).catch(() => {
        reading = false;
      });
    try {
      for await (const chunk of chunks) {
        await write(chunk);
        if (!reading) break; // what is left is drained by the handler
      }
    } finally {
      await (reading ? writer.close() : writer.abort()).catch(() => {});
    }
  }

  /**
   * Logs each line of the script's stderr through {@linkcode logError}, up
   * to {@linkcode MAX_STDERR} bytes a run; the rest is read, so that the
   * script does not block, and dropped.
   */
  async #logStderr(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    name: string,
  ): Promise<void> {
    const decoder = new TextDecoder();
    const log = (line: string) =>
      this.logError("CGI script %r: %s", name, line.replace(/\r$/, ""));
    let pending = "";
    const flush = () => {
      pending += decoder.decode();
      if (pending !== "") log(pending);
      pending = "";
    };
    let left = MAX_STDERR;
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        if (left <= 0) continue;
        pending += decoder.decode(value.subarray(0, left), { stream: true });
        left -= value.length;
        let newline: number;
        while ((newline = pending.indexOf("\n")) !== -1) {
          log(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
        }
        while (pending.length > MAX_LOG_LINE) {
          log(pending.slice(0, MAX_LOG_LINE));
          pending = pending.slice(MAX_LOG_LINE);
        }
        if (left <= 0) {
          flush();
          this.logError(
            "CGI script %r stderr truncated after %d bytes",
            name,
            MAX_STDERR,
          );
        }
      }
    } catch {
      // Cancelled: a child of the script still holds stderr.
    }
    flush();
  }

  /**
   * Relays the script's output as the response.
   *
   * @returns The path of a local redirect, or `null`.
   */
  async #relay(run: Run): Promise<string | null> {
    const headOnly = this.command === "HEAD";
    if (/(^|\/)nph-[^/]*$/.test(run.script.name)) {
      // Non-parsed headers: the output is the response; the handler closes
      // the connection after it, as its framing is unknown.
      let sent = false;
      while (true) {
        const { done, value } = await this.#read(run);
        if (done) break;
        await this.wfile.write(value);
        await this.wfile.flush();
        sent ||= value.length > 0;
      }
      if (!sent) throw await this.#failure(run, "CGI script sent nothing");
      if (run.cut !== null || run.proc.timedOut) {
        throw await this.#failure(run, "CGI script output cut short");
      }
      return null;
    }

    let buffer: Uint8Array = new Uint8Array(0);
    let end: [number, number] | null = null;
    while (end === null) {
      const { done, value } = await this.#read(run);
      if (done) {
        throw await this.#failure(run, "CGI script ended before its headers");
      }
      const from = Math.max(0, buffer.length - 2);
      buffer = concatBytes([buffer, value]);
      end = findHeadEnd(buffer, from);
      if (end === null && buffer.length > MAX_HEAD) {
        throw new HTTPError(502, "CGI script headers too large");
      }
    }
    const head = this.#parseHead(
      decodeLatin1(buffer.subarray(0, end[0])),
      run.script.name,
    );
    const { status, location } = head;
    if (location !== null && status === null && LOCAL_PATH.test(location)) {
      return location; // the rest of the output is not used
    }
    if (!head.contentType && location === null && status === null) {
      throw new HTTPError(502, "CGI script sent no Content-Type");
    }
    if (status !== null) this.sendResponse(status, head.reason);
    else if (location !== null) this.sendResponse(302);
    else this.sendResponse(200, "Script output follows");
    // With cors or corsOrigins the server owns Access-Control-Allow-Origin:
    // two values would make browsers refuse the answer.
    const cors = this.cors || this.corsOrigins.length > 0;
    for (const [name, value] of head.fields) {
      const key = name.toLowerCase();
      if (cors && key === "access-control-allow-origin") continue;
      this.sendHeader(name, value);
    }
    await this.endHeaders();
    let chunk = buffer.subarray(end[1]);
    while (true) {
      if (chunk.length > 0 && !headOnly) {
        await this.wfile.write(chunk);
        await this.wfile.flush(); // streamed as it comes
      }
      const { done, value } = await this.#read(run);
      if (done) break;
      chunk = value;
    }
    if (run.cut !== null || run.proc.timedOut) {
      throw await this.#failure(run, "CGI script output cut short");
    }
    // Killed by a signal as its output ended (a crash, the OOM killer), it
    // may have written half a body: the close must say so, not a last
    // chunk. A script that closed its output first, or exits non-zero
    // after it (a shell script's last test may), wrote what it meant to.
    const bodiless = headOnly || status === 204 || status === 304;
    if (!bodiless && await this.#killedWithItsOutput(run)) {
      throw await this.#failure(run, "CGI script output cut short");
    }
    return null;
  }

  /** Whether the script died of a signal as its output ended. */
  async #killedWithItsOutput(run: Run): Promise<boolean> {
    // The exit and the end of stdout come as two events, in either order.
    if (run.exitedAt === null) await within(run.proc.child.status, EXIT_GRACE);
    if (run.exitedAt === null) return false; // it closed its output, and runs
    return (await run.proc.child.status).signal !== null;
  }

  /**
   * The script's next output. Once it has exited, a read that brings
   * nothing for {@linkcode EXIT_GRACE} ms is the end, and the rest is
   * cancelled.
   */
  async #read(run: Run): Promise<ReadableStreamReadResult<Uint8Array>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((resolve) => {
      const arm = () => timer = setTimeout(() => resolve(null), EXIT_GRACE);
      if (run.exitedAt !== null) arm();
      else run.onExit = arm;
    });
    try {
      const result = await Promise.race([run.stdout.read(), late]);
      if (result !== null) return result;
      await run.stdout.cancel().catch(() => {});
      return { done: true, value: undefined };
    } finally {
      run.onExit = null;
      clearTimeout(timer);
    }
  }

  /**
   * Why the script's output ended early, as the error to answer: the
   * body's own error, 504 for the time limit, 500 for a failed script,
   * else 502 with `message`.
   */
  async #failure(run: Run, message: string): Promise<unknown> {
    // Wait for the exit, to tell a crash from a script that said nothing.
    const status = run.cut === null && !run.proc.timedOut
      ? await run.proc.child.status
      : null;
    if (run.cut !== null) return run.cut;
    if (run.proc.timedOut) return new HTTPError(504, "CGI script timed out");
    if (status !== null && !status.success) {
      return new HTTPError(500, "CGI script failed");
    }
    return new HTTPError(502, message);
  }

  /** Parses a script's header block; a bad line is a 502. */
  #parseHead(text: string, name: string): CGIHead {
    const head: CGIHead = {
      status: null,
      reason: undefined,
      location: null,
      contentType: false,
      fields: [],
    };
    let length = false;
    for (let line of text === "" ? [] : text.split("\n")) {
      if (line.endsWith("\r")) line = line.slice(0, -1);
      const colon = line.indexOf(":");
      const field = colon > 0 ? line.slice(0, colon) : "";
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
      const key = field.toLowerCase();
      const status = key === "status" ? STATUS.exec(value) : null;
      if (
        !isToken(field) || !isFieldValue(value) ||
        (key === "status" && (status === null || head.status !== null)) ||
        (key === "location" && head.location !== null) ||
        (key === "content-length" &&
          (length || !/^\d+$/.test(value) || !Number.isSafeInteger(+value)))
      ) {
        this.logError("CGI script %r sent a bad header line %r", name, line);
        throw new HTTPError(502, "Bad header from CGI script");
      }
      if (status !== null) {
        head.status = Number(status[1]);
        head.reason = status[2] || undefined;
        continue;
      }
      if (key === "content-length") length = true;
      if (key === "location") head.location = value;
      if (key === "content-type") head.contentType = true;
      if (!NOT_RELAYED.has(key)) head.fields.push([field, value]);
    }
    return head;
  }

  /** Serves a script's local redirect as a GET (or HEAD) of that path. */
  async #redirectLocally(location: string): Promise<void> {
    if (this.#redirects >= MAX_LOCAL_REDIRECTS) {
      throw new HTTPError(502, "Too many local redirects from CGI scripts");
    }
    const { path, command } = this;
    this.path = location;
    if (command !== "HEAD") this.command = "GET";
    this.#redirects++;
    try {
      if (command === "HEAD") await this.do_HEAD();
      else await this.do_GET();
    } finally {
      this.#redirects--;
      this.path = path;
      this.command = command;
    }
  }

  async #isDirectory(urlPath: string): Promise<boolean> {
    const path = this.translatePath(encodePath(urlPath));
    if (path === null) return false;
    const info = await Deno.stat(path).catch(() => null);
    return info?.isDirectory ?? false;
  }

  /**
   * Whether a script's real path is inside the root and a CGI directory (or
   * links may leave them): a file served as source elsewhere is never run.
   */
  async #inCGIDirectory(file: string): Promise<boolean> {
    if (this.followSymlinks) return true;
    const root = await realPath(this.translatePath("/") ?? "");
    const real = await realPath(file);
    return root !== null && real !== null && isInside(real, root) &&
      this[NOT_SERVED](real);
  }

  /**
   * Whether a real path lies in one of the CGI directories: their files are
   * never served as static files.
   *
   * @ignore
   */
  override [NOT_SERVED](real: string): boolean {
    return this.cgiDirectories.some((dir) => {
      const dirPath = this.translatePath(encodePath(dir));
      try {
        return dirPath !== null && isInside(real, Deno.realPathSync(dirPath));
      } catch {
        return false; // no such directory
      }
    });
  }
}
