// Copyright 2026 the basehttp authors. MIT license.
// Watches directories for WatchedPaths (_watched_paths.ts), off the server's
// thread. Deno.watchFs waits for Deno's watcher thread, and that thread opens
// each path an event names (to compare files): an event on a FIFO holds it
// until something writes to the FIFO. Here only this worker waits then.
//
// In: { watch: dir, id } and { unwatch: dir }, handled in order.
// Out: { watched: dir, id } once changes in dir are reported; { refused: dir,
// id } when it cannot be watched; { changed: paths } for each event, and for
// a watcher that fails (its directory: what it watched is unknown now).
//
// The worker runs `watchWorker`'s own source from a data: URL, so it needs
// no read permission for this file (`--allow-read=DIR` serves DIR alone):
// the function must not use anything from outside it.

/** A message to this worker. */
export type WatchRequest = { watch: string; id: number } | {
  unwatch: string;
};
/** A message from this worker. */
export type WatchReport =
  | { watched: string; id: number }
  | { refused: string; id: number }
  | { changed: string[] };

/** The worker's program; run as the worker, never in the server. */
function watchWorker(): void {
  const scope = self as unknown as {
    postMessage(message: WatchReport): void;
    onmessage: ((event: MessageEvent<WatchRequest>) => void) | null;
  };
  const watchers = new Map<string, Deno.FsWatcher>();
  const report = (message: WatchReport) => scope.postMessage(message);

  const listen = async (dir: string, watcher: Deno.FsWatcher) => {
    try {
      for await (const event of watcher) report({ changed: event.paths });
    } catch {
      report({ changed: [dir] });
    }
    if (watchers.get(dir) === watcher) watchers.delete(dir);
  };

  scope.onmessage = (event) => {
    const request = event.data;
    if ("unwatch" in request) {
      const watcher = watchers.get(request.unwatch);
      watchers.delete(request.unwatch);
      try {
        watcher?.close();
      } catch {
        // It failed and closed itself.
      }
      return;
    }
    const { watch: dir, id } = request;
    if (watchers.has(dir)) return report({ watched: dir, id });
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(dir, { recursive: false });
    } catch {
      return report({ refused: dir, id }); // gone, or no inotify watch left
    }
    watchers.set(dir, watcher);
    report({ watched: dir, id });
    listen(dir, watcher);
  };
}

/** Starts a watch worker. */
export function startWatchWorker(): Worker {
  const source = `(${watchWorker.toString()})();`;
  return new Worker(
    `data:text/javascript,${encodeURIComponent(source)}`,
    { type: "module" },
  );
}
