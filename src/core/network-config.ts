/**
 * The network config stored at `<prefix>/config`, parsed with flannel's rules
 * (pkg/subnet/config.go): keys are case-insensitive, unknown keys are ignored,
 * defaults are applied, and every problem is reported at once.
 *
 * One deliberate difference: flannel defaults a missing `Backend` to `udp`;
 * weft implements vxlan and wireguard and defaults to vxlan.
 */
import { type ChecksumOffload, DEFAULT_CHECKSUM_OFFLOAD, parseChecksumOffload } from './checksum-offload.js';
import {
  type Cidr, type Ipv4, blockSize, cidrIp, cidrPrefix, containsIp, intToIpv4, ipv4ToInt, isIpv4, parseCidr,
} from './cidr.js';
import {
  type Cidr6, type Ipv6, blockSize6, cidr6Ip, cidr6Prefix, containsIp6, ipv6FromBigInt, ipv6ToBigInt, parseCidr6, parseIpv6,
} from './cidr6.js';
import { type Fields, boolField, intField, isObject, lowerKeys } from './config-fields.js';
import { type WireguardBackend, isWireguardBackend, parseWireguardBackend, wireguardDualStackProblem, renderWireguardBackend } from './wireguard/backend-config.js';

export type { WireguardBackend } from './wireguard/backend-config.js';

export interface VxlanBackend {
  readonly type: 'vxlan';
  readonly vni: number;
  readonly port: number;
  /** Underlay MTU override; the device gets `mtu - 50`. */
  readonly mtu: number | undefined;
  readonly gbp: boolean;
  readonly directRouting: boolean;
  /** TX checksum offload on the device (src/core/checksum-offload.ts; default `off`, docs/design.md). */
  readonly checksumOffload: ChecksumOffload;
}

/** The data plane a network uses (`Backend.Type`): each host runs the one its network names. */
export type Backend = VxlanBackend | WireguardBackend;

/** The network's backend when it is vxlan; undefined for another type (vxlan-only readers check it). */
export function vxlanBackendOf(config: NetworkConfig): VxlanBackend | undefined {
  return config.backend.type === 'vxlan' ? config.backend : undefined;
}

/** DirectRouting is asked for (a vxlan network with `Backend.DirectRouting`). */
export function directRoutingOn(config: NetworkConfig): boolean {
  return vxlanBackendOf(config)?.directRouting === true;
}

/** The network's backend as vxlan, for code that runs only on a vxlan network; throws otherwise (a wiring bug, not bad input). */
export function requireVxlan(config: NetworkConfig): VxlanBackend {
  const backend = vxlanBackendOf(config);
  if (backend === undefined) throw new Error(`this network's backend is ${config.backend.type}, not vxlan`);
  return backend;
}

/** The UDP port this network's tunnels use: the VXLAN port, or WireGuard's listen port. */
export function backendPort(config: NetworkConfig): number {
  return config.backend.type === 'vxlan' ? config.backend.port : config.backend.listenPort;
}

/** One phrase for logs and reports, e.g. `VNI 1, port 8472` or `wireguard, listen port 51820`. */
export function backendSummary(config: NetworkConfig): string {
  return config.backend.type === 'vxlan' ? `VNI ${config.backend.vni}, port ${config.backend.port}` : `wireguard, listen port ${config.backend.listenPort}`;
}

/** The underlay MTU override of either backend (`Backend.MTU`), or undefined. */
export function backendUnderlayMtu(config: NetworkConfig): number | undefined {
  return config.backend.mtu;
}

/** The IPv6 half of a dual-stack network (`EnableIPv6: true`). */
export interface Ipv6Network {
  readonly network: Cidr6;
  readonly subnetLen: number;
  readonly subnetMin: Ipv6;
  readonly subnetMax: Ipv6;
}

export interface NetworkConfig {
  readonly network: Cidr;
  readonly subnetLen: number;
  readonly subnetMin: Ipv4;
  readonly subnetMax: Ipv4;
  readonly backend: Backend;
  /** Present when `EnableIPv6` is true: every host leases an IPv6 subnet with its IPv4 one. */
  readonly ipv6?: Ipv6Network | undefined;
}

export type ConfigParse =
  | { ok: true; config: NetworkConfig; warnings: readonly string[] }
  | { ok: false; errors: readonly string[] };

export const DEFAULT_VNI = 1;
/** The largest VNI whose IPv6 device name, `weft-v6.<VNI>`, fits in 15 characters. */
export const MAX_VNI_IPV6 = 9_999_999;
export const DEFAULT_PORT = 8472;
/** VXLAN over IPv4 adds 50 bytes: outer IP 20, UDP 8, VXLAN 8, inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;
/**
 * VXLAN over IPv6 adds 70 (outer IPv6 header 40). The kernel caps an IPv6
 * VXLAN device at underlay MTU − 70, silently, where flannel asks for − 50.
 */
export const VXLAN6_OVERHEAD = 70;

/** The fields that only mean something with `EnableIPv6: true`. */
const IPV6_FIELDS = ['IPv6Network', 'IPv6SubnetLen', 'IPv6SubnetMin', 'IPv6SubnetMax'] as const;

/** Parses the config text (JSON) into a fully defaulted, frozen config. */
export function parseNetworkConfigText(text: string): ConfigParse {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`config is not valid JSON: ${(err as Error).message}`] };
  }
  return parseNetworkConfig(raw);
}

export function parseNetworkConfig(raw: unknown): ConfigParse {
  if (!isObject(raw)) return { ok: false, errors: ['config must be a JSON object'] };
  const fields = lowerKeys(raw);
  const errors: string[] = [];
  const warnings: string[] = [];

  const enableIpv4 = boolField(fields, 'enableipv4', 'EnableIPv4', errors, true);
  const enableIpv6 = boolField(fields, 'enableipv6', 'EnableIPv6', errors);
  if (!enableIpv4) {
    errors.push('EnableIPv4: false (an IPv6-only network) is not supported: weft, like flannel in etcd mode, leases an IPv4 subnet '
      + 'to every host; use a dual-stack network (EnableIPv4 and EnableIPv6 both true)');
  }
  if (fields.get('enablenftables') === true) warnings.push('EnableNFTables is ignored: weft uses iptables');

  const network = parseNetwork(fields.get('network'), errors);
  const subnetLen = network ? parseSubnetLen(fields.get('subnetlen'), cidrPrefix(network), errors) : undefined;
  let subnetMin: Ipv4 | undefined;
  let subnetMax: Ipv4 | undefined;
  if (network && subnetLen !== undefined) {
    const size = blockSize(subnetLen);
    const base = ipv4ToInt(cidrIp(network));
    subnetMin = parseBound('SubnetMin', fields.get('subnetmin'), intToIpv4(base + size), network, subnetLen, errors);
    subnetMax = parseBound('SubnetMax', fields.get('subnetmax'),
      intToIpv4(base + blockSize(cidrPrefix(network)) - size), network, subnetLen, errors);
    if (subnetMin && subnetMax && ipv4ToInt(subnetMin) > ipv4ToInt(subnetMax)) {
      errors.push(`SubnetMin ${subnetMin} is above SubnetMax ${subnetMax}`);
    }
  }
  const backend = parseBackend(fields.get('backend'), errors, warnings);
  let ipv6: Ipv6Network | undefined;
  if (enableIpv6) ipv6 = parseIpv6Network(fields, errors);
  else {
    const ignored = IPV6_FIELDS.filter((name) => { const v = fields.get(name.toLowerCase()); return v !== undefined && v !== '' && v !== 0; });
    if (ignored.length > 0) warnings.push(`${ignored.join(', ')} ${ignored.length === 1 ? 'is' : 'are'} ignored: EnableIPv6 is not true`);
  }
  if (backend?.type === 'wireguard') {
    const problem = wireguardDualStackProblem(backend, enableIpv6);
    if (problem !== undefined) errors.push(problem);
  }
  if (enableIpv6 && backend?.type === 'vxlan' && backend.vni > MAX_VNI_IPV6) {
    // weft-v6.<VNI> must fit the kernel's 15-character interface names (flannel-v6.<VNI> fails from VNI 100000 at link creation).
    errors.push(`Backend.VNI ${backend.vni} is too large with EnableIPv6: the IPv6 device weft-v6.${backend.vni} would exceed the kernel's `
      + `15-character interface names; use a VNI up to ${MAX_VNI_IPV6}`);
  }

  if (errors.length > 0 || !network || subnetLen === undefined || !subnetMin || !subnetMax || !backend) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    config: Object.freeze({ network, subnetLen, subnetMin, subnetMax, backend, ...(ipv6 ? { ipv6: Object.freeze(ipv6) } : {}) }),
    warnings,
  };
}

/** `IPv6Network`, `IPv6SubnetLen`, `IPv6SubnetMin`, `IPv6SubnetMax` with flannel's defaults and checks. */
function parseIpv6Network(fields: Fields, errors: string[]): Ipv6Network | undefined {
  const value = fields.get('ipv6network');
  if (value === undefined || value === '') {
    errors.push('IPv6Network is missing: EnableIPv6 is true, so please define a correct IPv6Network parameter (e.g. "fd00:10::/48")');
    return undefined;
  }
  if (typeof value !== 'string') {
    errors.push(`IPv6Network must be a string like "fd00:10::/48", got ${JSON.stringify(value)}`);
    return undefined;
  }
  const parsed = parseCidr6(value);
  if (!parsed.ok) {
    errors.push(`IPv6Network "${value}" is invalid: ${parsed.reason}`);
    return undefined;
  }
  const network = parsed.cidr;
  const prefix = cidr6Prefix(network);
  const subnetLen = parseIpv6SubnetLen(fields.get('ipv6subnetlen'), prefix, errors);
  if (subnetLen === undefined) return undefined;
  const size = blockSize6(subnetLen);
  const base = ipv6ToBigInt(cidr6Ip(network));
  const subnetMin = parseBound6('IPv6SubnetMin', fields.get('ipv6subnetmin'), ipv6FromBigInt(base + size), network, subnetLen, errors);
  const subnetMax = parseBound6('IPv6SubnetMax', fields.get('ipv6subnetmax'),
    ipv6FromBigInt(base + blockSize6(prefix) - size), network, subnetLen, errors);
  if (!subnetMin || !subnetMax) return undefined;
  if (ipv6ToBigInt(subnetMin) > ipv6ToBigInt(subnetMax)) {
    errors.push(`IPv6SubnetMin ${subnetMin} is above IPv6SubnetMax ${subnetMax}`);
    return undefined;
  }
  return { network, subnetLen, subnetMin, subnetMax };
}

function parseIpv6SubnetLen(value: unknown, prefix: number, errors: string[]): number | undefined {
  if (value === undefined || value === 0) {
    if (prefix <= 62) return 64;
    if (prefix <= 124) return prefix + 2;
    errors.push(`IPv6Network prefix /${prefix} is too small: the minimum useful IPv6 network prefix is /124`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    errors.push(`IPv6SubnetLen must be a whole number, got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (value > 126) {
    errors.push(`IPv6SubnetLen ${value} is invalid: IPv6SubnetLen must be less than /127`);
    return undefined;
  }
  if (value < prefix + 2) {
    errors.push(`IPv6SubnetLen ${value} is invalid: a /${prefix} IPv6 network must be able to accommodate at least four subnets (IPv6SubnetLen >= ${prefix + 2})`);
    return undefined;
  }
  return value;
}

function parseBound6(name: string, value: unknown, fallback: Ipv6, network: Cidr6, subnetLen: number,
  errors: string[]): Ipv6 | undefined {
  if (value === undefined || value === '') return fallback;
  const ip = typeof value === 'string' ? parseIpv6(value) : undefined;
  if (ip === undefined) {
    errors.push(`${name} must be an IPv6 address like "fd00:10:0:1::", got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (!containsIp6(network, ip)) {
    errors.push(`${name} ${ip} is not inside IPv6Network ${network}`);
    return undefined;
  }
  if (ipv6ToBigInt(ip) % blockSize6(subnetLen) !== 0n) {
    errors.push(`${name} ${ip} is not aligned to IPv6SubnetLen /${subnetLen}`);
    return undefined;
  }
  return ip;
}

function parseNetwork(value: unknown, errors: string[]): Cidr | undefined {
  if (value === undefined || value === '') {
    errors.push('Network is missing: please define a correct Network parameter (e.g. "10.5.0.0/16")');
    return undefined;
  }
  if (typeof value !== 'string') {
    errors.push(`Network must be a string like "10.5.0.0/16", got ${JSON.stringify(value)}`);
    return undefined;
  }
  const parsed = parseCidr(value);
  if (!parsed.ok) {
    errors.push(`Network "${value}" is invalid: ${parsed.reason}`);
    return undefined;
  }
  return parsed.cidr;
}

function parseSubnetLen(value: unknown, prefix: number, errors: string[]): number | undefined {
  if (value === undefined || value === 0) {
    if (prefix <= 22) return 24;
    if (prefix <= 28) return prefix + 2;
    errors.push(`Network prefix /${prefix} is too small: the minimum useful network prefix is /28`);
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    errors.push(`SubnetLen must be a whole number, got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (value > 30) {
    errors.push(`SubnetLen ${value} is invalid: SubnetLen must be less than /31`);
    return undefined;
  }
  if (value < prefix + 2) {
    errors.push(`SubnetLen ${value} is invalid: a /${prefix} network must be able to accommodate at least four subnets (SubnetLen >= ${prefix + 2})`);
    return undefined;
  }
  return value;
}

function parseBound(name: string, value: unknown, fallback: Ipv4, network: Cidr, subnetLen: number,
  errors: string[]): Ipv4 | undefined {
  if (value === undefined || value === '') return fallback;
  if (typeof value !== 'string' || !isIpv4(value)) {
    errors.push(`${name} must be an IPv4 address like "10.5.1.0", got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (!containsIp(network, value)) {
    errors.push(`${name} ${value} is not inside Network ${network}`);
    return undefined;
  }
  if (ipv4ToInt(value) % blockSize(subnetLen) !== 0) {
    errors.push(`${name} ${value} is not aligned to SubnetLen /${subnetLen}`);
    return undefined;
  }
  return value;
}

function parseBackend(value: unknown, errors: string[], warnings: string[]): Backend | undefined {
  if (isWireguardBackend(value)) {
    const before = errors.length;
    const backend = parseWireguardBackend(value, errors, warnings);
    return errors.length > before ? undefined : backend;
  }
  const defaults: VxlanBackend = { type: 'vxlan', vni: DEFAULT_VNI, port: DEFAULT_PORT, mtu: undefined, gbp: false, directRouting: false,
    checksumOffload: DEFAULT_CHECKSUM_OFFLOAD };
  if (value === undefined || value === null) return defaults;
  if (!isObject(value)) {
    errors.push(`Backend must be an object like {"Type":"vxlan"}, got ${JSON.stringify(value)}`);
    return undefined;
  }
  const fields = lowerKeys(value);
  const before = errors.length;
  const type = fields.get('type');
  if (typeof type !== 'string' || type.toLowerCase() !== 'vxlan') {
    errors.push(type === undefined || type === ''
      ? 'Backend.Type is missing: weft supports "vxlan" and "wireguard"'
      : `Backend.Type ${JSON.stringify(type)} is not supported: weft supports "vxlan" and "wireguard"`);
  }
  const vni = intField(fields, 'vni', 'Backend.VNI', 0, 16777215, errors) ?? 0;
  const port = intField(fields, 'port', 'Backend.Port', 0, 65535, errors) ?? 0;
  const mtu = intField(fields, 'mtu', 'Backend.MTU', 0, 65535, errors);
  if (mtu !== undefined && mtu !== 0 && mtu < 68 + VXLAN_OVERHEAD) {
    errors.push(`Backend.MTU ${mtu} is too small: the underlay MTU must be at least ${68 + VXLAN_OVERHEAD}`);
  }
  const gbp = boolField(fields, 'gbp', 'Backend.GBP', errors);
  const directRouting = boolField(fields, 'directrouting', 'Backend.DirectRouting', errors);
  const checksumOffload = parseChecksumOffload(fields.get('checksumoffload'), errors);
  if (boolField(fields, 'learning', 'Backend.Learning', errors)) warnings.push('Backend.Learning is ignored: weft keeps learning off');
  if (errors.length > before) return undefined;
  return {
    type: 'vxlan',
    vni: vni === 0 ? DEFAULT_VNI : vni,
    port: port === 0 ? DEFAULT_PORT : port,
    mtu: mtu === 0 ? undefined : mtu,
    gbp,
    directRouting,
    checksumOffload,
  };
}

function renderVxlanBackend(vxlan: VxlanBackend): Record<string, unknown> {
  const backend: Record<string, unknown> = { Type: 'vxlan', VNI: vxlan.vni, Port: vxlan.port };
  if (vxlan.mtu !== undefined) backend['MTU'] = vxlan.mtu;
  if (vxlan.gbp) backend['GBP'] = true;
  if (vxlan.directRouting) backend['DirectRouting'] = true;
  backend['ChecksumOffload'] = vxlan.checksumOffload;
  return backend;
}

/** How many subnets [SubnetMin, SubnetMax] holds. */
export function subnetCapacity(config: NetworkConfig): number {
  return (ipv4ToInt(config.subnetMax) - ipv4ToInt(config.subnetMin)) / blockSize(config.subnetLen) + 1;
}

/** Renders a config back to flannel-style JSON (for `weftctl config get`). */
export function renderNetworkConfig(config: NetworkConfig, options: { redactPsk?: boolean } = {}): string {
  const backend = config.backend.type === 'wireguard' ? renderWireguardBackend(config.backend, options) : renderVxlanBackend(config.backend);
  const v6 = config.ipv6 === undefined ? {} : {
    EnableIPv6: true, IPv6Network: config.ipv6.network, IPv6SubnetLen: config.ipv6.subnetLen,
    IPv6SubnetMin: config.ipv6.subnetMin, IPv6SubnetMax: config.ipv6.subnetMax,
  };
  return JSON.stringify({
    Network: config.network, SubnetLen: config.subnetLen, SubnetMin: config.subnetMin, SubnetMax: config.subnetMax, ...v6, Backend: backend,
  });
}
