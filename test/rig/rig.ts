/**
 * A multi-host test rig built only from network namespaces:
 *
 *   <prefix>-sw   the underlay "switch": bridge br0 with 192.0.2.1/24, and etcd on 192.0.2.1:2379
 *   <prefix>-hN   host N: eth0 = 192.0.2.(10+N)/24 (veth to br0), default via 192.0.2.1, ip_forward=1
 *   <prefix>-hNpM pod M of host N, behind cni0 in the host (attached once the host's subnet is known)
 *
 * With `ipv6: true` the underlay is dual-stack: br0 also holds fd00:99::1/64,
 * host N's eth0 fd00:99::<10+N>/64 (the IPv4 host number written as the last
 * group: fd00:99::11 next to 192.0.2.11), both `nodad` (usable at once), with
 * an IPv6 default route via fd00:99::1 and IPv6 forwarding on inside the host
 * namespace (never in the root namespace), and pods can be dual-stack.
 *
 * With `segments`, hosts can sit on a second L2 segment (DirectRouting's
 * rig): the switch namespace then also has bridge br1 with 198.51.100.1/24
 * and routes between the two (ip_forward inside the switch namespace only);
 * host N on segment 2 has eth0 = 198.51.100.(10+N)/24, default via
 * 198.51.100.1. `moveHost` moves a host to the other segment (new address,
 * same interface), as a renumbering or a move between racks would.
 *
 * 192.0.2.0/24 is the root namespace's real uplink, which is safe here only
 * because the switch namespace has no link to the root namespace. Teardown
 * stops every process in the prefix's namespaces and deletes them, also when
 * the process exits or gets SIGINT/SIGTERM.
 */
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cidr, Ipv4 } from '../../src/core/cidr.js';
import type { Cidr6, Ipv6 } from '../../src/core/cidr6.js';
import { parseSubnetEnv } from '../../src/core/subnet-env.js';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { startDetachedEtcd } from './detached-etcd.js';
import { addNetns, assertPrefix, inNetns, ip, uniquePrefix } from './netns.js';
import { type PodsV6, type RigPod, attachPods } from './pods.js';
import { type TeardownReport, teardownPrefixSync } from './teardown.js';

export type { PodsV6, RigPod } from './pods.js';

export const UNDERLAY_GATEWAY = '192.0.2.1' as Ipv4;
export const ETCD_ENDPOINT = `http://${UNDERLAY_GATEWAY}:2379`;
/** br0's IPv6 address in a rig with `ipv6: true`. */
export const UNDERLAY6_GATEWAY = 'fd00:99::1' as Ipv6;
/** The second segment's router address (br1 in the switch namespace), in a rig with `segments`. */
export const SEGMENT2_GATEWAY = '198.51.100.1' as Ipv4;

/** The second segment's IPv6 router address, in a dual-stack rig with `segments`. */
export const SEGMENT2_GATEWAY6 = 'fd00:98::1' as Ipv6;

/** Host N's address on a segment. */
function segmentAddress(segment: 1 | 2, index: number): Ipv4 {
  return `${segment === 1 ? '192.0.2' : '198.51.100'}.${10 + index}` as Ipv4;
}

/** Host N's IPv6 address on a segment (fd00:99::/64 on the first, fd00:98::/64 on the second). */
function segmentAddress6(segment: 1 | 2, index: number): Ipv6 {
  return `fd00:${segment === 1 ? 99 : 98}::${10 + index}` as Ipv6;
}

export interface RigOptions {
  /** Letters and digits; default a fresh unique prefix. */
  readonly prefix?: string;
  readonly hosts: number;
  /** Pods per host, created by attachPods once the host's subnet is known (default 1). */
  readonly pods?: number;
  /** `child`: etcd stops with this process (tests); `detached`: it outlives it (the CLI); `none`. */
  readonly etcd?: 'child' | 'detached' | 'none';
  /** Leave everything in place when this process exits (the CLI's `up`). */
  readonly keepOnExit?: boolean;
  /** A dual-stack underlay (default false: IPv4 only, as every rig before dual-stack). */
  readonly ipv6?: boolean;
  /** Each host's L2 segment, 1 or 2 (default: all on 1); any 2 adds the second segment and the router. */
  readonly segments?: readonly (1 | 2)[];
}

export interface RigHost {
  readonly index: number;
  readonly nodeName: string;
  readonly netns: string;
  /** eth0's IPv4 address (changed by moveHost). */
  address: Ipv4;
  /** The L2 segment eth0 is on (1 unless the rig has `segments`). */
  segment: 1 | 2;
  /** eth0's IPv6 address, fd00:99::<10+N> (fd00:99::11 for host 1; fd00:98:: on segment 2), in a rig with `ipv6: true`. */
  address6: Ipv6 | undefined;
  pods: RigPod[];
}

export interface RigDescription {
  readonly prefix: string;
  readonly switchNetns: string;
  readonly etcdEndpoint: string | undefined;
  readonly podsPerHost: number;
  readonly stateDir: string;
  readonly hosts: readonly RigHost[];
}

/** Where a rig keeps its files (subnet files, detached etcd data, rig.json). */
export function rigStateDir(prefix: string): string {
  return join(tmpdir(), `weft-rig-${assertPrefix(prefix)}`);
}

export class Rig {
  readonly prefix: string;
  readonly switchNetns: string;
  readonly stateDir: string;
  readonly hosts: RigHost[] = [];
  readonly podsPerHost: number;
  readonly ipv6: boolean;
  etcdEndpoint: string | undefined;
  #etcd: EtcdCluster | undefined;
  readonly #children = new Set<ChildProcess>();
  #unguard: (() => void) | undefined;
  #down = false;

  private constructor(prefix: string, podsPerHost: number, ipv6: boolean) {
    this.prefix = prefix;
    this.ipv6 = ipv6;
    this.switchNetns = `${prefix}-sw`;
    this.stateDir = rigStateDir(prefix);
    this.podsPerHost = podsPerHost;
  }

  /** Builds the rig; on any failure everything built so far is torn down before the error is rethrown. */
  static async up(options: RigOptions): Promise<Rig> {
    const rig = new Rig(assertPrefix(options.prefix ?? uniquePrefix()), options.pods ?? 1, options.ipv6 ?? false);
    rig.#unguard = guardProcess(rig);
    try {
      mkdirSync(rig.stateDir, { recursive: true });
      await rig.#buildSwitch(options.segments?.includes(2) ?? false);
      for (let i = 1; i <= options.hosts; i++) await rig.#buildHost(i, options.segments?.[i - 1] ?? 1);
      await rig.#startEtcd(options.etcd ?? 'child');
      writeFileSync(join(rig.stateDir, 'rig.json'), `${JSON.stringify(rig.describe(), null, 2)}\n`);
    } catch (err) {
      rig.downSync();
      throw err;
    }
    if (options.keepOnExit) rig.#unguard();
    return rig;
  }

  host(index: number): RigHost {
    const host = this.hosts[index - 1];
    if (!host) throw new Error(`rig ${this.prefix} has no host ${index}`);
    return host;
  }

  describe(): RigDescription {
    return { prefix: this.prefix, switchNetns: this.switchNetns, etcdEndpoint: this.etcdEndpoint,
      podsPerHost: this.podsPerHost, stateDir: this.stateDir, hosts: this.hosts };
  }

  /**
   * Creates host N's cni0 bridge and pods from its leased subnet; with
   * `v6.subnet` the pods are dual-stack (see pods.ts).
   */
  async attachPods(index: number, subnet: Cidr, mtu: number, count = this.podsPerHost, v6?: PodsV6): Promise<RigPod[]> {
    const host = this.host(index);
    host.pods = await attachPods(host.netns, index, subnet, mtu, count, v6);
    return host.pods;
  }

  /** The same, reading FLANNEL_SUBNET, FLANNEL_MTU and, when present, FLANNEL_IPV6_SUBNET from the host's subnet.env. */
  async attachPodsFromSubnetFile(index: number, path: string, count = this.podsPerHost, mtu6?: number): Promise<RigPod[]> {
    const parsed = parseSubnetEnv(readFileSync(path, 'utf8'));
    if (!parsed.ok) throw new Error(`${path}: ${parsed.errors.join('; ')}`);
    const subnet6: Cidr6 | undefined = parsed.env.ipv6Subnet;
    return this.attachPods(index, parsed.env.subnet, parsed.env.mtu, count, subnet6 === undefined ? undefined : { subnet: subnet6, mtu: mtu6 });
  }

  /** Runs a command in one of the rig's namespaces and returns its stdout. */
  exec(netns: string, file: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
    return inNetns(netns, file, args, options);
  }

  /** Starts a long-running process in a namespace; it is stopped by down(). */
  spawnIn(netns: string, file: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', netns, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  async down(): Promise<TeardownReport> {
    if (this.#etcd) await this.#etcd.stop().catch(() => undefined);
    this.#etcd = undefined;
    return this.downSync();
  }

  /** Synchronous teardown, usable from an 'exit' handler. Idempotent. */
  downSync(): TeardownReport {
    if (this.#down) return { namespaces: [], killed: [] };
    this.#down = true;
    this.#unguard?.();
    const pids = [...this.#children, ...(this.#etcd?.members ?? []).map((m) => m.process)]
      .map((c) => c?.pid).filter((pid): pid is number => pid !== undefined);
    const report = teardownPrefixSync(this.prefix, pids);
    for (const m of this.#etcd?.members ?? []) rmSync(join(m.dataDir, '..'), { recursive: true, force: true });
    rmSync(this.stateDir, { recursive: true, force: true });
    return report;
  }

  async #buildSwitch(twoSegments: boolean): Promise<void> {
    const sw = this.switchNetns;
    await addNetns(sw);
    await ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', sw, 'addr', 'add', `${UNDERLAY_GATEWAY}/24`, 'dev', 'br0']);
    if (this.ipv6) await ip(['-n', sw, 'addr', 'add', `${UNDERLAY6_GATEWAY}/64`, 'dev', 'br0', 'nodad']);
    await ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    if (twoSegments) {
      await ip(['-n', sw, 'link', 'add', 'br1', 'type', 'bridge']);
      await ip(['-n', sw, 'addr', 'add', `${SEGMENT2_GATEWAY}/24`, 'dev', 'br1']);
      if (this.ipv6) await ip(['-n', sw, 'addr', 'add', `${SEGMENT2_GATEWAY6}/64`, 'dev', 'br1', 'nodad']);
      await ip(['-n', sw, 'link', 'set', 'br1', 'up']);
      // The router between the segments (the switch namespace only, never the root namespace).
      await inNetns(sw, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      if (this.ipv6) await inNetns(sw, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
    }
  }

  /**
   * Moves host N's eth0 to the other segment: its switch port to the other
   * bridge, the new address added before the old one goes, the default route
   * through the new segment's router. Returns the new address.
   */
  async moveHost(index: number, segment: 1 | 2): Promise<Ipv4> {
    const host = this.host(index);
    const old = host.address;
    const address = segmentAddress(segment, index);
    await ip(['-n', this.switchNetns, 'link', 'set', `u${index}`, 'master', segment === 1 ? 'br0' : 'br1']);
    await ip(['-n', host.netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await ip(['-n', host.netns, 'addr', 'del', `${old}/24`, 'dev', 'eth0']);
    await ip(['-n', host.netns, 'route', 'replace', 'default', 'via', segment === 1 ? UNDERLAY_GATEWAY : SEGMENT2_GATEWAY]);
    if (host.address6 !== undefined) {
      const address6 = segmentAddress6(segment, index);
      await ip(['-n', host.netns, 'addr', 'add', `${address6}/64`, 'dev', 'eth0', 'nodad']);
      await ip(['-n', host.netns, 'addr', 'del', `${host.address6}/64`, 'dev', 'eth0']);
      await ip(['-n', host.netns, '-6', 'route', 'replace', 'default', 'via', segment === 1 ? UNDERLAY6_GATEWAY : SEGMENT2_GATEWAY6]);
      host.address6 = address6;
    }
    host.address = address;
    host.segment = segment;
    return address;
  }

  async #buildHost(index: number, segment: 1 | 2): Promise<void> {
    const netns = `${this.prefix}-h${index}`;
    const address = segmentAddress(segment, index);
    const address6 = this.ipv6 ? segmentAddress6(segment, index) : undefined;
    await addNetns(netns);
    await inNetns(netns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    if (address6) await inNetns(netns, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
    // Created from inside the switch namespace, peer moved straight into the host: never in the root namespace.
    await ip(['-n', this.switchNetns, 'link', 'add', `u${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await ip(['-n', this.switchNetns, 'link', 'set', `u${index}`, 'master', segment === 1 ? 'br0' : 'br1', 'up']);
    await ip(['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', netns, 'route', 'add', 'default', 'via', segment === 1 ? UNDERLAY_GATEWAY : SEGMENT2_GATEWAY]);
    if (address6) {
      await ip(['-n', netns, 'addr', 'add', `${address6}/64`, 'dev', 'eth0', 'nodad']);
      await ip(['-n', netns, '-6', 'route', 'add', 'default', 'via', segment === 1 ? UNDERLAY6_GATEWAY : SEGMENT2_GATEWAY6]);
    }
    this.hosts.push({ index, nodeName: `host${index}`, netns, address, segment, address6, pods: [] });
  }

  async #startEtcd(mode: 'child' | 'detached' | 'none'): Promise<void> {
    if (mode === 'none') return;
    if (mode === 'child') this.#etcd = await startEtcd({ netns: this.switchNetns, host: UNDERLAY_GATEWAY, clientPort: 2379 });
    else await startDetachedEtcd(this.switchNetns, UNDERLAY_GATEWAY, this.stateDir);
    this.etcdEndpoint = ETCD_ENDPOINT;
  }
}

/** Tears the rig down if this process exits or is interrupted; returns the function that removes the guard. */
function guardProcess(rig: Rig): () => void {
  const onExit = (): void => { rig.downSync(); };
  const onSignal = (signal: NodeJS.Signals): void => {
    rig.downSync();
    process.kill(process.pid, signal); // handlers are gone now: the default action ends the process
  };
  // SIGHUP (a closed terminal) and SIGALRM (a timeout wrapper) end the process too: without a handler they skip 'exit'.
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGALRM'];
  process.once('exit', onExit);
  for (const s of signals) process.once(s, onSignal);
  return () => {
    process.off('exit', onExit);
    for (const s of signals) process.off(s, onSignal);
  };
}
