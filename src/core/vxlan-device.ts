/**
 * The VXLAN devices weft owns (`weft.<VNI>`, and `weft-v6.<VNI>` over an
 * IPv6 underlay on a dual-stack network): what they should look like, and
 * whether an existing device with that name can be kept. Pure.
 */
import type { Ipv4 } from './cidr.js';
import type { Ipv6 } from './cidr6.js';
import { type Mac, vtepMacFor } from './mac.js';
import { type NetworkConfig, VXLAN6_OVERHEAD, VXLAN_OVERHEAD, requireVxlan } from './network-config.js';

export interface VxlanDeviceSpec {
  /** `weft.<VNI>` or `weft-v6.<VNI>` (at most 15 characters, the kernel's limit). */
  readonly name: string;
  readonly vni: number;
  /** UDP destination port. */
  readonly port: number;
  /**
   * Source address of encapsulated packets: this host's public IP (flannel's
   * `ExtAddr`), which defaults to the external interface's address and must
   * be one of that interface's addresses. An IPv6 address for the IPv6
   * device (the kernel then sends the VXLAN packets over IPv6).
   */
  readonly local: Ipv4 | Ipv6;
  /** The external (underlay) interface. */
  readonly parent: string;
  readonly mtu: number;
  /** Set when the device is created, before it is brought up. */
  readonly mac: Mac;
  readonly gbp: boolean;
}

/** The external interface as the kernel adapter reports it. */
export interface ExternalInterface {
  readonly name: string;
  readonly index: number;
  /** The interface's first global IPv4 address (or the one asked for). */
  readonly address: Ipv4;
  /** Every IPv4 address the interface holds. */
  readonly addresses: readonly Ipv4[];
  readonly mtu: number;
}

/** The external interface's IPv6 side: the VXLAN source address of the IPv6 device. */
export interface ExternalInterface6 {
  readonly name: string;
  readonly index: number;
  /** `--public-ipv6`, or the interface's first usable global IPv6 address; never a link-local one. */
  readonly address: Ipv6;
  /** Every global IPv6 address the interface holds. */
  readonly addresses: readonly Ipv6[];
  readonly mtu: number;
}

/** What the kernel says about an existing link with the device's name. */
export interface VxlanLinkInfo {
  readonly name: string;
  /** `vxlan`, or whatever else already uses the name (`veth`, `bridge`, `unknown`). */
  readonly kind: string;
  readonly vni: number | undefined;
  readonly port: number | undefined;
  /** `local` (IPv4) or `local6` (IPv6) of the vxlan device, canonical. */
  readonly local: Ipv4 | Ipv6 | undefined;
  readonly parent: string | undefined;
  readonly learning: boolean;
  readonly gbp: boolean;
  readonly mac: Mac | undefined;
  readonly mtu: number;
  readonly up: boolean;
  /**
   * The link's addresses as `address/len`, of the reading adapter's family:
   * IPv4, or IPv6 (link-local ones included) from an IPv6 adapter.
   */
  readonly addresses: readonly string[];
}

/** `weft.<VNI>`. */
export function deviceName(vni: number): string {
  return `weft.${vni}`;
}

/** `weft-v6.<VNI>` (flannel: `flannel-v6.<VNI>`); with VNI < 2^24 at most 15 characters. */
export function deviceName6(vni: number): string {
  return `weft-v6.${vni}`;
}

export type VxlanLocalChoice = { ok: true; local: Ipv4 } | { ok: false; reason: string };

/**
 * The device's `local` (VXLAN source) address: the public IP, which defaults
 * to the external interface's address. As in flannel, the public IP is the
 * source of encapsulated packets, so it must be held by the external
 * interface (without `--iface` the interface is chosen as the one holding
 * it); a public IP that is only reachable through NAT is not supported.
 */
export function vxlanLocal(ext: ExternalInterface, publicIp: Ipv4 | undefined): VxlanLocalChoice {
  if (publicIp === undefined) return { ok: true, local: ext.address };
  if (publicIp === ext.address || ext.addresses.includes(publicIp)) return { ok: true, local: publicIp };
  return {
    ok: false,
    reason: `--public-ip ${publicIp} is not an address of the external interface ${ext.name} (${ext.addresses.join(', ') || 'no IPv4 address'}): `
      + 'the public IP is the VXLAN source address (local), which must be an address of this host on that interface; '
      + 'a public IP behind NAT is not supported yet. Drop --iface to use the interface holding the public IP, '
      + 'or drop --public-ip to use the interface address',
  };
}

/**
 * The device for this network config on this external interface. `local` is
 * the VXLAN source address (see `vxlanLocal`; default: the interface's
 * address). The MTU is `Backend.MTU` (or the interface's MTU) minus the VXLAN
 * overhead; the MAC is derived from the node name so a recreated device keeps it.
 */
export function deviceSpec(config: NetworkConfig, ext: ExternalInterface, nodeName: string, local: Ipv4 = ext.address): VxlanDeviceSpec {
  const backend = requireVxlan(config);
  const { vni, port, gbp } = backend;
  return {
    name: deviceName(vni),
    vni,
    port,
    local,
    parent: ext.name,
    mtu: (backend.mtu ?? ext.mtu) - VXLAN_OVERHEAD,
    mac: vtepMacFor(nodeName, vni),
    gbp,
  };
}

/**
 * The IPv6 device: the same VNI, port and GBP as the IPv4 one (flannel), the
 * same parent, `local` = the interface's IPv6 address (or `--public-ipv6`),
 * its own stable MAC, and the MTU the kernel allows: for an IPv6 underlay
 * it caps a vxlan device with a parent at the parent's MTU − 70 (measured,
 * kernel 6.x: asking for more is silently clamped at creation and refused
 * with EINVAL by a later `ip link set mtu`), so weft asks for exactly that.
 */
export function deviceSpec6(config: NetworkConfig, ext: ExternalInterface6, nodeName: string, local: Ipv6 = ext.address): VxlanDeviceSpec {
  const backend = requireVxlan(config);
  const { vni, port, gbp } = backend;
  return {
    name: deviceName6(vni),
    vni,
    port,
    local,
    parent: ext.name,
    mtu: (backend.mtu ?? ext.mtu) - VXLAN6_OVERHEAD,
    mac: vtepMacFor(nodeName, vni, 6),
    gbp,
  };
}

/**
 * Why an existing link cannot be reused and must be recreated, or undefined
 * when it is compatible. The MTU is not compared: it is fixed in place.
 */
export function deviceMismatch(spec: VxlanDeviceSpec, actual: VxlanLinkInfo): string | undefined {
  if (actual.kind !== 'vxlan') return `${actual.name} is a ${actual.kind} device, not vxlan`;
  const reasons: string[] = [];
  const check = (what: string, want: unknown, have: unknown): void => {
    if (want !== have) reasons.push(`${what} is ${String(have)}, want ${String(want)}`);
  };
  check('VNI', spec.vni, actual.vni);
  check('port', spec.port, actual.port);
  check('local address', spec.local, actual.local);
  check('parent', spec.parent, actual.parent);
  check('MAC', spec.mac, actual.mac);
  check('GBP', spec.gbp, actual.gbp);
  if (actual.learning) reasons.push('learning is on, want off');
  return reasons.length === 0 ? undefined : reasons.join('; ');
}
