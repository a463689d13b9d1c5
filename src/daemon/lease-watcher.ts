/**
 * Keeps the PeerSet equal to the subnets prefix in etcd: list at revision R
 * (or start from the lease acquisition's listing), watch from R+1; on compaction, a broken stream or any watch error, re-list
 * and diff (never "start from nothing"), with exponential backoff and
 * throttled logs; every pause and the periodic safety re-list are jittered.
 * It also watches this host's own key: deleted or taken over by another node
 * name means the lease is lost; our name with other attributes is reported to
 * onOwnDrift (the own-lease guard writes our value back).
 */
import type { Logger } from 'pino';
import { type Identity, isOwnLease } from '../core/allocate.js';
import type { Cidr } from '../core/cidr.js';
import { errorMessage } from '../core/errors.js';
import { type LeaseAttrs, type LeaseSubnets, decodeLeaseValue, encodeSubnetKey } from '../core/lease.js';
import { classifyOwnValue } from '../core/own-lease.js';
import type { PeerSet, PeerSetUpdate } from '../core/peer-set.js';
import type { Clock } from '../adapters/clock.js';
import type { LeaseListing, RegistryEntry, RegistryEvent, SubnetRegistry } from '../adapters/registry.js';
import { Backoff, jittered } from './jitter.js';
import { ThrottledLog } from './throttled-log.js';

export interface LeaseWatcherDeps {
  readonly registry: SubnetRegistry;
  readonly peers: PeerSet;
  readonly clock: Clock;
  readonly log: Logger;
  /** Called whenever the set of valid leases changed. */
  readonly onChange: () => void;
  /** Called once when our own key is deleted or taken over. */
  readonly onLost: (reason: string) => void;
  /** Called once when our own key turns into a reservation (no etcd lease), e.g. `weftctl reserve --force`. */
  readonly onReserved?: () => void;
  /** Called when our own key holds our node name with other attributes (or an unreadable value). */
  readonly onOwnDrift?: (entry: RegistryEntry, reason: string) => void;
  /** Jitter for backoff and the periodic re-list (default Math.random). */
  readonly random?: () => number;
}

export interface WatchStats {
  /** Listings applied (the first may be the lease acquisition's, handed over). */
  lists: number;
  watchRestarts: number;
  /** Watch ends caused by a compaction past the watch's revision. */
  compactions: number;
  /** Failed list requests (etcd unreachable or erroring). */
  listErrors: number;
  lastError: string | undefined;
}

const MIN_BACKOFF_MS = 200;
/** A full re-list this often, as a safety net for anything a watch could miss. */
const RELIST_MS = 5 * 60_000;
const MAX_BACKOFF_MS = 10_000;

export class LeaseWatcher {
  readonly #deps: LeaseWatcherDeps;
  readonly #throttled: ThrottledLog;
  #own: { key: string; self: Identity; reserved?: boolean; attrs?: LeaseAttrs | undefined } | undefined;
  #firstList: (() => void) | undefined;
  #handedOver: LeaseListing | undefined;
  /** Resolves after the first successful listing. */
  readonly ready: Promise<void>;
  readonly stats: WatchStats = { lists: 0, watchRestarts: 0, compactions: 0, listErrors: 0, lastError: undefined };

  constructor(deps: LeaseWatcherDeps) {
    this.#deps = deps;
    this.#throttled = new ThrottledLog(deps.log, 60_000, () => deps.clock.now());
    this.ready = new Promise((resolve) => { this.#firstList = resolve; });
  }

  /** Starts checking our own key (after the lease is acquired); with `attrs`, also for drift from our value. */
  watchOwn(subnet: LeaseSubnets, self: Identity, reserved = false, attrs?: LeaseAttrs): void {
    this.#own = { key: encodeSubnetKey(subnet), self, reserved, attrs };
  }

  /** Our own key's true value changed (the underlay moved): our new write is ours, the old value is the drift. */
  updateOwn(self: Identity, attrs: LeaseAttrs): void {
    if (!this.#own) return;
    this.#own = { ...this.#own, self, attrs: this.#own.attrs === undefined ? undefined : attrs };
  }

  get #random(): () => number {
    return this.#deps.random ?? Math.random;
  }

  /**
   * Makes run() start from a listing someone else just read (the lease
   * acquisition's) instead of listing again: the watch starts at its
   * revision + 1, so nothing written since is missed. It predates our own
   * lease write, so our key is checked from the watch's events (which bring
   * that write), not from it. Kept only until run() has applied it.
   */
  startFrom(listing: LeaseListing | undefined): void {
    this.#handedOver = listing;
  }

  /** Runs until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(MIN_BACKOFF_MS, MAX_BACKOFF_MS, this.#random);
    while (!signal.aborted) {
      let revision: string;
      try {
        revision = await this.#list();
      } catch (err) {
        this.stats.listErrors++;
        this.stats.lastError = errorMessage(err);
        const delay = backoff.next();
        this.#throttled.warn('list', { err: errorMessage(err), retryInMs: delay }, 'cannot list leases from etcd; retrying');
        await this.#pause(delay, signal);
        continue;
      }
      const started = this.#deps.clock.now();
      const err = await this.#watchUntilError(String(BigInt(revision) + 1n), signal);
      if (signal.aborted) break;
      if (err === 'relist') continue;
      this.stats.watchRestarts++;
      if (/compact/i.test(errorMessage(err))) this.stats.compactions++;
      this.stats.lastError = errorMessage(err);
      if (this.#deps.clock.now() - started > 30_000) backoff.reset();
      const delay = backoff.next();
      this.#throttled.warn('watch', { err: errorMessage(err), retryInMs: delay }, 'lease watch ended; re-listing');
      await this.#pause(delay, signal);
    }
  }

  /**
   * Lists (or takes the handed-over listing), applies it and returns its
   * revision; the listing itself is not kept (this loop's frame lives as
   * long as the daemon).
   */
  async #list(): Promise<string> {
    const handedOver = this.#handedOver;
    this.#handedOver = undefined;
    const listing = handedOver ?? await this.#deps.registry.listLeases();
    const own = handedOver === undefined;
    this.stats.lists++;
    this.#report(this.#deps.peers.reset(listing.entries));
    if (own) this.#checkOwnListing(listing.entries);
    this.#throttled.clear('list', { revision: listing.revision }, 'etcd reachable again; lease list refreshed');
    if (this.#firstList) {
      this.#deps.log.info({ leases: listing.entries.length, revision: listing.revision, listedBy: own ? 'lease watcher' : 'lease acquisition' }, 'watching leases');
      this.#firstList();
    }
    this.#firstList = undefined;
    return listing.revision;
  }

  async #pause(ms: number, signal: AbortSignal): Promise<void> {
    await this.#deps.clock.sleep(ms, signal).catch(() => undefined);
  }

  /** Watches until an error, the periodic re-list, or the signal; 'relist' means no error. */
  #watchUntilError(fromRevision: string, signal: AbortSignal): Promise<Error | 'relist' | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const relist = new AbortController();
      let cancel: (() => void) | undefined;
      let finished = false;
      const finish = (result: Error | 'relist' | undefined): void => {
        if (finished) return;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        relist.abort();
        cancel?.();
        resolve(result);
      };
      const onAbort = (): void => finish(undefined);
      cancel = this.#deps.registry.watch(fromRevision, {
        onEvents: (events) => this.#apply(events),
        onError: (err) => finish(err),
      });
      if (finished) cancel();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#deps.clock.sleep(jittered(RELIST_MS, this.#random, 0.2), relist.signal).then(() => finish('relist'), () => undefined);
    });
  }

  #apply(events: readonly RegistryEvent[]): void {
    let changed = false;
    for (const ev of events) {
      const update = ev.type === 'put' ? this.#deps.peers.put(ev.entry) : this.#deps.peers.delete(ev.key);
      changed = this.#warn(update) || changed;
      this.#checkOwnEvent(ev);
    }
    if (changed) this.#deps.onChange();
  }

  #report(update: PeerSetUpdate): void {
    if (this.#warn(update)) this.#deps.onChange();
  }

  #warn(update: PeerSetUpdate): boolean {
    for (const w of update.warnings) this.#deps.log.warn({ key: w.key, code: w.code, reason: w.reason }, 'refusing peer lease');
    return update.changed;
  }

  #checkOwnListing(entries: readonly RegistryEntry[]): void {
    if (!this.#own) return;
    const entry = entries.find((e) => e.key === this.#own?.key);
    if (!entry) this.#lost(`our lease ${this.#own.key} is gone from etcd (expired or deleted)`);
    else this.#checkOwnValue(entry);
  }

  #checkOwnEvent(ev: RegistryEvent): void {
    if (!this.#own) return;
    if (ev.type === 'delete' && ev.key === this.#own.key) {
      this.#lost(`our lease ${this.#own.key} was deleted from etcd (expired or removed by an operator)`);
    } else if (ev.type === 'put' && ev.entry.key === this.#own.key) {
      this.#checkOwnValue(ev.entry);
    }
  }

  #checkOwnValue(entry: RegistryEntry): void {
    const own = this.#own;
    if (!own) return;
    const value = entry.value;
    if (own.attrs && this.#deps.onOwnDrift) {
      const verdict = classifyOwnValue(value, own.attrs);
      if (verdict.kind === 'taken') {
        this.#lost(`our lease ${own.key} was taken over by node ${verdict.by} with public IP ${verdict.publicIp}`);
        return;
      }
      // First the reservation (no etcd lease any more), so that a write-back keeps it a reservation.
      this.#noteReservation(own, entry.reservation);
      if (verdict.kind === 'drifted') this.#deps.onOwnDrift(entry, verdict.reason);
      return;
    }
    const decoded = decodeLeaseValue(value);
    if (!decoded.ok) {
      this.#deps.log.warn({ key: own.key, reason: decoded.reason }, 'our own lease value was overwritten with something unreadable; keeping our subnet');
      return;
    }
    if (!isOwnLease({ subnet: '' as Cidr, attrs: decoded.attrs }, own.self)) {
      this.#lost(`our lease ${own.key} was taken over by node ${decoded.attrs.nodeName ?? '(flannel)'} with public IP ${decoded.attrs.publicIp}`);
      return;
    }
    this.#noteReservation(own, entry.reservation);
  }

  #noteReservation(own: { key: string; reserved?: boolean }, reservation: boolean): void {
    if (reservation && !own.reserved) {
      own.reserved = true;
      this.#deps.log.info({ key: own.key }, 'our lease became a reservation (no TTL); no longer renewing it');
      this.#deps.onReserved?.();
    }
  }

  #lost(reason: string): void {
    if (!this.#own) return;
    this.#own = undefined;
    this.#deps.onLost(reason);
  }
}
