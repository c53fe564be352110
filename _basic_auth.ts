// Copyright 2026 the basehttp authors. MIT license.
// HTTP Basic authentication (RFC 7617) against a list of users, for the
// static handler's `auth`.

import { createHash, timingSafeEqual } from "node:crypto";

const encoder = new TextEncoder();

function sha256(data: Uint8Array): Uint8Array {
  return createHash("sha256").update(data).digest();
}

/** A list of users and passwords, hashed once, to check credentials against. */
export class BasicAuth {
  /** The list checked against, as given. */
  readonly users: readonly (readonly [string, string])[];
  #digests: Uint8Array[];

  constructor(users: readonly (readonly [string, string])[]) {
    this.users = users;
    this.#digests = users.map(([user, password]) =>
      sha256(encoder.encode(`${user}:${password}`))
    );
  }

  /**
   * The listed user whose Basic credentials a request carries, or `null`.
   * Digests of one length are compared whole, against every user, so the
   * time taken tells nothing of how much matched.
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
    const given = sha256(credentials);
    let user: string | null = null;
    for (let i = 0; i < this.#digests.length; i++) {
      // No early exit: every user is compared.
      if (timingSafeEqual(given, this.#digests[i])) user ??= this.users[i][0];
    }
    return user;
  }
}
