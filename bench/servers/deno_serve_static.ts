// Copyright 2026 the basehttp authors. MIT license.
// A static file server on Deno.serve written the obvious way:
// `deno run -A deno_serve_static.ts PORT ROOT`.
const root = Deno.args[1];

Deno.serve(
  { hostname: "127.0.0.1", port: Number(Deno.args[0]), onListen() {} },
  async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path.includes("..")) return new Response("Forbidden", { status: 403 });
    try {
      const file = await Deno.open(root + path);
      const { size } = await file.stat();
      return new Response(file.readable, {
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Length": String(size),
        },
      });
    } catch {
      return new Response("Not Found", { status: 404 });
    }
  },
);
