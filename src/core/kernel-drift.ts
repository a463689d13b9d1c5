/**
 * Kernel changes weft did not make, noticed from the kernel's notifications
 * (kernel-change.ts) and held against what the kernel cache believes: an
 * entry of weft's that was deleted or changed by hand, or an entry shaped
 * like weft's that appeared on its device, is written into the cache as the
 * kernel now has it and its key is kept for the next event pass, which plans
 * exactly those keys (KernelCache.planDelta) and puts them right. A change
 * that the cache already shows (weft's own operations echoed back) costs a
 * lookup and nothing else.
 *
 * What an entry-level view cannot repair asks for a full pass (`full`): lost
 * notifications, any change of weft's device (a device going down flushes
 * its routes without a route notification), a route of weft's replaced by
 * one weft does not own (the route-collision rule needs a fresh read), and
 * with DirectRouting any change of the external interface or of an
 * underlay route through it (which peers are direct must be decided again
 * from a fresh read of the underlay's routes).
 */
import type { Cidr, Ipv4 } from './cidr.js';
import type { DriftedKeys, KernelCache } from './kernel-cache.js';
import type { FdbChange, KernelChange, NeighborChange, RouteChange } from './kernel-change.js';
import { WEFT_ROUTE_PROTOCOL } from './kernel-state.js';
import type { Mac } from './mac.js';

/** The protocol of a route added without one (`ip route add` by hand, older weft versions). */
const BOOT_PROTOCOL = 3;

/** How the monitor codec reports a default route, per family. */
const DEFAULT_ROUTES: ReadonlySet<string> = new Set(['0.0.0.0/0', '::/0']);

export interface Drift extends DriftedKeys {
  /** The next pass must read the whole kernel state. */
  readonly full: boolean;
}

/** DirectRouting's view for the tracker: direct routes live on `device`; routes outside the overlay are the underlay's. */
export interface DirectWatch {
  readonly device: string;
  inOverlay(dst: Cidr): boolean;
}

export class DriftTracker {
  readonly #device: string;
  readonly #legacyRoutes: boolean;
  readonly #direct: DirectWatch | undefined;
  #routes = new Set<Cidr>();
  #neighbors = new Set<Ipv4>();
  #fdb = new Set<Mac>();
  #full = false;

  /**
   * `legacyRoutes`: an unmarked onlink route on the device (proto boot, how an
   * older weft added it) counts as weft's, to take over (IPv4). The IPv6
   * device never had such routes: its kernel read calls them foreign, and so
   * does this tracker when false.
   */
  constructor(device: string, options: { readonly legacyRoutes?: boolean; readonly direct?: DirectWatch | undefined } = {}) {
    this.#device = device;
    this.#legacyRoutes = options.legacyRoutes ?? true;
    this.#direct = options.direct;
  }

  /** True when something waits for a pass. */
  get pending(): boolean {
    return this.#full || this.#routes.size > 0 || this.#neighbors.size > 0 || this.#fdb.size > 0;
  }

  /** Asks for a full pass (e.g. too many changes queued to replay one by one). */
  requireFull(): void {
    this.#full = true;
  }

  /**
   * Notes `changes` against `cache` (what weft believes the kernel holds;
   * undefined when it has no trusted state, and the next pass reads anyway)
   * and updates the cache to what the kernel now has. Returns true when any
   * change needs a pass.
   */
  note(changes: readonly KernelChange[], cache: KernelCache | undefined): boolean {
    const before = this.pending;
    let relevant = false;
    for (const change of changes) {
      switch (change.kind) {
        case 'lost':
          this.#full = true;
          relevant = true;
          break;
        case 'link':
          if (change.device === this.#device || change.device === this.#direct?.device) { this.#full = true; relevant = true; }
          break;
        case 'route':
          relevant = this.#route(change, cache) || relevant;
          break;
        case 'neighbor':
          relevant = this.#neighbor(change, cache) || relevant;
          break;
        case 'fdb':
          relevant = this.#fdbChange(change, cache) || relevant;
          break;
      }
    }
    return relevant || (!before && this.pending);
  }

  /** What to plan again, emptied. */
  take(): Drift {
    const drift = { routes: this.#routes, neighbors: this.#neighbors, fdb: this.#fdb, full: this.#full };
    this.#routes = new Set();
    this.#neighbors = new Set();
    this.#fdb = new Set();
    this.#full = false;
    return drift;
  }

  #route(change: RouteChange, cache: KernelCache | undefined): boolean {
    const direct = this.#direct;
    // The underlay's own routes (through the external interface, outside the overlay) decide which peers are direct.
    if (direct && (change.device === direct.device || DEFAULT_ROUTES.has(change.dst)) && !direct.inOverlay(change.dst)) return this.#needFull();
    const shaped = change.device === this.#device && change.type === 'unicast' && change.onlink && change.via !== undefined;
    // A direct route: weft's mark, on the external interface, via the peer's public IP, not onlink.
    const directRoute = direct !== undefined && change.device === direct.device && change.type === 'unicast' && !change.onlink
      && change.via !== undefined && change.protocol === WEFT_ROUTE_PROTOCOL;
    // Marked (proto 87), or unmarked the way an older weft (or a hand) adds it (proto boot): both are weft's to correct.
    const legacy = shaped && this.#legacyRoutes && change.protocol === BOOT_PROTOCOL;
    const ours = (shaped && (change.protocol === WEFT_ROUTE_PROTOCOL || legacy)) || directRoute;
    const held = cache?.held('route', change.dst);
    if (change.deleted) {
      if (!held || (change.via !== undefined && change.via !== held.via) || (change.device !== undefined && change.device !== (held.dev ?? this.#device))) return false;
      if (!cache) return this.#needFull();
      cache.record([{ action: 'delete', kind: 'route', entry: held }]);
      this.#routes.add(change.dst);
      return true;
    }
    if (ours) {
      const dev = directRoute ? change.device : undefined;
      if (held && held.via === change.via && held.dev === dev && (held.legacy ?? false) === legacy) return false; // weft's own, echoed back
      if (!cache) return this.#needFull();
      cache.record([{ action: 'replace', kind: 'route', entry: { dst: change.dst, via: change.via as Ipv4, ...(dev !== undefined ? { dev } : {}), ...(legacy ? { legacy } : {}) } }]);
      this.#routes.add(change.dst);
      return true;
    }
    // A route weft does not own took the place of one of weft's (a replace reports only the new route).
    if (held || cache?.wanted('route', change.dst) !== undefined) return this.#needFull();
    return false;
  }

  #neighbor(change: NeighborChange, cache: KernelCache | undefined): boolean {
    if (change.device !== this.#device) return false;
    const held = cache?.held('neighbor', change.ip);
    if (change.deleted || !change.permanent || change.mac === undefined) {
      if (!held) return false;
      if (!cache) return this.#needFull();
      cache.record([{ action: 'delete', kind: 'neighbor', entry: held }]);
      this.#neighbors.add(change.ip);
      return true;
    }
    if (held && held.mac === change.mac) return false;
    if (!cache) return this.#needFull();
    cache.record([{ action: 'replace', kind: 'neighbor', entry: { ip: change.ip, mac: change.mac } }]);
    this.#neighbors.add(change.ip);
    return true;
  }

  #fdbChange(change: FdbChange, cache: KernelCache | undefined): boolean {
    if (change.device !== this.#device || !change.self) return false;
    const held = cache?.held('fdb', change.mac);
    if (change.deleted || !change.permanent || change.dst === undefined) {
      if (!held || (change.dst !== undefined && change.dst !== held.dst)) return false;
      if (!cache) return this.#needFull();
      cache.record([{ action: 'delete', kind: 'fdb', entry: held }]);
      this.#fdb.add(change.mac);
      return true;
    }
    if (held && held.dst === change.dst) return false;
    if (!cache) return this.#needFull();
    cache.record([{ action: 'replace', kind: 'fdb', entry: { mac: change.mac, dst: change.dst } }]);
    this.#fdb.add(change.mac);
    return true;
  }

  #needFull(): boolean {
    this.#full = true;
    return true;
  }
}
