// Copyright 2026 the basehttp authors. MIT license.
/**
 * What a fetch client does over any way of sending one request: the
 * request made from `fetch`'s arguments, redirects followed (the method
 * rewrite, bodies that cannot be sent again, credentials kept to their
 * origin), content codings decoded, and `url` and `redirected` set. The
 * testing module's `fetch()` sends each request over an in-memory
 * connection.
 *
 * @module
 */

import type { HTTPMessage } from "./parser.ts";
import { splitTokens } from "./_text.ts";

// Statuses fetch follows when there is a Location.
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
// Fields dropped with the body when a redirect makes the request a GET.
const REQUEST_BODY_FIELDS = [
  "content-encoding",
  "content-language",
  "content-location",
  "content-type",
];
// Fields not sent on to another origin by a redirect.
const CREDENTIAL_FIELDS = ["authorization", "cookie", "host"];

/** Whether a fetch body given is a stream (sent as it comes, once). */
function isStream(body: BodyInit | null | undefined): boolean {
  return body instanceof ReadableStream ||
    (typeof body === "object" && body !== null && Symbol.asyncIterator in body);
}

/**
 * `response` with what fetch sets and a made one cannot: its URL (without
 * the fragment) and whether it was redirected, kept by `clone()` too.
 */
function fetched(response: Response, url: URL, redirected: boolean): Response {
  const shown = new URL(url);
  shown.hash = "";
  Object.defineProperties(response, {
    url: { value: shown.href },
    redirected: { value: redirected },
    clone: {
      value: () =>
        fetched(Response.prototype.clone.call(response), url, redirected),
    },
  });
  return response;
}

// The content codings fetch decodes, as DecompressionStream names them.
const DECODERS = new Map<string, CompressionFormat>([
  ["gzip", "gzip"],
  ["x-gzip", "gzip"],
  ["deflate", "deflate"],
  ["br", "brotli" as CompressionFormat],
]);

/**
 * `body` decoded from its `Content-Encoding`, as fetch gives it (the fields
 * stay); as it is when a coding is not one fetch knows.
 */
export function decoded(
  body: ReadableStream<Uint8Array>,
  headers: HTTPMessage,
): ReadableStream<Uint8Array> {
  const codings = splitTokens(headers.getAll("content-encoding"))
    .filter((c) => c !== "identity");
  // An empty body is empty, as Deno's fetch gives it, not a corrupt stream.
  const empty = headers.get("content-length")?.trim() === "0";
  if (empty || !codings.every((c) => DECODERS.has(c))) return body;
  // Applied in order, so undone from the last.
  for (const coding of codings.reverse()) {
    const decoder = new DecompressionStream(DECODERS.get(coding)!);
    body = body.pipeThrough(
      decoder as unknown as TransformStream<Uint8Array, Uint8Array>,
    );
  }
  return body;
}

/** One request, as {@linkcode fetchFollowing} hands it to its sender. */
export interface OneRequest {
  /** The method. */
  method: string;
  /** The URL: its origin is the `Host`, unless `headers` has one. */
  url: URL;
  /** The fields. */
  headers: Headers;
  /** Bytes to send with their length, a stream to send as it comes, or none. */
  body: Uint8Array | ReadableStream<Uint8Array> | undefined;
  /** Aborts the request. */
  signal: AbortSignal;
}

/**
 * Makes a request as `fetch` does and sends it with `once`, following
 * redirects as the fetch standard says.
 *
 * @param input A path (resolved against `http://localhost`), a URL or a
 *   `Request`.
 * @param init As for `fetch`.
 * @param once Sends one request and resolves at its response's head.
 * @returns The final response, with its `url` and `redirected`.
 */
export async function fetchFollowing(
  input: string | URL | Request,
  init: RequestInit | undefined,
  once: (request: OneRequest) => Promise<Response>,
): Promise<Response> {
  const request = new Request(
    typeof input === "string" ? new URL(input, "http://localhost") : input,
    init,
  );
  const { signal, redirect } = request;
  let { method } = request;
  let url = new URL(request.url);
  const headers = new Headers(request.headers);
  // A stream the caller gave goes out as it comes, and only once; any
  // other body is read whole, to be sent again on a redirect.
  let body: Uint8Array | ReadableStream<Uint8Array> | undefined;
  if (request.body !== null) {
    body = isStream(init?.body)
      ? request.body
      : new Uint8Array(await request.arrayBuffer());
  } else if (method === "POST" || method === "PUT") {
    body = new Uint8Array(0); // Content-Length: 0, as fetch sends
  }
  for (let redirects = 0;; redirects++) {
    const response = await once({ method, url, headers, body, signal });
    const location = response.headers.get("location");
    if (
      !REDIRECTS.has(response.status) || location === null ||
      redirect === "manual"
    ) {
      return fetched(response, url, redirects > 0);
    }
    await response.body?.cancel();
    if (redirect === "error") {
      throw new TypeError(
        `Redirected to ${location}, and redirect is "error"`,
      );
    }
    if (redirects === 20) throw new TypeError("More than 20 redirects");
    const next = new URL(location, url);
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      throw new TypeError(
        `Cannot redirect to ${next.protocol} (${location})`,
      );
    }
    // The fetch standard's rewrite of a POST (any method for 303) to GET.
    const status = response.status;
    if (
      (status === 303 && method !== "HEAD") ||
      ((status === 301 || status === 302) && method === "POST")
    ) {
      method = "GET";
      body = undefined;
      for (const name of REQUEST_BODY_FIELDS) headers.delete(name);
    } else if (body instanceof ReadableStream) {
      throw new TypeError(
        `Cannot send a stream body again to ${location} (a ${status})`,
      );
    }
    if (next.origin !== url.origin) {
      for (const name of CREDENTIAL_FIELDS) headers.delete(name);
    }
    // The fragment stays unless the Location has its own.
    if (next.hash === "") next.hash = url.hash;
    url = next;
  }
}

/** The chunks of a stream, read through `reader` (which can cancel them). */
export async function* chunksOf(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}
