/**
 * TX checksum offload of a link through the `ethtool` binary (`-k` to read,
 * `-K <dev> tx-checksum-ip-generic on|off` to set), with argument arrays.
 * The policy (which value, when) is in src/core/checksum-offload.ts and
 * src/backend/vxlan/data-plane.ts; this only reads and writes the flag.
 */
import { KernelCommandError } from '../core/errors.js';
import { type CommandRunner, execaRunner } from './iproute2/runner.js';

/** The feature weft manages: VXLAN devices report their TX checksum offload under this name. */
export const TX_CHECKSUM_FEATURE = 'tx-checksum-ip-generic';

export interface ChecksumOffloadControl {
  /** The device's `tx-checksum-ip-generic` (true = on); throws KernelCommandError when it cannot be read. */
  readTxChecksum(device: string): Promise<boolean>;
  /** Sets it; throws KernelCommandError on failure. */
  setTxChecksum(device: string, on: boolean): Promise<void>;
}

/** `tx-checksum-ip-generic: on [fixed]` in `ethtool -k` output → true; undefined when the line is missing. */
export function parseTxChecksum(output: string): boolean | undefined {
  const line = output.split('\n').map((l) => l.trim()).find((l) => l.startsWith(`${TX_CHECKSUM_FEATURE}:`));
  if (line === undefined) return undefined;
  const value = line.slice(TX_CHECKSUM_FEATURE.length + 1).trim().split(/\s+/)[0];
  return value === 'on' ? true : value === 'off' ? false : undefined;
}

export class Ethtool implements ChecksumOffloadControl {
  readonly #run: CommandRunner;

  constructor(runner: CommandRunner = execaRunner({ timeoutMs: 10_000 })) {
    this.#run = runner;
  }

  async readTxChecksum(device: string): Promise<boolean> {
    const args = ['-k', device];
    const { stdout } = await this.#run('ethtool', args);
    const on = parseTxChecksum(stdout);
    if (on === undefined) throw new KernelCommandError(`ethtool -k ${device} has no ${TX_CHECKSUM_FEATURE} line`, ['ethtool', ...args], stdout);
    return on;
  }

  async setTxChecksum(device: string, on: boolean): Promise<void> {
    await this.#run('ethtool', ['-K', device, TX_CHECKSUM_FEATURE, on ? 'on' : 'off']);
  }
}
