// Copyright 2026 the basehttp authors. MIT license.
// A WebSocket echo server with the page that talks to it: open
// http://localhost:8000/ and type.
//
//   deno run --allow-net --allow-read examples/websocket_echo.ts [port]
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";

export class EchoHandler extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";

  async do_GET(): Promise<void> {
    if (this.path === "/ws") {
      // A request that is not a handshake gets 400 here, and no socket.
      const socket = await this.upgradeWebSocket();
      for await (const message of socket) socket.send(message);
      return;
    }
    // Read here, not at import: a test of the socket needs no permission.
    const page = await Deno.readFile(
      new URL("./websocket_echo.html", import.meta.url),
    );
    this.sendResponse(200);
    this.sendHeader("Content-Type", "text/html; charset=utf-8");
    this.sendHeader("Content-Length", String(page.length));
    await this.endHeaders();
    await this.wfile.write(page);
  }
}

if (import.meta.main) {
  const httpd = new HTTPServer(["", Number(Deno.args[0] ?? 8000)], EchoHandler);
  console.log(`Serving on http://localhost:${httpd.serverPort}/`);
  await httpd.serveForever();
}
