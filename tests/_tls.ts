// Copyright 2026 the basehttp authors. MIT license.
// A self-signed certificate for HTTPS and WSS tests, made with openssl.
import assert from "node:assert/strict";

/** Whether openssl is installed (tests that need a certificate skip if not). */
export const hasOpenssl: boolean = await Deno.stat("/usr/bin/openssl").then(
  () => true,
  () => {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null" })
      .output().then((o) => o.success, () => false);
  },
);

/** Makes a self-signed certificate for localhost and 127.0.0.1. */
export async function makeCertificate(
  dir: string,
): Promise<{ cert: string; key: string }> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-days",
      "1",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      `${dir}/key.pem`,
      "-out",
      `${dir}/cert.pem`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
}

/** Runs `use` with a new certificate's PEM texts; its folder is removed after. */
export async function withCertificate(
  use: (pem: { cert: string; key: string }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "basehttp_tls_" });
  try {
    const files = await makeCertificate(dir);
    await use({
      cert: await Deno.readTextFile(files.cert),
      key: await Deno.readTextFile(files.key),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
