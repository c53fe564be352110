// Copyright 2026 the basehttp authors. MIT license.
// The throughput ceiling for any server over Deno.Conn: no HTTP at all. It
// counts the request heads in each read (CRLFCRLF; wrk's heads come whole)
// and writes one canned response per head, one write per read, as basehttp
// does: `deno run -A deno_conn_loop.ts PORT`.
const response = new TextEncoder().encode(
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!",
);

function countHeads(bytes: Uint8Array): number {
  let heads = 0;
  for (let at = bytes.indexOf(13); at !== -1; at = bytes.indexOf(13, at + 1)) {
    if (bytes[at + 1] === 10 && bytes[at + 2] === 13 && bytes[at + 3] === 10) {
      heads++;
    }
  }
  return heads;
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(16384);
  let out = response;
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      const heads = countHeads(buf.subarray(0, n));
      if (heads === 0) continue;
      if (out.length !== heads * response.length) {
        out = new Uint8Array(heads * response.length);
        for (let i = 0; i < heads; i++) out.set(response, i * response.length);
      }
      for (let written = 0; written < out.length;) {
        written += await conn.write(out.subarray(written));
      }
    }
  } catch {
    // The client went away.
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

const listener = Deno.listen({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0]),
});
for await (const conn of listener) serve(conn);
