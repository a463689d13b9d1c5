/**
 * Keeps the PeerSet equal to the subnets prefix in etcd: list at revision R,
 * watch from R+1; on compaction, a broken stream or any watch error, re-list
 * and diff (never "start from nothing"), with exponential backoff and
 * throttled logs. It also watches this host's own key: deleted or taken over
 * by another host means the lease is lost.
 */
import type { Logger } from 'pino';
import { type Identity, isOwnLease } from '../core/allocate.js';
import type { Cidr } from '../core/cidr.js';
import { errorMessage } from '../core/errors.js';
import { decodeLeaseValue, encodeSubnetKey } from '../core/lease.js';
import type { PeerSet, PeerSetUpdate } from '../core/peer-set.js';
import type { Clock } from '../adapters/clock.js';
import type { RegistryEntry, RegistryEvent, SubnetRegistry } from '../adapters/registry.js';
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
}

export interface WatchStats {
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
  #own: { key: string; self: Identity; reserved?: boolean } | undefined;
  #firstList: (() => void) | undefined;
  /** Resolves after the first successful listing. */
  readonly ready: Promise<void>;
  readonly stats: WatchStats = { lists: 0, watchRestarts: 0, compactions: 0, listErrors: 0, lastError: undefined };

  constructor(deps: LeaseWatcherDeps) {
    this.#deps = deps;
    this.#throttled = new ThrottledLog(deps.log, 60_000, () => deps.clock.now());
    this.ready = new Promise((resolve) => { this.#firstList = resolve; });
  }

  /** Starts checking our own key (after the lease is acquired). */
  watchOwn(subnet: Cidr, self: Identity, reserved = false): void {
    this.#own = { key: encodeSubnetKey(subnet), self, reserved };
  }

  /** Runs until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!signal.aborted) {
      let revision: string;
      try {
        const listing = await this.#deps.registry.listLeases();
        this.stats.lists++;
        revision = listing.revision;
        this.#report(this.#deps.peers.reset(listing.entries));
        this.#checkOwnListing(listing.entries);
        this.#throttled.clear('list', { revision }, 'etcd reachable again; lease list refreshed');
        this.#firstList?.();
        this.#firstList = undefined;
      } catch (err) {
        this.stats.listErrors++;
        this.stats.lastError = errorMessage(err);
        this.#throttled.warn('list', { err: errorMessage(err), retryInMs: backoff }, 'cannot list leases from etcd; retrying');
        await this.#pause(backoff, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      const started = this.#deps.clock.now();
      const err = await this.#watchUntilError(String(BigInt(revision) + 1n), signal);
      if (signal.aborted) break;
      if (err === 'relist') continue;
      this.stats.watchRestarts++;
      if (/compact/i.test(errorMessage(err))) this.stats.compactions++;
      this.stats.lastError = errorMessage(err);
      if (this.#deps.clock.now() - started > 30_000) backoff = MIN_BACKOFF_MS;
      this.#throttled.warn('watch', { err: errorMessage(err), retryInMs: backoff }, 'lease watch ended; re-listing');
      await this.#pause(backoff, signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
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
      this.#deps.clock.sleep(RELIST_MS, relist.signal).then(() => finish('relist'), () => undefined);
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
    else this.#checkOwnValue(entry.value, entry.reservation);
  }

  #checkOwnEvent(ev: RegistryEvent): void {
    if (!this.#own) return;
    if (ev.type === 'delete' && ev.key === this.#own.key) {
      this.#lost(`our lease ${this.#own.key} was deleted from etcd (expired or removed by an operator)`);
    } else if (ev.type === 'put' && ev.entry.key === this.#own.key) {
      this.#checkOwnValue(ev.entry.value, ev.entry.reservation);
    }
  }

  #checkOwnValue(value: string, reservation: boolean): void {
    const own = this.#own;
    if (!own) return;
    const decoded = decodeLeaseValue(value);
    if (!decoded.ok) {
      this.#deps.log.warn({ key: own.key, reason: decoded.reason }, 'our own lease value was overwritten with something unreadable; keeping our subnet');
      return;
    }
    if (!isOwnLease({ subnet: '' as Cidr, attrs: decoded.attrs }, own.self)) {
      this.#lost(`our lease ${own.key} was taken over by node ${decoded.attrs.nodeName ?? '(flannel)'} with public IP ${decoded.attrs.publicIp}`);
      return;
    }
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
