// Copyright 2026 the basehttp authors. MIT license.
// Promises the library hands out, and those an async override hands it: a
// caller who forgot to await one cannot make its failure an unhandled
// rejection (which ends a Deno process, and with it every connection the
// server holds).

const ignore = (): void => {};

/**
 * The promise of work already done: one for the whole library, as it never
 * rejects and holds no value (a promise made for each costs one more).
 */
export const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Marks a promise handled, so that a caller who forgot to await it cannot
 * make it an unhandled rejection; one who awaits it still sees the error.
 */
export function handled<T>(promise: Promise<T>): Promise<T> {
  // A catch on a settled promise is a job of its own, for each call.
  if (promise !== RESOLVED) promise.catch(ignore);
  return promise;
}

/**
 * What an override typed `void` returned: a promise (an async override) is
 * watched, and its failure printed, never an unhandled rejection.
 */
export function watched(result: unknown, what: string): void {
  if (result instanceof Promise) {
    result.catch((error) => console.error(`Exception in ${what}:`, error));
  }
}
