/**
 * The one acceptance rule for peer leases. Anyone who can write to etcd can
 * write a lease, and weftd turns leases into routes, neighbours and FDB
 * entries on the host: so a lease is programmed only when it describes a
 * plausible peer of this network. Every reader (weftd's data plane, `weftctl
 * leases`, `status`, `doctor`) judges leases here, through PeerSet, and shows
 * the same reason for a refusal. Pure.
 *
 * A peer is programmable when:
 * - its subnet is exactly `SubnetLen` long, aligned, inside `Network`, not
 *   this host's subnet, and no older key holds it (PeerSet);
 * - its `PublicIP` is a unicast address usable as an underlay destination:
 *   not unspecified, loopback, multicast, limited broadcast or reserved
 *   (240/4), not inside `Network`, not this host's own public IP;
 * - its backend type is this network's `Backend.Type` (flannel ignores
 *   other types too); for vxlan: our VNI and a unicast VTEP MAC that is
 *   not this host's and that no older key uses (PeerSet); for wireguard: a
 *   `BackendData` whose public key is not this host's (the lease codec
 *   already checked it is a key) and, in Mode "ipv6", a usable `PublicIPv6`;
 * - (data plane only) no route that weft does not own has its subnet as
 *   destination on this host (`routeCollisions`).
 * A reservation made ahead of its host (no backend data yet) is pending, not
 * refused: it is normal and becomes a peer once its host starts.
 *
 * The IPv6 half of a dual-stack lease (its IPv6 subnet, `PublicIPv6` and
 * `BackendV6Data`) is judged with the same strictness, on its own: a peer
 * whose IPv6 half is unusable is programmed for IPv4 only, with the reason
 * kept (`ipv6Refusal`) for logs and `weftctl leases`, so a problem in one
 * family never takes the other down. A peer with no IPv6 half (an IPv4-only
 * host, an older weft) is simply an IPv4 peer.
 */
import { type Cidr, type Ipv4, cidrPrefix, containsCidr, containsIp, ipv4ToInt } from './cidr.js';
import { type Cidr6, type Ipv6, cidr6Prefix, containsCidr6, containsIp6, ipv6UnicastProblem } from './cidr6.js';
import type { Lease, LeaseAttrs, VxlanData } from './lease.js';
import type { WgPublicKey } from './wireguard/keys.js';
import type { WireguardLeaseData } from './wireguard/lease-data.js';
import type { Mac } from './mac.js';
import { type NetworkConfig, vxlanBackendOf } from './network-config.js';

/** An accepted peer: a vxlan lease with its VTEP MAC, as the data plane programs it. */
export interface Peer extends Lease {
  readonly attrs: LeaseAttrs & { readonly vtepMac: Mac };
  /** Why the lease's IPv6 half is not programmed (the peer is then IPv4 only); undefined when it is, or when there is none. */
  readonly ipv6Refusal?: string | undefined;
}

/** An accepted peer of a wireguard network: its public key and port (`BackendData`; `BackendV6Data` for its IPv6 half). */
export interface WireguardPeer extends Lease {
  readonly attrs: LeaseAttrs & { readonly wireguard: WireguardLeaseData };
  readonly ipv6Refusal?: string | undefined;
}

/** A peer of either backend: the network's `Backend.Type` decides which kind every accepted peer is. */
export type AcceptedPeer = Peer | WireguardPeer;

/** The vxlan peers among `peers` (all of them on a vxlan network). */
export function isVxlanPeer<P extends AcceptedPeer>(peer: P): peer is P & Peer {
  return peer.attrs.backendType === 'vxlan' && peer.attrs.vtepMac !== undefined;
}

export function isWireguardPeer<P extends AcceptedPeer>(peer: P): peer is P & WireguardPeer {
  return peer.attrs.backendType === 'wireguard' && peer.attrs.wireguard !== undefined;
}

/** The IPv6 half of an accepted dual-stack peer: what the IPv6 device programs. */
export interface PeerV6 {
  readonly subnet: Cidr6;
  readonly publicIp: Ipv6;
  readonly vtepMac: Mac;
}

/** The peer's IPv6 half when it has an accepted one (judgeLease strips a refused one). */
export function peerV6(peer: AcceptedPeer): PeerV6 | undefined {
  const { subnetV6, attrs } = peer;
  if (subnetV6 === undefined || attrs.publicIpv6 === undefined || attrs.backendV6 === undefined) return undefined;
  return { subnet: subnetV6, publicIp: attrs.publicIpv6, vtepMac: attrs.backendV6.vtepMac };
}

/** The IPv6 subnet of an accepted peer's IPv6 half, of either backend (judgeLease strips a refused half). */
export function peerSubnetV6(peer: AcceptedPeer): Cidr6 | undefined {
  if (isWireguardPeer(peer)) return peer.attrs.wireguardV6 === undefined ? undefined : peer.subnetV6;
  return peerV6(peer)?.subnet;
}

/** Why a lease is not programmed; the metric `weft_leases_refused` is labelled with it. */
export const REFUSAL_CODES = [
  'invalid-key', 'invalid-value', 'subnet-length', 'outside-network', 'duplicate-subnet', 'duplicate-mac',
  'public-ip', 'backend-type', 'vni', 'route-collision', 'wireguard-key',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export type Verdict =
  | { readonly kind: 'peer'; readonly peer: AcceptedPeer }
  /** This host's own lease: not a peer, not refused. */
  | { readonly kind: 'self' }
  /** A reservation whose host has not written its endpoint yet. */
  | { readonly kind: 'pending'; readonly reason: string }
  | { readonly kind: 'refused'; readonly code: RefusalCode; readonly reason: string };

/** What the judge knows about the host it runs on; both unknown for `weftctl leases` off a host. */
export interface SelfView {
  readonly subnet?: Cidr | undefined;
  readonly publicIp?: Ipv4 | undefined;
  readonly vtepMac?: Mac | undefined;
  readonly subnetV6?: Cidr6 | undefined;
  readonly publicIpv6?: Ipv6 | undefined;
  readonly vtepMacV6?: Mac | undefined;
  /** This host's WireGuard public key, on a wireguard network. */
  readonly wireguardKey?: WgPublicKey | undefined;
}

/** Judges one decoded lease on its own (a duplicate subnet across keys is PeerSet's to see). */
export function judgeLease(lease: Lease & { readonly reservation?: boolean }, config: NetworkConfig, self: SelfView): Verdict {
  const { subnet, attrs } = lease;
  if (self.subnet !== undefined && subnet === self.subnet) return { kind: 'self' };
  const placement = subnetProblem(subnet, config);
  if (placement) return placement;
  if (lease.reservation && attrs.backendType === '' && attrs.vtepMac === undefined) {
    return { kind: 'pending', reason: `reservation for ${attrs.nodeName ?? attrs.publicIp}; its host has not started weftd yet` };
  }
  const ip = publicIpProblem(attrs.publicIp, config, self);
  if (ip) return { kind: 'refused', code: 'public-ip', reason: ip };
  if (attrs.backendType !== config.backend.type) {
    return { kind: 'refused', code: 'backend-type', reason: `backend type ${JSON.stringify(attrs.backendType)}; this network uses ${config.backend.type}` };
  }
  const backend = vxlanBackendOf(config);
  if (backend === undefined) return judgeWireguard(lease, config, self);
  if (attrs.vni !== backend.vni) {
    return { kind: 'refused', code: 'vni', reason: `VNI ${attrs.vni === undefined ? '(none)' : attrs.vni}; this network uses VNI ${backend.vni}` };
  }
  // decodeLeaseValue already refuses a vxlan lease without a unicast MAC.
  if (attrs.vtepMac === undefined) return { kind: 'refused', code: 'invalid-value', reason: 'no VTEP MAC' };
  if (self.vtepMac !== undefined && attrs.vtepMac === self.vtepMac) {
    return { kind: 'refused', code: 'duplicate-mac', reason: `VTEP MAC ${attrs.vtepMac} is this host's own` };
  }
  if (lease.subnetV6 === undefined && attrs.publicIpv6 === undefined && attrs.backendV6 === undefined) {
    return { kind: 'peer', peer: lease as Peer };
  }
  const problem = ipv6Problem(lease, config, self);
  return { kind: 'peer', peer: problem === undefined ? lease as Peer : withoutIpv6(lease as Peer, problem) };
}

/**
 * A wireguard lease (its type already checked): a peer when its BackendData
 * has a key that is not ours. Its IPv6 half (IPv6 subnet, `BackendV6Data`,
 * and `PublicIPv6` where the mode sends tunnels over the IPv6 underlay) is
 * judged on its own, as for vxlan; in Mode "ipv6" every tunnel of the peer
 * goes to its `PublicIPv6`, so a peer without a usable one is refused whole.
 */
function judgeWireguard(lease: Lease, config: NetworkConfig, self: SelfView): Verdict {
  const data = lease.attrs.wireguard;
  const backend = config.backend;
  // decodeLeaseValue checked the key; a lease with only BackendV6Data (an IPv6-only flannel host) has nothing for IPv4.
  if (data === undefined || backend.type !== 'wireguard') {
    return { kind: 'refused', code: 'invalid-value', reason: 'wireguard lease has no BackendData (its host has no IPv4 tunnel)' };
  }
  if (self.wireguardKey !== undefined && data.publicKey === self.wireguardKey) {
    return { kind: 'refused', code: 'wireguard-key', reason: `PublicKey ${data.publicKey} is this host's own (a copied key file?)` };
  }
  const peer = lease as WireguardPeer;
  if (backend.mode === 'ipv6') {
    const endpoint = ipv6EndpointProblem(lease, config, self);
    if (endpoint !== undefined) return { kind: 'refused', code: 'public-ip', reason: `Mode "ipv6" reaches peers over IPv6 only: ${endpoint}` };
  }
  if (lease.subnetV6 === undefined && lease.attrs.publicIpv6 === undefined && lease.attrs.wireguardV6 === undefined) return { kind: 'peer', peer };
  const problem = wireguardIpv6Problem(lease, config, self);
  return { kind: 'peer', peer: problem === undefined ? peer : withoutIpv6(peer, problem) };
}

/** Why the IPv6 half of a wireguard lease cannot be programmed in this network's Mode; undefined when it can. */
function wireguardIpv6Problem(lease: Lease, config: NetworkConfig, self: SelfView): string | undefined {
  const v6 = config.ipv6;
  const { subnetV6, attrs } = lease;
  if (v6 === undefined || config.backend.type !== 'wireguard') return 'IPv6 is not enabled in this network (EnableIPv6)';
  const mode = config.backend.mode;
  const subnet = ipv6SubnetProblem(subnetV6, v6, self);
  if (subnet !== undefined) return subnet;
  // Mode "ipv4" never sends to PublicIPv6; "auto" uses it when it is usable and judges it, "separate" and "ipv6" need it.
  if (mode === 'separate' || mode === 'ipv6' || (mode === 'auto' && attrs.publicIpv6 !== undefined)) {
    const endpoint = ipv6EndpointProblem(lease, config, self);
    if (endpoint !== undefined) return endpoint;
  }
  const data = attrs.wireguardV6;
  if (data === undefined) return 'no BackendV6Data (its host has no IPv6 WireGuard tunnel)';
  if (self.wireguardKey !== undefined && data.publicKey === self.wireguardKey) return `BackendV6Data.PublicKey ${data.publicKey} is this host's own`;
  if (mode !== 'separate' && attrs.wireguard !== undefined && data.publicKey !== attrs.wireguard.publicKey) {
    return `BackendV6Data.PublicKey differs from BackendData.PublicKey; Mode "${mode}" carries both families on one device, to one key`;
  }
  return undefined;
}

/** The IPv6 subnet of a lease's key against the IPv6 network; undefined when it is usable. */
function ipv6SubnetProblem(subnetV6: Cidr6 | undefined, v6: NonNullable<NetworkConfig['ipv6']>, self: SelfView): string | undefined {
  if (subnetV6 === undefined) return 'the key names no IPv6 subnet';
  if (!containsCidr6(v6.network, subnetV6)) return `IPv6 subnet ${subnetV6} is outside the IPv6 network ${v6.network}`;
  if (cidr6Prefix(subnetV6) !== v6.subnetLen) return `IPv6 subnet ${subnetV6} is a /${cidr6Prefix(subnetV6)}; this network leases /${v6.subnetLen}`;
  if (self.subnetV6 !== undefined && subnetV6 === self.subnetV6) return `IPv6 subnet ${subnetV6} is this host's own`;
  return undefined;
}

/** `PublicIPv6` as an underlay destination: present, global unicast, outside the overlay, not ours; undefined when usable. */
function ipv6EndpointProblem(lease: Lease, config: NetworkConfig, self: SelfView): string | undefined {
  const ip = lease.attrs.publicIpv6;
  if (ip === undefined) return 'no PublicIPv6 (its host has no IPv6 underlay address)';
  const unicast = ipv6UnicastProblem(ip);
  if (unicast !== undefined) return `PublicIPv6 ${unicast}`;
  if (config.ipv6 !== undefined && containsIp6(config.ipv6.network, ip)) return `PublicIPv6 ${ip} is inside the IPv6 overlay network ${config.ipv6.network}`;
  if (self.publicIpv6 !== undefined && ip === self.publicIpv6) return `PublicIPv6 ${ip} is this host's own address`;
  return undefined;
}

/** The peer programmed for IPv4 only, with the reason its IPv6 half is not. */
export function withoutIpv6<P extends AcceptedPeer>(peer: P, reason: string): P {
  const { publicIpv6: _ip, backendV6: _data, wireguardV6: _wg, ...attrs } = peer.attrs;
  return { subnet: peer.subnet, attrs, ipv6Refusal: reason } as P;
}

/** Why the IPv6 half of a lease cannot be programmed; undefined when it can. */
function ipv6Problem(lease: Lease, config: NetworkConfig, self: SelfView): string | undefined {
  const v6 = config.ipv6;
  const { subnetV6, attrs } = lease;
  if (v6 === undefined) return 'IPv6 is not enabled in this network (EnableIPv6)';
  const problem = ipv6SubnetProblem(subnetV6, v6, self) ?? ipv6EndpointProblem(lease, config, self);
  if (problem !== undefined) return problem;
  const data: VxlanData | undefined = attrs.backendV6;
  if (data === undefined) return 'no BackendV6Data (its host has no IPv6 VXLAN device)';
  const vni = vxlanBackendOf(config)?.vni;
  if (data.vni !== vni) return `BackendV6Data VNI ${data.vni ?? '(none)'}; this network uses VNI ${vni ?? '(none: not vxlan)'}`;
  if (self.vtepMacV6 !== undefined && data.vtepMac === self.vtepMacV6) return `IPv6 VTEP MAC ${data.vtepMac} is this host's own`;
  return undefined;
}

function subnetProblem(subnet: Cidr, config: NetworkConfig): Verdict | undefined {
  if (!containsCidr(config.network, subnet)) {
    return { kind: 'refused', code: 'outside-network', reason: `subnet ${subnet} is outside the network ${config.network}` };
  }
  if (cidrPrefix(subnet) !== config.subnetLen) {
    return { kind: 'refused', code: 'subnet-length', reason: `subnet ${subnet} is a /${cidrPrefix(subnet)}; this network leases /${config.subnetLen} subnets` };
  }
  return undefined;
}

/** Why `ip` cannot be a peer's VXLAN destination; undefined when it can. */
export function publicIpProblem(ip: Ipv4, config: NetworkConfig, self: SelfView): string | undefined {
  const n = ipv4ToInt(ip);
  const first = n >>> 24;
  if (first === 0) return `public IP ${ip} is in 0.0.0.0/8 ("this network"), not a host address`;
  if (first === 127) return `public IP ${ip} is a loopback address`;
  if (first >= 224 && first <= 239) return `public IP ${ip} is a multicast address`;
  if (n === 0xffffffff) return `public IP ${ip} is the limited broadcast address`;
  if (first >= 240) return `public IP ${ip} is in the reserved range 240.0.0.0/4`;
  if (containsIp(config.network, ip)) return `public IP ${ip} is inside the overlay network ${config.network}; it must be an underlay address`;
  if (self.publicIp !== undefined && ip === self.publicIp) return `public IP ${ip} is this host's own address`;
  return undefined;
}

/** A route in the host's main table that weft does not own (another device, protocol or shape). */
export interface ForeignRoute {
  readonly dst: Cidr;
  /** Enough to name it in a refusal, e.g. `dev eth1 proto static`. */
  readonly description: string;
  /** Its metric (0 when none): a route add with the same destination fails (EEXIST) only against metric 0. */
  readonly metric?: number;
}

/**
 * Peers whose subnet is the destination of a route weft does not own: weft
 * would replace that route (and delete it when the lease goes), so such a
 * lease is refused and the host's route stays as it was.
 */
export function routeCollisions(peers: readonly AcceptedPeer[], foreign: readonly ForeignRoute[]): Map<Cidr, string> {
  const collisions = new Map<Cidr, string>();
  if (foreign.length === 0) return collisions;
  const byDst = new Map<Cidr, ForeignRoute>();
  for (const route of foreign) if (!byDst.has(route.dst)) byDst.set(route.dst, route);
  for (const peer of peers) {
    const route = byDst.get(peer.subnet);
    if (route) collisions.set(peer.subnet, `the host already has a route ${route.dst} ${route.description} that weft does not own`);
  }
  return collisions;
}

/**
 * The peers a host programs: `peers` minus those whose subnet a foreign route
 * uses (with the route named). Our own subnet is no peer: its route on cni0
 * is the bridge's, not a collision.
 */
export function withoutCollisions<P extends AcceptedPeer>(selfSubnet: Cidr | undefined, peers: readonly P[],
  foreign: readonly ForeignRoute[]): { peers: readonly P[]; collisions: Map<Cidr, string> } {
  const collisions = routeCollisions(selfSubnet === undefined ? peers : peers.filter((p) => p.subnet !== selfSubnet), foreign);
  return { peers: collisions.size === 0 ? peers : peers.filter((p) => !collisions.has(p.subnet)), collisions };
}

