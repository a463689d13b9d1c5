/**
 * The lease wire format, shared by every reader and writer: the etcd key
 * `<prefix>/subnets/A.B.C.D-LEN` (dual stack: `A.B.C.D-LEN&<ipv6>-LEN6`) and
 * flannel's lease value JSON (`PublicIP`, `PublicIPv6`, `BackendType`,
 * `BackendData`, `BackendV6Data`, in that order), plus weft's extra
 * `NodeName` (flannel ignores unknown fields).
 */
import { type Cidr, type Ipv4, cidrIp, cidrPrefix, isIpv4, parseCidr } from './cidr.js';
import { type Cidr6, type Ipv6, cidr6Ip, cidr6Prefix, parseCidr6, parseIpv6 } from './cidr6.js';
import { isObject, parseJsonObject } from './config-fields.js';
import { type Mac, parseMac } from './mac.js';
import { type WireguardLeaseData, WIREGUARD_BACKEND_TYPE, decodeWireguardLease } from './wireguard/lease-data.js';

/** A vxlan host's endpoint data for one family (flannel's `vxlanLeaseAttrs`). */
export interface VxlanData {
  readonly vni: number | undefined;
  readonly vtepMac: Mac;
}

export interface LeaseAttrs {
  readonly publicIp: Ipv4;
  /** `vxlan` for weft and flannel vxlan hosts; other flannel backends are kept but never programmed. */
  readonly backendType: string;
  readonly vni: number | undefined;
  readonly vtepMac: Mac | undefined;
  /** weft's node identity; undefined for leases written by flanneld. */
  readonly nodeName: string | undefined;
  /** The host's IPv6 underlay address (`PublicIPv6`); undefined (JSON null) on an IPv4-only host. */
  readonly publicIpv6?: Ipv6 | undefined;
  /** `BackendV6Data`: the IPv6 VXLAN device's VNI and MAC, when the host has one. */
  readonly backendV6?: VxlanData | undefined;
  /** A wireguard host's `BackendData` (flannel's `wireguardLeaseAttrs`): its public key and listen port. */
  readonly wireguard?: WireguardLeaseData | undefined;
  /** A wireguard host's `BackendV6Data` (flanneld on a dual-stack network); kept so the value round-trips, not programmed. */
  readonly wireguardV6?: WireguardLeaseData | undefined;
}

/** The subnets a lease key names: always an IPv4 one, and an IPv6 one on a dual-stack host. */
export interface LeaseSubnets {
  readonly subnet: Cidr;
  readonly subnetV6?: Cidr6 | undefined;
}

/** Just the subnets of a lease or parsed key, without an `undefined` IPv6 field (for leases built from it and for logs). */
export function leaseSubnets(l: { readonly subnet: Cidr; readonly subnetV6?: Cidr6 | undefined }): LeaseSubnets {
  return l.subnetV6 === undefined ? { subnet: l.subnet } : { subnet: l.subnet, subnetV6: l.subnetV6 };
}

export interface Lease extends LeaseSubnets {
  readonly attrs: LeaseAttrs;
}

/** `10.5.72.0/24` → `10.5.72.0-24`; with an IPv6 subnet `10.5.72.0-24&fd00:0:0:5::-64` (flannel's MakeSubnetKey). */
export function encodeSubnetKey(subnets: LeaseSubnets): string {
  const v4 = `${cidrIp(subnets.subnet)}-${cidrPrefix(subnets.subnet)}`;
  return subnets.subnetV6 === undefined ? v4 : `${v4}&${cidr6Ip(subnets.subnetV6)}-${cidr6Prefix(subnets.subnetV6)}`;
}

export type KeyParse = { ok: true; subnet: Cidr; subnetV6: Cidr6 | undefined } | { ok: false; reason: string };

/**
 * Parses the last path element of a lease key, flannel's rules: the IPv4
 * prefix length must be 0..31, the IPv6 one 0..127 (flannel's bit widths).
 * Stricter than flannel in one way: both parts must be network addresses in
 * canonical form (the form every writer produces), so a key is never read
 * two ways by two readers.
 */
export function decodeSubnetKey(key: string): KeyParse {
  const m = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})-(\d{1,2})(?:&([0-9a-f:]+)-(\d{1,3}))?$/.exec(key);
  if (!m) return { ok: false, reason: `"${key}" is not a subnet key like 10.5.72.0-24 or 10.5.72.0-24&fd00:0:0:5::-64` };
  const len = Number(m[2]);
  if (len > 31) return { ok: false, reason: `"${key}" has prefix length ${len}; it must be 0..31` };
  const parsed = parseCidr(`${m[1]}/${len}`);
  if (!parsed.ok) return { ok: false, reason: `"${key}": ${parsed.reason}` };
  if (m[3] === undefined) return { ok: true, subnet: parsed.cidr, subnetV6: undefined };
  const len6 = Number(m[4]);
  if (len6 > 127) return { ok: false, reason: `"${key}" has IPv6 prefix length ${len6}; it must be 0..127` };
  const v6 = parseCidr6(`${m[3]}/${len6}`);
  if (!v6.ok) return { ok: false, reason: `"${key}": ${v6.reason}` };
  if (cidr6Ip(v6.cidr) !== m[3]) {
    return { ok: false, reason: `"${key}": IPv6 part "${m[3]}" is not in canonical form (${cidr6Ip(v6.cidr)})` };
  }
  return { ok: true, subnet: parsed.cidr, subnetV6: v6.cidr };
}

/** Encodes lease attributes exactly as flanneld does (field order matters to byte-level readers). */
export function encodeLeaseValue(attrs: LeaseAttrs): string {
  const value: Record<string, unknown> = { PublicIP: attrs.publicIp, PublicIPv6: attrs.publicIpv6 ?? null };
  if (attrs.backendType !== '') value['BackendType'] = attrs.backendType;
  if (attrs.vtepMac !== undefined) value['BackendData'] = { VNI: attrs.vni ?? 1, VtepMAC: attrs.vtepMac };
  if (attrs.backendV6 !== undefined) value['BackendV6Data'] = { VNI: attrs.backendV6.vni ?? 1, VtepMAC: attrs.backendV6.vtepMac };
  if (attrs.wireguard !== undefined) value['BackendData'] = wireguardJson(attrs.wireguard);
  if (attrs.wireguardV6 !== undefined) value['BackendV6Data'] = wireguardJson(attrs.wireguardV6);
  if (attrs.nodeName !== undefined) value['NodeName'] = attrs.nodeName;
  return JSON.stringify(value);
}

export type ValueParse = { ok: true; attrs: LeaseAttrs } | { ok: false; reason: string };

/** flanneld's `{"PublicKey":…,"Port":…}`; a value read without a Port (flannel before v0.26.6) is written back without one. */
function wireguardJson(data: WireguardLeaseData): Record<string, unknown> {
  return data.port === undefined ? { PublicKey: data.publicKey } : { PublicKey: data.publicKey, Port: data.port };
}

/** Decodes a lease value written by weft or flanneld; explains what is wrong otherwise. */
export function decodeLeaseValue(text: string): ValueParse {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  const publicIp = v['PublicIP'];
  if (typeof publicIp !== 'string' || !isIpv4(publicIp) || publicIp === '0.0.0.0') {
    return { ok: false, reason: `PublicIP ${JSON.stringify(publicIp)} is not a valid IPv4 address` };
  }
  const backendType = v['BackendType'] ?? '';
  if (typeof backendType !== 'string') return { ok: false, reason: 'BackendType is not a string' };
  const nodeName = v['NodeName'];
  if (nodeName !== undefined && (typeof nodeName !== 'string' || nodeName === '')) {
    return { ok: false, reason: 'NodeName is not a non-empty string' };
  }
  let publicIpv6: Ipv6 | undefined;
  const rawV6 = v['PublicIPv6'];
  if (rawV6 !== undefined && rawV6 !== null) {
    // Go's net.IP marshals to its canonical text; anything else was not written by flanneld or weft.
    publicIpv6 = typeof rawV6 === 'string' ? parseIpv6(rawV6) : undefined;
    if (publicIpv6 === undefined || publicIpv6 !== rawV6) {
      return { ok: false, reason: `PublicIPv6 ${JSON.stringify(rawV6)} is not an IPv6 address in canonical form` };
    }
  }
  let vni: number | undefined;
  let vtepMac: Mac | undefined;
  let backendV6: VxlanData | undefined;
  if (backendType === 'vxlan') {
    const data = v['BackendData'];
    const v6Data = v['BackendV6Data'];
    // A flanneld host writes BackendData only with an IPv4 device; weft always has one.
    if (data === undefined || data === null) return { ok: false, reason: 'vxlan lease has no BackendData' };
    const d4 = vxlanData(data, 'BackendData');
    if (!d4.ok) return d4;
    vtepMac = d4.data.vtepMac;
    vni = d4.data.vni;
    if (v6Data !== undefined && v6Data !== null) {
      const d6 = vxlanData(v6Data, 'BackendV6Data');
      if (!d6.ok) return d6;
      backendV6 = d6.data;
    }
  }
  let wireguard: { v4: WireguardLeaseData | undefined; v6: WireguardLeaseData | undefined } | undefined;
  if (backendType === WIREGUARD_BACKEND_TYPE) {
    const decoded = decodeWireguardLease(v);
    if (!decoded.ok) return decoded;
    wireguard = decoded.data;
  }
  return {
    ok: true,
    attrs: {
      publicIp, backendType, vni, vtepMac, nodeName,
      ...(publicIpv6 !== undefined ? { publicIpv6 } : {}),
      ...(backendV6 !== undefined ? { backendV6 } : {}),
      ...(wireguard?.v4 !== undefined ? { wireguard: wireguard.v4 } : {}),
      ...(wireguard?.v6 !== undefined ? { wireguardV6: wireguard.v6 } : {}),
    },
  };
}

function vxlanData(raw: unknown, field: string): { ok: true; data: VxlanData } | { ok: false; reason: string } {
  if (!isObject(raw)) return { ok: false, reason: `${field} is not a JSON object` };
  const d = raw;
  const mac = typeof d['VtepMAC'] === 'string' ? parseMac(d['VtepMAC']) : undefined;
  if (!mac) return { ok: false, reason: `${field}.VtepMAC ${JSON.stringify(d['VtepMAC'])} is not a unicast MAC address` };
  return { ok: true, data: { vni: typeof d['VNI'] === 'number' ? d['VNI'] : undefined, vtepMac: mac } };
}

/** Two attribute sets describe the same data-plane endpoints and identity. */
export function sameAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return a.publicIp === b.publicIp && a.backendType === b.backendType && a.vni === b.vni
    && a.vtepMac === b.vtepMac && a.nodeName === b.nodeName && a.publicIpv6 === b.publicIpv6
    && a.backendV6?.vni === b.backendV6?.vni && a.backendV6?.vtepMac === b.backendV6?.vtepMac
    && a.wireguard?.publicKey === b.wireguard?.publicKey && a.wireguard?.port === b.wireguard?.port
    && a.wireguardV6?.publicKey === b.wireguardV6?.publicKey && a.wireguardV6?.port === b.wireguardV6?.port;
}

/** Two leases name the same subnets (the IPv6 one included). */
export function sameSubnets(a: LeaseSubnets, b: LeaseSubnets): boolean {
  return a.subnet === b.subnet && a.subnetV6 === b.subnetV6;
}
