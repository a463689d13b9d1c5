/**
 * An in-memory UnderlayPort that reads the interfaces of a MemoryKernel (so
 * the follower and the data plane's prepare() see the same underlay), with
 * `notify` playing a kernel notification: delivered in a later macrotask,
 * only while a watch runs, as from the real monitor child.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { UnderlayReading } from '../../src/core/underlay-change.js';
import type { UnderlayPort, UnderlayWatch } from '../../src/adapters/underlay.js';
import type { MemoryKernel } from './memory-kernel.js';

export class MemoryUnderlay implements UnderlayPort {
  readonly #kernel: MemoryKernel;
  readonly #watchers = new Map<string, (reason: string) => void>();
  /** Every read, by interface name. */
  readonly reads: string[] = [];
  /** Set to make reads fail (the `ip` command failing, not the interface missing). */
  failReads: string | undefined;

  constructor(kernel: MemoryKernel) {
    this.#kernel = kernel;
  }

  async read(name: string): Promise<UnderlayReading | undefined> {
    this.reads.push(name);
    if (this.failReads !== undefined) throw new Error(this.failReads);
    const v4 = this.#kernel.interfaces.find((i) => i.name === name);
    if (!v4) return undefined;
    const v6 = this.#kernel.interfaces6.find((i) => i.name === name) ?? { name, index: v4.index, mtu: v4.mtu, addresses: [] };
    return { v4, v6 };
  }

  async watch(name: string, onChange: (reason: string) => void): Promise<UnderlayWatch> {
    this.#watchers.set(name, onChange);
    return { stop: async () => { this.#watchers.delete(name); } };
  }

  get watching(): readonly string[] {
    return [...this.#watchers.keys()];
  }

  async notify(name: string, reason = 'address changed'): Promise<void> {
    await nextMacrotask();
    this.#watchers.get(name)?.(reason);
  }
}
