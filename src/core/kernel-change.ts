/**
 * What the kernel says changed: the typed changes the kernel monitor
 * delivers (parsed from `ip monitor` / `bridge monitor` lines by
 * monitor-lines.ts). Nothing here filters by ownership: the data plane
 * decides which changes touch entries weft owns.
 *
 * What the kernel does and does not report, as measured (kernel 6.x,
 * iproute2 6.1, test/fixtures/iproute2/monitor-*.txt):
 * - a route replace reports only the new route, even when it moves the
 *   destination to another device (`10.9.1.0/24 via 192.0.2.1 dev eth0`) or
 *   makes it a blackhole: the old route's disappearance is implied;
 * - a neighbour delete is reported as `<ip> dev D FAILED` (no lladdr) and then
 *   `Deleted <ip> dev D FAILED`;
 * - a device going down flushes its routes **without** any route
 *   notification (its permanent neighbours are reported deleted, its FDB
 *   entries stay); deleting the device reports the FDB deletions and the link
 *   deletion, not the routes. A link change therefore means "read the device
 *   again", not "nothing else changed";
 * - a rename is a link change under the new name with the same index.
 */
import type { FdbEntry, Neighbor, Route } from './kernel-state.js';
import type { Mac } from './mac.js';

/**
 * A main-table IPv4 route was added, replaced or deleted. Routes in other
 * tables are not reported (weft programs only the main table).
 */
export interface RouteChange {
  readonly kind: 'route';
  readonly deleted: boolean;
  /** The route's device; undefined for routes without one (blackhole, unreachable, multipath). */
  readonly device: string | undefined;
  /** `unicast` unless the line names (or numbers) another type: `blackhole`, `local`, ... */
  readonly type: string;
  readonly dst: Route['dst'];
  readonly via: Route['via'] | undefined;
  /**
   * The routing protocol as a number (87 is weft's mark: `proto 87`, or
   * `proto weft` where rt_protos names it). iproute2 prints no protocol for
   * `boot` (3), the default for routes added by hand, so an unmarked route
   * reads 3. A name iproute2's or weft's table does not know stays a string.
   */
  readonly protocol: number | string;
  readonly onlink: boolean;
  /** 0 when none is printed. */
  readonly metric: number;
}

/** An IPv4 neighbour was added, changed (state or lladdr) or deleted. */
export interface NeighborChange {
  readonly kind: 'neighbor';
  readonly deleted: boolean;
  readonly device: string;
  readonly ip: Neighbor['ip'];
  /** Absent on a failed or deleted entry (`10.9.1.0 dev weft.1 FAILED`). */
  readonly mac: Neighbor['mac'] | undefined;
  /** The NUD states as printed, e.g. `['PERMANENT']`, `['REACHABLE']`, `['FAILED']`. */
  readonly state: readonly string[];
  readonly permanent: boolean;
}

/** A bridge FDB entry (unicast MAC) was added, replaced or deleted. */
export interface FdbChange {
  readonly kind: 'fdb';
  readonly deleted: boolean;
  readonly device: string;
  readonly mac: FdbEntry['mac'];
  /** The remote VTEP (vxlan devices). */
  readonly dst: FdbEntry['dst'] | undefined;
  /** `self`: the device's own table (weft's entries), not a bridge master's. */
  readonly self: boolean;
  readonly permanent: boolean;
}

/** A link appeared, changed (flags, MTU, MAC, name) or was deleted. */
export interface LinkChange {
  readonly kind: 'link';
  readonly deleted: boolean;
  readonly device: string;
  /** The ifindex: a renamed device keeps it. */
  readonly index: number;
  /** Administratively up (the `UP` flag). */
  readonly up: boolean;
  readonly mtu: number | undefined;
  readonly mac: Mac | undefined;
}

/**
 * Changes may have been missed (the monitor's netlink socket overflowed, a
 * monitor process exited and was restarted, the change handler threw): the
 * caller must read the whole kernel state again.
 */
export interface LostChange {
  readonly kind: 'lost';
  readonly reason: string;
}

export type KernelChange = RouteChange | NeighborChange | FdbChange | LinkChange | LostChange;

/** A short human form for logs, e.g. `deleted route 10.5.2.0/24 via 10.5.2.0 dev weft.1 proto 87`. */
export function describeChange(change: KernelChange): string {
  if (change.kind === 'lost') return `lost: ${change.reason}`;
  const verb = change.deleted ? 'deleted' : 'new';
  switch (change.kind) {
    case 'route': return `${verb} route ${change.type === 'unicast' ? '' : `${change.type} `}${change.dst}`
      + `${change.via === undefined ? '' : ` via ${change.via}`}${change.device === undefined ? '' : ` dev ${change.device}`}`
      + ` proto ${change.protocol}${change.metric === 0 ? '' : ` metric ${change.metric}`}${change.onlink ? ' onlink' : ''}`;
    case 'neighbor': return `${verb} neighbor ${change.ip} dev ${change.device}${change.mac === undefined ? '' : ` lladdr ${change.mac}`} ${change.state.join(' ')}`.trimEnd();
    case 'fdb': return `${verb} fdb ${change.mac} dev ${change.device}${change.dst === undefined ? '' : ` dst ${change.dst}`}`
      + `${change.self ? ' self' : ''}${change.permanent ? ' permanent' : ''}`;
    case 'link': return `${verb} link ${change.index}: ${change.device} ${change.up ? 'up' : 'down'}${change.mtu === undefined ? '' : ` mtu ${change.mtu}`}`;
  }
}
