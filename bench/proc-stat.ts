/**
 * Parsers for /proc/<pid>/stat and /proc/<pid>/status (proc(5)). Pure, so
 * they have unit tests; proc.ts reads the files.
 */

export interface ProcCpu {
  readonly comm: string;
  /** Clock ticks in user and kernel mode, this process's own threads. */
  readonly utime: number;
  readonly stime: number;
  /** Clock ticks of children it has waited for (reaped `ip`/`bridge` runs end up here). */
  readonly cutime: number;
  readonly cstime: number;
}

/** Fields 14–17 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcCpu {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  // After ") ": field 3 (state) is index 0, so field N is index N - 3.
  const rest = text.slice(close + 2).trim().split(/\s+/).map(Number);
  const at = (fieldNumber: number): number => {
    const value = rest[fieldNumber - 3];
    if (value === undefined || Number.isNaN(value)) throw new Error(`/proc/<pid>/stat has no numeric field ${fieldNumber}`);
    return value;
  };
  return { comm: text.slice(open + 1, close), utime: at(14), stime: at(15), cutime: at(16), cstime: at(17) };
}

/** A `Name:   123 kB` line of /proc/<pid>/status, in kB; undefined when absent (kernel threads, zombies). */
export function statusKb(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
