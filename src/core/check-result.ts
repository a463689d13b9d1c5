/** One doctor check's outcome: ok, warn or FAIL, with a concrete fix for the last two. */
export type Verdict = 'ok' | 'warn' | 'FAIL';

export interface CheckResult {
  /** A short stable name: `ip_forward`, `vxlan 10.5.2.0/24`, … */
  readonly check: string;
  readonly verdict: Verdict;
  readonly detail: string;
  /** What to do about a warn or FAIL; null for ok. */
  readonly fix: string | null;
}

export const ok = (check: string, detail: string): CheckResult => ({ check, verdict: 'ok', detail, fix: null });
export const warn = (check: string, detail: string, fix: string): CheckResult => ({ check, verdict: 'warn', detail, fix });
export const fail = (check: string, detail: string, fix: string): CheckResult => ({ check, verdict: 'FAIL', detail, fix });

export function summarize(results: readonly CheckResult[]): { ok: number; warn: number; fail: number } {
  const count = (v: Verdict): number => results.filter((r) => r.verdict === v).length;
  return { ok: count('ok'), warn: count('warn'), fail: count('FAIL') };
}
