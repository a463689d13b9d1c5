/** Durations on the command line: `90`, `90s`, `15m`, `24h`, `1h30m`, `500ms` (bare numbers are seconds). */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Returns milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 0);
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== trimmed.length) return undefined;
  return Math.round(total);
}

/** `86400000` → `24h`, `5400000` → `1h30m`, `2500` → `2.5s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 1000 !== 0 || ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  let s = Math.floor(ms / 1000);
  const parts: string[] = [];
  // Hours are the largest unit, as in Go's time.Duration and flannel's `24h` TTL.
  for (const [unit, size] of [['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join('');
}
