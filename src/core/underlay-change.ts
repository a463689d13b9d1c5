/**
 * The underlay moved under weftd (flannel #2247; its follow-up crash #2433):
 * the external interface the VXLAN device sits on got another address (DHCP,
 * a readdress) or was deleted and made again under the same name (a bond
 * failover, a VLAN restart: a new ifindex, and the kernel deleted the VXLAN
 * device with its old parent). Pure: what weftd built on (the baseline)
 * against what the interface holds now (the reading) gives one decision:
 *
 * - `none`: nothing to do;
 * - `wait`: the interface is gone, or holds no address weft may use (the
 *   `--public-ip` given is not on it): a logged, retried state; nothing that
 *   works is torn down and the lease is kept alive meanwhile;
 * - `re-address`: same interface, another address: the device is made again
 *   with the new `local` and the lease's PublicIP (PublicIPv6) updated;
 * - `re-create`: the interface is back with a new ifindex: the device is made
 *   again on it (and the address followed too, if it changed).
 *
 * The address is chosen by the same rules as at start (external-interface.ts):
 * `--public-ip` / `--public-ipv6` when given (never replaced), else the
 * interface's first global address.
 */
import type { Ipv4 } from './cidr.js';
import type { Ipv6 } from './cidr6.js';
import { type InterfaceAddresses, type InterfaceAddresses6, selectExternalAddress6, selectExternalInterface } from './external-interface.js';
import { vxlanLocal } from './vxlan-device.js';

/** What the VXLAN device(s) were built on. */
export interface UnderlayBaseline {
  /** The external interface's name (followed by name: a re-made interface keeps it). */
  readonly iface: string;
  /** Its ifindex when the device was built; undefined until first read. */
  readonly index: number | undefined;
  readonly publicIp: Ipv4;
  /** The IPv6 device's local, on a dual-stack host whose IPv6 device is up. */
  readonly publicIpv6?: Ipv6 | undefined;
}

/** The external interface as read now; undefined when no interface has the name. */
export interface UnderlayReading {
  readonly v4: InterfaceAddresses;
  /** Its IPv6 addresses (the same interface read once, both families). */
  readonly v6: InterfaceAddresses6;
}

export interface UnderlayPins {
  /** `--public-ip`: advertised whatever else the interface holds; must be on it. */
  readonly publicIp?: Ipv4 | undefined;
  readonly publicIpv6?: Ipv6 | undefined;
  /** The network enables IPv6: an IPv6 address is looked for (and followed) too. */
  readonly ipv6: boolean;
}

export type UnderlayDecision =
  | { readonly kind: 'none'; readonly index: number }
  | { readonly kind: 'wait'; readonly reason: string }
  | { readonly kind: 're-address' | 're-create'; readonly index: number; readonly publicIp: Ipv4; readonly publicIpv6: Ipv6 | undefined; readonly reason: string };

export function decideUnderlay(baseline: UnderlayBaseline, reading: UnderlayReading | undefined, pins: UnderlayPins): UnderlayDecision {
  const name = baseline.iface;
  if (reading === undefined) return { kind: 'wait', reason: `the external interface ${name} is gone; waiting for it to come back` };
  const ext = selectExternalInterface([reading.v4], undefined, { iface: name });
  const v4 = ext.ok ? vxlanLocal(ext.ext, pins.publicIp) : ext;
  if (!v4.ok) {
    const has = reading.v4.addresses.map((a) => a.ip).join(', ') || 'no IPv4 address';
    return {
      kind: 'wait',
      reason: pins.publicIp !== undefined
        ? `--public-ip ${pins.publicIp} is not an address of ${name} any more (it has ${has}); still advertising it, waiting for it to come back`
        : `the external interface ${name} has ${has === 'no IPv4 address' ? 'no IPv4 address' : `no usable IPv4 address (${has})`}; waiting for one`,
    };
  }
  const publicIp = v4.local;
  const publicIpv6 = pins.ipv6 ? ipv6Address(baseline, reading.v6, name, pins.publicIpv6) : undefined;
  const index = reading.v4.index;
  const changes: string[] = [];
  if (baseline.index !== undefined && index !== baseline.index) changes.push(`${name} is a new interface (ifindex ${baseline.index} -> ${index})`);
  if (publicIp !== baseline.publicIp) changes.push(`address ${baseline.publicIp} -> ${publicIp}`);
  if (publicIpv6 !== baseline.publicIpv6) changes.push(`IPv6 address ${baseline.publicIpv6 ?? 'none'} -> ${publicIpv6 ?? 'none'}`);
  if (changes.length === 0) return { kind: 'none', index };
  const kind = baseline.index !== undefined && index !== baseline.index ? 're-create' : 're-address';
  return { kind, index, publicIp, publicIpv6, reason: changes.join('; ') };
}

/**
 * The IPv6 address to follow: the one chosen by the start-up rule, or the
 * baseline's while the interface has no usable one (an IPv6 address that
 * went away alone does not take this host's IPv6 endpoint out of its lease;
 * the IPv6 pass reports its trouble).
 */
function ipv6Address(baseline: UnderlayBaseline, v6: InterfaceAddresses6, name: string, pinned: Ipv6 | undefined): Ipv6 | undefined {
  const choice = selectExternalAddress6(v6, name, pinned);
  return choice.ok ? choice.ext.address : baseline.publicIpv6;
}

/**
 * What `weftctl status` says about the underlay when the lease's public IP
 * is not on the interface the device sits on (undefined when it is): weftd
 * follows a new address within a resync, and with `--public-ip` waits for
 * the flag's address to come back, so a problem that stays is the thing to
 * look at. `addresses` undefined: the interface is missing or has no IPv4
 * address.
 */
export function underlayAddressProblem(iface: string, addresses: readonly Ipv4[] | undefined, publicIp: Ipv4): string | undefined {
  if (addresses === undefined) return `the underlay interface ${iface} is missing or has no IPv4 address: weftd waits for it (the lease is kept)`;
  if (addresses.includes(publicIp)) return undefined;
  return `the lease's public IP ${publicIp} is not on ${iface} (it has ${addresses.join(', ')}): weftd follows a new address `
    + 'on its next check; with --public-ip it waits for that address to come back';
}
