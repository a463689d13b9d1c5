/**
 * What weftd knows about itself, for logs, health checks and metrics:
 * updated by the loops, read by the HTTP endpoints. Plain data.
 */
import type { HeldLease } from './acquire-lease.js';
import type { PassResult } from './data-plane-port.js';
import type { WatchStats } from './lease-watcher.js';

export class DaemonStatus {
  lease: HeldLease | undefined;
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
  peersKnown = 0;
  /** Peers whose route, neighbour and FDB entry were in place after the last successful pass. */
  peersProgrammed = 0;
  /** Pass durations in ms since the last scrape (drained by the metrics endpoint). */
  readonly passDurations: number[] = [];
  leasesSkipped = 0;
  changesApplied = 0;
  changesFailed = 0;
  /** Since when etcd has been unreachable (undefined while it answers). */
  etcdDownSince: number | undefined;
  etcdError: string | undefined;
  etcdErrors = 0;

  etcdReachable(): void {
    this.etcdDownSince = undefined;
    this.etcdError = undefined;
  }

  etcdUnreachable(error: string, now: number): void {
    this.etcdErrors++;
    this.etcdDownSince ??= now;
    this.etcdError = error;
  }

  recordPass(result: PassResult, durationMs: number, now: number, peers: number, vxlanPeers = peers): void {
    this.passes++;
    if (this.passDurations.length < 10_000) this.passDurations.push(durationMs);
    if (result.ok && result.failed === 0) this.peersProgrammed = vxlanPeers;
    this.lastPassAt = now;
    this.lastPassOk = result.ok;
    this.lastPassMs = durationMs;
    this.lastPassError = result.ok ? undefined : `${result.failed} kernel changes failed`;
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

  markReady(): void {
    if (this.ready) return;
    this.ready = true;
    for (const listener of this.readyListeners) listener();
  }
}
