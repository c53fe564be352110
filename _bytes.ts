// Copyright 2026 the basehttp authors. MIT license.
/**
 * Byte helpers shared by the modules: joining parts, writing all of a
 * buffer to a connection.
 *
 * @module
 */

/**
 * Joins byte arrays into one; a single part is returned as it is.
 *
 * @param parts The parts, in order.
 * @param size Their total length, when the caller counted it.
 * @returns The bytes.
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  size: number = parts.reduce((n, part) => n + part.length, 0),
): Uint8Array<ArrayBuffer> {
  if (parts.length === 1 && parts[0].buffer instanceof ArrayBuffer) {
    return parts[0] as Uint8Array<ArrayBuffer>;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Writes all of `data`: a socket write may take only part of it.
 *
 * @param conn Where to write.
 * @param data The bytes.
 */
export async function writeAll(
  conn: { write(p: Uint8Array): Promise<number> },
  data: Uint8Array,
): Promise<void> {
  for (let n = 0; n < data.length;) n += await conn.write(data.subarray(n));
}
