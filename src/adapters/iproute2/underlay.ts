/**
 * UnderlayPort on iproute2: `ip -j addr show dev <name>` (IPv4 and IPv6
 * addresses in one read) and a long-lived `ip -o monitor label link address`
 * child (the same MonitorSource engine as the data plane's monitor: restarted
 * when it exits, an overflow or a restart reported as a change, since the
 * caller re-reads the interface on any change anyway).
 */
import { parseInterfaceLine, type InterfaceEvent } from '../../core/monitor-lines.js';
import type { UnderlayReading } from '../../core/underlay-change.js';
import type { UnderlayPort, UnderlayWatch } from '../underlay.js';
import { assertToken, withNetns } from './argv.js';
import { MonitorSource } from './monitor-source.js';
import { parseInterfaces, parseInterfaces6 } from './parse.js';
import { type CommandRunner, execaRunner } from './runner.js';

const MISSING_LINK = /does not exist|Cannot find device/;

/** `ip -j addr show dev <name>`: one interface with both families' addresses. */
export function interfaceShowArgv(name: string): string[] {
  return ['-j', 'addr', 'show', 'dev', assertToken(name)];
}

/** The underlay monitor: link and address events of every interface, one line each, labelled. */
export function underlayMonitorArgv(): string[] {
  return ['-o', 'monitor', 'label', 'link', 'address'];
}

export interface IpRoute2UnderlayOptions {
  /** Work inside this named network namespace (`ip -n`), e.g. in tests. */
  readonly netns?: string | undefined;
  readonly runner?: CommandRunner;
}

export class IpRoute2Underlay implements UnderlayPort {
  readonly #netns: string | undefined;
  readonly #runner: CommandRunner;

  constructor(options: IpRoute2UnderlayOptions = {}) {
    this.#netns = options.netns;
    this.#runner = options.runner ?? execaRunner({ timeoutMs: 10_000 });
  }

  async read(name: string): Promise<UnderlayReading | undefined> {
    const args = withNetns(this.#netns, interfaceShowArgv(name));
    const result = await this.#runner('ip', args, { allowFailure: true });
    if (result.exitCode !== 0) {
      if (MISSING_LINK.test(result.stderr)) return undefined;
      await this.#runner('ip', args); // throws the KernelCommandError that names the command
      return undefined;
    }
    const json: unknown = JSON.parse(result.stdout === '' ? '[]' : result.stdout);
    const v4 = parseInterfaces(json).find((i) => i.name === name);
    const v6 = parseInterfaces6(json).find((i) => i.name === name);
    return v4 && v6 ? { v4, v6 } : undefined;
  }

  async watch(name: string, onChange: (reason: string) => void): Promise<UnderlayWatch> {
    const source = new MonitorSource<InterfaceEvent>({
      tool: 'ip',
      args: withNetns(this.#netns, underlayMonitorArgv()),
      parse: parseInterfaceLine,
      keep: (event) => event.device === name,
      deliver: (events) => {
        const first = events[0];
        if (first === undefined) return;
        onChange('kind' in first ? `notifications lost: ${first.reason}`
          : `${first.what} ${first.deleted ? 'deleted' : 'changed'} on ${first.device} (ifindex ${first.index})`);
      },
      settings: { firstDelay: 200, maxDelay: 10_000, subscribeTimeoutMs: 5000 },
    });
    await source.launch();
    return { stop: () => source.stop() };
  }
}
