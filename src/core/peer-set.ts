/**
 * The set of valid leases in the subnets prefix, keyed by subnet: the
 * data plane's desired-state input. Pure: the watcher feeds it raw key/values
 * (from a list or a watch event) and it reports what changed and which
 * entries it skipped. A bad entry is skipped with one warning and never
 * removes anything else; a re-list (after compaction or a watch error) is
 * diffed against what is known, never treated as "start from nothing".
 */
import { type Cidr, containsCidr } from './cidr.js';
import type { ListedLease } from './allocate.js';
import { decodeLeaseValue, decodeSubnetKey, sameAttrs } from './lease.js';
import type { NetworkConfig } from './network-config.js';

/** One key/value from the registry; `key` is the last path element, e.g. `10.5.3.0-24`. */
export interface RawLeaseKv {
  readonly key: string;
  readonly value: string;
  /** True when the key has no etcd lease attached (a reservation). */
  readonly reservation: boolean;
}

export interface PeerSetUpdate {
  readonly changed: boolean;
  /** New problems only: a key that keeps the same problem is reported once. */
  readonly warnings: readonly { key: string; reason: string }[];
}

export type LeaseClassification = { ok: true; lease: ListedLease } | { ok: false; reason: string };

/** Validates one raw entry against the network config. */
export function classifyLease(kv: RawLeaseKv, config: NetworkConfig): LeaseClassification {
  const key = decodeSubnetKey(kv.key);
  if (!key.ok) return { ok: false, reason: key.reason };
  if (!containsCidr(config.network, key.subnet)) {
    return { ok: false, reason: `subnet ${key.subnet} is outside the network ${config.network}` };
  }
  const value = decodeLeaseValue(kv.value);
  if (!value.ok) return { ok: false, reason: value.reason };
  return { ok: true, lease: { subnet: key.subnet, attrs: value.attrs, reservation: kv.reservation } };
}

/** A registry listing split into valid leases (each with its raw entry) and subnets that are taken but unreadable. */
export interface ClassifiedListing<E extends RawLeaseKv> {
  readonly valid: readonly { readonly lease: ListedLease; readonly entry: E }[];
  /** Subnets whose key parses but whose value does not: never free, never programmed. */
  readonly occupied: readonly Cidr[];
}

/** Classifies every entry of a listing against the network config. */
export function classifyListing<E extends RawLeaseKv>(entries: readonly E[], config: NetworkConfig): ClassifiedListing<E> {
  const valid: { lease: ListedLease; entry: E }[] = [];
  const occupied: Cidr[] = [];
  for (const entry of entries) {
    const c = classifyLease(entry, config);
    if (c.ok) {
      valid.push({ lease: c.lease, entry });
      continue;
    }
    const key = decodeSubnetKey(entry.key);
    if (key.ok) occupied.push(key.subnet);
  }
  return { valid, occupied };
}

export class PeerSet {
  readonly #config: NetworkConfig;
  readonly #leases = new Map<Cidr, ListedLease>();
  /** key → subnet, so a delete event (which has only the key) finds its lease. */
  readonly #byKey = new Map<string, Cidr>();
  readonly #problems = new Map<string, string>();
  #version = 0;

  constructor(config: NetworkConfig) {
    this.#config = config;
  }

  /** Increases whenever the set of valid leases changes. */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#leases.size;
  }

  get(subnet: Cidr): ListedLease | undefined {
    return this.#leases.get(subnet);
  }

  values(): ListedLease[] {
    return [...this.#leases.values()];
  }

  /** Keys currently skipped, with the reason. */
  problems(): ReadonlyMap<string, string> {
    return this.#problems;
  }

  put(kv: RawLeaseKv): PeerSetUpdate {
    const warnings: { key: string; reason: string }[] = [];
    const changed = this.#put(kv, warnings);
    if (changed) this.#version++;
    return { changed, warnings };
  }

  delete(key: string): PeerSetUpdate {
    const changed = this.#delete(key);
    if (changed) this.#version++;
    return { changed, warnings: [] };
  }

  /** Replaces the content with a full listing, changing only what differs. */
  reset(kvs: readonly RawLeaseKv[]): PeerSetUpdate {
    const warnings: { key: string; reason: string }[] = [];
    let changed = false;
    const seen = new Set<string>();
    for (const kv of kvs) {
      seen.add(kv.key);
      if (this.#put(kv, warnings)) changed = true;
    }
    for (const key of [...this.#byKey.keys(), ...this.#problems.keys()]) {
      if (!seen.has(key) && this.#delete(key)) changed = true;
    }
    if (changed) this.#version++;
    return { changed, warnings };
  }

  #put(kv: RawLeaseKv, warnings: { key: string; reason: string }[]): boolean {
    const result = classifyLease(kv, this.#config);
    if (!result.ok) {
      if (this.#problems.get(kv.key) !== result.reason) warnings.push({ key: kv.key, reason: result.reason });
      this.#problems.set(kv.key, result.reason);
      // Bad input never tears down what works: a key whose value turned to
      // garbage keeps its last good lease until it is deleted or fixed.
      return false;
    }
    this.#problems.delete(kv.key);
    const lease = result.lease;
    const previous = this.#leases.get(lease.subnet);
    this.#byKey.set(kv.key, lease.subnet);
    if (previous && previous.reservation === lease.reservation && sameAttrs(previous.attrs, lease.attrs)) return false;
    this.#leases.set(lease.subnet, lease);
    return true;
  }

  #delete(key: string): boolean {
    this.#problems.delete(key);
    const subnet = this.#byKey.get(key);
    if (subnet === undefined) return false;
    this.#byKey.delete(key);
    return this.#leases.delete(subnet);
  }
}
