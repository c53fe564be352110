// Copyright 2026 the basehttp authors. MIT license.
// The `serve` command as a child process, for the CLI tests.

/** The command's entry file. */
export const CLI: string = new URL("../cli.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
/** What `deno task serve` grants. */
export const PERMISSIONS: string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-sys=hostname",
];
/** Python's banner line; groups: scheme, host, port, URL scheme, host, port. */
export const BANNER: RegExp =
  /Serving (HTTPS?) on (\S+) port (\d+) \((https?):\/\/(\S+):(\d+)\/\) \.\.\.\n/;

/** A spawned `serve` with its output collected as it arrives. */
export class Serve implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #done: Promise<unknown>;
  #task: boolean;
  #changed: () => void = () => {};

  constructor(
    args: string[],
    {
      cwd,
      permissions = PERMISSIONS,
      env = {},
      task = false,
      processGroup = false,
    }: {
      cwd?: string;
      permissions?: string[];
      env?: Record<string, string>;
      /** Start it as `deno task serve` does, from `cwd`. */
      task?: boolean;
      /** In a process group of its own, as a terminal or systemd starts it. */
      processGroup?: boolean;
    } = {},
  ) {
    this.#task = task;
    this.child = new Deno.Command(Deno.execPath(), {
      args: task
        ? ["task", "-q", "--config", CONFIG, "serve", ...args]
        : ["run", ...permissions, CLI, ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // deno task keeps an INIT_CWD it inherits (from `deno task test`):
      // a task is started as from a shell, without one.
      clearEnv: task,
      detached: processGroup,
      env: { ...(task ? withoutInitCwd() : {}), NO_COLOR: "1", ...env },
    }).spawn();
    this.#done = Promise.all([
      this.#collect(this.child.stdout, (text) => this.stdout += text),
      this.#collect(this.child.stderr, (text) => this.stderr += text),
    ]);
  }

  async #collect(
    stream: ReadableStream<Uint8Array>,
    add: (text: string) => void,
  ): Promise<void> {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      add(text);
      this.#changed();
    }
    this.#changed();
  }

  /** Waits until stdout + stderr match, or fails after `ms`. */
  async waitFor(pattern: RegExp, ms = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    while (true) {
      const match = pattern.exec(this.stdout) ?? pattern.exec(this.stderr);
      if (match !== null) return match;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#changed = resolve;
        timer = setTimeout(resolve, Math.min(left, 100));
      });
      clearTimeout(timer);
    }
  }

  /** Waits for the banner; returns the port it names. */
  async banner(): Promise<number> {
    const match = await this.waitFor(BANNER);
    return Number(match[3]);
  }

  /** Waits for the process to end; returns its exit code. */
  async exit(ms = 15_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), ms);
    });
    const status = await Promise.race([this.child.status, late]);
    clearTimeout(timer);
    if (status === "late") {
      this.child.kill("SIGKILL");
      await this.child.status;
      await this.#done;
      throw new Error(`serve did not exit\nstderr: ${this.stderr}`);
    }
    await this.#done;
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      // deno task passes SIGTERM on to serve; a SIGKILL would orphan it.
      this.child.kill(this.#task ? "SIGTERM" : "SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.#done;
  }
}

/** Runs `serve` to its end. */
export async function run(
  args: string[],
  options: ConstructorParameters<typeof Serve>[1] = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  await using serve = new Serve(args, options);
  const code = await serve.exit();
  return { code, stdout: serve.stdout, stderr: serve.stderr };
}

function withoutInitCwd(): Record<string, string> {
  const { INIT_CWD: _, ...rest } = Deno.env.toObject();
  return rest;
}
