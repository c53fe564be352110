// Copyright 2026 the basehttp authors. MIT license.
// A minimal Chrome DevTools Protocol client, for the benches that sample a
// server's V8 profilers through `--inspect` (allocations.ts, cpu_profile.ts).

/** A minimal Chrome DevTools Protocol client over the inspector socket. */
export async function inspector(port: number): Promise<{
  call(method: string, params?: object): Promise<Record<string, unknown>>;
  close(): void;
}> {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`))
    .json() as { webSocketDebuggerUrl: string }[];
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let last = 0;
  const waiting = new Map<
    number,
    PromiseWithResolvers<Record<string, unknown>>
  >();
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const call = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error) call?.reject(new Error(message.error.message));
    else call?.resolve(message.result ?? {});
  };
  // A call whose answer cannot come fails, rather than waits for ever.
  let failure: Error | null = null;
  socket.onerror = (event) => {
    failure = new Error(
      `inspector socket: ${(event as ErrorEvent).message ?? "error"}`,
    );
  };
  socket.onclose = () => {
    failure ??= new Error("inspector socket closed");
    for (const call of waiting.values()) call.reject(failure);
    waiting.clear();
  };
  return {
    call(method, params = {}) {
      if (failure !== null) return Promise.reject(failure);
      const id = ++last;
      const call = Promise.withResolvers<Record<string, unknown>>();
      waiting.set(id, call);
      socket.send(JSON.stringify({ id, method, params }));
      return call.promise;
    },
    close: () => socket.close(),
  };
}
