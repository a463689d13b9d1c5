/**
 * A WireGuard device in memory, with the UAPI semantics that matter to a
 * reconciler (wireguard-go device/uapi.go): a set is applied operation by
 * operation and stops at the first bad one (the earlier ones stay applied);
 * `update_only` never creates a peer; an allowed IP given to one peer is taken
 * from whichever peer had it; `replace_allowed_ips` clears only that peer's.
 */
import { WireguardControlError } from '../../src/core/wireguard/errors.js';
import type { WgPublicKey } from '../../src/core/wireguard/keys.js';
import { publicKeyOf } from '../../src/core/wireguard/keys.js';
import type { DeviceState, PeerOp, PeerState, SetRequest } from '../../src/core/wireguard/uapi-codec.js';
import type { WireguardControl } from '../../src/adapters/wireguard/uapi-client.js';

type MutablePeer = { -readonly [K in keyof PeerState]: PeerState[K] };

/** Applies one peer operation to a peer map (insertion order = the device's order). */
export function applyPeerOp(peers: Map<WgPublicKey, MutablePeer>, op: PeerOp): void {
  if (op.kind === 'remove') {
    peers.delete(op.publicKey);
    return;
  }
  let peer = peers.get(op.publicKey);
  if (peer === undefined) {
    if (op.updateOnly) return;
    peer = { publicKey: op.publicKey, presharedKey: undefined, endpoint: undefined, persistentKeepaliveInterval: 0, allowedIps: [],
      lastHandshakeMs: undefined, rxBytes: 0, txBytes: 0 };
    peers.set(op.publicKey, peer);
  }
  if (op.presharedKey !== undefined) peer.presharedKey = op.presharedKey === null ? undefined : op.presharedKey;
  if (op.endpoint !== undefined) peer.endpoint = op.endpoint;
  if (op.persistentKeepaliveInterval !== undefined) peer.persistentKeepaliveInterval = op.persistentKeepaliveInterval;
  if (op.replaceAllowedIps) peer.allowedIps = [];
  for (const cidr of op.allowedIps ?? []) {
    for (const other of peers.values()) other.allowedIps = other.allowedIps.filter((c) => c !== cidr);
    peer.allowedIps = [...peer.allowedIps, cidr];
  }
}

/** Applies peer operations to a read state, as the device would; returns the new state. */
export function applyPeerOps(peers: readonly PeerState[], ops: readonly PeerOp[]): PeerState[] {
  const map = new Map<WgPublicKey, MutablePeer>(peers.map((p) => [p.publicKey, { ...p, allowedIps: [...p.allowedIps] }]));
  for (const op of ops) applyPeerOp(map, op);
  return [...map.values()];
}

export class MemoryWireguard implements WireguardControl {
  readonly device: string;
  publicKey: WgPublicKey | undefined;
  listenPort = 0;
  readonly peers = new Map<WgPublicKey, MutablePeer>();
  /** Fail the next set after this many peer operations (then reset), with errno -22 as a bad line does. */
  failAfterOps: number | undefined;
  readonly requests: SetRequest[] = [];

  constructor(device = 'weft-wg') {
    this.device = device;
  }

  async get(): Promise<DeviceState> {
    return { publicKey: this.publicKey, listenPort: this.listenPort, fwmark: 0, peers: [...this.peers.values()].map((p) => ({ ...p })) };
  }

  async set(request: SetRequest): Promise<void> {
    this.requests.push(request);
    if (request.privateKey !== undefined) this.publicKey = publicKeyOf(request.privateKey);
    if (request.listenPort !== undefined) this.listenPort = request.listenPort;
    if (request.replacePeers) this.peers.clear();
    const limit = this.failAfterOps;
    this.failAfterOps = undefined;
    for (const [index, op] of (request.peers ?? []).entries()) {
      if (limit !== undefined && index >= limit) {
        throw new WireguardControlError(`set on ${this.device} failed: errno=-22 (EINVAL)`,
          { device: this.device, socketPath: `memory:${this.device}`, operation: 'set', errno: -22 });
      }
      applyPeerOp(this.peers, op);
    }
  }
}
