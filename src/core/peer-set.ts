/**
 * Every lease key in the subnets prefix, judged by the acceptance rule
 * (peer-acceptance.ts): the accepted peers, keyed by subnet, are the data
 * plane's desired-state input; the rest are pending reservations or refused
 * with a reason. Pure: the watcher feeds it raw key/values (from a list or a
 * watch event) and it reports what changed and which refusals are new. A
 * refused entry never removes or changes an accepted one (a key whose value
 * turns bad keeps its last good lease); a re-list (after compaction or a
 * watch error) is diffed against what is known, never treated as "start
 * from nothing". weftctl builds one from a listing, so it shows exactly the
 * verdicts weftd acts on.
 */
import { type Cidr, containsCidr } from './cidr.js';
import type { ListedLease } from './allocate.js';
import { decodeLeaseValue, decodeSubnetKey, sameAttrs } from './lease.js';
import type { NetworkConfig } from './network-config.js';
import { type Peer, type RefusalCode, type SelfView, judgeLease } from './peer-acceptance.js';

/** One key/value from the registry; `key` is the last path element, e.g. `10.5.3.0-24`. */
export interface RawLeaseKv {
  readonly key: string;
  readonly value: string;
  /** True when the key has no etcd lease attached (a reservation). */
  readonly reservation: boolean;
}

export interface RefusalWarning {
  readonly key: string;
  readonly code: RefusalCode;
  readonly reason: string;
}

export interface PeerSetUpdate {
  readonly changed: boolean;
  /** New refusals only: a key that keeps the same problem is reported once. */
  readonly warnings: readonly RefusalWarning[];
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

/** An accepted peer as listed: the lease, whether it is a reservation, and its key. */
export type ListedPeer = ListedLease & Peer;

/** One key's verdict, for display (`weftctl leases`, `status`) and metrics. */
export type LeaseVerdict =
  | { readonly key: string; readonly state: 'peer' | 'self' | 'pending'; readonly lease: ListedLease; readonly reason?: string }
  | { readonly key: string; readonly state: 'refused'; readonly code: RefusalCode; readonly reason: string; readonly lease?: ListedLease };

interface Refused {
  readonly kv: RawLeaseKv;
  readonly code: RefusalCode;
  readonly reason: string;
  readonly lease: ListedLease | undefined;
}

export class PeerSet {
  readonly #config: NetworkConfig;
  readonly #self: SelfView;
  /** Accepted peers by subnet, and the key that holds each. */
  readonly #peers = new Map<Cidr, { readonly key: string; readonly lease: ListedPeer }>();
  /** key → subnet of the accepted peer it holds, so a delete event (which has only the key) finds it. */
  readonly #byKey = new Map<string, Cidr>();
  /** Keys that are not peers: this host's own lease and pending reservations. */
  readonly #others = new Map<string, { readonly state: 'self' | 'pending'; readonly lease: ListedLease; readonly reason?: string }>();
  readonly #refused = new Map<string, Refused>();
  #version = 0;

  /** `self`: this host's subnet and public IP, once known (weftctl off a host knows neither). */
  constructor(config: NetworkConfig, self: SelfView = {}) {
    this.#config = config;
    this.#self = self;
  }

  /** Increases whenever the set of accepted peers changes. */
  get version(): number {
    return this.#version;
  }

  /** How many peers are accepted. */
  get size(): number {
    return this.#peers.size;
  }

  get(subnet: Cidr): ListedPeer | undefined {
    return this.#peers.get(subnet)?.lease;
  }

  /** The accepted peers: what the data plane programs. */
  values(): ListedPeer[] {
    const out: ListedPeer[] = [];
    for (const { lease } of this.#peers.values()) out.push(lease);
    return out;
  }

  /** Refused keys with the reason (a key that keeps its last good lease is here too). */
  problems(): ReadonlyMap<string, string> {
    return new Map([...this.#refused].map(([key, r]) => [key, r.reason]));
  }

  /** How many keys are refused, by reason code (for the metric). */
  refusalCounts(): Map<RefusalCode, number> {
    const counts = new Map<RefusalCode, number>();
    for (const r of this.#refused.values()) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
    return counts;
  }

  /** Reservations whose host has not started yet. */
  get pendingCount(): number {
    let n = 0;
    for (const o of this.#others.values()) if (o.state === 'pending') n++;
    return n;
  }

  /** Every key's verdict, in no particular order. */
  verdicts(): LeaseVerdict[] {
    const out: LeaseVerdict[] = [];
    for (const { key, lease } of this.#peers.values()) {
      const refusal = this.#refused.get(key);
      // A key whose new value is refused still has its last good lease programmed.
      if (!refusal) out.push({ key, state: 'peer', lease });
    }
    for (const [key, o] of this.#others) out.push({ key, state: o.state, lease: o.lease, ...(o.reason ? { reason: o.reason } : {}) });
    for (const [key, r] of this.#refused) {
      out.push({ key, state: 'refused', code: r.code, reason: this.#byKey.has(key) ? `${r.reason} (its last good value is still programmed)` : r.reason,
        ...(r.lease ? { lease: r.lease } : {}) });
    }
    return out;
  }

  put(kv: RawLeaseKv): PeerSetUpdate {
    const warnings: RefusalWarning[] = [];
    const changed = this.#put(kv, warnings);
    if (changed) this.#version++;
    return { changed, warnings };
  }

  delete(key: string): PeerSetUpdate {
    const warnings: RefusalWarning[] = [];
    const changed = this.#delete(key, warnings);
    if (changed) this.#version++;
    return { changed, warnings };
  }

  /** Replaces the content with a full listing, changing only what differs. */
  reset(kvs: readonly RawLeaseKv[]): PeerSetUpdate {
    const warnings: RefusalWarning[] = [];
    let changed = false;
    const seen = new Set<string>();
    for (const kv of kvs) {
      seen.add(kv.key);
      if (this.#put(kv, warnings)) changed = true;
    }
    for (const key of [...this.#byKey.keys(), ...this.#others.keys(), ...this.#refused.keys()]) {
      if (!seen.has(key) && this.#delete(key, warnings)) changed = true;
    }
    if (changed) this.#version++;
    return { changed, warnings };
  }

  #put(kv: RawLeaseKv, warnings: RefusalWarning[]): boolean {
    const classified = classifyLease(kv, this.#config);
    if (!classified.ok) {
      const key = decodeSubnetKey(kv.key);
      return this.#refuse(kv, key.ok ? 'invalid-value' : 'invalid-key', classified.reason, undefined, warnings);
    }
    const lease = classified.lease;
    const verdict = judgeLease(lease, this.#config, this.#self);
    switch (verdict.kind) {
      case 'refused':
        return this.#refuse(kv, verdict.code, verdict.reason, lease, warnings);
      case 'self':
      case 'pending': {
        this.#refused.delete(kv.key);
        const changed = this.#dropPeer(kv.key, warnings);
        this.#others.set(kv.key, { state: verdict.kind, lease, ...(verdict.kind === 'pending' ? { reason: verdict.reason } : {}) });
        return changed;
      }
      case 'peer':
        return this.#accept(kv, { ...lease, attrs: verdict.peer.attrs }, warnings);
    }
  }

  #accept(kv: RawLeaseKv, lease: ListedPeer, warnings: RefusalWarning[]): boolean {
    const holder = this.#peers.get(lease.subnet);
    if (holder && holder.key !== kv.key) {
      return this.#refuse(kv, 'duplicate-subnet', `subnet ${lease.subnet} is already leased under key ${holder.key}`, lease, warnings);
    }
    this.#refused.delete(kv.key);
    this.#others.delete(kv.key);
    let changed = false;
    const before = this.#byKey.get(kv.key);
    if (before !== undefined && before !== lease.subnet) changed = this.#dropPeer(kv.key, warnings);
    if (holder && holder.lease.reservation === lease.reservation && sameAttrs(holder.lease.attrs, lease.attrs)) return changed;
    this.#peers.set(lease.subnet, { key: kv.key, lease });
    this.#byKey.set(kv.key, lease.subnet);
    return true;
  }

  /** Records a refusal; a key that holds an accepted peer keeps it (bad input never tears down what works). */
  #refuse(kv: RawLeaseKv, code: RefusalCode, reason: string, lease: ListedLease | undefined,
    warnings: RefusalWarning[]): boolean {
    if (this.#refused.get(kv.key)?.reason !== reason) warnings.push({ key: kv.key, code, reason });
    this.#refused.set(kv.key, { kv, code, reason, lease });
    this.#others.delete(kv.key);
    return false;
  }

  #delete(key: string, warnings: RefusalWarning[]): boolean {
    this.#refused.delete(key);
    this.#others.delete(key);
    return this.#dropPeer(key, warnings);
  }

  /** Removes the peer `key` holds; a key refused only because it duplicated that subnet may now take its place. */
  #dropPeer(key: string, warnings: RefusalWarning[]): boolean {
    const subnet = this.#byKey.get(key);
    if (subnet === undefined) return false;
    this.#byKey.delete(key);
    this.#peers.delete(subnet);
    for (const r of [...this.#refused.values()]) {
      if (r.code === 'duplicate-subnet' && r.lease?.subnet === subnet) {
        this.#refused.delete(r.kv.key);
        this.#put(r.kv, warnings);
        break;
      }
    }
    return true;
  }
}
