/**
 * Summaries for bench figures. Percentiles are nearest-rank over every sample
 * (p99 of 200 samples is the 198th smallest), so a reported figure is always
 * one that was measured. A timed-out sample is Infinity: it counts in the
 * ranks and shows as "> timeout" instead of being dropped.
 */

/** Nearest-rank percentile (p in 0..100) of the samples; NaN when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] ?? NaN;
}

export const median = (samples: readonly number[]): number => percentile(samples, 50);
export const maximum = (samples: readonly number[]): number => (samples.length === 0 ? NaN : Math.max(...samples));
export const minimum = (samples: readonly number[]): number => (samples.length === 0 ? NaN : Math.min(...samples));

/** `1.23 s` / `45.6 ms` / `0.8 ms`: the unit that keeps three significant digits readable. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return Number.isNaN(ms) ? 'n/a' : '∞';
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}

/** "median (min–max, n runs)" of per-run figures, formatted with `format`. */
export function spread(samples: readonly number[], format: (x: number) => string): string {
  if (samples.length === 0) return 'n/a';
  if (samples.length === 1) return `${format(samples[0] ?? NaN)} (1 run)`;
  return `${format(median(samples))} (${format(minimum(samples))}–${format(maximum(samples))}, ${samples.length} runs)`;
}
