// Copyright 2026 the basehttp authors. MIT license.
// Follows a handler that writes its own chunked coding (Python's way). To
// HTTP/1.1 the engine passes those bytes as written, and only a body that
// ends at its last chunk and trailer section, no byte short or over, leaves
// a connection on which the next response can be found (RFC 9112 §7.1). A
// client without chunks gets their data only (§6.1).

import { CR, LF } from "./_bytes.ts";

const SIZE = 0; // hex digits of a chunk size
const EXTENSION = 1; // after ';', to the line's CR
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER_START = 6; // a trailer line, or the CR of the empty one
const TRAILER = 7; // to the line's CR
const TRAILER_LF = 8;
const END_LF = 9;
const ENDED = 10;
const BROKEN = 11;

function hexValue(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48; // 0-9
  const lower = byte | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87; // a-f
  return -1;
}

/**
 * Follows a chunked body as it is written, to tell whether it ended, and
 * where its data is.
 */
export class ChunkedEnd {
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #left = 0;

  /** Whether the bytes so far are a whole chunked body, and no more. */
  get ended(): boolean {
    return this.#state === ENDED;
  }

  /**
   * Takes the next bytes of the body; `data`, when given, gets the pieces of
   * chunk data among them. Returns how many of them are the body's: all but
   * a byte that breaks it (one after its end, too) and the rest.
   */
  feed(bytes: Uint8Array, data?: Uint8Array[]): number {
    if (this.#state === BROKEN) return 0;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      switch (this.#state) {
        case SIZE: {
          const digit = hexValue(byte);
          if (digit >= 0 && this.#size < 2 ** 48) {
            this.#size = this.#size * 16 + digit;
            this.#digits++;
          } else if (this.#digits > 0 && (byte === 59 || byte === CR)) {
            this.#state = byte === CR ? SIZE_LF : EXTENSION; // 59 is ';'
          } else this.#state = BROKEN;
          break;
        }
        case EXTENSION: // a bare LF could end the line for a lax client
          if (byte === CR) this.#state = SIZE_LF;
          else if (byte === LF) this.#state = BROKEN;
          break;
        case SIZE_LF:
          if (byte !== LF) this.#state = BROKEN;
          else if (this.#size === 0) this.#state = TRAILER_START;
          else {
            this.#left = this.#size;
            this.#state = DATA;
          }
          break;
        case DATA: {
          const taken = Math.min(this.#left, bytes.length - i);
          data?.push(bytes.subarray(i, i + taken));
          this.#left -= taken;
          i += taken - 1;
          if (this.#left === 0) this.#state = DATA_CR;
          break;
        }
        case DATA_CR:
          this.#state = byte === CR ? DATA_LF : BROKEN;
          break;
        case DATA_LF:
          this.#state = byte === LF ? SIZE : BROKEN;
          this.#size = this.#digits = 0;
          break;
        case TRAILER_START:
          this.#state = byte === CR ? END_LF : byte === LF ? BROKEN : TRAILER;
          break;
        case TRAILER:
          if (byte === CR) this.#state = TRAILER_LF;
          else if (byte === LF) this.#state = BROKEN;
          break;
        case TRAILER_LF:
          this.#state = byte === LF ? TRAILER_START : BROKEN;
          break;
        case END_LF:
          this.#state = byte === LF ? ENDED : BROKEN;
          break;
        default: // a byte after the end
          this.#state = BROKEN;
      }
      if (this.#state === BROKEN) return i;
    }
    return bytes.length;
  }
}
