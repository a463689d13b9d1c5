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
 * The cache cannot see hand edits or failures: the data plane drops it on any
 * failure and replaces it at every resync (see DataPlane.reconcile).
 */
import { type Cidr, type Ipv4, cidrIp } from './cidr.js';
import {
  type FdbEntry, type KernelOp, type KernelState, type Neighbor, type Route, desiredState, planKernel,
} from './kernel-state.js';
import type { Lease } from './lease.js';
import type { Mac } from './mac.js';

/** An entry and the last plan that wanted it. */
interface Known<T> {
  entry: T;
  seen: number;
}

type Table<K, T> = Map<K, Known<T>>;

/** Keys met in this plan that the cache does not hold (allocated only for new entries). */
interface NewKeys {
  readonly routes: Set<Cidr>;
  readonly neighbors: Set<Ipv4>;
  readonly fdb: Set<Mac>;
}

/** A key met twice in one plan. */
const REPEATED = Symbol('repeated');

export class KernelCache {
  readonly #routes: Table<Cidr, Route> = new Map();
  readonly #neighbors: Table<Ipv4, Neighbor> = new Map();
  readonly #fdb: Table<Mac, FdbEntry> = new Map();
  #plans = 0;

  /** Starts from a known state (for a vxlan FDB entry with several remotes, the last listed). */
  constructor(state: KernelState) {
    for (const e of state.routes) this.#routes.set(e.dst, { entry: e, seen: 0 });
    for (const e of state.neighbors) this.#neighbors.set(e.ip, { entry: e, seen: 0 });
    for (const e of state.fdb) this.#fdb.set(e.mac, { entry: e, seen: 0 });
  }

  /**
   * `planKernel(desiredState(selfSubnet, leases), this.state())`, without
   * building the desired state. No closures or arrays per lease: this loop
   * runs over every peer on every event.
   */
  plan(selfSubnet: Cidr, leases: readonly Lease[]): KernelOp[] {
    const pass = ++this.#plans;
    const fresh: NewKeys = { routes: new Set(), neighbors: new Set(), fdb: new Set() };
    const fdb: FdbEntry[] = [];
    const neighbors: Neighbor[] = [];
    const routes: Route[] = [];
    for (let i = 0; i < leases.length; i++) {
      const { subnet, attrs } = leases[i] as Lease;
      const mac = attrs.vtepMac;
      if (subnet === selfSubnet || attrs.backendType !== 'vxlan' || mac === undefined) continue;
      const knownRoute = this.#routes.get(subnet);
      // The known route's gateway string when it matches: no new string, and its hash is already computed.
      const gateway = knownRoute && isGatewayOf(knownRoute.entry.via, subnet) ? knownRoute.entry.via : cidrIp(subnet);
      const f = visit(this.#fdb, fresh.fdb, mac, pass);
      const n = visit(this.#neighbors, fresh.neighbors, gateway, pass);
      const r = visit(this.#routes, fresh.routes, subnet, pass);
      if (f === REPEATED || n === REPEATED || r === REPEATED) return planKernel(desiredState(selfSubnet, leases), this.state());
      if (f === undefined || f.entry.dst !== attrs.publicIp) fdb.push({ mac, dst: attrs.publicIp });
      if (n === undefined || n.entry.mac !== mac) neighbors.push({ ip: gateway, mac });
      if (r === undefined || r.entry.via !== gateway) routes.push({ dst: subnet, via: gateway });
    }
    return [
      ...fdb.map((entry) => ({ action: 'replace', kind: 'fdb', entry }) as const),
      ...neighbors.map((entry) => ({ action: 'replace', kind: 'neighbor', entry }) as const),
      ...routes.map((entry) => ({ action: 'replace', kind: 'route', entry }) as const),
      ...unseen(this.#routes, pass).map((entry) => ({ action: 'delete', kind: 'route', entry }) as const),
      ...unseen(this.#neighbors, pass).map((entry) => ({ action: 'delete', kind: 'neighbor', entry }) as const),
      ...unseen(this.#fdb, pass).map((entry) => ({ action: 'delete', kind: 'fdb', entry }) as const),
    ];
  }

  /** Records operations that took effect in the kernel. */
  record(ops: readonly KernelOp[]): void {
    for (const op of ops) {
      switch (op.kind) {
        case 'fdb': update(this.#fdb, op.entry.mac, op); break;
        case 'neighbor': update(this.#neighbors, op.entry.ip, op); break;
        case 'route': update(this.#routes, op.entry.dst, op); break;
      }
    }
  }

  state(): KernelState {
    const list = <K, T>(table: Table<K, T>): T[] => [...table.values()].map((k) => k.entry);
    return { routes: list(this.#routes), neighbors: list(this.#neighbors), fdb: list(this.#fdb) };
  }
}

/** Marks `key` as wanted by this plan: its known entry, undefined for a new key, REPEATED for a key met before in this plan. */
function visit<K, T>(table: Table<K, T>, fresh: Set<K>, key: K, pass: number): Known<T> | undefined | typeof REPEATED {
  const known = table.get(key);
  if (known === undefined) {
    if (fresh.has(key)) return REPEATED;
    fresh.add(key);
    return undefined;
  }
  if (known.seen === pass) return REPEATED;
  known.seen = pass;
  return known;
}

function unseen<K, T>(table: Table<K, T>, pass: number): T[] {
  const out: T[] = [];
  table.forEach((known) => { if (known.seen !== pass) out.push(known.entry); });
  return out;
}

function update<K, T>(table: Table<K, T>, key: K, op: { readonly action: KernelOp['action']; readonly entry: T }): void {
  if (op.action === 'delete') {
    table.delete(key);
    return;
  }
  const known = table.get(key);
  if (known) known.entry = op.entry;
  else table.set(key, { entry: op.entry, seen: 0 });
}

/** `gateway === cidrIp(subnet)`, without making the string. */
function isGatewayOf(gateway: Ipv4, subnet: Cidr): boolean {
  return subnet.length > gateway.length && subnet.charCodeAt(gateway.length) === 47 /* '/' */ && subnet.startsWith(gateway);
}
