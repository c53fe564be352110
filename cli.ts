// Copyright 2026 the basehttp authors. MIT license.
/**
 * The `serve` command, this package's `python -m http.server`: serves a
 * directory over HTTP or HTTPS with {@linkcode SimpleHTTPRequestHandler}.
 *
 * ```sh
 * deno run -A jsr:@basehttp/server/cli            # the current directory, port 8000
 * deno run -A jsr:@basehttp/server/cli 8080 -b 127.0.0.1 -d public --cors
 * ```
 *
 * @example Parse a command line
 * ```ts
 * import { parseArgs } from "@basehttp/server/cli";
 * import assert from "node:assert/strict";
 *
 * const options = parseArgs(["8080", "-b", "127.0.0.1", "--cors"]);
 * assert.equal(options.port, 8080);
 * assert.equal(options.bind, "127.0.0.1");
 * assert.equal(options.protocol, "HTTP/1.1");
 * ```
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { JSONLogServer, LogFile, withAccessLog } from "./_access_log.ts";
import { absolutePath, isInside, SEP } from "./_path.ts";
import {
  cacheControl,
  HELP,
  parseArgs,
  parseCredential,
  type ServeOptions,
} from "./_serve_args.ts";
import {
  HTTPServer,
  type HTTPServerOptions,
  type TlsOptions,
} from "./server.ts";
import { CGIHTTPRequestHandler } from "./cgi.ts";
import { writePermissionProblem } from "./_upload.ts";
import {
  simpleHandler,
  type SimpleHandlerOptions,
  type SimpleHTTPRequestHandler,
} from "./static.ts";
import { granted } from "./_permission.ts";

export { parseArgs, type ServeOptions };

/** The package version, from deno.json. */
export const VERSION: string = denoJson.version;

/** A failure to start serving; the message is for the user. */
class ServeError extends Error {}

/**
 * The users of an `--auth-file`: `user:password` lines; blank lines and
 * lines starting with `#` are skipped, spaces around a line dropped.
 */
function parseAuthFile(text: string, path: string): [string, string][] {
  const users: [string, string][] = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    try {
      users.push(parseCredential(line, `${path} line ${index + 1}`));
    } catch (error) {
      throw new ServeError(message(error));
    }
  }
  if (users.length === 0) throw new ServeError(`no users in ${path}`);
  return users;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new ServeError(`cannot read the ${what} ${path}: ${message(error)}`);
  }
}

const PRIVATE_KEY =
  /-----BEGIN ((?:ENCRYPTED |RSA |EC )?PRIVATE KEY)-----[\s\S]*?-----END \1-----/;

/** Reads the certificate, key and password files into PEM strings. */
async function loadTls(options: ServeOptions): Promise<TlsOptions> {
  const cert = await readText(options.tlsCert!, "TLS certificate");
  const keyFile = options.tlsKey ?? options.tlsCert!;
  const keyText = options.tlsKey === null
    ? cert
    : await readText(keyFile, "TLS key");
  const key = PRIVATE_KEY.exec(keyText)?.[0];
  if (key === undefined) {
    throw new ServeError(
      options.tlsKey === null
        ? `no private key in ${keyFile}: pass it with --tls-key`
        : `no private key in ${keyFile}`,
    );
  }
  const encrypted = /ENCRYPTED/.test(key);
  if (options.tlsPasswordFile === null) {
    if (encrypted) {
      throw new ServeError(
        `the TLS key in ${keyFile} is encrypted: pass --tls-password-file`,
      );
    }
    return { cert, key };
  }
  // Python strips the password file's content.
  const password =
    (await readText(options.tlsPasswordFile, "TLS password file"))
      .trim();
  if (!encrypted) return { cert, key };
  // Deno's TLS takes only plain keys; node:crypto can decrypt them.
  const { createPrivateKey } = await import("node:crypto");
  try {
    const plain = createPrivateKey({ key, passphrase: password, format: "pem" })
      .export({ type: "pkcs8", format: "pem" });
    return { cert, key: String(plain) };
  } catch (error) {
    throw new ServeError(
      `cannot decrypt the TLS key in ${keyFile} (wrong password, or a cipher ` +
        `Deno lacks: re-encrypt with "openssl pkcs8 -topk8 -v2 aes-256-cbc"): ` +
        message(error),
    );
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Whether `path` is a Unix socket nobody listens on (a connect is refused). */
async function leftBehind(path: string): Promise<boolean> {
  try {
    if (!Deno.lstatSync(path).isSocket) return false;
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

/** A sentence for an error raised while binding. */
function bindError(
  error: unknown,
  where: string,
  tls: boolean,
  unix: boolean,
): string {
  if (error instanceof Deno.errors.AddrInUse && unix) {
    // A Unix socket's path: say what is there, and leave it be.
    let socket = true;
    try {
      socket = Deno.lstatSync(where).isSocket !== false;
    } catch {
      // Not ours to read: say what a socket would be.
    }
    return socket
      ? `${where} is in use by another server`
      : `${where} exists and is not a socket`;
  }
  if (error instanceof Deno.errors.AddrInUse) {
    return `${where} is already in use`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `cannot bind to ${where}: address not available`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `permission denied binding ${where} (ports below 1024 need privileges)`;
  }
  if (error instanceof Deno.errors.NotCapable) return message(error);
  if (tls) return `invalid TLS certificate or key: ${message(error)}`;
  return `cannot bind to ${where}: ${message(error)}`;
}

function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === "::1" || host === "localhost" ||
    /^::ffff:127\./i.test(host);
}

/**
 * Runs the `serve` command: parses `args`, serves until SIGINT or SIGTERM,
 * then shuts down gracefully (a second signal stops waiting for requests in
 * flight).
 *
 * @param args The arguments, without the program name.
 * @returns The exit code: 0 after a signal, `--help` or `--version`; 2 for
 * flags it cannot use, as Python's argparse; 1 for another error. Either
 * is reported on one line of stderr.
 */
export async function main(args: string[]): Promise<number> {
  let options: ServeOptions;
  try {
    options = parseArgs(args);
  } catch (error) {
    console.error(`serve: error: ${message(error)} (see serve --help)`);
    return 2;
  }
  if (options.help) {
    console.log(HELP);
    return 0;
  }
  if (options.version) {
    console.log(`serve (@basehttp/server) ${VERSION}`);
    return 0;
  }
  try {
    checkPermissions(options);
    return options.workers > 1
      ? await superviseWorkers(options)
      : await serve(options);
  } catch (error) {
    console.error(`serve: error: ${message(error)}`);
    return 1;
  }
}

/**
 * Checks, without a prompt (in a terminal Deno would wait for an answer),
 * that every permission the flags need is granted; the first one missing
 * is an error naming the flag and the deno flag that grants it.
 */
function checkPermissions(options: ServeOptions): void {
  const needs: [Deno.PermissionDescriptor, string][] = [[
    { name: "read", path: options.directory },
    `no permission to read ${options.directory}: run deno with --allow-read=${options.directory}`,
  ]];
  const files: [string, string | null][] = [
    ["--tls-cert", options.tlsCert],
    ["--tls-key", options.tlsKey],
    ["--tls-password-file", options.tlsPasswordFile],
    ["--auth-file", options.authFile],
  ];
  for (const [flag, path] of files) {
    if (path === null) continue;
    needs.push([
      { name: "read", path },
      `${flag} ${path} needs read permission: run deno with --allow-read=${path}`,
    ]);
  }
  if (options.bind.startsWith("unix:")) {
    const path = options.bind.slice(5);
    needs.push([
      { name: "write", path },
      `-b unix:${path} needs write permission: run deno with --allow-write=${path}`,
    ], [
      { name: "read", path },
      `-b unix:${path} needs read permission: run deno with --allow-read=${path}`,
    ]);
  }
  if (options.logFile !== null) {
    needs.push([
      { name: "write", path: options.logFile },
      `--log-file ${options.logFile} needs write permission: run deno with --allow-write=${options.logFile}`,
    ]);
  }
  for (const [name, value] of options.cgiEnv) {
    if (value !== null) continue;
    needs.push([
      { name: "env", variable: name },
      `--cgi-env ${name} passes serve's own ${name}: run deno with --allow-env=${name}`,
    ]);
  }
  if (options.cgi) {
    needs.push([
      { name: "run" },
      "--cgi runs scripts: run deno with --allow-run",
    ]);
  }
  if (options.workers > 1) {
    needs.push([
      { name: "run", command: Deno.execPath() },
      "--workers starts processes: run deno with --allow-run",
    ]);
  }
  for (const [descriptor, sentence] of needs) {
    if (!granted(descriptor)) throw new ServeError(sentence);
  }
  // Deno hides its unstable net API (listenDatagram with it) without the
  // flag, and listen({ reusePort }) would exit with its own message.
  // The parent of --workers binds nothing: its workers get the flag.
  if (
    options.reusePort && options.workers <= 1 && !("listenDatagram" in Deno)
  ) {
    throw new ServeError(
      "--reuse-port needs Deno's unstable net API: run deno with --unstable-net",
    );
  }
  if (!options.bind.startsWith("unix:")) {
    const hosts = options.bind === "" ? WILDCARDS : [options.bind];
    if (!hosts.some((host) => granted(listening(host, options.port)))) {
      const host = options.bind || "0.0.0.0";
      throw new ServeError(
        `no permission to listen on ${listening(host, options.port).host}: ` +
          `run deno with --allow-net=${host}`,
      );
    }
  }
  const upload = options.upload
    ? writePermissionProblem(options.directory)
    : null;
  if (upload !== null) throw new ServeError(upload);
}

// What an empty -b binds: IPv6 and IPv4, else IPv4 alone.
const WILDCARDS: readonly string[] = ["::", "0.0.0.0"];

/** The net permission of listening on `host` at `port`. */
function listening(host: string, port: number): Deno.NetPermissionDescriptor {
  return {
    name: "net",
    host: `${host.includes(":") ? `[${host}]` : host}:${port}`,
  };
}

/** Whether `serve` would serve the file at real path `real` from `root`. */
function isServed(real: string, root: string, dotfiles: boolean): boolean {
  if (!isInside(real, root)) return false;
  return dotfiles ||
    !real.slice(root.length).split(SEP).some((part) => part.startsWith("."));
}

/** The users for Basic auth: `--auth` and the lines of `--auth-file`. */
async function loadUsers(
  options: ServeOptions,
  root: string,
): Promise<[string, string][]> {
  const path = options.authFile;
  const users = [...options.auth];
  if (path !== null) {
    users.push(...parseAuthFile(await readText(path, "auth file"), path));
    if (isServed(await Deno.realPath(path), root, options.dotfiles)) {
      const name = path.slice(path.lastIndexOf(SEP) + 1);
      throw new ServeError(
        `--auth-file ${path} is in the served directory, where anyone could ` +
          `download it: move it out${
            options.dotfiles ? "" : `, or name it .${name}`
          }`,
      );
    }
  }
  // Every password of a user given twice would work: a password changed by
  // adding a line would leave the old one valid (Caddy refuses too).
  const seen = new Set<string>();
  for (const [user] of users) {
    if (seen.has(user)) {
      throw new ServeError(`user ${user} is given twice: one password each`);
    }
    seen.add(user);
  }
  return users;
}

/** What `--cgi-env` adds: bare names take the server's value, if set. */
function cgiVariables(
  variables: [string, string | null][],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of variables) {
    const given = value ?? Deno.env.get(name);
    if (given !== undefined) env[name] = given;
  }
  return env;
}

/**
 * The handler class for `options`, serving `root`; access lines in
 * Apache's formats go to `accessLog` when given.
 */
function makeHandler(
  options: ServeOptions,
  root: string,
  users: [string, string][],
  accessLog?: (line: string) => void,
): typeof SimpleHTTPRequestHandler {
  let Base: typeof SimpleHTTPRequestHandler | undefined;
  if (options.cgi) {
    const extra = cgiVariables(options.cgiEnv);
    Base = class extends CGIHTTPRequestHandler {
      constructor(
        ...args: ConstructorParameters<typeof CGIHTTPRequestHandler>
      ) {
        super(...args);
        this.cgiEnv = { ...this.cgiEnv, ...extra };
      }
    };
  }
  const settings: SimpleHandlerOptions = {
    directory: root,
    protocolVersion: options.protocol,
    extraResponseHeaders: options.headers,
    cors: options.cors,
    corsOrigins: options.corsOrigins,
    compress: options.compress,
    spa: options.spa,
    cleanUrls: options.cleanUrls,
    showDirListing: options.listing,
    showDotfiles: options.dotfiles,
    followSymlinks: options.followSymlinks,
    upload: options.upload
      ? { overwrite: options.overwrite, maxUpload: options.maxUpload }
      : null,
  };
  if (users.length > 0) settings.auth = users;
  const cache = cacheControl(options);
  if (cache !== null) settings.cacheControl = cache;
  let Handler = simpleHandler(settings, Base);
  if (options.logFormat !== null) {
    Handler = withAccessLog(Handler, options.logFormat, accessLog);
  }
  if (options.quiet) {
    const Configured = Handler;
    Handler = class extends Configured {
      override logMessage(): void {}
    };
  }
  return Handler;
}

/**
 * Binds the server. Without `-b`, both IPv6 and IPv4 on `::` (dual-stack on
 * Linux), or on `0.0.0.0` where there is no IPv6.
 */
function listen(
  options: ServeOptions,
  unixPath: string | null,
  Handler: typeof SimpleHTTPRequestHandler,
  serverOptions: HTTPServerOptions,
): HTTPServer {
  const Server = options.logFormat === "json" ? JSONLogServer : HTTPServer;
  if (unixPath !== null) return new Server(unixPath, Handler, serverOptions);
  if (options.bind !== "") {
    return new Server([options.bind, options.port], Handler, serverOptions);
  }
  // Never a prompt for :: when only IPv4's wildcard is granted.
  if (!granted(listening("::", options.port))) {
    return new Server(["0.0.0.0", options.port], Handler, serverOptions);
  }
  try {
    return new Server(["::", options.port], Handler, serverOptions);
  } catch (error) {
    // Taken or privileged on IPv4 too: the retry would say the same.
    if (
      error instanceof Deno.errors.AddrInUse ||
      error instanceof Deno.errors.PermissionDenied
    ) throw error;
    return new Server(["0.0.0.0", options.port], Handler, serverOptions);
  }
}

/** Warns on stderr when `host` is not loopback: other machines can connect. */
function warnIfReachable(directory: string, host: string): void {
  if (isLoopback(host)) return;
  console.error(
    `Warning: serving ${directory} on ${host}, to every network this ` +
      `machine is on; use -b 127.0.0.1 to serve this machine only.`,
  );
}

/**
 * The banner's lines after Python's, for an all-interfaces address: the
 * local URL, and this machine's network addresses when listing them is
 * granted (they say where the machine is: asked, never prompted for).
 */
function addressLines(host: string, port: number, scheme: string): string[] {
  if (host !== "::" && host !== "0.0.0.0") return [];
  const lines = [`Local: ${scheme}://localhost:${port}/`];
  if (!granted({ name: "sys", kind: "networkInterfaces" })) return lines;
  const seen = new Set<string>();
  for (const { family, address } of Deno.networkInterfaces()) {
    if (family === "IPv6" && host !== "::") continue;
    // Link-local addresses need a zone a URL cannot carry.
    if (isLoopback(address) || /^(fe80:|169\.254\.)/i.test(address)) continue;
    if (seen.has(address)) continue;
    seen.add(address);
    const urlHost = family === "IPv6" ? `[${address}]` : address;
    lines.push(`Network: ${scheme}://${urlHost}:${port}/`);
  }
  return lines;
}

async function serve(options: ServeOptions): Promise<number> {
  let realRoot: string;
  try {
    realRoot = await Deno.realPath(options.directory);
    if (!(await Deno.stat(realRoot)).isDirectory) {
      throw new ServeError(`not a directory: ${options.directory}`);
    }
  } catch (error) {
    if (error instanceof ServeError) throw error;
    if (error instanceof Deno.errors.NotFound) {
      throw new ServeError(`directory not found: ${options.directory}`);
    }
    throw new ServeError(
      `cannot serve ${options.directory}: ${message(error)}`,
    );
  }
  const unixPath = options.bind.startsWith("unix:")
    ? options.bind.slice(5)
    : null;
  const tls = options.tlsCert === null ? undefined : await loadTls(options);
  if (tls !== undefined && unixPath !== null) {
    throw new ServeError("TLS is not available on a Unix socket");
  }
  using logFile = openLog(options.logFile, realRoot, options.dotfiles);
  const toFile = logFile === null ? undefined : (line: string) => {
    logFile.write(line);
  };
  // Apache's formats keep their file to access lines, as Apache does; other
  // messages stay on stderr. Python's and JSON lines share one stream.
  const apache = options.logFormat === "common" ||
    options.logFormat === "combined";
  // Served by the path given, not the real one: a symlink on it switched to
  // the next release is followed, as by Python and nginx.
  const Handler = makeHandler(
    options,
    absolutePath(options.directory),
    await loadUsers(options, realRoot),
    apache ? toFile : undefined,
  );
  const bind = () =>
    listen(options, unixPath, Handler, {
      tls,
      reusePort: options.reusePort,
      shutdownTimeout: options.shutdownTimeout,
      logSink: apache ? undefined : toFile,
    });
  let server: HTTPServer;
  try {
    try {
      server = bind();
    } catch (error) {
      // A socket whose server was killed: nobody answers there any more.
      if (
        !(error instanceof Deno.errors.AddrInUse) || unixPath === null ||
        !await leftBehind(unixPath)
      ) throw error;
      await Deno.remove(unixPath);
      console.error(
        `serve: removed ${unixPath}, a socket left by a server that did not exit`,
      );
      server = bind();
    }
  } catch (error) {
    const where = unixPath === null
      ? `port ${options.port}${options.bind ? ` on ${options.bind}` : ""}`
      : unixPath;
    throw new ServeError(
      bindError(error, where, tls !== undefined, unixPath !== null),
    );
  }

  // Listening before the banner: a signal sent once it is out is handled.
  let signals = 0;
  const onSignal = (signal?: Deno.Signal) => {
    if (++signals === 1) {
      if (signal !== undefined) console.log(`\n${goodbye(signal)}`);
      void server.shutdown();
    } else if (!options.worker) {
      server.close(); // again: stop waiting for requests in flight
    }
    // A worker is signalled twice for one stop of a whole process group
    // (Ctrl-C, systemd): itself and by its supervisor, which kills it at a
    // second signal of its own.
  };
  const unlisten = listenFor(["SIGINT", "SIGTERM"], onSignal);
  // Log rotation: the file was renamed; its path gets a new one.
  const unhang = logFile === null
    ? () => {}
    : listenFor(["SIGHUP"], () => logFile.reopen());
  const scheme = tls === undefined ? "HTTP" : "HTTPS";
  if (unixPath === null) {
    const host = (server.serverAddress as [string, number])[0];
    if (!options.worker) warnIfReachable(realRoot, host);
    const urlHost = host.includes(":") ? `[${host}]` : host;
    const port = server.serverPort;
    console.log(
      `Serving ${scheme} on ${host} port ${port} ` +
        `(${scheme.toLowerCase()}://${urlHost}:${port}/) ...`,
    );
    if (!options.worker) {
      for (const line of addressLines(host, port, scheme.toLowerCase())) {
        console.log(line);
      }
    }
  } else {
    console.log(
      `Serving HTTP on unix:${unixPath} ` +
        `(curl --unix-socket ${unixPath} http://localhost/) ...`,
    );
  }

  if (options.worker) {
    // A worker ends with its parent: stdin reaches EOF when the parent goes.
    (async () => {
      for await (const _ of Deno.stdin.readable) {
        // Nothing is sent on the lifeline.
      }
      onSignal();
    })();
  }
  try {
    await server.serveForever();
  } finally {
    unlisten();
    unhang();
    await server[Symbol.asyncDispose]();
    if (unixPath !== null) await Deno.remove(unixPath).catch(() => {});
  }
  return 0;
}

/**
 * Calls `listener` with each of `signals` this platform has, as it comes;
 * returns what removes the listening.
 */
function listenFor(
  signals: Deno.Signal[],
  listener: (signal: Deno.Signal) => void,
): () => void {
  const added: [Deno.Signal, () => void][] = [];
  for (const signal of signals) {
    const each = () => listener(signal);
    try {
      Deno.addSignalListener(signal, each);
      added.push([signal, each]);
    } catch {
      // Windows has only SIGINT and SIGBREAK.
    }
  }
  return () => {
    for (const [signal, each] of added) Deno.removeSignalListener(signal, each);
  };
}

/** The line a stop by `signal` prints: Python's for Ctrl-C, else its name. */
function goodbye(signal: Deno.Signal): string {
  return signal === "SIGINT"
    ? "Keyboard interrupt received, exiting."
    : `${signal} received, exiting.`;
}

/**
 * Opens the `--log-file`, warning when it lies in the served directory,
 * where anyone could read it.
 */
function openLog(
  path: string | null,
  root: string,
  dotfiles: boolean,
): LogFile | null {
  if (path === null) return null;
  let file: LogFile;
  try {
    file = new LogFile(path);
  } catch (error) {
    throw new ServeError(`cannot open the log file ${path}: ${message(error)}`);
  }
  if (
    granted({ name: "read", path }) &&
    isServed(Deno.realPathSync(path), root, dotfiles)
  ) {
    console.error(
      `Warning: the log file ${path} is in the served directory, where anyone can read it.`,
    );
  }
  return file;
}

/** The command line that asks a worker for the same service as `options`. */
function workerArgs(options: ServeOptions, port: number): string[] {
  const args = [String(port), "--worker", "--reuse-port"];
  // Each value joined to its flag: one that begins with "-" is no flag.
  const set = (flag: string, value: string) => args.push(`${flag}=${value}`);
  set("--protocol", options.protocol);
  if (options.bind !== "") set("--bind", options.bind);
  set("--directory", options.directory);
  if (options.tlsCert !== null) set("--tls-cert", options.tlsCert);
  if (options.tlsKey !== null) set("--tls-key", options.tlsKey);
  if (options.tlsPasswordFile !== null) {
    set("--tls-password-file", options.tlsPasswordFile);
  }
  for (const [name, value] of options.headers) {
    set("--header", `${name}: ${value}`);
  }
  if (options.cors) args.push("--cors");
  for (const origin of options.corsOrigins) set("--cors-origin", origin);
  if (!options.compress) args.push("--no-compress");
  if (options.spa) args.push("--spa");
  if (options.cleanUrls) args.push("--clean-urls");
  if (!options.listing) args.push("--no-listing");
  if (options.dotfiles) args.push("--dotfiles");
  if (options.followSymlinks) args.push("--follow-symlinks");
  for (const [user, password] of options.auth) {
    set("--auth", `${user}:${password}`);
  }
  if (options.authFile !== null) set("--auth-file", options.authFile);
  if (options.maxAge !== null) set("--max-age", String(options.maxAge));
  if (options.immutable) args.push("--immutable");
  if (options.noCache) args.push("--no-cache");
  if (options.quiet) args.push("-q");
  if (options.logFormat !== null) set("--log-format", options.logFormat);
  if (options.logFile !== null) set("--log-file", options.logFile);
  if (options.upload) args.push("--upload");
  if (options.overwrite) args.push("--overwrite");
  if (options.maxUpload !== null) {
    set("--max-upload", String(options.maxUpload));
  }
  set("--shutdown-timeout", String(options.shutdownTimeout));
  if (options.cgi) args.push("--cgi");
  for (const [name, value] of options.cgiEnv) {
    // A bare name is read by the worker: its value stays out of ps.
    set("--cgi-env", value === null ? name : `${name}=${value}`);
  }
  return args;
}

/**
 * Reads a child's stdout to its first line (the banner, once it listens),
 * then drains the rest so that the child never writes to a closed pipe.
 */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += decoder.decode(value, { stream: true });
  }
  (async () => {
    while (!(await reader.read()).done) {
      // The rest of stdout: the goodbye line.
    }
  })();
  return text.slice(0, text.indexOf("\n"));
}

/**
 * Runs `--workers N`: N processes of this command bind the same port with
 * SO_REUSEPORT, so the kernel spreads connections over them (a core each).
 * This process only starts them, prints the banner, and stops them on
 * SIGINT or SIGTERM.
 */
/** A worker that ends sooner than this after its start is not replaced. */
const RESPAWN_AFTER_MS = 2000;

async function superviseWorkers(options: ServeOptions): Promise<number> {
  let port = options.port;
  if (port === 0) {
    // Every worker must bind the same port: pick it here.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    port = (probe.addr as Deno.NetAddr).port;
    probe.close();
  }
  const permissions = ["--allow-net", "--allow-read", "--allow-sys=hostname"];
  if (options.cgi) permissions.push("--allow-run");
  const writes = [options.logFile, options.upload ? options.directory : null]
    .filter((path) => path !== null);
  if (writes.length > 0) permissions.push(`--allow-write=${writes.join(",")}`);
  const names = options.cgiEnv.filter(([, value]) => value === null);
  if (names.length > 0) {
    permissions.push(`--allow-env=${names.map(([name]) => name).join(",")}`);
  }
  const spawn = () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--unstable-net",
        ...permissions,
        import.meta.url,
        ...workerArgs(options, port),
      ],
      // The pipe is the worker's lifeline: it closes when this process
      // ends, however it ends, and the worker then exits too.
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  const children = new Set<Deno.ChildProcess>();
  // Those past their banner listen for SIGHUP; until then it would kill.
  const serving = new Set<Deno.ChildProcess>();
  const missedHangup = new Set<Deno.ChildProcess>();
  const kill = (child: Deno.ChildProcess, signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  const signalAll = (signal: Deno.Signal) => {
    for (const child of children) kill(child, signal);
  };
  let stopping = false;
  const stop = () => {
    stopping = true;
    signalAll("SIGTERM");
  };
  const start = performance.now();
  const first = Array.from({ length: options.workers }, spawn);
  for (const child of first) children.add(child);
  const banners = await Promise.all(
    first.map((child) => firstLine(child.stdout)),
  );
  const ready = banners.every((line) => line.startsWith("Serving"));
  let signalled = false;
  const onSignal = (signal: Deno.Signal) => {
    if (signalled) return signalAll("SIGKILL"); // stop waiting: at once
    console.log(`\n${goodbye(signal)}`);
    signalled = true;
    stop();
  };
  // SIGHUP to this process reaches the workers, which reopen the log file;
  // one still starting gets it once it can take it.
  const onHangup = () => {
    for (const child of children) {
      if (serving.has(child)) kill(child, "SIGHUP");
      else missedHangup.add(child);
    }
  };
  let unlisten = () => {};
  let unhang = () => {};
  if (ready) {
    for (const child of first) serving.add(child);
    unlisten = listenFor(["SIGINT", "SIGTERM"], onSignal);
    if (options.logFile !== null) unhang = listenFor(["SIGHUP"], onHangup);
    const host = /^Serving \S+ on (\S+) port/.exec(banners[0])?.[1] ?? "";
    warnIfReachable(Deno.realPathSync(options.directory), host);
    console.log(banners[0]);
    const scheme = options.tlsCert === null ? "http" : "https";
    for (const line of addressLines(host, port, scheme)) console.log(line);
    console.log(`(${options.workers} worker processes share the port)`);
  } else {
    stop(); // a worker failed to start and said why on stderr
  }
  // A worker that ends unasked (killed, out of memory) is replaced, as
  // nginx's master replaces one; one that ends within RESPAWN_AFTER_MS of
  // its start, or a replacement that cannot serve, ends the service.
  let failed = !ready;
  const watch = (child: Deno.ChildProcess, started: number): Promise<void> =>
    child.status.then(async (status) => {
      children.delete(child);
      serving.delete(child);
      missedHangup.delete(child);
      if (stopping) return;
      const how = status.signal === null
        ? `exited with code ${status.code}`
        : `was killed by ${status.signal}`;
      if (performance.now() - started < RESPAWN_AFTER_MS) {
        console.error(`serve: worker ${child.pid} ${how}: stopping`);
        failed = true;
        return stop();
      }
      console.error(`serve: worker ${child.pid} ${how}; starting another`);
      const next = spawn();
      children.add(next);
      const watching = watch(next, performance.now());
      const banner = await firstLine(next.stdout);
      // (A replacement stopped before its banner was asked to stop.)
      if (!stopping && !banner.startsWith("Serving")) {
        // Its output can end before its exit is seen: said here, once.
        console.error(`serve: worker ${next.pid} could not start: stopping`);
        failed = true;
        stop();
      } else if (children.has(next)) {
        serving.add(next);
        if (missedHangup.delete(next)) kill(next, "SIGHUP");
      }
      await watching;
    });
  await Promise.all(first.map((child) => watch(child, start)));
  unlisten();
  unhang();
  return signalled && !failed ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
