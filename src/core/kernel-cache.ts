/**
 * What the data plane knows the kernel holds on its device between two
 * resyncs: the state a resync left, plus every operation applied since. It
 * plans an event pass by looking each lease's entries up in place, instead of
 * building the whole desired state first: at 5000 peers that is ~1 MB less to
 * allocate and collect per event, and the entries that already match cost a
 * lookup each and no allocation. The plan is exactly
 * `planKernel(desiredState(selfSubnet, leases), cache.state())`, same
 * operations in the same order; when the leases repeat a key (two leases
 * with one VTEP MAC or one gateway) it simply computes that.
 *
 * A resync plans the same way from a cache built on what it read, unless the
 * read listed one key twice (`holdsAll`). The cache cannot see hand edits or
 * failures: the data plane drops it on any failure and rebuilds it at every
 * resync (see DataPlane.reconcile).
 */
import { type Cidr, type Ipv4, cidrIp } from './cidr.js';
import {
  type FdbEntry, type KernelOp, type KernelState, type Neighbor, type Route, desiredState, planKernel,
} from './kernel-state.js';
import type { Peer } from './peer-acceptance.js';
import type { Mac } from './mac.js';

/** An entry and the last plan that wanted it. */
interface Known<T> {
  entry: T;
  seen: number;
}

/** A key met twice in one plan. */
const REPEATED = Symbol('repeated');

/** One table (routes, neighbours or FDB) and the marks of the plan in progress. */
class Table<K, T> {
  readonly entries = new Map<K, Known<T>>();
  /** Keys met in this plan that the table does not hold (allocated only for new entries). */
  #fresh = new Set<K>();
  #pass = 0;
  #marked = 0;

  begin(pass: number): void {
    this.#pass = pass;
    this.#marked = 0;
    if (this.#fresh.size > 0) this.#fresh = new Set();
  }

  /** Marks `key` as wanted: its known entry, undefined for a new key, REPEATED for a key met before in this plan. */
  visit(key: K, known = this.entries.get(key)): Known<T> | undefined | typeof REPEATED {
    if (known === undefined) {
      if (this.#fresh.has(key)) return REPEATED;
      this.#fresh.add(key);
      return undefined;
    }
    if (known.seen === this.#pass) return REPEATED;
    known.seen = this.#pass;
    this.#marked++;
    return known;
  }

  /** The entries this plan did not want (none to look for when every entry was marked). */
  unseen(): T[] {
    const out: T[] = [];
    if (this.#marked === this.entries.size) return out;
    this.entries.forEach((known) => { if (known.seen !== this.#pass) out.push(known.entry); });
    return out;
  }

  record(key: K, op: { readonly action: KernelOp['action']; readonly entry: T }): void {
    if (op.action === 'delete') {
      this.entries.delete(key);
      return;
    }
    const known = this.entries.get(key);
    if (known) known.entry = op.entry;
    else this.entries.set(key, { entry: op.entry, seen: 0 });
  }

  list(): T[] {
    return [...this.entries.values()].map((k) => k.entry);
  }
}

export class KernelCache {
  readonly #routes = new Table<Cidr, Route>();
  readonly #neighbors = new Table<Ipv4, Neighbor>();
  readonly #fdb = new Table<Mac, FdbEntry>();
  #plans = 0;

  /**
   * False when `state` listed two entries under one key (a vxlan FDB entry
   * with several remotes, added by hand): the cache keeps the last one, so
   * its plan would not delete the others as `planKernel` on the list does.
   */
  readonly holdsAll: boolean;

  /** Starts from a known state, e.g. as read from the kernel. */
  constructor(state: KernelState) {
    for (const e of state.routes) this.#routes.entries.set(e.dst, { entry: e, seen: 0 });
    for (const e of state.neighbors) this.#neighbors.entries.set(e.ip, { entry: e, seen: 0 });
    for (const e of state.fdb) this.#fdb.entries.set(e.mac, { entry: e, seen: 0 });
    this.holdsAll = this.#routes.entries.size === state.routes.length && this.#neighbors.entries.size === state.neighbors.length
      && this.#fdb.entries.size === state.fdb.length;
  }

  /**
   * `planKernel(desiredState(selfSubnet, leases), this.state())`, without
   * building the desired state. No closures or arrays per lease: this loop
   * runs over every peer on every event.
   */
  plan(selfSubnet: Cidr, leases: readonly Peer[]): KernelOp[] {
    const pass = ++this.#plans;
    for (const table of [this.#routes, this.#neighbors, this.#fdb] as const) table.begin(pass);
    const fdb: FdbEntry[] = [];
    const neighbors: Neighbor[] = [];
    const routes: { readonly entry: Route; readonly known: boolean }[] = [];
    for (let i = 0; i < leases.length; i++) {
      const { subnet, attrs } = leases[i] as Peer;
      const mac = attrs.vtepMac;
      if (subnet === selfSubnet) continue;
      const knownRoute = this.#routes.entries.get(subnet);
      // The known route's gateway string when it matches: no new string, and its hash is already computed.
      const gateway = knownRoute && isGatewayOf(knownRoute.entry.via, subnet) ? knownRoute.entry.via : cidrIp(subnet);
      const r = this.#routes.visit(subnet, knownRoute);
      const n = this.#neighbors.visit(gateway);
      const f = this.#fdb.visit(mac);
      if (f === REPEATED || n === REPEATED || r === REPEATED) return planKernel(desiredState(selfSubnet, leases), this.state());
      if (f === undefined || f.entry.dst !== attrs.publicIp) fdb.push({ mac, dst: attrs.publicIp });
      if (n === undefined || n.entry.mac !== mac) neighbors.push({ ip: gateway, mac });
      if (r === undefined || r.entry.via !== gateway || r.entry.legacy) routes.push({ entry: { dst: subnet, via: gateway }, known: r !== undefined });
    }
    return [
      ...fdb.map((entry) => ({ action: 'replace', kind: 'fdb', entry }) as const),
      ...neighbors.map((entry) => ({ action: 'replace', kind: 'neighbor', entry }) as const),
      ...routes.map(({ entry, known }) => ({ action: known ? 'replace' : 'add', kind: 'route', entry }) as const),
      ...this.#routes.unseen().map((entry) => ({ action: 'delete', kind: 'route', entry }) as const),
      ...this.#neighbors.unseen().map((entry) => ({ action: 'delete', kind: 'neighbor', entry }) as const),
      ...this.#fdb.unseen().map((entry) => ({ action: 'delete', kind: 'fdb', entry }) as const),
    ];
  }

  /** How many of `peers` have their route, neighbour and FDB entry in this state (weft_peers_programmed). */
  countProgrammed(selfSubnet: Cidr, peers: readonly Peer[]): number {
    let count = 0;
    for (let i = 0; i < peers.length; i++) {
      const { subnet, attrs } = peers[i] as Peer;
      if (subnet === selfSubnet) continue;
      const route = this.#routes.entries.get(subnet)?.entry;
      if (!route || route.legacy || !isGatewayOf(route.via, subnet)) continue;
      if (this.#neighbors.entries.get(route.via)?.entry.mac !== attrs.vtepMac) continue;
      if (this.#fdb.entries.get(attrs.vtepMac)?.entry.dst === attrs.publicIp) count++;
    }
    return count;
  }

  /** Records operations that took effect in the kernel. */
  record(ops: readonly KernelOp[]): void {
    for (const op of ops) {
      switch (op.kind) {
        case 'fdb': this.#fdb.record(op.entry.mac, op); break;
        case 'neighbor': this.#neighbors.record(op.entry.ip, op); break;
        case 'route': this.#routes.record(op.entry.dst, op); break;
      }
    }
  }

  state(): KernelState {
    return { routes: this.#routes.list(), neighbors: this.#neighbors.list(), fdb: this.#fdb.list() };
  }
}

/** `gateway === cidrIp(subnet)`, without making the string. */
function isGatewayOf(gateway: Ipv4, subnet: Cidr): boolean {
  return subnet.length > gateway.length && subnet.charCodeAt(gateway.length) === 47 /* '/' */ && subnet.startsWith(gateway);
}
