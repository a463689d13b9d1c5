/**
 * Logging for conditions that repeat (etcd unreachable, a failing pass):
 * the first occurrence is logged, then at most one line per interval with
 * the number of suppressed repeats, so an outage never floods the journal.
 */
import type { Logger } from 'pino';

export class ThrottledLog {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #now: () => number;

  constructor(log: Logger, intervalMs = 60_000, now: () => number = Date.now) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Logs at warn unless the same `topic` was logged less than the interval ago. */
  warn(topic: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.#now();
    const state = this.#last.get(topic);
    if (state && now - state.at < this.#intervalMs) {
      state.suppressed++;
      return;
    }
    this.#log.warn({ ...fields, ...(state && state.suppressed > 0 ? { suppressedRepeats: state.suppressed } : {}) }, msg);
    this.#last.set(topic, { at: now, suppressed: 0 });
  }

  /** Marks the condition as over; logs recovery at info if it had been logged. */
  clear(topic: string, fields: Record<string, unknown>, msg: string): void {
    if (this.#last.delete(topic)) this.#log.info(fields, msg);
  }
}
