/**
 * A wireguard host as an operator sees it (`weftctl status` and `doctor`):
 * the device against its spec, and the tunnels, one row per public key:
 * the peers the leases want (peer-plan.ts, the rule weftd programs by)
 * against the peers the device reports. A row is in sync when the peer plan
 * has nothing to do for it. Handshake age and bytes are shown here and
 * judged by doctor (doctor-tunnels.ts). Pure: weftctl reads etcd, the
 * kernel and the UAPI socket. No secret is ever put in a row: a pre-shared
 * key is only compared.
 */
import type { Cidr } from '../cidr.js';
import type { WireguardPeer } from '../peer-acceptance.js';
import { type DeviceRoute, type WireguardDeviceSpec, hasNetworkRoute } from './device.js';
import type { WgPublicKey } from './keys.js';
import { type DesiredPeer, type DesiredPeers, planPeers } from './peer-plan.js';
import type { PeerState } from './uapi-codec.js';

export type TunnelState = 'ok' | 'missing' | 'differs' | 'unwanted';

export interface TunnelRow {
  /** The lease's subnet; null for a key no lease has (`unwanted`). */
  readonly subnet: Cidr | null;
  readonly node: string | null;
  readonly publicKey: WgPublicKey;
  /** The endpoint the device has (null when missing or unset). */
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  /** Milliseconds since the epoch of the latest handshake; null for never (or a missing peer). */
  readonly latestHandshakeMs: number | null;
  readonly handshakeAgeSeconds: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly state: TunnelState;
  /** What differs from the lease, e.g. `endpoint 192.0.2.9:51820, the lease says 192.0.2.12:51820`. */
  readonly problems: readonly string[];
}

export interface TunnelReport {
  readonly peers: readonly TunnelRow[];
  /** Leases that give no peer (a bad address, this host's own key, a shared key), with the reason. */
  readonly refused: readonly { readonly name: string; readonly reason: string }[];
  readonly inSync: boolean;
}

/** Seconds since a handshake (never negative: clocks of two readers may differ by a little); null for never. */
export function handshakeAgeSeconds(latestHandshakeMs: number | undefined, nowMs: number): number | null {
  return latestHandshakeMs === undefined ? null : Math.max(0, Math.floor((nowMs - latestHandshakeMs) / 1000));
}

/** The wanted peers against the device's, wanted ones first (in the leases' order), then keys no lease has. */
export function compareTunnels(wanted: DesiredPeers, leases: readonly WireguardPeer[], actual: readonly PeerState[], nowMs: number): TunnelReport {
  const leaseOf = new Map<string, WireguardPeer>();
  for (const l of leases) if (!leaseOf.has(l.attrs.wireguard.publicKey)) leaseOf.set(l.attrs.wireguard.publicKey, l);
  const have = new Map(actual.map((p) => [p.publicKey, p]));
  const rows: TunnelRow[] = wanted.peers.map((peer) => {
    const lease = leaseOf.get(peer.publicKey);
    const current = have.get(peer.publicKey);
    const base = { subnet: lease?.subnet ?? null, node: lease?.attrs.nodeName ?? null, publicKey: peer.publicKey };
    if (current === undefined) {
      return { ...base, endpoint: null, allowedIps: [], latestHandshakeMs: null, handshakeAgeSeconds: null, rxBytes: 0, txBytes: 0,
        state: 'missing', problems: [`not on the device (the lease wants endpoint ${peer.endpoint}, allowed IPs ${peer.allowedIps.join(',')})`] };
    }
    const problems = planPeers([peer], [current]).length === 0 ? [] : differences(peer, current);
    return { ...base, ...observed(current, nowMs), state: problems.length === 0 ? 'ok' : 'differs', problems };
  });
  const wantedKeys = new Set<string>(wanted.peers.map((p) => p.publicKey));
  for (const current of actual) {
    if (wantedKeys.has(current.publicKey)) continue;
    rows.push({ subnet: null, node: null, publicKey: current.publicKey, ...observed(current, nowMs), state: 'unwanted',
      problems: ['no accepted lease has this key (a stale peer; weftd removes it on its next pass)'] });
  }
  return { peers: rows, refused: wanted.refused, inSync: rows.every((r) => r.state === 'ok') };
}

function observed(p: PeerState, nowMs: number): Pick<TunnelRow, 'endpoint' | 'allowedIps' | 'latestHandshakeMs' | 'handshakeAgeSeconds' | 'rxBytes' | 'txBytes'> {
  return {
    endpoint: p.endpoint ?? null, allowedIps: [...p.allowedIps], latestHandshakeMs: p.lastHandshakeMs ?? null,
    handshakeAgeSeconds: handshakeAgeSeconds(p.lastHandshakeMs, nowMs), rxBytes: p.rxBytes, txBytes: p.txBytes,
  };
}

/** The fields of a device peer that differ from the wanted one, without any key value. */
function differences(want: DesiredPeer, have: PeerState): string[] {
  const out: string[] = [];
  if (have.endpoint !== want.endpoint) out.push(`endpoint ${have.endpoint ?? '(none)'}, the lease says ${want.endpoint}`);
  const a = [...have.allowedIps].sort().join(',');
  const b = [...want.allowedIps].sort().join(',');
  if (a !== b) out.push(`allowed IPs ${a || '(none)'}, the lease says ${b}`);
  if (have.persistentKeepaliveInterval !== want.persistentKeepaliveInterval) {
    out.push(`keepalive ${have.persistentKeepaliveInterval}s, the config says ${want.persistentKeepaliveInterval}s`);
  }
  const pskSame = want.presharedKey === undefined ? have.presharedKey === undefined : want.presharedKey.equals(have.presharedKey);
  if (!pskSame) out.push(want.presharedKey === undefined ? 'has a pre-shared key, the config has none' : 'pre-shared key differs from the config\'s');
  return out.length > 0 ? out : ['differs from the lease'];
}

/** The device as read: its link, what its UAPI socket answers, its routes. */
export interface WireguardDeviceFacts {
  readonly link: { readonly up: boolean; readonly mtu: number; readonly addresses: readonly string[] } | undefined;
  readonly uapi: { readonly ok: true; readonly publicKey: WgPublicKey | undefined; readonly listenPort: number } | { readonly ok: false; readonly error: string };
  /** undefined when they could not be read. */
  readonly routes: readonly DeviceRoute[] | undefined;
}

/**
 * What is wrong with the device for its spec (empty when nothing is).
 * `spec`: undefined without this host's lease (then only the link and the
 * socket are judged); `leaseKey`: the public key this host's lease advertises.
 */
export function wireguardDeviceProblems(f: WireguardDeviceFacts, spec: WireguardDeviceSpec | undefined, listenPort: number,
  leaseKey: WgPublicKey | undefined): string[] {
  const problems: string[] = [];
  if (!f.link) problems.push('the link does not exist');
  else {
    if (!f.link.up) problems.push('link is down');
    if (spec && f.link.mtu !== spec.mtu) problems.push(`MTU ${f.link.mtu}, want ${spec.mtu} (underlay − 80)`);
    if (spec && !f.link.addresses.includes(`${spec.address}/32`)) problems.push(`address ${spec.address}/32 missing`);
  }
  if (!f.uapi.ok) problems.push(`its UAPI socket does not answer: ${f.uapi.error}`);
  else {
    if (f.uapi.listenPort !== listenPort) problems.push(`listen port ${f.uapi.listenPort}, the config says ${listenPort}`);
    if (f.uapi.publicKey === undefined) problems.push('it has no private key');
    else if (leaseKey !== undefined && f.uapi.publicKey !== leaseKey) problems.push(`public key ${f.uapi.publicKey}, the lease advertises ${leaseKey}`);
  }
  if (spec && f.link) {
    if (f.routes === undefined) problems.push('its routes cannot be read');
    else if (!hasNetworkRoute(f.routes, spec.route)) problems.push(`route ${spec.route} (scope link, proto 87) missing`);
  }
  return problems;
}
