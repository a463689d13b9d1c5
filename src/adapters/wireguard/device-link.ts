/**
 * The kernel side of the WireGuard device that the UAPI socket does not
 * cover: its interface index (to tell a re-created device from the same one)
 * and the one network route on it, marked with weft's route protocol.
 * Argument arrays through the CommandRunner; reads are `-j` JSON.
 */
import { readFile } from 'node:fs/promises';
import type { Cidr } from '../../core/cidr.js';
import type { Cidr6 } from '../../core/cidr6.js';
import { KernelCommandError } from '../../core/errors.js';
import { WEFT_ROUTE_PROTOCOL } from '../../core/kernel-state.js';
import type { CommandRunner } from '../iproute2/runner.js';
import type { DeviceRoute } from '../../core/wireguard/device.js';

export type { DeviceRoute };

/** Reads the routes on a device (WireguardLink; a fake in unit tests). */
export interface DeviceRoutes {
  /** The device's routes of one family (default IPv4). */
  routes(name: string, family?: 4 | 6): Promise<DeviceRoute[]>;
  /** The network route, IPv4 or IPv6 by the network's family. */
  replaceRoute(name: string, network: Cidr | Cidr6): Promise<void>;
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

  /** The routes of one family on the device (main table), protocols numeric. */
  async routes(name: string, family: 4 | 6 = 4): Promise<DeviceRoute[]> {
    const args = [family === 6 ? '-6' : '-4', '-N', '-j', 'route', 'show', 'dev', name];
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

  /** `ip route replace <network> dev <name> scope link proto 87`; IPv6: `ip -6 route replace <network> dev <name> proto 87` (no scopes in IPv6). */
  async replaceRoute(name: string, network: Cidr | Cidr6): Promise<void> {
    const proto = ['proto', String(WEFT_ROUTE_PROTOCOL)];
    await this.#run('ip', network.includes(':')
      ? ['-6', 'route', 'replace', network, 'dev', name, ...proto]
      : ['route', 'replace', network, 'dev', name, 'scope', 'link', ...proto]);
  }
}
