/**
 * What the daemon needs from the data plane (src/backend/vxlan/data-plane.ts on the
 * real kernel). `LeaseOnlyDataPlane` is weftd's `--dataplane none` mode: it
 * leases and watches but programs nothing, for hosts where the kernel side is
 * handled elsewhere and for tests of the etcd side.
 */
import type { Cidr, Ipv4 } from '../core/cidr.js';
import type { Ipv6 } from '../core/cidr6.js';
import { UsageError } from '../core/errors.js';
import type { AcceptedPeer } from '../core/peer-acceptance.js';
import type { LeaseAttrs, LeaseSubnets } from '../core/lease.js';
import { type Mac, vtepMacFor } from '../core/mac.js';
import { type NetworkConfig, VXLAN_OVERHEAD, requireVxlan } from '../core/network-config.js';

export interface PrepareInput {
  readonly config: NetworkConfig;
  readonly nodeName: string;
  readonly iface?: string;
  readonly publicIp?: Ipv4;
  /** `--public-ipv6`: the IPv6 underlay address (default: the interface's global IPv6 address). */
  readonly publicIpv6?: Ipv6;
}

/**
 * The backend's part of this host's lease value: `BackendType` and what goes
 * into `BackendData` (vxlan: VNI and VTEP MAC; wireguard: public key and
 * port, and `BackendV6Data` when the host runs IPv6). weftd writes `PublicIP`, `NodeName` and the IPv6 fields around it.
 */
export type BackendAdvert = Pick<LeaseAttrs, 'backendType' | 'vni' | 'vtepMac' | 'wireguard' | 'wireguardV6'>;

export interface Prepared {
  readonly publicIp: Ipv4;
  /** What the lease advertises for this backend (weftd's lease attributes are built from it). */
  readonly advert: BackendAdvert;
  /** The VXLAN device's MAC (vxlan only; also in `advert`). */
  readonly vtepMac?: Mac | undefined;
  /** The overlay MTU written to subnet.env (device MTU). */
  readonly mtu: number;
  readonly device: string;
  /** The external interface the device sits on (the IPv6 device goes on the same one). */
  readonly parent?: string;
  /** The IPv6 side, on a dual-stack network: vxlan's `weft-v6.<VNI>`, wireguard's `weft-wg-v6` (or `weft-wg` carrying both). */
  readonly v6?: PreparedV6 | undefined;
}

export interface PreparedV6 {
  readonly publicIp: Ipv6;
  /** The IPv6 VXLAN device's MAC (vxlan only). */
  readonly vtepMac?: Mac | undefined;
  readonly mtu: number;
  readonly device: string;
}

/** One tunnel peer as the device reports it (wireguard backend): public data only, never a key that is secret. */
export interface TunnelPeer {
  /** The device it is a peer of (`weft-wg`, `weft-wg-v6`); absent means `weft-wg`. */
  readonly device?: string;
  readonly publicKey: string;
  readonly endpoint: string | undefined;
  readonly allowedIps: readonly string[];
  /** Milliseconds since the epoch of the latest handshake; undefined for never. */
  readonly lastHandshakeMs: number | undefined;
  readonly rxBytes: number;
  readonly txBytes: number;
}

export interface PassResult {
  readonly ok: boolean;
  readonly applied: number;
  readonly failed: number;
  readonly changes: number;
  /**
   * Peers whose route, neighbour and FDB entry the kernel holds after this
   * pass (as read, plus what was applied); absent when the pass could not
   * tell (it failed before reading or applying anything).
   */
  readonly programmed?: number;
  /** DirectRouting: the peer subnets this pass routes directly (no VXLAN); absent when DirectRouting is off. */
  readonly direct?: readonly Cidr[];
  /** Peers refused because a route weft does not own already uses their subnet on this host. */
  readonly refused?: readonly { readonly subnet: Cidr; readonly reason: string }[];
  /** On a dual-stack host: the IPv6 device's part of the pass (its numbers are in the totals too). */
  readonly ipv6?: PassResult;
  /** Why the pass could not run at all, when that is known (the IPv6 device could not be set up, say). */
  readonly error?: string;
  /** A tunnel backend's peers as read back by this pass (wireguard). */
  readonly tunnels?: readonly TunnelPeer[];
}

export interface ReconcileOptions {
  /**
   * Read the device and its entries from the kernel (a resync), instead of
   * planning against what the last successful pass left there. The loop asks
   * for one at least every resync interval; without it the data plane still
   * reads whenever it has no trustworthy state (first pass, after a failure,
   * a changed device or own subnet). Default: true.
   */
  readonly resync?: boolean;
}

export interface DataPlanePort {
  prepare(input: PrepareInput): Promise<Prepared>;
  /** A pass over every peer (the first, a resync, or when an event pass cannot be planned alone). */
  /**
   * Optional: start the kernel read of the next pass that reads now (weftd
   * calls it once the lease is acquired, so the read overlaps the peer
   * listing instead of following it).
   */
  readAhead?(selfSubnet: Cidr): void;
  reconcile(selfSubnet: Cidr, leases: readonly AcceptedPeer[], options?: ReconcileOptions): Promise<PassResult>;
  /**
   * An event pass: plans only the `changed` subnets (their peer now:
   * `peerOf`, undefined when gone) and the kernel entries seen to drift,
   * against what the last successful pass left: O(changes), whatever the
   * number of peers. Undefined when it has no trusted state to plan against
   * (first pass, after a failure, a changed device or own subnet); the
   * caller then runs `reconcile` with every peer.
   */
  reconcileChanged(selfSubnet: Cidr, changed: ReadonlySet<Cidr>, peerOf: (subnet: Cidr) => AcceptedPeer | undefined,
    /** Every peer: lets a data plane of two families run one of them whole while the other plans only the changes. */
    all?: () => readonly AcceptedPeer[]): Promise<PassResult | undefined>;
  /** Optional: the subnets this host holds, once its lease is acquired (before the first pass). */
  leased?(subnets: LeaseSubnets): void;
  /** Registers the loop's wake-up for kernel changes weft did not make (kernel notifications); optional. */
  onDrift?(listener: () => void): void;
  /** Ends long-lived helpers (batch children, the kernel monitor). */
  close?(): void;
}

export class LeaseOnlyDataPlane implements DataPlanePort {
  async prepare(input: PrepareInput): Promise<Prepared> {
    if (!input.publicIp) throw new UsageError('--dataplane none needs --public-ip (there is no interface to take it from)');
    const { vni, mtu } = requireVxlan(input.config);
    const vtepMac = vtepMacFor(input.nodeName, vni);
    return {
      publicIp: input.publicIp, vtepMac, advert: { backendType: 'vxlan', vni, vtepMac },
      mtu: (mtu ?? 1500) - VXLAN_OVERHEAD,
      device: `weft.${vni}`,
    };
  }

  async reconcile(): Promise<PassResult> {
    return { ok: true, applied: 0, failed: 0, changes: 0, programmed: 0 };
  }

  async reconcileChanged(): Promise<PassResult> {
    return { ok: true, applied: 0, failed: 0, changes: 0, programmed: 0 };
  }
}
