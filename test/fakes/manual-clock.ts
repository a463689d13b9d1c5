/**
 * A Clock whose time moves only when a test calls advance(). Sleepers fire in
 * order of their due time (ties in the order they started sleeping), and the
 * code each one wakes runs before the next fires, so a loop that sleeps again
 * sees the right time. A sleep of 0 ms fires on the next advance(), even
 * advance(0), never synchronously.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Clock } from '../../src/adapters/clock.js';

interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly wake: () => void;
}

/** Lets every pending promise continuation run (microtasks drain before a macrotask). */
export async function settle(): Promise<void> {
  await nextMacrotask();
}

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #sleepers: Sleeper[] = [];

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  /** How many sleeps are waiting to fire. */
  get pending(): number {
    return this.#sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      const sleeper: Sleeper = {
        at: this.#now + (Number.isFinite(ms) ? Math.max(0, ms) : 0),
        seq: this.#seq++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Moves time forward by `ms`, firing every sleeper due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let next = this.#due(target); next; next = this.#due(target)) {
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = Math.max(this.#now, next.at);
      next.wake();
      await settle();
    }
    this.#now = Math.max(this.#now, target);
    await settle();
  }

  /** Advances in `stepMs` steps, so code that polls between sleeps gets to run. */
  async advanceInSteps(totalMs: number, stepMs: number): Promise<void> {
    for (let done = 0; done < totalMs; done += stepMs) await this.advance(Math.min(stepMs, totalMs - done));
  }

  #due(target: number): Sleeper | undefined {
    let best: Sleeper | undefined;
    for (const s of this.#sleepers) {
      if (s.at > target) continue;
      if (!best || s.at < best.at || (s.at === best.at && s.seq < best.seq)) best = s;
    }
    return best;
  }
}
