/**
 * weftd's `/status` document: what the daemon knows about itself as JSON,
 * for an operator's curl and for scripts (the numbers /metrics has, plus
 * what does not fit a metric: the lease, the last error, and on a wireguard
 * host each tunnel with its public key, endpoint, handshake age and bytes).
 * Built only from DaemonStatus, which holds no secret: a tunnel is a
 * TunnelPeer (public key, endpoint, allowed IPs, counters), never a private
 * key or the PSK.
 */
import type { DaemonStatus } from './status.js';

export interface TunnelJson {
  readonly publicKey: string;
  readonly endpoint: string | null;
  readonly allowedIps: readonly string[];
  /** ISO time of the latest handshake; null for never. */
  readonly latestHandshake: string | null;
  readonly handshakeAgeSeconds: number | null;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface StatusJson {
  readonly ready: boolean;
  readonly node: string | null;
  readonly lease: { readonly subnet: string; readonly subnetV6: string | null; readonly publicIp: string; readonly backendType: string; readonly reservation: boolean } | null;
  readonly lastPass: { readonly at: string; readonly ok: boolean; readonly error: string | null; readonly ms: number } | null;
  readonly passes: number;
  readonly passFailures: number;
  readonly peersKnown: number;
  readonly peersProgrammed: number;
  readonly etcd: { readonly reachable: boolean; readonly error: string | null };
  /** The wireguard device's peers as the last pass read them back; null on a vxlan host. */
  readonly tunnels: readonly TunnelJson[] | null;
}

export function statusJson(status: DaemonStatus, nowMs: number): StatusJson {
  const lease = status.lease;
  return {
    ready: status.ready,
    node: status.identity?.nodeName ?? lease?.attrs.nodeName ?? null,
    lease: lease ? {
      subnet: lease.subnet, subnetV6: lease.subnetV6 ?? null, publicIp: lease.attrs.publicIp, backendType: lease.attrs.backendType, reservation: lease.reservation,
    } : null,
    lastPass: status.lastPassAt === undefined ? null
      : { at: new Date(status.lastPassAt).toISOString(), ok: status.lastPassOk, error: status.lastPassError ?? null, ms: status.lastPassMs },
    passes: status.passes,
    passFailures: status.passFailures,
    peersKnown: status.peersKnown,
    peersProgrammed: status.peersProgrammed,
    etcd: { reachable: status.etcdDownSince === undefined, error: status.etcdError ?? null },
    tunnels: status.tunnels?.map((t) => ({
      publicKey: t.publicKey, endpoint: t.endpoint ?? null, allowedIps: [...t.allowedIps],
      latestHandshake: t.lastHandshakeMs === undefined ? null : new Date(t.lastHandshakeMs).toISOString(),
      handshakeAgeSeconds: t.lastHandshakeMs === undefined ? null : Math.max(0, Math.floor((nowMs - t.lastHandshakeMs) / 1000)),
      rxBytes: t.rxBytes, txBytes: t.txBytes,
    })) ?? null,
  };
}
