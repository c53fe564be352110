// Copyright 2026 the basehttp authors. MIT license.
// The load bench's servers that are not ours: nginx, the static-file anchor
// (from the OS packages, like wrk), and npm's http-server, the Node peer
// (installed with npm into a cache folder). Each is found or installed here
// and comes back as a command line for a port, or as the one line that says
// why it is skipped and how to get it.

/** A server's command line for a port and its version, or why it is skipped. */
export type External =
  | { command: (port: number) => string[]; version: string }
  | { skip: string };

const decoder = new TextDecoder();

/** The path of an executable on PATH or in `extra`, or null. */
export async function findExecutable(
  name: string,
  extra: string[] = [],
): Promise<string | null> {
  // Deno puts its own `node` stand-in first on PATH where node is missing.
  const path = (Deno.env.get("PATH") ?? "").split(":")
    .filter((dir) => dir && !dir.endsWith("/node_compat_bin"));
  for (const dir of [...path, ...extra]) {
    try {
      const info = await Deno.stat(`${dir}/${name}`);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return `${dir}/${name}`;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

/**
 * nginx serving `root` on 127.0.0.1 with one worker, `sendfile on` and no
 * access log, in the foreground, its config, pid, error log and temp folders
 * in `dir` (the caller removes it). Each start writes the config for its port.
 * `root` must be readable by the worker's user (nobody, when run as root).
 */
export async function nginx(dir: string, root: string): Promise<External> {
  // Debian puts it in /usr/sbin, which a non-root PATH may lack.
  const bin = await findExecutable("nginx", ["/usr/sbin", "/usr/local/sbin"]);
  if (bin === null) {
    return {
      skip: "nginx not found, its rows skipped: install it with " +
        "`apt-get install nginx-light` (Debian/Ubuntu; or `nginx`)",
    };
  }
  // Only the temp paths of the modules compiled in are valid directives.
  const { stderr } = await new Deno.Command(bin, {
    args: ["-V"],
    stdout: "null",
    stderr: "piped",
  }).output();
  const configure = decoder.decode(stderr);
  const version = /nginx\/(\S+)/.exec(configure)?.[1] ?? "?";
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .filter((m) => !configure.includes(`--without-http_${m}_module`))
    .map((m) => `  ${m}_temp_path ${dir}/${m};`);
  await Deno.mkdir(dir, { recursive: true });
  const config = (port: number) =>
    `# Written by bench/load.ts: nginx as the static-file anchor.
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  # Like a server without a per-connection request cap (nginx's is 1000).
  keepalive_requests 1000000;
  default_type application/octet-stream;
${temps.join("\n")}
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`;
  return {
    version: `nginx ${version}`,
    command: (port) => {
      Deno.writeTextFileSync(`${dir}/nginx.conf`, config(port));
      return [
        bin,
        "-p",
        `${dir}/`,
        "-e",
        `${dir}/error.log`,
        "-c",
        `${dir}/nginx.conf`,
      ];
    },
  };
}

/** The http-server release the bench installs and measures. */
export const HTTP_SERVER_VERSION = "14.1.1";

/**
 * npm's http-server serving `root` on 127.0.0.1, silent (no request log),
 * installed on first use into `cache`/http-server-VERSION.
 */
export async function httpServer(
  cache: string,
  root: string,
): Promise<External> {
  const node = await findExecutable("node");
  if (node === null) {
    return {
      skip: "node not found, http-server rows skipped: install Node.js " +
        "(Debian/Ubuntu: `apt-get install nodejs npm`)",
    };
  }
  const prefix = `${cache}/http-server-${HTTP_SERVER_VERSION}`;
  const bin = `${prefix}/node_modules/http-server/bin/http-server`;
  const problem = await npmInstall(prefix, "http-server", HTTP_SERVER_VERSION);
  if (problem !== null) return { skip: `${problem}: http-server rows skipped` };
  const { stdout } = await new Deno.Command(node, { args: ["--version"] })
    .output();
  return {
    version: `http-server ${HTTP_SERVER_VERSION} (Node ${
      decoder.decode(stdout).trim()
    })`,
    command: (
      port,
    ) => [node, bin, root, "-a", "127.0.0.1", "-p", String(port), "-s"],
  };
}

/** Where npm packages for the bench are installed once and kept. */
export function cacheDir(fallback: string): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return `${xdg}/basehttp-bench`;
  return home ? `${home}/.cache/basehttp-bench` : fallback;
}

/**
 * Installs `name@version` with npm into `prefix`, unless it is there.
 *
 * @returns `null` once installed, else why not, in one line.
 */
export async function npmInstall(
  prefix: string,
  name: string,
  version: string,
): Promise<string | null> {
  const installed = `${prefix}/node_modules/${name}/package.json`;
  if (await Deno.stat(installed).then(() => true, () => false)) return null;
  const npm = await findExecutable("npm");
  if (npm === null) {
    return "npm not found: install it (Debian/Ubuntu: `apt-get install npm`)";
  }
  console.error(`installing ${name}@${version} in ${prefix}`);
  const { success, stderr } = await new Deno.Command(npm, {
    args: [
      "install",
      "--prefix",
      prefix,
      "--no-audit",
      "--no-fund",
      `${name}@${version}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (success) return null;
  const last = decoder.decode(stderr).trim().split("\n").at(-1);
  return `npm install ${name}@${version} failed (${last}); run it by hand with --prefix ${prefix}`;
}
