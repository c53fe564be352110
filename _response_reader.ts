// Copyright 2026 the basehttp authors. MIT license.
/**
 * Reads HTTP/1.x responses off a connection, as a client does: the status
 * line and fields, then the body by its framing (none for 1xx, 204, 304 and
 * a HEAD request; chunked; Content-Length; else up to the close). Used by
 * the testing module, which splits what a server wrote, and by the fetch
 * interop, which streams a handler's response into a web `Response`.
 *
 * @module
 */

import {
  BodyReader,
  BufferedReader,
  DEFAULT_LIMITS,
  HTTPMessage,
  type Reader,
  type RequestLimits,
} from "./parser.ts";
import { parseField } from "./_head.ts";
import { concatBytes } from "./_bytes.ts";

/** The head of one response. */
export interface ResponseHead {
  /** The version token, such as `HTTP/1.1`. */
  version: string;
  /** The status code. */
  status: number;
  /** The reason phrase, maybe empty. */
  reason: string;
  /** The fields, in wire order and case. */
  headers: HTTPMessage;
}

/** What a body is read with: bytes until `null`. */
export interface BodyBytes {
  /** Reads body bytes into `p`; `null` at the end of the body. */
  read(p: Uint8Array): Promise<number | null>;
}

// A client's limits are its own: a response may be larger than a request.
const RESPONSE_LIMITS: Readonly<RequestLimits> = Object.freeze({
  ...DEFAULT_LIMITS,
  maxHeaderLine: 1 << 20,
  maxTrailerBytes: 1 << 20,
  maxBodySize: null,
  maxStreamedBodySize: null,
});
const STATUS_LINE = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/;
const NO_BODY: BodyBytes = { read: () => Promise.resolve(null) };

/** A malformed response. */
class ResponseError extends Error {
  override name = "ResponseError";
}

/** Reads responses one after another from a byte source. */
export class ResponseReader {
  #reader: BufferedReader;
  #taken = 0;

  /** @param source Where the response bytes come from. */
  constructor(source: Reader) {
    this.#reader = new BufferedReader({
      read: (p) =>
        source.read(p).then((n) => {
          if (n !== null) this.#taken += n;
          return n;
        }),
    });
  }

  /** Bytes of the source consumed by the responses read so far. */
  get consumed(): number {
    return this.#taken - this.#reader.buffered;
  }

  /**
   * Reads the next head.
   *
   * @returns The head, or `null` at the end of the source before any byte.
   * @throws {ResponseError} When the bytes are not a response head.
   */
  async readHead(): Promise<ResponseHead | null> {
    const reader = this.#reader;
    if (reader.buffered === 0 && !(await reader.fill())) return null;
    const line = await this.#line("status line");
    const match = STATUS_LINE.exec(line);
    if (match === null) {
      throw new ResponseError(`Not a status line: ${JSON.stringify(line)}`);
    }
    const fields: [string, string][] = [];
    for (;;) {
      const field = await this.#line("header field");
      if (field === "") break;
      try {
        fields.push(parseField(field));
      } catch {
        throw new ResponseError(`Bad field line: ${JSON.stringify(field)}`);
      }
    }
    return {
      version: match[1],
      status: Number(match[2]),
      reason: match[3] ?? "",
      headers: new HTTPMessage(fields),
    };
  }

  async #line(what: string): Promise<string> {
    try {
      return await this.#reader.readLine(RESPONSE_LIMITS.maxHeaderLine, what);
    } catch (error) {
      throw new ResponseError(`Cut off in the ${what}`, { cause: error });
    }
  }

  /**
   * The body of the response whose head was read last.
   *
   * @param head That head.
   * @param requestWasHead Whether it answers a HEAD request.
   * @returns The body's bytes, decoded if chunked.
   * @throws {ResponseError} When the framing fields are invalid.
   */
  body(head: ResponseHead, requestWasHead: boolean): BodyBytes {
    const { status, headers } = head;
    if (
      status < 200 || status === 204 || status === 304 || requestWasHead
    ) return NO_BODY;
    const codings = headers.getAll("transfer-encoding").join(",")
      .toLowerCase().split(",").map((t) => t.trim()).filter((t) => t !== "");
    if (codings.at(-1) === "chunked") {
      return new BodyReader(this.#reader, {
        chunked: true,
        contentLength: null,
      }, RESPONSE_LIMITS);
    }
    const lengths = headers.getAll("content-length");
    if (lengths.length > 0 && codings.length === 0) {
      const values = new Set(lengths.join(",").split(",").map((v) => v.trim()));
      const [value] = values;
      if (values.size !== 1 || !/^\d+$/.test(value)) {
        throw new ResponseError(`Bad Content-Length: ${lengths.join(", ")}`);
      }
      return new BodyReader(this.#reader, {
        chunked: false,
        contentLength: Number(value),
      }, RESPONSE_LIMITS);
    }
    // Delimited by the close.
    const reader = this.#reader;
    return { read: (p) => reader.readInto(p, p.length) };
  }
}

/** How a {@linkcode bodyStream} ends; each hook may be async. */
export interface BodyStreamEnds {
  /** At the body's end: `undefined` closes the stream, an error fails it. */
  end(): unknown;
  /** A read failed with `error`: the error to fail the stream with. */
  fail(error: unknown): unknown;
  /** The stream's reader cancelled it. */
  cancel(): void | Promise<void>;
}

/**
 * A body as a web byte stream, read as it is pulled.
 *
 * @param body The body.
 * @param ends What to do, and how the stream ends, at each way out.
 * @returns The stream.
 */
export function bodyStream(
  body: BodyBytes,
  ends: BodyStreamEnds,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = new Uint8Array(65536);
      let n;
      try {
        n = await body.read(buf);
      } catch (error) {
        return controller.error(await ends.fail(error));
      }
      if (n !== null) return controller.enqueue(buf.subarray(0, n));
      const error = await ends.end();
      if (error === undefined) controller.close();
      else controller.error(error);
    },
    cancel: () => ends.cancel(),
  });
}

/**
 * Reads a body to its end.
 *
 * @param body The body.
 * @returns Its bytes.
 */
export async function readBody(
  body: BodyBytes,
): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const buf = new Uint8Array(16384);
    const n = await body.read(buf);
    if (n === null) return concatBytes(parts);
    parts.push(buf.subarray(0, n));
  }
}
