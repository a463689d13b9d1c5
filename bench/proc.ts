/**
 * weftd seen through /proc: its memory and CPU, and those of every process
 * under it (long-lived `ip`/`bridge` children, or the one-shot ones of a
 * pass). Children are found through /proc/<pid>/task/<tid>/children, which
 * lists the children of each thread (CONFIG_PROC_CHILDREN).
 */
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { childrenOf } from '../test/helpers/proc.js';
import { parseProcStat, statusKb } from './proc-stat.js';

const read = (path: string): string | undefined => {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
};

/** Every live descendant of `pid` (children, their children, …), not `pid` itself. */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of childrenOf(next)) {
      if (!found.includes(child.pid)) { found.push(child.pid); queue.push(child.pid); }
    }
  }
  return found;
}

export interface ChildMemory {
  /** Its command line (`ip -force -batch -`), shortened. */
  readonly command: string;
  readonly rssKb: number;
}

export interface TreeMemory {
  /** weftd's own VmRSS and VmHWM (peak), kB. */
  readonly rssKb: number;
  readonly hwmKb: number;
  /** Sum of VmRSS over its live descendants, kB, and each of them. */
  readonly childrenRssKb: number;
  readonly children: readonly ChildMemory[];
  /**
   * Private memory (smaps_rollup Private_Clean + Private_Dirty, "USS") summed
   * over weftd and its descendants, kB: what stopping them would free. RSS
   * also counts pages shared with other processes (Node's code with every
   * other node process, libc), so summed RSS overstates the tree.
   */
  readonly treePrivateKb: number;
}

function commandLine(pid: number): string {
  return (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ').slice(0, 60) || String(pid);
}

export function treeMemory(pid: number): TreeMemory {
  const status = read(`/proc/${pid}/status`);
  if (status === undefined) throw new Error(`process ${pid} is gone: no /proc/${pid}/status`);
  const privateKb = (p: number): number => {
    const rollup = read(`/proc/${p}/smaps_rollup`) ?? '';
    return (statusKb(rollup, 'Private_Clean') ?? 0) + (statusKb(rollup, 'Private_Dirty') ?? 0);
  };
  let treePrivateKb = privateKb(pid);
  const children: ChildMemory[] = [];
  for (const child of descendants(pid)) {
    const text = read(`/proc/${child}/status`);
    if (text === undefined) continue;
    children.push({ command: commandLine(child), rssKb: statusKb(text, 'VmRSS') ?? 0 });
    treePrivateKb += privateKb(child);
  }
  return { rssKb: statusKb(status, 'VmRSS') ?? NaN, hwmKb: statusKb(status, 'VmHWM') ?? NaN,
    childrenRssKb: children.reduce((sum, c) => sum + c.rssKb, 0), children, treePrivateKb };
}

/**
 * CPU clock ticks used so far by `pid` and everything under it: for each live
 * process utime + stime + cutime + cstime. A child that exits and is reaped
 * between two readings moves from "live" into its parent's cutime/cstime, so
 * the difference of two readings counts it once.
 */
export function treeCpuTicks(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid)]) {
    const text = read(`/proc/${p}/stat`);
    if (text === undefined) {
      if (p === pid) throw new Error(`process ${pid} is gone: no /proc/${pid}/stat`);
      continue;
    }
    const cpu = parseProcStat(text);
    ticks += cpu.utime + cpu.stime + cpu.cutime + cpu.cstime;
  }
  return ticks;
}

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux). */
export async function clockTicksPerSecond(): Promise<number> {
  const value = Number((await execa('getconf', ['CLK_TCK'])).stdout.trim());
  return Number.isInteger(value) && value > 0 ? value : 100;
}
