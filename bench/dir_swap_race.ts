// Copyright 2026 the basehttp authors. MIT license.
// The static handler against a writer under its root that flips a directory
// on the path between itself and a symlink out of the root, as fast as it
// can, for three seconds, while GETs run one after another. Prints how the
// answers went; "top secret" is the file outside the root, and should not
// appear (counted as "200 top secret"). Loopback only; stops by itself.
//
//   deno run -A bench/dir_swap_race.ts [--no-cache]
import { HTTPServer } from "../mod.ts";
import { simpleHandler } from "../static.ts";
import { race } from "../tests/_static.ts";

const tmp = await Deno.makeTempDir({ prefix: "basehttp_race_" });
const root = `${tmp}/www`;
await Deno.mkdir(`${root}/rd`, { recursive: true });
await Deno.mkdir(`${tmp}/outside/rd`, { recursive: true });
await Deno.writeTextFile(`${root}/rd/x.txt`, "inside");
await Deno.writeTextFile(`${tmp}/outside/rd/x.txt`, "top secret");
// Files changed in the last 2 s are not cached: let these settle.
await new Promise((resolve) => setTimeout(resolve, 2100));

const cache = Deno.args.includes("--no-cache") ? { fileCache: null } : {};
class Handler extends simpleHandler({
  directory: root,
  protocolVersion: "HTTP/1.1",
  ...cache,
}) {
  override logMessage(): void {}
}
const httpd = new HTTPServer(["127.0.0.1", 0], Handler);
const serving = httpd.serveForever(0.05);
const counts = await race(
  httpd.serverPort,
  "/rd/x.txt",
  `Deno.renameSync("${root}/rd", "${root}/.rd");
   Deno.symlinkSync("${tmp}/outside/rd", "${root}/rd");
   Deno.removeSync("${root}/rd");
   Deno.renameSync("${root}/.rd", "${root}/rd");`,
  3000,
);
console.log(JSON.stringify(Object.fromEntries(counts)));
await httpd.shutdown();
await serving;
httpd.close();
await Deno.remove(tmp, { recursive: true });
