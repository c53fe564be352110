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
import { isFieldValue, isToken } from "./parser.ts";
import { HTTPServer, type TlsOptions } from "./server.ts";
import { CGIHTTPRequestHandler } from "./cgi.ts";
import { simpleHandler, type SimpleHTTPRequestHandler } from "./static.ts";

/** The package version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The settings a `serve` command line asks for. */
export interface ServeOptions {
  /** The TCP port; 0 picks a free one. @default {8000} */
  port: number;
  /** The address to bind: `""` for all interfaces, or `unix:/path`. @default {""} */
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
  /** Send `Access-Control-Allow-Origin: *`. */
  cors: boolean;
  /** List directories without an index page. */
  listing: boolean;
  /** Serve and list dotfiles. */
  dotfiles: boolean;
  /** No access log. */
  quiet: boolean;
  /** Processes serving the port together (Linux, `SO_REUSEPORT`). @default {1} */
  workers: number;
  /** Bind with `SO_REUSEPORT` so other processes may serve the port too. */
  reusePort: boolean;
  /** Run as a `--workers` child: exit when the parent's stdin pipe closes. */
  worker: boolean;
  /** Run CGI scripts in /cgi-bin and /htbin (Python's `--cgi`). */
  cgi: boolean;
  /** Print the help and exit. */
  help: boolean;
  /** Print the version and exit. */
  version: boolean;
}

const HELP =
  `usage: serve [-h] [--version] [-b ADDRESS] [-d DIRECTORY] [-p VERSION]
             [--tls-cert PATH] [--tls-key PATH] [--tls-password-file PATH]
             [-H "NAME: VALUE"] [--cors] [--no-listing] [--dotfiles] [-q]
             [--workers N] [--reuse-port] [--cgi] [port]

Serve a directory over HTTP: Python's "python -m http.server" for Deno.

positional arguments:
  port                  bind to this port (default: 8000)

options:
  -h, --help            show this help message and exit
  --version             show the version and exit
  -b, --bind ADDRESS    bind to this address (default: all interfaces);
                        unix:PATH serves on a Unix socket
  -d, --directory DIRECTORY
                        serve this directory (default: current directory)
  -p, --protocol VERSION
                        conform to this HTTP version: HTTP/1.0 or HTTP/1.1
                        (default: HTTP/1.1)
  --tls-cert PATH       serve HTTPS with this certificate chain (PEM)
  --tls-key PATH        the certificate's private key (PEM; default: look in
                        the certificate file)
  --tls-password-file PATH
                        the password of an encrypted private key
  -H, --header "NAME: VALUE"
                        add this header field to file and listing responses
                        (repeatable)
  --cors                send Access-Control-Allow-Origin: *
  --no-listing          answer 403 for directories without an index page
  --dotfiles            serve files and directories whose names start with .
  -q, --quiet           do not log requests
  --cgi                 run the executable files in /cgi-bin and /htbin as
                        CGI scripts (needs deno run --allow-run)
  --workers N           serve with N processes sharing the port (Linux;
                        default: 1)
  --reuse-port          bind with SO_REUSEPORT, to share the port with other
                        processes (Linux; needs deno run --unstable-net)
  --worker              (used by --workers) serve until stdin closes
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
};
const SWITCHES: Record<string, string> = {
  "-h": "help",
  "--help": "help",
  "--version": "version",
  "--cors": "cors",
  "--no-listing": "noListing",
  "--dotfiles": "dotfiles",
  "-q": "quiet",
  "--quiet": "quiet",
  "--reuse-port": "reusePort",
  "--worker": "worker",
  "--cgi": "cgi",
};

/** A failure to start serving; the message is for the user. */
class ServeError extends Error {}

function flagNames(key: string): string {
  return Object.keys(VALUE_FLAGS).filter((flag) => VALUE_FLAGS[flag] === key)
    .join("/");
}

/**
 * Parses a `serve` command line (Python's flags, plus `-H`, `--cors`,
 * `--no-listing`, `--dotfiles`, `-q`, `--version`).
 *
 * @param args The arguments, without the program name.
 * @returns The options, with defaults filled in.
 * @throws {TypeError} When a flag is unknown, lacks its value, or a value is
 * not valid; the message is meant for the user.
 */
export function parseArgs(args: string[]): ServeOptions {
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
    listing: true,
    dotfiles: false,
    quiet: false,
    workers: 1,
    reusePort: false,
    worker: false,
    cgi: false,
    help: false,
    version: false,
  };
  const positional: string[] = [];
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
      flag = arg.slice(0, 2); // -b127.0.0.1, as argparse allows
      value = arg.slice(2);
    }
    const key = VALUE_FLAGS[flag];
    if (key === undefined) {
      const name = SWITCHES[flag];
      if (name === undefined || value !== undefined) {
        throw new TypeError(`unrecognized argument: ${arg}`);
      }
      if (name === "noListing") options.listing = false;
      else (options as unknown as Record<string, boolean>)[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) {
        throw new TypeError(`argument ${flagNames(key)}: expected a value`);
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
      case "bind":
      case "directory":
      case "protocol":
        options[key] = value;
        break;
      default:
        (options as unknown as Record<string, string>)[key] = value;
    }
  }
  if (positional.length > 1) {
    throw new TypeError(`unrecognized argument: ${positional[1]}`);
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
  return options;
}

/** Splits `Name: value` at the first colon, like Python 3.15's `-H`. */
function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(":");
  const name = colon === -1 ? "" : text.slice(0, colon).trim();
  const value = colon === -1 ? "" : text.slice(colon + 1).trim();
  if (!isToken(name) || !isFieldValue(value)) {
    throw new TypeError(
      `argument -H/--header: invalid header field '${text}' (use "Name: value")`,
    );
  }
  return [name, value];
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

/** A sentence for an error raised while binding. */
function bindError(error: unknown, where: string, tls: boolean): string {
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
 * @returns The exit code: 0 after a signal, `--help` or `--version`; 1 for
 * an error, reported on one line of stderr.
 */
export async function main(args: string[]): Promise<number> {
  let options: ServeOptions;
  try {
    options = parseArgs(args);
  } catch (error) {
    console.error(`serve: error: ${message(error)} (see serve --help)`);
    return 1;
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
    return options.workers > 1
      ? await superviseWorkers(options)
      : await serve(options);
  } catch (error) {
    console.error(`serve: error: ${message(error)}`);
    return 1;
  }
}

async function serve(options: ServeOptions): Promise<number> {
  let directory: string;
  // Asked without a prompt: in a terminal, Deno would wait for an answer.
  const read = Deno.permissions.querySync({
    name: "read",
    path: options.directory,
  });
  if (read.state !== "granted") {
    throw new ServeError(
      `no permission to read ${options.directory}: run deno with --allow-read=${options.directory}`,
    );
  }
  try {
    directory = await Deno.realPath(options.directory);
    if (!(await Deno.stat(directory)).isDirectory) {
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

  if (
    options.cgi &&
    (await Deno.permissions.query({ name: "run" })).state !== "granted"
  ) {
    throw new ServeError("--cgi runs scripts: it needs deno run --allow-run");
  }
  const Configured = simpleHandler({
    directory,
    protocolVersion: options.protocol,
    extraResponseHeaders: options.headers,
    cors: options.cors,
    showDirListing: options.listing,
    showDotfiles: options.dotfiles,
  }, options.cgi ? CGIHTTPRequestHandler : undefined);
  let Handler: typeof SimpleHTTPRequestHandler = Configured;
  if (options.quiet) {
    Handler = class extends Configured {
      override logMessage(): void {}
    };
  }

  let server: HTTPServer;
  try {
    server = unixPath === null
      ? new HTTPServer([options.bind, options.port], Handler, {
        tls,
        reusePort: options.reusePort,
      })
      : new HTTPServer(unixPath, Handler);
  } catch (error) {
    const where = unixPath === null
      ? `port ${options.port}${options.bind ? ` on ${options.bind}` : ""}`
      : unixPath;
    throw new ServeError(bindError(error, where, tls !== undefined));
  }

  const scheme = tls === undefined ? "HTTP" : "HTTPS";
  if (unixPath === null) {
    const host = (server.serverAddress as [string, number])[0];
    if (!isLoopback(host)) {
      console.error(
        `Warning: serving ${directory} on ${host}, to every network this ` +
          `machine is on; use -b 127.0.0.1 to serve this machine only.`,
      );
    }
    const urlHost = host.includes(":") ? `[${host}]` : host;
    console.log(
      `Serving ${scheme} on ${host} port ${server.serverPort} ` +
        `(${scheme.toLowerCase()}://${urlHost}:${server.serverPort}/) ...`,
    );
  } else {
    console.log(
      `Serving HTTP on unix:${unixPath} ` +
        `(curl --unix-socket ${unixPath} http://localhost/) ...`,
    );
  }

  let signals = 0;
  const onSignal = () => {
    if (++signals === 1) {
      console.log("\nKeyboard interrupt received, exiting.");
      void server.shutdown();
    } else {
      server.close(); // again: stop waiting for requests in flight
    }
  };
  const listening: Deno.Signal[] = [];
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, onSignal);
      listening.push(signal);
    } catch {
      // SIGTERM cannot be listened for on Windows.
    }
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
    for (const signal of listening) Deno.removeSignalListener(signal, onSignal);
    await server[Symbol.asyncDispose]();
    if (unixPath !== null) await Deno.remove(unixPath).catch(() => {});
  }
  return 0;
}

/** The command line that asks a worker for the same service as `options`. */
function workerArgs(options: ServeOptions, port: number): string[] {
  const args = [
    String(port),
    "--worker",
    "--reuse-port",
    "-p",
    options.protocol,
  ];
  if (options.bind !== "") args.push("-b", options.bind);
  args.push("-d", options.directory);
  if (options.tlsCert !== null) args.push("--tls-cert", options.tlsCert);
  if (options.tlsKey !== null) args.push("--tls-key", options.tlsKey);
  if (options.tlsPasswordFile !== null) {
    args.push("--tls-password-file", options.tlsPasswordFile);
  }
  for (const [name, value] of options.headers) {
    args.push("-H", `${name}: ${value}`);
  }
  if (options.cors) args.push("--cors");
  if (!options.listing) args.push("--no-listing");
  if (options.dotfiles) args.push("--dotfiles");
  if (options.quiet) args.push("-q");
  if (options.cgi) args.push("--cgi");
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
  const children = Array.from(
    { length: options.workers },
    () =>
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
      }).spawn(),
  );
  const stop = () => {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
  };
  const banners = await Promise.all(
    children.map((child) => firstLine(child.stdout)),
  );
  const ready = banners.every((line) => line.startsWith("Serving"));
  let signalled = false;
  const onSignal = () => {
    if (!signalled) console.log("\nKeyboard interrupt received, exiting.");
    signalled = true;
    stop();
  };
  const listening: Deno.Signal[] = [];
  if (ready) {
    console.log(banners[0]);
    console.log(`(${options.workers} worker processes share the port)`);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      try {
        Deno.addSignalListener(signal, onSignal);
        listening.push(signal);
      } catch {
        // SIGTERM cannot be listened for on Windows.
      }
    }
  } else {
    stop(); // a worker failed to start and said why on stderr
  }
  // One worker ending unasked ends the service.
  const statuses = children.map((child) =>
    child.status.then((status) => {
      if (!signalled) stop();
      return status;
    })
  );
  const results = await Promise.all(statuses);
  for (const signal of listening) Deno.removeSignalListener(signal, onSignal);
  return ready && signalled ? 0 : results.every((r) => r.success) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
