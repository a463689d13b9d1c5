/** Time as a dependency, so loops can be tested with a manual clock. */
import { setTimeout as sleepTimer } from 'node:timers/promises';

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleepTimer(ms, undefined, signal ? { signal } : undefined);
  },
};
