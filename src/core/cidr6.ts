/**
 * IPv6 addresses and CIDR blocks as canonical strings (RFC 5952: lowercase,
 * the longest run of zero groups as `::`, which is also Go's
 * `net.IP.String()` and so what flanneld writes into lease keys and values),
 * so they work as Map keys and compare with ===. The 128-bit arithmetic is
 * ip-num's (BigInt underneath); nothing here does it by hand.
 */
import { IPv6, Validator, collapseIPv6Number } from 'ip-num';

/** A canonical IPv6 address, e.g. `fd00:0:0:5::`. */
export type Ipv6 = string & { readonly __brand: 'Ipv6' };
/** A network-aligned IPv6 CIDR block in canonical form, e.g. `fd00:0:0:5::/64`. */
export type Cidr6 = string & { readonly __brand: 'Cidr6' };

const BITS = 128n;
const HEXISH = /^[0-9A-Fa-f:.]+$/;

/**
 * Parses any textual IPv6 address (no zone index, no IPv4-mapped form) into
 * its canonical form; undefined when it is not one.
 */
export function parseIpv6(text: string): Ipv6 | undefined {
  if (isCanonicalText(text)) return text as Ipv6; // the kernel tools print canonical text: ~50x faster than ip-num
  if (text.length < 2 || text.length > 45 || !HEXISH.test(text) || text.includes('.')) return undefined;
  const [valid] = Validator.isValidIPv6String(text);
  if (!valid) return undefined;
  return ipv6FromBigInt(IPv6.fromString(text).getValue());
}

const GROUP = /^(0|[1-9a-f][0-9a-f]{0,3})$/;

/**
 * Whether `text` is already a canonical IPv6 address (RFC 5952), checked on
 * the text alone: lowercase groups without leading zeros, and `::` for the
 * longest run (at least two, the first of equal runs) of zero groups. A
 * kernel read checks ~15 000 addresses at 5000 peers; ip-num takes ~50 µs
 * for each. False only means "let ip-num decide".
 */
function isCanonicalText(text: string): boolean {
  if (text.length < 2 || text.length > 39) return false;
  const gap = text.indexOf('::');
  if (gap < 0) {
    const groups = text.split(':');
    return groups.length === 8 && groups.every((g) => GROUP.test(g)) && longestZeroRun(groups) < 2;
  }
  if (text.indexOf('::', gap + 1) >= 0) return false;
  const head = gap === 0 ? [] : text.slice(0, gap).split(':');
  const tail = gap + 2 === text.length ? [] : text.slice(gap + 2).split(':');
  const run = 8 - head.length - tail.length;
  if (run < 2 || !head.every((g) => GROUP.test(g)) || !tail.every((g) => GROUP.test(g))) return false;
  // Zero groups next to `::` belong in it; an equal run before it should have been the one compressed.
  if (head[head.length - 1] === '0' || tail[0] === '0') return false;
  return longestZeroRun(head) < run && longestZeroRun(tail) <= run;
}

function longestZeroRun(groups: readonly string[]): number {
  let longest = 0;
  let current = 0;
  for (const g of groups) {
    current = g === '0' ? current + 1 : 0;
    if (current > longest) longest = current;
  }
  return longest;
}

/** True when `text` is an IPv6 address already in canonical form (as keys and values must be compared). */
export function isCanonicalIpv6(text: string): text is Ipv6 {
  return parseIpv6(text) === text;
}

export function ipv6ToBigInt(ip: Ipv6): bigint {
  return IPv6.fromString(ip).getValue();
}

export function ipv6FromBigInt(value: bigint): Ipv6 {
  const v = ((value % (1n << BITS)) + (1n << BITS)) % (1n << BITS);
  return collapseIPv6Number(IPv6.fromBigInt(v).toString()) as Ipv6;
}

/** Number of addresses in a block of the given prefix length. */
export function blockSize6(prefixLength: number): bigint {
  return 1n << (BITS - BigInt(prefixLength));
}

export type Cidr6Parse =
  | { ok: true; cidr: Cidr6; ip: Ipv6; prefixLength: number }
  | { ok: false; reason: string };

/** Parses `<ipv6>/n`; with `requireAligned` (the default) host bits must be zero. */
export function parseCidr6(text: string, requireAligned = true): Cidr6Parse {
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, reason: `"${text}" is not in <ipv6>/n form` };
  const ip = parseIpv6(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (ip === undefined) return { ok: false, reason: `"${text.slice(0, slash)}" is not a valid IPv6 address` };
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > 128) {
    return { ok: false, reason: `"${lenText}" is not a prefix length between 0 and 128` };
  }
  const prefixLength = Number(lenText);
  const cidr = networkOf6(ip, prefixLength);
  if (requireAligned && cidr6Ip(cidr) !== ip) {
    return { ok: false, reason: `${text} has host bits set (the network address is ${cidr})` };
  }
  return { ok: true, cidr, ip, prefixLength };
}

/** The aligned block of `prefixLength` that contains `ip`. */
export function networkOf6(ip: Ipv6, prefixLength: number): Cidr6 {
  const size = blockSize6(prefixLength);
  return makeCidr6(ipv6FromBigInt((ipv6ToBigInt(ip) / size) * size), prefixLength);
}

export function makeCidr6(ip: Ipv6, prefixLength: number): Cidr6 {
  return `${ip}/${prefixLength}` as Cidr6;
}

export function cidr6Ip(cidr: Cidr6): Ipv6 {
  return cidr.slice(0, cidr.lastIndexOf('/')) as Ipv6;
}

export function cidr6Prefix(cidr: Cidr6): number {
  return Number(cidr.slice(cidr.lastIndexOf('/') + 1));
}

/** The address `offset` places into the block (0 is the network address). */
export function nthAddress6(cidr: Cidr6, offset: number): Ipv6 {
  return ipv6FromBigInt(ipv6ToBigInt(cidr6Ip(cidr)) + BigInt(offset));
}

export function containsCidr6(outer: Cidr6, inner: Cidr6): boolean {
  const outerLen = cidr6Prefix(outer);
  if (cidr6Prefix(inner) < outerLen) return false;
  return networkOf6(cidr6Ip(inner), outerLen) === outer;
}

export function containsIp6(outer: Cidr6, ip: Ipv6): boolean {
  return networkOf6(ip, cidr6Prefix(outer)) === outer;
}

/** True when the two blocks share any address. */
export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const len = Math.min(cidr6Prefix(a), cidr6Prefix(b));
  return networkOf6(cidr6Ip(a), len) === networkOf6(cidr6Ip(b), len);
}

/** Orders blocks by network address, then prefix length. */
export function compareCidr6(a: Cidr6, b: Cidr6): number {
  const x = ipv6ToBigInt(cidr6Ip(a));
  const y = ipv6ToBigInt(cidr6Ip(b));
  return x < y ? -1 : x > y ? 1 : cidr6Prefix(a) - cidr6Prefix(b);
}

/** Why `ip` is not a global unicast address a host can use on the underlay; undefined when it is one. */
export function ipv6UnicastProblem(ip: Ipv6): string | undefined {
  const v = ipv6ToBigInt(ip);
  const top16 = Number(v >> 112n);
  if (v === 0n) return `${ip} is the unspecified address`;
  if (v === 1n) return `${ip} is the loopback address`;
  if (top16 >> 8 === 0xff) return `${ip} is a multicast address`;
  if ((top16 & 0xffc0) === 0xfe80) return `${ip} is a link-local address (fe80::/10), which is not routable between hosts`;
  if (v >> 32n === 0xffffn) return `${ip} is an IPv4-mapped address; give the IPv4 address as the public IP instead`;
  return undefined;
}
