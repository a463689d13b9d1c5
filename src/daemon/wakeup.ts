/**
 * A coalescing trigger: any number of ring() calls while nobody waits wake
 * the next wait() once. The reconcile loop waits on it with a timeout, so it
 * runs on every change and on a timer. The timeout runs on the injected
 * clock, so loop tests drive it with a manual one.
 */
import type { Clock } from '../adapters/clock.js';

export class Wakeup {
  readonly #clock: Clock;
  #pending = false;
  #rung: AbortController | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  ring(): void {
    this.#pending = true;
    this.#rung?.abort();
  }

  /** Resolves on ring(), after `ms`, or when the signal aborts. */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#pending || signal.aborted) {
      this.#pending = false;
      return;
    }
    const rung = new AbortController();
    this.#rung = rung;
    try {
      await this.#clock.sleep(ms, AbortSignal.any([signal, rung.signal]));
    } catch {
      // rung or stopped: either way the wait is over
    } finally {
      if (this.#rung === rung) this.#rung = undefined;
      this.#pending = false;
    }
  }
}
