/**
 * Pure narrowing of `ip -j` / `bridge -j` JSON (iproute2 6.x) into typed
 * entries. Only weft-shaped entries are kept: PERMANENT neighbours with a MAC,
 * `self permanent` FDB entries with a remote (not the all-zero default-remote
 * entries), and main-table routes that carry weft's mark (parseRoutes).
 * Anything else is someone else's and is left alone.
 */
import { type Cidr, type Ipv4, isIpv4, parseCidr } from '../../core/cidr.js';
import type { InterfaceAddresses } from '../../core/external-interface.js';
import { type FdbEntry, type Neighbor, type Route, WEFT_ROUTE_PROTOCOL } from '../../core/kernel-state.js';
import type { ForeignRoute } from '../../core/peer-acceptance.js';
import { parseMac } from '../../core/mac.js';
import type { VxlanLinkInfo } from '../../core/vxlan-device.js';

type Json = Record<string, unknown>;

function records(value: unknown): Json[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v));
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function ipv4(value: unknown): Ipv4 | undefined {
  return typeof value === 'string' && isIpv4(value) ? value : undefined;
}

/** Whether `list` holds `wanted` (lower case) in any case; allocates nothing, as it runs for every entry read. */
function hasString(list: unknown, wanted: string): boolean {
  if (!Array.isArray(list)) return false;
  for (const v of list) if (typeof v === 'string' && equalsIgnoringCase(v, wanted)) return true;
  return false;
}

function equalsIgnoringCase(text: string, lower: string): boolean {
  if (text.length !== lower.length) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** `ip -j -4 neigh show dev D` → PERMANENT neighbours with a MAC. */
export function parseNeighbors(json: unknown): Neighbor[] {
  const out: Neighbor[] = [];
  for (const r of records(json)) {
    const ip = ipv4(r['dst']);
    const mac = parseMac(str(r['lladdr']) ?? '');
    if (ip && mac && hasString(r['state'], 'permanent')) out.push({ ip, mac });
  }
  return out;
}

/** `bridge -j fdb show dev D` → `self permanent` unicast entries that have a remote. */
export function parseFdb(json: unknown): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const r of records(json)) {
    const mac = parseMac(str(r['mac']) ?? ''); // undefined for 00:00:00:00:00:00 and multicast
    const dst = ipv4(r['dst']);
    if (mac && dst && hasString(r['flags'], 'self') && r['state'] === 'permanent') out.push({ mac, dst });
  }
  return out;
}

/** `ip -j -4 route show root NETWORK` (or `dev D`), split by owner. */
export interface RoutesRead {
  /** weft's routes on `device`: marked with weft's protocol, or legacy-shaped (see Route.legacy). */
  readonly ours: Route[];
  /** Every other route: someone else's, never replaced or deleted. */
  readonly foreign: ForeignRoute[];
}

/**
 * Splits a route listing (read with `-N`: numeric protocols) into weft's and
 * everybody else's. A route is weft's when it is on weft's device and
 * carries protocol 87, or when it is on weft's device in the exact shape an
 * older, unmarked weft installed: `proto boot` (iproute2 prints no protocol
 * then), a gateway, `onlink`, no metric. Everything else is foreign, a
 * marked route on another device too (left on an old `weft.<VNI>`, say):
 * weft does not touch it, and a lease it collides with is refused by name.
 */
export function parseRoutes(json: unknown, device: string): RoutesRead {
  const ours: Route[] = [];
  const foreign: ForeignRoute[] = [];
  for (const r of records(json)) {
    const dst = routeDst(r['dst']);
    if (!dst) continue;
    const protocol = str(r['protocol']) ?? (num(r['protocol']) === undefined ? undefined : String(r['protocol']));
    const marked = protocol === String(WEFT_ROUTE_PROTOCOL);
    // `route show dev D` omits the device: such a listing is all on D.
    const dev = str(r['dev']) ?? (r['type'] === undefined ? device : undefined);
    const via = ipv4(r['gateway']);
    if (dev === device && via && (marked || (protocol === undefined && (num(r['metric']) ?? 0) === 0
      && hasString(r['flags'], 'onlink') && (r['type'] === undefined || r['type'] === 'unicast')))) {
      ours.push(marked ? { dst, via } : { dst, via, legacy: true });
      continue;
    }
    const metric = num(r['metric']);
    foreign.push(metric === undefined ? { dst, description: describeRoute(r) } : { dst, description: describeRoute(r), metric });
  }
  return { ours, foreign };
}

/** iproute2's names for the protocols a refusal is likely to name (rt_protos). */
const PROTOCOL_NAMES: Record<string, string> = {
  '2': 'kernel', '3': 'boot', '4': 'static', '16': 'dhcp', '186': 'bgp', '188': 'ospf', [String(WEFT_ROUTE_PROTOCOL)]: 'weft',
};

function describeRoute(r: Json): string {
  const parts: string[] = [];
  const type = str(r['type']);
  if (type !== undefined && type !== 'unicast') parts.push(`type ${type}`);
  const via = str(r['gateway']);
  if (via !== undefined) parts.push(`via ${via}`);
  const dev = str(r['dev']);
  if (dev !== undefined) parts.push(`dev ${dev}`);
  const protocol = r['protocol'] === undefined ? '3' : String(r['protocol']);
  parts.push(`proto ${PROTOCOL_NAMES[protocol] ?? protocol}`);
  const metric = num(r['metric']);
  if (metric !== undefined) parts.push(`metric ${metric}`);
  return parts.join(' ');
}

function routeDst(value: unknown): Cidr | undefined {
  const text = str(value);
  if (text === undefined || text === 'default') return undefined;
  const parsed = parseCidr(text.includes('/') ? text : `${text}/32`);
  return parsed.ok ? parsed.cidr : undefined;
}

/** `ip -j -d addr show dev D` → the link, of whatever kind, or undefined if the output has none. */
export function parseLinkInfo(json: unknown): VxlanLinkInfo | undefined {
  const link = records(json)[0];
  const name = str(link?.['ifname']);
  if (!link || name === undefined) return undefined;
  const info = typeof link['linkinfo'] === 'object' && link['linkinfo'] !== null ? link['linkinfo'] as Json : {};
  const data = typeof info['info_data'] === 'object' && info['info_data'] !== null ? info['info_data'] as Json : {};
  return {
    name,
    kind: str(info['info_kind']) ?? 'unknown',
    vni: num(data['id']),
    port: num(data['port']),
    local: ipv4(data['local']),
    parent: str(data['link']),
    learning: data['learning'] === true,
    gbp: data['gbp'] === true,
    mac: parseMac(str(link['address']) ?? ''),
    mtu: num(link['mtu']) ?? 0,
    up: hasString(link['flags'], 'up'),
    addresses: inetAddresses(link).map((a) => `${a.ip}/${a.prefixLength}`),
  };
}

function inetAddresses(link: Json): { ip: Ipv4; prefixLength: number; scope: string }[] {
  const out: { ip: Ipv4; prefixLength: number; scope: string }[] = [];
  for (const a of records(link['addr_info'])) {
    const ip = ipv4(a['local']);
    const prefixLength = num(a['prefixlen']);
    if (a['family'] === 'inet' && ip && prefixLength !== undefined) out.push({ ip, prefixLength, scope: str(a['scope']) ?? '' });
  }
  return out;
}

/** `ip -j -4 addr show` → every interface with its IPv4 addresses. */
export function parseInterfaces(json: unknown): InterfaceAddresses[] {
  const out: InterfaceAddresses[] = [];
  for (const link of records(json)) {
    const name = str(link['ifname']);
    const index = num(link['ifindex']);
    if (name === undefined || index === undefined) continue;
    out.push({ name, index, mtu: num(link['mtu']) ?? 0, addresses: inetAddresses(link) });
  }
  return out;
}

/** `ip -j -4 route show default` → the first default route's device. */
export function parseDefaultRouteDevice(json: unknown): string | undefined {
  for (const r of records(json)) {
    const dev = str(r['dev']);
    if (dev !== undefined) return dev;
  }
  return undefined;
}
