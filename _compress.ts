// Copyright 2026 the basehttp authors. MIT license.
// Compression of static files on the fly: which types are worth it, and a
// streamed copy through CompressionStream.

import type { ResponseWriter } from "./handler.ts";

/** A `CompressionStream` format and the content coding it makes. */
const CODINGS = { br: "brotli", gzip: "gzip" } as const;

/** A content coding this server makes: `br` or `gzip`. */
export type Coding = keyof typeof CODINGS;

/** Compressing pays from here on; below, the framing costs more. */
export const MIN_COMPRESSED_SIZE = 1024;

// Text, and binary formats that are not compressed already.
const COMPRESSIBLE = new Set([
  "application/javascript",
  "application/ecmascript",
  "application/x-javascript",
  "application/json",
  "application/xml",
  "application/wasm",
  "application/graphql",
  "application/sql",
  "application/toml",
  "application/yaml",
  "application/x-yaml",
  "application/x-ndjson",
  "application/x-sh",
  "application/x-csh",
  "application/x-tar",
  "application/x-font-ttf",
  "application/vnd.ms-fontobject",
  "font/ttf",
  "font/otf",
  "font/collection",
  "image/bmp",
  "image/x-icon",
  "image/vnd.microsoft.icon",
]);

/**
 * Whether a Content-Type is worth compressing: text, JSON, JavaScript,
 * XML and SVG, WebAssembly, uncompressed fonts; not images, archives or
 * `application/octet-stream`.
 */
export function isCompressible(contentType: string): boolean {
  const semi = contentType.indexOf(";");
  const type = (semi === -1 ? contentType : contentType.slice(0, semi))
    .trim().toLowerCase();
  return type.startsWith("text/") || type.endsWith("+json") ||
    type.endsWith("+xml") || COMPRESSIBLE.has(type);
}

/**
 * `bytes` compressed whole: for a body held in memory (a listing), which
 * then goes with its length.
 *
 * @param bytes The body.
 * @param coding The content coding.
 * @returns The compressed body.
 */
export function compressBytes(
  bytes: Uint8Array,
  coding: Coding,
): Promise<Uint8Array> {
  const format = CODINGS[coding] as CompressionFormat;
  const blob = new Blob([bytes as Uint8Array<ArrayBuffer>]); // not shared
  return new Response(
    blob.stream().pipeThrough(new CompressionStream(format)),
  ).bytes();
}

/**
 * Copies a file to the response through a `CompressionStream`, one
 * buffer at a time: the file is never held whole, and a slow client holds
 * back the reads. Stops without a pending read when either side fails.
 *
 * @param source The open file, read from its position to the end.
 * @param out The response writer.
 * @param coding The content coding.
 * @param chunkSize The size of one read.
 */
export async function copyCompressed(
  source: { read(p: Uint8Array): Promise<number | null> },
  out: ResponseWriter,
  coding: Coding,
  chunkSize: number,
): Promise<void> {
  // One buffer: the compressor has consumed a read once its write resolves.
  const buffer = new Uint8Array(chunkSize);
  const stream = new CompressionStream(CODINGS[coding] as CompressionFormat);
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const pump = (async () => {
    try {
      while (true) {
        const n = await source.read(buffer);
        if (n === null || n === 0) break;
        // Resolves once the compressor has consumed the bytes.
        await writer.write(buffer.subarray(0, n));
      }
      await writer.close();
    } catch (error) {
      await writer.abort(error).catch(() => {});
    }
  })();
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      await out.write(value);
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    await pump;
  }
}
