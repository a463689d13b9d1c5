/**
 * The VXLAN device weft owns (`weft.<VNI>`): what it should look like, and
 * whether an existing device with that name can be kept. Pure.
 */
import type { Ipv4 } from './cidr.js';
import { type Mac, vtepMacFor } from './mac.js';
import { type NetworkConfig, VXLAN_OVERHEAD } from './network-config.js';

export interface VxlanDeviceSpec {
  /** `weft.<VNI>` (at most 15 characters, the kernel's limit). */
  readonly name: string;
  readonly vni: number;
  /** UDP destination port. */
  readonly port: number;
  /** Source address of encapsulated packets: the external interface's address. */
  readonly local: Ipv4;
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
  readonly mtu: number;
}

/** What the kernel says about an existing link with the device's name. */
export interface VxlanLinkInfo {
  readonly name: string;
  /** `vxlan`, or whatever else already uses the name (`veth`, `bridge`, `unknown`). */
  readonly kind: string;
  readonly vni: number | undefined;
  readonly port: number | undefined;
  readonly local: Ipv4 | undefined;
  readonly parent: string | undefined;
  readonly learning: boolean;
  readonly gbp: boolean;
  readonly mac: Mac | undefined;
  readonly mtu: number;
  readonly up: boolean;
  /** IPv4 addresses on the link as `a.b.c.d/len`. */
  readonly addresses: readonly string[];
}

/** `weft.<VNI>`. */
export function deviceName(vni: number): string {
  return `weft.${vni}`;
}

/**
 * The device for this network config on this external interface. The MTU is
 * `Backend.MTU` (or the interface's MTU) minus the VXLAN overhead; the MAC is
 * derived from the node name so a recreated device keeps it.
 */
export function deviceSpec(config: NetworkConfig, ext: ExternalInterface, nodeName: string): VxlanDeviceSpec {
  const { vni, port, gbp } = config.backend;
  return {
    name: deviceName(vni),
    vni,
    port,
    local: ext.address,
    parent: ext.name,
    mtu: (config.backend.mtu ?? ext.mtu) - VXLAN_OVERHEAD,
    mac: vtepMacFor(nodeName, vni),
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
