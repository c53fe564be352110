// Copyright 2026 the basehttp authors. MIT license.
/**
 * A web `Response` from a status, fields and a body, for the testing and
 * fetch modules.
 *
 * @module
 */

/** Statuses whose Response may have no body at all. */
export const NULL_BODY: ReadonlySet<number> = new Set([
  101,
  103,
  204,
  205,
  304,
]);

/** What a response is made from. */
interface ResponseParts {
  /** The status code, 200 to 599. */
  status: number;
  /** The reason phrase (a test response's). */
  reason?: string;
  /** The reason phrase (a fetch response's). */
  statusText?: string;
  /** The fields, in order. */
  headers: Iterable<[string, string]>;
}

/**
 * Makes a web `Response`.
 *
 * @param parts The status and fields.
 * @param body The body; dropped for a status that has none.
 * @param skip Lower-case names of fields to leave out.
 * @returns The response.
 */
export function toWebResponse(
  parts: ResponseParts,
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null,
  skip?: ReadonlySet<string>,
): Response {
  const headers = new Headers();
  for (const [name, value] of parts.headers) {
    if (skip === undefined || !skip.has(name.toLowerCase())) {
      headers.append(name, value);
    }
  }
  return new Response(NULL_BODY.has(parts.status) ? null : body, {
    status: parts.status,
    statusText: parts.reason ?? parts.statusText ?? "",
    headers,
  });
}
