/**
 * `weftctl status`: this host's lease, its VXLAN device, and per peer whether
 * the route, neighbour and FDB entry match the lease. Exit 0 only when
 * everything matches. Runs on the host (it reads the host's kernel), e.g.
 * `ip netns exec <host> weftctl status` in a namespace.
 */
import { hostname } from 'node:os';
import { type Cidr } from '../core/cidr.js';
import { UsageError } from '../core/errors.js';
import { formatDuration } from '../core/duration.js';
import { deviceProblems, findOwnLease, subnetFileProblem } from '../core/device-check.js';
import { parseNetworkConfigText } from '../core/network-config.js';
import { DEFAULT_SUBNET_FILE } from '../core/subnet-env.js';
import { classifyListing } from '../core/peer-set.js';
import { hostPeers } from '../core/host-peers.js';
import { encodeSubnetKey } from '../core/lease.js';
import { type DriftReport, peerDrift } from '../core/peer-drift.js';
import { deviceName } from '../core/vxlan-device.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import { readSubnetFile } from '../adapters/subnet-file.js';
import { IpRoute2 } from '../adapters/iproute2/iproute2.js';
import type { Kernel, VxlanLinkInfo } from '../adapters/kernel.js';
import { renderTable } from './leases-table.js';
import type { CtlIo } from './ctl-io.js';


export interface StatusReport {
  readonly node: string;
  /** `ttlSeconds`: seconds left on the etcd lease, null for a reservation, -1 when it expired. */
  readonly lease: { subnet: Cidr; publicIp: string; vtepMac: string | null; reservation: boolean; ttlSeconds: number | null } | null;
  readonly device: (VxlanLinkInfo & { problems: string[] }) | null;
  /** `state` is `ok` or what is wrong with the file. */
  readonly subnetFile: { path: string; state: string };
  readonly drift: DriftReport | null;
  /** Lease keys the acceptance rule refuses (never programmed), and peers whose subnet a foreign route uses here. */
  readonly refused: readonly { key: string; subnet: Cidr | null; code: string; reason: string }[];
  /** Reservations whose host has not started weftd yet. */
  readonly pending: readonly { key: string; subnet: Cidr; reason: string }[];
  readonly problems: readonly string[];
  readonly ok: boolean;
}

export async function collectStatus(registry: SubnetRegistry, kernel: Kernel, node: string, subnetFilePath: string): Promise<StatusReport> {
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

  const name = deviceName(config.backend.vni);
  const link = await kernel.readDevice(name);
  const linkProblems = link ? deviceProblems(link, config, own.lease) : [];
  if (!link) problems.push(`device ${name} does not exist`);
  problems.push(...linkProblems.map((p) => `${name}: ${p}`));

  const fileProblem = subnetFileProblem(file, config, own.lease, link?.mtu);
  if (fileProblem !== undefined) problems.push(`subnet.env ${subnetFilePath}: ${fileProblem}`);

  const state = link?.kind === 'vxlan' ? await kernel.readState(name, config.network) : undefined;
  const self = own.lease ? { subnet: own.lease.subnet, publicIp: own.lease.attrs.publicIp, vtepMac: own.lease.attrs.vtepMac } : {};
  const judged = hostPeers(config, entries, self, state?.foreign ?? []);
  const refused = [
    ...judged.verdicts.flatMap((v) => (v.state === 'refused' ? [{ key: v.key, subnet: v.lease?.subnet ?? null, code: v.code, reason: v.reason }] : [])),
    ...[...judged.collisions].map(([subnet, reason]) => ({
      key: encodeSubnetKey(judged.peers.find((p) => p.subnet === subnet) ?? { subnet }), subnet, code: 'route-collision', reason,
    })),
  ].sort((a, b) => a.key.localeCompare(b.key));
  const pending = judged.verdicts.flatMap((v) => (v.state === 'pending' ? [{ key: v.key, subnet: v.lease.subnet, reason: v.reason ?? '' }] : []));
  if (judged.collisions.size > 0) {
    problems.push(`${judged.collisions.size} peers not programmed: a route weft does not own uses their subnet (${[...judged.collisions.keys()].join(', ')})`);
  }
  const drift = own.lease && state ? peerDrift(own.lease.subnet, judged.peers, state) : null;
  if (drift && !drift.inSync) {
    const drifted = drift.peers.filter((p) => !p.inSync).length;
    problems.push(`${drifted} of ${drift.peers.length} peers drifted${drift.extra.length > 0 ? `, ${drift.extra.length} unwanted entries` : ''}`);
  }
  const l = own.lease;
  return {
    node,
    lease: l ? { subnet: l.subnet, publicIp: l.attrs.publicIp, vtepMac: l.attrs.vtepMac ?? null, reservation: l.reservation, ttlSeconds: ttl } : null,
    device: link ? { ...link, problems: linkProblems } : null,
    subnetFile: { path: subnetFilePath, state: fileProblem ?? 'ok' },
    drift, refused, pending, problems, ok: problems.length === 0,
  };
}

function renderLease(l: NonNullable<StatusReport['lease']>): string {
  const ttl = l.reservation ? 'reservation' : l.ttlSeconds === null || l.ttlSeconds < 0 ? 'EXPIRED' : `TTL ${formatDuration(l.ttlSeconds * 1000)}`;
  return `${l.subnet}, public IP ${l.publicIp}, VTEP MAC ${l.vtepMac ?? '-'}, ${ttl}`;
}

function renderDevice(d: NonNullable<StatusReport['device']>): string {
  const settings = `${d.name} ${d.up ? 'up' : 'DOWN'}, vxlan id ${String(d.vni)} dstport ${String(d.port)} local ${String(d.local)} dev ${String(d.parent)}, mtu ${d.mtu}, mac ${String(d.mac)}`;
  return d.problems.length > 0 ? `${settings} — ${d.problems.join('; ')}` : settings;
}

export function renderStatus(r: StatusReport): string {
  const lines = [
    `node        ${r.node}`,
    `lease       ${r.lease ? renderLease(r.lease) : 'none'}`,
    `device      ${r.device ? renderDevice(r.device) : 'missing'}`,
    `subnet.env  ${r.subnetFile.path}: ${r.subnetFile.state}`,
  ];
  if (r.drift) {
    lines.push('');
    lines.push(r.drift.peers.length === 0 ? 'no peers' : renderTable(['PEER SUBNET', 'NODE', 'PUBLIC IP', 'VTEP MAC', 'ROUTE', 'NEIGHBOUR', 'FDB'],
      r.drift.peers.map((p) => [p.subnet, p.node ?? '-', p.publicIp, p.vtepMac, p.route, p.neighbor, p.fdb])));
    for (const e of r.drift.extra) lines.push(`unwanted on the device: ${e}`);
  }
  if (r.refused.length > 0) {
    lines.push('');
    lines.push(renderTable(['REFUSED KEY', 'REASON'], r.refused.map((x) => [x.key, x.reason])));
  }
  for (const p of r.pending) lines.push(`pending: ${p.key}: ${p.reason}`);
  lines.push('');
  lines.push(r.ok ? `in sync: ${r.drift?.peers.length ?? 0} peers` : `NOT in sync:\n  - ${r.problems.join('\n  - ')}`);
  return lines.join('\n');
}

export async function statusCommand(registry: SubnetRegistry, argv: Record<string, unknown>, io: CtlIo, kernel: Kernel = new IpRoute2()): Promise<number> {
  const node = typeof argv['node-name'] === 'string' && argv['node-name'] ? argv['node-name'] : hostname();
  const path = typeof argv['subnet-file'] === 'string' && argv['subnet-file'] ? argv['subnet-file'] : DEFAULT_SUBNET_FILE;
  const report = await collectStatus(registry, kernel, node, path);
  io.out(argv['json'] ? JSON.stringify(report, null, 2) : renderStatus(report));
  return report.ok ? 0 : 1;
}
