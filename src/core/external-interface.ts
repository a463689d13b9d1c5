/**
 * Choosing the underlay (external) interface, flannel's order: `--iface`
 * (a name, or an address the interface holds), else the interface holding
 * `--public-ip`, else the interface of the default route. Pure: the adapter
 * supplies the interface list and the default route's device. The IPv6
 * device uses the same interface (flannel requires it too) and one of its
 * global IPv6 addresses (selectExternalAddress6).
 */
import type { Ipv4 } from './cidr.js';
import { type Ipv6, ipv6UnicastProblem } from './cidr6.js';
import type { ExternalInterface, ExternalInterface6 } from './vxlan-device.js';

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

/** An IPv6 address as `ip -j -6 addr show` describes it. */
export interface InterfaceAddress6 {
  readonly ip: Ipv6;
  readonly prefixLength: number;
  /** `global`, `link`, `host`. */
  readonly scope: string;
  /** Preferred lifetime over: the kernel avoids it as a source. */
  readonly deprecated: boolean;
  /** Still in duplicate address detection: usable once it ends. */
  readonly tentative: boolean;
  /** Duplicate address detection failed: never usable. */
  readonly dadfailed: boolean;
  /** A privacy (RFC 8981) address: it changes over time. */
  readonly temporary: boolean;
}

export interface InterfaceAddresses6 {
  readonly name: string;
  readonly index: number;
  readonly mtu: number;
  readonly addresses: readonly InterfaceAddress6[];
}

export type ExternalChoice6 = { ok: true; ext: ExternalInterface6 } | { ok: false; reason: string };

/**
 * The IPv6 source address on the (already chosen) external interface:
 * `--public-ipv6` when given, which must be a global address of that
 * interface, else its first global address that is neither deprecated nor
 * failed DAD, stable ones before privacy ones and settled ones before
 * tentative ones. Never a link-local address: peers on other links cannot
 * reach it (flannel would pick one on a node with no global address).
 */
export function selectExternalAddress6(iface: InterfaceAddresses6 | undefined, name: string, publicIpv6?: Ipv6): ExternalChoice6 {
  if (!iface) return { ok: false, reason: `no interface named ${name} to take the IPv6 address from` };
  if (iface.mtu <= 0) return { ok: false, reason: `interface ${name} reports MTU ${iface.mtu}` };
  const globals = iface.addresses.filter((a) => a.scope === 'global' && !a.dadfailed);
  const ext = (address: Ipv6): ExternalChoice6 =>
    ({ ok: true, ext: { name, index: iface.index, mtu: iface.mtu, address, addresses: globals.map((a) => a.ip) } });
  if (publicIpv6 !== undefined) {
    const problem = ipv6UnicastProblem(publicIpv6);
    if (problem !== undefined) return { ok: false, reason: `--public-ipv6 ${publicIpv6} cannot be the VXLAN source address: ${problem}` };
    if (globals.some((a) => a.ip === publicIpv6)) return ext(publicIpv6);
    return {
      ok: false,
      reason: `--public-ipv6 ${publicIpv6} is not a global address of the external interface ${name} `
        + `(${globals.map((a) => a.ip).join(', ') || 'it has no global IPv6 address'}): it is the source address of the IPv6 VXLAN `
        + 'device, which uses the same interface as the IPv4 one',
    };
  }
  const rank = (a: InterfaceAddress6): number => (a.tentative ? 2 : 0) + (a.temporary ? 1 : 0);
  const usable = globals.filter((a) => !a.deprecated).sort((a, b) => rank(a) - rank(b));
  const chosen = usable[0];
  if (chosen) return ext(chosen.ip);
  const linkLocal = iface.addresses.filter((a) => a.scope === 'link').map((a) => a.ip);
  const has = linkLocal.length > 0 ? `only a link-local IPv6 address (${linkLocal.join(', ')}), which peers cannot reach`
    : globals.length > 0 ? `only deprecated global IPv6 addresses (${globals.map((a) => a.ip).join(', ')})`
      : 'no IPv6 address';
  return { ok: false, reason: `interface ${name} has ${has}: give --public-ipv6 or add a global IPv6 address to ${name}` };
}
