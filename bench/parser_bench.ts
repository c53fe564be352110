// Copyright 2026 the basehttp authors. MIT license.
// Parser micro-benchmarks: `deno bench bench/parser_bench.ts`.
// The request is picohttpparser's bench request (703 bytes, 10 fields).
import {
  BodyReader,
  BufferedReader,
  HTTPMessage,
  parseRequestHead,
  type Reader,
} from "../parser.ts";

const encoder = new TextEncoder();

const PICO = encoder.encode(
  "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\n" +
    "Host: www.kittyhell.com\r\n" +
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n" +
    "Accept-Encoding: gzip,deflate\r\n" +
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n" +
    "Keep-Alive: 115\r\n" +
    "Connection: keep-alive\r\n" +
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n" +
    "\r\n",
);
const WRK = encoder.encode("GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n");

/** A source that repeats `bytes` forever, up to `copies` of them per read. */
function repeating(bytes: Uint8Array, copies: number): Reader {
  const block = new Uint8Array(bytes.length * copies);
  for (let i = 0; i < copies; i++) block.set(bytes, i * bytes.length);
  let at = 0;
  return {
    read(p) {
      const n = Math.min(p.length, block.length - at);
      p.set(block.subarray(at, at + n));
      at = (at + n) % block.length;
      return Promise.resolve(n);
    },
  };
}

if (PICO.length !== 703) {
  throw new Error(`expected 703 bytes, got ${PICO.length}`);
}

Deno.bench("parseRequestHead: picohttpparser request (703 B, 10 fields)", {
  group: "head",
  baseline: true,
}, () => {
  parseRequestHead(PICO);
});

Deno.bench("parseRequestHead: wrk request (40 B)", { group: "head" }, () => {
  parseRequestHead(WRK);
});

const pipelined = new BufferedReader(repeating(PICO, 16));
Deno.bench("BufferedReader.readHead: pico request, 16 per read", {
  group: "reader",
}, async () => {
  await pipelined.readHead();
});

const wrkReader = new BufferedReader(repeating(WRK, 16));
Deno.bench("BufferedReader.readHead: wrk request, 16 per read", {
  group: "reader",
}, async () => {
  const head = await wrkReader.readHead();
  new BodyReader(wrkReader, head);
});

const fields: [string, string][] = [];
for (const line of new TextDecoder().decode(PICO).split("\r\n").slice(1, 11)) {
  const colon = line.indexOf(":");
  fields.push([line.slice(0, colon), line.slice(colon + 2)]);
}
Deno.bench(
  "HTTPMessage.get: 3 lookups in 10 fields",
  { group: "fields" },
  () => {
    const m = new HTTPMessage(fields);
    m.get("host");
    m.get("connection");
    m.get("content-length");
  },
);
