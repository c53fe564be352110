// Copyright 2026 the basehttp authors. MIT license.
// A raw WebSocket client for tests: the handshake, masked (or unmasked)
// frames of any shape out, the server's frames in, byte for byte.

import assert from "node:assert/strict";
import zlib from "node:zlib";
import { writeAll } from "./_util.ts";

const encoder = new TextEncoder();

/** A frame the server sent. */
export interface ServerFrame {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  payload: Uint8Array;
  /** The header's length in bytes (the mask is never there). */
  header: number;
}

/** A raw client: the handshake, masked frames out, frames in. */
export class RawClient {
  conn: Deno.Conn;
  head = "";
  #buf = new Uint8Array(0);

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async open(port: number, extra: string[] = []): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const client = new RawClient(conn);
    await writeAll(
      conn,
      encoder.encode(
        [
          "GET / HTTP/1.1",
          "Host: 127.0.0.1",
          "Upgrade: websocket",
          "Connection: Upgrade",
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version: 13",
          ...extra,
        ].join("\r\n") + "\r\n\r\n",
      ),
    );
    while (true) {
      const text = new TextDecoder("latin1").decode(client.#buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        client.head = text.slice(0, end);
        client.#buf = client.#buf.slice(end + 4);
        break;
      }
      if (!await client.#more()) throw new Error("no handshake response");
    }
    assert.match(client.head, /^HTTP\/1\.1 101 /);
    return client;
  }

  async #more(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await this.conn.read(chunk);
    } catch {
      return false;
    }
    if (n === null) return false;
    const joined = new Uint8Array(this.#buf.length + n);
    joined.set(this.#buf);
    joined.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = joined;
    return true;
  }

  async #need(n: number): Promise<boolean> {
    while (this.#buf.length < n) if (!await this.#more()) return false;
    return true;
  }

  /** The next frame, or `null` at EOF. */
  async frame(): Promise<ServerFrame | null> {
    if (!await this.#need(2)) return null;
    const b = this.#buf;
    assert.equal(b[1] & 0x80, 0, "server frames are unmasked");
    let length = b[1] & 0x7f;
    let at = 2;
    if (length === 126) {
      await this.#need(4);
      length = (this.#buf[2] << 8) | this.#buf[3];
      at = 4;
    } else if (length === 127) {
      await this.#need(10);
      length = Number(new DataView(this.#buf.buffer).getBigUint64(2));
      at = 10;
    }
    if (!await this.#need(at + length)) return null;
    const frame = {
      fin: (this.#buf[0] & 0x80) !== 0,
      rsv1: (this.#buf[0] & 0x40) !== 0,
      opcode: this.#buf[0] & 0x0f,
      payload: this.#buf.slice(at, at + length),
      header: at,
    };
    this.#buf = this.#buf.slice(at + length);
    return frame;
  }

  /** The server's close frame's code, then EOF. */
  async closedWith(): Promise<number> {
    let frame = await this.frame();
    while (frame !== null && frame.opcode !== 0x8) frame = await this.frame();
    assert.ok(frame !== null, "a close frame");
    const code = frame.payload.length >= 2
      ? (frame.payload[0] << 8) | frame.payload[1]
      : 1005;
    assert.equal(await this.frame(), null, "EOF after the close frame");
    return code;
  }

  send(
    opcode: number,
    payload: Uint8Array | string,
    { fin = true, rsv = 0, mask = true } = {},
  ): Promise<void> {
    return writeAll(this.conn, frame(opcode, payload, { fin, rsv, mask }));
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed.
    }
  }
}

/** A client frame, masked unless `mask` is false. */
export function frame(
  opcode: number,
  data: Uint8Array | string,
  { fin = true, rsv = 0, mask = true } = {},
): Uint8Array {
  const payload = typeof data === "string" ? encoder.encode(data) : data;
  const length = payload.length;
  const ext = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + (mask ? 4 : 0) + length);
  out[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  out[1] = (mask ? 0x80 : 0) | (ext === 0 ? length : ext === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (ext === 2) view.setUint16(2, length);
  if (ext === 8) view.setBigUint64(2, BigInt(length));
  let at = 2 + ext;
  const key = Uint8Array.of(0x37, 0xfa, 0x21, 0x3d);
  if (mask) {
    out.set(key, at);
    at += 4;
  }
  for (let i = 0; i < length; i++) {
    out[at + i] = mask ? payload[i] ^ key[i & 3] : payload[i];
  }
  return out;
}

/** A close frame's payload: the code, then the reason. */
export function closePayload(code: number, reason: Uint8Array | string = "") {
  const bytes = typeof reason === "string" ? encoder.encode(reason) : reason;
  const out = new Uint8Array(2 + bytes.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(bytes, 2);
  return out;
}

/** A message compressed alone, for permessage-deflate (RFC 7692 §7.2.1). */
export function deflate(data: Uint8Array): Uint8Array {
  const out = zlib.deflateRawSync(data, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  return new Uint8Array(out.subarray(0, out.length - 4));
}

/** A message compressed alone, inflated. */
export function inflate(data: Uint8Array): Uint8Array {
  const tail = Uint8Array.of(0, 0, 0xff, 0xff);
  const joined = new Uint8Array(data.length + 4);
  joined.set(data);
  joined.set(tail, data.length);
  return new Uint8Array(
    zlib.inflateRawSync(joined, { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  );
}
