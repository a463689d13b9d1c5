/**
 * `weftctl status`: this host's lease, its VXLAN device, and per peer whether
 * the route, neighbour and FDB entry match the lease; on a dual-stack
 * network the same for the IPv6 device `weft-v6.<VNI>` and the peers'
 * IPv6 halves, read through the IPv6 kernel adapter. On a wireguard
 * network: `weft-wg` and per peer its tunnel (weftctl-status-wireguard.ts).
 * Exit 0 only when everything matches. Runs on the host (it reads the
 * host's kernel), e.g. `ip netns exec <host> weftctl status` in a namespace.
 */
import { hostname } from 'node:os';
import { type Cidr, type Ipv4 } from '../core/cidr.js';
import { formatDuration } from '../core/duration.js';
import { deviceProblems, deviceProblemsV6, findOwnLease, mtuForFile, subnetFileProblem } from '../core/device-check.js';
import type { ListedLease } from '../core/allocate.js';
import type { Cidr6 } from '../core/cidr6.js';
import { UsageError, errorMessage } from '../core/errors.js';
import { type Peer, isVxlanPeer, isWireguardPeer } from '../core/peer-acceptance.js';
import { type NetworkConfig, parseNetworkConfigText, requireVxlan, directRoutingOn } from '../core/network-config.js';
import { WIREGUARD_DEVICE } from '../core/wireguard/device.js';
import { DEFAULT_SUBNET_FILE } from '../core/subnet-env.js';
import { classifyListing } from '../core/peer-set.js';
import { type HostPeers, hostPeers, selfView } from '../core/host-peers.js';
import { encodeSubnetKey } from '../core/lease.js';
import { type DriftReport, peerDrift, peerDriftV6 } from '../core/peer-drift.js';
import { deviceName, deviceName6 } from '../core/vxlan-device.js';
import { underlayAddressProblem } from '../core/underlay-change.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import { readSubnetFile } from '../adapters/subnet-file.js';
import { IpRoute2 } from '../adapters/iproute2/iproute2.js';
import type { Kernel, VxlanLinkInfo } from '../adapters/kernel.js';
import { renderTable } from './leases-table.js';
import type { CtlIo } from './ctl-io.js';
import { ipv6Kernel } from './ipv6-kernel.js';
import { readVxlanView } from './vxlan-view.js';
import { type WireguardReaders, type WireguardStatus, collectWireguard, hostWireguardReaders, renderTunnels, renderWireguardDevice, socketDirOf,
  wireguardProblems } from './weftctl-status-wireguard.js';


export interface StatusReport {
  readonly node: string;
  /** `ttlSeconds`: seconds left on the etcd lease, null for a reservation, -1 when it expired. */
  readonly lease: {
    subnet: Cidr; publicIp: string; vtepMac: string | null; reservation: boolean; ttlSeconds: number | null;
    /** The lease's IPv6 half (null on an IPv4-only lease). */
    subnetV6: Cidr6 | null; publicIpv6: string | null; vtepMacV6: string | null;
    /** The WireGuard public key the lease advertises (wireguard networks only). */
    publicKey?: string;
  } | null;
  readonly device: (VxlanLinkInfo & { problems: string[] }) | null;
  /** The interface the device sits on and its IPv4 addresses now (null without a device; `addresses` null when it is missing). */
  readonly underlay: { iface: string; addresses: string[] | null } | null;
  /** `state` is `ok` or what is wrong with the file. */
  readonly subnetFile: { path: string; state: string };
  readonly drift: DriftReport | null;
  /** Lease keys the acceptance rule refuses (never programmed), and peers whose subnet a foreign route uses here. */
  readonly refused: readonly { key: string; subnet: Cidr | null; code: string; reason: string }[];
  /** Reservations whose host has not started weftd yet. */
  readonly pending: readonly { key: string; subnet: Cidr; reason: string }[];
  /** The IPv6 device and its peers on a dual-stack network; null when IPv6 is not enabled. */
  readonly ipv6: Ipv6Status | null;
  /** On a wireguard network: `weft-wg` and its tunnels (then `device`, `drift` and `ipv6` are null). */
  readonly wireguard: WireguardStatus | null;
  /** Both families' problems (the IPv6 ones start with `IPv6: `). */
  readonly problems: readonly string[];
  readonly ok: boolean;
}

export interface Ipv6Status {
  /** `weft-v6.<VNI>`. */
  readonly deviceName: string;
  readonly device: (VxlanLinkInfo & { problems: string[] }) | null;
  /** The IPv6 halves of the peers against the IPv6 device's entries; null without a device or an IPv6 lease half. */
  readonly drift: DriftReport | null;
  /** What is wrong on the IPv6 side alone (also in the report's `problems`). */
  readonly problems: readonly string[];
}

export async function collectStatus(registry: SubnetRegistry, kernel: Kernel, node: string, subnetFilePath: string,
  kernel6: Kernel | (() => Kernel) = ipv6Kernel, wireguardReaders: () => WireguardReaders = hostWireguardReaders): Promise<StatusReport> {
  const problems: string[] = [];
  const configText = await registry.getConfig();
  const parsed = configText === undefined ? undefined : parseNetworkConfigText(configText);
  if (!parsed?.ok) throw new UsageError(configText === undefined ? 'no network config in etcd' : 'the network config in etcd is invalid (see weftctl config get)');
  const config = parsed.config;
  const entries = (await registry.listLeases()).entries;
  const leases = classifyListing(entries, config).valid;
  const file = await readSubnetFile(subnetFilePath);
  const own = findOwnLease(leases.map((l) => l.lease), node, file);
  const ownEntry = leases.find((l) => l.lease === own.lease)?.entry;
  if (!own.lease) problems.push(`no lease in etcd names node ${node} (is weftd running with --node-name ${node}?)`);
  if (own.duplicates.length > 0) problems.push(`${own.duplicates.length} leases name node ${node}: ${own.duplicates.map((l) => l.subnet).join(', ')}`);
  const ttl = own.lease && !own.lease.reservation && ownEntry ? await registry.timeToLive(ownEntry.leaseId) : null;
  if (ttl !== null && ttl < 0) problems.push('the lease has expired');

  if (config.backend.type === 'wireguard') {
    const judged = hostPeers(config, entries, own.lease ? selfView(own.lease) : {});
    const { status: wg } = await collectWireguard({
      backend: config.backend, network: config.network, own: own.lease, peers: judged.peers.filter(isWireguardPeer), kernel,
      readers: wireguardReaders(), nowMs: Date.now(),
    });
    problems.push(...wireguardProblems(wg));
    for (const r of wg.tunnels?.refused ?? []) problems.push(`the lease of ${r.name} gives no peer: ${r.reason}`);
    const fileProblem = subnetFileProblem(file, config, own.lease, wg.mtu ?? undefined);
    if (fileProblem !== undefined) problems.push(`subnet.env ${subnetFilePath}: ${fileProblem}`);
    return {
      node, lease: own.lease ? leaseView(own.lease, ttl) : null, device: null, underlay: null, subnetFile: { path: subnetFilePath, state: fileProblem ?? 'ok' },
      drift: null, ...verdictLists(judged), ipv6: null, wireguard: wg, problems, ok: problems.length === 0,
    };
  }

  const name = config.backend.type === 'vxlan' ? deviceName(config.backend.vni) : WIREGUARD_DEVICE;
  const link = await kernel.readDevice(name);
  const linkProblems = link ? deviceProblems(link, config, own.lease) : [];
  if (!link) problems.push(`device ${name} does not exist`);
  problems.push(...linkProblems.map((p) => `${name}: ${p}`));

  const underlayIface = link?.kind === 'vxlan' && link.parent !== undefined ? await readUnderlay(kernel, link.parent) : null;
  const underlayProblem = underlayIface && own.lease ? underlayAddressProblem(underlayIface.iface, underlayIface.addresses ?? undefined, own.lease.attrs.publicIp) : undefined;
  if (underlayProblem !== undefined) problems.push(underlayProblem);

  const { state, paths } = await readVxlanView(kernel, name, link, config.network, directRoutingOn(config), 4);
  const judged = hostPeers(config, entries, own.lease ? selfView(own.lease) : {}, state?.foreign ?? []);
  const ipv6 = config.ipv6 === undefined ? null : await collectIpv6(typeof kernel6 === 'function' ? kernel6() : kernel6, config, own.lease, judged.peers.filter(isVxlanPeer), typeof kernel6 === 'function');

  const fileProblem = subnetFileProblem(file, config, own.lease, mtuForFile(config, link?.mtu, ipv6?.device?.mtu ?? undefined));
  if (fileProblem !== undefined) problems.push(`subnet.env ${subnetFilePath}: ${fileProblem}`);

  const { refused, pending } = verdictLists(judged);
  if (judged.collisions.size > 0) {
    problems.push(`${judged.collisions.size} peers not programmed: a route weft does not own uses their subnet (${[...judged.collisions.keys()].join(', ')})`);
  }
  const drift = own.lease && state ? peerDrift(own.lease.subnet, judged.peers.filter(isVxlanPeer), state, paths) : null;
  if (drift && !drift.inSync) {
    const drifted = drift.peers.filter((p) => !p.inSync).length;
    problems.push(`${drifted} of ${drift.peers.length} peers drifted${drift.extra.length > 0 ? `, ${drift.extra.length} unwanted entries` : ''}`);
  }
  problems.push(...(ipv6?.problems ?? []).map((p) => `IPv6: ${p}`));
  return {
    node, lease: own.lease ? leaseView(own.lease, ttl) : null,
    device: link ? { ...link, problems: linkProblems } : null,
    underlay: underlayIface,
    subnetFile: { path: subnetFilePath, state: fileProblem ?? 'ok' },
    drift, refused, pending, ipv6, wireguard: null, problems, ok: problems.length === 0,
  };
}

/** The device's parent interface and its IPv4 addresses (null addresses: missing, or none). */
async function readUnderlay(kernel: Kernel, iface: string): Promise<{ iface: string; addresses: Ipv4[] | null }> {
  try {
    return { iface, addresses: [...(await kernel.externalInterface({ iface })).addresses] };
  } catch {
    return { iface, addresses: null };
  }
}

function leaseView(l: ListedLease, ttl: number | null): NonNullable<StatusReport['lease']> {
  return {
    subnet: l.subnet, publicIp: l.attrs.publicIp, vtepMac: l.attrs.vtepMac ?? null, reservation: l.reservation, ttlSeconds: ttl,
    subnetV6: l.subnetV6 ?? null, publicIpv6: l.attrs.publicIpv6 ?? null, vtepMacV6: l.attrs.backendV6?.vtepMac ?? null,
    ...(l.attrs.wireguard ? { publicKey: l.attrs.wireguard.publicKey } : {}),
  };
}

/** Refused lease keys (and route collisions) and reservations still waiting for their host. */
function verdictLists(judged: HostPeers): Pick<StatusReport, 'refused' | 'pending'> {
  const refused = [
    ...judged.verdicts.flatMap((v) => (v.state === 'refused' ? [{ key: v.key, subnet: v.lease?.subnet ?? null, code: v.code, reason: v.reason }] : [])),
    ...[...judged.collisions].map(([subnet, reason]) => ({
      key: encodeSubnetKey(judged.peers.find((p) => p.subnet === subnet) ?? { subnet }), subnet, code: 'route-collision', reason,
    })),
  ].sort((a, b) => a.key.localeCompare(b.key));
  const pending = judged.verdicts.flatMap((v) => (v.state === 'pending' ? [{ key: v.key, subnet: v.lease.subnet, reason: v.reason ?? '' }] : []));
  return { refused, pending };
}

/**
 * The IPv6 side: `weft-v6.<VNI>` read through the IPv6 adapter, and the
 * IPv6 halves of the peers against its entries. A read that fails is one
 * problem here; the IPv4 report is complete either way.
 */
async function collectIpv6(kernel: Kernel, config: NetworkConfig, own: ListedLease | undefined, peers: readonly Peer[], owned: boolean): Promise<Ipv6Status> {
  const deviceName = deviceName6(requireVxlan(config).vni);
  const problems: string[] = [];
  if (own && own.subnetV6 === undefined) problems.push(`the lease ${own.subnet} has no IPv6 subnet: this host is IPv4 only (weftd's log says why)`);
  else if (own && own.attrs.publicIpv6 === undefined) problems.push(`the lease has no PublicIPv6: peers cannot reach ${own.subnetV6 ?? 'this host'} over IPv6`);
  try {
    const link = await kernel.readDevice(deviceName);
    const linkProblems = link ? deviceProblemsV6(link, config, own) : [];
    if (!link) problems.push(`device ${deviceName} does not exist`);
    problems.push(...linkProblems.map((p) => `${deviceName}: ${p}`));
    const { state, paths } = await readVxlanView(kernel, deviceName, link, undefined, directRoutingOn(config), 6);
    const drift = own?.subnetV6 && state ? peerDriftV6(own.subnetV6, peers, state, paths) : null;
    if (drift && !drift.inSync) {
      const drifted = drift.peers.filter((p) => !p.inSync).length;
      problems.push(`${drifted} of ${drift.peers.length} peers drifted${drift.extra.length > 0 ? `, ${drift.extra.length} unwanted entries` : ''}`);
    }
    return { deviceName, device: link ? { ...link, problems: linkProblems } : null, drift, problems };
  } catch (err) {
    problems.push(`cannot read ${deviceName}: ${errorMessage(err)}`);
    return { deviceName, device: null, drift: null, problems };
  } finally {
    if (owned) kernel.close?.();
  }
}

function renderLease(l: NonNullable<StatusReport['lease']>): string {
  const ttl = l.reservation ? 'reservation' : l.ttlSeconds === null || l.ttlSeconds < 0 ? 'EXPIRED' : `TTL ${formatDuration(l.ttlSeconds * 1000)}`;
  const v6 = l.subnetV6 === null ? '' : `; IPv6 ${l.subnetV6}, public IPv6 ${l.publicIpv6 ?? '-'}, VTEP MAC ${l.vtepMacV6 ?? '-'}`;
  const backend = l.publicKey !== undefined ? `public key ${l.publicKey}` : `VTEP MAC ${l.vtepMac ?? '-'}`;
  return `${l.subnet}, public IP ${l.publicIp}, ${backend}${v6}, ${ttl}`;
}

function renderPeers(drift: DriftReport, family: '' | 'IPV6 '): string[] {
  const lines = [drift.peers.length === 0 ? `no ${family ? 'IPv6 ' : ''}peers`
    : renderTable([`PEER ${family}SUBNET`, 'NODE', `PUBLIC IP${family ? 'V6' : ''}`, 'VTEP MAC', 'PATH', 'ROUTE', 'NEIGHBOUR', 'FDB'],
      drift.peers.map((p) => [p.subnet, p.node ?? '-', p.publicIp, p.vtepMac, p.path,
        p.route, p.path === 'direct' ? '-' : p.neighbor, p.path === 'direct' ? '-' : p.fdb]))];
  for (const e of drift.extra) lines.push(`unwanted on the ${family ? 'IPv6 ' : ''}device: ${e}`);
  return lines;
}

function renderDevice(d: NonNullable<StatusReport['device']>): string {
  const settings = `${d.name} ${d.up ? 'up' : 'DOWN'}, vxlan id ${String(d.vni)} dstport ${String(d.port)} local ${String(d.local)} dev ${String(d.parent)}, mtu ${d.mtu}, mac ${String(d.mac)}`;
  return d.problems.length > 0 ? `${settings} — ${d.problems.join('; ')}` : settings;
}

export function renderStatus(r: StatusReport): string {
  const lines = [
    `node        ${r.node}`,
    `lease       ${r.lease ? renderLease(r.lease) : 'none'}`,
    `device      ${r.wireguard ? renderWireguardDevice(r.wireguard) : r.device ? renderDevice(r.device) : 'missing'}`,
    ...(r.underlay ? [`underlay    ${r.underlay.iface}: ${r.underlay.addresses?.join(', ') ?? 'missing (or no IPv4 address)'}`] : []),
    ...(r.ipv6 ? [`ipv6 device ${r.ipv6.device ? renderDevice(r.ipv6.device) : 'missing'}`] : []),
    `subnet.env  ${r.subnetFile.path}: ${r.subnetFile.state}`,
  ];
  if (r.drift) lines.push('', ...renderPeers(r.drift, ''));
  if (r.wireguard?.tunnels) lines.push('', ...renderTunnels(r.wireguard.tunnels));
  const wg6 = r.wireguard?.v6;
  if (wg6) {
    lines.push('', `${wg6.deviceName} ${wg6.up === null ? 'no link' : wg6.up ? 'up' : 'DOWN'}, listen port ${wg6.listenPort ?? '-'}, mtu ${wg6.mtu ?? '-'}${wg6.error ? ` — ${wg6.error}` : ''}`);
    if (wg6.tunnels) lines.push(...renderTunnels(wg6.tunnels));
  }
  if (r.ipv6?.drift) lines.push('', ...renderPeers(r.ipv6.drift, 'IPV6 '));
  if (r.refused.length > 0) {
    lines.push('');
    lines.push(renderTable(['REFUSED KEY', 'REASON'], r.refused.map((x) => [x.key, x.reason])));
  }
  for (const p of r.pending) lines.push(`pending: ${p.key}: ${p.reason}`);
  lines.push('');
  const v6 = r.ipv6?.drift ? `, ${r.ipv6.drift.peers.length} over IPv6` : '';
  const peers = r.wireguard ? r.wireguard.tunnels?.peers.length ?? 0 : r.drift?.peers.length ?? 0;
  lines.push(r.ok ? `in sync: ${peers} peers${v6}` : `NOT in sync:\n  - ${r.problems.join('\n  - ')}`);
  return lines.join('\n');
}

export async function statusCommand(registry: SubnetRegistry, argv: Record<string, unknown>, io: CtlIo, kernel: Kernel = new IpRoute2(),
  kernel6: Kernel | (() => Kernel) = ipv6Kernel, wireguardReaders: () => WireguardReaders = () => hostWireguardReaders(socketDirOf(argv))): Promise<number> {
  const node = typeof argv['node-name'] === 'string' && argv['node-name'] ? argv['node-name'] : hostname();
  const path = typeof argv['subnet-file'] === 'string' && argv['subnet-file'] ? argv['subnet-file'] : DEFAULT_SUBNET_FILE;
  const report = await collectStatus(registry, kernel, node, path, kernel6, wireguardReaders);
  io.out(argv['json'] ? JSON.stringify(report, null, 2) : renderStatus(report));
  return report.ok ? 0 : 1;
}
