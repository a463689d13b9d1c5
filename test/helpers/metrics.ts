/** Reading weftd's /metrics text in tests. */

/** The value of the first sample of `name` (a metric name, or a name with its labels); NaN when absent. */
export function metric(body: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(body);
  return m?.[1] === undefined ? NaN : Number(m[1]);
}

/** Polls `check` every 200 ms until it is true (true) or `timeoutMs` passed (false). */
export async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
