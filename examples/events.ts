// Copyright 2026 the basehttp authors. MIT license.
// Server-sent events: a clock that ticks every second, resumable with
// Last-Event-ID. Try `curl -N http://localhost:8000/`, or in a browser
// console: `new EventSource("/").onmessage = (e) => console.log(e.data)`.
//
//   deno run --allow-net examples/events.ts [port]
import { BaseHTTPRequestHandler, HTTPServer } from "../mod.ts";

/** Waits `ms`, or until `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export class ClockHandler extends BaseHTTPRequestHandler {
  override protocolVersion = "HTTP/1.1";

  async do_GET(): Promise<void> {
    const events = await this.eventStream({ heartbeat: 15 });
    // A client that reconnects says where it got to.
    let tick = Number(events.lastEventId) || 0;
    while (!events.signal.aborted) {
      tick++;
      await events.send({
        id: String(tick),
        data: new Date().toISOString(),
      }).catch(() => {}); // the client left: the loop ends
      await sleep(1000, events.signal); // a shutdown does not wait for it
    }
  }
}

if (import.meta.main) {
  const httpd = new HTTPServer(
    ["", Number(Deno.args[0] ?? 8000)],
    ClockHandler,
  );
  console.log(`Serving events on http://localhost:${httpd.serverPort}/`);
  await httpd.serveForever();
}
