/**
 * Which subnet this host should hold, decided from the current lease list
 * (pure: randomness is a parameter). Order, as flannel's LocalManager:
 * this host's own lease, else the previous subnet from subnet.env if free,
 * else a random free subnet in [SubnetMin, SubnetMax].
 */
import { type Cidr, type Ipv4, cidrIp, cidrPrefix, intToIpv4, ipv4ToInt, makeCidr, overlaps, subnetStarts } from './cidr.js';
import type { Lease } from './lease.js';
import type { NetworkConfig } from './network-config.js';

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
  | { kind: 'claim'; subnet: Cidr; source: 'previous' | 'random' }
  | { kind: 'exhausted'; capacity: number; used: number };

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

export function decideAllocation(
  config: NetworkConfig,
  leases: readonly ListedLease[],
  self: Identity,
  previous: Cidr | undefined,
  random: () => number,
  /** Subnets whose keys exist but whose values could not be read: never free. */
  occupied: readonly Cidr[] = [],
): AllocationDecision {
  const own = leases.filter((l) => isOwnLease(l, self));
  const usable = own.find((l) => fitsConfig(l.subnet, config));
  if (usable) return { kind: 'reuse', lease: usable };
  const stale = own.find((l) => !l.reservation);
  if (stale) return { kind: 'remove-incompatible', lease: stale };

  const others: Lease[] = [...leases.filter((l) => !isOwnLease(l, self)), ...occupied.map(placeholder)];
  if (previous && fitsConfig(previous, config) && !others.some((l) => overlaps(l.subnet, previous))) {
    return { kind: 'claim', subnet: previous, source: 'previous' };
  }
  const free = freeSubnets(config, others);
  if (free.length === 0) {
    const capacity = subnetStarts(config.subnetMin, config.subnetMax, config.subnetLen).length;
    return { kind: 'exhausted', capacity, used: capacity - free.length };
  }
  const pick = free[Math.min(free.length - 1, Math.floor(random() * free.length))] ?? free[0];
  return { kind: 'claim', subnet: makeCidr(intToIpv4(pick ?? 0), config.subnetLen), source: 'random' };
}

function placeholder(subnet: Cidr): Lease {
  return { subnet, attrs: { publicIp: '0.0.0.0' as Ipv4, backendType: '', vni: undefined, vtepMac: undefined, nodeName: undefined } };
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
