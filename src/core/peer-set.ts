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
import { type LeaseSubnets, decodeLeaseValue, decodeSubnetKey, leaseSubnets, sameAttrs } from './lease.js';
import type { Mac } from './mac.js';
import type { NetworkConfig } from './network-config.js';
import { type AcceptedPeer, type RefusalCode, type SelfView, judgeLease, peerSubnetV6, peerV6, withoutIpv6 } from './peer-acceptance.js';

/** One key/value from the registry; `key` is the last path element, e.g. `10.5.3.0-24`. */
export interface RawLeaseKv {
  readonly key: string;
  readonly value: string;
  /** True when the key has no etcd lease attached (a reservation). */
  readonly reservation: boolean;
  /** etcd's create revision of the key, when known: the older of two keys claiming one subnet or MAC keeps it. */
  readonly createRevision?: string | undefined;
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
  return { ok: true, lease: { ...leaseSubnets(key), attrs: value.attrs, reservation: kv.reservation } };
}

/** A registry listing split into valid leases (each with its raw entry) and subnets that are taken but unreadable. */
export interface ClassifiedListing<E extends RawLeaseKv> {
  readonly valid: readonly { readonly lease: ListedLease; readonly entry: E }[];
  /** Subnets whose key parses but whose value does not: never free, never programmed. */
  readonly occupied: readonly LeaseSubnets[];
}

/** Classifies every entry of a listing against the network config. */
export function classifyListing<E extends RawLeaseKv>(entries: readonly E[], config: NetworkConfig): ClassifiedListing<E> {
  const valid: { lease: ListedLease; entry: E }[] = [];
  const occupied: LeaseSubnets[] = [];
  for (const entry of entries) {
    const c = classifyLease(entry, config);
    if (c.ok) {
      valid.push({ lease: c.lease, entry });
      continue;
    }
    const key = decodeSubnetKey(entry.key);
    if (key.ok) occupied.push(leaseSubnets(key));
  }
  return { valid, occupied };
}


/** An accepted peer as listed: the lease, whether it is a reservation, and its key. */
export type ListedPeer = ListedLease & AcceptedPeer;

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
  #self: SelfView;
  /** Accepted peers by subnet, with the raw entry that holds each. */
  readonly #peers = new Map<Cidr, { readonly kv: RawLeaseKv; readonly lease: ListedPeer }>();
  /** key → subnet of the accepted peer it holds, so a delete event (which has only the key) finds it. */
  readonly #byKey = new Map<string, Cidr>();
  /** VTEP MAC → the key of the accepted peer that holds it (a unicast MAC has one FDB remote). */
  readonly #macs = new Map<Mac, string>();
  /** The same for the IPv6 halves: IPv6 subnet and IPv6 VTEP MAC → key of the accepted peer programming it. */
  readonly #v6Subnets = new Map<string, string>();
  readonly #v6Macs = new Map<Mac, string>();
  /** Keys whose IPv6 half is held back for an older key's: judged again when that key goes. */
  readonly #v6HeldBack = new Set<string>();
  /** Keys that are not peers: this host's own lease and pending reservations. */
  readonly #others = new Map<string, { readonly state: 'self' | 'pending'; readonly lease: ListedLease; readonly reason?: string }>();
  readonly #refused = new Map<string, Refused>();
  #version = 0;
  /** Subnets whose accepted peer appeared, changed or went since the last takeChanged(). */
  #changed = new Set<Cidr>();

  /** `self`: this host's subnet, public IP and VTEP MAC, once known (weftctl off a host knows none). */
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

  /**
   * The subnets whose accepted peer appeared, changed or went since the last
   * call (each once): what an event pass needs to plan, instead of every peer.
   */
  takeChanged(): ReadonlySet<Cidr> {
    const changed = this.#changed;
    if (changed.size > 0) this.#changed = new Set();
    return changed;
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
    for (const { kv, lease } of this.#peers.values()) {
      // A key whose new value is refused still has its last good lease programmed.
      if (!this.#refused.has(kv.key)) out.push({ key: kv.key, state: 'peer', lease, ...(lease.ipv6Refusal ? { reason: `IPv4 only: ${lease.ipv6Refusal}` } : {}) });
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

  /**
   * This host's public addresses changed (its underlay moved): the peers and
   * refused keys are judged again against them, so a host that now holds the
   * address this one left is accepted, and one claiming the new one refused.
   */
  updateSelf(self: Pick<SelfView, 'publicIp' | 'publicIpv6'>): PeerSetUpdate {
    this.#self = { ...this.#self, ...self };
    const warnings: RefusalWarning[] = [];
    let changed = false;
    const kvs = [...[...this.#peers.values()].map((p) => p.kv), ...[...this.#refused.values()].map((r) => r.kv)];
    for (const kv of kvs.sort(byAge)) {
      if (this.#put(kv, warnings)) changed = true;
    }
    if (changed) this.#version++;
    return { changed, warnings };
  }

  /** Replaces the content with a full listing, changing only what differs. */
  reset(kvs: readonly RawLeaseKv[]): PeerSetUpdate {
    const warnings: RefusalWarning[] = [];
    let changed = false;
    const seen = new Set<string>();
    for (const kv of kvs) seen.add(kv.key);
    // Gone keys first, so a duplicate they held back is judged against what remains.
    for (const key of [...this.#byKey.keys(), ...this.#others.keys(), ...this.#refused.keys()]) {
      if (!seen.has(key) && this.#delete(key, warnings)) changed = true;
    }
    for (const kv of [...kvs].sort(byAge)) {
      if (this.#put(kv, warnings)) changed = true;
    }
    if (changed) this.#version++;
    return { changed, warnings };
  }

  #put(kv: RawLeaseKv, warnings: RefusalWarning[]): boolean {
    const key = decodeSubnetKey(kv.key);
    if (!key.ok) return this.#refuse(kv, 'invalid-key', key.reason, undefined, warnings);
    const value = decodeLeaseValue(kv.value);
    if (!value.ok) return this.#refuse(kv, 'invalid-value', value.reason, undefined, warnings);
    const lease: ListedLease = { ...leaseSubnets(key), attrs: value.attrs, reservation: kv.reservation };
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
        return this.#accept(kv, { ...verdict.peer, reservation: lease.reservation }, warnings);
    }
  }

  /**
   * Accepts a plausible peer unless an older key already holds its subnet or
   * its VTEP MAC (one FDB remote per MAC): the older key (etcd create
   * revision) keeps it, so every host, whatever order it saw the keys in,
   * makes the same choice, and a newly written key can never take over a
   * subnet or MAC that a peer already uses.
   */
  #accept(kv: RawLeaseKv, accepted: ListedPeer, warnings: RefusalWarning[]): boolean {
    let lease = accepted;
    const subnetHolder = this.#peers.get(lease.subnet);
    const macKey = lease.attrs.vtepMac === undefined ? undefined : this.#macs.get(lease.attrs.vtepMac);
    const macSubnet = macKey === undefined ? undefined : this.#byKey.get(macKey);
    const macHolder = macSubnet === undefined ? undefined : this.#peers.get(macSubnet);
    const conflicts = [
      { holder: subnetHolder, code: 'duplicate-subnet', what: `subnet ${lease.subnet}` },
      { holder: macHolder, code: 'duplicate-mac', what: `VTEP MAC ${lease.attrs.vtepMac}` },
    ] as const;
    for (const { holder, code, what } of conflicts) {
      if (holder && holder.kv.key !== kv.key && byAge(holder.kv, kv) < 0) {
        return this.#refuse(kv, code, `${what} is already used by the older key ${holder.kv.key}`, lease, warnings);
      }
    }
    const v6 = this.#v6Duplicate(kv, lease);
    if (v6.reason !== undefined) {
      lease = { ...withoutIpv6(lease, v6.reason), reservation: lease.reservation };
      this.#v6HeldBack.add(kv.key);
    } else {
      this.#v6HeldBack.delete(kv.key);
    }
    let changed = false;
    for (const { holder, code } of conflicts) {
      // This key is older than a holder (a listing seen out of order): the holder steps back.
      if (holder && holder.kv.key !== kv.key && this.#byKey.has(holder.kv.key)) {
        changed = this.#dropPeer(holder.kv.key, warnings, false) || changed;
        this.#refused.set(holder.kv.key, { kv: holder.kv, code, reason: `held back for the older key ${kv.key}`, lease: holder.lease });
      }
    }
    this.#refused.delete(kv.key);
    this.#others.delete(kv.key);
    const current = this.#peers.get(lease.subnet);
    if (current && current.kv.key === kv.key && current.lease.reservation === lease.reservation && sameAttrs(current.lease.attrs, lease.attrs)) {
      this.#peers.set(lease.subnet, { kv, lease: current.lease });
      return changed;
    }
    const oldMac = current?.kv.key === kv.key ? current.lease.attrs.vtepMac : undefined;
    if (current?.kv.key === kv.key) this.#forgetV6(kv.key, current.lease);
    this.#peers.set(lease.subnet, { kv, lease });
    this.#changed.add(lease.subnet);
    this.#byKey.set(kv.key, lease.subnet);
    if (lease.attrs.vtepMac !== undefined) this.#macs.set(lease.attrs.vtepMac, kv.key);
    const subnetV6 = peerSubnetV6(lease);
    if (subnetV6 !== undefined) {
      this.#v6Subnets.set(subnetV6, kv.key);
      const half = peerV6(lease);
      if (half) this.#v6Macs.set(half.vtepMac, kv.key);
      for (const displaced of v6.displaced) this.#requeueV6(displaced, warnings);
    }
    if (oldMac !== undefined && oldMac !== lease.attrs.vtepMac && this.#macs.get(oldMac) === kv.key) {
      this.#macs.delete(oldMac);
      this.#promote(warnings); // a key held back for the old MAC may now be accepted
    }
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

  /**
   * Removes the peer `key` holds. Keys held back because they duplicated its
   * subnet or MAC are judged again, oldest first (`promote`), so the next in
   * line takes its place.
   */
  #dropPeer(key: string, warnings: RefusalWarning[], promote = true): boolean {
    const subnet = this.#byKey.get(key);
    if (subnet === undefined) return false;
    const held = this.#peers.get(subnet);
    this.#byKey.delete(key);
    this.#peers.delete(subnet);
    this.#changed.add(subnet);
    this.#v6HeldBack.delete(key);
    const heldMac = held?.lease.attrs.vtepMac;
    if (heldMac !== undefined && this.#macs.get(heldMac) === key) this.#macs.delete(heldMac);
    if (held && this.#forgetV6(key, held.lease)) this.#promoteV6(warnings);
    if (promote) this.#promote(warnings);
    return true;
  }

  /**
   * Whether another accepted key already programs this lease's IPv6 subnet or
   * IPv6 VTEP MAC: the older key keeps it (as for IPv4), and this lease is
   * then an IPv4-only peer with the reason; a newer holder is displaced.
   */
  #v6Duplicate(kv: RawLeaseKv, lease: ListedPeer): { reason?: string; displaced: string[] } {
    const subnetV6 = peerSubnetV6(lease);
    const displaced: string[] = [];
    if (subnetV6 === undefined) return { displaced };
    const half = peerV6(lease);
    const holders: [string | undefined, string][] = [[this.#v6Subnets.get(subnetV6), `IPv6 subnet ${subnetV6}`]];
    if (half) holders.push([this.#v6Macs.get(half.vtepMac), `IPv6 VTEP MAC ${half.vtepMac}`]);
    for (const [holderKey, what] of holders) {
      if (holderKey === undefined || holderKey === kv.key) continue;
      const holder = this.#peers.get(this.#byKey.get(holderKey) as Cidr);
      if (!holder) continue;
      if (byAge(holder.kv, kv) < 0) return { reason: `${what} is already used by the older key ${holderKey}`, displaced: [] };
      displaced.push(holderKey);
    }
    return { displaced };
  }

  /** Drops a peer's IPv6 half from the indexes; true when it held any. */
  #forgetV6(key: string, lease: AcceptedPeer): boolean {
    const half = peerV6(lease);
    const subnetV6 = peerSubnetV6(lease);
    let held = false;
    if (subnetV6 !== undefined && this.#v6Subnets.get(subnetV6) === key) { this.#v6Subnets.delete(subnetV6); held = true; }
    if (half && this.#v6Macs.get(half.vtepMac) === key) { this.#v6Macs.delete(half.vtepMac); held = true; }
    return held;
  }

  /** A newer key displaced from an IPv6 subnet or MAC by an older one: judged again (it becomes IPv4 only). */
  #requeueV6(key: string, warnings: RefusalWarning[]): void {
    const subnet = this.#byKey.get(key);
    const entry = subnet === undefined ? undefined : this.#peers.get(subnet);
    if (!entry) return;
    this.#forgetV6(key, entry.lease);
    this.#peers.delete(entry.lease.subnet); // so the re-put is a change, not "same attrs"
    this.#byKey.delete(key);
    this.#put(entry.kv, warnings);
  }

  /** Keys whose IPv6 half was held back are judged again, oldest first, once a holder is gone. */
  #promoteV6(warnings: RefusalWarning[]): void {
    const waiting = [...this.#v6HeldBack].map((key) => this.#peers.get(this.#byKey.get(key) as Cidr)?.kv).filter((kv) => kv !== undefined);
    for (const kv of waiting.sort(byAge)) {
      this.#peers.delete(this.#byKey.get(kv.key) as Cidr);
      this.#byKey.delete(kv.key);
      this.#put(kv, warnings);
    }
  }

  /** Judges again, oldest first, every key held back as a duplicate. */
  #promote(warnings: RefusalWarning[]): void {
    const waiting = [...this.#refused.values()].filter((r) => r.code === 'duplicate-subnet' || r.code === 'duplicate-mac');
    for (const r of waiting.sort((a, b) => byAge(a.kv, b.kv))) {
      if (this.#byKey.has(r.kv.key)) continue; // keeps its last good lease; its refused value stays refused
      this.#put(r.kv, warnings); // a refusal with the same reason again is not reported again
    }
  }
}

/** Older first: by etcd create revision when both entries have one, else by key. */
function byAge(a: RawLeaseKv, b: RawLeaseKv): number {
  if (a.createRevision !== undefined && b.createRevision !== undefined && a.createRevision !== b.createRevision) {
    return BigInt(a.createRevision) < BigInt(b.createRevision) ? -1 : 1;
  }
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
