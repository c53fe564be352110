// Copyright 2026 the basehttp authors. MIT license.
/**
 * Server-sent events on a handler's connection: `await this.eventStream()`
 * inside a `do_GET` sends `200 text/event-stream` and returns an
 * {@linkcode EventStream} to send events with. The request stays open until
 * the stream is closed, the client goes away, or the server shuts down.
 *
 * @example A clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { BaseHTTPRequestHandler, HTTPServer } from "@basehttp/server";
 *
 * class Clock extends BaseHTTPRequestHandler {
 *   override protocolVersion = "HTTP/1.1";
 *   async do_GET(): Promise<void> {
 *     const events = await this.eventStream();
 *     await events.send({ event: "time", data: new Date().toISOString() });
 *     await events.close();
 *   }
 * }
 *
 * await using httpd = new HTTPServer(["127.0.0.1", 0], Clock);
 * const serving = httpd.serveForever();
 * const response = await fetch(`http://127.0.0.1:${httpd.serverPort}/`);
 * assert.equal(response.headers.get("content-type"), "text/event-stream");
 * assert.match(await response.text(), /^event: time\ndata: \d{4}-.*\n\n$/);
 * await httpd.shutdown();
 * await serving;
 * ```
 *
 * @module
 */

import { handled } from "./_handled.ts";

/** Options of `eventStream`. */
export interface EventStreamOptions {
  /**
   * Seconds between comment lines sent while no event is, so that proxies
   * and clients keep an idle stream open; `null` sends none.
   * @default {null}
   */
  heartbeat?: number | null;
}

/** One event. */
export interface ServerSentEvent {
  /** The data; each of its lines becomes a `data:` line. */
  data: string;
  /** The event type (`message` when absent). */
  event?: string;
  /** The event ID the client sends back as `Last-Event-ID`. */
  id?: string;
  /** The client's reconnection delay, in milliseconds. */
  retry?: number;
}

/**
 * What an event stream is made with.
 *
 * @ignore
 */
export interface EventStreamSettings {
  /** Writes and sends bytes at once; settles once the socket took them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the connection, dropping what waits to be written. */
  cut(reason: Error): void;
  /** The request is a HEAD: the head is all, the stream ends at once. */
  headOnly: boolean;
  /** The request's `Last-Event-ID`, or `""`. */
  lastEventId: string;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /** Seconds between heartbeats, or `null`. */
  heartbeat: number | null;
  /**
   * Holds the request open while the stream is: the engine's. `stoppedBy`
   * is the reason the stream ends with at a shutdown.
   */
  hold(
    session: { done: Promise<void>; shutdown(): void; stoppedBy?: unknown },
  ): void;
}

const LINE_BREAK = /\r\n|\r|\n/;
const NEWLINE = /[\r\n]/;
/**
 * Bytes sent and not yet written past which the stream ends: a broadcast
 * that does not await its sends would queue without bound for a client
 * that reads slower than it sends.
 */
const MAX_BUFFERED = 16 << 20;
const encoder = new TextEncoder();

/**
 * An open event stream (the WHATWG `text/event-stream` format). Sends go
 * out at once, in order. A send that would leave more than 16 MiB waiting
 * to be written (sends not awaited, to a client that reads slower) ends the
 * stream and closes the connection, with a `ConnectionAborted` reason: a
 * client that reconnects resumes from its `Last-Event-ID`. For a HEAD
 * request the stream ends once its head is sent.
 *
 * @example Send until the client leaves
 * ```ts ignore
 * const events = await this.eventStream({ heartbeat: 15 });
 * while (!events.signal.aborted) {
 *   await events.send({ data: await nextUpdate(events.signal) });
 * }
 * ```
 */
export class EventStream {
  /** The `Last-Event-ID` the client sent to resume from, or `""`. */
  readonly lastEventId: string;
  /** Aborts when the stream ends: closed, the client gone, or a shutdown. */
  readonly signal: AbortSignal;
  #write: (bytes: Uint8Array) => Promise<void>;
  #cut: (reason: Error) => void;
  #buffered = 0;
  #controller = new AbortController();
  #ended: unknown = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // When the last event or comment was written (performance.now()).
  #talked = 0;
  #resolve!: () => void;

  /**
   * Made by `eventStream`, once the head is sent.
   *
   * @ignore
   */
  constructor(settings: EventStreamSettings) {
    this.lastEventId = settings.lastEventId;
    this.signal = this.#controller.signal;
    this.#write = settings.write;
    this.#cut = settings.cut;
    const done = new Promise<void>((resolve) => this.#resolve = resolve);
    // A handler that throws this (an awaited send) ended as asked.
    const stop = settings.headOnly
      ? new Deno.errors.Interrupted("A HEAD request has no event stream")
      : new Deno.errors.Interrupted("The server is shutting down");
    settings.hold({ done, stoppedBy: stop, shutdown: () => this.#end(stop) });
    if (settings.headOnly) this.#end(stop);
    const client = settings.signal;
    // A connection error: a handler's send that fails then is not a bug.
    const gone = () =>
      this.#end(new Deno.errors.UnexpectedEof("The client went away"));
    if (client.aborted) gone();
    else client.addEventListener("abort", gone, { once: true });
    const heartbeat = settings.heartbeat;
    if (heartbeat !== null && this.#ended === null) {
      this.#beatAfter(heartbeat * 1000);
    }
  }

  /**
   * A comment once `interval` ms pass with nothing sent: the timer is not
   * reset by each event, it looks again when the quiet would be complete.
   */
  #beatAfter(interval: number): void {
    this.#talked = performance.now();
    const tick = () => {
      if (this.#ended !== null) return;
      let wait = interval - (performance.now() - this.#talked);
      if (wait <= 1) {
        this.#send(":\n\n").catch(() => {}); // a failed write ends it
        wait = interval;
      }
      this.#timer = setTimeout(tick, wait);
    };
    this.#timer = setTimeout(tick, interval);
  }

  /** Whether the stream has ended. */
  get closed(): boolean {
    return this.#ended !== null;
  }

  /**
   * Bytes given to {@linkcode send} and {@linkcode comment} and not yet
   * taken by the socket: a broadcast may skip a client that lags.
   */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /**
   * Sends one event.
   *
   * @returns A promise that rejects with a TypeError when `event` or `id`
   *   holds a line break or the stream was closed, a RangeError when
   *   `retry` is not a whole number of milliseconds, and the connection's
   *   error when the client is gone.
   */
  send(event: ServerSentEvent): Promise<void> {
    let text;
    try {
      text = eventText(event);
    } catch (error) {
      // Rejected, not thrown: a caller that chains .catch sees it too.
      return handled(Promise.reject(error));
    }
    return this.#send(text);
  }

  /**
   * Sends a comment, which clients ignore (each line starts with `:`).
   *
   * @param text The comment.
   */
  comment(text = ""): Promise<void> {
    return this.#send(
      String(text).split(LINE_BREAK).map((line) => `: ${line}\n`).join("") +
        "\n",
    );
  }

  /** Ends the stream; the response then ends. */
  close(): Promise<void> {
    this.#end(new TypeError("The event stream is closed"));
    return Promise.resolve();
  }

  #send(text: string): Promise<void> {
    // Rejects for a caller who awaits; harmless for one who does not.
    if (this.#ended !== null) return handled(Promise.reject(this.#ended));
    const bytes = encoder.encode(text);
    const size = bytes.length;
    // One event of any size goes when nothing waits before it.
    if (this.#buffered > 0 && this.#buffered + size > MAX_BUFFERED) {
      const slow = new Deno.errors.ConnectionAborted(
        `The client reads too slowly: over ${MAX_BUFFERED} bytes of events wait to be written`,
      );
      this.#end(slow);
      this.#cut(slow);
      return handled(Promise.reject(slow));
    }
    this.#talked = performance.now();
    this.#buffered += size;
    const written = this.#write(bytes);
    written.then(
      () => this.#buffered -= size,
      (error) => {
        this.#buffered -= size;
        this.#end(error);
      },
    );
    return written;
  }

  #end(reason: unknown): void {
    if (this.#ended !== null) return;
    this.#ended = reason;
    clearTimeout(this.#timer);
    this.#controller.abort(reason);
    this.#resolve();
  }
}

/** The wire form of one event, checked. */
function eventText(event: ServerSentEvent): string {
  if (event.data === undefined || event.data === null) {
    // The client would dispatch nothing (WHATWG: no data, no event).
    throw new TypeError("An event needs data");
  }
  let text = "";
  if (event.event !== undefined) {
    text += `event: ${field("event", String(event.event))}\n`;
  }
  if (event.id !== undefined) {
    const id = String(event.id);
    if (id.includes("\0")) {
      throw new TypeError("An id may not hold NUL");
    }
    text += `id: ${field("id", id)}\n`;
  }
  if (event.retry !== undefined) {
    if (!Number.isSafeInteger(event.retry) || event.retry < 0) {
      throw new RangeError("retry must be a whole number of milliseconds");
    }
    text += `retry: ${event.retry}\n`;
  }
  for (const line of String(event.data).split(LINE_BREAK)) {
    text += `data: ${line}\n`;
  }
  return text + "\n";
}

function field(name: string, value: string): string {
  if (NEWLINE.test(value)) {
    throw new TypeError(`An event's ${name} may not hold a line break`);
  }
  return value;
}
