/**
 * Compares what the leases want on our device with what the kernel holds,
 * per peer, for `weftctl status` and `weftctl doctor`. Pure.
 *
 * The wanted entries are exactly weftd's (`desiredIndex`), so a peer status
 * says `ok` only for what the daemon itself would leave alone.
 */
import { type Cidr, type Ipv4, cidrIp, compareCidr } from './cidr.js';
import { type Cidr6, compareCidr6 } from './cidr6.js';
import type { DirectPaths } from './direct-routing.js';
import { type KernelState, desiredIndex, directRoute, sameRoute } from './kernel-state.js';
import { type Peer, peerV6 } from './peer-acceptance.js';
import { asPlaneSubnet } from './family-view.js';

/** `ok`, `missing`, or what the kernel has instead. */
export type EntryState = 'ok' | 'missing' | `wrong: ${string}`;

export interface PeerDrift {
  readonly subnet: Cidr;
  readonly node: string | null;
  readonly publicIp: string;
  readonly vtepMac: string;
  /** `direct` (DirectRouting: a plain route via the public IP, no neighbour or FDB entry) or `vxlan`. */
  readonly path: 'direct' | 'vxlan';
  readonly route: EntryState;
  readonly neighbor: EntryState;
  readonly fdb: EntryState;
  readonly inSync: boolean;
}

export interface DriftReport {
  readonly peers: readonly PeerDrift[];
  /** Entries on our device that no lease wants (removed by weftd's next pass). */
  readonly extra: readonly string[];
  readonly inSync: boolean;
}

/** `paths`: the DirectRouting decision (as weftd makes it from the underlay's routes); without it every peer is VXLAN. */
export function peerDrift(selfSubnet: Cidr, leases: Iterable<Peer>, actual: KernelState, paths?: DirectPaths): DriftReport {
  return drift(selfSubnet, [...leases], actual, compareCidr, paths);
}

/**
 * The same for the IPv6 device: each peer's accepted IPv6 half (its IPv6
 * subnet, `PublicIPv6`, `BackendV6Data.VtepMAC`) against the entries an
 * IPv6 kernel adapter read. Per family the entries have one shape
 * (neighbour `<subnet address>`, FDB `MAC → public IP`, route `via <subnet
 * address> onlink`), so the halves are checked by the same rule, seen
 * through the IPv4 types; peers without an IPv6 half are not on it.
 */
export function peerDriftV6(selfSubnetV6: Cidr6 | undefined, leases: Iterable<Peer>, actual: KernelState, paths?: DirectPaths): DriftReport {
  return drift(selfSubnetV6 as string | undefined as Cidr | undefined, [...leases].flatMap(ipv6Half), actual, (a, b) => compareCidr6(a as string as Cidr6, b as string as Cidr6), paths);
}

/** The IPv6 subnet a peer is programmed with on the IPv6 device; undefined for an IPv4-only peer (the acceptance rule's peerV6). */
export function programmedSubnetV6(peer: Peer): Cidr6 | undefined {
  return peerV6(peer)?.subnet;
}

/** A peer's IPv6 half in the shape the IPv4 rules take (family-view.ts's projection); none when it has no accepted one. */
function ipv6Half(peer: Peer): Peer[] {
  const half = peerV6(peer);
  if (half === undefined) return [];
  return [{ subnet: asPlaneSubnet(half.subnet), attrs: { ...peer.attrs, publicIp: half.publicIp as string as Ipv4, vtepMac: half.vtepMac } }];
}

function drift(selfSubnet: Cidr | undefined, list: readonly Peer[], actual: KernelState, compare: (a: Cidr, b: Cidr) => number,
  paths?: DirectPaths): DriftReport {
  const want = desiredIndex(selfSubnet as Cidr, list, paths);
  const routes = new Map(actual.routes.map((r) => [r.dst as string, r]));
  const neighbors = new Map(actual.neighbors.map((n) => [n.ip as string, n]));
  const fdb = new Map(actual.fdb.map((f) => [f.mac as string, f]));
  const peers: PeerDrift[] = [];
  for (const { subnet, attrs } of list) {
    if (subnet === selfSubnet) continue;
    const r = routes.get(subnet);
    if (paths?.direct(attrs.publicIp) === true) {
      const wanted = directRoute(subnet, attrs.publicIp, paths.device);
      const route: EntryState = !r ? 'missing' : sameRoute(wanted, r) ? 'ok' : `wrong: via ${r.via}${r.dev === undefined ? '' : ` dev ${r.dev}`}`;
      peers.push({ subnet, node: attrs.nodeName ?? null, publicIp: attrs.publicIp, vtepMac: attrs.vtepMac, path: 'direct',
        route, neighbor: 'ok', fdb: 'ok', inSync: route === 'ok' });
      continue;
    }
    const vtep = cidrIp(subnet);
    const n = neighbors.get(vtep);
    const f = fdb.get(attrs.vtepMac);
    const route: EntryState = !r ? 'missing' : r.via === vtep && r.dev === undefined ? 'ok' : `wrong: via ${r.via}${r.dev === undefined ? '' : ` dev ${r.dev}`}`;
    const neighbor: EntryState = !n ? 'missing' : n.mac === attrs.vtepMac ? 'ok' : `wrong: lladdr ${n.mac}`;
    let fdbState: EntryState = !f ? 'missing' : f.dst === attrs.publicIp ? 'ok' : `wrong: dst ${f.dst}`;
    // A MAC one FDB entry cannot serve twice: another lease with the same MAC won it.
    const winner = want.fdb.get(attrs.vtepMac);
    if (winner && winner.dst !== attrs.publicIp) {
      const other = list.find((l) => l.subnet !== subnet && l.attrs.vtepMac === attrs.vtepMac && l.attrs.publicIp === winner.dst);
      fdbState = `wrong: dst ${f?.dst ?? 'none'} (MAC shared with ${other?.subnet ?? winner.dst}; one of the two leases is stale)`;
    }
    peers.push({
      subnet, node: attrs.nodeName ?? null, publicIp: attrs.publicIp, vtepMac: attrs.vtepMac, path: 'vxlan', route, neighbor, fdb: fdbState,
      inSync: route === 'ok' && neighbor === 'ok' && fdbState === 'ok',
    });
  }
  const extra = [
    ...actual.routes.filter((r) => !want.routes.has(r.dst)).map((r) => `route ${r.dst} via ${r.via}${r.dev === undefined ? '' : ` dev ${r.dev}`}`),
    ...actual.neighbors.filter((n) => !want.neighbors.has(n.ip)).map((n) => `neighbour ${n.ip} lladdr ${n.mac}`),
    ...actual.fdb.filter((f) => !want.fdb.has(f.mac)).map((f) => `fdb ${f.mac} dst ${f.dst}`),
  ];
  peers.sort((a, b) => compare(a.subnet, b.subnet));
  return { peers, extra, inSync: extra.length === 0 && peers.every((p) => p.inSync) };
}
