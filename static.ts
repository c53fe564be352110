// Copyright 2026 the basehttp authors. MIT license.
/**
 * {@linkcode SimpleHTTPRequestHandler}: Python's handler that serves the
 * files under a directory, with what Python lacks: `ETag`, RFC 9110
 * conditional and range requests, a MIME database, a root that symlinks
 * cannot escape, and what the static servers people pick have: CORS with
 * preflights, compression, a single-page-app fallback and `404.html`,
 * Basic auth, `Cache-Control`, JSON listings, and uploads (PUT and an
 * upload form) when {@linkcode SimpleHTTPRequestHandler.upload} is set.
 *
 * @example Serve a directory
 * ```ts
 * import { HTTPServer } from "@basehttp/server";
 * import { simpleHandler } from "@basehttp/server/static";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/hello.txt`, "hello\n");
 * class Quiet extends simpleHandler({ directory: root }) {
 *   override logMessage(): void {}
 * }
 *
 * await using httpd = new HTTPServer(["127.0.0.1", 0], Quiet);
 * const serving = httpd.serveForever();
 * const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/hello.txt`);
 * assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
 * assert.equal(await response.text(), "hello\n");
 * await httpd.shutdown();
 * await serving;
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

import { existsSync } from "node:fs";
import {
  ABSOLUTE_FORM,
  absolutePath,
  decodePath,
  isAbsolutePath,
  isInside,
  joinPath,
  NOT_SERVED,
  SEND_BUSY,
  SEP,
  WINDOWS,
} from "./_path.ts";
import {
  BaseHTTPRequestHandler,
  type ClientAddress,
  DEFAULT_ERROR_MESSAGE,
  type ResponseWriter,
} from "./handler.ts";
import { etagOf, mtimeOf, preconditions } from "./_conditional.ts";
import {
  type Coding,
  compressBytes,
  copyCompressed,
  isCompressible,
  MIN_COMPRESSED_SIZE,
} from "./_compress.ts";
import {
  type ListingEntry,
  listingHTML,
  listingJSON,
  listingOrder,
  sortListing,
} from "./_listing.ts";
import { chooseEncoding, mediaQuality } from "./_negotiate.ts";
import { handled } from "./_handled.ts";
import { ANSWERING } from "./_connection.ts";
import {
  isUploadTemp,
  postFiles,
  putFile,
  type UploadOptions,
} from "./_upload.ts";
import { SERVER_STATE } from "./_server_state.ts";
import {
  DEFAULT_FILE_CACHE,
  FILE_CACHE,
  FileCache,
  type FileCacheLimits,
  timeOf,
} from "./_file_cache.ts";
import { MAX_AGE_MS, WATCHED_PATHS, WatchedPaths } from "./_watched_paths.ts";
import { PATH_MEMO, PathMemo } from "./_path_memo.ts";
import { isFieldValue, isToken } from "./parser.ts";
import type { HTTPServer } from "./server.ts";
import { granted } from "./_permission.ts";
import {
  type FileBody,
  type FileSource,
  MemoryFile,
  NodeFile,
  type Opened,
  openResolved,
  outOfDescriptors,
  readWhole,
} from "./_file_source.ts";
import { PYTHON_EXTENSIONS_MAP, typeOfName } from "./_mime.ts";
import { byteRange } from "./_range.ts";
import { BASIC_AUTH, type BasicAuth, BasicAuths } from "./_basic_auth.ts";

export type { FileBody, FileCacheLimits, FileSource, UploadOptions };

// Copy buffers, pooled by size: large files move in large reads, and a
// smaller file takes no larger buffer than the one it fits. 1 MiB reads and
// writes moved a 64 MiB file 1.05–1.09 times as fast as 256 KiB ones, at
// half the user time (512 KiB and 2 MiB did no better), but a slow client
// holds its buffer for as long as it reads: only LARGE_COPIES copies at a
// time take one, the others 256 KiB.
const SMALL_CHUNK = 16384;
const MEDIUM_CHUNK = 262144;
const LARGE_CHUNK = 1 << 20;
const LARGE_COPIES = 16;
// Pages a browser renders, which link to the assets a build names.
const HTML_TYPE = /^(?:text\/html|application\/xhtml\+xml)\b/i;

/** A real path that may be served, and what it is. */
interface Resolved {
  real: string;
  info: Deno.FileInfo;
  /** The entity-tag of `info`, made on first use: a kept one is reused. */
  etag?: string;
  /** Last-Modified of `info`, likewise, once its mtime is not ahead. */
  lastModified?: string;
}

/**
 * Whether `path` still resolves to the file `found` describes: the same real
 * path, and an lstat of it that shows the same file.
 */
function resolvesAsKept(path: string, found: Resolved): boolean {
  let info: Deno.FileInfo;
  try {
    if (Deno.realPathSync(path) !== found.real) return false;
    info = Deno.lstatSync(found.real);
  } catch {
    return false; // gone
  }
  const was = found.info;
  return info.isFile === was.isFile && info.isDirectory === was.isDirectory &&
    info.dev === was.dev && info.ino === was.ino && info.size === was.size &&
    info.mode === was.mode && timeOf(info.mtime) === timeOf(was.mtime) &&
    timeOf(info.ctime) === timeOf(was.ctime);
}

/**
 * What a connection finds out about the directory it serves; again once a
 * second when that is not its real path, which may come to name another
 * directory (a symlink switched to the next release).
 */
interface Root {
  /** The handler's `directory` it was found for. */
  directory: string;
  /** That directory's absolute path. */
  path: string;
  /** Its real path; `null` when it cannot be served. */
  real: string | null;
  /** The path Deno lacks read permission for, or `null`. */
  unreadable: string | null;
  /** When it was found (`performance.now()`). */
  at: number;
}

/** Whether Deno may read `path`; asks without prompting, which would block. */
function canRead(path: string): boolean {
  return granted({ name: "read", path });
}

/** The request-target's path: no scheme and authority, query or fragment. */
function urlPathOf(target: string): string {
  const absolute = ABSOLUTE_FORM.exec(target);
  let path = absolute === null ? target : target.slice(absolute[0].length);
  const end = path.search(/[?#]/);
  if (end !== -1) path = path.slice(0, end);
  // "//host" would be a network-path reference in a Location.
  path = path.replace(/^\/+/, "/");
  return path.startsWith("/") ? path : "/" + path;
}

/** The query and fragment of a request-target, with their `?` / `#`. */
function suffixOf(target: string): string {
  const end = target.search(/[?#]/);
  return end === -1 ? "" : target.slice(end);
}

/** Methods a CORS preflight may be allowed, when the handler serves them. */
const CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
/** Python's error page, with a viewport: a phone shows it at its width. */
const ERROR_PAGE = DEFAULT_ERROR_MESSAGE.replace(
  '<meta charset="utf-8">',
  '<meta charset="utf-8">\n        <meta name="viewport" content="width=device-width, initial-scale=1">',
);
/** Methods this handler answers with 501 unless uploads are on. */
const UPLOAD_METHODS: ReadonlySet<string> = new Set(["POST", "PUT"]);
/** How long a browser may keep a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE = "86400";
// Fields a cross-origin script reads beyond the CORS-safelisted ones: a
// range reader (PDF.js) needs Content-Range, a resume its ETag, an upload
// the Location of what it made.
const EXPOSED_FIELDS =
  "Accept-Ranges, Content-Encoding, Content-Range, ETag, Location";
const CREDENTIALS = "access-control-allow-credentials";

// Entries of a listing resolved between two turns of the event loop.
const LISTING_SLICE = 1024;
// Opens of a file that keeps changing under them before a 503.
const OPEN_TRIES = 4;
/** What a directory listing is checked against: it has no validators. */
const NO_VALIDATORS = Object.freeze({ etag: null, mtime: null });

/** What content negotiation picked for a file. */
interface Negotiated {
  /** Whether the answer depends on `Accept-Encoding`. */
  vary: boolean;
  /** The coding, or `null` for the file as stored. */
  coding: Coding | null;
  /** The precompressed sibling to send, or `null` to compress on the fly. */
  sibling: Resolved | null;
}

const AS_STORED: Negotiated = Object.freeze({
  vary: false,
  coding: null,
  sibling: null,
});
/** The file as stored, where another form could have been chosen. */
const STORED_OF_SEVERAL: Negotiated = Object.freeze({
  vary: true,
  coding: null,
  sibling: null,
});

/**
 * Python's `SimpleHTTPRequestHandler`: serves GET and HEAD from the files
 * under {@linkcode directory}; `OPTIONS` answers CORS preflights when
 * {@linkcode cors} is on; `PUT` and `POST` save files when
 * {@linkcode upload} is set; other methods get 501.
 *
 * The server constructs handlers itself, so configuration goes in a
 * subclass (or use {@linkcode simpleHandler}):
 *
 * @example Configure by subclassing
 * ```ts ignore
 * import { HTTPServer } from "@basehttp/server";
 * import { SimpleHTTPRequestHandler } from "@basehttp/server/static";
 *
 * class Public extends SimpleHTTPRequestHandler {
 *   override directory = "/srv/www";
 *   override protocolVersion = "HTTP/1.1";
 *   override compress = true;
 * }
 * await new HTTPServer(["127.0.0.1", 8000], Public).serveForever();
 * ```
 */
export class SimpleHTTPRequestHandler extends BaseHTTPRequestHandler {
  /** First part of the `Server` header. */
  override serverVersion = "SimpleHTTP/0.6";
  /** Python's error page, readable on a phone (it has a viewport). */
  override errorMessageFormat: string = ERROR_PAGE;
  /**
   * An error keeps the connection, as in nginx: a page's missing image or
   * a player's 416 costs no new connection (Python's closes).
   */
  override errorClosesConnection = false;
  /** The directory served; defaults to the working directory at construction. */
  directory: string = Deno.cwd();
  /** Files served for a directory URL, the first that exists. */
  indexPages: readonly string[] = ["index.html", "index.htm"];
  /**
   * Extension (with its dot) → Content-Type, consulted before the MIME
   * database; by default Python's four entries. A frozen map (the default,
   * and {@linkcode simpleHandler}'s) lets the server keep the types it
   * guessed; one that may change is read on every request.
   */
  extensionsMap: Readonly<Record<string, string>> = PYTHON_EXTENSIONS_MAP;
  /** Serve names starting with `.` (and list them); by default they are 404. */
  showDotfiles = false;
  /** Serve symlinks that resolve outside {@linkcode directory}. */
  followSymlinks = false;
  /** List directories that have no index page; otherwise answer 403. */
  showDirListing = true;
  /**
   * Header fields added to 200, 206 and 304 responses for files and to
   * listings (Python 3.15's `extra_response_headers`; on 304 as RFC 9110
   * §15.4.5 asks).
   */
  extraResponseHeaders: readonly (readonly [string, string])[] = [];
  /**
   * Send `Access-Control-Allow-Origin: *` with every response, and answer
   * a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) with
   * 204, `Access-Control-Allow-Methods`, `Access-Control-Allow-Headers`
   * (those the preflight asks for) and `Access-Control-Max-Age`, before
   * {@linkcode auth} (a browser sends a preflight without credentials).
   * Responses expose `Accept-Ranges`, `Content-Encoding`, `Content-Range`,
   * `ETag` and `Location` to the page (`Access-Control-Expose-Headers`).
   * An `Access-Control-Allow-Credentials` in
   * {@linkcode extraResponseHeaders} goes with these fields, on every
   * response to an allowed origin; it needs {@linkcode corsOrigins}, since a
   * browser refuses credentials for `*` (simpleHandler() says so with a
   * TypeError). Without it (and without
   * {@linkcode corsOrigins}), `OPTIONS` is 501.
   */
  cors = false;
  /**
   * The origins allowed, such as `"https://app.example"`. When not empty,
   * CORS is on as with {@linkcode cors} but for these only: a listed
   * `Origin` is echoed in `Access-Control-Allow-Origin`, every response
   * carries `Vary: Origin`, and a preflight from another origin gets 204
   * with no `Access-Control-Allow-*` field.
   */
  corsOrigins: readonly string[] = [];
  /**
   * Compress files for clients that ask, by `Accept-Encoding` q-values: a
   * precompressed sibling `name.br` or `name.gz` first, when present and
   * not older than the file; else `gzip` (or `br`, for a client that
   * prefers it: brotli on the fly is ~5× slower) made on the fly with
   * `CompressionStream` for files of 1 KiB and more, streamed without
   * Content-Length (chunked on HTTP/1.1). Only compressible types (text,
   * JSON, JavaScript, XML, SVG, WebAssembly, …) are compressed or looked
   * up with siblings. Each coding has its own ETag (weak when made on the
   * fly); answers that could differ carry `Vary: Accept-Encoding`; a
   * request that excludes every form it could get is 406. A `Range`
   * request is always answered from the file as stored. Listings and
   * error pages are not compressed.
   */
  compress = false;
  /**
   * A single-page app: a GET or HEAD of a missing path whose last segment
   * has no extension, from a client whose `Accept` allows `text/html`, is
   * answered 200 with the root's index page (the first of
   * {@linkcode indexPages} there). Such a path's answers, the index page
   * or the 404 that another `Accept` gets, carry `Vary: Accept`.
   */
  spa = false;
  /**
   * Clean URLs, as static site generators link their pages: a GET or HEAD
   * of `/about` with no file there (nothing, or a directory) is answered
   * with `/about.html` when that file may be served. A path ending in `/`
   * or whose last segment has an extension is left as it is, and
   * `/about.html` is served at its own URL too.
   */
  cleanUrls = false;
  /**
   * Users and passwords for HTTP Basic auth. When not empty, every request
   * needs one of them, before anything else, or gets 401 with
   * `WWW-Authenticate`; with {@linkcode cors} on, a CORS preflight is the
   * one answered without (a browser sends no credentials on a preflight,
   * and its answer tells only which methods and fields may come). The
   * list is hashed once per server; a request's password is compared in
   * constant time with those of the user it names, and the
   * `Authorization` field is never logged. A user name has no `:`.
   */
  auth: readonly (readonly [user: string, password: string])[] = [];
  /** The realm named in the `WWW-Authenticate` challenge of {@linkcode auth}. */
  authRealm = "basehttp";
  /**
   * A `Cache-Control` value for the 200, 206 and 304 answers of files,
   * such as `"public, max-age=3600"`; `null` sends none. A new build must
   * reach what links to its assets, so `no-cache` is sent instead
   * (`private, no-cache` for a `private` value; a `no-store` one is kept)
   * for the index page that a {@linkcode spa} route gets (it is not the
   * file at that URL), and for HTML and XHTML pages when this value has
   * `immutable` (which is for files named by their content).
   */
  cacheControl: string | null = null;
  /**
   * The user that {@linkcode auth} let in for this request, or `null`
   * (CGI scripts see it as `REMOTE_USER`).
   */
  remoteUser: string | null = null;
  /**
   * Accept uploads (`serve --upload`): `PUT /path` writes that file (201
   * created, 204 replaced with `overwrite`, else 409; 412 when its
   * `If-Match`, `If-Unmodified-Since` or `If-None-Match` fails), a
   * `multipart/form-data` `POST` to a directory saves its files there, and
   * listings show an upload form. Each file is written to a temporary
   * dotfile and renamed into place; names are checked as request paths
   * are; a body over `maxUpload` is 413 and a full disk 507, leaving
   * nothing. An upload whose `Origin` is another site is 403, unless it is
   * one of {@linkcode corsOrigins}. `null` (the default): `PUT` and `POST`
   * are 501.
   */
  upload: UploadOptions | null = null;
  /**
   * Bounds of the server's cache of small files' bytes: by default 1,024
   * files, 8 MiB, files up to 64 KiB; `null` reads every file from disk,
   * and resolves every path, for each request. A cached file is served only
   * for a path resolved and checked as for any request (real path inside
   * the root, no dotfile, not a symlink), and only while the lstat of that
   * resolution shows the same device, inode, size, mtime and ctime as when
   * the file was read; a file changed in the last 2 seconds is not held. The
   * cache is the server's: the limits of the handler that serves its first
   * file make it.
   *
   * A server with a listener of its own also keeps up to 4,096 such
   * resolutions of files and directories with no symlink below the root,
   * and watches their directories (Deno.watchFs, in a worker): any change
   * reported there forgets them all, and none is used for more than a
   * second without being resolved again and found the same; the root's
   * device and inode are checked once a second too. So a request for a
   * known file makes no file system call, and a change shows once its
   * event arrives: 2–4 ms after the write, 7 ms at most under load,
   * measured on Linux with `bench/watch_delay.ts`; in that moment a
   * request still gets the file as it was. A FIFO made in the tree stops
   * the watching for the server's life (a Deno bug: its watcher opens the
   * FIFO and waits); changes then show within the second. Each handler's own
   * rules (dotfiles, CGI scripts) are applied to a kept path again. The
   * worker costs about 9 MiB of RSS and two threads, once per server.
   */
  fileCache: Readonly<FileCacheLimits> | null = DEFAULT_FILE_CACHE;

  // Found when a connection's first request needs it, then again once a
  // second, between requests.
  #root: Root | undefined;
  // Fields for the next sendResponse(), for errors that need one (416).
  #nextHeaders: [string, string][] = [];
  // The server's BasicAuth of `auth`, looked up once per connection.
  #basicAuth: [SimpleHTTPRequestHandler["auth"], BasicAuth] | undefined;

  /** Serves a file or a directory listing. */
  async do_GET(): Promise<void> {
    const body = await this.sendHead();
    if (body === null) return;
    if (body instanceof Uint8Array) return await this.wfile.write(body);
    try {
      if (
        body.coding === undefined && body.file instanceof MemoryFile &&
        this.copyfile === SimpleHTTPRequestHandler.prototype.copyfile
      ) {
        // Held whole already: one write, unless an override copies.
        const { bytes, position } = body.file;
        await this.wfile.write(
          bytes.subarray(position, position + body.length),
        );
      } else if (body.coding === undefined) {
        await this.copyfile(body.file, this.wfile, body.length);
      } else {
        // Small reads: compressing one holds the event loop (~1–3 ms).
        await copyCompressed(body.file, this.wfile, body.coding, SMALL_CHUNK);
      }
    } finally {
      body.file.close();
    }
  }

  /** Sends the same header fields as {@linkcode do_GET}, without the body. */
  async do_HEAD(): Promise<void> {
    const body = await this.sendHead();
    if (body !== null && !(body instanceof Uint8Array)) body.file.close();
  }

  /** With {@linkcode upload}: writes the body to the file of the path. */
  async do_PUT(): Promise<void> {
    if (this.upload === null) {
      return await this.sendError(501, "Unsupported method ('PUT')");
    }
    await putFile(this, this.upload);
    this.#watchedPaths()?.clear(); // what this server wrote shows at once
  }

  /**
   * With {@linkcode upload}: saves the files of a `multipart/form-data`
   * body in the directory of the path.
   */
  async do_POST(): Promise<void> {
    if (this.upload === null) {
      return await this.sendError(501, "Unsupported method ('POST')");
    }
    await postFiles(this, this.upload);
    this.#watchedPaths()?.clear();
  }

  /**
   * With {@linkcode cors} or {@linkcode corsOrigins}: answers 204 with
   * `Allow`, and a preflight from an allowed origin also with
   * `Access-Control-Allow-Methods` (the methods this handler serves),
   * `Access-Control-Allow-Headers` (those asked for) and
   * `Access-Control-Max-Age`. Without CORS, Python's 501.
   */
  async do_OPTIONS(): Promise<void> {
    if (!this.#corsOn) {
      return await this.sendError(501, "Unsupported method ('OPTIONS')");
    }
    const methods = [...CORS_METHODS.filter((m) => this.#serves(m)), "OPTIONS"]
      .join(", ");
    this.sendResponse(204);
    this.sendHeader("Allow", methods);
    const preflight = this.headers.has("access-control-request-method");
    if (preflight && this.#allowedOrigin() !== null) {
      // The built-in uploads refuse another site that corsOrigins does not
      // name (_upload.ts): such a page is not offered them.
      const origin = this.headers.get("origin") ?? "";
      const offered = this.corsOrigins.includes(origin) ? methods : [
        ...CORS_METHODS.filter((m) =>
          this.#serves(m) && !(UPLOAD_METHODS.has(m) && this.#builtIn(m))
        ),
        "OPTIONS",
      ].join(", ");
      this.sendHeader("Access-Control-Allow-Methods", offered);
      const asked = this.headers.getAll("access-control-request-headers")
        .join(", ").trim();
      if (asked !== "" && isFieldValue(asked)) {
        this.sendHeader("Access-Control-Allow-Headers", asked);
      }
      this.sendHeader("Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
    }
    if (preflight) this.sendHeader("Vary", "Access-Control-Request-Headers");
    await this.endHeaders();
  }

  /** Whether `method` gets more than a 501: uploads' only with them on. */
  #serves(method: string): boolean {
    const own = (this as unknown as Record<string, unknown>)["do_" + method];
    if (typeof own !== "function") return false;
    return !this.#builtIn(method) || this.upload !== null ||
      !UPLOAD_METHODS.has(method);
  }

  /** Whether `method` is served by this class's own `do_` method. */
  #builtIn(method: string): boolean {
    const name = "do_" + method;
    const base = SimpleHTTPRequestHandler.prototype as unknown as Record<
      string,
      unknown
    >;
    return (this as unknown as Record<string, unknown>)[name] === base[name];
  }

  /**
   * Parses the request as {@linkcode BaseHTTPRequestHandler.parseRequest}
   * does, then checks {@linkcode auth}: a request without the credentials
   * of a listed user is answered 401 and not dispatched.
   *
   * @returns `true` when the request should be dispatched.
   */
  override parseRequest(): boolean | Promise<boolean> {
    this.remoteUser = null;
    // What the last request queued for an error page it never sent (an
    // override of sendError may write its own head) is not this one's.
    this.#nextHeaders.length = 0;
    const root = this.#root;
    if (
      root !== undefined && (root.directory !== this.directory ||
        (root.real !== root.path && performance.now() - root.at >= MAX_AGE_MS))
    ) {
      this.#root = undefined;
    }
    const parsed = super.parseRequest();
    if (this.auth.length === 0) return parsed;
    return typeof parsed === "boolean"
      ? this.#authorize(parsed)
      : handled(parsed.then((ok) => this.#authorize(ok)));
  }

  /**
   * Queues the status line, `Server` and `Date`, and the CORS fields of
   * {@linkcode cors} and {@linkcode corsOrigins}.
   *
   * @param code The status code, 100–999.
   * @param message The reason phrase; defaults to the status phrase.
   */
  override sendResponse(code: number, message?: string): void {
    super.sendResponse(code, message);
    if (this.corsOrigins.length > 0) this.sendHeader("Vary", "Origin");
    const origin = this.#allowedOrigin();
    if (origin !== null) {
      this.sendHeader("Access-Control-Allow-Origin", origin);
      this.sendHeader("Access-Control-Expose-Headers", EXPOSED_FIELDS);
      // The user's, as CORS does not set it, but it must go with the rest:
      // a preflight or an error without it fails a credentialed request.
      const credentials = this.#corsCredentials();
      if (credentials !== null) {
        this.sendHeader("Access-Control-Allow-Credentials", credentials);
      }
    }
    for (const [name, value] of this.#nextHeaders) this.sendHeader(name, value);
    this.#nextHeaders = [];
  }

  /**
   * Sends an error as {@linkcode BaseHTTPRequestHandler.sendError} does,
   * except that the body of a 404 is the root's `404.html`, when there is
   * one that may be served.
   *
   * @param code The status code.
   * @param message The short message; defaults to the status phrase.
   * @param explain The explanation; defaults to the status description.
   */
  override sendError(
    code: number,
    message?: string,
    explain?: string,
  ): Promise<void> {
    if (code === 404) {
      const root = this.#rootInfo().real;
      let page = root === null
        ? null
        : this.#resolve(joinPath(root, "404.html"));
      let fd: number | null = null;
      try {
        fd = page?.info.isFile ? openResolved(page.real, page.info) : null;
        if (fd === null && page?.info.isFile) {
          page = this.#resolveAgain(page);
          fd = page?.info.isFile ? openResolved(page.real, page.info) : null;
        }
      } catch (error) {
        // The built-in page, which needs no descriptor, answers instead.
        if (!outOfDescriptors(error)) throw error;
      }
      if (fd !== null) {
        return this[ANSWERING](
          this.#sendNotFoundPage(new NodeFile(fd), page!.info.size, message),
        );
      }
    }
    return super.sendError(code, message, explain);
  }

  /**
   * Answers the request's head: a redirect, an error, a 304 or the header
   * fields of a file or listing.
   *
   * @returns What {@linkcode do_GET} still has to send: a file span, a
   * listing's bytes, or `null` when the response is complete.
   */
  async sendHead(): Promise<FileBody | Uint8Array | null> {
    const { unreadable } = this.#rootInfo();
    if (unreadable !== null) {
      this.logError(
        "no permission to read %s: run deno with --allow-read=%s",
        unreadable,
        unreadable,
      );
      await this.sendError(500, "The server may not read its directory");
      return null;
    }
    const path = this.translatePath(this.path);
    let found = path === null ? null : this.#resolve(path);
    let filePath = path;
    if (this.cleanUrls && path !== null && found?.info.isFile !== true) {
      const page = this.#cleanUrlPage(path);
      if (page !== null) [found, filePath] = [page, path + ".html"];
    }
    const appRoute = path !== null && found === null && this.spa &&
      this.#isAppRoute();
    if (appRoute) [found, filePath] = this.#appIndex() ?? [null, null];
    if (path === null || filePath === null || found === null) {
      await this.sendError(404, "File not found");
      return null;
    }
    if (found.info.isDirectory) {
      const urlPath = urlPathOf(this.path);
      if (!(decodePath(urlPath) ?? urlPath).endsWith("/")) {
        this.sendResponse(301);
        this.sendHeader("Location", urlPath + "/" + suffixOf(this.path));
        this.sendHeader("Content-Length", "0");
        await this.endHeaders();
        return null;
      }
      let index: Resolved | null = null;
      for (const name of this.indexPages) {
        index = this.#resolve(joinPath(found.real, name));
        if (index?.info.isFile) {
          filePath = joinPath(path, name);
          break;
        }
        index = null;
      }
      if (index === null) {
        if (!this.showDirListing) {
          await this.sendError(403, "Directory listing is disabled");
          return null;
        }
        return await this.listDirectory(found.real);
      }
      found = index;
    } else if (path.endsWith("/") && !appRoute) {
      await this.sendError(404, "File not found"); // a file is not a directory
      return null;
    }
    // FIFOs, sockets and devices are not served.
    let file: Opened | null = null;
    let opened: Resolved | null = found;
    try {
      // A file that changes as it is opened (an editor's write truncates,
      // then writes) is found again, a few times: it is there all along,
      // and a 404 would say it is gone.
      for (let tries = 0; opened?.info.isFile && tries < OPEN_TRIES; tries++) {
        if (tries > 0) opened = this.#resolveAgain(opened);
        file = opened?.info.isFile ? this.#open(opened) : null;
        if (file !== null) break;
      }
    } catch (error) {
      if (!outOfDescriptors(error)) throw error;
      await this[SEND_BUSY]("Too many open files");
      return null;
    }
    if (file === null || opened === null) {
      if (opened?.info.isFile) {
        await this[SEND_BUSY]("The file is being changed");
      } else await this.sendError(404, "File not found");
      return null;
    }
    found = opened;
    try {
      return await this.#sendFileHead(
        file,
        found,
        this.guessType(filePath),
        appRoute,
      );
    } catch (error) {
      file.close();
      throw error;
    }
  }

  /** Sends the head for an open file; returns the span to send, or null. */
  async #sendFileHead(
    opened: Opened,
    found: Resolved,
    ctype: string,
    appRoute: boolean,
  ): Promise<FileBody | null> {
    const { info } = found;
    const size = info.size;
    const mtime = mtimeOf(info);
    // Never later than the Date sent: a future mtime is sent as the Date
    // (RFC 9110 §8.8.2.1), a value of the moment, not kept with `found`;
    // preconditions still compare the real mtime.
    let lastModified = found.lastModified;
    if (lastModified === undefined) {
      const ahead = mtime * 1000 > Date.now();
      lastModified = ahead ? this.dateTimeString() : this.dateTimeString(mtime);
      if (!ahead) found.lastModified = lastModified;
    }
    let negotiated = AS_STORED;
    if (this.compress) {
      const chosen = this.#negotiate(found, ctype);
      if (chosen === null) {
        opened.close();
        this.#nextHeaders.push(["Vary", "Accept-Encoding"]);
        await this.sendError(406, "No acceptable content coding");
        return null;
      }
      negotiated = chosen;
    }
    const { vary, sibling } = negotiated;
    const cacheControl = this.#cacheControlOf(ctype, appRoute);
    let etag = found.etag ??= etagOf(info);
    let coding = negotiated.coding;
    // A range is of the file as stored, whatever the coding asked for.
    if (coding !== null && this.#range(size, etag, mtime) !== null) {
      coding = null;
    }
    let file = opened;
    let sentSize: number | null = size; // null: compressed on the fly
    if (coding !== null && sibling !== null) {
      let siblingFile: Opened | null = null;
      try {
        siblingFile = this.#open(sibling);
      } catch (error) {
        // The file as stored, open already, goes instead.
        if (!outOfDescriptors(error)) throw error;
      }
      if (siblingFile === null) {
        coding = null; // changed since it was found, or no descriptor
      } else {
        opened.close();
        file = siblingFile;
        sentSize = sibling.info.size;
        etag = etagOf(sibling.info, `-${coding}`);
      }
    } else if (coding !== null) {
      sentSize = null;
      // Weak: the bytes are the compressor's, not a stored file's.
      etag = `W/${etagOf(info, `-${coding}`)}`;
    }

    const outcome = preconditions(this.headers, this.command, { etag, mtime });
    if (outcome !== 200) {
      file.close();
      if (outcome === 412) {
        await this.sendError(412);
        return null;
      }
      this.sendResponse(304);
      this.sendHeader("ETag", etag);
      this.sendHeader("Last-Modified", lastModified);
      if (coding === null) this.sendHeader("Accept-Ranges", "bytes");
      this.#sendFileFields(vary, cacheControl);
      await this.endHeaders();
      return null;
    }

    const range = coding === null ? this.#range(size, etag, mtime) : null;
    if (range === "unsatisfiable") {
      file.close();
      this.#nextHeaders.push(
        ["Content-Range", `bytes */${size}`],
        ["Accept-Ranges", "bytes"],
      );
      await this.sendError(416);
      return null;
    }
    const [start, end] = range ?? [0, (sentSize ?? size) - 1];
    const length = end - start + 1;
    this.sendResponse(range === null ? 200 : 206);
    this.sendHeader("Content-Type", ctype);
    if (coding !== null) this.sendHeader("Content-Encoding", coding);
    if (sentSize !== null) this.sendHeader("Content-Length", String(length));
    if (range !== null) {
      this.sendHeader("Content-Range", `bytes ${start}-${end}/${size}`);
    }
    // Ranges are of the file as stored: a coded body offers none (nginx's
    // way), or a client resuming it would append stored bytes to coded ones.
    if (coding === null) this.sendHeader("Accept-Ranges", "bytes");
    this.sendHeader("Last-Modified", lastModified);
    this.sendHeader("ETag", etag);
    this.#sendFileFields(vary, cacheControl);
    await this.endHeaders();
    if (sentSize === null) return { file, length, coding: coding! };
    file.position = start;
    return { file, length };
  }

  /**
   * Picks the form of a file to send, by `Accept-Encoding`: a fresh
   * precompressed sibling, a coding made on the fly, or the file as stored.
   *
   * @returns What to send, or `null` when no form is acceptable.
   */
  #negotiate(found: Resolved, ctype: string): Negotiated | null {
    const accepted = this.headers.getAll("accept-encoding");
    if (!isCompressible(ctype)) {
      return accepted.length === 0 || chooseEncoding(accepted, []) !== null
        ? AS_STORED
        : null;
    }
    const large = found.info.size >= MIN_COMPRESSED_SIZE;
    // Without the field the file goes as stored; the answer still varies
    // when a field could have chosen another form.
    if (accepted.length === 0 && large) return STORED_OF_SEVERAL;
    const mtime = found.info.mtime?.getTime() ?? Infinity;
    const siblings: [Coding, Resolved][] = [];
    for (const [coding, ext] of [["br", ".br"], ["gzip", ".gz"]] as const) {
      // Most files have none: existsSync says so without building the
      // NotFound error that a failed realPathSync throws (~10 µs).
      if (!existsSync(found.real + ext)) continue;
      const sibling = this.#resolve(found.real + ext);
      if (
        sibling?.info.isFile && (sibling.info.mtime?.getTime() ?? 0) >= mtime
      ) {
        siblings.push([coding, sibling]);
      }
    }
    if (accepted.length === 0) {
      return siblings.length === 0 ? AS_STORED : STORED_OF_SEVERAL;
    }
    // On a tie: precompressed first, then gzip before br on the fly, where
    // brotli (at its best, the only quality CompressionStream has) makes
    // ~11 MB/s of text against gzip's ~53, slower than many links.
    const available: string[] = siblings.map(([coding]) => coding);
    if (large) available.push("gzip", "br");
    const chosen = chooseEncoding(accepted, available);
    if (chosen === null) return null;
    if (available.length === 0) return AS_STORED;
    const coding = chosen === "identity" ? null : chosen as Coding;
    const sibling = siblings.find(([c]) => c === coding)?.[1] ?? null;
    return { vary: true, coding, sibling };
  }

  /** The coding of a listing: gzip or br when asked for, gzip on a tie. */
  #listingCoding(): Coding | null {
    const accepted = this.headers.getAll("accept-encoding");
    if (accepted.length === 0) return null;
    const chosen = chooseEncoding(accepted, ["gzip", "br"]);
    return chosen === "gzip" || chosen === "br" ? chosen : null;
  }

  /** Vary, Cache-Control and the extra fields of a file's 200, 206 or 304. */
  #sendFileFields(vary: boolean, cacheControl: string | null): void {
    if (vary) this.sendHeader("Vary", "Accept-Encoding");
    if (cacheControl !== null) this.sendHeader("Cache-Control", cacheControl);
    this.#sendExtraResponseHeaders();
  }

  /**
   * The Cache-Control of a file: {@linkcode cacheControl}, but `no-cache`
   * for what a new build must reach however long its assets are kept: an
   * app route's index page (not the file at its URL), and, when the value
   * says `immutable`, HTML pages (never named by their content as assets
   * are). A `no-store` value is never made weaker, nor a `private` one
   * shared.
   */
  #cacheControlOf(ctype: string, appRoute: boolean): string | null {
    const value = this.cacheControl;
    if (value === null || !(appRoute || HTML_TYPE.test(ctype))) return value;
    if (/\bno-store\b/i.test(value)) return value;
    if (!appRoute && !/\bimmutable\b/i.test(value)) return value;
    // Kept out of shared caches if asked, whatever the freshness.
    return /\bprivate\b/i.test(value) ? "private, no-cache" : "no-cache";
  }

  /**
   * Whether a missing path is one of a single-page app's routes. When
   * `Accept` decides it, the answer (index page or 404) says so in `Vary`.
   */
  #isAppRoute(): boolean {
    if (this.command !== "GET" && this.command !== "HEAD") return false;
    const urlPath = urlPathOf(this.path);
    const decoded = decodePath(urlPath) ?? urlPath;
    const last = decoded.slice(decoded.lastIndexOf("/") + 1);
    if (last.lastIndexOf(".") > 0) return false;
    this.#nextHeaders.push(["Vary", "Accept"]);
    return mediaQuality(this.headers.getAll("accept"), "text/html") > 0;
  }

  /** The `.html` file that a clean URL's `path` names, or `null`. */
  #cleanUrlPage(path: string): Resolved | null {
    const last = path.slice(path.lastIndexOf(SEP) + 1);
    if (last === "" || last.lastIndexOf(".") > 0) return null;
    // The root is no page: its name + ".html" is beside it, outside.
    if (path === absolutePath(this.directory)) return null;
    const page = this.#resolve(path + ".html");
    return page?.info.isFile ? page : null;
  }

  /** The root's index page and its name, or `null`. */
  #appIndex(): [Resolved, string] | null {
    const root = this.#rootInfo().real;
    if (root === null) return null;
    for (const name of this.indexPages) {
      const index = this.#resolve(joinPath(root, name));
      if (index?.info.isFile) return [index, name];
    }
    return null;
  }

  /** Sends a 404 whose body is the root's `404.html`, open as `file`. */
  async #sendNotFoundPage(
    file: NodeFile,
    size: number,
    message?: string,
  ): Promise<void> {
    try {
      message ??= this.responses[404]?.[0] ?? "Not Found";
      this.logError("code %d, message %s", 404, message);
      this.sendResponse(404, message);
      if (this.errorClosesConnection) this.sendHeader("Connection", "close");
      this.sendHeader("Content-Type", "text/html; charset=utf-8");
      this.sendHeader("Content-Length", String(size));
      await this.endHeaders();
      if (this.command !== "HEAD") await this.copyfile(file, this.wfile, size);
    } finally {
      file.close();
    }
  }

  /** Whether CORS is on, for every origin or for some. */
  get #corsOn(): boolean {
    return this.cors || this.corsOrigins.length > 0;
  }

  /** Whether this request is a CORS preflight that CORS is on to answer. */
  #isPreflight(): boolean {
    return this.command === "OPTIONS" &&
      this.#corsOn &&
      this.headers.has("origin") &&
      this.headers.has("access-control-request-method");
  }

  /** The `Access-Control-Allow-Origin` value for this request, or `null`. */
  #allowedOrigin(): string | null {
    if (this.corsOrigins.length === 0) return this.cors ? "*" : null;
    // Before a request is parsed, `headers` may be an earlier request's.
    const origin = this.command === "" ? null : this.headers.get("origin");
    return origin !== null && this.corsOrigins.includes(origin) ? origin : null;
  }

  /** Lets a request with a listed user's credentials through, else 401. */
  #authorize(parsed: boolean): boolean {
    if (!parsed) return false;
    // A browser sends a CORS preflight without credentials (Fetch): it is
    // answered, and tells only which methods and fields may come.
    if (this.#isPreflight()) return true;
    if (this.#basicAuth?.[0] !== this.auth) {
      const server = this.server as { [BASIC_AUTH]?: BasicAuths };
      const auths = server[BASIC_AUTH] ??= new BasicAuths();
      this.#basicAuth = [this.auth, auths.of(this.auth)];
    }
    const user = this.#basicAuth[1].userOf(
      this.headers.getAll("authorization"),
    );
    if (user !== null) {
      this.remoteUser = user;
      return true;
    }
    const realm = this.authRealm.replace(/["\\]/g, "\\$&");
    this.#nextHeaders.push([
      "WWW-Authenticate",
      `Basic realm="${realm}", charset="UTF-8"`,
    ]);
    void this[ANSWERING](this.sendError(401));
    return false;
  }

  /** The byte range of a GET, when it asks for one that applies. */
  #range(
    size: number,
    etag: string,
    mtime: number,
  ): [number, number] | "unsatisfiable" | null {
    // Only GET has range semantics; HEAD gets the 200 header fields.
    if (this.command !== "GET") return null;
    return byteRange(this.headers, size, etag, mtime);
  }

  #sendExtraResponseHeaders(): void {
    const cors = this.#corsOn;
    for (const [name, value] of this.extraResponseHeaders) {
      // Sent with the CORS fields instead (sendResponse).
      if (cors && name.toLowerCase() === CREDENTIALS) continue;
      this.sendHeader(name, value);
    }
  }

  /** The value of an `Access-Control-Allow-Credentials` the user added. */
  #corsCredentials(): string | null {
    for (const [name, value] of this.extraResponseHeaders) {
      if (name.toLowerCase() === CREDENTIALS) return value;
    }
    return null;
  }

  /**
   * Sends the header fields of a listing of `path` and returns its bytes:
   * Python's HTML page, or JSON (`[{name, type, size, mtime}]`, `type`
   * `"file"` or `"directory"`, `size` `null` for a directory, `mtime` in
   * ISO 8601) for a client whose `Accept` prefers `application/json`.
   * `?sort=name|size|mtime&order=asc|desc` orders both; by name by default.
   * Answers 404 and returns `null` when the directory cannot be read.
   *
   * @param path The directory's path on disk.
   * @returns The listing, or `null`.
   */
  async listDirectory(path: string): Promise<Uint8Array | null> {
    const names: Deno.DirEntry[] = [];
    try {
      for await (const entry of Deno.readDir(path)) names.push(entry);
    } catch (error) {
      if (outOfDescriptors(error)) await this[SEND_BUSY]("Too many open files");
      else await this.sendError(404, "No permission to list directory");
      return null;
    }
    // A listing exists but has no entity-tag or date: If-Match * and
    // If-None-Match * still decide (RFC 9110 §13.1.1, §13.1.2).
    const outcome = preconditions(this.headers, this.command, NO_VALIDATORS);
    if (outcome === 412) {
      await this.sendError(412);
      return null;
    }
    // As a file's, a page of 1 KiB or more goes compressed to a client that
    // asks; held whole, it goes whole, with its length.
    const vary = this.compress ? "Accept, Accept-Encoding" : "Accept";
    if (outcome === 304) {
      this.sendResponse(304);
      this.sendHeader("Vary", vary);
      this.#sendExtraResponseHeaders();
      await this.endHeaders();
      return null;
    }
    const entries: ListingEntry[] = [];
    for (const [i, entry] of names.entries()) {
      // Each entry is resolved with blocking calls (~15 µs): a large
      // directory lets other requests in between, every LISTING_SLICE.
      if (i > 0 && i % LISTING_SLICE === 0) {
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      // Only names a request can reach (translatePath's rule).
      if (!this.#servableName(entry.name)) continue;
      if (isUploadTemp(entry.name)) continue; // half a file
      // Only what would be served is listed: no links out of the root.
      const found = this.#resolve(joinPath(path, entry.name));
      if (found === null) continue;
      const isDirectory = found.info.isDirectory;
      if (!isDirectory && !found.info.isFile) continue; // FIFOs, sockets
      entries.push({
        name: entry.name,
        isDirectory,
        isSymlink: entry.isSymlink,
        size: isDirectory ? null : found.info.size,
        mtime: found.info.mtime,
      });
    }
    const suffix = suffixOf(this.path);
    const order = listingOrder(
      suffix.startsWith("?") ? suffix.slice(1).split("#", 1)[0] : "",
    );
    sortListing(entries, order);
    const accept = this.headers.getAll("accept");
    const json = mediaQuality(accept, "application/json") >
      mediaQuality(accept, "text/html");
    const urlPath = urlPathOf(this.path);
    // A URL ending in %2F names the directory too (as Python 3.14 and nginx
    // serve it), but relative links would resolve beside it.
    const last = urlPath.slice(urlPath.lastIndexOf("/") + 1);
    const body = json ? listingJSON(entries) : listingHTML(
      decodePath(urlPath) ?? urlPath,
      entries,
      order,
      // The root has no parent link, whatever path led to it ("/./").
      absolutePath(path) !== absolutePath(this.directory),
      this.upload !== null,
      last === "" ? undefined : `${last}/`,
    );
    const coding = this.compress && body.length >= MIN_COMPRESSED_SIZE
      ? this.#listingCoding()
      : null;
    const sent = coding === null ? body : await compressBytes(body, coding);
    this.sendResponse(200);
    this.sendHeader(
      "Content-Type",
      json ? "application/json" : "text/html; charset=utf-8",
    );
    if (coding !== null) this.sendHeader("Content-Encoding", coding);
    this.sendHeader("Content-Length", String(sent.length));
    this.sendHeader("Vary", vary);
    this.#sendExtraResponseHeaders();
    await this.endHeaders();
    return sent;
  }

  /**
   * Maps a request-target to a path under {@linkcode directory}: drops the
   * scheme and authority, query and fragment, percent-decodes as UTF-8 and
   * resolves `.` and `..` so that nothing climbs out. Symlinks are checked
   * later, against the real path.
   *
   * @param path The request-target, such as `/docs/a%20b.txt?x=1`.
   * @returns The path on disk (with a trailing `/` when the URL has one),
   * or `null` for a name that cannot be served: bad encoding, NUL,
   * backslash, or a dotfile while {@linkcode showDotfiles} is off.
   */
  translatePath(path: string): string | null {
    const memo = this.#pathMemo();
    const known = memo?.path(path);
    if (known !== undefined) return known;
    const translated = this.#translate(path);
    memo?.keepPath(path, translated);
    return translated;
  }

  #translate(path: string): string | null {
    const decoded = decodePath(urlPathOf(path));
    // A backslash is a separator on Windows and a trick everywhere else.
    if (decoded === null || /[\0\\]/.test(decoded)) return null;
    const parts: string[] = [];
    for (const part of decoded.split("/")) {
      if (part === "" || part === ".") continue;
      if (part === "..") parts.pop();
      else parts.push(part);
    }
    if (!parts.every((part) => this.#servableName(part))) return null;
    let result = absolutePath(this.directory);
    for (const part of parts) result = joinPath(result, part);
    if (decoded.endsWith("/") && parts.length > 0) result += SEP;
    return result;
  }

  /**
   * Whether a file name may be served: not a dotfile while
   * {@linkcode showDotfiles} is off, no backslash, and on Windows no drive
   * or stream syntax.
   */
  #servableName(name: string): boolean {
    // A backslash is a separator on Windows and a trick everywhere else.
    if (name.includes("\\")) return false;
    if (name.startsWith(".") && !this.showDotfiles) return false;
    return !(WINDOWS && /[:<>|?*"]/.test(name)); // drives, streams
  }

  /**
   * Guesses a Content-Type from the file name: {@linkcode extensionsMap}
   * (exact, then lower-cased), then the `mime-db` database, but source code
   * that it types as a download (`.py`, `.go`, `.rs`, `.sh`, `.tsx`, …) is
   * `text/plain`, so that a browser shows it; text types get
   * `; charset=utf-8`.
   *
   * @param path A file name or path.
   * @returns The type, `application/octet-stream` when unknown.
   */
  guessType(path: string): string {
    const extensions = this.extensionsMap;
    // A map that may still change is read every time.
    const memo = Object.isFrozen(extensions) ? this.#pathMemo() : null;
    const known = memo?.type(path, extensions);
    if (known !== undefined) return known;
    const type = typeOfName(path, extensions);
    memo?.keepType(path, extensions, type);
    return type;
  }

  /**
   * Copies `length` bytes (or to the end) from a file to the response, in
   * reads of 16 KiB to 1 MiB by its size, into buffers of the server's
   * pool; a file never sits in memory whole. {@linkcode do_GET} calls it
   * for every body sent as stored (a small file held by the server's cache
   * too, when this is overridden); a body compressed on the fly goes
   * through the compressor instead.
   *
   * @param source The open file, positioned where to start: a
   * `Deno.FsFile`, or the {@linkcode FileBody.file} of {@linkcode sendHead}.
   * @param outputfile The response writer, usually `this.wfile`.
   * @param length Bytes to copy; all the rest when omitted.
   */
  async copyfile(
    source: FileSource,
    outputfile: ResponseWriter,
    length: number = Infinity,
  ): Promise<void> {
    // A buffer per copy: wfile may still hold the bytes of a large write
    // while another connection reads its own file.
    const pool = this.server[SERVER_STATE].pool;
    let buffer = length > MEDIUM_CHUNK
      ? pool.take(LARGE_CHUNK, LARGE_COPIES)
      : null;
    buffer ??= pool.take(length <= SMALL_CHUNK ? SMALL_CHUNK : MEDIUM_CHUNK);
    try {
      let left = length;
      while (left > 0) {
        const into = left < buffer.length ? buffer.subarray(0, left) : buffer;
        // A small file is read in place: a trip through the I/O thread pool
        // costs more than the read.
        const n = buffer.length === SMALL_CHUNK
          ? source.readSync(into)
          : await source.read(into);
        // A file that shrank ends short; the handler then closes.
        if (n === null || n === 0) break;
        await outputfile.write(buffer.subarray(0, n));
        left -= n;
      }
    } finally {
      pool.release(buffer);
    }
  }

  /**
   * The real path and info of `path` if it may be served, else `null`.
   * Metadata calls are synchronous: they take microseconds, far less than a
   * trip through Deno's I/O thread pool, which dominated small files.
   */
  #resolve(path: string): Resolved | null {
    const watched = this.#watchedPaths();
    const kept = watched?.get(path);
    // This handler's own rules (dotfiles, CGI scripts) apply to a kept path.
    if (kept !== undefined) return this.#servable(kept.real) ? kept : null;
    try {
      const real = Deno.realPathSync(path);
      if (!this.#servable(real)) return null;
      // lstat: a real path ends in a symlink only if one was swapped in.
      const found = { real, info: Deno.lstatSync(real) };
      // A path through a symlink below the root changes with a directory
      // that is not watched; a FIFO or device is never served, so a file
      // put in its place must show at once.
      if (
        watched !== null && (found.info.isFile || found.info.isDirectory) &&
        real === this.#inRealRoot(path)
      ) {
        watched.set(path, real, found);
      }
      return found;
    } catch {
      return null; // missing, not a directory
    }
  }

  /**
   * A resolved file again, afresh, when it did not open as resolved: it
   * changed since, or was kept from before the change's event came.
   */
  #resolveAgain(found: Resolved): Resolved | null {
    // Its event will forget every kept path: so may this.
    this.#watchedPaths()?.clear();
    return this.#resolve(found.real);
  }

  /** `path` under the root's real path, were no symlink below the root. */
  #inRealRoot(path: string): string | null {
    const { real: root, path: dir } = this.#rootInfo();
    if (root === null || !isInside(path, dir)) return null;
    return root === dir ? path : root + path.slice(dir.length);
  }

  /**
   * The server's memo of translated targets and guessed types for this
   * handler's root and dotfiles setting (one at a time: another replaces
   * it); `null` for a relative root, which follows the working directory.
   */
  #pathMemo(): PathMemo | null {
    const server = this.server as { [PATH_MEMO]?: PathMemo };
    const memo = server[PATH_MEMO];
    if (
      memo !== undefined && memo.directory === this.directory &&
      memo.dotfiles === this.showDotfiles
    ) return memo;
    if (!isAbsolutePath(this.directory)) return null;
    return server[PATH_MEMO] = new PathMemo(this.directory, this.showDotfiles);
  }

  /**
   * The server's kept resolutions of paths in this handler's root, made on
   * first use; `null` when the file cache is off, or for a server with no
   * listener of its own, whose close() may never come to stop the watching.
   */
  #watchedPaths(): WatchedPaths<Resolved> | null {
    const root = this.#rootInfo().real;
    if (this.fileCache === null || root === null) return null;
    const server = this.server as {
      [WATCHED_PATHS]?: WatchedPaths<Resolved> | null;
    };
    let watched = server[WATCHED_PATHS];
    if (watched === undefined) {
      const resources = this.server[SERVER_STATE].resources;
      watched = server[WATCHED_PATHS] = resources === null || resources.disposed
        ? null
        : resources.use(
          new WatchedPaths(this.#rootInfo().path, root, resolvesAsKept),
        );
    }
    // Another real path for the directory: one of the two is out of date.
    if (watched !== null && watched.root !== root) watched.checkRoot();
    return watched?.root === root ? watched : null;
  }

  /**
   * The file to send for a resolved regular file: its bytes from the
   * server's cache while its lstat still matches them, else the file
   * opened, and read whole into the cache when the cache admits it.
   */
  #open(found: Resolved): Opened | null {
    const cache = this.#cache();
    const held = cache?.get(found.real, found.info) ?? null;
    if (held !== null) return new MemoryFile(held);
    const fd = openResolved(found.real, found.info);
    if (fd === null) return null;
    const file = new NodeFile(fd);
    if (cache === null || !cache.admits(found.info)) return file;
    let bytes: Uint8Array | null;
    try {
      bytes = readWhole(file, found.info.size);
    } catch (error) {
      file.close();
      throw error;
    }
    if (bytes === null) return file; // shrank since the lstat
    file.close();
    cache.set(found.real, found.info, bytes);
    return new MemoryFile(bytes);
  }

  /** The server's file cache, made on first use; `null` when it is off. */
  #cache(): FileCache | null {
    const limits = this.fileCache;
    if (limits === null) return null;
    const server = this.server as { [FILE_CACHE]?: FileCache };
    return server[FILE_CACHE] ??= new FileCache(limits);
  }

  /**
   * Whether a real path may be served: inside the root (or readable, with
   * {@linkcode followSymlinks}), with no name below the root that starts
   * with `.` (unless {@linkcode showDotfiles}), and not kept from serving.
   */
  #servable(real: string): boolean {
    const root = this.#rootInfo().real;
    if (root === null) return false;
    if (isInside(real, root)) {
      const below = SEP + real.slice(root.length);
      if (!this.showDotfiles && below.includes(SEP + ".")) return false;
    } else if (this.#rootMoved()) {
      // Found now, not at the root's next check: the path that resolved
      // outside it is judged against where the root is.
      return this.#servable(real);
    } else if (!this.followSymlinks || !canRead(real)) {
      return false;
    }
    return !this[NOT_SERVED](real);
  }

  /**
   * Whether a real path is never served as a file; the CGI handler's
   * scripts are not.
   *
   * @ignore
   */
  [NOT_SERVED](_real: string): boolean {
    return false;
  }

  /**
   * Answers 503 with `Retry-After: 1`: the server is out of something a
   * later request may find.
   *
   * @ignore
   */
  [SEND_BUSY](message: string): Promise<void> {
    this.#nextHeaders.push(["Retry-After", "1"]);
    return this.sendError(503, message);
  }

  #rootInfo(): Root {
    return this.#root ??= this.#findRoot();
  }

  #findRoot(): Root {
    const directory = this.directory;
    const path = absolutePath(directory);
    const found = { directory, path, at: performance.now() };
    if (!canRead(path)) return { ...found, real: null, unreadable: path };
    let real: string;
    try {
      real = Deno.realPathSync(path);
    } catch {
      // Missing: every path is 404.
      return { ...found, real: null, unreadable: null };
    }
    // Files are opened by their real paths, and Deno checks those.
    return canRead(real)
      ? { ...found, real, unreadable: null }
      : { ...found, real: null, unreadable: real };
  }

  /** Finds the root again: whether its real path changed. */
  #rootMoved(): boolean {
    const was = this.#rootInfo().real;
    this.#root = this.#findRoot();
    return this.#root.real !== was;
  }
}

/** Options for {@linkcode simpleHandler}; each sets the handler field of that name. */
export interface SimpleHandlerOptions {
  /** The directory to serve. @default {Deno.cwd()} */
  directory?: string;
  /** Index file names, tried in order. @default {["index.html", "index.htm"]} */
  indexPages?: readonly string[];
  /** Extension → Content-Type entries added over Python's four. */
  extensionsMap?: Readonly<Record<string, string>>;
  /** Serve and list dotfiles. @default {false} */
  showDotfiles?: boolean;
  /** Serve symlinks that resolve outside the directory. @default {false} */
  followSymlinks?: boolean;
  /** List directories without an index page (else 403). @default {true} */
  showDirListing?: boolean;
  /** Header fields for 200, 206 and 304 file and 200 listing responses. */
  extraResponseHeaders?: readonly (readonly [string, string])[];
  /** Send `Access-Control-Allow-Origin: *` and answer CORS preflights. @default {false} */
  cors?: boolean;
  /** The only origins CORS allows, echoed with `Vary: Origin`; not empty turns `cors` on. @default {[]} */
  corsOrigins?: readonly string[];
  /** Compress compressible files: precompressed `.br`/`.gz` siblings, else on the fly. @default {false} */
  compress?: boolean;
  /** Answer a missing extensionless path with the root's index page. @default {false} */
  spa?: boolean;
  /** Answer `/page` with `/page.html` when there is no file `/page`. @default {false} */
  cleanUrls?: boolean;
  /** Users and passwords for HTTP Basic auth on every request. @default {[]} */
  auth?: readonly (readonly [user: string, password: string])[];
  /** The realm of the Basic auth challenge. @default {"basehttp"} */
  authRealm?: string;
  /** A `Cache-Control` value for 200, 206 and 304 file responses. @default {null} */
  cacheControl?: string | null;
  /** The status-line version; `"HTTP/1.1"` keeps connections alive. @default {"HTTP/1.0"} */
  protocolVersion?: string;
  /** Accept uploads by PUT and by the listing's form; `null` for none. @default {null} */
  upload?: UploadOptions | null;
  /** Bounds of the server's cache of small files' bytes; `null` for none. @default {{ maxEntries: 1024, maxBytes: 8388608, maxFileSize: 65536 }} */
  fileCache?: Readonly<FileCacheLimits> | null;
}

/** Whether `value` is an origin as browsers send it: `scheme://host[:port]`. */
function isOrigin(value: unknown): boolean {
  return typeof value === "string" &&
    /^[a-z][a-z0-9+.-]*:\/\/[^\s/?#,]+$/i.test(value);
}

function checkBoolean(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean`);
  }
}

/**
 * Makes a {@linkcode SimpleHTTPRequestHandler} subclass with these settings,
 * ready for {@linkcode HTTPServer}.
 *
 * @example
 * ```ts ignore
 * import { HTTPServer } from "@basehttp/server";
 * import { simpleHandler } from "@basehttp/server/static";
 *
 * const Handler = simpleHandler({ directory: "public", cors: true });
 * await new HTTPServer(["127.0.0.1", 8000], Handler).serveForever();
 * ```
 *
 * @example Basic auth and a JSON listing
 * ```ts
 * import { HTTPServer } from "@basehttp/server";
 * import { simpleHandler } from "@basehttp/server/static";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/a.txt`, "a\n");
 * class Private extends simpleHandler({
 *   directory: root,
 *   auth: [["ann", "secret"]],
 *   cacheControl: "no-cache",
 * }) {
 *   override logMessage(): void {}
 * }
 *
 * await using httpd = new HTTPServer(["127.0.0.1", 0], Private);
 * const serving = httpd.serveForever();
 * const url = `http://127.0.0.1:${httpd.serverPort}/`;
 * const refused = await fetch(url);
 * await refused.body?.cancel();
 * assert.equal(refused.status, 401);
 * const listing = await fetch(url, {
 *   headers: {
 *     Authorization: `Basic ${btoa("ann:secret")}`,
 *     Accept: "application/json",
 *   },
 * });
 * const [entry] = await listing.json();
 * assert.equal(entry.name, "a.txt");
 * assert.equal(entry.type, "file");
 * assert.equal(entry.size, 2);
 * await httpd.shutdown();
 * await serving;
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @param options The settings; a relative directory is taken from the
 * working directory now.
 * @param Base The class to extend, such as `CGIHTTPRequestHandler`.
 * @returns The handler class.
 * @throws {TypeError} When an option has the wrong type, or a header field
 * is not valid.
 * @throws {RangeError} When the protocol version is not HTTP/1.0 or 1.1.
 */
export function simpleHandler(
  options: SimpleHandlerOptions = {},
  Base: typeof SimpleHTTPRequestHandler = SimpleHTTPRequestHandler,
): typeof SimpleHTTPRequestHandler {
  const {
    directory,
    indexPages,
    extensionsMap,
    showDotfiles,
    followSymlinks,
    showDirListing,
    extraResponseHeaders,
    cors,
    corsOrigins,
    compress,
    spa,
    cleanUrls,
    auth,
    authRealm,
    cacheControl,
    protocolVersion,
    upload,
    fileCache,
  } = options;
  if (directory !== undefined && typeof directory !== "string") {
    throw new TypeError("directory must be a string");
  }
  if (
    indexPages !== undefined &&
    (!Array.isArray(indexPages) ||
      indexPages.some((name) => typeof name !== "string" || /[\\/]/.test(name)))
  ) {
    throw new TypeError("indexPages must be file names");
  }
  if (
    extensionsMap !== undefined &&
    (typeof extensionsMap !== "object" || extensionsMap === null ||
      Object.values(extensionsMap).some((type) => typeof type !== "string"))
  ) {
    throw new TypeError("extensionsMap must map extensions to type strings");
  }
  checkBoolean("showDotfiles", showDotfiles);
  checkBoolean("followSymlinks", followSymlinks);
  checkBoolean("showDirListing", showDirListing);
  checkBoolean("cors", cors);
  checkBoolean("compress", compress);
  checkBoolean("spa", spa);
  checkBoolean("cleanUrls", cleanUrls);
  if (
    corsOrigins !== undefined &&
    (!Array.isArray(corsOrigins) ||
      corsOrigins.some((origin) => !isOrigin(origin)))
  ) {
    throw new TypeError(
      "corsOrigins must be origins, such as https://a.example",
    );
  }
  if (
    auth !== undefined &&
    (!Array.isArray(auth) ||
      auth.some((pair) =>
        !Array.isArray(pair) || pair.length !== 2 ||
        typeof pair[0] !== "string" || typeof pair[1] !== "string" ||
        pair[0].includes(":") || /[\x00-\x1f\x7f]/.test(pair.join(""))
      ))
  ) {
    throw new TypeError(
      "auth must be [user, password] strings, without control characters or a colon in the user",
    );
  }
  if (
    authRealm !== undefined &&
    (typeof authRealm !== "string" || !isFieldValue(authRealm))
  ) {
    throw new TypeError("authRealm must be a header field value");
  }
  if (
    cacheControl !== undefined && cacheControl !== null &&
    (typeof cacheControl !== "string" || !isFieldValue(cacheControl))
  ) {
    throw new TypeError("cacheControl must be a header field value or null");
  }
  for (const field of extraResponseHeaders ?? []) {
    if (
      !Array.isArray(field) || field.length !== 2 ||
      typeof field[0] !== "string" || !isToken(field[0]) ||
      typeof field[1] !== "string" || !isFieldValue(field[1])
    ) {
      throw new TypeError(`Invalid header field: ${String(field)}`);
    }
  }
  if (
    cors === true && (corsOrigins ?? []).length === 0 &&
    (extraResponseHeaders ?? []).some(([name]) =>
      name.toLowerCase() === CREDENTIALS
    )
  ) {
    throw new TypeError(
      "Access-Control-Allow-Credentials needs corsOrigins: a browser " +
        "refuses credentials for the * that cors alone answers with",
    );
  }
  if (
    protocolVersion !== undefined &&
    !/^HTTP\/1\.[01]$/.test(String(protocolVersion))
  ) {
    throw new RangeError(`Unsupported protocol version: ${protocolVersion}`);
  }
  if (
    upload !== undefined && upload !== null &&
    (typeof upload !== "object" ||
      (upload.overwrite !== undefined &&
        typeof upload.overwrite !== "boolean") ||
      (upload.maxUpload !== undefined && upload.maxUpload !== null &&
        !(Number.isSafeInteger(upload.maxUpload) && upload.maxUpload >= 0)))
  ) {
    throw new TypeError(
      "upload must be { overwrite?: boolean, maxUpload?: bytes or null } or null",
    );
  }
  if (
    fileCache !== undefined && fileCache !== null &&
    (typeof fileCache !== "object" ||
      [fileCache.maxEntries, fileCache.maxBytes, fileCache.maxFileSize].some(
        (n) => !(Number.isSafeInteger(n) && n >= 0),
      ))
  ) {
    throw new TypeError(
      "fileCache must be { maxEntries, maxBytes, maxFileSize } (counts of 0 or more) or null",
    );
  }
  // Only what was given; the rest keeps the class defaults.
  const settings: Partial<SimpleHTTPRequestHandler> = {};
  if (directory !== undefined) settings.directory = absolutePath(directory);
  if (indexPages !== undefined) settings.indexPages = [...indexPages];
  if (extensionsMap !== undefined) {
    settings.extensionsMap = Object.freeze({
      ...PYTHON_EXTENSIONS_MAP,
      ...extensionsMap,
    });
  }
  if (showDotfiles !== undefined) settings.showDotfiles = showDotfiles;
  if (followSymlinks !== undefined) settings.followSymlinks = followSymlinks;
  if (showDirListing !== undefined) settings.showDirListing = showDirListing;
  if (extraResponseHeaders !== undefined) {
    settings.extraResponseHeaders = extraResponseHeaders.map(([k, v]) =>
      [k, v] as const
    );
  }
  if (cors !== undefined) settings.cors = cors;
  if (corsOrigins !== undefined) {
    settings.corsOrigins = [...corsOrigins];
    if (corsOrigins.length > 0) settings.cors = true;
  }
  if (compress !== undefined) settings.compress = compress;
  if (spa !== undefined) settings.spa = spa;
  if (cleanUrls !== undefined) settings.cleanUrls = cleanUrls;
  if (auth !== undefined) {
    settings.auth = auth.map(([user, password]) => [user, password] as const);
  }
  if (authRealm !== undefined) settings.authRealm = authRealm;
  if (cacheControl !== undefined) settings.cacheControl = cacheControl;
  if (protocolVersion !== undefined) settings.protocolVersion = protocolVersion;
  if (upload !== undefined) {
    settings.upload = upload === null ? null : { ...upload };
  }
  if (fileCache !== undefined) {
    settings.fileCache = fileCache === null
      ? null
      : Object.freeze({ ...fileCache });
  }
  return class extends Base {
    constructor(
      connection: Deno.Conn,
      clientAddress: ClientAddress,
      server: HTTPServer,
    ) {
      super(connection, clientAddress, server);
      Object.assign(this, settings);
    }
  };
}
