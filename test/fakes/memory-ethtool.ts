/**
 * An in-memory ChecksumOffloadControl over a MemoryKernel's devices: the
 * flag belongs to the device object, so a device that is deleted and
 * created again starts with the kernel's default (on), as a real one does.
 */
import { KernelCommandError } from '../../src/core/errors.js';
import type { ChecksumOffloadControl } from '../../src/adapters/ethtool.js';
import type { MemoryDevice, MemoryKernel } from './memory-kernel.js';

export class MemoryEthtool implements ChecksumOffloadControl {
  readonly #kernel: MemoryKernel;
  readonly #flags = new WeakMap<MemoryDevice, boolean>();
  /** Every call, e.g. `-k weft.1`, `-K weft.1 off`. */
  readonly calls: string[] = [];
  /** When set, every call fails with this message (ethtool missing, say). */
  failWith: string | undefined;

  constructor(kernel: MemoryKernel) {
    this.#kernel = kernel;
  }

  async readTxChecksum(device: string): Promise<boolean> {
    this.calls.push(`-k ${device}`);
    const dev = this.#device(device);
    return this.#flags.get(dev) ?? true;
  }

  async setTxChecksum(device: string, on: boolean): Promise<void> {
    this.calls.push(`-K ${device} ${on ? 'on' : 'off'}`);
    this.#flags.set(this.#device(device), on);
  }

  #device(name: string): MemoryDevice {
    if (this.failWith !== undefined) throw new KernelCommandError(this.failWith, ['ethtool', name], this.failWith);
    const dev = this.#kernel.devices.get(name);
    if (!dev) throw new KernelCommandError('netlink error: no device matches name', ['ethtool', name], '');
    return dev;
  }
}
