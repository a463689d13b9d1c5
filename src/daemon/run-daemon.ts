/**
 * weftd's life: config → data-plane prepare (device, VTEP MAC) → node name
 * (presence key) → lease → watch peers → reconcile forever. Only the
 * reconcile loop touches the kernel. subnet.env appears only after the first
 * full pass succeeded, so a CNI ADD never sees a half-ready host, and it is
 * removed before weftd gives up a subnet (lost lease, or a subnet other than
 * the one the file names). etcd trouble during start-up is waited out.
 * Shutdown leaves lease, device, entries and subnet.env in place (it only
 * releases the node name's presence key); a restart converges without
 * removing anything.
 */
import type { Logger } from 'pino';
import type { Cidr, Ipv4 } from '../core/cidr.js';
import type { Ipv6 } from '../core/cidr6.js';
import { LeaseLostError, errorMessage } from '../core/errors.js';
import type { LeaseSubnets } from '../core/lease.js';
import type { NetworkConfig } from '../core/network-config.js';
import { PeerSet } from '../core/peer-set.js';
import type { Clock } from '../adapters/clock.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import { ensureSubnetFile, readSubnetFile, removeSubnetFile } from '../adapters/subnet-file.js';
import { type AcquiredLease, acquireLeaseWithListing, type HeldLease, type PreviousSubnets } from './acquire-lease.js';
import type { DataPlanePort } from '../backend/data-plane-port.js';
import { keepLeaseAlive } from './lease-keeper.js';
import { LeaseWatcher } from './lease-watcher.js';
import { claimIdentity, keepIdentity } from './node-identity.js';
import { OwnLeaseGuard } from './own-lease-guard.js';
import { retryAtStartup } from './startup-retry.js';
import { DaemonStatus } from './status.js';
import { probeEtcd } from './etcd-probe.js';
import { ResyncSchedule } from './resync-schedule.js';
import { RefusalLog } from './refusal-log.js';
import { ThrottledLog } from './throttled-log.js';
import { type TrafficRulesPort, ensureAhead, trafficScope6 } from './traffic-rules.js';
import { waitForConfig } from './wait-for-config.js';
import { Wakeup } from './wakeup.js';
import { Backoff } from './jitter.js';
import type { UnderlayPort } from '../adapters/underlay.js';
import type { LeaseAttrs } from '../core/lease.js';
import type { Prepared } from '../backend/data-plane-port.js';
import { UnderlayFollower } from './underlay-follower.js';

export interface DaemonOptions {
  readonly nodeName: string;
  readonly iface?: string | undefined;
  readonly publicIp?: Ipv4 | undefined;
  /** `--public-ipv6`, on a dual-stack network. */
  readonly publicIpv6?: Ipv6 | undefined;
  readonly subnetFile: string;
  readonly leaseTtlSeconds: number;
  readonly ipMasq: boolean;
  readonly resyncMs: number;
  readonly configKey: string;
  /** How often etcd's reachability is checked (default 5 s). */
  readonly etcdProbeMs?: number;
  /** This weftd instance (adapters/instance-id.ts): same on a restart on this host, different on a clone. */
  readonly instanceId: string;
  /** TTL of the node name's presence key (default 30 s). */
  readonly presenceTtlSeconds?: number;
}

export interface DaemonDeps {
  readonly registry: SubnetRegistry;
  readonly dataPlane: DataPlanePort;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly status?: DaemonStatus;
  /** weft's --ip-masq iptables rules, made present (or absent when --ip-masq is off) on resync passes. */
  readonly trafficRules?: TrafficRulesPort | undefined;
  /** The external interface, followed while weftd runs (new address, interface made again); without it the underlay is fixed at start. */
  readonly underlay?: UnderlayPort | undefined;
}

/** Exit codes: 0 clean stop, 2 lease lost (systemd restarts us). Startup failures throw. */
export async function runDaemon(opts: DaemonOptions, deps: DaemonDeps, signal: AbortSignal): Promise<number> {
  const { log } = deps;
  const status = deps.status ?? new DaemonStatus();
  const previousFile = await readSubnetFile(opts.subnetFile);
  const previous: PreviousSubnets | undefined = previousFile.ok
    ? { subnet: previousFile.env.subnet, subnetV6: previousFile.env.ipv6Subnet } : undefined;
  const { config, text: configText } = await waitForConfig({ registry: deps.registry, clock: deps.clock, log, configKey: opts.configKey, random: deps.random }, signal);
  log.info({ network: config.network, subnetLen: config.subnetLen, backend: config.backend.type,
    ...(config.backend.type === 'vxlan' ? { vni: config.backend.vni, port: config.backend.port } : { listenPort: config.backend.listenPort, mode: config.backend.mode }),
    ...(config.ipv6 ? { ipv6Network: config.ipv6.network, ipv6SubnetLen: config.ipv6.subnetLen } : {}) }, 'network config loaded');

  const prepared = await deps.dataPlane.prepare({
    config, nodeName: opts.nodeName,
    ...(opts.iface ? { iface: opts.iface } : {}), ...(opts.publicIp ? { publicIp: opts.publicIp } : {}),
    ...(opts.publicIpv6 ? { publicIpv6: opts.publicIpv6 } : {}),
  });
  const retry = { clock: deps.clock, random: deps.random, log };
  const identity = {
    registry: deps.registry, nodeName: opts.nodeName, ttlSeconds: opts.presenceTtlSeconds ?? 30, clock: deps.clock, random: deps.random, log,
    self: { instanceId: opts.instanceId, publicIp: prepared.publicIp, startedAt: new Date(deps.clock.now()).toISOString() },
  };
  // The name first: a second host with our name stops here, before it could touch our lease.
  const presenceLease = await retryAtStartup('claim node name', () => claimIdentity(identity, signal), retry, signal);
  status.identity = { nodeName: opts.nodeName, instanceId: opts.instanceId };
  const attrs = {
    publicIp: prepared.publicIp, ...prepared.advert, nodeName: opts.nodeName,
    ...v6Attrs(prepared),
  };
  const beforeTake = async (subnets: LeaseSubnets): Promise<void> => {
    if (previous === undefined || (subnets.subnet === previous.subnet && subnets.subnetV6 === previous.subnetV6)) return;
    if (await removeSubnetFile(opts.subnetFile)) log.warn({ path: opts.subnetFile, previous, ...subnets }, 'removed subnet.env: it names a subnet this host is not taking');
  };
  // The listing the lease was decided on (none when a restart found its lease by key) starts the watcher.
  let acquired: AcquiredLease | undefined = await retryAtStartup('acquire subnet lease', () => acquireLeaseWithListing({
    registry: deps.registry, config, attrs, previous, ttlSeconds: opts.leaseTtlSeconds,
    random: deps.random, clock: deps.clock, log, signal, beforeTake,
  }), retry, signal).catch(async (err: unknown) => {
    // No lease (no free subnet, or stopped while waiting): release the name rather than let it expire.
    await deps.registry.revoke(presenceLease).catch(() => undefined);
    throw err;
  });
  const { held } = acquired;
  // Work the first pass needs that does not depend on the peers starts now, alongside the listing.
  deps.dataPlane.leased?.(held);
  deps.dataPlane.readAhead?.(held.subnet);
  const trafficRules = deps.trafficRules && ensureAhead(deps.trafficRules, config.network, held.subnet, trafficScope6(config, held));
  status.lease = held;
  status.leaseTtlSeconds = held.reservation ? undefined : opts.leaseTtlSeconds;
  status.leaseRenewedAt = deps.clock.now();

  const lost = new AbortController();
  let lostReason: string | undefined;
  const onLost = (reason: string): void => {
    if (lostReason) return;
    lostReason = reason;
    status.leaseLost = reason;
    log.error({ subnet: held.subnet, reason }, 'lease lost; exiting so the supervisor restarts weftd');
    lost.abort(new LeaseLostError(reason));
  };
  const stop = AbortSignal.any([signal, lost.signal]);
  const wake = new Wakeup(deps.clock);
  const peers = new PeerSet(config, {
    subnet: held.subnet, publicIp: prepared.publicIp, vtepMac: prepared.vtepMac, wireguardKey: prepared.advert.wireguard?.publicKey,
    subnetV6: held.subnetV6, publicIpv6: prepared.v6?.publicIp, vtepMacV6: prepared.v6?.vtepMac,
  });
  // A reservation made for our subnet while we run (weftctl reserve --force): stop renewing the etcd lease.
  const keeperStop = new AbortController();
  let ownLeaseId = held.leaseId;
  const onReserved = (): void => {
    if (status.lease) status.lease = { ...status.lease, leaseId: '0', reservation: true };
    status.leaseTtlSeconds = undefined;
    ownLeaseId = '0'; // a write-back of our value keeps it a reservation
    keeperStop.abort();
  };
  const guard = new OwnLeaseGuard({
    registry: deps.registry, subnets: held, attrs: held.attrs, leaseId: () => ownLeaseId, clock: deps.clock, random: deps.random, log, onLost,
    identityConflict: () => status.identityConflict, onCorrected: () => { status.ownLeaseCorrections++; },
  }, stop);
  const watcher = new LeaseWatcher({
    registry: deps.registry, peers, clock: deps.clock, log, onChange: () => wake.ring(), onLost, onReserved, random: deps.random,
    onOwnDrift: (entry, reason) => guard.drifted(entry, reason),
  });
  status.watch = watcher.stats;
  const follower = deps.underlay && prepared.parent !== undefined ? new UnderlayFollower({
    underlay: deps.underlay, dataPlane: deps.dataPlane, log, status, now: () => deps.clock.now(),
    prepareInput: { config, nodeName: opts.nodeName, ...(opts.publicIp ? { publicIp: opts.publicIp } : {}), ...(opts.publicIpv6 ? { publicIpv6: opts.publicIpv6 } : {}) },
    pins: { publicIp: opts.publicIp, publicIpv6: opts.publicIpv6, ipv6: config.ipv6 !== undefined },
    onMoved: (next) => {
      // Same key, same etcd lease: the new PublicIP is ours before it is written, so our own write is never a takeover or drift.
      const attrs = movedAttrs(guard.attrs, next);
      watcher.updateOwn({ nodeName: opts.nodeName, publicIp: next.publicIp }, attrs);
      if (status.lease) status.lease = { ...status.lease, attrs };
      // A peer holding the address this host left is no longer "this host's own address".
      if (peers.updateSelf({ publicIp: attrs.publicIp, publicIpv6: attrs.publicIpv6 }).changed) wake.ring();
      void guard.advertise(attrs);
    },
  }, { ...prepared, parent: prepared.parent }) : undefined;
  watcher.watchOwn(held, { nodeName: opts.nodeName, publicIp: prepared.publicIp }, held.reservation, held.attrs);
  watcher.startFrom(acquired.listing);
  acquired = undefined; // the listing is the watcher's now: not kept for the daemon's life
  const identityKept = keepIdentity({
    ...identity, leaseId: presenceLease,
    onConflict: (conflict) => { status.identityConflict = conflict; },
    onError: () => { status.etcdErrors++; },
  }, stop);
  const background = [
    watcher.run(stop),
    probeEtcd({ registry: deps.registry, clock: deps.clock, log, status, intervalMs: opts.etcdProbeMs ?? 5000, configText, random: deps.random }, stop),
    keepLeaseAlive({
      registry: deps.registry, leaseId: held.leaseId, ttlSeconds: opts.leaseTtlSeconds, clock: deps.clock, log, onLost, random: deps.random,
      onRenewed: (ttl) => { status.leaseTtlSeconds = ttl; status.leaseRenewedAt = deps.clock.now(); },
      onError: () => { status.etcdErrors++; },
    }, AbortSignal.any([stop, keeperStop.signal])),
  ];
  await Promise.race([Promise.all([watcher.ready, follower?.start(() => wake.ring())]),
    new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }))]);

  await reconcileLoop({ opts, deps: { ...deps, trafficRules }, held, peers, wake, status, mtu: prepared.mtu, config, follower }, stop);
  await follower?.stop();
  await Promise.allSettled([...background, guard.idle()]);
  const lastPresenceLease = await identityKept;
  if (lostReason) {
    // The subnet may be someone else's now: the CNI plugin must answer "not ready", not hand out its addresses.
    await removeSubnetFile(opts.subnetFile).then(
      (removed) => { if (removed) log.warn({ path: opts.subnetFile, subnet: held.subnet }, 'removed subnet.env: this host no longer holds its subnet'); },
      (err: unknown) => log.error({ path: opts.subnetFile, err: errorMessage(err) }, 'cannot remove subnet.env'));
  }
  // Release the node name, so a restart (or the host's replacement) need not wait for it to expire.
  if (lastPresenceLease !== '' && status.identityConflict === undefined) {
    await deps.registry.revoke(lastPresenceLease).catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'cannot release the node name presence key; it expires on its own'));
  }
  if (lostReason) return 2;
  log.info({ subnet: held.subnet }, 'stopped; lease, device, kernel entries and subnet.env left in place');
  return 0;
}

interface LoopState {
  readonly opts: DaemonOptions;
  readonly deps: DaemonDeps;
  readonly held: HeldLease;
  readonly peers: PeerSet;
  readonly wake: Wakeup;
  readonly status: DaemonStatus;
  /** The pod MTU for subnet.env: the smaller of the two devices' on a dual-stack host. */
  readonly mtu: number;
  readonly config: NetworkConfig;
  readonly follower?: UnderlayFollower | undefined;
}

/**
 * The lease attributes after the underlay moved, built as at start from what
 * prepare() returned: the new public addresses (and the IPv6 device's MAC),
 * the backend's advert, the rest as they were.
 */
function movedAttrs(current: LeaseAttrs, next: Prepared): LeaseAttrs {
  return {
    ...current, ...next.advert, publicIp: next.publicIp,
    ...v6Attrs(next),
  };
}

/**
 * The IPv6 fields of this host's lease value: `PublicIPv6` and the IPv6
 * device's `BackendV6Data` (vxlan: VNI and its MAC; wireguard: in the
 * backend's advert), only when the IPv6 side is up.
 */
function v6Attrs(prepared: Prepared): Pick<LeaseAttrs, 'publicIpv6' | 'backendV6'> {
  if (!prepared.v6) return {};
  const mac = prepared.v6.vtepMac;
  return { publicIpv6: prepared.v6.publicIp, ...(mac !== undefined ? { backendV6: { vni: prepared.advert.vni, vtepMac: mac } } : {}) };
}

async function reconcileLoop(s: LoopState, stop: AbortSignal): Promise<void> {
  const throttled = new ThrottledLog(s.deps.log, 60_000, () => s.deps.clock.now());
  const collisions = new RefusalLog(s.deps.log);
  const network = s.config.network;
  const envFor = (mtu: number, attrs: LeaseAttrs) => ({
    network, subnet: s.held.subnet, mtu, ipMasq: s.opts.ipMasq,
    // Pods get IPv6 addresses only when this host carries IPv6 (its device is up and its lease says so).
    ...(s.config.ipv6 && s.held.subnetV6 && attrs.publicIpv6 ? { ipv6Network: s.config.ipv6.network, ipv6Subnet: s.held.subnetV6 } : {}),
  });
  let env = envFor(s.mtu, s.held.attrs);
  let seenVersion = -1;
  // A pass that failed (a device deleted while it read, an operation the kernel refused) is retried
  // soon, 200 ms doubling up to the resync interval, not only at the next event or resync.
  const retry = new Backoff(200, s.opts.resyncMs, s.deps.random);
  let failed = false;
  const schedule = new ResyncSchedule({ intervalMs: s.opts.resyncMs, clock: s.deps.clock, onDue: () => s.wake.ring() }, stop);
  // A kernel entry of weft's changed by hand: the next event pass puts it back (no wait for the resync).
  s.deps.dataPlane.onDrift?.(() => s.wake.ring());
  while (!stop.aborted) {
    const started = s.deps.clock.now();
    let resync = schedule.due;
    try {
      // The underlay is read on every resync, on its notifications, and while it is not usable.
      if (s.follower && (resync || s.follower.dirty || s.follower.waiting !== undefined)) {
        const underlay = await s.follower.check();
        if (underlay === 'waiting') {
          s.status.recordUnderlayWait(s.follower.waiting ?? 'underlay not usable', s.deps.clock.now());
          if (resync) schedule.resynced();
          await s.wake.wait(Math.min(retry.next(), s.opts.resyncMs), stop);
          continue;
        }
        if (underlay === 'moved') {
          // A new device: every peer is programmed on it, and subnet.env checked (its MTU may have changed).
          resync = true;
          env = envFor(s.follower.prepared.mtu, s.status.lease?.attrs ?? s.held.attrs);
        }
      }
      const changed = s.peers.takeChanged();
      s.status.recordLeases(s.peers);
      if (s.peers.version !== seenVersion) {
        seenVersion = s.peers.version;
        s.deps.log.info({ peers: s.peers.size, changed: changed.size, refused: s.status.leasesRefused.size, pending: s.status.leasesPending }, 'peer set changed');
      }
      // An event plans only what changed; a resync, the first pass and any pass without trusted state plan every peer.
      const result = (resync ? undefined : await s.deps.dataPlane.reconcileChanged(s.held.subnet, changed, (subnet) => s.peers.get(subnet), () => s.peers.values()))
        ?? await s.deps.dataPlane.reconcile(s.held.subnet, s.peers.values(), { resync });
      collisions.report(result.refused ?? []);
      s.status.routeCollisions = result.refused?.length ?? 0;
      // The rules depend only on the network and our subnet, so they are checked on
      // resync passes (and until the first pass is done), not on every peer event.
      if (resync || !s.status.ready) await s.deps.trafficRules?.ensure(network, s.held.subnet, trafficScope6(s.config, s.held)); // never throws
      s.status.recordPass(result, s.deps.clock.now() - started, s.deps.clock.now(), s.peers.size);
      failed = !result.ok;
      if (result.ok) {
        // subnet.env is checked on resyncs and until ready, not on every event (a file read each).
        if ((resync || !s.status.ready) && await ensureSubnetFile(s.opts.subnetFile, env)) s.deps.log.info({ path: s.opts.subnetFile, ...env }, 'wrote subnet.env');
        throttled.clear('pass', {}, 'reconcile pass succeeded again');
        if (!s.status.ready) {
          s.deps.log.info({ peers: s.peers.size, changes: result.changes, applied: result.applied, passMs: s.deps.clock.now() - started }, 'first reconcile pass done; ready');
        }
        s.status.markReady();
      }
    } catch (err) {
      failed = true;
      s.status.recordFailure(errorMessage(err), s.deps.clock.now(), s.deps.clock.now() - started);
      throttled.warn('pass', { err: errorMessage(err) }, 'reconcile pass failed; retrying');
    }
    if (resync) schedule.resynced();
    if (!failed) retry.reset();
    await s.wake.wait(failed ? Math.min(retry.next(), s.opts.resyncMs) : s.opts.resyncMs, stop);
  }
}
