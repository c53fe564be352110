// Copyright 2026 the basehttp authors. MIT license.
// What Linux's /proc tells of a server under load: its processes, and the
// CPU time they spent in their own code (user) and in the kernel (system).

const TICKS_PER_SECOND = 100; // Linux's USER_HZ

/** CPU seconds a process and its descendants have used so far. */
export interface CpuTimes {
  /** In the processes' own code: JavaScript, V8, Deno's Rust. */
  user: number;
  /** In the kernel on their behalf: sockets, files. */
  system: number;
}

/** A process and all its descendants (nginx's worker, serve's workers). */
export async function processTree(pid: number): Promise<number[]> {
  const tree = [pid];
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
      const list = await Deno.readTextFile(
        `/proc/${pid}/task/${task.name}/children`,
      ).catch(() => ""); // a thread that ended meanwhile
      for (const child of list.split(" ").filter(Boolean)) {
        tree.push(...await processTree(Number(child)));
      }
    }
  } catch {
    // Gone.
  }
  return tree;
}

/** The CPU times of `pid` and its descendants; NaN once `pid` is gone. */
export async function cpuTimes(pid: number): Promise<CpuTimes> {
  let user = 0;
  let system = 0;
  for (const each of await processTree(pid)) {
    try {
      const stat = await Deno.readTextFile(`/proc/${each}/stat`);
      // Fields after the command name, which is in parentheses and may hold
      // spaces: utime is the 14th field, stime the 15th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      user += Number(fields[11]);
      system += Number(fields[12]);
    } catch {
      if (each === pid) return { user: NaN, system: NaN };
    }
  }
  return { user: user / TICKS_PER_SECOND, system: system / TICKS_PER_SECOND };
}
