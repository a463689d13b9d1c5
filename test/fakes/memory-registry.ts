/**
 * An in-memory SubnetRegistry with the etcd v3 semantics weft relies on:
 *
 * - one store revision, bumped by every write; each key keeps its mod revision;
 * - claim = create-if-absent, replace/remove = compare-and-swap on the mod revision;
 *   restore = compare-and-swap that keeps the key's etcd lease (fails when it is gone);
 * - node presence keys (outside the subnets prefix: no watch events) on their own leases;
 * - leases with a TTL counted on an injected Clock (a ManualClock in tests):
 *   expiry or revoke deletes the attached keys in one revision and watchers see
 *   the deletes; keepAlive of an unknown or expired lease answers 0;
 * - watches from a revision replay the buffered history, then follow live writes;
 *   delivery is asynchronous, like a real stream;
 * - compact(revision) drops older history: a watch that still needs it (started
 *   from an older revision, or lagging behind) ends with onError;
 * - breakWatches() and setAvailable(false) simulate a broken stream and an
 *   unreachable etcd.
 */
import type { Cidr } from '../../src/core/cidr.js';
import type { PresenceEntry } from '../../src/core/node-presence.js';
import { RegistryError } from '../../src/core/errors.js';
import { type LeaseSubnets, encodeSubnetKey } from '../../src/core/lease.js';
import type { Clock } from '../../src/adapters/clock.js';
import type {
  ClaimResult, LeaseListing, RegistryEntry, RegistryEvent, RestoreResult, SubnetRegistry, WatchHandlers,
} from '../../src/adapters/registry.js';
import { ManualClock } from './manual-clock.js';

export interface MemoryRegistryOptions {
  readonly clock?: Clock;
  /** Awaited before each request reaches the store: lets concurrent callers interleave. */
  readonly delay?: () => Promise<void>;
}

/** The watch needs history that compaction removed (etcd's ErrCompacted). */
export class CompactedError extends Error {
  readonly compactRevision: number;
  constructor(requested: number, compactRevision: number) {
    super(`required revision ${requested} has been compacted (compact revision ${compactRevision})`);
    this.compactRevision = compactRevision;
  }
}

interface StoredKey { value: string; leaseId: string; modRevision: number }
interface StoredLease { readonly ttlSeconds: number; expiresAt: number; readonly keys: Set<string>; readonly presence: Set<string>; timer: AbortController }
interface Commit { readonly revision: number; readonly events: readonly RegistryEvent[] }
interface ActiveWatch { next: number; readonly handlers: WatchHandlers; scheduled: boolean }

export class MemoryRegistry implements SubnetRegistry {
  readonly clock: Clock;
  /** Every request by method name, in order (e.g. count the `listLeases`). */
  readonly calls: string[] = [];
  readonly #delay: (() => Promise<void>) | undefined;
  readonly #keys = new Map<string, StoredKey>();
  readonly #presence = new Map<string, StoredKey>();
  readonly #leases = new Map<string, StoredLease>();
  readonly #watches = new Set<ActiveWatch>();
  #history: Commit[] = [];
  #config: string | undefined;
  #revision = 1;
  #compactRevision = 0;
  #nextLeaseId = 7_000_001;
  #available = true;

  constructor(options: MemoryRegistryOptions = {}) {
    this.clock = options.clock ?? new ManualClock();
    this.#delay = options.delay;
  }

  get revision(): number {
    return this.#revision;
  }

  get watchCount(): number {
    return this.#watches.size;
  }

  count(method: string): number {
    return this.calls.filter((c) => c === method).length;
  }

  // --- SubnetRegistry ---------------------------------------------------------

  async getConfig(): Promise<string | undefined> {
    await this.#request('getConfig');
    return this.#config;
  }

  async putConfig(text: string): Promise<void> {
    await this.#request('putConfig');
    this.#config = text;
    this.#revision++; // a write outside the subnets prefix: no watch event
  }

  async listLeases(): Promise<LeaseListing> {
    await this.#request('listLeases');
    return { entries: this.entries(), revision: String(this.#revision) };
  }

  async claim(subnet: LeaseSubnets, value: string, ttlSeconds: number): Promise<ClaimResult> {
    await this.#request('claim');
    const leaseId = ttlSeconds > 0 ? this.grant(ttlSeconds) : '0';
    await this.#step();
    const key = encodeSubnetKey(subnet);
    if (this.#keys.has(key)) {
      this.#dropLease(leaseId);
      return { ok: false };
    }
    const modRevision = this.putRaw(key, value, leaseId);
    return { ok: true, leaseId, modRevision: String(modRevision) };
  }

  async replace(subnet: LeaseSubnets, value: string, modRevision: string, ttlSeconds: number): Promise<ClaimResult> {
    await this.#request('replace');
    const leaseId = ttlSeconds > 0 ? this.grant(ttlSeconds) : '0';
    await this.#step();
    const current = this.#keys.get(encodeSubnetKey(subnet));
    if (!current || String(current.modRevision) !== modRevision) {
      this.#dropLease(leaseId);
      return { ok: false };
    }
    const rev = this.putRaw(encodeSubnetKey(subnet), value, leaseId);
    return { ok: true, leaseId, modRevision: String(rev) };
  }

  async getLease(subnet: LeaseSubnets): Promise<RegistryEntry | undefined> {
    await this.#request('getLease');
    return this.entry(encodeSubnetKey(subnet));
  }

  async restore(subnet: LeaseSubnets, value: string, modRevision: string, leaseId: string): Promise<RestoreResult> {
    await this.#request('restore');
    const key = encodeSubnetKey(subnet);
    const current = this.#keys.get(key);
    if (leaseId !== '0' && !this.#leases.has(leaseId)) return { ok: false, reason: 'lease-gone' };
    if (!current || String(current.modRevision) !== modRevision) return { ok: false, reason: 'changed' };
    return { ok: true, modRevision: String(this.putRaw(key, value, leaseId)) };
  }

  async getPresence(nodeName: string): Promise<PresenceEntry | undefined> {
    await this.#request('getPresence');
    return this.presence(nodeName);
  }

  async claimPresence(nodeName: string, value: string, ttlSeconds: number): Promise<ClaimResult> {
    await this.#request('claimPresence');
    const leaseId = this.grant(ttlSeconds);
    await this.#step();
    if (this.#presence.has(nodeName)) {
      this.#dropLease(leaseId);
      return { ok: false };
    }
    return { ok: true, leaseId, modRevision: String(this.putPresenceRaw(nodeName, value, leaseId)) };
  }

  async replacePresence(nodeName: string, value: string, modRevision: string, ttlSeconds: number): Promise<ClaimResult> {
    await this.#request('replacePresence');
    const leaseId = this.grant(ttlSeconds);
    await this.#step();
    const current = this.#presence.get(nodeName);
    if (!current || String(current.modRevision) !== modRevision) {
      this.#dropLease(leaseId);
      return { ok: false };
    }
    return { ok: true, leaseId, modRevision: String(this.putPresenceRaw(nodeName, value, leaseId)) };
  }

  async remove(subnet: LeaseSubnets, modRevision?: string): Promise<boolean> {
    await this.#request('remove');
    const key = encodeSubnetKey(subnet);
    const current = this.#keys.get(key);
    if (!current || (modRevision !== undefined && String(current.modRevision) !== modRevision)) return false;
    this.deleteRaw(key);
    return true;
  }

  async keepAlive(leaseId: string): Promise<number> {
    await this.#request('keepAlive');
    const lease = this.#leases.get(leaseId);
    if (!lease) return 0;
    this.#arm(leaseId, lease);
    return lease.ttlSeconds;
  }

  async timeToLive(leaseId: string): Promise<number> {
    await this.#request('timeToLive');
    const lease = this.#leases.get(leaseId);
    if (!lease) return -1;
    return Math.ceil((lease.expiresAt - this.clock.now()) / 1000);
  }

  async revoke(leaseId: string): Promise<void> {
    await this.#request('revoke');
    if (!this.#leases.has(leaseId)) throw new RegistryError(`etcd lease revoke failed: requested lease ${leaseId} not found`);
    this.#dropLease(leaseId);
  }

  watch(fromRevision: string, handlers: WatchHandlers): () => void {
    this.calls.push('watch');
    if (!this.#available) {
      queueMicrotask(() => handlers.onError(new RegistryError('watch failed: etcd unavailable')));
      return () => undefined;
    }
    const from = Number(fromRevision);
    const w: ActiveWatch = { next: from > 0 ? from : this.#revision + 1, handlers, scheduled: false };
    this.#watches.add(w);
    this.#schedule(w);
    return () => { this.#watches.delete(w); };
  }

  close(): void {
    this.#available = false;
    this.#watches.clear();
    for (const lease of this.#leases.values()) lease.timer.abort();
  }

  // --- test controls ----------------------------------------------------------

  /** All subnet entries, sorted by key like an etcd range read. */
  entries(): RegistryEntry[] {
    return [...this.#keys.keys()].sort().map((key) => this.entry(key)).filter((e) => e !== undefined);
  }

  entry(key: string): RegistryEntry | undefined {
    const kv = this.#keys.get(key);
    if (!kv) return undefined;
    return { key, value: kv.value, reservation: kv.leaseId === '0', leaseId: kv.leaseId, modRevision: String(kv.modRevision) };
  }

  /** A node's presence key, as etcd would return it. */
  presence(nodeName: string): PresenceEntry | undefined {
    const kv = this.#presence.get(nodeName);
    return kv ? { value: kv.value, leaseId: kv.leaseId, modRevision: String(kv.modRevision) } : undefined;
  }

  /** Unconditional put of a presence key (another host's weftd, in tests). Returns its mod revision. */
  putPresenceRaw(nodeName: string, value: string, leaseId: string): number {
    const lease = this.#leases.get(leaseId);
    if (!lease) throw new RegistryError(`etcd put failed: requested lease ${leaseId} not found`);
    const previous = this.#presence.get(nodeName);
    if (previous) this.#leases.get(previous.leaseId)?.presence.delete(nodeName);
    lease.presence.add(nodeName);
    const revision = ++this.#revision;
    this.#presence.set(nodeName, { value, leaseId, modRevision: revision });
    return revision;
  }

  /** Live etcd leases (granted, not yet expired or revoked). */
  get leaseCount(): number {
    return this.#leases.size;
  }

  hasLease(leaseId: string): boolean {
    return this.#leases.has(leaseId);
  }

  /** Grants an etcd lease that expires `ttlSeconds` from now on the clock. */
  grant(ttlSeconds: number): string {
    const id = String(this.#nextLeaseId++);
    const lease: StoredLease = { ttlSeconds, expiresAt: 0, keys: new Set(), presence: new Set(), timer: new AbortController() };
    this.#leases.set(id, lease);
    this.#arm(id, lease);
    return id;
  }

  /** Unconditional put (like `etcdctl put [--lease]`); '0' writes a key with no lease. Returns its mod revision. */
  putRaw(key: string, value: string, leaseId = '0'): number {
    const lease = this.#leases.get(leaseId);
    if (leaseId !== '0' && !lease) throw new RegistryError(`etcd put failed: requested lease ${leaseId} not found`);
    const revision = ++this.#revision;
    const previous = this.#keys.get(key);
    if (previous) this.#leases.get(previous.leaseId)?.keys.delete(key);
    lease?.keys.add(key);
    this.#keys.set(key, { value, leaseId, modRevision: revision });
    const entry = this.entry(key);
    if (entry) this.#publish(revision, [{ type: 'put', entry }]);
    return revision;
  }

  /** Unconditional delete (like `etcdctl del`). */
  deleteRaw(key: string): boolean {
    return this.#deleteKeys([key]);
  }

  /** Drops history before `revision` (default: the current one). */
  compact(revision = this.#revision): void {
    if (revision > this.#revision) throw new Error(`cannot compact to future revision ${revision}`);
    this.#compactRevision = Math.max(this.#compactRevision, revision);
    this.#history = this.#history.filter((c) => c.revision >= this.#compactRevision);
    for (const w of this.#watches) this.#schedule(w);
  }

  /** Ends every open watch with an error, as a broken connection would. */
  breakWatches(err: Error = new RegistryError('watch disconnected: connection reset')): void {
    const broken = [...this.#watches];
    this.#watches.clear();
    for (const w of broken) queueMicrotask(() => w.handlers.onError(err));
  }

  /** While unavailable every request fails (and open watches break), like an unreachable etcd. */
  setAvailable(available: boolean): void {
    this.#available = available;
    if (!available) this.breakWatches(new RegistryError('watch disconnected: etcd unavailable'));
  }

  // --- internals --------------------------------------------------------------

  async #request(method: string): Promise<void> {
    this.calls.push(method);
    await this.#step();
  }

  async #step(): Promise<void> {
    if (this.#delay) await this.#delay();
    if (!this.#available) throw new RegistryError('etcd unavailable (MemoryRegistry)');
  }

  /** (Re)starts the lease's expiry timer on the clock. */
  #arm(id: string, lease: StoredLease): void {
    lease.timer.abort();
    const timer = new AbortController();
    lease.timer = timer;
    lease.expiresAt = this.clock.now() + lease.ttlSeconds * 1000;
    this.clock.sleep(lease.ttlSeconds * 1000, timer.signal).then(
      () => { if (this.#leases.get(id) === lease) this.#dropLease(id); },
      () => undefined,
    );
  }

  #dropLease(leaseId: string): void {
    const lease = this.#leases.get(leaseId);
    if (!lease) return;
    lease.timer.abort();
    this.#leases.delete(leaseId);
    for (const name of lease.presence) {
      if (this.#presence.get(name)?.leaseId === leaseId) this.#presence.delete(name);
    }
    this.#deleteKeys([...lease.keys].sort());
  }

  /** Deletes the existing ones of `keys` in one revision. */
  #deleteKeys(keys: readonly string[]): boolean {
    const events: RegistryEvent[] = [];
    for (const key of keys) {
      const kv = this.#keys.get(key);
      if (!kv) continue;
      this.#leases.get(kv.leaseId)?.keys.delete(key);
      this.#keys.delete(key);
      events.push({ type: 'delete', key });
    }
    if (events.length === 0) return false;
    this.#publish(++this.#revision, events);
    return true;
  }

  #publish(revision: number, events: readonly RegistryEvent[]): void {
    this.#history.push({ revision, events });
    for (const w of this.#watches) this.#schedule(w);
  }

  #schedule(w: ActiveWatch): void {
    if (w.scheduled) return;
    w.scheduled = true;
    queueMicrotask(() => this.#pump(w));
  }

  #pump(w: ActiveWatch): void {
    w.scheduled = false;
    if (!this.#watches.has(w)) return;
    if (w.next < this.#compactRevision) {
      this.#watches.delete(w);
      w.handlers.onError(new CompactedError(w.next, this.#compactRevision));
      return;
    }
    for (const commit of this.#history) {
      if (commit.revision < w.next) continue;
      if (!this.#watches.has(w)) return;
      w.next = commit.revision + 1;
      w.handlers.onEvents(commit.events, String(commit.revision));
    }
  }
}
