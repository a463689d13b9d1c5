/**
 * The kernel WireGuard device: `ip link add weft-wg type wireguard` when it is
 * missing, adopted as it is when it exists (a restart of weftd neither
 * deletes nor re-creates it, so tunnels keep carrying traffic), deleted only
 * by a backend switch, `weftctl cleanup` or a forced change of implementation.
 * Nothing to supervise: the kernel is the device. Argument arrays through the
 * CommandRunner.
 */
import { WeftError } from '../../core/errors.js';
import type { CommandRunner } from '../iproute2/runner.js';
import type { WireguardDeviceProcess } from './wireguard-go-daemon.js';

export function addWireguardLinkArgs(device: string): string[] {
  return ['link', 'add', device, 'type', 'wireguard'];
}

export function linkDetailsArgs(device: string): string[] {
  return ['-d', '-j', 'link', 'show', 'dev', device];
}

/** The link's kind (`wireguard`, `tun`, …): undefined when there is no such link, '' when it has no kind. */
export async function readLinkKind(runner: CommandRunner, device: string): Promise<string | undefined> {
  const result = await runner('ip', linkDetailsArgs(device), { allowFailure: true });
  if (result.exitCode !== 0) {
    if (/does not exist|Cannot find device/.test(result.stderr)) return undefined;
    throw new WeftError('wireguard-device', `ip ${linkDetailsArgs(device).join(' ')} failed: ${result.stderr.trim()}`, { retryable: true });
  }
  try {
    const links = JSON.parse(result.stdout) as { linkinfo?: { info_kind?: string } }[];
    return links[0]?.linkinfo?.info_kind ?? '';
  } catch {
    throw new WeftError('wireguard-device', `ip ${linkDetailsArgs(device).join(' ')} printed no JSON`, { retryable: true });
  }
}

export interface KernelWireguardDeviceOptions {
  readonly device: string;
  readonly runner: CommandRunner;
}

export class KernelWireguardDevice implements WireguardDeviceProcess {
  readonly #options: KernelWireguardDeviceOptions;
  #known = false;

  constructor(options: KernelWireguardDeviceOptions) {
    this.#options = options;
  }

  /** Creates the device when missing; says what it did, undefined when the device was already known. */
  async ensure(): Promise<string | undefined> {
    const { device, runner } = this.#options;
    const kind = await readLinkKind(runner, device);
    if (kind === 'wireguard') {
      if (this.#known) return undefined;
      this.#known = true;
      return `adopted the kernel wireguard device ${device}`;
    }
    if (kind !== undefined) {
      throw new WeftError('wireguard-device', `${device} exists as a ${kind || 'kind-less'} link, not a kernel wireguard device; `
        + `delete it (weftctl cleanup) or run with --wireguard-implementation userspace`, { retryable: true });
    }
    const added = await runner('ip', addWireguardLinkArgs(device), { allowFailure: true });
    if (added.exitCode !== 0) {
      throw new WeftError('wireguard-device', `cannot create the kernel wireguard device ${device}: ${added.stderr.trim() || `exit ${added.exitCode}`}`, { retryable: true });
    }
    this.#known = true;
    return `created the kernel wireguard device ${device}`;
  }
}
