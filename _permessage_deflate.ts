// Copyright 2026 the basehttp authors. MIT license.
/**
 * permessage-deflate (RFC 7692): the negotiation, and raw deflate over
 * `node:zlib` streams flushed with `Z_SYNC_FLUSH`, so that the window is
 * kept from one message to the next (context takeover) unless a party
 * asked for it not to be. `CompressionStream` cannot flush mid-stream.
 *
 * @module
 */

import type zlib from "node:zlib";
import { WebSocketProtocolError } from "./_websocket_frame.ts";
import { concatBytes } from "./_bytes.ts";

/** What was agreed. */
interface DeflateParams {
  /** The server resets its compressor after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compressor after each message. */
  clientNoContextTakeover: boolean;
  /** The server's window, 9–15 bits. */
  serverMaxWindowBits: number;
}

/** The agreement and the response's extension value. */
interface DeflateAgreement {
  params: DeflateParams;
  response: string;
}

const TAIL = Uint8Array.of(0x00, 0x00, 0xff, 0xff);
const SYNC_FLUSH = 2; // zlib's Z_SYNC_FLUSH
const WINDOW_BITS = /^(?:[89]|1[0-5])$/;

/**
 * Accepts the first permessage-deflate offer the server can honour, from
 * the `Sec-WebSocket-Extensions` field values.
 *
 * @returns The agreement, or `null` when there is none.
 */
export function negotiateDeflate(values: string[]): DeflateAgreement | null {
  for (const value of values) {
    for (const offer of value.split(",")) {
      const agreement = acceptOffer(offer);
      if (agreement !== null) return agreement;
    }
  }
  return null;
}

function acceptOffer(offer: string): DeflateAgreement | null {
  const [name, ...parts] = offer.split(";").map((part) => part.trim());
  if (name.toLowerCase() !== "permessage-deflate") return null;
  const seen = new Set<string>();
  const params: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
  };
  let response = "permessage-deflate";
  for (const part of parts) {
    const eq = part.indexOf("=");
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const raw = eq < 0
      ? null
      : part.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
    if (seen.has(key)) return null; // a parameter twice: decline the offer
    seen.add(key);
    switch (key) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (raw !== null) return null;
        if (key === "server_no_context_takeover") {
          params.serverNoContextTakeover = true;
        } else params.clientNoContextTakeover = true;
        response += `; ${key}`;
        break;
      case "server_max_window_bits": {
        if (raw === null || !WINDOW_BITS.test(raw)) return null;
        // zlib's raw deflate has no 8-bit window (it makes it 9).
        if (raw === "8") return null;
        params.serverMaxWindowBits = Number(raw);
        response += `; server_max_window_bits=${raw}`;
        break;
      }
      case "client_max_window_bits":
        // Our inflater keeps a 15-bit window: any client window fits it.
        if (raw !== null && !WINDOW_BITS.test(raw)) return null;
        break;
      default:
        return null;
    }
  }
  return { params, response };
}

type Stream = zlib.DeflateRaw | zlib.InflateRaw;

/**
 * Writes `data` (and `tail`) to a zlib stream and collects what a sync
 * flush gives back; fails with 1009 past `limit` bytes out, and closes the
 * stream then.
 */
function run(
  stream: Stream,
  data: Uint8Array,
  tail: Uint8Array | null,
  limit: number,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let settled = false;
    const done = (error: unknown, result?: Uint8Array) => {
      if (settled) return;
      settled = true;
      stream.off("data", onData);
      stream.off("error", onError);
      if (error === null) resolve(result!);
      else reject(error);
    };
    const onData = (chunk: Uint8Array) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      done(new WebSocketProtocolError(1009, "message too big"));
      // Stopped here: a bomb would otherwise go on inflating, blocking the
      // event loop, for output that is thrown away.
      stream.close();
    };
    const onError = (error: Error) =>
      done(
        new WebSocketProtocolError(
          1007,
          `bad compressed data: ${error.message}`,
        ),
      );
    stream.on("data", onData);
    stream.on("error", onError);
    stream.write(data);
    if (tail !== null) stream.write(tail);
    stream.flush(SYNC_FLUSH, () => {
      // The callback can come before the error event of a failed stream.
      if (stream.errored) onError(stream.errored);
      else {
        // A plain view, not node's Buffer (whose slice() does not copy).
        const joined = concatBytes(chunks, size);
        done(null, new Uint8Array(joined.buffer, joined.byteOffset, size));
      }
    });
  });
}

/**
 * A stream may report one failure more than once (the write, then the
 * flush): each call listens for its own, and the rest are not uncaught.
 */
function quiet<T extends Stream>(stream: T): T {
  stream.on("error", () => {});
  return stream;
}

/**
 * The compressor of one socket. `node:zlib` is loaded here, on first use,
 * so that a server that never compresses never loads Node's compat layer.
 */
export async function createDeflate(
  params: DeflateParams,
  maxMessageSize: number,
): Promise<PerMessageDeflate> {
  const { default: zlib } = await import("node:zlib");
  return new PerMessageDeflate(zlib, params, maxMessageSize);
}

/** One socket's compressor and decompressor. */
class PerMessageDeflate {
  #zlib: typeof zlib;
  #params: DeflateParams;
  #maxMessageSize: number;
  #deflate: zlib.DeflateRaw | null = null;
  #inflate: zlib.InflateRaw | null = null;

  constructor(
    zlibModule: typeof zlib,
    params: DeflateParams,
    maxMessageSize: number,
  ) {
    this.#zlib = zlibModule;
    this.#params = params;
    this.#maxMessageSize = maxMessageSize;
  }

  /** Compresses one message's payload. */
  async compress(data: Uint8Array): Promise<Uint8Array> {
    const deflate = this.#deflate ??= quiet(this.#zlib.createDeflateRaw({
      windowBits: this.#params.serverMaxWindowBits,
    }));
    const out = await run(deflate, data, null, Infinity);
    if (this.#params.serverNoContextTakeover) deflate.reset();
    // The sync flush's empty block ends it: the frame leaves it out.
    return out.subarray(0, out.length - 4);
  }

  /** Decompresses one message's payload, up to maxMessageSize. */
  async decompress(data: Uint8Array): Promise<Uint8Array> {
    const inflate = this.#inflate ??= quiet(
      this.#zlib.createInflateRaw({ windowBits: 15 }),
    );
    const out = await run(inflate, data, TAIL, this.#maxMessageSize);
    // A message may end its DEFLATE stream (BFINAL, RFC 7692 §7.2.3.4):
    // that inflater takes no more input, and reset() does not revive it.
    if (inflate.readableEnded) {
      inflate.close();
      this.#inflate = null;
    } else if (this.#params.clientNoContextTakeover) inflate.reset();
    return out;
  }

  /** Frees the zlib streams. */
  close(): void {
    this.#deflate?.close();
    this.#inflate?.close();
    this.#deflate = this.#inflate = null;
  }
}
