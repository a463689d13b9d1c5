/** Processes as /proc shows them: the children of a process (by PID), for tests that check which helpers run. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcEntry {
  readonly pid: number;
  /** The command name (/proc/<pid>/comm). */
  readonly comm: string;
}

/** The direct children of `pid`, over all its threads; [] when it is gone. */
export function childrenOf(pid: number): ProcEntry[] {
  const out: ProcEntry[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of text.split(' ').filter((x) => x.trim() !== '').map(Number)) {
      try {
        out.push({ pid: child, comm: readFileSync(`/proc/${child}/comm`, 'utf8').trim() });
      } catch {
        // gone in between
      }
    }
  }
  return out;
}
