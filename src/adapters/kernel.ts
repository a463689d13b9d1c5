/**
 * The kernel side of the data plane as the daemon sees it: a small interface
 * so the iproute2 implementation can later be replaced by native netlink, and
 * so loop logic can be tested against an in-memory fake.
 */
import type { Cidr, Ipv4 } from '../core/cidr.js';
import type { Cidr6, Ipv6 } from '../core/cidr6.js';
import type { UnderlayRoute } from '../core/direct-routing.js';
import type { KernelOp, KernelState } from '../core/kernel-state.js';
import type { ExternalInterface, ExternalInterface6, VxlanDeviceSpec, VxlanLinkInfo } from '../core/vxlan-device.js';

export type { ExternalInterface, ExternalInterface6, VxlanLinkInfo } from '../core/vxlan-device.js';

/** How to find the external interface; with neither field, the default route's interface. */
export interface InterfaceSelector {
  /** An interface name, or an IPv4 address held by the interface. */
  readonly iface?: string | undefined;
  /** The address to advertise; without `iface`, the interface holding it. */
  readonly publicIp?: Ipv4 | undefined;
}

export interface OpFailure {
  readonly op: KernelOp;
  /** The kernel's or the tool's message for this operation. */
  readonly error: string;
}

/** Outcome of `apply`: per-operation failures are collected, never thrown. */
export interface ApplyReport {
  readonly applied: number;
  readonly failed: readonly OpFailure[];
}

/** What `ensureAddress` changed. */
export interface AddressChange {
  readonly added: boolean;
  readonly removed: readonly string[];
}

export interface Kernel {
  /** Selects the underlay interface; throws a KernelCommandError naming what was looked for when none matches. */
  externalInterface(sel: InterfaceSelector): Promise<ExternalInterface>;
  /**
   * The IPv6 source address on the interface `externalInterface` chose:
   * `publicIpv6` (which must be a global address of it), else its first
   * usable global IPv6 address; throws a KernelCommandError naming the
   * interface when it has none (a link-local address is never chosen).
   */
  externalInterface6(iface: string, publicIpv6?: Ipv6): Promise<ExternalInterface6>;
  /** The link with this name (of any kind), or undefined when there is none. */
  readDevice(name: string): Promise<VxlanLinkInfo | undefined>;
  /** Creates the vxlan device down, with its MAC and MTU already set. */
  createDevice(spec: VxlanDeviceSpec): Promise<void>;
  /** Deletes the link; a link that does not exist is not an error. */
  deleteDevice(name: string): Promise<void>;
  setMtu(name: string, mtu: number): Promise<void>;
  /**
   * Puts `ip/32` on the link and removes every other IPv4 address inside
   * `network` (an IPv6 adapter: `ip/128`, and every other IPv6 address inside
   * the IPv6 network; link-local ones are never inside it). `current`: the
   * link's addresses as just read (saves reading them again); read from the
   * kernel when omitted.
   */
  ensureAddress(name: string, ip: Ipv4 | Ipv6, network: Cidr | Cidr6, current?: readonly string[]): Promise<AddressChange>;
  setUp(name: string): Promise<void>;
  /**
   * weft's entries on the device (permanent neighbours, `self permanent` FDB,
   * marked or legacy-shaped routes). With `network`, also every other route
   * inside it (`foreign`), for the route-collision rule. With `directDevice`
   * (DirectRouting), weft's marked routes on that external interface are
   * weft's too (`Route.dev`), not foreign.
   */
  readState(device: string, network?: Cidr | Cidr6, directDevice?: string): Promise<KernelState>;
  /** The main table's routes of this adapter's family (DirectRouting's path decision). */
  readUnderlayRoutes(): Promise<UnderlayRoute[]>;
  /** Applies the operations in order; failures are reported per operation. */
  apply(device: string, ops: readonly KernelOp[]): Promise<ApplyReport>;
  /** Ends long-lived helpers (batch children), if the implementation keeps any. */
  close?(): void;
}
