/**
 * An in-memory KernelMonitor with the semantics the daemon may rely on:
 * nothing is delivered before `start` or after `stop`; a batch arrives in a
 * later macrotask than the `emit` that caused it (never inside the caller's
 * synchronous code, as with a real child's output); a handler that throws
 * gets a `lost` change at the head of the next batch (the same ChangeDelivery
 * as the real monitor); `start` twice is a bug and throws.
 *
 * `changesFor` says what the real kernel reports for an operation, as
 * captured from iproute2 6.1 (test/fixtures/iproute2/monitor-*.txt), so a
 * test can play "someone deleted this entry by hand" faithfully.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { KernelChange } from '../../src/core/kernel-change.js';
import { type KernelOp, WEFT_ROUTE_PROTOCOL } from '../../src/core/kernel-state.js';
import { ChangeDelivery, type KernelChangeHandler, type KernelMonitor } from '../../src/adapters/kernel-monitor.js';

export class MemoryKernelMonitor implements KernelMonitor {
  readonly #delivery = new ChangeDelivery();
  #state: 'new' | 'running' | 'stopped' = 'new';
  /** Every batch delivered to the handler, in order. */
  readonly delivered: (readonly KernelChange[])[] = [];

  get state(): 'new' | 'running' | 'stopped' {
    return this.#state;
  }

  async start(onChanges: KernelChangeHandler): Promise<void> {
    if (this.#state !== 'new') throw new Error(`MemoryKernelMonitor.start called when ${this.#state}`);
    this.#state = 'running';
    this.#delivery.handler = (changes) => {
      this.delivered.push(changes);
      onChanges(changes);
    };
  }

  async stop(): Promise<void> {
    this.#state = 'stopped';
    this.#delivery.handler = undefined;
  }

  /**
   * Delivers `changes` as one batch in the next macrotask, if the monitor is
   * running then; resolves after that. A kernel change made while nobody is
   * subscribed is simply never seen, as with the real kernel.
   */
  async emit(...changes: KernelChange[]): Promise<void> {
    const wasRunning = this.#state === 'running';
    await nextMacrotask();
    if (wasRunning) this.#delivery.deliver(changes);
  }

  /** Reports that notifications may have been missed (overflow, restart). */
  async lose(reason = 'notifications dropped (test)'): Promise<void> {
    await this.emit({ kind: 'lost', reason });
  }
}

/**
 * What `ip monitor` / `bridge monitor` report when `op` is applied on
 * `device` (by weft or by hand): a route delete names the route as it was,
 * an unmarked (legacy) route reads protocol 3 (`boot`); a neighbour delete is
 * a FAILED entry without lladdr and then its deletion.
 */
export function changesFor(device: string, op: KernelOp): KernelChange[] {
  const deleted = op.action === 'delete';
  switch (op.kind) {
    case 'route': return [{ kind: 'route', deleted, device, type: 'unicast', dst: op.entry.dst, via: op.entry.via,
      protocol: op.entry.legacy ? 3 : WEFT_ROUTE_PROTOCOL, onlink: true, metric: 0 }];
    case 'fdb': return [{ kind: 'fdb', deleted, device, mac: op.entry.mac, dst: op.entry.dst, self: true, permanent: true }];
    case 'neighbor': return deleted
      ? [false, true].map((d) => ({ kind: 'neighbor', deleted: d, device, ip: op.entry.ip, mac: undefined, state: ['FAILED'], permanent: false }))
      : [{ kind: 'neighbor', deleted, device, ip: op.entry.ip, mac: op.entry.mac, state: ['PERMANENT'], permanent: true }];
  }
}
