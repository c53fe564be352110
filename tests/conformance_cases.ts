// Copyright 2026 the basehttp authors. MIT license.
// The conformance table: raw request bytes and what must come of them. Each
// case is sent on a fresh connection, followed by a pipelined probe request
// with `Connection: close`; the probe is answered exactly when the
// connection stays open after the case. Cases come from RFC 9110 / 9112 and
// from what has broken other servers (request smuggling: CL.TE, TE.CL,
// TE.TE obfuscation, duplicate Content-Length, number parsing tricks).
//
// Decisions this table records (where the RFCs leave a choice):
// - A bare LF ends a line in the head (RFC 9112 §2.2 MAY), so it can never
//   be inside a value; chunk framing and trailers need CRLF.
// - HTTP/1.x with x > 1 is served as HTTP/1.1 (RFC 9110 §2.5 SHOULD); any
//   other major version is 505, including the HTTP/2 preface.
// - Content-Length lists of equal values are accepted (RFC 9110 §8.6 MAY);
//   an empty list element is not.
// - The request-target is checked for its form and for visible ASCII, not
//   for full URI syntax: `#`, `<`, `"` and bad %-escapes reach the handler.
// - Transfer codings other than chunked are 501 (we decode none); a
//   malformed list is 400.
// - Leading zeros in a chunk size are valid; 13 significant hex digits at
//   most (2^52 − 1), beyond is 400.

/** What the handler saw for one dispatched request. */
export interface Seen {
  method: string;
  path: string;
  /** The version token as sent; checked when given. */
  version?: string;
  /** Every header field, in wire order; checked when given. */
  headers?: [string, string][];
  /** The decoded body (Latin-1); `null` when the handler did not read it. Default "". */
  body?: string | null;
  /** The trailer fields; checked when given. */
  trailers?: [string, string][];
  /** The status of the error thrown while the handler read the body. */
  bodyError?: number;
}

/** One conformance case. */
export interface Case {
  name: string;
  /** The bytes sent, as a Latin-1 string. */
  request: string;
  /** The statuses of the responses to `request`, in order (1xx included). */
  statuses: number[];
  /** The requests the handler saw, in order; a bad head never gets here. */
  seen: Seen[];
  /** Whether the connection is closed after the case (the probe unanswered). */
  closed: boolean;
  /** Run against the server with small limits (see SMALL_LIMITS). */
  small?: boolean;
  /** End the input with a half-close instead of the probe. */
  eof?: boolean;
}

/** The limits of the "small" server. */
export const SMALL_LIMITS = {
  maxRequestLine: 64,
  maxHeaderLine: 64,
  maxHeaders: 8,
  maxHeadBytes: 400,
  maxChunkLine: 32,
  maxTrailerBytes: 64,
  maxBodySize: 16,
  maxStreamedBodySize: null,
};

/** The request sent after every case that does not end with `eof`. */
export const PROBE =
  "GET /probe HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n";

const CASES: Case[] = [];

/** A message: request line, field lines and body, with CRLF line ends. */
function msg(line: string, fields: string[] = ["Host: h"], body = ""): string {
  return `${line}\r\n${fields.map((f) => `${f}\r\n`).join("")}\r\n${body}`;
}

/** A GET with Host and extra fields. */
function get(target = "/", fields: string[] = []): string {
  return msg(`GET ${target} HTTP/1.1`, ["Host: h", ...fields]);
}

/** A POST with Content-Length fields given as raw values. */
function post(lengths: string[], body: string, fields: string[] = []): string {
  return msg("POST / HTTP/1.1", [
    "Host: h",
    ...lengths.map((l) => `Content-Length:${l}`),
    ...fields,
  ], body);
}

/** A chunked POST whose body is the raw chunk framing given. */
function chunked(framing: string, fields: string[] = []): string {
  return msg(
    "POST / HTTP/1.1",
    ["Host: h", "Transfer-Encoding: chunked", ...fields],
    framing,
  );
}

/** A request that must be served; `seen` is what the handler saw. */
function ok(
  name: string,
  request: string,
  seen: Seen | Seen[],
  { closed = false, statuses }: { closed?: boolean; statuses?: number[] } = {},
): void {
  const list = Array.isArray(seen) ? seen : [seen];
  CASES.push({
    name,
    request,
    statuses: statuses ?? list.map(() => 200),
    seen: list,
    closed,
  });
}

/** A request answered `status` that never reaches the handler. */
function bad(
  name: string,
  request: string,
  status: number,
  extra: Partial<Case> = {},
): void {
  CASES.push({
    name,
    request,
    statuses: [status],
    seen: [],
    closed: true,
    ...extra,
  });
}

/** A request whose head is fine and whose body is refused with `status`. */
function badBody(
  name: string,
  request: string,
  status: number,
  extra: Partial<Case> = {},
): void {
  CASES.push({
    name,
    request,
    statuses: [status],
    seen: [{ method: "POST", path: "/", body: null, bodyError: status }],
    closed: true,
    ...extra,
  });
}

/** A request hidden in a body: it must never be served. */
const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
const SMUGGLED_LENGTH = String(SMUGGLED.length);

const GET = (path = "/", more: Partial<Seen> = {}): Seen => ({
  method: "GET",
  path,
  ...more,
});
const POST = (body: string, more: Partial<Seen> = {}): Seen => ({
  method: "POST",
  path: "/",
  body,
  ...more,
});

// --- The request line (RFC 9112 §3) -----------------------------------------

ok(
  "a plain GET",
  get(),
  GET("/", {
    version: "HTTP/1.1",
    headers: [["Host", "h"]],
  }),
);
ok("HTTP/1.0 needs no Host and closes by default", "GET / HTTP/1.0\r\n\r\n", {
  method: "GET",
  path: "/",
  version: "HTTP/1.0",
  headers: [],
}, { closed: true });
ok("a token method with a do_ method (PURGE)", msg("PURGE /x HTTP/1.1"), {
  method: "PURGE",
  path: "/x",
});
bad("methods are case-sensitive: get is unknown", msg("get / HTTP/1.1"), 501);
bad("an unknown method is 501", msg("BREW / HTTP/1.1"), 501);
bad(
  "a method of every tchar is a token, unknown here",
  msg("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1"),
  501,
);
bad("@ in a method", msg("GE@T / HTTP/1.1"), 400);
bad("( in a method", msg("GET( / HTTP/1.1"), 400);
bad("/ in a method", msg("GET/ / HTTP/1.1"), 400);
bad("obs-text in a method", msg("G\xc9T / HTTP/1.1"), 400);
bad("DEL in a method", msg("GE\x7fT / HTTP/1.1"), 400);
bad("NUL in a method", msg("GE\x00T / HTTP/1.1"), 400);
bad("an empty method", msg(" / HTTP/1.1"), 400);
bad("HTAB between method and target", msg("GET\t/ HTTP/1.1"), 400);
bad("HTAB between target and version", msg("GET /\tHTTP/1.1"), 400);
bad("two SP after the method", msg("GET  / HTTP/1.1"), 400);
bad("two SP before the version", msg("GET /  HTTP/1.1"), 400);
bad("SP before the method", msg(" GET / HTTP/1.1"), 400);
bad("SP after the version", msg("GET / HTTP/1.1 "), 400);
bad("VT as a separator", msg("GET\x0b/ HTTP/1.1"), 400);
bad("FF as a separator", msg("GET\x0c/ HTTP/1.1"), 400);
bad("NUL after the version", msg("GET / HTTP/1.1\x00"), 400);
bad("no version: HTTP/0.9 is not served", "GET /\r\n\r\n", 400);
bad("a method alone", "GET\r\n\r\n", 400);
bad("a space inside the target", msg("GET /a b HTTP/1.1"), 400);
bad("lower-case http in the version", msg("GET / http/1.1"), 400);
bad("HTTP/1.10", msg("GET / HTTP/1.10"), 400);
bad("HTTP/01.1", msg("GET / HTTP/01.1"), 400);
bad("HTTP/1 without a minor", msg("GET / HTTP/1"), 400);
bad("HTTP/1.1.1", msg("GET / HTTP/1.1.1"), 400);
bad("a space inside the version", msg("GET / HTTP /1.1"), 400);
bad("garbage after the version", msg("GET / HTTP/1.1x"), 400);
bad("HTTP/2.0 is 505", msg("GET / HTTP/2.0"), 505);
bad("the HTTP/2 preface is 505", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
bad("HTTP/0.9 spelled as a version is 505", msg("GET / HTTP/0.9"), 505);
bad("HTTP/3.0 is 505", msg("GET / HTTP/3.0"), 505);
ok(
  "HTTP/1.2 is served as HTTP/1.1: kept alive (RFC 9110 §2.5)",
  msg("GET /a HTTP/1.2") + msg("GET /b HTTP/1.2"),
  [
    GET("/a", { version: "HTTP/1.2" }),
    GET("/b", { version: "HTTP/1.2" }),
  ],
);
bad("HTTP/1.2 needs a Host, as HTTP/1.1", "GET / HTTP/1.2\r\n\r\n", 400);
ok(
  "empty lines before the request line are skipped",
  "\r\n\r\n" + get(),
  GET(),
);
ok(
  "bare LF empty lines before the request line are skipped",
  "\n\n" + get(),
  GET(),
);
bad("a whitespace line before the request line", " \r\n" + get(), 400);
bad("a bare CR inside the request line", msg("GET /\r HTTP/1.1"), 400);
bad(
  "a request line ended by a bare CR",
  "GET / HTTP/1.1\rHost: h\r\n\r\n",
  400,
);
ok(
  "a request line ended by a bare LF",
  "GET / HTTP/1.1\nHost: h\r\n\r\n",
  GET(),
);

// --- The request-target (RFC 9112 §3.2) -------------------------------------

ok("origin-form with a query", get("/a/b?c=d&e=%20"), GET("/a/b?c=d&e=%20"));
ok("a # in the target reaches the handler", get("/a#b"), GET("/a#b"));
ok(
  "printable ASCII outside URI syntax reaches the handler",
  get('/a<b>"{}|\\^`'),
  GET('/a<b>"{}|\\^`'),
);
ok("a bad %-escape reaches the handler", get("/%zz"), GET("/%zz"));
ok(
  "// at the start is reduced to one /",
  get("//evil.example/x"),
  GET("/evil.example/x"),
);
ok(
  "absolute-form",
  get("http://example.com/x?y"),
  GET("http://example.com/x?y"),
);
ok(
  "absolute-form https with a port",
  get("https://example.com:8443/"),
  GET("https://example.com:8443/"),
);
ok(
  "absolute-form with an IPv6 literal",
  get("http://[::1]:8080/"),
  GET("http://[::1]:8080/"),
);
ok(
  "absolute-form with a Host that differs",
  msg("GET http://a.example/ HTTP/1.1", ["Host: b.example"]),
  GET("http://a.example/"),
);
bad(
  "absolute-form with userinfo",
  get("http://user:pw@example.com/"),
  400,
);
bad("absolute-form with an empty host", get("http:///x"), 400);
bad("an absolute URI without an authority", get("http:x"), 400);
bad("a scheme starting with a digit", get("1http://example.com/"), 400);
bad(
  "absolute-form without Host in HTTP/1.1",
  "GET http://example.com/ HTTP/1.1\r\n\r\n",
  400,
);
bad("authority-form for GET", get("example.com:80"), 400);
// A 2xx to CONNECT makes a tunnel of the connection, which then closes:
// the probe after it is tunnel bytes, never a request (RFC 9112 §6.3).
ok(
  "CONNECT with authority-form",
  msg("CONNECT example.com:443 HTTP/1.1", ["Host: example.com:443"]),
  { method: "CONNECT", path: "example.com:443" },
  { closed: true },
);
ok(
  "CONNECT to an IPv6 literal",
  msg("CONNECT [::1]:443 HTTP/1.1", ["Host: [::1]:443"]),
  { method: "CONNECT", path: "[::1]:443" },
  { closed: true },
);
bad("CONNECT with origin-form", msg("CONNECT / HTTP/1.1"), 400);
bad("CONNECT without a port", msg("CONNECT example.com HTTP/1.1"), 400);
bad("CONNECT with a port name", msg("CONNECT example.com:https HTTP/1.1"), 400);
bad(
  "CONNECT with absolute-form",
  msg("CONNECT http://example.com:443/ HTTP/1.1"),
  400,
);
bad("CONNECT with userinfo", msg("CONNECT u@example.com:443 HTTP/1.1"), 400);
ok("OPTIONS *", msg("OPTIONS * HTTP/1.1"), { method: "OPTIONS", path: "*" });
bad("asterisk-form for GET", get("*"), 400);
bad("OPTIONS *x", msg("OPTIONS *x HTTP/1.1"), 400);
bad("a relative target", get("a/b"), 400);
bad("obs-text in the target", get("/caf\xe9"), 400);
bad("DEL in the target", get("/a\x7f"), 400);

// --- Header fields (RFC 9112 §5, RFC 9110 §5) --------------------------------

bad("a space inside a field name", get("/", ["Foo Bar: x"]), 400);
bad(
  "whitespace between name and colon (CVE-2019-16276)",
  "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
  400,
);
bad("HTAB between name and colon", get("/", ["X\t: y"]), 400);
bad("an empty field name", get("/", [": y"]), 400);
bad("a field line without a colon", get("/", ["NoColon"]), 400);
bad("( in a field name", get("/", ["X(: y"]), 400);
bad("/ in a field name", get("/", ["X/Y: 1"]), 400);
bad("obs-text in a field name", get("/", ["X\xe9: y"]), 400);
ok(
  "every tchar in a field name",
  get("/", ["!#$%&'*+-.^_`|~09azAZ: v"]),
  GET("/", { headers: [["Host", "h"], ["!#$%&'*+-.^_`|~09azAZ", "v"]] }),
);
ok(
  "field names keep their case, order and duplicates",
  get("/", ["X-A: 1", "x-a: 2", "X-B: 3"]),
  GET("/", {
    headers: [["Host", "h"], ["X-A", "1"], ["x-a", "2"], ["X-B", "3"]],
  }),
);
bad("obs-fold with SP", get("/", ["X: a", " b"]), 400);
bad("obs-fold with HTAB", get("/", ["X: a", "\tb"]), 400);
bad(
  "a whitespace-led line right after the request line",
  "GET / HTTP/1.1\r\n Host: h\r\nHost: h\r\n\r\n",
  400,
);
bad("NUL in a value", get("/", ["X: a\x00b"]), 400);
bad("a bare CR in a value", get("/", ["X: a\rb"]), 400);
bad("CR CR LF as a line end", get("/", ["X: a\r"]), 400);
bad("a bare CR as a line end", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400);
bad(
  "a head whose last line end is CR and then a byte other than LF",
  "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\rabc",
  400,
);
bad("DEL in a value", get("/", ["X: a\x7f"]), 400);
bad("SOH in a value", get("/", ["X: \x01"]), 400);
bad("VT in a value", get("/", ["X: a\x0bb"]), 400);
bad("FF in a value", get("/", ["X: a\x0cb"]), 400);
bad("ESC in a value", get("/", ["X: \x1b[31m"]), 400);
ok(
  "obs-text in a value is kept as Latin-1",
  get("/", ["X: caf\xe9"]),
  GET("/", { headers: [["Host", "h"], ["X", "caf\xe9"]] }),
);
ok(
  "HTAB inside a value",
  get("/", ["X: a\tb"]),
  GET("/", { headers: [["Host", "h"], ["X", "a\tb"]] }),
);
ok(
  "OWS around a value is trimmed",
  get("/", ["X: \t a b \t"]),
  GET("/", { headers: [["Host", "h"], ["X", "a b"]] }),
);
ok(
  "an empty value, and one of only whitespace",
  get("/", ["X:", "Y:  \t"]),
  GET("/", { headers: [["Host", "h"], ["X", ""], ["Y", ""]] }),
);
ok(
  "no space after the colon",
  get("/", ["X:1"]),
  GET("/", { headers: [["Host", "h"], ["X", "1"]] }),
);
ok(
  "bare LF line ends throughout the head",
  "GET / HTTP/1.1\nHost: h\nX: 1\n\n",
  GET("/", { headers: [["Host", "h"], ["X", "1"]] }),
);
ok(
  "CRLF and bare LF mixed",
  "GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\n",
  GET("/", { headers: [["Host", "h"], ["X", "1"]] }),
);
ok(
  "a bare LF ends a line, so a value never holds the next field",
  "POST / HTTP/1.1\r\nHost: h\r\nX: a\nContent-Length: 3\r\n\r\nabc",
  POST("abc", {
    headers: [["Host", "h"], ["X", "a"], ["Content-Length", "3"]],
  }),
);
bad(
  "obs-fold after a bare LF",
  "GET / HTTP/1.1\r\nHost: h\r\nX: a\n b\r\n\r\n",
  400,
);

// --- Host (RFC 9112 §3.2, RFC 9110 §7.2) -------------------------------------

bad("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400);
bad("two Host fields", get("/", ["Host: h2"]), 400);
bad("two identical Host fields", get("/", ["Host: h"]), 400);
bad("Host and host", get("/", ["host: h"]), 400);
bad("a space in Host", msg("GET / HTTP/1.1", ["Host: a b"]), 400);
bad("userinfo in Host", msg("GET / HTTP/1.1", ["Host: u@h"]), 400);
bad("a path in Host", msg("GET / HTTP/1.1", ["Host: h/x"]), 400);
bad("a port name in Host", msg("GET / HTTP/1.1", ["Host: h:http"]), 400);
bad("two ports in Host", msg("GET / HTTP/1.1", ["Host: h:1:2"]), 400);
bad("a bad IP literal in Host", msg("GET / HTTP/1.1", ["Host: [zz]"]), 400);
bad(
  "an IP literal inside a name in Host",
  msg("GET / HTTP/1.1", ["Host: a[::1]b"]),
  400,
);
bad("an IP literal with a name after it", get("http://[::1]x/"), 400);
bad("obs-text in Host", msg("GET / HTTP/1.1", ["Host: h\xe9"]), 400);
bad("a list in Host", msg("GET / HTTP/1.1", ["Host: a, b"]), 400);
ok(
  "an IPv6 literal and port in Host",
  msg("GET / HTTP/1.1", ["Host: [::1]:8080"]),
  GET(),
);
ok("an empty Host (RFC 9110 §7.2)", msg("GET / HTTP/1.1", ["Host:"]), GET());
ok("an empty port in Host", msg("GET / HTTP/1.1", ["Host: h:"]), GET());
ok("a %-escape in Host", msg("GET / HTTP/1.1", ["Host: h%41"]), GET());
ok(
  "HTTP/1.0 kept alive without Host",
  "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
  [GET("/a"), GET("/b")],
  { closed: true },
);
bad(
  "two Host fields in HTTP/1.0",
  "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
  400,
);

// --- Content-Length (RFC 9112 §6.3, RFC 9110 §8.6) ---------------------------

ok("Content-Length: 5", post([" 5"], "hello"), POST("hello"));
ok("Content-Length: 0", post([" 0"], ""), POST(""));
ok("Content-Length with leading zeros", post([" 005"], "hello"), POST("hello"));
ok("Content-Length with OWS around", post([" \t5 \t"], "hello"), POST("hello"));
ok("Content-Length: 5, 5", post([" 5, 5"], "hello"), POST("hello"));
ok("Content-Length: 5,5", post([" 5,5"], "hello"), POST("hello"));
ok(
  "two equal Content-Length fields",
  post([" 5", " 5"], "hello"),
  POST("hello"),
);
ok(
  "a lower-case content-length",
  msg("POST / HTTP/1.1", ["Host: h", "content-length: 3"], "abc"),
  POST("abc"),
);
bad("Content-Length: +5", post([" +5"], "hello"), 400);
bad("Content-Length: -1", post([" -1"], ""), 400);
bad("Content-Length: 0x5", post([" 0x5"], "hello"), 400);
bad("Content-Length: 5e0", post([" 5e0"], "hello"), 400);
bad("Content-Length: 5.0", post([" 5.0"], "hello"), 400);
bad("Content-Length: 5 5", post([" 5 5"], "hello"), 400);
bad("Content-Length: 1_0", post([" 1_0"], "helloworld"), 400);
bad("Content-Length: Infinity", post([" Infinity"], ""), 400);
bad(
  "Content-Length: a full-width digit",
  post([" \xef\xbc\x95"], "hello"),
  400,
);
bad("an empty Content-Length", post([""], ""), 400);
bad("Content-Length: 5,", post([" 5,"], "hello"), 400);
bad("Content-Length: ,5", post([" ,5"], "hello"), 400);
bad("Content-Length: 5, 6", post([" 5, 6"], "hello!"), 400);
bad("two different Content-Length fields", post([" 5", " 6"], "hello!"), 400);
bad(
  "whitespace before the colon of Content-Length",
  "POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello",
  400,
);
bad("Content-Length of 2^53", post([" 9007199254740992"], ""), 400);
bad("Content-Length of 20 digits", post([" 18446744073709551621"], ""), 400);
bad("Content-Length of 1000 digits", post([" " + "9".repeat(1000)], ""), 400);
badBody(
  "Content-Length of 2^53 - 1 is over the limit of bytes()",
  post([" 9007199254740991"], ""),
  413,
);
badBody(
  "Content-Length one byte over the limit of bytes()",
  post([" 104857601"], ""),
  413,
);
ok(
  "a body holding a request is data, never a request",
  post([` ${SMUGGLED_LENGTH}`], SMUGGLED) + get("/next"),
  [POST(SMUGGLED), GET("/next")],
);
ok(
  "an unread body is drained; the request inside it is never served",
  msg(
    "POST /skip HTTP/1.1",
    ["Host: h", `Content-Length: ${SMUGGLED_LENGTH}`],
    SMUGGLED,
  ) + get("/next"),
  [{ method: "POST", path: "/skip", body: null }, GET("/next")],
);
ok(
  "HTTP/1.0 keep-alive with a body, then a second request",
  "POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc" +
    "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  [POST("abc"), GET("/b")],
);

// --- Transfer-Encoding (RFC 9112 §6.1, §6.3) --------------------------------

ok("chunked", chunked("5\r\nhello\r\n0\r\n\r\n"), POST("hello"));
ok(
  "Chunked in any case",
  msg(
    "POST / HTTP/1.1",
    ["Host: h", "Transfer-Encoding: ChUnKeD"],
    "1\r\na\r\n0\r\n\r\n",
  ),
  POST("a"),
);
ok(
  "chunked with trailing OWS",
  msg(
    "POST / HTTP/1.1",
    ["Host: h", "Transfer-Encoding: chunked \t"],
    "1\r\na\r\n0\r\n\r\n",
  ),
  POST("a"),
);
ok(
  "chunked with leading HTAB",
  msg(
    "POST / HTTP/1.1",
    ["Host: h", "Transfer-Encoding:\tchunked"],
    "1\r\na\r\n0\r\n\r\n",
  ),
  POST("a"),
);
ok(
  "Transfer_Encoding is another field; Content-Length frames the body",
  post([" 5"], "0\r\n\r\n", ["Transfer_Encoding: chunked"]),
  POST("0\r\n\r\n"),
);
/** A POST with these Transfer-Encoding fields and a valid chunked body. */
function te(values: string[], version = "HTTP/1.1"): string {
  return msg(
    `POST / ${version}`,
    ["Host: h", ...values.map((v) => `Transfer-Encoding:${v}`)],
    "1\r\na\r\n0\r\n\r\n",
  );
}
bad(
  "CL.TE: Content-Length then Transfer-Encoding",
  msg("POST / HTTP/1.1", [
    "Host: h",
    "Content-Length: 6",
    "Transfer-Encoding: chunked",
  ], "0\r\n\r\nG") + get("/smuggled"),
  400,
);
bad(
  "TE.CL: Transfer-Encoding then Content-Length",
  msg("POST / HTTP/1.1", [
    "Host: h",
    "Transfer-Encoding: chunked",
    "Content-Length: 3",
  ], "8\r\nSMUGGLED\r\n0\r\n\r\n"),
  400,
);
bad("Transfer-Encoding in HTTP/1.0", te([" chunked"], "HTTP/1.0"), 400);
bad("chunked, gzip", te([" chunked, gzip"]), 400);
bad("gzip, chunked is 501", te([" gzip, chunked"]), 501);
bad("gzip then chunked in two fields is 501", te([" gzip", " chunked"]), 501);
bad("identity alone", te([" identity"]), 400);
bad("identity, chunked is 501", te([" identity, chunked"]), 501);
bad("chunked, chunked", te([" chunked, chunked"]), 400);
bad("chunked in two fields", te([" chunked", " chunked"]), 400);
bad(
  "gzip, chunked, chunked is malformed before unsupported",
  te([" gzip, chunked, chunked"]),
  400,
);
bad("TE.TE: chunked, then a bogus coding", te([" chunked", " cow"]), 400);
bad("xchunked", te([" xchunked"]), 400);
bad("chunk", te([" chunk"]), 400);
bad("chunked;", te([" chunked;"]), 400);
bad("chunked with a parameter", te([" chunked;q=1"]), 400);
bad('"chunked" quoted', te([' "chunked"']), 400);
bad("an empty Transfer-Encoding", te([""]), 400);
bad("chunked,,", te([" chunked,,"]), 400);
bad(", chunked", te([" , chunked"]), 400);
bad("NUL after chunked", te([" chunked\x00"]), 400);
bad("obs-text after chunked", te([" chunked\xff"]), 400);
bad("VT before chunked", te(["\x0bchunked"]), 400);
bad(
  "whitespace before the colon of Transfer-Encoding",
  msg(
    "POST / HTTP/1.1",
    ["Host: h", "Transfer-Encoding : chunked"],
    "1\r\na\r\n0\r\n\r\n",
  ),
  400,
);
bad(
  "Transfer Encoding with a space",
  msg(
    "POST / HTTP/1.1",
    ["Host: h", "Transfer Encoding: chunked"],
    "1\r\na\r\n0\r\n\r\n",
  ),
  400,
);
bad(
  "Transfer-Encoding folded onto a second line",
  msg(
    "POST / HTTP/1.1",
    ["Host: h", "Transfer-Encoding:", " chunked"],
    "1\r\na\r\n0\r\n\r\n",
  ),
  400,
);

// --- Chunked framing (RFC 9112 §7.1) ----------------------------------------

ok("two chunks", chunked("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), POST("abcde"));
ok("a chunk extension", chunked("3;a=b\r\nabc\r\n0\r\n\r\n"), POST("abc"));
ok(
  "a quoted extension value with escapes",
  chunked('3;a="b \\" c"\r\nabc\r\n0\r\n\r\n'),
  POST("abc"),
);
ok("an extension name alone", chunked("3;a\r\nabc\r\n0\r\n\r\n"), POST("abc"));
ok(
  "BWS before the extension",
  chunked("3 \t;a\r\nabc\r\n0\r\n\r\n"),
  POST("abc"),
);
ok("BWS around =", chunked("3;a = b\r\nabc\r\n0\r\n\r\n"), POST("abc"));
ok(
  "several extensions",
  chunked('3;a=1;b;c="x"\r\nabc\r\n0\r\n\r\n'),
  POST("abc"),
);
ok(
  "an extension on the last chunk",
  chunked("3\r\nabc\r\n0;end=1\r\n\r\n"),
  POST("abc"),
);
ok(
  "leading zeros in a chunk size",
  chunked("003\r\nabc\r\n00\r\n\r\n"),
  POST("abc"),
);
ok(
  "many leading zeros in a chunk size",
  chunked("0000000000000000003\r\nabc\r\n0\r\n\r\n"),
  POST("abc"),
);
ok(
  "hex digits in either case",
  chunked("A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n"),
  POST("01234567890123456789"),
);
ok(
  "trailer fields are parsed",
  chunked("1\r\na\r\n0\r\nX-T: 1\r\nY:2\r\n\r\n"),
  POST("a", { trailers: [["X-T", "1"], ["Y", "2"]] }),
);
ok(
  "one byte a chunk, each with a short extension",
  chunked("1;n=1\r\na\r\n".repeat(2000) + "0\r\n\r\n"),
  POST("a".repeat(2000)),
);
badBody(
  "framing far beyond its data: 4 KB of extensions a byte, 5 times",
  chunked(`1;${"e".repeat(4000)}\r\na\r\n`.repeat(5) + "0\r\n\r\n"),
  400,
);
badBody("an empty extension", chunked("3;\r\nabc\r\n0\r\n\r\n"), 400);
badBody(
  "an extension without a name",
  chunked("3;=b\r\nabc\r\n0\r\n\r\n"),
  400,
);
badBody(
  "an unterminated quoted extension",
  chunked('3;a="b\r\nabc\r\n0\r\n\r\n'),
  400,
);
badBody(
  "a space inside an extension",
  chunked("3;a b\r\nabc\r\n0\r\n\r\n"),
  400,
);
badBody("NUL in an extension", chunked("3;a=\x00\r\nabc\r\n0\r\n\r\n"), 400);
badBody(
  "an extension over the chunk line limit",
  chunked(`3;a=${"b".repeat(5000)}\r\nabc\r\n0\r\n\r\n`),
  400,
);
badBody("chunk size 0x5", chunked("0x5\r\nhello\r\n0\r\n\r\n"), 400);
badBody("chunk size +5", chunked("+5\r\nhello\r\n0\r\n\r\n"), 400);
badBody("chunk size -5", chunked("-5\r\nhello\r\n0\r\n\r\n"), 400);
badBody("SP before the chunk size", chunked(" 5\r\nhello\r\n0\r\n\r\n"), 400);
badBody("SP after the chunk size", chunked("5 \r\nhello\r\n0\r\n\r\n"), 400);
badBody("HTAB after the chunk size", chunked("5\t\r\nhello\r\n0\r\n\r\n"), 400);
badBody("a non-hex chunk size", chunked("g\r\nhello\r\n0\r\n\r\n"), 400);
badBody("an empty chunk-size line", chunked("\r\nhello\r\n0\r\n\r\n"), 400);
badBody(
  "a chunk size of 17 hex digits",
  chunked("fffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
  400,
);
badBody(
  "a chunk size of 2^64 (wraps to 0 in C)",
  chunked("10000000000000000\r\n\r\n0\r\n\r\n"),
  400,
);
badBody(
  "a chunk size of 2^52 - 1 is over the body limit",
  chunked("fffffffffffff\r\nhello\r\n0\r\n\r\n"),
  413,
);
badBody(
  "a chunk size smaller than its data",
  chunked("3\r\nhello\r\n0\r\n\r\n") + get("/smuggled"),
  400,
);
badBody("no CRLF after chunk data", chunked("5\r\nhelloX\r\n0\r\n\r\n"), 400);
badBody(
  "a bare LF after the chunk size",
  chunked("5\nhello\r\n0\r\n\r\n"),
  400,
);
badBody("a bare LF after chunk data", chunked("5\r\nhello\n0\r\n\r\n"), 400);
badBody(
  "a bare LF after the last chunk",
  chunked("5\r\nhello\r\n0\n\r\n"),
  400,
);
badBody(
  "a bare LF ending the trailer section",
  chunked("5\r\nhello\r\n0\r\n\n"),
  400,
);
badBody(
  "a bare LF ending a trailer field",
  chunked("1\r\na\r\n0\r\nX: 1\n\r\n"),
  400,
);
badBody(
  "a bare CR in the chunk-size line",
  chunked("5\rX\r\nhello\r\n0\r\n\r\n"),
  400,
);
badBody(
  "a space inside a trailer name",
  chunked("1\r\na\r\n0\r\nX Y: 1\r\n\r\n"),
  400,
);
badBody(
  "obs-fold in the trailers",
  chunked("1\r\na\r\n0\r\nX: 1\r\n 2\r\n\r\n"),
  400,
);
badBody(
  "a bare CR in a trailer value",
  chunked("1\r\na\r\n0\r\nX: a\rb\r\n\r\n"),
  400,
);
badBody(
  "NUL in a trailer value",
  chunked("1\r\na\r\n0\r\nX: a\x00\r\n\r\n"),
  400,
);
badBody(
  "a trailer line without a colon",
  chunked("1\r\na\r\n0\r\nX\r\n\r\n"),
  400,
);
badBody(
  "whitespace before a trailer colon",
  chunked("1\r\na\r\n0\r\nX : 1\r\n\r\n"),
  400,
);
badBody(
  "trailers over 16 KiB",
  chunked(`1\r\na\r\n0\r\n${"X: 123456789\r\n".repeat(1300)}\r\n`),
  431,
);
badBody(
  "more than 100 trailer fields",
  chunked(`1\r\na\r\n0\r\n${"X: 1\r\n".repeat(101)}\r\n`),
  431,
);
ok(
  "a chunked request, then a pipelined one",
  chunked("3\r\nabc\r\n0\r\n\r\n") + get("/next"),
  [POST("abc"), GET("/next")],
);
ok(
  "an unread chunked body is drained; the request inside it is never served",
  msg(
    "POST /skip HTTP/1.1",
    ["Host: h", "Transfer-Encoding: chunked"],
    `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
  ) + get("/next"),
  [{ method: "POST", path: "/skip", body: null }, GET("/next")],
);
badBody("a body cut off inside a chunk", chunked("5\r\nhel"), 400, {
  eof: true,
});
badBody(
  "a body cut off before the last chunk",
  chunked("5\r\nhello\r\n"),
  400,
  {
    eof: true,
  },
);
badBody("a body cut off inside the trailers", chunked("0\r\nX: 1\r\n"), 400, {
  eof: true,
});
bad("a head cut off", "GET / HTTP/1.1\r\nHost: h\r\n", 400, { eof: true });
badBody("a Content-Length body cut off", post([" 10"], "hello"), 400, {
  eof: true,
});

// --- Expect (RFC 9110 §10.1.1) -----------------------------------------------

ok(
  "Expect: 100-continue is answered when the handler reads the body",
  post([" 3"], "abc", ["Expect: 100-continue"]),
  POST("abc"),
  { statuses: [100, 200] },
);
ok(
  "Expect: 100-Continue in any case",
  post([" 3"], "abc", ["Expect: 100-Continue"]),
  POST("abc"),
  { statuses: [100, 200] },
);
ok(
  "Expect: 100-continue in HTTP/1.0 is not answered 100",
  "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
  POST("abc"),
  { closed: true },
);
ok("Expect: with no value expects nothing", get("/", ["Expect:"]), GET("/"));
bad("Expect: tea is 417", get("/", ["Expect: tea"]), 417);
bad(
  "Expect: 100-continue, tea is 417",
  get("/", ["Expect: 100-continue, tea"]),
  417,
);
bad(
  "Expect: 100-continue twice is 417",
  get("/", ["Expect: 100-continue", "Expect: 100-continue"]),
  417,
);

// --- Connection management (RFC 9112 §9) ------------------------------------

ok(
  "HTTP/1.1 is kept alive: pipelined requests are all served",
  get("/1") + get("/2") + get("/3"),
  [GET("/1"), GET("/2"), GET("/3")],
);
ok(
  "after Connection: close, a pipelined request is not answered",
  get("/1", ["Connection: close"]) + get("/smuggled"),
  GET("/1"),
  { closed: true },
);
ok(
  "Connection: keep-alive, close closes",
  get("/1", ["Connection: keep-alive, close"]) + get("/smuggled"),
  GET("/1"),
  { closed: true },
);
ok(
  "Connection: foo, CLOSE closes",
  get("/1", ["Connection: foo, CLOSE"]) + get("/smuggled"),
  GET("/1"),
  { closed: true },
);
ok(
  "Connection: upgrade keeps the connection",
  get("/1", ["Connection: upgrade", "Upgrade: h2c"]),
  GET("/1"),
);
ok(
  "HTTP/1.0 without keep-alive: a pipelined request is not answered",
  "GET /1 HTTP/1.0\r\n\r\n" + get("/smuggled"),
  GET("/1"),
  { closed: true },
);
ok(
  "HTTP/1.0 with Connection: Keep-Alive is kept alive",
  "GET /1 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n" +
    "GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
  [GET("/1"), GET("/2")],
);
bad(
  "after a 400, a pipelined request is not answered",
  get("/", ["X : y"]) + get("/smuggled"),
  400,
);
bad(
  "after a 501, a pipelined request is not answered",
  msg("BREW / HTTP/1.1") + get("/smuggled"),
  501,
);
bad(
  "after a 417, a pipelined request is not answered",
  get("/", ["Expect: tea"]) + get("/smuggled"),
  417,
);

// --- Limits: Python's defaults (414, 431) and small configured ones ----------

ok(
  "a request line of 65536 bytes",
  `GET /${"a".repeat(65536 - 16)} HTTP/1.1\r\nHost: h\r\n\r\n`,
  GET(`/${"a".repeat(65536 - 16)}`),
);
bad(
  "a request line of 65537 bytes is 414",
  get(`/${"a".repeat(65537 - 16)}`),
  414,
);
ok(
  "a header line of 65536 bytes",
  get("/", [`X: ${"v".repeat(65536 - 5)}`]),
  GET(),
);
bad(
  "a header line of 65537 bytes is 431",
  get("/", [`X: ${"v".repeat(65537 - 5)}`]),
  431,
);
ok(
  "100 header fields",
  get("/", Array.from({ length: 99 }, (_, i) => `X-${i}: 1`)),
  GET(),
);
bad(
  "101 header fields is 431",
  get("/", Array.from({ length: 100 }, (_, i) => `X-${i}: 1`)),
  431,
);
bad(
  "a head over 1 MiB is 431",
  get(
    "/",
    Array.from({ length: 20 }, (_, i) => `X-${i}: ${"v".repeat(60000)}`),
  ),
  431,
);
const small = { small: true };
bad("small: a long request line is 414", get(`/${"a".repeat(60)}`), 414, small);
bad(
  "small: a long header line is 431",
  get("/", [`X: ${"v".repeat(60)}`]),
  431,
  small,
);
bad(
  "small: too many header fields is 431",
  get("/", Array.from({ length: 8 }, (_, i) => `X-${i}: 1`)),
  431,
  small,
);
bad(
  "small: a head over maxHeadBytes is 431",
  get("/", Array.from({ length: 7 }, (_, i) => `X-${i}: ${"v".repeat(50)}`)),
  431,
  small,
);
badBody(
  "small: Content-Length over maxBodySize is 413 from bytes(), before a byte is read",
  post([" 17"], "a".repeat(17)),
  413,
  small,
);
CASES.push({
  name: "small: a body at maxBodySize is served",
  request: post([" 16"], "a".repeat(16)),
  statuses: [200],
  seen: [POST("a".repeat(16))],
  closed: false,
  small: true,
});
badBody(
  "small: a chunked body over maxBodySize is 413",
  chunked("9\r\naaaaaaaaa\r\n9\r\naaaaaaaaa\r\n0\r\n\r\n"),
  413,
  small,
);
badBody(
  "small: a chunk-size line over maxChunkLine is 400",
  chunked(`1;a=${"b".repeat(30)}\r\na\r\n0\r\n\r\n`),
  400,
  small,
);
badBody(
  "small: trailers over maxTrailerBytes are 431",
  chunked(`1\r\na\r\n0\r\nX: ${"t".repeat(70)}\r\n\r\n`),
  431,
  small,
);

export { CASES };
