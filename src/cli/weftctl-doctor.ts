/**
 * `weftctl doctor`: gathers facts about this host (etcd, subnet.env, the
 * device, sysctls, MTUs, checksum offload, iptables, a ping and a DF-set
 * probe at the device MTU to each peer through the device; on a wireguard
 * network `weft-wg` over its UAPI socket, its route and tunnels, and a ping
 * through it to each peer) and prints core/doctor.ts's verdicts. Runs on the host, as root; exit 0
 * when no check FAILs. It opens etcd itself so that an unreachable etcd is
 * one failed check, not the end of the diagnosis. Read-only.
 */
import { hostname } from 'node:os';
import type { ListedLease } from '../core/allocate.js';
import { cidrIp } from '../core/cidr.js';
import type { DirectPaths } from '../core/direct-routing.js';
import { cidr6Ip } from '../core/cidr6.js';
import { findOwnLease } from '../core/device-check.js';
import { type CheckResult, type DoctorFacts, type EtcdFacts, type Ipv6Facts, type PeerProbe, type ReadyProbe, doctorPeers, evaluateDoctor, summarize } from '../core/doctor.js';
import { errorMessage } from '../core/errors.js';
import { type NetworkConfig, parseNetworkConfigText, requireVxlan, directRoutingOn } from '../core/network-config.js';
import { WIREGUARD_DEVICE } from '../core/wireguard/device.js';
import { type Peer, type WireguardPeer, isVxlanPeer, isWireguardPeer, peerV6 } from '../core/peer-acceptance.js';
import type { WireguardDoctorFacts } from '../core/wireguard/doctor-tunnels.js';
import { programmedSubnetV6 } from '../core/peer-drift.js';
import { classifyListing } from '../core/peer-set.js';
import { deviceName, deviceName6 } from '../core/vxlan-device.js';
import { checkNodeName } from '../core/doctor-identity.js';
import { readInstanceId } from '../adapters/instance-id.js';
import { type HostProbe, LocalHostProbe } from '../adapters/host-probe.js';
import { IpRoute2 } from '../adapters/iproute2/iproute2.js';
import { type ChecksumOffloadControl, Ethtool } from '../adapters/ethtool.js';
import type { TxChecksumFact } from '../core/checksum-offload.js';
import { type DfProbe, largestPassing } from '../core/path-mtu.js';
import type { Kernel } from '../adapters/kernel.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import { readSubnetFile } from '../adapters/subnet-file.js';
import { type EtcdFlagValues, etcdConnection, openRegistry } from './etcd-flags.js';
import { DEFAULT_SUBNET_FILE } from '../core/subnet-env.js';
import type { CtlIo } from './ctl-io.js';
import { ipv6Kernel } from './ipv6-kernel.js';
import { NO_VXLAN_VIEW, readVxlanView } from './vxlan-view.js';
import { type WireguardReaders, collectWireguard, hostWireguardReaders, socketDirOf } from './weftctl-status-wireguard.js';

export interface DoctorOptions {
  readonly nodeName: string;
  readonly subnetFile: string;
  /** weftd's health endpoint; undefined: infer readiness from subnet.env and the device. */
  readonly healthz: { readonly ip: string; readonly port: number } | undefined;
  /** weftd's --instance-id when it was given one (default: read from this host). */
  readonly instanceId?: string | undefined;
}

export interface DoctorDeps {
  readonly openRegistry: () => Promise<SubnetRegistry>;
  readonly kernel: Kernel;
  /** Reads the IPv6 device (`ip -6`) on a dual-stack network; default ipv6Kernel(). */
  readonly kernel6?: Kernel;
  readonly host: HostProbe;
  /** Reads the device's TX checksum offload; without it the checksum offload check is not shown. */
  readonly offload?: ChecksumOffloadControl;
  /** This host's weftd instance id (adapters/instance-id.ts). */
  readonly instanceId?: () => Promise<string>;
  /** Reads `weft-wg` on a wireguard network (its UAPI socket in weftd's --wireguard-socket-dir); default the standard directory. */
  readonly wireguard?: WireguardReaders;
}

/** How many pings run at once. */
const PROBE_PARALLEL = 16;

async function readEtcd(open: () => Promise<SubnetRegistry>): Promise<EtcdFacts> {
  let registry: SubnetRegistry | undefined;
  try {
    registry = await open();
    const text = await registry.getConfig();
    if (text === undefined) return { ok: false, error: 'etcd answers, but there is no network config under the prefix (weftctl config set)' };
    const parsed = parseNetworkConfigText(text);
    if (!parsed.ok) return { ok: false, error: `the network config in etcd is invalid: ${parsed.errors.join('; ')}` };
    const entries = (await registry.listLeases()).entries;
    const leases = classifyListing(entries, parsed.config).valid.map((v) => v.lease);
    return { ok: true, config: parsed.config, leases, entries };
  } catch (err) {
    // grpc appends an empty "Resolution note:" to connection errors.
    return { ok: false, error: `etcd: ${errorMessage(err).replace(/\s*Resolution note:\s*$/, '')}` };
  } finally {
    registry?.close();
  }
}

/** A ping to each peer's VTEP address through the device, then (when it answered) the DF probe at the device MTU. */
async function probePeers(host: HostProbe, device: string, mtu: number, peers: readonly ListedLease[], paths?: DirectPaths): Promise<PeerProbe[]> {
  const results: PeerProbe[] = [];
  const probe = async (p: ListedLease): Promise<PeerProbe> => {
    const vtep = cidrIp(p.subnet);
    // A peer on a direct route (DirectRouting) is reached through the external interface, not the VXLAN device.
    const through = paths?.direct(p.attrs.publicIp) === true ? paths.device : device;
    const plain = await host.ping(through, vtep);
    return { subnet: p.subnet, ...plain, ...(plain.replied ? { df: await dfProbe(host, through, vtep, mtu) } : {}) };
  };
  for (let i = 0; i < peers.length; i += PROBE_PARALLEL) results.push(...await Promise.all(peers.slice(i, i + PROBE_PARALLEL).map(probe)));
  return results;
}

/** Pings each subnet's address through the device, PROBE_PARALLEL at a time. */
async function probeTargets<S extends string>(host: HostProbe, device: (subnet: S) => string, subnets: readonly S[], address: (s: S) => string):
Promise<{ subnet: S; replied: boolean; output: string }[]> {
  const results: { subnet: S; replied: boolean; output: string }[] = [];
  for (let i = 0; i < subnets.length; i += PROBE_PARALLEL) {
    results.push(...await Promise.all(subnets.slice(i, i + PROBE_PARALLEL).map(async (subnet) => ({ subnet, ...await host.ping(device(subnet), address(subnet)) }))));
  }
  return results;
}

/** A DF-set packet of the device MTU; when it does not cross, the largest that does (bisection, ~10 pings). */
async function dfProbe(host: HostProbe, device: string, vtep: string, mtu: number): Promise<DfProbe> {
  const full = await host.dfPing(device, vtep, mtu);
  if (full.passed) return { size: mtu, passed: true, output: full.output };
  const largest = await largestPassing(mtu, async (size) => (await host.dfPing(device, vtep, size)).passed);
  return { size: mtu, passed: false, largest, output: full.output };
}

/** The device's tx-checksum-ip-generic, for the checksum offload check. */
async function readTxChecksum(offload: ChecksumOffloadControl, device: string): Promise<TxChecksumFact> {
  try {
    return { ok: true, on: await offload.readTxChecksum(device) };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
}

async function readiness(host: HostProbe, healthz: DoctorOptions['healthz']): Promise<ReadyProbe> {
  if (!healthz) return { kind: 'not-probed' };
  const url = `http://${healthz.ip}:${healthz.port}/readyz`;
  const r = await host.httpGet(url);
  return r.ok ? { kind: 'answered', url, status: r.status, body: r.body } : { kind: 'unreachable', url, error: r.error };
}

export async function gatherDoctorFacts(opts: DoctorOptions, deps: DoctorDeps): Promise<DoctorFacts> {
  const { kernel, host } = deps;
  const [etcd, subnetFile, ready, iptables, weftLinks] = await Promise.all([
    readEtcd(deps.openRegistry), readSubnetFile(opts.subnetFile), readiness(host, opts.healthz), host.filterRules(), host.weftDevices(),
  ]);
  const name = etcd.ok ? (etcd.config.backend.type === 'vxlan' ? deviceName(etcd.config.backend.vni) : WIREGUARD_DEVICE) : weftLinks.length === 1 ? weftLinks[0] : undefined;
  const device = name ? await kernel.readDevice(name) : undefined;
  const [parent, cni0, { state: kernelState, paths, underlayRoutes }] = await Promise.all([
    device?.parent ? kernel.readDevice(device.parent) : undefined,
    kernel.readDevice('cni0'),
    name ? readVxlanView(kernel, name, device, etcd.ok ? etcd.config.network : undefined, etcd.ok && directRoutingOn(etcd.config), 4) : NO_VXLAN_VIEW,
  ]);
  const [ipForward, bridgeNfCallIptables, rpFilterAll, rpFilterDevice] = await Promise.all([
    host.readSysctl('net/ipv4/ip_forward'), host.readSysctl('net/bridge/bridge-nf-call-iptables'),
    host.readSysctl('net/ipv4/conf/all/rp_filter'), name ? host.readSysctl(`net/ipv4/conf/${name}/rp_filter`) : undefined,
  ]);
  const own = etcd.ok ? findOwnLease(etcd.leases, opts.nodeName, subnetFile).lease : undefined;
  const peers = doctorPeers({ etcd, kernelState }, own)?.peers ?? [];
  const vxlan = device?.kind === 'vxlan' && name ? device : undefined;
  const [[probes, txChecksum], ipv6, wireguard] = await Promise.all([
    vxlan ? Promise.all([probePeers(host, vxlan.name, vxlan.mtu, peers, paths), deps.offload ? readTxChecksum(deps.offload, vxlan.name) : undefined])
      : [[], undefined] as const,
    etcd.ok ? readIpv6(etcd.config, deps, own, peers.filter(isVxlanPeer)) : undefined,
    etcd.ok ? readWireguard(etcd.config, deps, own, peers.filter(isWireguardPeer)) : undefined,
  ]);
  return {
    nodeName: opts.nodeName, readiness: ready, etcd, subnetFile: { path: opts.subnetFile, state: subnetFile },
    deviceName: name, device, parentMtu: parent?.mtu, cni0Mtu: cni0?.mtu, cni0Addresses: cni0?.addresses,
    sysctl: { ipForward, bridgeNfCallIptables, rpFilterAll, rpFilterDevice }, iptables, kernelState, probes,
    ...(underlayRoutes ? { underlayRoutes } : {}),
    ...(txChecksum ? { txChecksum } : {}),
    ...(ipv6 ? { ipv6 } : {}),
    ...(wireguard ? { wireguard } : {}),
  };
}

/**
 * The wireguard side: `weft-wg` as weftctl status reads it (link, UAPI
 * socket, route, tunnels against the leases), and a ping through it to each
 * peer's subnet address (which also starts a handshake on an idle tunnel).
 */
async function readWireguard(config: NetworkConfig, deps: DoctorDeps, own: ListedLease | undefined, peers: readonly WireguardPeer[]):
Promise<WireguardDoctorFacts | undefined> {
  if (config.backend.type !== 'wireguard') return undefined;
  const collected = await collectWireguard({
    backend: config.backend, network: config.network, own, peers, kernel: deps.kernel, readers: deps.wireguard ?? hostWireguardReaders(), nowMs: Date.now(),
  });
  const tunnels = collected.status.tunnels ?? undefined;
  const targets = collected.facts.link ? (tunnels?.peers ?? []).flatMap((p) => (p.state === 'ok' && p.subnet !== null ? [p.subnet] : [])) : [];
  const probes = await probeTargets(deps.host, () => WIREGUARD_DEVICE, targets, cidrIp);
  const v6 = collected.status.v6;
  return {
    deviceName: WIREGUARD_DEVICE, device: collected.facts, spec: collected.spec, listenPort: config.backend.listenPort, underlay: collected.underlay,
    tunnels, probes, ownPublicIp: own?.attrs.publicIp, leaseKey: own?.attrs.wireguard?.publicKey,
    ...(v6 ? { v6: { ...v6, wantPort: config.backend.listenPortV6 } } : {}),
  };
}

/**
 * The IPv6 side on a dual-stack network, read through the IPv6 adapter:
 * forwarding, `weft-v6.<VNI>`, its parent's MTU, its entries, and a `ping -6`
 * through it to each peer's IPv6 subnet address. A failure here is one
 * fact (`error`), never the end of the IPv4 diagnosis.
 */
async function readIpv6(config: NetworkConfig, deps: DoctorDeps, own: ListedLease | undefined, peers: readonly Peer[]): Promise<Ipv6Facts | undefined> {
  // A wireguard network's IPv6 side is its tunnels' (readWireguard): no weft-v6.<VNI> to read.
  if (config.ipv6 === undefined || config.backend.type !== 'vxlan') return undefined;
  const kernel = deps.kernel6 ?? ipv6Kernel();
  const deviceName = deviceName6(requireVxlan(config).vni);
  const forwarding = await deps.host.readSysctl('net/ipv6/conf/all/forwarding');
  try {
    const device = await kernel.readDevice(deviceName);
    const vxlan = device?.kind === 'vxlan';
    const [parent, { state: kernelState, paths, underlayRoutes }] = await Promise.all([
      device?.parent ? kernel.readDevice(device.parent) : undefined,
      readVxlanView(kernel, deviceName, device, config.ipv6.network, directRoutingOn(config), 6),
    ]);
    const targets = peers.flatMap((p) => {
      const subnet = programmedSubnetV6(p);
      return subnet === undefined || subnet === own?.subnetV6 ? [] : [subnet];
    });
    // A peer on a direct IPv6 route is pinged through the external interface.
    const directV6 = new Set(peers.flatMap((p) => {
      const half = peerV6(p);
      return half && paths?.direct(half.publicIp) ? [half.subnet] : [];
    }));
    const probes = vxlan && own?.subnetV6
      ? await probeTargets(deps.host, (subnet) => (directV6.has(subnet) && paths ? paths.device : deviceName), targets, cidr6Ip) : [];
    return { deviceName, device, parentMtu: parent?.mtu, forwarding, kernelState, probes, ...(underlayRoutes ? { underlayRoutes } : {}) };
  } catch (err) {
    return { deviceName, device: undefined, parentMtu: undefined, forwarding, kernelState: undefined, probes: [], error: errorMessage(err) };
  } finally {
    if (deps.kernel6 === undefined) kernel.close?.();
  }
}

/** Who holds this host's node name; undefined when etcd cannot be read (the etcd check says why). */
async function nodeNameCheck(opts: DoctorOptions, deps: DoctorDeps): Promise<CheckResult | undefined> {
  let registry: SubnetRegistry | undefined;
  try {
    registry = await deps.openRegistry();
    const presence = await registry.getPresence(opts.nodeName);
    const instanceId = opts.instanceId ?? await (deps.instanceId ?? readInstanceId)().catch(() => undefined);
    return checkNodeName(opts.nodeName, presence, instanceId);
  } catch {
    return undefined;
  } finally {
    registry?.close();
  }
}

export function renderDoctor(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.check.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.verdict.padEnd(4)}  ${r.check.padEnd(width)}  ${r.detail}`);
    if (r.fix !== null) lines.push(`${' '.repeat(width + 8)}fix: ${r.fix}`);
  }
  const s = summarize(results);
  lines.push('', `${results.length} checks: ${s.ok} ok, ${s.warn} warn, ${s.fail} FAIL`);
  return lines.join('\n');
}

function options(argv: Record<string, unknown>): DoctorOptions {
  const str = (k: string): string | undefined => (typeof argv[k] === 'string' && argv[k] !== '' ? argv[k] : undefined);
  const port = typeof argv['healthz-port'] === 'number' ? argv['healthz-port'] : 0;
  return {
    nodeName: str('node-name') ?? hostname(),
    subnetFile: str('subnet-file') ?? DEFAULT_SUBNET_FILE,
    healthz: port > 0 ? { ip: str('healthz-ip') ?? '127.0.0.1', port } : undefined,
    instanceId: str('instance-id'),
  };
}

/** The real adapters; bad etcd flags are a usage error before anything is read. */
function hostDeps(argv: Record<string, unknown>): DoctorDeps {
  const connection = etcdConnection(argv as Record<string, unknown> & EtcdFlagValues);
  return {
    openRegistry: () => openRegistry(connection), kernel: new IpRoute2(), host: new LocalHostProbe(), offload: new Ethtool(),
    wireguard: hostWireguardReaders(socketDirOf(argv)),
  };
}

export async function doctorCommand(argv: Record<string, unknown>, io: CtlIo, deps: DoctorDeps = hostDeps(argv)): Promise<number> {
  const opts = options(argv);
  const facts = await gatherDoctorFacts(opts, deps);
  const identity = await nodeNameCheck(opts, deps);
  const results = [...evaluateDoctor(facts), ...(identity ? [identity] : [])];
  const summary = summarize(results);
  io.out(argv['json'] ? JSON.stringify({ node: opts.nodeName, results, summary, ok: summary.fail === 0 }, null, 2) : renderDoctor(results));
  return summary.fail === 0 ? 0 : 1;
}
