/**
 * Start-up steps that talk to etcd (claiming the node name, acquiring the
 * lease) are retried while etcd is unreachable or answers with an error:
 * start-up waits, as it does for a missing config, instead of exiting and
 * letting a thousand supervisors restart a thousand daemons in lockstep.
 * Capped exponential backoff with jitter; the log is throttled.
 */
import type { Logger } from 'pino';
import { RegistryError, WeftError, errorMessage } from '../core/errors.js';
import type { Clock } from '../adapters/clock.js';
import { Backoff } from './jitter.js';
import { ThrottledLog } from './throttled-log.js';

export interface StartupRetryDeps {
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly minMs?: number;
  readonly maxMs?: number;
}

/** etcd trouble (and a lost allocation race) is worth waiting out; anything else is a real start-up failure. */
export function isRetryableAtStartup(err: unknown): boolean {
  return err instanceof RegistryError || (err instanceof WeftError && err.code === 'lease-race');
}

export async function retryAtStartup<T>(what: string, step: () => Promise<T>, deps: StartupRetryDeps, signal: AbortSignal): Promise<T> {
  const backoff = new Backoff(deps.minMs ?? 500, deps.maxMs ?? 30_000, deps.random);
  const throttled = new ThrottledLog(deps.log, 60_000, () => deps.clock.now());
  let failures = 0;
  for (;;) {
    signal.throwIfAborted();
    try {
      const result = await step();
      if (failures > 0) deps.log.info({ step: what, failures }, 'start-up step succeeded after etcd trouble');
      return result;
    } catch (err) {
      if (signal.aborted || !isRetryableAtStartup(err)) throw err;
      failures++;
      const delay = backoff.next();
      throttled.warn(what, { step: what, err: errorMessage(err), retryInMs: delay, failures }, 'start-up step failed (etcd unreachable or erroring); waiting and retrying');
      await deps.clock.sleep(delay, signal);
    }
  }
}
