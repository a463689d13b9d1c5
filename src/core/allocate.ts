/**
 * Which subnet this host should hold, decided from the current lease list
 * (pure: randomness is a parameter). Order, as flannel's LocalManager:
 * this host's own lease, else the previous subnet from subnet.env if free,
 * else a random free subnet in [SubnetMin, SubnetMax].
 */
import { type Cidr, type Ipv4, cidrIp, cidrPrefix, intToIpv4, ipv4ToInt, makeCidr, overlaps, subnetStarts } from './cidr.js';
import {
  type Cidr6, blockSize6, cidr6Ip, cidr6Prefix, ipv6FromBigInt, ipv6ToBigInt, makeCidr6, overlaps6,
} from './cidr6.js';
import type { Lease, LeaseSubnets } from './lease.js';
import type { Ipv6Network, NetworkConfig } from './network-config.js';

/** A lease as read from the registry: the lease plus whether it carries a TTL. */
export interface ListedLease extends Lease {
  /** A key with no etcd lease attached: it never expires and is never given away. */
  readonly reservation: boolean;
}

export interface Identity {
  readonly nodeName: string;
  readonly publicIp: Ipv4;
}

export type AllocationDecision =
  | { kind: 'reuse'; lease: ListedLease }
  | { kind: 'remove-incompatible'; lease: ListedLease }
  | { kind: 'claim'; subnet: Cidr; subnetV6: Cidr6 | undefined; source: 'previous' | 'random' }
  | { kind: 'exhausted'; family: 'IPv4' | 'IPv6'; capacity: number | undefined; used: number | undefined };

/** True when the lease belongs to this host: same NodeName, or (flannel-written) same PublicIP. */
export function isOwnLease(lease: Lease, self: Identity): boolean {
  if (lease.attrs.nodeName !== undefined) return lease.attrs.nodeName === self.nodeName;
  return lease.attrs.publicIp === self.publicIp;
}

/** True when the subnet has the configured length and lies in [SubnetMin, SubnetMax]. */
export function fitsConfig(subnet: Cidr, config: NetworkConfig): boolean {
  const ip = ipv4ToInt(cidrIp(subnet));
  return cidrPrefix(subnet) === config.subnetLen
    && ip >= ipv4ToInt(config.subnetMin) && ip <= ipv4ToInt(config.subnetMax);
}

/** The IPv6 twin of `fitsConfig`: the IPv6SubnetLen, inside [IPv6SubnetMin, IPv6SubnetMax]. */
export function fitsIpv6(subnet: Cidr6, v6: Ipv6Network): boolean {
  const ip = ipv6ToBigInt(cidr6Ip(subnet));
  return cidr6Prefix(subnet) === v6.subnetLen && ip >= ipv6ToBigInt(v6.subnetMin) && ip <= ipv6ToBigInt(v6.subnetMax);
}

/**
 * A lease's subnets fit the config (flannel's rule): the IPv4 one fits, and
 * the IPv6 one fits when IPv6 is enabled, or is absent when it is not.
 */
export function leaseFitsConfig(lease: LeaseSubnets, config: NetworkConfig): boolean {
  if (!fitsConfig(lease.subnet, config)) return false;
  if (config.ipv6 === undefined) return lease.subnetV6 === undefined;
  return lease.subnetV6 !== undefined && fitsIpv6(lease.subnetV6, config.ipv6);
}

export function decideAllocation(
  config: NetworkConfig,
  leases: readonly ListedLease[],
  self: Identity,
  /** The subnets subnet.env named (either may be absent). */
  previous: { readonly subnet?: Cidr | undefined; readonly subnetV6?: Cidr6 | undefined } | undefined,
  random: () => number,
  /** Subnets whose keys exist but whose values could not be read: never free. */
  occupied: readonly LeaseSubnets[] = [],
): AllocationDecision {
  const own = leases.filter((l) => isOwnLease(l, self));
  const usable = own.find((l) => leaseFitsConfig(l, config));
  if (usable) return { kind: 'reuse', lease: usable };
  const stale = own.find((l) => !l.reservation);
  if (stale) return { kind: 'remove-incompatible', lease: stale };

  const others: Lease[] = [...leases.filter((l) => !isOwnLease(l, self)), ...occupied.map(placeholder)];
  let subnet: Cidr;
  let source: 'previous' | 'random' = 'previous';
  const prev4 = previous?.subnet;
  if (prev4 && fitsConfig(prev4, config) && !others.some((l) => overlaps(l.subnet, prev4))) {
    subnet = prev4;
  } else {
    const free = freeSubnets(config, others);
    if (free.length === 0) {
      const capacity = subnetStarts(config.subnetMin, config.subnetMax, config.subnetLen).length;
      return { kind: 'exhausted', family: 'IPv4', capacity, used: capacity - free.length };
    }
    const pick = free[Math.min(free.length - 1, Math.floor(random() * free.length))] ?? free[0];
    subnet = makeCidr(intToIpv4(pick ?? 0), config.subnetLen);
    source = 'random';
  }
  if (config.ipv6 === undefined) return { kind: 'claim', subnet, subnetV6: undefined, source };
  const prev6 = previous?.subnetV6;
  if (prev6 && fitsIpv6(prev6, config.ipv6) && !others.some((l) => l.subnetV6 !== undefined && overlaps6(l.subnetV6, prev6))) {
    return { kind: 'claim', subnet, subnetV6: prev6, source };
  }
  const free6 = freeIpv6Subnets(config.ipv6, others);
  if (free6.length === 0) return { kind: 'exhausted', family: 'IPv6', capacity: undefined, used: undefined };
  const pick6 = free6[Math.min(free6.length - 1, Math.floor(random() * free6.length))] ?? free6[0];
  return { kind: 'claim', subnet, subnetV6: pick6, source: 'random' };
}

function placeholder(subnets: LeaseSubnets): Lease {
  return { ...subnets, attrs: { publicIp: '0.0.0.0' as Ipv4, backendType: '', vni: undefined, vtepMac: undefined, nodeName: undefined } };
}

/** flannel's candidate count: the IPv6 pick is random among the first free subnets from IPv6SubnetMin. */
export const IPV6_CANDIDATES = 100;

/**
 * Up to `IPV6_CANDIDATES` free IPv6 subnets, walking up from IPv6SubnetMin
 * (an IPv6 range can hold 2^64 subnets: flannel walks the same way). A lease
 * of another length blocks every candidate it overlaps.
 */
export function freeIpv6Subnets(v6: Ipv6Network, leases: readonly Lease[]): Cidr6[] {
  const taken = leases.flatMap((l) => (l.subnetV6 === undefined ? [] : [l.subnetV6]));
  const sameLength = new Set<bigint>();
  const odd: Cidr6[] = [];
  for (const t of taken) {
    if (cidr6Prefix(t) === v6.subnetLen) sameLength.add(ipv6ToBigInt(cidr6Ip(t)));
    else odd.push(t);
  }
  const step = blockSize6(v6.subnetLen);
  const last = ipv6ToBigInt(v6.subnetMax);
  const out: Cidr6[] = [];
  // Each taken subnet can push the walk one step further; beyond that, candidates are free.
  for (let v = ipv6ToBigInt(v6.subnetMin); v <= last && out.length < IPV6_CANDIDATES; v += step) {
    if (sameLength.has(v)) continue;
    const candidate = makeCidr6(ipv6FromBigInt(v), v6.subnetLen);
    if (odd.some((o) => overlaps6(o, candidate))) continue;
    out.push(candidate);
  }
  return out;
}

/**
 * Network addresses (as integers) of every subnet in range that no lease
 * overlaps: cautious, so a refused `/25` still keeps its `/24`, and an old
 * `/22` from before a SubnetLen change keeps its four `/24`s. The one
 * exception is a key whose block holds the whole network (`10.5.0.0-16` in
 * 10.5.0.0/16): no allocator ever hands that out, and counting it would let
 * one stray key make the network look exhausted to every new host.
 */
export function freeSubnets(config: NetworkConfig, leases: readonly Lease[]): number[] {
  const sameLength = new Set<number>();
  const odd: Lease[] = [];
  const networkPrefix = cidrPrefix(config.network);
  for (const l of leases) {
    const prefix = cidrPrefix(l.subnet);
    if (prefix === config.subnetLen) sameLength.add(ipv4ToInt(cidrIp(l.subnet)));
    else if (prefix > networkPrefix) odd.push(l);
  }
  return subnetStarts(config.subnetMin, config.subnetMax, config.subnetLen).filter((start) => {
    if (sameLength.has(start)) return false;
    if (odd.length === 0) return true;
    const candidate = makeCidr(intToIpv4(start), config.subnetLen);
    return !odd.some((l) => overlaps(l.subnet, candidate));
  });
}
