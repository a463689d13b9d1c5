/**
 * Pure narrowing of `ip -j` / `bridge -j` JSON (iproute2 6.x) into typed
 * entries. Only weft-shaped entries are kept: PERMANENT neighbours with a MAC,
 * `self permanent` FDB entries with a remote (not the all-zero default-remote
 * entries), and main-table routes that carry weft's mark (parseRoutes).
 * Anything else is someone else's and is left alone.
 *
 * Entry readers take the adapter's family (argv.ts `Family`). With 6 they
 * accept IPv6 addresses only, in canonical form, and return them in the
 * entry types as they are (address text in the IPv4 brands): kernel entries
 * are keyed and compared by address text, and the data plane projects its
 * IPv6 instance onto the same types. The IPv4 path is what it always was.
 */
import { type Cidr, type Ipv4, isIpv4, parseCidr } from '../../core/cidr.js';
import { type Ipv6, parseCidr6, parseIpv6 } from '../../core/cidr6.js';
import type { UnderlayRoute } from '../../core/direct-routing.js';
import type { InterfaceAddress6, InterfaceAddresses, InterfaceAddresses6 } from '../../core/external-interface.js';
import { type FdbEntry, type Neighbor, type Route, WEFT_ROUTE_PROTOCOL } from '../../core/kernel-state.js';
import type { ForeignRoute } from '../../core/peer-acceptance.js';
import { parseMac } from '../../core/mac.js';
import type { VxlanLinkInfo } from '../../core/vxlan-device.js';
import type { Family } from './argv.js';

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

function ipv6(value: unknown): Ipv6 | undefined {
  return typeof value === 'string' && value.includes(':') ? parseIpv6(value) : undefined;
}

/** An entry's address in the adapter's family (an IPv6 one as canonical text in the entry's type; see the file comment). */
function address(value: unknown, family: Family): Ipv4 | undefined {
  return family === 4 ? ipv4(value) : ipv6(value) as string as Ipv4 | undefined;
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

/** `ip -j -4 neigh show dev D` (`-6`) → PERMANENT neighbours with a MAC. */
export function parseNeighbors(json: unknown, family: Family = 4): Neighbor[] {
  const out: Neighbor[] = [];
  for (const r of records(json)) {
    const ip = address(r['dst'], family);
    const mac = parseMac(str(r['lladdr']) ?? '');
    if (ip && mac && hasString(r['state'], 'permanent')) out.push({ ip, mac });
  }
  return out;
}

/** `bridge -j fdb show dev D` → `self permanent` unicast entries that have a remote. */
export function parseFdb(json: unknown, family: Family = 4): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const r of records(json)) {
    const mac = parseMac(str(r['mac']) ?? ''); // undefined for 00:00:00:00:00:00 and multicast
    const dst = address(r['dst'], family);
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
 * There is no legacy shape for IPv6 (no weft before the mark had an IPv6
 * device; IPv6 routes carry metric 1024 anyway): only marked routes are
 * weft's. The kernel's host route for the device's own `/128` (proto
 * kernel) is inside the network and so reads as foreign; no peer subnet is
 * a /128, so it collides with none. With `directDevice` (DirectRouting on),
 * a marked route on the external interface via a gateway, not onlink, is a
 * direct route of weft's (Route.dev); an unmarked one there is foreign.
 */
export function parseRoutes(json: unknown, device: string, family: Family = 4, directDevice?: string): RoutesRead {
  const ours: Route[] = [];
  const foreign: ForeignRoute[] = [];
  for (const r of records(json)) {
    const dst = family === 4 ? routeDst(r['dst']) : routeDst6(r['dst']);
    if (!dst) continue;
    const protocol = str(r['protocol']) ?? (num(r['protocol']) === undefined ? undefined : String(r['protocol']));
    const marked = protocol === String(WEFT_ROUTE_PROTOCOL);
    // `route show dev D` omits the device: such a listing is all on D.
    const dev = str(r['dev']) ?? (r['type'] === undefined ? device : undefined);
    const via = address(r['gateway'], family);
    // DirectRouting: weft's mark on the external interface, via the peer's public IP, not onlink.
    if (directDevice !== undefined && dev === directDevice && via && marked && !hasString(r['flags'], 'onlink')) {
      ours.push({ dst, via, dev });
      continue;
    }
    if (dev === device && via && (marked || (family === 4 && protocol === undefined && (num(r['metric']) ?? 0) === 0
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

function routeDst6(value: unknown): Cidr | undefined {
  const text = str(value);
  if (text === undefined || text === 'default') return undefined;
  const parsed = parseCidr6(text.includes('/') ? text : `${text}/128`);
  return parsed.ok ? parsed.cidr as string as Cidr : undefined;
}

/**
 * `ip -j -d addr show dev D` → the link, of whatever kind, or undefined if
 * the output has none. `local` is the vxlan's `local` or, over an IPv6
 * underlay, `local6`; `addresses` are those of `family`.
 */
export function parseLinkInfo(json: unknown, family: Family = 4): VxlanLinkInfo | undefined {
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
    local: ipv4(data['local']) ?? ipv6(data['local6']),
    parent: str(data['link']),
    learning: data['learning'] === true,
    gbp: data['gbp'] === true,
    mac: parseMac(str(link['address']) ?? ''),
    mtu: num(link['mtu']) ?? 0,
    up: hasString(link['flags'], 'up'),
    addresses: (family === 4 ? inetAddresses(link) : inet6Addresses(link)).map((a) => `${a.ip}/${a.prefixLength}`),
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

function inet6Addresses(link: Json): InterfaceAddress6[] {
  const out: InterfaceAddress6[] = [];
  for (const a of records(link['addr_info'])) {
    const ip = ipv6(a['local']);
    const prefixLength = num(a['prefixlen']);
    if (a['family'] !== 'inet6' || !ip || prefixLength === undefined) continue;
    out.push({ ip, prefixLength, scope: str(a['scope']) ?? '', deprecated: a['deprecated'] === true, tentative: a['tentative'] === true,
      dadfailed: a['dadfailed'] === true, temporary: a['temporary'] === true });
  }
  return out;
}

/** `ip -j -6 addr show [dev D]` → every interface with its IPv6 addresses and their flags. */
export function parseInterfaces6(json: unknown): InterfaceAddresses6[] {
  const out: InterfaceAddresses6[] = [];
  for (const link of records(json)) {
    const name = str(link['ifname']);
    const index = num(link['ifindex']);
    if (name === undefined || index === undefined) continue;
    out.push({ name, index, mtu: num(link['mtu']) ?? 0, addresses: inet6Addresses(link) });
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

/**
 * `ip -j route show table main` → the routes DirectRouting matches peers'
 * public IPs against (core/direct-routing.ts). A multipath route counts as
 * one through a gateway.
 */
export function parseUnderlayRoutes(json: unknown): UnderlayRoute[] {
  const out: UnderlayRoute[] = [];
  for (const r of records(json)) {
    const dst = str(r['dst']);
    if (dst === undefined) continue;
    out.push({ dst, gateway: r['gateway'] !== undefined || r['nexthops'] !== undefined, device: str(r['dev']), type: str(r['type']) ?? 'unicast' });
  }
  return out;
}
