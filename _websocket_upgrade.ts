// Copyright 2026 the basehttp authors. MIT license.
/**
 * The server's opening handshake (RFC 6455 §4.2): checks the request,
 * answers 101 with the accept key, the subprotocol and the extensions, and
 * hands the connection to a {@linkcode ServerWebSocket}. A request that is
 * not a valid handshake is answered 400 (426 for another version) and no
 * socket opens.
 *
 * @module
 */

import type { Connection } from "./_connection.ts";
import type { BaseHTTPRequestHandler } from "./handler.ts";
import { HTTPError, type HTTPMessage } from "./parser.ts";
import { createDeflate, negotiateDeflate } from "./_permessage_deflate.ts";
import { splitTokens } from "./_text.ts";
import { reportError, SERVER_STATE } from "./_server_state.ts";
import { ServerWebSocket, type WebSocketOptions } from "./websocket.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// 16 bytes in base64: 22 characters and "==".
const KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const encoder = new TextEncoder();

/** Why a request is not a handshake, or `null` when it is one. */
function refusal(handler: BaseHTTPRequestHandler): string | null {
  const headers = handler.headers;
  if (handler.command !== "GET") return "A WebSocket handshake is a GET";
  if (handler.requestVersion !== "HTTP/1.1") {
    return "A WebSocket handshake is HTTP/1.1";
  }
  if (!splitTokens(headers.getAll("upgrade")).includes("websocket")) {
    return "No Upgrade: websocket";
  }
  if (!splitTokens(headers.getAll("connection")).includes("upgrade")) {
    return "No Connection: upgrade";
  }
  const keys = headers.getAll("sec-websocket-key");
  if (keys.length !== 1 || !KEY.test(keys[0].trim())) {
    return "Sec-WebSocket-Key is missing or invalid";
  }
  if (headers.getAll("sec-websocket-version").length !== 1) {
    return "Sec-WebSocket-Version is missing";
  }
  // Its bytes would be taken for frames.
  if (!handler.rfile.done) return "A WebSocket handshake has no body";
  return null;
}

/** The subprotocols offered, in the client's order (case kept). */
function offeredProtocols(headers: HTTPMessage): string[] {
  return headers.getAll("sec-websocket-protocol").flatMap((value) =>
    value.split(",").map((part) => part.trim()).filter((part) => part !== "")
  );
}

function chooseProtocol(
  offered: string[],
  protocols: WebSocketOptions["protocols"],
): string {
  if (protocols === undefined || offered.length === 0) return "";
  if (typeof protocols === "function") {
    const chosen = protocols(offered);
    if (chosen === null || chosen === undefined) return "";
    if (!offered.includes(chosen)) {
      throw new TypeError(`protocols() chose ${chosen}, which was not offered`);
    }
    return chosen;
  }
  return offered.find((protocol) => protocols.includes(protocol)) ?? "";
}

/**
 * The largest message a WebSocket takes: `max`, or 64 MiB when it is not
 * given.
 *
 * @throws {RangeError} When `max` is not a positive integer.
 */
export function maxMessageSizeOf(max: number | undefined): number {
  if (max === undefined) return 64 * 1024 * 1024;
  if (!(Number.isSafeInteger(max) && max > 0)) {
    throw new RangeError("maxMessageSize must be a positive integer");
  }
  return max;
}

function checkOptions(options: WebSocketOptions): number {
  const idle = options.idleTimeout;
  if (idle !== undefined && idle !== null && !(idle > 0)) {
    throw new RangeError("idleTimeout must be a positive number of seconds");
  }
  return maxMessageSizeOf(options.maxMessageSize);
}

/** The `Sec-WebSocket-Accept` that answers `key` (RFC 6455 §4.2.2). */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Answers 426 with the version spoken, and closes. */
async function upgradeRequired(handler: BaseHTTPRequestHandler): Promise<void> {
  const body = encoder.encode("This server speaks WebSocket version 13.\n");
  handler.logError("code %d, message %s", 426, "Upgrade Required");
  handler.sendResponse(426);
  handler.sendHeader("Sec-WebSocket-Version", "13");
  handler.sendHeader("Connection", "close");
  handler.sendHeader("Content-Type", "text/plain; charset=utf-8");
  handler.sendHeader("Content-Length", String(body.length));
  await handler.endHeaders();
  await handler.wfile.write(body);
}

/**
 * Upgrades the handler's request to a WebSocket.
 *
 * @throws {HTTPError} 400 or 426, already answered, for a request that is
 *   not a valid handshake.
 */
export async function upgradeWebSocket(
  handler: BaseHTTPRequestHandler,
  engine: Connection,
  options: WebSocketOptions = {},
): Promise<ServerWebSocket> {
  const maxMessageSize = checkOptions(options);
  engine.checkTakeOver(); // before a byte is written
  const headers = handler.headers;
  const problem = refusal(handler);
  const version = headers.get("sec-websocket-version")?.trim();
  let error: HTTPError | null = null;
  if (problem !== null) {
    error = new HTTPError(400, "Bad Request", problem);
    await handler.sendError(400, "Bad Request", problem);
  } else if (version !== "13") {
    error = new HTTPError(426, "Upgrade Required");
    await upgradeRequired(handler);
  }
  if (error !== null) {
    // Sent, so that the failure that follows only closes.
    await handler.wfile.flush();
    throw error;
  }
  const protocol = chooseProtocol(offeredProtocols(headers), options.protocols);
  if (protocol !== "" && !TOKEN.test(protocol)) {
    throw new TypeError(`Invalid subprotocol: ${protocol}`);
  }
  const agreement = options.compression === false
    ? null
    : negotiateDeflate(headers.getAll("sec-websocket-extensions"));
  const deflate = agreement === null
    ? null
    : await createDeflate(agreement.params, maxMessageSize);
  const accept = await acceptKey(headers.get("sec-websocket-key")!.trim());
  // The handshake is HTTP/1.1 whatever the handler speaks (Python's
  // default is HTTP/1.0).
  const spoken = handler.protocolVersion;
  handler.protocolVersion = "HTTP/1.1";
  try {
    handler.sendResponse(101, "Switching Protocols");
  } finally {
    handler.protocolVersion = spoken;
  }
  handler.sendHeader("Upgrade", "websocket");
  handler.sendHeader("Connection", "Upgrade");
  handler.sendHeader("Sec-WebSocket-Accept", accept);
  if (protocol !== "") handler.sendHeader("Sec-WebSocket-Protocol", protocol);
  if (agreement !== null) {
    handler.sendHeader("Sec-WebSocket-Extensions", agreement.response);
  }
  await handler.endHeaders();
  const buffered = await engine.takeOver();
  const host = headers.get("host") ?? "localhost";
  return new ServerWebSocket({
    conn: handler.connection,
    buffered,
    protocol,
    extensions: agreement?.response ?? "",
    deflate,
    url: `${
      "handshake" in handler.connection ? "wss" : "ws"
    }://${host}${handler.path}`,
    idleTimeout: options.idleTimeout === undefined ? 120 : options.idleTimeout,
    maxMessageSize,
    reportError: (error) =>
      reportError(
        handler.server,
        handler.connection,
        handler.clientAddress,
        error,
      ),
    pool: handler.server[SERVER_STATE].pool,
    hold: (session) => engine.hold(session),
  });
}
