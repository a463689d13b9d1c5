/**
 * A rig with the real weftd on every host (etcd in the switch namespace),
 * for tests that look at a running overlay from a host: `weftctl status`
 * and `weftctl doctor` run inside a host namespace with that host's flags.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';
import { msgIs, runWeftctl, startWeftd, type WeftdProcess } from './weftd-process.js';

export const PREFIX = '/weft/network';
export const HEALTHZ_PORT = 9180;

/**
 * Where host i's weftd keeps its WireGuard key, UAPI sockets and wireguard-go
 * PID file in a test: a folder a host under the rig's state directory
 * (wireguard-go's socket directory is shared by every network namespace,
 * next-anchors.md §3.4).
 */
export function wireguardDirs(stateDir: string, i: number): { key: string; sockets: string; run: string } {
  const base = join(stateDir, `host${i}-wg`);
  return { key: join(base, 'key', 'private.key'), sockets: join(base, 'sock'), run: join(base, 'run') };
}

/** weftd's flags for wireguardDirs (a startWeftCluster `hostArgs`). */
export function wireguardArgs(i: number, stateDir: string): string[] {
  const d = wireguardDirs(stateDir, i);
  return ['--wireguard-key-file', d.key, '--wireguard-socket-dir', d.sockets, '--wireguard-run-dir', d.run];
}

export interface WeftCluster {
  readonly rig: Rig;
  readonly daemons: Map<number, WeftdProcess>;
  /** Host i's leased subnet, e.g. `10.5.34.0/24`. */
  subnet(i: number): string;
  subnetFile(i: number): string;
  etcdctl(args: readonly string[]): Promise<string>;
  /** A command inside host i's namespace; its stdout. */
  sh(i: number, file: string, args: readonly string[]): Promise<string>;
  /** weftctl inside host i's namespace with host i's etcd, node name and subnet file. */
  weftctl(i: number, command: string, args?: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts host i's weftd again with the arguments it had (after a stop). */
  restart(i: number): WeftdProcess;
  /** Polls until `check` is true. */
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Brings up `hosts` hosts (with `ipv6`, on the rig's dual-stack underlay), writes the network config and starts weftd
 * everywhere; resolves once every host wrote subnet.env.
 */
export async function startWeftCluster(options: {
  hosts: number; config: object; weftdArgs?: readonly string[]; ipv6?: boolean;
  /** Each host's L2 segment (DirectRouting's rig; default all on one). */
  segments?: readonly (1 | 2)[];
  /** Arguments for one host only (e.g. its own key file and socket directory). */
  hostArgs?: (index: number, stateDir: string) => readonly string[];
}): Promise<WeftCluster> {
  const rig = await Rig.up({ hosts: options.hosts, ipv6: options.ipv6 ?? false, ...(options.segments ? { segments: options.segments } : {}) });
  const daemons = new Map<number, WeftdProcess>();
  const subnets = new Map<number, string>();
  const subnetFile = (i: number): string => join(rig.stateDir, `host${i}-subnet.env`);
  const argsOf = new Map<number, string[]>();
  const launch = (i: number): WeftdProcess => {
    const d = startWeftd(argsOf.get(i) ?? [], { netns: rig.host(i).netns });
    daemons.set(i, d);
    return d;
  };
  const etcdctl = (args: readonly string[]): Promise<string> =>
    rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, '--command-timeout', '5s', ...args]);
  const cluster: WeftCluster = {
    rig, daemons, subnetFile, etcdctl,
    subnet: (i) => {
      const s = subnets.get(i);
      if (!s) throw new Error(`host${i} has no subnet`);
      return s;
    },
    sh: (i, file, args) => rig.exec(rig.host(i).netns, file, args),
    weftctl: (i, command, args = []) => runWeftctl([command, '--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX,
      '--node-name', `host${i}`, '--subnet-file', subnetFile(i), ...args], { netns: rig.host(i).netns }),
    waitFor: async (what, check, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(200);
      }
    },
    restart: (i) => launch(i),
    stop: async () => {
      for (const d of daemons.values()) await d.stop('SIGKILL');
      await rig.down();
    },
  };
  try {
    await etcdctl(['put', `${PREFIX}/config`, JSON.stringify(options.config)]);
    for (const host of rig.hosts) {
      argsOf.set(host.index, ['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', subnetFile(host.index),
        '--node-name', host.nodeName, '--iface', 'eth0', '--healthz-port', String(HEALTHZ_PORT), ...(options.weftdArgs ?? []),
        ...(options.hostArgs?.(host.index, rig.stateDir) ?? [])]);
      launch(host.index);
    }
    await Promise.all([...daemons].map(async ([i, d]) => {
      const lease = await d.waitForLog((l) => l.msg === 'acquired subnet lease' || l.msg === 'renewed own subnet lease', 20_000, `host${i}'s lease`);
      subnets.set(i, String(lease['subnet']));
      await d.waitForLog(msgIs('wrote subnet.env'), 20_000, `host${i}'s subnet.env`);
    }));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
