// Copyright 2026 the basehttp authors. MIT license.
// Watches directories for WatchedPaths (_watched_paths.ts), off the server's
// thread. Deno.watchFs waits for Deno's watcher thread, and that thread opens
// each path an event names (to compare files): an event on a FIFO holds it
// until something writes to the FIFO. Here only this worker waits then.
//
// In: { watch: dir, id } and { unwatch: dir }, handled in order.
// Out: { watched: id } once changes in dir are reported; { changed: paths }
// for each event; { failed: dir } when a directory cannot be watched.

/** A message to this worker. */
export type WatchRequest = { watch: string; id: number } | {
  unwatch: string;
};
/** A message from this worker. */
export type WatchReport = { watched: number } | { changed: string[] } | {
  failed: string;
};

/** The worker's global scope, as much of it as is used here. */
const scope = self as unknown as {
  postMessage(message: WatchReport): void;
  onmessage: ((event: MessageEvent<WatchRequest>) => void) | null;
};
const watchers = new Map<string, Deno.FsWatcher>();

function report(message: WatchReport): void {
  scope.postMessage(message);
}

async function listen(dir: string, watcher: Deno.FsWatcher): Promise<void> {
  try {
    for await (const event of watcher) report({ changed: event.paths });
  } catch {
    report({ failed: dir });
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  if ("unwatch" in request) {
    watchers.get(request.unwatch)?.close();
    watchers.delete(request.unwatch);
    return;
  }
  const { watch: dir, id } = request;
  if (watchers.has(dir)) return report({ watched: id });
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(dir, { recursive: false });
  } catch {
    return report({ failed: dir }); // gone, or no inotify watches left
  }
  watchers.set(dir, watcher);
  report({ watched: id });
  listen(dir, watcher);
};
