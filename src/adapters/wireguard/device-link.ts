/**
 * The kernel side of the WireGuard device that the UAPI socket does not
 * cover: its interface index (to tell a re-created device from the same one)
 * and the one network route on it, marked with weft's route protocol.
 * Argument arrays through the CommandRunner; reads are `-j` JSON.
 */
import { readFile } from 'node:fs/promises';
import type { Cidr } from '../../core/cidr.js';
import { KernelCommandError } from '../../core/errors.js';
import { WEFT_ROUTE_PROTOCOL } from '../../core/kernel-state.js';
import type { CommandRunner } from '../iproute2/runner.js';
import type { DeviceRoute } from '../../core/wireguard/device.js';

export type { DeviceRoute };

/** Reads the routes on a device (WireguardLink; a fake in unit tests). */
export interface DeviceRoutes {
  routes(name: string): Promise<DeviceRoute[]>;
  replaceRoute(name: string, network: Cidr): Promise<void>;
}

export class WireguardLink implements DeviceRoutes {
  readonly #run: CommandRunner;

  constructor(runner: CommandRunner) {
    this.#run = runner;
  }

  /** The device's ifindex, or undefined when it does not exist (this network namespace's /sys). */
  async ifindex(name: string): Promise<number | undefined> {
    const text = await readFile(`/sys/class/net/${name}/ifindex`, 'utf8').catch(() => undefined);
    return text === undefined ? undefined : Number(text.trim());
  }

  /** The routes on the device (main table), protocols numeric. */
  async routes(name: string): Promise<DeviceRoute[]> {
    const args = ['-N', '-j', 'route', 'show', 'dev', name];
    const result = await this.#run('ip', args);
    let parsed: unknown;
    try {
      parsed = JSON.parse(result.stdout.trim() === '' ? '[]' : result.stdout);
    } catch {
      throw new KernelCommandError(`ip ${args.join(' ')} printed no JSON`, ['ip', ...args], result.stderr);
    }
    return (Array.isArray(parsed) ? parsed : []).map((r: Record<string, unknown>) => ({
      dst: String(r['dst']),
      protocol: r['protocol'] === undefined ? undefined : String(r['protocol']),
      scope: r['scope'] === undefined ? undefined : String(r['scope']),
    }));
  }

  /** `ip route replace <network> dev <name> scope link proto 87`. */
  async replaceRoute(name: string, network: Cidr): Promise<void> {
    await this.#run('ip', ['route', 'replace', network, 'dev', name, 'scope', 'link', 'proto', String(WEFT_ROUTE_PROTOCOL)]);
  }
}
