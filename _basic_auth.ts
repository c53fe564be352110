// Copyright 2026 the basehttp authors. MIT license.
// HTTP Basic authentication (RFC 7617) against a list of users, for the
// static handler's `auth`.

import { createHash, timingSafeEqual } from "node:crypto";

const encoder = new TextEncoder();
// A leading U+FEFF is part of a name, not a byte order mark.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Where a server keeps its {@linkcode BasicAuths}. */
export const BASIC_AUTH: unique symbol = Symbol("basehttp.basicAuth");
// Lists kept by their text, which a list edited in place changes, and a
// handler whose `auth` is an instance field (a new array for each
// connection) keeps.
const KEPT_LISTS = 16;

function sha256(data: Uint8Array): Uint8Array {
  return createHash("sha256").update(data).digest();
}

/** A list of users and passwords, hashed once, to check credentials against. */
export class BasicAuth {
  // The digests of `user:password` for each user name.
  #digests = new Map<string, Uint8Array[]>();
  // Compared for a name not listed, so that it takes the time a listed
  // one does.
  #unknown = sha256(crypto.getRandomValues(new Uint8Array(32)));

  constructor(users: readonly (readonly [string, string])[]) {
    for (const [user, password] of users) {
      const digest = sha256(encoder.encode(`${user}:${password}`));
      // As the name's UTF-8 decodes: a lone surrogate is sent as U+FFFD.
      const name = decoder.decode(encoder.encode(user));
      const digests = this.#digests.get(name);
      if (digests === undefined) this.#digests.set(name, [digest]);
      else digests.push(digest);
    }
  }

  /**
   * The listed user whose Basic credentials a request carries, or `null`.
   * Only the digests of the user named are compared (a user id has no
   * colon: RFC 7617 §2), each whole, so the time taken tells nothing of
   * how much of a password matched, and no more work is done for a list
   * of many users.
   *
   * @param values The request's `Authorization` field lines.
   */
  userOf(values: string[]): string | null {
    if (values.length !== 1) return null;
    const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(values[0]);
    if (match === null) return null;
    let credentials: Uint8Array;
    try {
      credentials = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
    } catch {
      return null; // not base64
    }
    const colon = credentials.indexOf(0x3a);
    if (colon === -1) return null;
    const user = decoder.decode(credentials.subarray(0, colon));
    const given = sha256(credentials);
    let found = false;
    for (const digest of this.#digests.get(user) ?? [this.#unknown]) {
      // No early exit: every password of the user is compared.
      if (timingSafeEqual(given, digest)) found = true;
    }
    return found ? user : null;
  }
}

/**
 * A server's BasicAuth for each `auth` list its handlers use, by the list's
 * text: a list is hashed once per server, not once per connection, which
 * for a list of many users would make every connection cost the whole
 * list; an edit of it shows from the next connection on.
 */
export class BasicAuths {
  #byText = new Map<string, BasicAuth>();

  /** The BasicAuth of `users`, made on first use. */
  of(users: readonly (readonly [string, string])[]): BasicAuth {
    const text = JSON.stringify(users);
    let auth = this.#byText.get(text);
    if (auth === undefined) {
      if (this.#byText.size >= KEPT_LISTS) this.#byText.clear();
      this.#byText.set(text, auth = new BasicAuth(users));
    }
    return auth;
  }
}
