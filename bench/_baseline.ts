// Copyright 2026 the basehttp authors. MIT license.
// A commit checked out beside the working tree, for the benches' --baseline
// runs: the same instrument drives both trees' servers, rounds alternating.

const decoder = new TextDecoder();

/** Runs git in `repo`; its trimmed stdout. */
async function git(repo: string, ...args: string[]): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command("git", {
    args: ["-C", repo, ...args],
  }).output();
  if (!success) {
    throw new Error(`git ${args.join(" ")}: ${decoder.decode(stderr).trim()}`);
  }
  return decoder.decode(stdout).trim();
}

/** A detached worktree of a commit, removed when disposed. */
export interface BaselineTree extends AsyncDisposable {
  /** The worktree's folder. */
  dir: string;
  /** The commit, abbreviated. */
  short: string;
  /** One line on both trees: the commit, HEAD and modified files. */
  describe: string;
}

/**
 * Checks `ref` out into a temporary `git worktree add --detach` of `repo`.
 *
 * @throws {Error} When `ref` names no commit.
 */
export async function baselineTree(
  repo: string,
  ref: string,
): Promise<BaselineTree> {
  const commit = await git(repo, "rev-parse", "--verify", `${ref}^{commit}`);
  const short = commit.slice(0, 9);
  const head = await git(repo, "rev-parse", "--short=9", "HEAD");
  const dirty =
    (await git(repo, "status", "--porcelain", "--untracked-files=no"))
      .split("\n").filter(Boolean).length;
  const temp = await Deno.makeTempDir({ prefix: "basehttp_baseline_" });
  const dir = `${temp}/tree`;
  await git(repo, "worktree", "add", "--detach", dir, commit);
  return {
    dir,
    short,
    describe: `Baseline ${ref} = ${short} (worktree ${dir}); working tree ` +
      `${repo} at ${head}` +
      (dirty ? ` + ${dirty} modified files` : ", unmodified"),
    async [Symbol.asyncDispose]() {
      await git(repo, "worktree", "remove", "--force", dir).catch((e) =>
        console.error(`warning: ${e.message}`)
      );
      await git(repo, "worktree", "prune").catch(() => {});
      await Deno.remove(temp, { recursive: true }).catch(() => {});
    },
  };
}
