/**
 * What weftd knows about itself, for logs, health checks and metrics:
 * updated by the loops, read by the HTTP endpoints. Plain data.
 */
import type { RefusalCode } from '../core/peer-acceptance.js';
import type { PeerSet } from '../core/peer-set.js';
import type { HeldLease } from './acquire-lease.js';
import type { PassResult, TunnelPeer } from '../backend/data-plane-port.js';
import type { WatchStats } from './lease-watcher.js';

export interface UnderlayStatus {
  readonly iface: string;
  readonly publicIp: string;
  readonly publicIpv6: string | undefined;
  /** Underlay changes followed since start (new address, interface made again). */
  readonly changes: number;
  readonly waiting: string | undefined;
  readonly lastChangeAt?: number | undefined;
}

export class DaemonStatus {
  lease: HeldLease | undefined;
  /** This host's node name and weftd instance, once the name is claimed. */
  identity: { readonly nodeName: string; readonly instanceId: string } | undefined;
  /** Set while another weftd instance holds our node name (our presence key had expired). */
  identityConflict: string | undefined;
  /** How often our own lease value was found changed in etcd and written back. */
  ownLeaseCorrections = 0;
  leaseLost: string | undefined;
  leaseTtlSeconds: number | undefined;
  leaseRenewedAt: number | undefined;
  watch: WatchStats | undefined;
  ready = false;
  readyListeners: (() => void)[] = [];
  passes = 0;
  passFailures = 0;
  lastPassAt: number | undefined;
  lastPassOk = false;
  lastPassError: string | undefined;
  lastPassMs = 0;
  /** Accepted peers (the acceptance rule's peers, before the route-collision check). */
  peersKnown = 0;
  /** DirectRouting: peers the last full pass routed directly, per family (0 when DirectRouting is off). */
  directPeers = 0;
  directPeersV6 = 0;
  /** Peers whose route, neighbour and FDB entry the kernel held after the last pass that could tell (0 with --dataplane none). */
  peersProgrammed = 0;
  /** On a dual-stack host: the IPv6 device's part of the last pass (its own peers programmed and error), undefined otherwise. */
  ipv6: { peersProgrammed: number; lastPassOk: boolean; lastPassError: string | undefined } | undefined;
  /** On a wireguard host: the device's peers as the last pass read them back (keys public, handshakes, bytes). */
  tunnels: readonly TunnelPeer[] | undefined;
  /** Refused lease keys by reason code; route collisions are counted in `routeCollisions`. */
  leasesRefused = new Map<RefusalCode, number>();
  /** Reservations whose host has not started yet. */
  leasesPending = 0;
  /** Accepted peers refused by the data plane because a route weft does not own uses their subnet. */
  routeCollisions = 0;
  /** Pass durations in ms since the last scrape (drained by the metrics endpoint). */
  readonly passDurations: number[] = [];
  changesApplied = 0;
  changesFailed = 0;
  /** Since when etcd has been unreachable (undefined while it answers). */
  etcdDownSince: number | undefined;
  etcdError: string | undefined;
  etcdErrors = 0;
  /**
   * The underlay as weftd follows it (daemon/underlay-follower.ts): the
   * external interface, the addresses advertised, how many changes were
   * followed, and while it is not usable, why (a wait, never a failure).
   */
  underlay: UnderlayStatus | undefined;

  etcdReachable(): void {
    this.etcdDownSince = undefined;
    this.etcdError = undefined;
  }

  etcdUnreachable(error: string, now: number): void {
    this.etcdErrors++;
    this.etcdDownSince ??= now;
    this.etcdError = error;
  }

  /** Takes the lease verdicts' counts from the peer set. */
  recordLeases(peers: PeerSet): void {
    this.leasesRefused = peers.refusalCounts();
    this.leasesPending = peers.pendingCount;
  }

  recordPass(result: PassResult, durationMs: number, now: number, peers: number): void {
    this.passes++;
    // DirectRouting: what the last full pass decided (an event pass does not say, and leaves it).
    if (result.direct !== undefined) this.directPeers = result.direct.length;
    if (result.ipv6?.direct !== undefined) this.directPeersV6 = result.ipv6.direct.length;
    if (this.passDurations.length < 10_000) this.passDurations.push(durationMs);
    if (result.programmed !== undefined) this.peersProgrammed = result.programmed;
    this.lastPassAt = now;
    this.lastPassOk = result.ok;
    this.lastPassMs = durationMs;
    this.lastPassError = result.ok ? undefined : passError(result);
    if (result.ipv6) {
      this.ipv6 = {
        peersProgrammed: result.ipv6.programmed ?? this.ipv6?.peersProgrammed ?? 0,
        lastPassOk: result.ipv6.ok,
        lastPassError: result.ipv6.ok ? undefined : result.ipv6.error ?? passError(result.ipv6),
      };
    }
    if (result.tunnels) this.tunnels = result.tunnels;
    this.peersKnown = peers;
    this.changesApplied += result.applied;
    this.changesFailed += result.failed;
    if (!result.ok) this.passFailures++;
  }

  recordFailure(error: string, now: number, durationMs = 0): void {
    this.passes++;
    if (this.passDurations.length < 10_000) this.passDurations.push(durationMs);
    this.passFailures++;
    this.lastPassAt = now;
    this.lastPassOk = false;
    this.lastPassError = error;
  }

  /** A pass skipped because the underlay is not usable: the loop is alive and says why (not a failure). */
  recordUnderlayWait(reason: string, now: number): void {
    this.lastPassAt = now;
    this.lastPassOk = false;
    this.lastPassError = reason;
  }

  markReady(): void {
    if (this.ready) return;
    this.ready = true;
    for (const listener of this.readyListeners) listener();
  }
}

/** What a failed pass says: which family failed, and how. */
function passError(result: PassResult): string {
  const v6 = result.ipv6;
  if (v6 && !v6.ok && result.failed === v6.failed) return `IPv6: ${v6.failed > 0 ? `${v6.failed} kernel changes failed` : 'the pass failed'}`;
  return `${result.failed} kernel changes failed`;
}
