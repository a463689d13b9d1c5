/**
 * IPv4 addresses and CIDR blocks as canonical strings (so they work as Map
 * keys and compare with ===), plus the little arithmetic the lease logic needs.
 * Validation is one regular expression, not ip-num's validator: every kernel
 * read checks ~15 000 addresses at 5000 peers, and ip-num's check plus the
 * canonical-form round trip cost ~2 µs each (a regex test ~0.1 µs).
 */

/** A dotted-quad IPv4 address in canonical form, e.g. `10.5.72.1`. */
export type Ipv4 = string & { readonly __brand: 'Ipv4' };
/** A network-aligned IPv4 CIDR block, e.g. `10.5.72.0/24`. */
export type Cidr = string & { readonly __brand: 'Cidr' };

const MAX = 2 ** 32;

/** Four decimal octets 0-255 without leading zeros: exactly the canonical dotted quads. */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** True when `text` is a canonical dotted-quad IPv4 address. */
export function isIpv4(text: string): text is Ipv4 {
  return IPV4.test(text);
}

/** Parses a dotted quad; returns undefined when it is not one. */
export function parseIpv4(text: string): Ipv4 | undefined {
  return isIpv4(text) ? text : undefined;
}

/** Digit by digit, allocating nothing: kernel reads call this for every route. */
export function ipv4ToInt(ip: Ipv4): number {
  let value = 0;
  let octet = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46 /* '.' */) {
      value = value * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (c - 48);
    }
  }
  return value * 256 + octet;
}

export function intToIpv4(value: number): Ipv4 {
  const v = ((value % MAX) + MAX) % MAX;
  return `${Math.floor(v / 16777216)}.${Math.floor(v / 65536) % 256}.${Math.floor(v / 256) % 256}.${v % 256}` as Ipv4;
}

/** Number of addresses in a block of the given prefix length. */
export function blockSize(prefixLength: number): number {
  return 2 ** (32 - prefixLength);
}

export type CidrParse =
  | { ok: true; cidr: Cidr; ip: Ipv4; prefixLength: number }
  | { ok: false; reason: string };

/**
 * Parses `a.b.c.d/n`. With `requireAligned` (the default) host bits must be
 * zero, because a lease or network with host bits set is always a mistake.
 */
export function parseCidr(text: string, requireAligned = true): CidrParse {
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, reason: `"${text}" is not in a.b.c.d/n form` };
  const ip = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  if (!isIpv4(ip)) return { ok: false, reason: `"${ip}" is not a valid IPv4 address` };
  if (!/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) {
    return { ok: false, reason: `"${lenText}" is not a prefix length between 0 and 32` };
  }
  const prefixLength = Number(lenText);
  const base = ipv4ToInt(ip);
  if (requireAligned && base % blockSize(prefixLength) !== 0) {
    return { ok: false, reason: `${text} has host bits set (the network address is ${networkOf(ip, prefixLength)})` };
  }
  // An aligned block is its own network: skip rebuilding the string (hot when parsing kernel dumps).
  const cidr = base % blockSize(prefixLength) === 0 ? `${ip}/${prefixLength}` as Cidr : networkOf(ip, prefixLength);
  return { ok: true, cidr, ip, prefixLength };
}

/** The aligned block of `prefixLength` that contains `ip`. */
export function networkOf(ip: Ipv4, prefixLength: number): Cidr {
  const size = blockSize(prefixLength);
  return `${intToIpv4(Math.floor(ipv4ToInt(ip) / size) * size)}/${prefixLength}` as Cidr;
}

/** Builds a Cidr from parts known to be valid and aligned. */
export function makeCidr(ip: Ipv4, prefixLength: number): Cidr {
  return `${ip}/${prefixLength}` as Cidr;
}

export function cidrIp(cidr: Cidr): Ipv4 {
  return cidr.slice(0, cidr.indexOf('/')) as Ipv4;
}

export function cidrPrefix(cidr: Cidr): number {
  return Number(cidr.slice(cidr.indexOf('/') + 1));
}

/** The address `offset` places into the block (0 is the network address). */
export function nthAddress(cidr: Cidr, offset: number): Ipv4 {
  return intToIpv4(ipv4ToInt(cidrIp(cidr)) + offset);
}

/** True when `inner` lies entirely inside `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  const outerLen = cidrPrefix(outer);
  if (cidrPrefix(inner) < outerLen) return false;
  return networkOf(cidrIp(inner), outerLen) === outer;
}

export function containsIp(outer: Cidr, ip: Ipv4): boolean {
  return networkOf(ip, cidrPrefix(outer)) === outer;
}

/** True when the two blocks share any address (equal under the shorter mask). */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const len = Math.min(cidrPrefix(a), cidrPrefix(b));
  return networkOf(cidrIp(a), len) === networkOf(cidrIp(b), len);
}

/**
 * The subnets of length `subnetLength` from `first` to `last` inclusive, as
 * integers of their network address (cheap to build for 65536 entries).
 */
export function subnetStarts(first: Ipv4, last: Ipv4, subnetLength: number): number[] {
  const step = blockSize(subnetLength);
  const out: number[] = [];
  for (let v = ipv4ToInt(first); v <= ipv4ToInt(last); v += step) out.push(v);
  return out;
}

/** Orders blocks by network address, then by prefix length (for tables and reports). */
export function compareCidr(a: Cidr, b: Cidr): number {
  return ipv4ToInt(cidrIp(a)) - ipv4ToInt(cidrIp(b)) || cidrPrefix(a) - cidrPrefix(b);
}
