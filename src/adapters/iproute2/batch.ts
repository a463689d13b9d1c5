/**
 * Reading the stderr of `ip -force -batch -` / `bridge -force -batch -`.
 * Each failed line is reported as `Command failed -:<line>` after the error
 * text for that line. `ip neigh` is the exception: a kernel error there makes
 * `ip` exit(2) on the spot, leaving its message after the last report and no
 * line number; the caller recovers from that (see IpRoute2.apply).
 */
const FAILED_RE = /^Command failed .*:(\d+)$/;

export interface BatchErrors {
  /** 1-based line number → the error text printed for it. */
  readonly failedLines: ReadonlyMap<number, string>;
  /** The highest reported line (0 when none): every line up to it was processed. */
  readonly lastReportedLine: number;
  /** Text after the last report: the message of the line that stopped the tool, if it stopped early. */
  readonly trailing: string;
}

export function parseBatchErrors(stderr: string): BatchErrors {
  const failedLines = new Map<number, string>();
  let pending: string[] = [];
  let lastReportedLine = 0;
  for (const raw of stderr.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = FAILED_RE.exec(line);
    if (m) {
      const n = Number(m[1]);
      failedLines.set(n, pending.join('; ') || 'failed');
      lastReportedLine = Math.max(lastReportedLine, n);
      pending = [];
    } else {
      pending.push(line);
    }
  }
  return { failedLines, lastReportedLine, trailing: pending.join('; ') };
}

/** How one batch run ended: `finished` when the tool got to the end of it. */
export interface BatchOutcome {
  readonly finished: boolean;
  /** 1-based line of the batch → the error printed for it. */
  readonly failedLines: ReadonlyMap<number, string>;
  readonly lastReportedLine: number;
  /** Why the tool stopped early (its last message), when it did. */
  readonly trailing: string;
}
