/**
 * Kernel change notifications as the daemon sees them: a small interface so
 * the reconcile loop can repair one entry as soon as the kernel reports it
 * changed, and so loop logic can be tested against an in-memory fake.
 *
 * Contract:
 * - `start` resolves once the kernel subscription is in place. Read the
 *   kernel state only after that: a change made between a read and a later
 *   subscription would never be reported (subscribe first, then dump: the
 *   same rule as Cilium's and Calico's watchers).
 * - A change is a hint, never the state: the handler re-reads or re-plans the
 *   entries it names. A `lost` change means notifications may have been
 *   missed; the handler must read the whole kernel state again. `lost` is
 *   delivered only once monitoring is back in place, so that read sees
 *   everything the missed notifications would have said.
 * - Changes arrive in batches (one per chunk a monitor process wrote), in the
 *   kernel's order within each source.
 * - Nothing the monitor does throws into the caller: failures become `lost`.
 */
import type { KernelChange } from '../core/kernel-change.js';

export type { KernelChange } from '../core/kernel-change.js';

export type KernelChangeHandler = (changes: readonly KernelChange[]) => void;

export interface KernelMonitor {
  /**
   * Starts listening and calls `onChanges` for every batch until `stop`.
   * Resolves when the subscription is in place (or has failed once and will
   * be retried: its recovery is then reported as `lost`). Never rejects.
   */
  start(onChanges: KernelChangeHandler): Promise<void>;
  /** Stops listening; resolves when nothing is left running. No batch is delivered after it resolves. */
  stop(): Promise<void>;
}

/**
 * Calls the handler for each batch, isolating the monitor from it: a handler
 * that throws may have handled only part of a batch, so the exception is
 * caught and the next batch starts with a `lost` change (full resync) rather
 * than escaping into a stream callback, where it would crash the process.
 * Shared by the real monitor and the fake so both behave the same.
 */
export class ChangeDelivery {
  #handler: KernelChangeHandler | undefined;
  #handlerFailed: string | undefined;

  /** Delivers to `handler` from now on; `undefined` stops delivery. */
  set handler(handler: KernelChangeHandler | undefined) {
    this.#handler = handler;
  }

  get active(): boolean {
    return this.#handler !== undefined;
  }

  /** Delivers one batch; an empty one (and one after stop) is dropped. */
  deliver(changes: readonly KernelChange[]): void {
    const handler = this.#handler;
    if (handler === undefined || changes.length === 0) return;
    const failed = this.#handlerFailed;
    this.#handlerFailed = undefined;
    const batch = failed === undefined ? changes : [{ kind: 'lost', reason: failed } as const, ...changes];
    try {
      handler(batch);
    } catch (err) {
      this.#handlerFailed = `the change handler threw: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
}
