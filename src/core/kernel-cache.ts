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
import type { DirectPaths } from './direct-routing.js';
import {
  type FdbEntry, type KernelOp, type KernelState, type Neighbor, type Route, desiredState, directRoute, planKernel, sameRoute,
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

/** Kernel entries seen to change behind weft's back (kernel notifications), to plan again. */
export interface DriftedKeys {
  readonly routes: ReadonlySet<Cidr>;
  readonly neighbors: ReadonlySet<Ipv4>;
  readonly fdb: ReadonlySet<Mac>;
}

export class KernelCache {
  readonly #routes = new Table<Cidr, Route>();
  readonly #neighbors = new Table<Ipv4, Neighbor>();
  readonly #fdb = new Table<Mac, FdbEntry>();
  #plans = 0;
  /**
   * What the last plan wanted: the peer of each programmed subnet, and which
   * subnet wants each VTEP MAC and gateway. With it a plan for a few changed
   * subnets (`planDelta`) looks at those alone. Undefined until a full plan
   * made it, and after a plan that could not tell (a key wanted twice).
   */
  #planned: {
    readonly peers: Map<Cidr, Peer>; readonly macs: Map<Mac, Cidr>; readonly gateways: Map<Ipv4, Cidr>;
    /** The DirectRouting decision the plan used: a new one (another underlay read) plans the whole set again. */
    readonly paths: DirectPaths | undefined;
  } | undefined;

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
   * `planKernel(desiredState(selfSubnet, leases, paths), this.state())`,
   * without building the desired state. No closures or arrays per lease:
   * this loop runs over every peer on every event.
   */
  plan(selfSubnet: Cidr, leases: readonly Peer[], paths?: DirectPaths): KernelOp[] {
    const pass = ++this.#plans;
    for (const table of [this.#routes, this.#neighbors, this.#fdb] as const) table.begin(pass);
    const fdb: FdbEntry[] = [];
    const neighbors: Neighbor[] = [];
    const routes: { readonly entry: Route; readonly known: boolean }[] = [];
    const planned = this.#planned;
    let unchanged = planned !== undefined && planned.paths === paths; // the same peer objects and paths as the last plan: nothing to remember again
    let count = 0;
    for (let i = 0; i < leases.length; i++) {
      const lease = leases[i] as Peer;
      const { subnet, attrs } = lease;
      const mac = attrs.vtepMac;
      if (subnet === selfSubnet) continue;
      count++;
      if (unchanged && planned?.peers.get(subnet) !== lease) unchanged = false;
      const knownRoute = this.#routes.entries.get(subnet);
      if (paths?.direct(attrs.publicIp) === true) {
        const r = this.#routes.visit(subnet, knownRoute);
        if (r === REPEATED) {
          this.#planned = undefined;
          return planKernel(desiredState(selfSubnet, leases, paths), this.state());
        }
        const wanted = directRoute(subnet, attrs.publicIp, paths.device);
        if (r === undefined || !sameRoute(wanted, r.entry)) routes.push({ entry: wanted, known: r !== undefined });
        continue;
      }
      // The known route's gateway string when it matches: no new string, and its hash is already computed.
      const gateway = knownRoute && isGatewayOf(knownRoute.entry.via, subnet) ? knownRoute.entry.via : cidrIp(subnet);
      const r = this.#routes.visit(subnet, knownRoute);
      const n = this.#neighbors.visit(gateway);
      const f = this.#fdb.visit(mac);
      if (f === REPEATED || n === REPEATED || r === REPEATED) {
        this.#planned = undefined;
        return planKernel(desiredState(selfSubnet, leases, paths), this.state());
      }
      if (f === undefined || f.entry.dst !== attrs.publicIp) fdb.push({ mac, dst: attrs.publicIp });
      if (n === undefined || n.entry.mac !== mac) neighbors.push({ ip: gateway, mac });
      if (r === undefined || r.entry.via !== gateway || r.entry.dev !== undefined || r.entry.legacy) routes.push({ entry: { dst: subnet, via: gateway }, known: r !== undefined });
    }
    if (!unchanged || count !== planned?.peers.size) this.#remember(selfSubnet, leases, paths);
    return [
      ...fdb.map((entry) => ({ action: 'replace', kind: 'fdb', entry }) as const),
      ...neighbors.map((entry) => ({ action: 'replace', kind: 'neighbor', entry }) as const),
      ...routes.map(({ entry, known }) => ({ action: known ? 'replace' : 'add', kind: 'route', entry }) as const),
      ...this.#routes.unseen().map((entry) => ({ action: 'delete', kind: 'route', entry }) as const),
      ...this.#neighbors.unseen().map((entry) => ({ action: 'delete', kind: 'neighbor', entry }) as const),
      ...this.#fdb.unseen().map((entry) => ({ action: 'delete', kind: 'fdb', entry }) as const),
    ];
  }

  /**
   * The plan for a few subnets whose peer changed (`peerOf` gives the peer a
   * subnet has now, undefined when it has none) and for kernel entries seen
   * to drift, against what the last plan wanted: O(changes), not O(peers).
   * The same operations `plan` would give for the whole set, provided the
   * subnets not named did not change. Undefined when it cannot tell (no full
   * plan yet, or a VTEP MAC that moves to a subnet while another still
   * wants it, or `paths` is not the DirectRouting decision the last plan
   * used): the caller then plans the whole set.
   */
  planDelta(selfSubnet: Cidr, changed: Iterable<Cidr>, peerOf: (subnet: Cidr) => Peer | undefined, drifted?: DriftedKeys,
    paths?: DirectPaths): KernelOp[] | undefined {
    const planned = this.#planned;
    if (!planned || planned.paths !== paths) return undefined;
    const isDirect = (peer: Peer): boolean => paths?.direct(peer.attrs.publicIp) === true;
    const subnets = new Set(changed);
    const strayNeighbors: Ipv4[] = [];
    const strayFdb: Mac[] = [];
    for (const dst of drifted?.routes ?? []) subnets.add(dst);
    for (const ip of drifted?.neighbors ?? []) {
      const owner = planned.gateways.get(ip);
      if (owner === undefined) strayNeighbors.push(ip);
      else subnets.add(owner);
    }
    for (const mac of drifted?.fdb ?? []) {
      const owner = planned.macs.get(mac);
      if (owner === undefined) strayFdb.push(mac);
      else subnets.add(owner);
    }
    // First what is wanted now, so a MAC or gateway that moves between two changed subnets is not deleted.
    const before = new Map<Cidr, Peer | undefined>();
    for (const subnet of subnets) {
      const old = planned.peers.get(subnet);
      before.set(subnet, old);
      if (old === undefined) continue;
      planned.peers.delete(subnet);
      if (isDirect(old)) continue; // a direct peer wants no MAC or gateway
      if (planned.macs.get(old.attrs.vtepMac) === subnet) planned.macs.delete(old.attrs.vtepMac);
      const gateway = cidrIp(subnet);
      if (planned.gateways.get(gateway) === subnet) planned.gateways.delete(gateway);
    }
    for (const subnet of subnets) {
      const peer = subnet === selfSubnet ? undefined : peerOf(subnet);
      if (peer === undefined) continue;
      if (isDirect(peer)) {
        planned.peers.set(subnet, peer);
        continue;
      }
      const gateway = cidrIp(subnet);
      if (planned.macs.has(peer.attrs.vtepMac) || planned.gateways.has(gateway)) {
        this.#planned = undefined; // wanted twice: only the whole set can say what wins
        return undefined;
      }
      planned.peers.set(subnet, peer);
      planned.macs.set(peer.attrs.vtepMac, subnet);
      planned.gateways.set(gateway, subnet);
    }
    const ops: { fdb: KernelOp[]; neighbors: KernelOp[]; routes: KernelOp[]; routeDeletes: KernelOp[]; neighborDeletes: KernelOp[]; fdbDeletes: KernelOp[] } =
      { fdb: [], neighbors: [], routes: [], routeDeletes: [], neighborDeletes: [], fdbDeletes: [] };
    const deleteNeighbor = (ip: Ipv4): void => {
      const held = this.#neighbors.entries.get(ip);
      if (held && !planned.gateways.has(ip)) ops.neighborDeletes.push({ action: 'delete', kind: 'neighbor', entry: held.entry });
    };
    const fdbDeleted = new Set<Mac>();
    const deleteFdb = (mac: Mac): void => {
      const held = this.#fdb.entries.get(mac);
      // Once per MAC: a direct peer and a VXLAN one may both have carried it.
      if (held && !planned.macs.has(mac) && !fdbDeleted.has(mac)) {
        fdbDeleted.add(mac);
        ops.fdbDeletes.push({ action: 'delete', kind: 'fdb', entry: held.entry });
      }
    };
    for (const subnet of subnets) {
      const peer = planned.peers.get(subnet);
      const old = before.get(subnet);
      const gateway = cidrIp(subnet);
      const route = this.#routes.entries.get(subnet)?.entry;
      if (peer === undefined) {
        if (route) ops.routeDeletes.push({ action: 'delete', kind: 'route', entry: route });
        deleteNeighbor(gateway);
        if (old) deleteFdb(old.attrs.vtepMac);
        continue;
      }
      if (paths !== undefined && isDirect(peer)) {
        const wanted = directRoute(subnet, peer.attrs.publicIp, paths.device);
        if (route === undefined || !sameRoute(wanted, route)) ops.routes.push({ action: route === undefined ? 'add' : 'replace', kind: 'route', entry: wanted });
        // Coming from VXLAN (or drifted in by hand): the neighbour and FDB entry go once the route no longer needs them.
        deleteNeighbor(gateway);
        if (old) deleteFdb(old.attrs.vtepMac);
        continue;
      }
      const { vtepMac: mac, publicIp } = peer.attrs;
      if (this.#fdb.entries.get(mac)?.entry.dst !== publicIp) ops.fdb.push({ action: 'replace', kind: 'fdb', entry: { mac, dst: publicIp } });
      if (this.#neighbors.entries.get(gateway)?.entry.mac !== mac) ops.neighbors.push({ action: 'replace', kind: 'neighbor', entry: { ip: gateway, mac } });
      if (route === undefined || route.via !== gateway || route.dev !== undefined || route.legacy) {
        ops.routes.push({ action: route === undefined ? 'add' : 'replace', kind: 'route', entry: { dst: subnet, via: gateway } });
      }
      if (old && old.attrs.vtepMac !== mac) deleteFdb(old.attrs.vtepMac);
    }
    for (const ip of strayNeighbors) deleteNeighbor(ip);
    for (const mac of strayFdb) deleteFdb(mac);
    return [...ops.fdb, ...ops.neighbors, ...ops.routes, ...ops.routeDeletes, ...ops.neighborDeletes, ...ops.fdbDeletes];
  }

  /** How many subnets the last plan wanted programmed (undefined when unknown). */
  get plannedCount(): number | undefined {
    return this.#planned?.peers.size;
  }

  /** Which planned subnet wants this kernel entry, if any (for kernel notifications). */
  wanted(kind: KernelOp['kind'], key: string): Cidr | undefined {
    const planned = this.#planned;
    if (!planned) return undefined;
    switch (kind) {
      case 'route': return planned.peers.has(key as Cidr) ? key as Cidr : undefined;
      case 'neighbor': return planned.gateways.get(key as Ipv4);
      case 'fdb': return planned.macs.get(key as Mac);
    }
  }

  /** What the cache holds for this key (what weft believes the kernel has). */
  held(kind: 'route', key: Cidr): Route | undefined;
  held(kind: 'neighbor', key: Ipv4): Neighbor | undefined;
  held(kind: 'fdb', key: Mac): FdbEntry | undefined;
  held(kind: KernelOp['kind'], key: string): Route | Neighbor | FdbEntry | undefined {
    switch (kind) {
      case 'route': return this.#routes.entries.get(key as Cidr)?.entry;
      case 'neighbor': return this.#neighbors.entries.get(key as Ipv4)?.entry;
      case 'fdb': return this.#fdb.entries.get(key as Mac)?.entry;
    }
  }

  #remember(selfSubnet: Cidr, leases: readonly Peer[], paths: DirectPaths | undefined): void {
    const peers = new Map<Cidr, Peer>();
    const macs = new Map<Mac, Cidr>();
    const gateways = new Map<Ipv4, Cidr>();
    for (let i = 0; i < leases.length; i++) {
      const peer = leases[i] as Peer;
      if (peer.subnet === selfSubnet) continue;
      peers.set(peer.subnet, peer);
      if (paths?.direct(peer.attrs.publicIp) === true) continue;
      macs.set(peer.attrs.vtepMac, peer.subnet);
      gateways.set(cidrIp(peer.subnet), peer.subnet);
    }
    this.#planned = { peers, macs, gateways, paths };
  }

  /**
   * How many of `peers` have their route, neighbour and FDB entry in this
   * state, or their direct route (weft_peers_programmed).
   */
  countProgrammed(selfSubnet: Cidr, peers: readonly Peer[], paths?: DirectPaths): number {
    let count = 0;
    for (let i = 0; i < peers.length; i++) {
      const { subnet, attrs } = peers[i] as Peer;
      if (subnet === selfSubnet) continue;
      const route = this.#routes.entries.get(subnet)?.entry;
      if (paths?.direct(attrs.publicIp) === true) {
        if (route && sameRoute(directRoute(subnet, attrs.publicIp, paths.device), route)) count++;
        continue;
      }
      if (!route || route.legacy || route.dev !== undefined || !isGatewayOf(route.via, subnet)) continue;
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
