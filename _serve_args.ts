// Copyright 2026 the basehttp authors. MIT license.
// The `serve` command line: its options, help text and parser (the public
// names are re-exported by cli.ts; not a public entry).

import { LOG_FORMATS, type LogFormat } from "./_access_log.ts";
import { isFieldValue, isToken } from "./parser.ts";
import { isMetaVariable } from "./cgi.ts";

/**
 * Parses a `--max-upload` size: bytes, or a number with K, M or G (powers
 * of 1024).
 *
 * @param text Such as `"500"`, `"10M"`, `"2g"`.
 * @returns The byte count.
 * @throws {TypeError} When it is not a size.
 */
function parseSize(text: string): number {
  const match = /^(\d+)([KMG]?)$/i.exec(text.trim());
  const size = match === null
    ? NaN
    : Number(match[1]) * 1024 ** " KMG".indexOf(match[2].toUpperCase() || " ");
  if (!Number.isSafeInteger(size)) {
    throw new TypeError(
      `invalid size: '${text}' (use bytes, or a number with K, M or G)`,
    );
  }
  return size;
}

/** The settings a `serve` command line asks for. */
export interface ServeOptions {
  /** The TCP port; 0 picks a free one. @default {8000} */
  port: number;
  /**
   * The address to bind: `""` for all interfaces (`::`, IPv6 and IPv4; else
   * `0.0.0.0`), or `unix:/path`. @default {""}
   */
  bind: string;
  /** The directory to serve. @default {"."} */
  directory: string;
  /** The status-line version. @default {"HTTP/1.1"} */
  protocol: string;
  /** The TLS certificate chain file (PEM), or `null` for plain HTTP. */
  tlsCert: string | null;
  /** The TLS private key file (PEM); `null` to look in the certificate file. */
  tlsKey: string | null;
  /** A file holding the password of an encrypted key. */
  tlsPasswordFile: string | null;
  /** Extra header fields for file and listing responses (`-H`). */
  headers: [string, string][];
  /** Answer CORS requests and preflights (`--cors`). */
  cors: boolean;
  /** The only origins CORS allows (`--cors-origin`); empty for any. */
  corsOrigins: string[];
  /** Compress responses; off with `--no-compress`. @default {true} */
  compress: boolean;
  /** Answer a missing page's path with the root `index.html` (`--spa`). */
  spa: boolean;
  /** Answer `/page` with `page.html` when there is no file `/page` (`--clean-urls`). */
  cleanUrls: boolean;
  /** Users and passwords for HTTP Basic auth (`--auth`). */
  auth: [user: string, password: string][];
  /** A file of `user:password` lines for Basic auth (`--auth-file`). */
  authFile: string | null;
  /** `Cache-Control: max-age` in seconds (`--max-age`), or `null`. */
  maxAge: number | null;
  /** Add `immutable` to `Cache-Control` (`--immutable`). */
  immutable: boolean;
  /** Send `Cache-Control: no-cache` (`--no-cache`). */
  noCache: boolean;
  /** The access log's format (`--log-format`); `null` for Python's. */
  logFormat: "common" | "combined" | "json" | null;
  /** Append the log to this file (`--log-file`); `null` for stderr. */
  logFile: string | null;
  /**
   * Variables added to CGI scripts' environment (`--cgi-env`): a `null`
   * value passes the server's own.
   */
  cgiEnv: [name: string, value: string | null][];
  /** List directories without an index page. */
  listing: boolean;
  /** Serve and list dotfiles. */
  dotfiles: boolean;
  /** Serve symlinks that resolve outside the directory (`--follow-symlinks`). */
  followSymlinks: boolean;
  /** No access log. */
  quiet: boolean;
  /** Processes serving the port together (Linux, `SO_REUSEPORT`). @default {1} */
  workers: number;
  /** Bind with `SO_REUSEPORT` so other processes may serve the port too. */
  reusePort: boolean;
  /**
   * Seconds requests in flight get to finish once a signal stops the
   * server (`--shutdown-timeout`), then their connections are closed.
   * @default {10}
   */
  shutdownTimeout: number;
  /** Run as a `--workers` child: exit when the parent's stdin pipe closes. */
  worker: boolean;
  /** Run CGI scripts in /cgi-bin and /htbin (Python's `--cgi`). */
  cgi: boolean;
  /** Accept uploads: PUT, and a form on listings (`--upload`). */
  upload: boolean;
  /** Let uploads replace existing files (`--overwrite`). */
  overwrite: boolean;
  /** Most bytes of one upload request (`--max-upload`), or `null`. */
  maxUpload: number | null;
  /** Print the help and exit. */
  help: boolean;
  /** Print the version and exit. */
  version: boolean;
}

/** The text of `serve --help`. */
export const HELP: string =
  `usage: serve [-h] [--version] [-b ADDRESS] [-d DIRECTORY] [-p VERSION]
             [--tls-cert PATH] [--tls-key PATH] [--tls-password-file PATH]
             [-H "NAME: VALUE"] [--cors] [--cors-origin ORIGIN]
             [--no-compress] [--spa] [--clean-urls] [--no-listing]
             [--dotfiles] [--follow-symlinks]
             [--auth USER:PASS] [--auth-file FILE]
             [--max-age SECONDS] [--immutable] [--no-cache]
             [-q] [--log-format FORMAT] [--log-file PATH]
             [--workers N] [--reuse-port] [--shutdown-timeout SECONDS]
             [--cgi] [--cgi-env NAME[=VALUE]]
             [--upload] [--overwrite] [--max-upload SIZE]
             [port]

Serve a directory over HTTP: Python's "python -m http.server" for Deno.
The deno permission a flag needs is in brackets; serve checks them at start.

positional arguments:
  port                  bind to this port (default: 8000)

options:
  -h, --help            show this help message and exit
  --version             show the version and exit
  -b, --bind ADDRESS    bind to this address (default: all interfaces, IPv6
                        and IPv4: "::", else "0.0.0.0"); unix:PATH serves on
                        a Unix socket [--allow-write=PATH]
  -d, --directory DIRECTORY
                        serve this directory (default: current directory)
                        [--allow-read=DIRECTORY]
  -p, --protocol VERSION
                        conform to this HTTP version: HTTP/1.0 or HTTP/1.1
                        (default: HTTP/1.1)
  --tls-cert PATH       serve HTTPS with this certificate chain (PEM); on
                        the open internet, a TLS proxy in front is safer
  --tls-key PATH        the certificate's private key (PEM; default: look in
                        the certificate file)
  --tls-password-file PATH
                        the password of an encrypted private key
  -H, --header "NAME: VALUE"
                        add this header field to file and listing responses
                        (repeatable; not one the server sets itself, such
                        as Content-Type or Content-Length)
  --cors                answer CORS requests from any origin, and preflights
  --cors-origin ORIGIN  allow CORS from this origin only, such as
                        https://app.example (repeatable; implies --cors)
  --no-compress         do not compress responses (default: gzip or brotli
                        for compressible types, precompressed .br/.gz first)
  --spa                 answer a missing path without an extension with the
                        root index.html (single-page apps)
  --clean-urls          answer /page with page.html when there is no file
                        /page (a directory of the name gives way), as
                        static site generators link their pages
  --no-listing          answer 403 for directories without an index page
  --dotfiles            serve files and directories whose names start with .
  --follow-symlinks     serve symlinks that point outside the directory, as
                        Python and nginx do (default: 404, and not listed)
  --auth USER:PASS      require HTTP Basic auth with this user (repeatable)
  --auth-file FILE      require HTTP Basic auth with the users of FILE, one
                        "user:password" a line; # comments [--allow-read=FILE]
  --max-age SECONDS     send Cache-Control: max-age=SECONDS
  --immutable           add immutable to Cache-Control (without --max-age:
                        max-age=31536000, a year); HTML pages get no-cache
  --no-cache            send Cache-Control: no-cache (revalidate every time)
  -q, --quiet           do not log requests
  --log-format FORMAT   log requests as common or combined (Apache's), or
                        json (one object a line) (default: Python's)
  --log-file PATH       append the log to PATH instead of stderr; reopened
                        on SIGHUP, for log rotation [--allow-write=PATH]
  --cgi                 run the executable files in /cgi-bin and /htbin as
                        CGI scripts [--allow-run]
  --cgi-env NAME[=VALUE]
                        add this variable to CGI scripts' environment; a
                        bare NAME passes serve's own, as --cgi-env PATH to
                        find deno (repeatable) [--allow-env=NAME]
  --upload              accept uploads: PUT writes a file, and listings get
                        a form for several files [--allow-write=DIRECTORY]
  --overwrite           let uploads replace existing files (default: 409)
  --max-upload SIZE     refuse uploads of more than SIZE bytes per request
                        with 413; K, M and G suffixes (default: no limit)
  --workers N           serve with N processes sharing the port (Linux;
                        default: 1) [--allow-run]
  --reuse-port          bind with SO_REUSEPORT, to share the port with other
                        processes (Linux; needs deno run --unstable-net)
  --shutdown-timeout SECONDS
                        on SIGINT or SIGTERM, give requests in flight this
                        long to finish, then close their connections; a
                        second signal stops waiting (default: 10)
  --worker              (used by --workers) serve until stdin closes

The banner lists this machine's network addresses with
--allow-sys=networkInterfaces.
`;

// Flags that take a value, by every spelling.
const VALUE_FLAGS: Record<string, string> = {
  "-b": "bind",
  "--bind": "bind",
  "-d": "directory",
  "--directory": "directory",
  "-p": "protocol",
  "--protocol": "protocol",
  "--tls-cert": "tlsCert",
  "--tls-key": "tlsKey",
  "--tls-password-file": "tlsPasswordFile",
  "-H": "header",
  "--header": "header",
  "--workers": "workers",
  "--cors-origin": "corsOrigin",
  "--auth": "auth",
  "--auth-file": "authFile",
  "--max-age": "maxAge",
  "--log-format": "logFormat",
  "--log-file": "logFile",
  "--cgi-env": "cgiEnv",
  "--max-upload": "maxUpload",
  "--shutdown-timeout": "shutdownTimeout",
};
// Switches, by every spelling: the option each sets, and to what.
const SWITCHES: Record<string, [string, boolean]> = {
  "-h": ["help", true],
  "--help": ["help", true],
  "--version": ["version", true],
  "--cors": ["cors", true],
  "--no-compress": ["compress", false],
  "--spa": ["spa", true],
  "--clean-urls": ["cleanUrls", true],
  "--no-listing": ["listing", false],
  "--dotfiles": ["dotfiles", true],
  "--follow-symlinks": ["followSymlinks", true],
  "--immutable": ["immutable", true],
  "--no-cache": ["noCache", true],
  "-q": ["quiet", true],
  "--quiet": ["quiet", true],
  "--reuse-port": ["reusePort", true],
  "--worker": ["worker", true],
  "--cgi": ["cgi", true],
  "--upload": ["upload", true],
  "--overwrite": ["overwrite", true],
};
// Cache-Control's delta-seconds stop at 2^31 (RFC 9111 §1.2.2).
const MAX_AGE_LIMIT = 2 ** 31;
// What --immutable alone means: a year, as RFC 8246's examples use.
const IMMUTABLE_MAX_AGE = 31536000;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function flagNames(key: string): string {
  return Object.keys(VALUE_FLAGS).filter((flag) => VALUE_FLAGS[flag] === key)
    .join("/");
}

/**
 * Parses a `serve` command line (Python's flags, plus those of the static
 * servers people pick: CORS, compression, SPA, auth, caching, logs).
 *
 * @param given The arguments, without the program name.
 * @returns The options, with defaults filled in.
 * @throws {TypeError} When a flag is unknown, lacks its value, or a value is
 * not valid; the message is meant for the user.
 */
export function parseArgs(given: readonly string[]): ServeOptions {
  const args = [...given]; // -qb splits into -q and -b
  const options: ServeOptions = {
    port: 8000,
    bind: "",
    directory: ".",
    protocol: "HTTP/1.1",
    tlsCert: null,
    tlsKey: null,
    tlsPasswordFile: null,
    headers: [],
    cors: false,
    corsOrigins: [],
    compress: true,
    spa: false,
    cleanUrls: false,
    auth: [],
    authFile: null,
    maxAge: null,
    immutable: false,
    noCache: false,
    logFormat: null,
    logFile: null,
    cgiEnv: [],
    listing: true,
    dotfiles: false,
    followSymlinks: false,
    quiet: false,
    workers: 1,
    reusePort: false,
    shutdownTimeout: 10,
    worker: false,
    cgi: false,
    upload: false,
    overwrite: false,
    maxUpload: null,
    help: false,
    version: false,
  };
  const positional: string[] = [];
  let unrecognized: string | null = null;
  let onlyPositional = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (onlyPositional || arg === "-" || !arg.startsWith("-")) {
      positional.push(arg);
      continue;
    }
    if (arg === "--") {
      onlyPositional = true;
      continue;
    }
    let flag = arg;
    let value: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq !== -1) {
      flag = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    } else if (!arg.startsWith("--") && arg.length > 2) {
      flag = arg.slice(0, 2);
      if (flag in SWITCHES && arg[2] !== "=") {
        // -qb 127.0.0.1: the switch, then the rest, as argparse takes them.
        args.splice(i + 1, 0, "-" + arg.slice(2));
      } else {
        // -b127.0.0.1 and -b=127.0.0.1, as argparse allows.
        value = arg.slice(arg[2] === "=" ? 3 : 2);
      }
    }
    flag = longFlag(flag);
    const key = VALUE_FLAGS[flag];
    if (key === undefined) {
      const change = SWITCHES[flag];
      if (change === undefined || value !== undefined) {
        unrecognized ??= arg; // after -h, as argparse: help comes first
        continue;
      }
      // argparse prints the help as soon as it meets -h.
      if (change[0] === "help") return { ...options, help: true };
      (options as unknown as Record<string, boolean>)[change[0]] = change[1];
      continue;
    }
    if (value === undefined) {
      // A flag is no value, as in argparse ("-d -q"); "-", "-1" and a
      // text with a space ("- %h") are.
      const next = args[i + 1];
      if (next === undefined || (/^-\D/.test(next) && !next.includes(" "))) {
        throw new TypeError(
          `argument ${flagNames(key)}: expected one argument`,
        );
      }
      value = args[++i];
    }
    switch (key) {
      case "header":
        options.headers.push(parseHeader(value));
        break;
      case "workers":
        if (!/^\d{1,3}$/.test(value) || Number(value) < 1) {
          throw new TypeError(`argument --workers: invalid count: '${value}'`);
        }
        options.workers = Number(value);
        break;
      case "corsOrigin":
        options.corsOrigins.push(parseOrigin(value));
        options.cors = true;
        break;
      case "auth":
        options.auth.push(parseCredential(value, "argument --auth"));
        break;
      case "maxAge":
        if (!/^\d{1,10}$/.test(value) || Number(value) > MAX_AGE_LIMIT) {
          throw new TypeError(
            `argument --max-age: invalid seconds: '${value}' (use 0 to ${MAX_AGE_LIMIT})`,
          );
        }
        options.maxAge = Number(value);
        break;
      case "logFormat":
        if (!(LOG_FORMATS as readonly string[]).includes(value)) {
          throw new TypeError(
            `argument --log-format: invalid choice: '${value}' (choose from ${
              LOG_FORMATS.join(", ")
            })`,
          );
        }
        options.logFormat = value as LogFormat;
        break;
      case "shutdownTimeout":
        if (!/^\d{1,6}(?:\.\d{1,3})?$/.test(value) || Number(value) === 0) {
          throw new TypeError(
            `argument --shutdown-timeout: invalid seconds: '${value}' (more than 0)`,
          );
        }
        options.shutdownTimeout = Number(value);
        break;
      case "cgiEnv":
        options.cgiEnv.push(parseEnv(value));
        break;
      case "maxUpload":
        try {
          options.maxUpload = parseSize(value);
        } catch (error) {
          throw new TypeError(
            `argument --max-upload: ${(error as TypeError).message}`,
          );
        }
        break;
      case "bind":
      case "directory":
      case "protocol":
        options[key] = value;
        break;
      default:
        (options as unknown as Record<string, string>)[key] = value;
    }
  }
  unrecognized ??= positional[1] ?? null;
  if (unrecognized !== null) {
    throw new TypeError(`unrecognized argument: ${unrecognized}`);
  }
  if (positional.length === 1) {
    const port = positional[0];
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
      throw new TypeError(`invalid port: '${port}' (use 0 to 65535)`);
    }
    options.port = Number(port);
  }
  if (!/^HTTP\/1\.[01]$/.test(options.protocol)) {
    throw new TypeError(
      `unsupported protocol version: '${options.protocol}' (use HTTP/1.0 or HTTP/1.1)`,
    );
  }
  if (options.tlsCert === null) {
    if (options.tlsKey !== null) {
      throw new TypeError("--tls-key requires --tls-cert");
    }
    if (options.tlsPasswordFile !== null) {
      throw new TypeError("--tls-password-file requires --tls-cert");
    }
  }
  if (options.bind === "unix:") {
    throw new TypeError("argument -b/--bind: unix: needs a socket path");
  }
  if (
    (options.workers > 1 || options.reusePort) &&
    options.bind.startsWith("unix:")
  ) {
    throw new TypeError("--workers and --reuse-port need a TCP address");
  }
  if (options.noCache && (options.maxAge !== null || options.immutable)) {
    throw new TypeError("--no-cache conflicts with --max-age and --immutable");
  }
  if (
    cacheControl(options) !== null &&
    options.headers.some(([name]) => name.toLowerCase() === "cache-control")
  ) {
    throw new TypeError(
      "-H Cache-Control conflicts with --max-age, --immutable and --no-cache",
    );
  }
  // Two Access-Control-Allow-Origin fields fail every CORS request.
  const cors = options.cors &&
    options.headers.find(([name]) => CORS_FIELDS.has(name.toLowerCase()));
  if (cors) {
    throw new TypeError(
      `-H ${cors[0]} conflicts with --cors and --cors-origin, which set it`,
    );
  }
  // With any origin (*), Fetch fails every request sent with credentials.
  if (
    options.cors && options.corsOrigins.length === 0 &&
    options.headers.some(([name]) =>
      name.toLowerCase() === "access-control-allow-credentials"
    )
  ) {
    throw new TypeError(
      "-H Access-Control-Allow-Credentials needs --cors-origin: a browser " +
        "refuses credentials for the * that --cors alone answers with",
    );
  }
  if (options.quiet && (options.logFormat !== null || options.logFile)) {
    throw new TypeError(
      "-q/--quiet conflicts with --log-format and --log-file",
    );
  }
  if (options.cgiEnv.length > 0 && !options.cgi) {
    throw new TypeError("--cgi-env needs --cgi");
  }
  if ((options.overwrite || options.maxUpload !== null) && !options.upload) {
    throw new TypeError("--overwrite and --max-upload need --upload");
  }
  return options;
}

/**
 * The `Cache-Control` value that `--max-age`, `--immutable` and
 * `--no-cache` ask for, or `null` for none.
 */
export function cacheControl(options: ServeOptions): string | null {
  if (options.noCache) return "no-cache";
  if (options.maxAge === null && !options.immutable) return null;
  const maxAge = `max-age=${options.maxAge ?? IMMUTABLE_MAX_AGE}`;
  return options.immutable ? `${maxAge}, immutable` : maxAge;
}

/** An origin as browsers send it in `Origin`: `scheme://host[:port]`. */
function parseOrigin(text: string): string {
  let origin: string | null = null;
  try {
    origin = new URL(text).origin;
  } catch {
    // Not a URL.
  }
  if (origin === text) return text;
  const hint = origin === null || origin === "null" ? "" : ` (use '${origin}')`;
  throw new TypeError(
    `argument --cors-origin: invalid origin: '${text}'${hint}; an origin is scheme://host[:port]`,
  );
}

/** A `user:password` pair, split at the first colon (RFC 7617). */
export function parseCredential(text: string, where: string): [string, string] {
  const colon = text.indexOf(":");
  const user = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (
    colon < 1 || password === "" || /[\x00-\x1f\x7f]/.test(text)
  ) {
    throw new TypeError(`${where}: expected USER:PASSWORD, both non-empty`);
  }
  return [user, password];
}

/** `NAME=VALUE`, or a bare `NAME` (the value is the server's). */
function parseEnv(text: string): [string, string | null] {
  const eq = text.indexOf("=");
  const name = eq === -1 ? text : text.slice(0, eq);
  if (!ENV_NAME.test(name)) {
    throw new TypeError(
      `argument --cgi-env: invalid variable name in '${text}' (use NAME or NAME=VALUE)`,
    );
  }
  if (isMetaVariable(name)) {
    throw new TypeError(
      `argument --cgi-env: ${name} is a CGI meta-variable, set by each request`,
    );
  }
  return [name, eq === -1 ? null : text.slice(eq + 1)];
}

/**
 * A long flag as argparse takes it: whole, or cut short to a prefix of one
 * flag only (`--dir` for `--directory`).
 */
function longFlag(flag: string): string {
  if (
    !flag.startsWith("--") || flag.length === 2 || flag in VALUE_FLAGS ||
    flag in SWITCHES
  ) {
    return flag;
  }
  const matches = [...Object.keys(VALUE_FLAGS), ...Object.keys(SWITCHES)]
    .filter((name) => name.startsWith(flag) && name !== "--worker");
  if (matches.length > 1) {
    throw new TypeError(
      `ambiguous option: ${flag} could match ${matches.join(", ")}`,
    );
  }
  return matches[0] ?? flag;
}

/** Splits `Name: value` at the first colon, like Python 3.15's `-H`. */
function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(":");
  const name = colon === -1 ? "" : text.slice(0, colon).trim();
  const value = colon === -1 ? "" : text.slice(colon + 1).trim();
  if (isToken(name) && !isFieldValue(value)) {
    // The shape is right, the text is not.
    throw new TypeError(
      `argument -H/--header: invalid value of ${name}: '${value}' ` +
        `(a field value is Latin-1 text without controls)`,
    );
  }
  if (!isToken(name)) {
    throw new TypeError(
      `argument -H/--header: invalid header field '${text}' (use "Name: value")`,
    );
  }
  if (SERVER_FIELDS.has(name.toLowerCase())) {
    // A second framing field breaks every response; a second type, its use.
    throw new TypeError(
      `argument -H/--header: ${name} is the server's own, set for each response`,
    );
  }
  return [name, value];
}

// The fields --cors sets (Allow-Credentials, which it does not, is the
// user's to add with -H).
const CORS_FIELDS: ReadonlySet<string> = new Set([
  "access-control-allow-headers",
  "access-control-allow-methods",
  "access-control-allow-origin",
  "access-control-expose-headers",
  "access-control-max-age",
]);

// The fields the server sets for each response, from the file it sends.
const SERVER_FIELDS: ReadonlySet<string> = new Set([
  "accept-ranges",
  "connection",
  "content-encoding",
  "content-length",
  "content-range",
  "content-type",
  "date",
  "etag",
  "keep-alive",
  "last-modified",
  "server",
  "transfer-encoding",
]);
