// Copyright 2026 the basehttp authors. MIT license.
// Fuzzing the static handler's paths: random request-targets made of the
// names of a small tree (files, a dot-directory, dotfiles, symlinks to a
// file and a directory outside the root, one inside, one to a dotfile),
// `.` and `..`, empty segments, each character percent-encoded or not,
// `%2F` for a slash, backslashes, NUL, bytes that are not UTF-8, a query.
// A small model resolves each the way the README says (decoded, dot
// segments resolved under the root, nothing named with a leading dot,
// symlinks followed only inside the root): a file is served with its bytes
// exactly when the model finds it, a directory is listed (without its
// dotfiles) at a path that ends in "/" and else redirected there, anything
// else is refused, and nothing outside the root or behind a dot is ever in
// a body. The seed is in the test name;
// rerun one with FUZZ_SEED=<n>, or try a fresh one with FUZZ_SEED=random.
import assert from "node:assert/strict";
import { fuzzSeed, mulberry32, startServer } from "./_util.ts";
import { rawRequest, treeHandler } from "./_static.ts";

const CASES = 2000;
const WORKERS = 8;

const SEED = fuzzSeed(20261207);

/** What a name under the root is, in the model. */
type Entry =
  | { file: string }
  | { dir: true }
  | { link: string } // a path from the root
  | { outside: "file" | "dir" };

// Every body is a marker of its own; the forbidden ones must never show.
const TREE: Record<string, Entry> = {
  "a.txt": { file: "A-FILE" },
  "é x.txt": { file: "UNICODE-FILE" },
  "sub": { dir: true },
  "sub/b.txt": { file: "B-FILE" },
  "sub/.hidden": { file: "DOT-HIDDEN" },
  ".env": { file: "DOT-ENV" },
  ".git": { dir: true },
  ".git/config": { file: "DOT-GIT" },
  "link-in": { link: "sub" },
  "link-dot": { link: ".env" },
  "link-secret": { outside: "file" },
  "link-out": { outside: "dir" },
};
const FORBIDDEN = ["SECRET-OUTSIDE", "DOT-HIDDEN", "DOT-ENV", "DOT-GIT"];
const NAMES = [
  ...new Set(Object.keys(TREE).flatMap((path) => path.split("/"))),
  "secret.txt",
  "missing",
  "..",
  ".",
  "",
];

type Outcome = { file: string } | { dir: string } | "refused";

/** Where `decoded` (a path, or null when it does not decode) leads. */
function resolve(decoded: string | null): Outcome {
  if (decoded === null || /[\0\\]/.test(decoded)) return "refused";
  const parts: string[] = [];
  for (const part of decoded.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  if (parts.some((part) => part.startsWith("."))) return "refused";
  let real = "";
  for (const part of parts) {
    const here = TREE[real];
    if (here !== undefined && !("dir" in here)) return "refused"; // a file's
    const path = real === "" ? part : `${real}/${part}`;
    let entry: Entry | undefined = TREE[path];
    let to = path;
    while (entry !== undefined && "link" in entry) {
      to = entry.link;
      entry = TREE[to];
    }
    if (entry === undefined || "outside" in entry) return "refused";
    real = to;
  }
  if (real.split("/").some((part) => part.startsWith("."))) return "refused";
  const entry = TREE[real];
  if (entry !== undefined && "file" in entry) {
    return decoded.endsWith("/") ? "refused" : { file: entry.file };
  }
  return { dir: real };
}

/** A random target, and the path it decodes to (null: not UTF-8). */
function makeTarget(random: () => number): [string, string | null] {
  const int = (n: number) => Math.floor(random() * n);
  let raw = "";
  let decoded = "";
  let utf8 = true;
  const hex = (byte: number) => {
    const text = byte.toString(16).padStart(2, "0");
    return "%" + (random() < 0.5 ? text.toUpperCase() : text);
  };
  const put = (char: string) => {
    const encode = char === " " || char === "%" || char === "?" ||
      char === "#" || char > "\x7f" || random() < 0.15;
    raw += encode
      ? [...new TextEncoder().encode(char)].map(hex).join("")
      : char;
    decoded += char;
  };
  for (let n = 1 + int(3); n > 0; n--) {
    put("/");
    const roll = random();
    if (roll < 0.02) {
      raw += "\\";
      decoded += "\\";
    } else if (roll < 0.03) {
      raw += "%00";
      decoded += "\0";
    } else if (roll < 0.04) {
      raw += "%ff";
      utf8 = false;
    } else if (roll < 0.05) {
      raw += "%252e"; // decodes once, to a name "%2e"
      decoded += "%2e";
    }
    for (const char of NAMES[int(NAMES.length)]) put(char);
  }
  if (random() < 0.3) put("/");
  if (random() < 0.2) raw += "?q=../.env";
  return [raw.startsWith("/") ? raw : "/" + raw, utf8 ? decoded : null];
}

async function makeTree(): Promise<{ root: string; tmp: string }> {
  const tmp = await Deno.makeTempDir({ prefix: "basehttp_static_fuzz_" });
  const root = `${tmp}/www`;
  await Deno.mkdir(`${tmp}/outside`);
  await Deno.writeTextFile(`${tmp}/outside/secret.txt`, "SECRET-OUTSIDE");
  await Deno.mkdir(root);
  for (const [path, entry] of Object.entries(TREE)) {
    const at = `${root}/${path}`;
    if ("file" in entry) await Deno.writeTextFile(at, entry.file);
    else if ("dir" in entry) await Deno.mkdir(at);
    else if ("link" in entry) await Deno.symlink(`${root}/${entry.link}`, at);
    else {
      const target = entry.outside === "file"
        ? `${tmp}/outside/secret.txt`
        : `${tmp}/outside`;
      await Deno.symlink(target, at);
    }
  }
  return { root, tmp };
}

Deno.test(`static fuzz: ${CASES} random paths over a tree with dotfiles and symlinks (seed ${SEED}; rerun with FUZZ_SEED=${SEED})`, async () => {
  const { root, tmp } = await makeTree();
  try {
    const logs: string[] = [];
    await using server = startServer(treeHandler(root, logs));
    const random = mulberry32(SEED);
    const cases = Array.from({ length: CASES }, () => makeTarget(random));
    const tally = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < CASES) {
          const [target, decoded] = cases[next++];
          const response = await rawRequest(server.port, target);
          const where = `${target} (seed ${SEED})`;
          for (const marker of FORBIDDEN) {
            assert.ok(!response.text.includes(marker), `${where}: ${marker}`);
          }
          const expected = resolve(decoded);
          if (expected === "refused") {
            assert.ok(
              [400, 403, 404].includes(response.status),
              `${where}: ${response.status}, not refused`,
            );
          } else if ("file" in expected) {
            assert.equal(response.status, 200, where);
            assert.equal(response.body, expected.file, where);
          } else {
            // A directory is listed at a path that ends in "/" once decoded
            // (so "%2F" counts), else redirected to it.
            const status = decoded!.endsWith("/") ? 200 : 301;
            assert.equal(response.status, status, where);
            if (status === 301) {
              // The target as sent with a "/" added, its query kept; a
              // leading "//" is one "/", or it would name another host.
              const [path, query] = target.split(/(?=\?)/);
              const location = path.replace(/^\/+/, "/") + "/" + (query ?? "");
              assert.equal(response.get("location"), location, where);
            }
            // A listing's entries are links; its title is the target sent.
            for (
              const [, href] of response.body.matchAll(/<a href="([^"]*)"/g)
            ) {
              if (href === "../" || /^(\?|data:)/.test(href)) continue;
              const name = decodeURIComponent(href).replace(/\/$/, "");
              assert.ok(
                !name.startsWith(".") && name !== "secret.txt",
                `${where}: lists ${name}`,
              );
            }
          }
          const key = String(response.status);
          tally.set(key, (tally.get(key) ?? 0) + 1);
        }
      }),
    );
    console.log(
      `static fuzz seed ${SEED}: ${CASES} paths, ` +
        [...tally].sort().map(([status, n]) => `${n} × ${status}`).join(", "),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
