/**
 * Choosing the underlay (external) interface, flannel's order: `--iface`
 * (a name, or an address the interface holds), else the interface holding
 * `--public-ip`, else the interface of the default route. Pure: the adapter
 * supplies the interface list and the default route's device.
 */
import type { Ipv4 } from './cidr.js';
import type { ExternalInterface } from './vxlan-device.js';

export interface InterfaceAddress {
  readonly ip: Ipv4;
  readonly prefixLength: number;
  /** `global`, `link`, `host`. */
  readonly scope: string;
}

export interface InterfaceAddresses {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  readonly addresses: readonly InterfaceAddress[];
}

export interface ExternalSelection {
  readonly iface?: string | undefined;
  readonly publicIp?: Ipv4 | undefined;
}

export type ExternalChoice = { ok: true; ext: ExternalInterface } | { ok: false; reason: string };

const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

export function selectExternalInterface(interfaces: readonly InterfaceAddresses[], defaultRouteDevice: string | undefined,
  sel: ExternalSelection): ExternalChoice {
  if (sel.iface !== undefined && sel.iface !== '') {
    if (IPV4_RE.test(sel.iface)) {
      return byAddress(interfaces, sel.iface as Ipv4, `no interface holds the --iface address ${sel.iface}`);
    }
    const found = interfaces.find((i) => i.name === sel.iface);
    if (!found) return { ok: false, reason: `no interface named ${sel.iface} (--iface)` };
    return withAddress(found, `interface ${sel.iface} (--iface) has no IPv4 address`);
  }
  if (sel.publicIp !== undefined) {
    return byAddress(interfaces, sel.publicIp, `no interface holds the --public-ip address ${sel.publicIp}; use --iface to name one`);
  }
  if (defaultRouteDevice === undefined) {
    return { ok: false, reason: 'no IPv4 default route to pick the external interface from; use --iface or --public-ip' };
  }
  const found = interfaces.find((i) => i.name === defaultRouteDevice);
  if (!found) return { ok: false, reason: `the default route's interface ${defaultRouteDevice} has no IPv4 address` };
  return withAddress(found, `the default route's interface ${defaultRouteDevice} has no IPv4 address`);
}

function byAddress(interfaces: readonly InterfaceAddresses[], ip: Ipv4, reason: string): ExternalChoice {
  const found = interfaces.find((i) => i.addresses.some((a) => a.ip === ip));
  if (!found) return { ok: false, reason };
  return checkMtu(found, ip);
}

/** Global addresses before link-local ones; host-scope (loopback) addresses never. */
function withAddress(found: InterfaceAddresses, reason: string): ExternalChoice {
  const address = found.addresses.find((a) => a.scope === 'global') ?? found.addresses.find((a) => a.scope === 'link');
  if (!address) return { ok: false, reason };
  return checkMtu(found, address.ip);
}

function checkMtu(found: InterfaceAddresses, address: Ipv4): ExternalChoice {
  if (found.mtu <= 0) return { ok: false, reason: `interface ${found.name} reports MTU ${found.mtu}` };
  return { ok: true, ext: { name: found.name, index: found.index, address, addresses: found.addresses.map((a) => a.ip), mtu: found.mtu } };
}
