// Copyright 2026 the basehttp authors. MIT license.
// Uploads for `serve --upload` (not a public entry): PUT writes one file, a
// multipart POST to a directory saves its files, and the form the listing
// page shows. Each file is written to a temporary dotfile beside its target
// and renamed into place: no reader ever sees half a file, and a failed
// upload leaves nothing. Refusals are thrown as HTTPErrors, which the engine
// answers with their status and a closed connection (the body may be unread).

import {
  ABSOLUTE_FORM,
  decodePath,
  isInside,
  NOT_SERVED,
  SEP,
} from "./_path.ts";
import { htmlEscape } from "./handler.ts";
import { type MultipartPart, parseMultipart } from "./multipart.ts";
import { HTTPError, type Reader } from "./parser.ts";
import { SERVER_STATE } from "./_server_state.ts";
import type { SimpleHTTPRequestHandler } from "./static.ts";
import { mediaQuality } from "./_negotiate.ts";
import { contentTooLarge } from "./_head.ts";
import { etagOf, mtimeOf, preconditions } from "./_conditional.ts";
import { granted } from "./_permission.ts";

/** What `serve --upload` allows. */
export interface UploadOptions {
  /**
   * Replace existing files (`--overwrite`); otherwise they are a 409.
   *
   * @default {false}
   */
  overwrite?: boolean;
  /**
   * Most body bytes per request (`--max-upload`); `null` for no limit.
   *
   * @default {null}
   */
  maxUpload?: number | null;
}

const COPY_BUFFER = 262144;
const encoder = new TextEncoder();
// Controls (C0, DEL, C1) and the marks that reorder text on screen: a name
// with one shows as another (a newline in a listing, "txt.exe" as "exe.txt").
const HIDDEN_CHARACTERS =
  /[\x01-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** One file written to its temporary name, to be renamed into place. */
interface Spooled {
  name: string;
  temp: string;
  target: string;
  size: number;
  created: boolean;
  // The written file's inode, `null` where there is none (Windows).
  ino: number | null;
}

/**
 * The line `serve --upload` prints and exits with when Deno may not write
 * the directory, or `null` when it may.
 *
 * @param directory The directory served.
 * @returns The message naming the flag, or `null`.
 */
export function writePermissionProblem(directory: string): string | null {
  return granted({ name: "write", path: directory })
    ? null
    : `--upload needs write permission to ${directory}: run deno with --allow-write=${directory}`;
}

/** `name` in the real directory `dir`. */
function inDirectory(dir: string, name: string): string {
  return dir.endsWith(SEP) ? dir + name : dir + SEP + name;
}

/**
 * A browser sends `Origin` with a POST; one from another site is a page
 * there trying to upload through the visitor's browser (CSRF), unless the
 * server lists it in `corsOrigins`. A page of this origin counts only under
 * a name that cannot be rebound to this server by someone else's DNS: an IP
 * address, `localhost`, or this machine's name.
 */
function checkOrigin(handler: SimpleHTTPRequestHandler): void {
  const origin = handler.headers.get("origin");
  if (origin === null || handler.corsOrigins.includes(origin)) return;
  let host: URL | null = null;
  try {
    const from = new URL(origin);
    const to = new URL(`http://${handler.headers.get("host")}`);
    if (from.host === to.host) host = to;
  } catch {
    // "null" or junk: not this server
  }
  if (host === null) {
    throw new HTTPError(403, "Uploads from another site are refused");
  }
  if (!unreboundName(host.hostname)) {
    throw new HTTPError(
      403,
      "Uploads from a page under a DNS name are refused",
      "Use the server's IP address or localhost, or list the page with --cors-origin",
    );
  }
}

/** An IP literal, `localhost`, or this machine's name (if it may be read). */
function unreboundName(name: string): boolean {
  if (name.startsWith("[") || /^\d+\.\d+\.\d+\.\d+$/.test(name)) return true;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  return granted({ name: "sys", kind: "hostname" }) &&
    name.toLowerCase() === Deno.hostname().toLowerCase();
}

/** Refuses a declared body over the limit before a byte of it is read. */
function checkLength(
  handler: SimpleHTTPRequestHandler,
  maxUpload: number | null,
): void {
  const length = Number(handler.headers.get("content-length") ?? 0);
  if (maxUpload !== null && length > maxUpload) {
    throw contentTooLarge("the upload is", maxUpload);
  }
}

/** The request body, with a 413 past `max` bytes (chunked bodies too). */
function limited(rfile: Reader, max: number | null): Reader {
  if (max === null) return rfile;
  let total = 0;
  return {
    async read(p: Uint8Array): Promise<number | null> {
      const n = await rfile.read(p);
      if (n !== null && (total += n) > max) {
        throw contentTooLarge("the upload is", max);
      }
      return n;
    },
  };
}

/**
 * The real path of a directory uploads may write into, as the static
 * handler would serve it: inside the root (a symlink out of it is never
 * followed for a write, whatever `followSymlinks` says), no dot-directory
 * below the root unless `showDotfiles`.
 */
function realDirectory(
  handler: SimpleHTTPRequestHandler,
  path: string,
): string {
  let root: string;
  let real: string;
  try {
    root = Deno.realPathSync(handler.translatePath("/")!);
    real = Deno.realPathSync(path);
  } catch {
    throw new HTTPError(404, "No such directory");
  }
  if (!isInside(real, root)) {
    throw new HTTPError(403, "That directory is outside the served one");
  }
  const below = SEP + real.slice(root.length);
  if (!handler.showDotfiles && below.includes(SEP + ".")) {
    throw new HTTPError(403, "Hidden directories are not written to");
  }
  if (!Deno.statSync(real).isDirectory) {
    throw new HTTPError(409, "Not a directory");
  }
  return real;
}

/**
 * Checks what `target` is now: the file a write will replace, or `null`
 * when it will be created; a 409 for a directory, a symlink or another
 * special file, or for a file without `overwrite`.
 */
function fileToReplace(
  handler: SimpleHTTPRequestHandler,
  target: string,
  overwrite: boolean,
): Deno.FileInfo | null {
  if (handler[NOT_SERVED](target)) {
    throw new HTTPError(403, "That name is not written to");
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(target);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw fsError(handler, error);
  }
  if (!info.isFile) {
    throw new HTTPError(409, "A directory or special file has that name");
  }
  if (!overwrite) throw new HTTPError(409, "The file exists");
  return info;
}

/**
 * A 412 unless the request's preconditions hold for `file` as stored, or
 * for no file (`null`): its ETag is the one a GET of it answers with.
 * Checked after fileToReplace(), whose 403 and 409 come first (RFC 9110
 * §13.2.1).
 */
function checkPreconditions(
  handler: SimpleHTTPRequestHandler,
  file: Deno.FileInfo | null,
): void {
  const current = file === null
    ? null
    : { etag: etagOf(file), mtime: mtimeOf(file) };
  if (preconditions(handler.headers, handler.command, current) !== 200) {
    throw new HTTPError(412, "Precondition Failed");
  }
}

/** File system errors as the status that answers them. */
function fsError(handler: SimpleHTTPRequestHandler, error: unknown): unknown {
  if (error instanceof HTTPError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new HTTPError(507, "Insufficient Storage");
  }
  // 400, not 414: the URI is not too long to read, the name is too long to
  // store, and a POST's file names are not in the URI at all.
  if (code === "ENAMETOOLONG") {
    return new HTTPError(400, "The name is longer than the file system allows");
  }
  if (error instanceof Deno.errors.NotCapable) {
    handler.logError(
      "no permission to write: run deno with --allow-write=%s",
      handler.directory,
    );
    return new HTTPError(500, "The server may not write its directory");
  }
  if (error instanceof Deno.errors.PermissionDenied || code === "EROFS") {
    return new HTTPError(403, "The directory is not writable");
  }
  return error;
}

// The temporary name of a file being uploaded (see spool()).
const TEMP_NAME = /^\.upload-[0-9a-f-]{36}\.part$/;

/**
 * Whether `name` is a file still being uploaded: listings leave it out,
 * with `--dotfiles` too.
 *
 * @param name A file name.
 * @returns `true` for a temporary upload name.
 */
export function isUploadTemp(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** Removes temporary files, as far as it can. */
function removeAll(paths: string[]): void {
  for (const path of paths) {
    try {
      Deno.removeSync(path);
    } catch {
      // gone already
    }
  }
}

/**
 * Copies `source` to a new temporary dotfile in `dir`, opened with O_EXCL
 * (`createNew`: never an existing file, never through a symlink); removes
 * it on failure.
 *
 * @returns Its path and the byte count.
 */
async function spool(
  handler: SimpleHTTPRequestHandler,
  source: Reader,
  dir: string,
): Promise<{ temp: string; size: number; ino: number | null }> {
  const temp = inDirectory(dir, `.upload-${crypto.randomUUID()}.part`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true, mode: 0o644 });
  } catch (error) {
    throw fsError(handler, error);
  }
  const pool = handler.server[SERVER_STATE].pool;
  const buffer = pool.take(COPY_BUFFER);
  try {
    let size = 0;
    let ino: number | null;
    try {
      while (true) {
        const n = await source.read(buffer);
        if (n === null) break;
        for (let at = 0; at < n;) {
          at += await file.write(buffer.subarray(at, n));
        }
        size += n;
      }
      ino = (await file.stat()).ino;
    } finally {
      file.close();
    }
    // A directory on the way swapped for a symlink while the file was
    // written would have put it elsewhere.
    if (Deno.realPathSync(temp) !== temp) {
      throw new HTTPError(409, "The directory changed during the upload");
    }
    return { temp, size, ino };
  } catch (error) {
    removeAll([temp]);
    throw fsError(handler, error);
  } finally {
    pool.release(buffer);
  }
}

/**
 * Puts a spooled file in place: renamed over the old one with `overwrite`,
 * else hard-linked, which fails rather than replace a file that appeared
 * meanwhile (the temporary name is then the caller's to remove).
 */
function commit(file: Spooled, overwrite: boolean): void {
  if (!overwrite) {
    try {
      Deno.linkSync(file.temp, file.target);
      return;
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new HTTPError(409, "The file exists");
      }
      // No hard links on this file system: a last look, then rename.
      let exists = true;
      try {
        Deno.lstatSync(file.target);
      } catch {
        exists = false;
      }
      if (exists) throw new HTTPError(409, "The file exists");
    }
  }
  try {
    Deno.renameSync(file.temp, file.target);
  } catch (error) {
    if (
      error instanceof Deno.errors.IsADirectory ||
      (error as { code?: unknown }).code === "ENOTEMPTY"
    ) {
      throw new HTTPError(409, "A directory has that name");
    }
    throw error;
  }
}

/**
 * Puts every file in place, or none: when one cannot be (a file of its
 * name appeared meanwhile), those this request created before it are
 * removed again. A file replaced with `overwrite` cannot be brought back,
 * so every target is checked once more first, just before.
 */
function commitAll(
  handler: SimpleHTTPRequestHandler,
  files: Spooled[],
  overwrite: boolean,
): void {
  if (overwrite) {
    for (const file of files) fileToReplace(handler, file.target, true);
  }
  let done = 0;
  try {
    for (; done < files.length; done++) commit(files[done], overwrite);
  } catch (error) {
    for (const file of files.slice(0, done)) {
      if (!file.created || file.ino === null) continue;
      try {
        // Only the file this request wrote, not one put there since.
        if (Deno.lstatSync(file.target).ino === file.ino) {
          Deno.removeSync(file.target);
        }
      } catch {
        // Gone already.
      }
    }
    throw error;
  }
  removeAll(files.map((file) => file.temp)); // the names linked from
}

/** A 400 for a file name with a control or reordering character. */
function checkShown(name: string): void {
  if (HIDDEN_CHARACTERS.test(name)) {
    throw new HTTPError(
      400,
      "A file name must not hold control or bidirectional characters",
    );
  }
}

/** The request-target's path, still percent-encoded, without the query. */
function urlPath(handler: SimpleHTTPRequestHandler): string {
  const target = handler.path.replace(ABSOLUTE_FORM, "");
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/**
 * `PUT /path`: writes the body to that file. 201 when it is created, 204
 * when it replaces a file (with `overwrite`), 409 when a file or directory
 * is there, 412 when a precondition fails; the path is checked as the
 * static handler checks it, and a `..` in it is refused.
 *
 * @param handler The handler of the request.
 * @param options What uploads may do.
 */
export async function putFile(
  handler: SimpleHTTPRequestHandler,
  options: UploadOptions,
): Promise<void> {
  const { overwrite = false, maxUpload = null } = options;
  checkOrigin(handler);
  checkLength(handler, maxUpload);
  // RFC 9110 §14.5: a partial PUT would be taken for the whole file.
  if (handler.headers.has("content-range")) {
    throw new HTTPError(400, "Content-Range is not accepted with PUT");
  }
  // If-None-Match: * asks to create only (RFC 9110 §13.1.2): committed by
  // hard link, so that a file appearing at the last moment is kept.
  const onlyCreate = handler.headers.get("if-none-match")?.trim() === "*";
  const raw = urlPath(handler);
  const decoded = decodePath(raw);
  if (decoded === null || decoded.split("/").includes("..")) {
    throw new HTTPError(403, "A path with .. is not written to");
  }
  if (decoded.endsWith("/")) {
    throw new HTTPError(409, "A directory is not a file to write");
  }
  const path = handler.translatePath(handler.path);
  if (path === null) throw new HTTPError(403, "That name is not written to");
  const cut = path.lastIndexOf(SEP);
  const name = path.slice(cut + 1);
  checkShown(name); // the new name, as a POST checks its files'
  const dir = realDirectory(handler, path.slice(0, cut) || SEP);
  const target = inDirectory(dir, name);
  // Before the body is read, and again once it is: the file may change
  // while it comes.
  checkPreconditions(
    handler,
    fileToReplace(handler, target, overwrite),
  );
  const { temp, size, ino } = await spool(
    handler,
    limited(handler.rfile, maxUpload),
    dir,
  );
  let created: boolean;
  try {
    const replaced = fileToReplace(handler, target, overwrite);
    checkPreconditions(handler, replaced);
    created = replaced === null;
    commit(
      { name, temp, target, size, created, ino },
      overwrite && !onlyCreate,
    );
    removeAll([temp]); // the name it was linked from
  } catch (error) {
    removeAll([temp]);
    throw fsError(handler, error);
  }
  handler.sendResponse(created ? 201 : 204);
  if (created) {
    handler.sendHeader("Location", raw);
    handler.sendHeader("Content-Length", "0");
  }
  await handler.endHeaders();
}

/** The name a file part is saved under, or `null` when no file was chosen. */
function partName(
  handler: SimpleHTTPRequestHandler,
  part: MultipartPart,
): string | null {
  const name = part.filename!;
  if (part.rawFilename !== name) {
    throw new HTTPError(400, "A file name must not hold a path");
  }
  if (name === "") return null;
  // Checked as a request path is: dotfiles, NUL, "..", and on Windows the
  // drive and stream characters (not its device names, such as CON).
  const path = handler.translatePath("/" + encodeURIComponent(name));
  if (path === null || !path.endsWith(SEP + name)) {
    throw new HTTPError(403, "That file name is refused");
  }
  checkShown(name);
  return name;
}

/**
 * `POST` of `multipart/form-data` to a directory: saves each file part
 * there under its file name (fields are ignored), all or nothing: the files
 * are renamed into place only once the whole body has been read. Answers
 * 201 when a file was created, else 200, with a summary in JSON when the
 * client accepts `application/json`, else in HTML.
 *
 * @param handler The handler of the request.
 * @param options What uploads may do.
 */
export async function postFiles(
  handler: SimpleHTTPRequestHandler,
  options: UploadOptions,
): Promise<void> {
  const { overwrite = false, maxUpload = null } = options;
  checkOrigin(handler);
  checkLength(handler, maxUpload);
  const path = handler.translatePath(handler.path);
  if (path === null) throw new HTTPError(403, "That name is not written to");
  const dir = realDirectory(handler, path);
  const files: Spooled[] = [];
  const type = handler.headers.get("content-type") ?? "";
  try {
    const body = limited(handler.rfile, maxUpload);
    for await (const part of parseMultipart(body, type)) {
      if (part.filename === null) continue; // a field
      const name = partName(handler, part);
      if (name === null) continue;
      const earlier = files.findIndex((file) => file.name === name);
      if (earlier >= 0 && !overwrite) {
        throw new HTTPError(409, "Two files have the same name");
      }
      const target = inDirectory(dir, name);
      const replaced = fileToReplace(handler, target, overwrite);
      const { temp, size, ino } = await spool(handler, part, dir);
      // A later file of the name replaces the earlier, as it would on disk:
      // one file, listed once.
      if (earlier >= 0) removeAll(files.splice(earlier, 1).map((f) => f.temp));
      files.push({ name, temp, target, size, created: replaced === null, ino });
    }
    if (files.length === 0) throw new HTTPError(400, "No file in the form");
    commitAll(handler, files, overwrite);
  } catch (error) {
    removeAll(files.map((file) => file.temp));
    throw fsError(handler, error);
  }
  await sendSummary(handler, files);
}

async function sendSummary(
  handler: SimpleHTTPRequestHandler,
  files: Spooled[],
): Promise<void> {
  const accept = handler.headers.getAll("accept");
  const json = mediaQuality(accept, "application/json") >
    mediaQuality(accept, "text/html");
  // Re-encoded from the decoded path, each segment whole: no quote can end
  // an attribute, and a "#" or "?" in a name stays in the path.
  let base = (decodePath(urlPath(handler)) ?? "/").split("/").map(
    encodeURIComponent,
  ).join("/");
  if (!base.endsWith("/")) base += "/";
  const saved = files.map(({ name, size, created }) => ({
    name,
    size,
    created,
  }));
  let text: string;
  if (json) {
    text = JSON.stringify({ files: saved }) + "\n";
  } else {
    const items = saved.map(({ name, size }) =>
      `<li><a href="${htmlEscape(base + encodeURIComponent(name))}">${
        htmlEscape(name)
      }</a> (${size} bytes)</li>`
    );
    text = [
      "<!DOCTYPE HTML>",
      '<html lang="en">',
      '<head><meta charset="utf-8">',
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      "<title>Upload complete</title></head>",
      "<body>",
      `<h1>Uploaded ${saved.length} file${saved.length === 1 ? "" : "s"}</h1>`,
      `<ul>${items.join("")}</ul>`,
      `<p><a href="${htmlEscape(base)}">Back to the listing</a></p>`,
      "</body>",
      "</html>",
      "",
    ].join("\n");
  }
  const bytes = encoder.encode(text);
  handler.sendResponse(files.some((file) => file.created) ? 201 : 200);
  handler.sendHeader(
    "Content-Type",
    json ? "application/json" : "text/html; charset=utf-8",
  );
  handler.sendHeader("Content-Length", String(bytes.length));
  await handler.endHeaders();
  await handler.wfile.write(bytes);
}

/**
 * The upload form for a directory listing: several files at once, sent by
 * XMLHttpRequest so that the page shows progress, then reloaded to list
 * them. Without script, the form posts and the summary page links back.
 *
 * @returns HTML for the listing's body.
 */
export function uploadFormHtml(): string {
  return `<form id="upload" method="post" enctype="multipart/form-data" style="display:flex;flex-wrap:wrap;gap:0.5em;align-items:center;margin:1em 0">
<input type="file" name="file" multiple required aria-label="Files to upload" style="max-width:100%">
<button type="submit">Upload</button>
<progress value="0" max="1" hidden aria-label="Upload progress"></progress>
<output role="status"></output>
</form>
<script>
(() => {
  const form = document.getElementById("upload");
  const bar = form.querySelector("progress");
  const status = form.querySelector("output");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", location.pathname);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      status.textContent = Math.floor((100 * e.loaded) / e.total) + "%";
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        status.textContent = "Uploaded";
        location.reload();
      } else {
        status.textContent = "Upload failed: " + xhr.status + " " + xhr.statusText;
      }
    };
    xhr.onerror = () => {
      status.textContent = "Upload failed: the connection was lost";
    };
    bar.hidden = false;
    status.textContent = "0%";
    xhr.send(new FormData(form));
  });
})();
</script>`;
}
