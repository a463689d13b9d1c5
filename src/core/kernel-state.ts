/**
 * The per-peer kernel entries on the VXLAN device, what the leases want them
 * to be, and the ordered list of operations that turns one into the other.
 * Pure: the kernel adapter reads `KernelState` and applies `KernelOp`s.
 *
 * Per peer (flannel's vxlan design): a permanent neighbour `<peer .0> lladdr
 * VtepMAC`, an FDB entry `VtepMAC dst PublicIP`, and a route `<peer subnet> via
 * <peer .0> onlink`. The route goes last when adding so the kernel never has
 * to resolve a gateway it has no neighbour for, and first when removing.
 *
 * With DirectRouting (direct-routing.ts) a peer on this host's own segment
 * gets only a route `<peer subnet> via <peer public IP> dev <external
 * interface>` (`Route.dev`), no neighbour and no FDB entry. A peer that
 * moves between the two paths keeps its route key (the subnet), so the move
 * is one route replace, atomic in the kernel, and the add-before-delete order
 * above holds: to VXLAN, FDB and neighbour first, then the route; to direct,
 * the route first, then the old neighbour and FDB entry go.
 */
import { type Cidr, type Ipv4, cidrIp } from './cidr.js';
import type { DirectPaths } from './direct-routing.js';
import type { Mac } from './mac.js';
import type { ForeignRoute, Peer } from './peer-acceptance.js';

/**
 * The routing protocol id that marks a route as weft's (`proto weft` once the
 * name is in /etc/iproute2/rt_protos.d, `proto 87` before). weft replaces and
 * deletes only routes that carry it.
 */
export const WEFT_ROUTE_PROTOCOL = 87;

/** `<dst> via <via> dev <device> onlink proto weft` in the main table. */
export interface Route {
  readonly dst: Cidr;
  readonly via: Ipv4;
  /**
   * A direct route (DirectRouting): on this external interface, `via` the
   * peer's public IP, not onlink. Absent: on weft's device, via the peer's
   * `.0`, onlink.
   */
  readonly dev?: string;
  /**
   * Read from the kernel without weft's mark, in the exact shape an older weft
   * installed (`proto boot`, onlink, no metric, on weft's device): weft takes
   * it over by replacing it with a marked one (a route replace: no blip).
   */
  readonly legacy?: boolean;
}

/** `<ip> lladdr <mac> dev <device> nud permanent`. */
export interface Neighbor {
  readonly ip: Ipv4;
  readonly mac: Mac;
}

/** `<mac> dev <device> dst <dst> self permanent`. A unicast MAC has one remote on a vxlan device. */
export interface FdbEntry {
  readonly mac: Mac;
  readonly dst: Ipv4;
}

export interface KernelState {
  /** weft's routes (marked, or legacy-shaped on its device). */
  readonly routes: readonly Route[];
  readonly neighbors: readonly Neighbor[];
  readonly fdb: readonly FdbEntry[];
  /** Main-table routes inside the overlay network that weft does not own, when read. */
  readonly foreign?: readonly ForeignRoute[];
}

/**
 * `add` is for a route to a destination weft holds no route for: it fails
 * (EEXIST) instead of overwriting a route someone else installed after the
 * last read, so the pass fails, the next one reads the kernel and the lease
 * is refused (route collision). `replace` is only for routes weft owns.
 */
export type KernelAction = 'add' | 'replace' | 'delete';

export type KernelOp =
  | { readonly action: 'replace' | 'delete'; readonly kind: 'fdb'; readonly entry: FdbEntry }
  | { readonly action: 'replace' | 'delete'; readonly kind: 'neighbor'; readonly entry: Neighbor }
  | { readonly action: KernelAction; readonly kind: 'route'; readonly entry: Route };

export const EMPTY_STATE: KernelState = Object.freeze({ routes: [], neighbors: [], fdb: [] });

/** A kernel state keyed the way entries are compared: routes by destination, neighbours by IP, FDB entries by MAC. */
export interface KernelIndex {
  readonly routes: ReadonlyMap<Cidr, Route>;
  readonly neighbors: ReadonlyMap<Ipv4, Neighbor>;
  readonly fdb: ReadonlyMap<Mac, FdbEntry>;
}

/**
 * What the kernel should hold for these peers (accepted by the acceptance
 * rule, peer-acceptance.ts; our own subnet is never a peer). When two peers
 * carry the same MAC (a host that moved and whose old lease has not expired
 * yet) the later one in iteration order wins the FDB entry, since a unicast
 * MAC can have only one remote.
 */
export function desiredState(selfSubnet: Cidr, leases: Iterable<Peer>, paths?: DirectPaths): KernelState {
  const index = desiredIndex(selfSubnet, leases, paths);
  return { routes: [...index.routes.values()], neighbors: [...index.neighbors.values()], fdb: [...index.fdb.values()] };
}

/** `desiredState`, keyed. `paths`: the peers reached by a direct route (default: none). */
export function desiredIndex(selfSubnet: Cidr, leases: Iterable<Peer>, paths?: DirectPaths): KernelIndex {
  const routes = new Map<Cidr, Route>();
  const neighbors = new Map<Ipv4, Neighbor>();
  const fdb = new Map<Mac, FdbEntry>();
  for (const lease of leases) {
    const { subnet, attrs } = lease;
    if (subnet === selfSubnet) continue;
    if (paths?.direct(attrs.publicIp) === true) {
      routes.set(subnet, directRoute(subnet, attrs.publicIp, paths.device));
      continue;
    }
    const gateway = cidrIp(subnet);
    fdb.delete(attrs.vtepMac);
    fdb.set(attrs.vtepMac, { mac: attrs.vtepMac, dst: attrs.publicIp });
    neighbors.set(gateway, { ip: gateway, mac: attrs.vtepMac });
    routes.set(subnet, { dst: subnet, via: gateway });
  }
  return { routes, neighbors, fdb };
}

/** The route of a peer reached directly: its subnet via its public IP on the external interface. */
export function directRoute(subnet: Cidr, publicIp: Ipv4, device: string): Route {
  return { dst: subnet, via: publicIp, dev: device };
}

/** Two routes are the same kernel route (the device included); a legacy one is never what weft wants. */
export function sameRoute(wanted: Route, have: Route): boolean {
  return wanted.via === have.via && wanted.dev === have.dev && !have.legacy;
}

/**
 * The operations that make `actual` equal `desired`, in the order they must be
 * applied: first every replace (FDB, then neighbour, then route), so a peer
 * whose MAC changed gets its new FDB entry and neighbour before anything old
 * goes; then every delete (route, then neighbour, then FDB), so a departed
 * peer stops being routed before its neighbour and FDB entry disappear.
 * Entries that already match produce no operation.
 */
export function planKernel(desired: KernelState, actual: KernelState): KernelOp[] {
  const fdb = diff(desired.fdb, actual.fdb, (e) => e.mac, (a, b) => a.dst === b.dst);
  const neighbors = diff(desired.neighbors, actual.neighbors, (e) => e.ip, (a, b) => a.mac === b.mac);
  const routes = diff(desired.routes, actual.routes, (e) => e.dst, sameRoute);
  return [
    ...fdb.replace.map((entry) => ({ action: 'replace', kind: 'fdb', entry }) as const),
    ...neighbors.replace.map((entry) => ({ action: 'replace', kind: 'neighbor', entry }) as const),
    ...routes.replace.map((entry) => ({ action: routes.known.has(entry.dst) ? 'replace' : 'add', kind: 'route', entry }) as const),
    ...routes.remove.map((entry) => ({ action: 'delete', kind: 'route', entry }) as const),
    ...neighbors.remove.map((entry) => ({ action: 'delete', kind: 'neighbor', entry }) as const),
    ...fdb.remove.map((entry) => ({ action: 'delete', kind: 'fdb', entry }) as const),
  ];
}

/**
 * Indexed loops rather than for-of and array-of-pairs constructors: the first
 * pass after a start runs this cold, where that halves its cost at 15 000
 * entries.
 */
function diff<K, T>(desired: readonly T[], actual: readonly T[], key: (e: T) => K,
  same: (a: T, b: T) => boolean): { replace: T[]; remove: T[]; known: ReadonlyMap<K, T> } {
  const have = new Map<K, T>();
  for (let i = 0; i < actual.length; i++) have.set(key(actual[i] as T), actual[i] as T);
  const want = new Set<K>();
  const replace: T[] = [];
  for (let i = 0; i < desired.length; i++) {
    const e = desired[i] as T;
    const k = key(e);
    want.add(k);
    const current = have.get(k);
    if (current === undefined || !same(e, current)) replace.push(e);
  }
  const remove: T[] = [];
  for (let i = 0; i < actual.length; i++) if (!want.has(key(actual[i] as T))) remove.push(actual[i] as T);
  return { replace, remove, known: have };
}

/**
 * True when `state` already shows the effect of `op` (the entry is there for
 * a replace, gone for a delete). The adapter uses it to find out how far an
 * interrupted batch got.
 */
export function isSatisfied(op: KernelOp, state: KernelState): boolean {
  switch (op.kind) {
    case 'fdb': {
      const found = state.fdb.find((e) => e.mac === op.entry.mac);
      return op.action === 'replace' ? found?.dst === op.entry.dst : found === undefined;
    }
    case 'neighbor': {
      const found = state.neighbors.find((e) => e.ip === op.entry.ip);
      return op.action === 'replace' ? found?.mac === op.entry.mac : found === undefined;
    }
    case 'route': {
      const found = state.routes.find((e) => e.dst === op.entry.dst);
      return op.action !== 'delete' ? found !== undefined && sameRoute(op.entry, found) : found === undefined;
    }
  }
}

/** A short human form of an operation for logs, e.g. `replace route 10.5.2.0/24 via 10.5.2.0`. */
export function describeOp(op: KernelOp): string {
  switch (op.kind) {
    case 'fdb': return `${op.action} fdb ${op.entry.mac} dst ${op.entry.dst}`;
    case 'neighbor': return `${op.action} neighbor ${op.entry.ip} lladdr ${op.entry.mac}`;
    case 'route': return `${op.action} route ${op.entry.dst} via ${op.entry.via}${op.entry.dev === undefined ? '' : ` dev ${op.entry.dev}`}${op.entry.legacy ? ' (unmarked)' : ''}`;
  }
}

/** Counts of each kind of operation, for one structured log line. */
export function summarizeOps(ops: readonly KernelOp[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of ops) {
    const key = `${op.action}_${op.kind}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
