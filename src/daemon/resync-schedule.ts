/**
 * When the reconcile loop must resync (read the kernel instead of planning
 * against the data plane's cached state): on the first pass, then one
 * interval after each resync ended, however many event passes come in
 * between. A loop that only waited one interval after every pass would never
 * resync while events keep arriving faster than that. When a resync falls
 * due, `onDue` wakes the loop. Timed with the injected clock's sleep (a
 * monotonic timer on the system clock), so wall-clock jumps do not matter.
 */
import type { Clock } from '../adapters/clock.js';

export interface ResyncScheduleDeps {
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly onDue: () => void;
}

export class ResyncSchedule {
  readonly #deps: ResyncScheduleDeps;
  #due = true;
  #timer: AbortController | undefined;

  /** Stops timing when `signal` aborts. */
  constructor(deps: ResyncScheduleDeps, signal: AbortSignal) {
    this.#deps = deps;
    signal.addEventListener('abort', () => this.#timer?.abort(), { once: true });
  }

  /** True when the next pass must be a resync. */
  get due(): boolean {
    return this.#due;
  }

  /** Records that a resync pass just ended (successful or not): the next one is due an interval from now. */
  resynced(): void {
    this.#due = false;
    this.#timer?.abort();
    const timer = new AbortController();
    this.#timer = timer;
    this.#deps.clock.sleep(this.#deps.intervalMs, timer.signal).then(() => {
      this.#due = true;
      this.#deps.onDue();
    }, () => undefined);
  }
}
