// Copyright 2026 the basehttp authors. MIT license.
// Asks whether Deno grants a permission, never prompting: a prompt would
// block the server on a terminal nobody watches.

/**
 * Whether `descriptor` is granted; `false` where the runtime cannot be asked
 * synchronously.
 */
export function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync?.(descriptor).state === "granted";
}
