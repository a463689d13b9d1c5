/**
 * The WireGuard peer set, level-triggered: the peers a host should have (one
 * per accepted wireguard lease) against the peers its device reports, and the
 * fewest peer changes that turn one into the other.
 *
 * - A device peer whose key no lease has is removed. That includes the old key
 *   of a host that changed its key: WireGuard moves the allowed IPs to the new
 *   peer but keeps the old one with none, forever (flannel since #2073;
 *   k3s#5216 saw tens of thousands). Keying by the lease set rather than by
 *   endpoint also keeps several hosts behind one NAT address apart.
 * - A new key is added with everything; a changed peer gets only its changed
 *   fields (`update_only`, so a peer removed meanwhile is not re-created half
 *   configured); allowed IPs are replaced as a whole.
 * - Removals come first, so an allowed IP that moves between keys ends on the
 *   right peer whatever WireGuard did with it before.
 */
import { type Endpoint, type PeerOp, type PeerState, canonicalAllowedIp, formatEndpoint } from './uapi-codec.js';
import { type SecretKey, type WgPublicKey } from './keys.js';
import { type WireguardLeaseData, peerPort } from './lease-data.js';
import type { WireguardPeer } from '../peer-acceptance.js';
import { type Ipv4, ipv4ToInt } from '../cidr.js';
import type { Ipv6 } from '../cidr6.js';
import type { WireguardBackend } from './backend-config.js';
import { WIREGUARD_DEVICE, WIREGUARD_DEVICE_V6 } from './device.js';

/** The peer this host wants for one lease. */
export interface DesiredPeer {
  readonly publicKey: WgPublicKey;
  readonly endpoint: Endpoint;
  /** Canonical CIDRs: the peer's subnet(s). */
  readonly allowedIps: readonly string[];
  readonly presharedKey: SecretKey | undefined;
  readonly persistentKeepaliveInterval: number;
}

/** What a lease contributes to a peer: its underlay address, its wireguard data, its subnet(s). */
export interface WireguardPeerLease {
  /** `PublicIP` (or `PublicIPv6` for an IPv6 device). */
  readonly publicIp: string;
  readonly data: WireguardLeaseData;
  /** The lease's subnet(s) that this device routes to the peer. */
  readonly subnets: readonly string[];
  /** For messages: the lease key or node name. */
  readonly name: string;
}

export interface PeerSettings {
  /** Our own listen port on this device: the port of a peer whose lease has none. */
  readonly ownPort: number;
  /** Our own public key: a lease with it is not a peer (WireGuard ignores such a peer and would never converge). */
  readonly ownPublicKey: WgPublicKey | undefined;
  readonly presharedKey: SecretKey | undefined;
  readonly persistentKeepaliveInterval: number;
}

export interface DesiredPeers {
  readonly peers: readonly DesiredPeer[];
  /** Leases that give no peer, with the reason (to log and show in status). */
  readonly refused: readonly { readonly name: string; readonly reason: string }[];
}

/** One desired peer per lease; refuses bad endpoints, bad subnets, our own key and a key two leases share. */
export function desiredPeers(leases: readonly WireguardPeerLease[], settings: PeerSettings): DesiredPeers {
  const refused: { name: string; reason: string }[] = [];
  const byKey = new Map<WgPublicKey, { lease: WireguardPeerLease; peer: DesiredPeer }>();
  const shared = new Set<WgPublicKey>();
  for (const lease of leases) {
    const endpoint = formatEndpoint(lease.publicIp, peerPort(lease.data, settings.ownPort));
    if (endpoint === undefined) {
      refused.push({ name: lease.name, reason: `public address ${JSON.stringify(lease.publicIp)} is not an IP address` });
      continue;
    }
    const allowedIps = lease.subnets.map((s) => canonicalAllowedIp(s));
    if (allowedIps.some((a) => a === undefined) || allowedIps.length === 0) {
      refused.push({ name: lease.name, reason: `subnets ${JSON.stringify(lease.subnets)} are not CIDRs` });
      continue;
    }
    if (lease.data.publicKey === settings.ownPublicKey) {
      refused.push({ name: lease.name, reason: `its PublicKey ${lease.data.publicKey} is this host's own key (a copied key file?)` });
      continue;
    }
    const other = byKey.get(lease.data.publicKey);
    if (other !== undefined) {
      shared.add(lease.data.publicKey);
      refused.push({ name: lease.name, reason: `its PublicKey ${lease.data.publicKey} is also the key of ${other.lease.name} (a copied key file?)` });
      continue;
    }
    byKey.set(lease.data.publicKey, {
      lease,
      peer: {
        publicKey: lease.data.publicKey, endpoint, allowedIps: [...new Set(allowedIps as string[])].sort(),
        presharedKey: settings.presharedKey, persistentKeepaliveInterval: settings.persistentKeepaliveInterval,
      },
    });
  }
  // A key two leases claim routes to neither: WireGuard can only hold one of them, and which is right is unknowable.
  for (const key of shared) {
    const first = byKey.get(key);
    if (first !== undefined) refused.push({ name: first.lease.name, reason: `its PublicKey ${key} is shared with another lease` });
    byKey.delete(key);
  }
  return { peers: [...byKey.values()].map((e) => e.peer), refused };
}

/** What an accepted wireguard lease contributes to its peer (named by its node, else its subnet). */
export function peerLease(peer: WireguardPeer): WireguardPeerLease {
  return { name: peer.attrs.nodeName ?? peer.subnet, publicIp: peer.attrs.publicIp, data: peer.attrs.wireguard, subnets: [peer.subnet] };
}

/** The peers this host wants for the accepted wireguard leases: weftd programs them, weftctl compares the device with them. */
export function wantedPeers(backend: WireguardBackend, peers: readonly WireguardPeer[], ownPublicKey: WgPublicKey | undefined): DesiredPeers {
  return desiredPeers(peers.map(peerLease), {
    ownPort: backend.listenPort, ownPublicKey, presharedKey: backend.psk, persistentKeepaliveInterval: backend.persistentKeepaliveInterval,
  });
}

/** This host's own side, for choosing peers' endpoints. */
export interface OwnTunnelSide {
  readonly publicKey: WgPublicKey | undefined;
  readonly publicIp?: Ipv4 | undefined;
  /** This host's IPv6 underlay address (its lease's PublicIPv6), when it has one. */
  readonly publicIpv6?: Ipv6 | undefined;
  /** True when this host runs IPv6 (the IPv6 device or the IPv6 overlay on weft-wg). */
  readonly ipv6: boolean;
}

/**
 * The peers of every device of this host (flannel's handleSubnetEvents, per
 * Mode, next-anchors §1.6), by device name:
 * - `separate`: `weft-wg` gets `PublicIP:Port` and the IPv4 subnet;
 *   `weft-wg-v6` gets `[PublicIPv6]:Port` (BackendV6Data, else our
 *   ListenPortV6) and the IPv6 subnet, for peers with an accepted IPv6 half;
 * - `ipv4`, `ipv6`, `auto`: `weft-wg` alone, one peer with both subnets,
 *   endpoint `PublicIP`, `[PublicIPv6]` or the one `autoEndpoint` picks, port
 *   BackendData.Port (else our ListenPort: the one device listens there).
 */
export function wantedTunnelPeers(backend: WireguardBackend, peers: readonly WireguardPeer[], own: OwnTunnelSide): Map<string, DesiredPeers> {
  const settings = { ownPublicKey: own.publicKey, presharedKey: backend.psk, persistentKeepaliveInterval: backend.persistentKeepaliveInterval };
  const out = new Map<string, DesiredPeers>();
  if (backend.mode === 'separate') {
    out.set(WIREGUARD_DEVICE, desiredPeers(peers.map(peerLease), { ...settings, ownPort: backend.listenPort }));
    if (own.ipv6) {
      const halves = peers.flatMap((p): WireguardPeerLease[] => {
        const data = p.attrs.wireguardV6;
        if (data === undefined || p.subnetV6 === undefined || p.attrs.publicIpv6 === undefined) return [];
        return [{ name: p.attrs.nodeName ?? p.subnet, publicIp: p.attrs.publicIpv6, data, subnets: [p.subnetV6] }];
      });
      out.set(WIREGUARD_DEVICE_V6, desiredPeers(halves, { ...settings, ownPort: backend.listenPortV6 }));
    }
    return out;
  }
  const refused: { name: string; reason: string }[] = [];
  const leases = peers.flatMap((p): WireguardPeerLease[] => {
    const name = p.attrs.nodeName ?? p.subnet;
    const address = backend.mode === 'ipv4' ? p.attrs.publicIp : backend.mode === 'ipv6' ? p.attrs.publicIpv6 : autoEndpoint(p, own);
    if (address === undefined) {
      refused.push({ name, reason: 'Mode "ipv6" reaches peers over IPv6 only, and its IPv6 half is not usable (weftctl leases says why)' });
      return [];
    }
    const v6 = own.ipv6 && p.attrs.wireguardV6 !== undefined && p.subnetV6 !== undefined ? [p.subnetV6] : [];
    return [{ name, publicIp: address, data: p.attrs.wireguard, subnets: [p.subnet, ...v6] }];
  });
  const planned = desiredPeers(leases, { ...settings, ownPort: backend.listenPort });
  out.set(WIREGUARD_DEVICE, { peers: planned.peers, refused: [...refused, ...planned.refused] });
  return out;
}

/**
 * Mode "auto": flannel's selectPublicEndpoint. IPv4 when the peer has no
 * IPv6 address; IPv4 when its IPv4 address is not private (RFC 1918) and we
 * have one; IPv6 when its and our IPv6 addresses are not private (ULA,
 * fc00::/7); else IPv4.
 */
export function autoEndpoint(peer: WireguardPeer, own: OwnTunnelSide): string {
  const v4 = peer.attrs.publicIp;
  const v6 = peer.attrs.publicIpv6;
  if (v6 === undefined) return v4;
  if (!isPrivate4(v4) && own.publicIp !== undefined) return v4;
  if (!isPrivate6(v6) && own.publicIpv6 !== undefined && !isPrivate6(own.publicIpv6)) return v6;
  return v4;
}

/** Go's net.IP.IsPrivate for IPv4: 10/8, 172.16/12, 192.168/16. */
function isPrivate4(ip: Ipv4): boolean {
  const n = ipv4ToInt(ip);
  return n >>> 24 === 10 || n >>> 20 === 0xac1 || n >>> 16 === 0xc0a8;
}

/** Go's net.IP.IsPrivate for IPv6: fc00::/7 (canonical text, so the first group is written unless it is 0). */
function isPrivate6(ip: Ipv6): boolean {
  const first = ip.startsWith(':') ? 0 : parseInt(ip.split(':')[0] ?? '0', 16);
  return (first & 0xfe00) === 0xfc00;
}

/** The peer changes that turn `actual` into `desired`: removals first, then additions and updates, each in key order. */
export function planPeers(desired: readonly DesiredPeer[], actual: readonly PeerState[]): PeerOp[] {
  const want = new Map(desired.map((p) => [p.publicKey, p]));
  const have = new Map(actual.map((p) => [p.publicKey, p]));
  const removes: PeerOp[] = [...have.keys()].filter((k) => !want.has(k)).sort()
    .map((publicKey) => ({ kind: 'remove', publicKey }));
  const upserts: PeerOp[] = [];
  for (const key of [...want.keys()].sort()) {
    const peer = want.get(key) as DesiredPeer;
    const current = have.get(key);
    const op = current === undefined ? addPeer(peer) : updatePeer(peer, current);
    if (op !== undefined) upserts.push(op);
  }
  return [...removes, ...upserts];
}

function addPeer(peer: DesiredPeer): PeerOp {
  return {
    kind: 'upsert', publicKey: peer.publicKey, endpoint: peer.endpoint,
    ...(peer.presharedKey === undefined ? {} : { presharedKey: peer.presharedKey }),
    ...(peer.persistentKeepaliveInterval === 0 ? {} : { persistentKeepaliveInterval: peer.persistentKeepaliveInterval }),
    replaceAllowedIps: true, allowedIps: peer.allowedIps,
  };
}

/** Only the fields that differ; undefined when none does. */
function updatePeer(peer: DesiredPeer, current: PeerState): PeerOp | undefined {
  const endpoint = current.endpoint === peer.endpoint ? {} : { endpoint: peer.endpoint };
  const keepalive = current.persistentKeepaliveInterval === peer.persistentKeepaliveInterval
    ? {} : { persistentKeepaliveInterval: peer.persistentKeepaliveInterval };
  const pskSame = peer.presharedKey === undefined ? current.presharedKey === undefined : peer.presharedKey.equals(current.presharedKey);
  const psk = pskSame ? {} : { presharedKey: peer.presharedKey ?? null };
  const allowed = sameSet(peer.allowedIps, current.allowedIps) ? {} : { replaceAllowedIps: true, allowedIps: peer.allowedIps };
  const changes = { ...endpoint, ...keepalive, ...psk, ...allowed };
  if (Object.keys(changes).length === 0) return undefined;
  return { kind: 'upsert', publicKey: peer.publicKey, updateOnly: true, ...changes };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

/** True when the device's peers are exactly the desired ones (nothing to plan). */
export function peersConverged(desired: readonly DesiredPeer[], actual: readonly PeerState[]): boolean {
  return planPeers(desired, actual).length === 0;
}
