/**
 * Durations on the command line and in WEFTD_* variables, exactly these
 * spellings (docs/configuration.md): a bare number of seconds (`90`, `1.5`), or
 * `<number><unit>` parts with units `d`, `h`, `m`, `s`, `ms`, each at most once
 * and in that order (`500ms`, `90s`, `15m`, `24h`, `1h30m`, `1.5h`, `7d`).
 * No spaces, signs or other units.
 */
const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const NUMBER = String.raw`\d+(?:\.\d+)?`;
const DURATION = new RegExp(`^(?:(${NUMBER})d)?(?:(${NUMBER})h)?(?:(${NUMBER})m)?(?:(${NUMBER})s)?(?:(${NUMBER})ms)?$`);

/** Returns milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const m = DURATION.exec(text);
  if (!m || text === '') return undefined;
  const units = ['d', 'h', 'm', 's', 'ms'] as const;
  return Math.round(units.reduce((total, unit, i) => total + Number(m[i + 1] ?? 0) * (UNIT_MS[unit] ?? 0), 0));
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
