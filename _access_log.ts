// Copyright 2026 the basehttp authors. MIT license.
// The access log formats of `serve --log-format` (Apache's common and
// combined, JSON lines) and the `--log-file` it appends to (not a public
// entry).

import { MONTHS, pad2 } from "./_date.ts";
import type { ClientAddress } from "./handler.ts";
import { percentFormat } from "./_percent.ts";
import { HTTPServer } from "./server.ts";
import type { SimpleHTTPRequestHandler } from "./static.ts";
import { decodeLatin1, withoutUserinfo } from "./_text.ts";

/** The formats `--log-format` takes. */
export const LOG_FORMATS = ["common", "combined", "json"] as const;
/** One of {@linkcode LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

const encoder = new TextEncoder();

/**
 * Apache's escaping of logged text: `"` and `\` with a backslash, bytes
 * outside printable ASCII as `\xHH`, so that a line is always one line.
 * Head text holds one byte a character (Latin-1); a character past U+00FF,
 * which only a handler's own text can hold, is its UTF-8 bytes.
 */
function apacheEscape(text: string): string {
  return text.replace(/["\\\x00-\x1f\x7f-\xff]|[^\x00-\xff]/gu, (ch) => {
    if (ch === '"' || ch === "\\") return "\\" + ch;
    const code = ch.codePointAt(0)!;
    const bytes = code > 0xff ? encoder.encode(ch) : [code];
    let escaped = "";
    for (const byte of bytes) {
      escaped += "\\x" + byte.toString(16).padStart(2, "0");
    }
    return escaped;
  });
}

/**
 * `text`'s UTF-8 bytes, one character each, for apacheEscape(): a user name
 * (from UTF-8 credentials) is logged as the bytes sent, as nginx logs it.
 */
function utf8Text(text: string): string {
  return decodeLatin1(encoder.encode(text));
}

/** Apache's `%t`: `[02/Dec/2026:01:40:22 +0000]`, in local time. */
function apacheTime(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `[${pad2(date.getDate())}/${
    MONTHS[date.getMonth()]
  }/${date.getFullYear()}:${pad2(date.getHours())}:${pad2(date.getMinutes())}:${
    pad2(date.getSeconds())
  } ${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}]`;
}

/**
 * A subclass of `Base` whose access log lines are in `format`, written to
 * `write` (by default the server's `logSink`); its other messages
 * (`logError`) stay on the `logSink` in Python's form, except in `json`,
 * where they are `{"time", "remote", "message"}` objects. Only the user
 * name of a Basic credential is logged, never the `Authorization` field.
 */
export function withAccessLog(
  Base: typeof SimpleHTTPRequestHandler,
  format: LogFormat,
  write?: (line: string) => void,
): typeof SimpleHTTPRequestHandler {
  return class extends Base {
    // When this request's head arrived: Date for the line, ms for duration.
    #arrived: Date | null = null;
    #started = 0;

    override parseRequest(): boolean | Promise<boolean> {
      this.#arrived = new Date();
      this.#started = performance.now();
      return super.parseRequest();
    }

    override logRequest(
      code: number | string = "-",
      size: number | string = "-",
    ): void {
      const time = this.#arrived ?? new Date();
      const duration = this.#arrived === null
        ? 0
        : performance.now() - this.#started;
      this.#arrived = null;
      // A head that failed to parse has no request line or fields.
      const field = (name: string) =>
        this.requestline === "" ? null : this.headers.get(name);
      const referer = field("referer");
      const user = this.remoteUser;
      if (format === "json") {
        (write ?? this.server.logSink)(jsonLine({
          time: time.toISOString(),
          remote: this.clientAddress[0],
          user,
          // The line as read, as common's %r: a line refused whole has no
          // method, path or version.
          request: this.requestline === ""
            ? null
            : requestLineWithoutUserinfo(this.requestline),
          method: this.command || null,
          path: this.path === "" ? null : withoutUserinfo(this.path),
          version: this.requestVersion || null,
          status: typeof code === "number" ? code : null,
          size: typeof size === "number" ? size : 0,
          referer: referer === null ? null : withoutUserinfo(referer),
          user_agent: field("user-agent"),
          duration_ms: Math.round(duration * 1000) / 1000,
        }));
        return;
      }
      const request = this.requestline === ""
        ? "-"
        : requestLineWithoutUserinfo(this.requestline);
      let line = `${this.clientAddress[0]} - ${
        user === null || user === "" ? "-" : apacheEscape(utf8Text(user))
      } ${apacheTime(time)} "${apacheEscape(request)}" ${code} ${
        size === 0 || size === "-" ? "-" : size
      }`;
      if (format === "combined") {
        const agent = field("user-agent");
        line += ` "${
          referer === null ? "-" : apacheEscape(withoutUserinfo(referer))
        }" "${agent === null ? "-" : apacheEscape(agent)}"`;
      }
      (write ?? this.server.logSink)(line);
    }

    override logMessage(template: string, ...args: unknown[]): void {
      if (format !== "json") return super.logMessage(template, ...args);
      this.server.logSink(jsonLine({
        time: new Date().toISOString(),
        remote: this.clientAddress[0],
        message: percentFormat(template, args),
      }));
    }
  };
}

/**
 * One JSON line: JSON.stringify escapes only C0 controls, so C1 controls
 * (U+009B is a terminal's CSI) and U+2028/2029 (line breaks to many
 * readers) are escaped too, as the other formats escape them.
 */
function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\x7f-\x9f\u2028\u2029]/g,
    (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

/**
 * An {@linkcode HTTPServer} whose error reports are JSON lines too, one
 * object each: `--log-format json` keeps every line of its log parseable.
 */
export class JSONLogServer extends HTTPServer {
  /**
   * Makes the server, whose own plain lines (accept() retries, handlers
   * left running at a shutdown) become `{ time, message }` records.
   *
   * @param args As {@linkcode HTTPServer}'s.
   */
  constructor(...args: ConstructorParameters<typeof HTTPServer>) {
    super(...args);
    const sink = this.logSink;
    this.logSink = (line) =>
      sink(
        line.startsWith("{")
          ? line
          : jsonLine({ time: new Date().toISOString(), message: line }),
      );
  }

  override handleError(
    _connection: Deno.Conn | null,
    clientAddress: ClientAddress | null,
    error: unknown,
  ): void {
    this.logSink(jsonLine({
      time: new Date().toISOString(),
      remote: clientAddress?.[0] ?? null,
      message: "Exception occurred during processing of request",
      error: Deno.inspect(error),
    }));
  }
}

/**
 * The `--log-file`: lines appended, one write each (`O_APPEND`, so that
 * workers sharing the file never interleave within a line);
 * {@linkcode reopen} opens the path anew after log rotation renamed it.
 */
export class LogFile implements Disposable {
  readonly path: string;
  #file: Deno.FsFile;
  #failed = false;

  constructor(path: string) {
    this.path = path;
    this.#file = LogFile.#open(path);
  }

  static #open(path: string): Deno.FsFile {
    return Deno.openSync(path, { append: true, create: true });
  }

  /** Appends `line` and a newline; a failure is reported once on stderr. */
  write(line: string): void {
    const bytes = encoder.encode(line + "\n");
    try {
      for (let at = 0; at < bytes.length;) {
        at += this.#file.writeSync(bytes.subarray(at));
      }
      this.#failed = false;
    } catch (error) {
      if (!this.#failed) {
        console.error(`serve: cannot write to ${this.path}: ${error}`);
      }
      this.#failed = true;
    }
  }

  /** Opens the path again (SIGHUP); on failure, keeps the open file. */
  reopen(): void {
    let file: Deno.FsFile;
    try {
      file = LogFile.#open(this.path);
    } catch (error) {
      console.error(`serve: cannot reopen ${this.path}: ${error}`);
      return;
    }
    this.#file.close();
    this.#file = file;
  }

  [Symbol.dispose](): void {
    this.#file.close();
  }
}

/** A request line whose target has no `user:password@`. */
function requestLineWithoutUserinfo(line: string): string {
  const [method, target, ...rest] = line.split(" ");
  if (target === undefined) return line;
  return [method, withoutUserinfo(target), ...rest].join(" ");
}
