/**
 * The lease wire format, shared by every reader and writer: the etcd key
 * `<prefix>/subnets/A.B.C.D-LEN` and flannel's lease value JSON, plus weft's
 * extra `NodeName` (flannel ignores unknown fields).
 */
import { type Cidr, type Ipv4, cidrIp, cidrPrefix, isIpv4, parseCidr } from './cidr.js';
import { type Mac, parseMac } from './mac.js';

export interface LeaseAttrs {
  readonly publicIp: Ipv4;
  /** `vxlan` for weft and flannel vxlan hosts; other flannel backends are kept but never programmed. */
  readonly backendType: string;
  readonly vni: number | undefined;
  readonly vtepMac: Mac | undefined;
  /** weft's node identity; undefined for leases written by flanneld. */
  readonly nodeName: string | undefined;
}

export interface Lease {
  readonly subnet: Cidr;
  readonly attrs: LeaseAttrs;
}

/** `10.5.72.0/24` → `10.5.72.0-24` (flannel's MakeSubnetKey). */
export function encodeSubnetKey(subnet: Cidr): string {
  return `${cidrIp(subnet)}-${cidrPrefix(subnet)}`;
}

export type KeyParse = { ok: true; subnet: Cidr } | { ok: false; reason: string };

/**
 * Parses the last path element of a lease key. A dual-stack flannel key
 * (`10.1.2.0-24&fd00::-64`) yields its IPv4 part; weft is IPv4-only.
 */
export function decodeSubnetKey(key: string): KeyParse {
  const m = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})-(\d{1,2})(?:&[0-9a-f:]+-\d{1,3})?$/.exec(key);
  if (!m) return { ok: false, reason: `"${key}" is not a subnet key like 10.5.72.0-24` };
  const len = Number(m[2]);
  if (len > 31) return { ok: false, reason: `"${key}" has prefix length ${len}; it must be 0..31` };
  const parsed = parseCidr(`${m[1]}/${len}`);
  if (!parsed.ok) return { ok: false, reason: `"${key}": ${parsed.reason}` };
  return { ok: true, subnet: parsed.cidr };
}

/** Encodes lease attributes exactly as flanneld does (field order matters to byte-level readers). */
export function encodeLeaseValue(attrs: LeaseAttrs): string {
  const value: Record<string, unknown> = { PublicIP: attrs.publicIp, PublicIPv6: null };
  if (attrs.backendType !== '') value['BackendType'] = attrs.backendType;
  if (attrs.vtepMac !== undefined) value['BackendData'] = { VNI: attrs.vni ?? 1, VtepMAC: attrs.vtepMac };
  if (attrs.nodeName !== undefined) value['NodeName'] = attrs.nodeName;
  return JSON.stringify(value);
}

export type ValueParse = { ok: true; attrs: LeaseAttrs } | { ok: false; reason: string };

/** Decodes a lease value written by weft or flanneld; explains what is wrong otherwise. */
export function decodeLeaseValue(text: string): ValueParse {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'value is not JSON' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'value is not a JSON object' };
  const v = raw as Record<string, unknown>;
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
  let vni: number | undefined;
  let vtepMac: Mac | undefined;
  const data = v['BackendData'];
  if (backendType === 'vxlan') {
    if (typeof data !== 'object' || data === null) return { ok: false, reason: 'vxlan lease has no BackendData' };
    const d = data as Record<string, unknown>;
    const mac = typeof d['VtepMAC'] === 'string' ? parseMac(d['VtepMAC']) : undefined;
    if (!mac) return { ok: false, reason: `BackendData.VtepMAC ${JSON.stringify(d['VtepMAC'])} is not a unicast MAC address` };
    vtepMac = mac;
    vni = typeof d['VNI'] === 'number' ? d['VNI'] : undefined;
  }
  return { ok: true, attrs: { publicIp, backendType, vni, vtepMac, nodeName } };
}

/** Two attribute sets describe the same data-plane endpoint and identity. */
export function sameAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return a.publicIp === b.publicIp && a.backendType === b.backendType && a.vni === b.vni
    && a.vtepMac === b.vtepMac && a.nodeName === b.nodeName;
}
