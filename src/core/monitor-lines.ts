/**
 * One codec for the text of the kernel monitors (iproute2 6.x: `ip monitor`
 * ignores `-j`): a line in, a typed KernelChange or undefined out.
 *
 * - `ip -4 -o -N monitor label link route neigh`: every line starts with
 *   `[ROUTE]`, `[NEIGH]` or `[LINK]` (without the label a host route
 *   `10.9.7.7 dev weft.1` and a neighbour look alike), then `Deleted ` for a
 *   deletion. `-N` prints protocols, route types and scopes as numbers; the
 *   names iproute2 prints without it are read too.
 * - `bridge monitor fdb`: `<mac> dev <dev> dst <ip> self permanent`, with
 *   `Deleted ` in front for a deletion.
 * - stderr of either: libnetlink's overflow report.
 *
 * The IPv6 device's monitor runs `ip -6 …` (same line shapes, IPv6
 * addresses, weft's routes with `metric 1024`); its parsers take family 6
 * and return IPv6 addresses as canonical text in the same change types, as
 * the IPv6 kernel adapter does for entries (adapters/iproute2/parse.ts).
 */
import { type Cidr, type Ipv4, isIpv4, parseCidr } from './cidr.js';
import { parseCidr6, parseIpv6 } from './cidr6.js';
import type { FdbChange, LinkChange, LostChange, NeighborChange, RouteChange } from './kernel-change.js';
import { WEFT_ROUTE_PROTOCOL } from './kernel-state.js';
import { parseMac } from './mac.js';

const LABEL = /^\[(ROUTE|NEIGH|LINK)\]/;

/** The address family of a monitor: 4 (`ip -4`, IPv4 `dst`s) or 6 (`ip -6`). */
type MonitorFamily = 4 | 6;

/** An address of the family, or undefined (an IPv6 one as canonical text in the IPv4 brand: see the file comment). */
function address(text: string | undefined, family: MonitorFamily): Ipv4 | undefined {
  if (text === undefined) return undefined;
  if (family === 4) return isIpv4(text) ? text : undefined;
  return text.includes(':') ? parseIpv6(text) as string as Ipv4 | undefined : undefined;
}

/** One stdout line of `ip -o monitor label link route neigh` (with or without `-N`); undefined when it is not a change weft can use. */
export function parseIpMonitorLine(line: string): RouteChange | NeighborChange | LinkChange | undefined {
  return ipMonitorLine(line, 4);
}

/** `parseIpMonitorLine` for `ip -6 …`: IPv6 routes and neighbours. */
export function parseIpMonitorLine6(line: string): RouteChange | NeighborChange | LinkChange | undefined {
  return ipMonitorLine(line, 6);
}

function ipMonitorLine(line: string, family: MonitorFamily): RouteChange | NeighborChange | LinkChange | undefined {
  const label = LABEL.exec(line);
  if (!label) return undefined;
  const rest = line.slice(label[0].length);
  switch (label[1]) {
    case 'ROUTE': return routeLine(rest, family);
    case 'NEIGH': return neighborLine(rest, family);
    default: return parseLinkLine(rest);
  }
}

/** Splits a line into words, dropping the `\` that `-o` puts where a line break was. */
function words(line: string): { deleted: boolean; tokens: string[] } {
  const tokens = line.split(/\s+/).filter((w) => w !== '' && w !== '\\');
  const deleted = tokens[0] === 'Deleted';
  return { deleted, tokens: deleted ? tokens.slice(1) : tokens };
}

/** The value after `key`, or undefined. */
function valueOf(tokens: readonly string[], key: string): string | undefined {
  for (let i = 0; i < tokens.length - 1; i++) if (tokens[i] === key) return tokens[i + 1];
  return undefined;
}

/** rtm_type numbers as `-N` prints them (linux/rtnetlink.h). */
const ROUTE_TYPES: Readonly<Record<string, string>> = {
  1: 'unicast', 2: 'local', 3: 'broadcast', 4: 'anycast', 5: 'multicast', 6: 'blackhole', 7: 'unreachable',
  8: 'prohibit', 9: 'throw', 10: 'nat', 11: 'xresolve',
};

/** Protocol names from iproute2's rt_protos, plus weft's own. */
const PROTOCOLS: Readonly<Record<string, number>> = {
  unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4, gated: 8, ra: 9, mrt: 10, zebra: 11, bird: 12,
  dnrouted: 13, xorp: 14, ntk: 15, dhcp: 16, keepalived: 18, babel: 42, openr: 99, bgp: 186, isis: 187,
  ospf: 188, rip: 189, eigrp: 192, weft: WEFT_ROUTE_PROTOCOL,
};

/** iproute2 leaves out `proto boot`. */
const RTPROT_BOOT = 3;

/** Tokens after which a value follows; skipped so a value is never read as a keyword. */
const ROUTE_KEYS = new Set(['via', 'dev', 'proto', 'metric', 'table', 'src', 'scope', 'mtu', 'advmss', 'expires',
  'pref', 'realms', 'nhid', 'tos', 'dsfield', 'rtt', 'rttvar', 'window', 'cwnd', 'initcwnd', 'initrwnd', 'ssthresh',
  'hoplimit', 'congctl', 'features', 'quickack', 'fastopen_no_cookie', 'encap', 'ttl-propagate']);

function routeDst(text: string | undefined, family: MonitorFamily): Cidr | undefined {
  if (text === undefined) return undefined;
  if (family === 6) {
    if (text === 'default') return '::/0' as Cidr;
    if (!text.includes(':')) return undefined;
    const parsed = parseCidr6(text.includes('/') ? text : `${text}/128`);
    return parsed.ok ? parsed.cidr as string as Cidr : undefined;
  }
  if (text === 'default') return '0.0.0.0/0' as Cidr;
  const parsed = parseCidr(text.includes('/') ? text : `${text}/32`);
  return parsed.ok ? parsed.cidr : undefined;
}

/**
 * `[type] <dst> [via <ip>] [dev <dev>] [proto <p>] [metric <n>] [table <t>] ... [onlink]`
 * (a `[ROUTE]` line without its label). Multipath routes (`nexthop ...`) have
 * no top-level device or gateway.
 */
export function parseRouteLine(line: string): RouteChange | undefined {
  return routeLine(line, 4);
}

function routeLine(line: string, family: MonitorFamily): RouteChange | undefined {
  const { deleted, tokens } = words(line);
  let i = 0;
  let type = 'unicast';
  if (tokens[0] !== undefined && routeDst(tokens[0], family) === undefined) {
    type = ROUTE_TYPES[tokens[0]] ?? tokens[0];
    i = 1;
  }
  const dst = routeDst(tokens[i], family);
  if (dst === undefined) return undefined;
  let via: Ipv4 | undefined;
  let device: string | undefined;
  let protocol: number | string = RTPROT_BOOT;
  let metric = 0;
  let onlink = false;
  for (i += 1; i < tokens.length; i++) {
    const word = tokens[i] as string;
    if (word === 'nexthop') break; // multipath: per-hop details follow
    if (word === 'onlink') onlink = true;
    if (!ROUTE_KEYS.has(word)) continue;
    const value = tokens[i + 1];
    i += 1;
    if (value === undefined) break;
    if (word === 'via') via = address(value, family);
    else if (word === 'dev') device = value;
    else if (word === 'proto') protocol = /^\d+$/.test(value) ? Number(value) : PROTOCOLS[value] ?? value;
    else if (word === 'metric') metric = Number(value) || 0;
    else if (word === 'table' && value !== 'main' && value !== '254') return undefined;
  }
  return { kind: 'route', deleted, device, type, dst, via, protocol, onlink, metric };
}

const NUD_STATES = new Set(['INCOMPLETE', 'REACHABLE', 'STALE', 'DELAY', 'PROBE', 'FAILED', 'NOARP', 'PERMANENT', 'NONE']);

/**
 * `<ip> dev <dev> [lladdr <mac>] [router] ... <STATE>...` (a `[NEIGH]` line
 * without its label). `miss` lines (the kernel asking a resolver) and neighbours
 * of the other family are not changes weft can use.
 */
export function parseNeighborLine(line: string): NeighborChange | undefined {
  return neighborLine(line, 4);
}

function neighborLine(line: string, family: MonitorFamily): NeighborChange | undefined {
  const { deleted, tokens } = words(line);
  const ip = address(tokens[0], family);
  if (ip === undefined) return undefined;
  const device = valueOf(tokens, 'dev');
  if (device === undefined) return undefined;
  const lladdr = valueOf(tokens, 'lladdr');
  const state = tokens.filter((w) => NUD_STATES.has(w));
  return { kind: 'neighbor', deleted, device, ip, mac: lladdr === undefined ? undefined : parseMac(lladdr), state,
    permanent: state.includes('PERMANENT') };
}

/**
 * `<mac> dev <dev> [dst <ip>] [port <n>] [vni <n>] [self] [master <br>] [permanent|static]`
 * (`bridge monitor fdb`). Entries whose MAC is not unicast (the all-zero
 * default remotes, multicast) are never weft's and are left out. A `dst`
 * of the other family reads as none.
 */
export function parseFdbLine(line: string): FdbChange | undefined {
  return fdbLine(line, 4);
}

/** `parseFdbLine` for the IPv6 device: an IPv6 `dst`. */
export function parseFdbLine6(line: string): FdbChange | undefined {
  return fdbLine(line, 6);
}

function fdbLine(line: string, family: MonitorFamily): FdbChange | undefined {
  const { deleted, tokens } = words(line);
  const mac = parseMac(tokens[0] ?? '');
  if (mac === undefined) return undefined;
  const device = valueOf(tokens, 'dev');
  if (device === undefined) return undefined;
  const dst = valueOf(tokens, 'dst');
  return { kind: 'fdb', deleted, device, mac, dst: address(dst, family),
    self: tokens.includes('self'), permanent: tokens.includes('permanent') };
}

/**
 * `<index>: <name>[@<peer>]: <FLAGS> mtu <n> ... link/<type> <mac> ...` (a
 * `[LINK]` line without its label, `-o` joining its two lines).
 */
export function parseLinkLine(line: string): LinkChange | undefined {
  const { deleted, tokens } = words(line);
  const index = /^(\d+):$/.exec(tokens[0] ?? '')?.[1];
  const name = /^([^@:]+)(?:@[^:]*)?:$/.exec(tokens[1] ?? '')?.[1];
  const flags = /^<(.*)>$/.exec(tokens[2] ?? '')?.[1];
  if (index === undefined || name === undefined || flags === undefined) return undefined;
  const mtu = Number(valueOf(tokens, 'mtu'));
  const linkAt = tokens.findIndex((w) => w.startsWith('link/'));
  const mac = linkAt < 0 ? undefined : parseMac(tokens[linkAt + 1] ?? '');
  return { kind: 'link', deleted, device: name, index: Number(index), up: flags.split(',').includes('UP'),
    mtu: Number.isInteger(mtu) && mtu > 0 ? mtu : undefined, mac };
}

/**
 * One stderr line of either monitor. libnetlink's listener prints `netlink
 * receive error No buffer space available (105)` when its socket overflowed
 * (ENOBUFS) and keeps listening: notifications were dropped.
 */
export function parseMonitorStderr(line: string): LostChange | undefined {
  return /netlink receive error|No buffer space available|ENOBUFS/.test(line)
    ? { kind: 'lost', reason: `notifications dropped: ${line.trim()}` }
    : undefined;
}


/** One line of the underlay monitor (`ip -o monitor label link address`): which interface changed, by name and index. */
export interface InterfaceEvent {
  readonly what: 'link' | 'address';
  readonly deleted: boolean;
  readonly index: number;
  readonly device: string;
}

const INTERFACE_LINE = /^\[(LINK|ADDR)\](Deleted )?(\d+): ([^\s:@]+)/;

/**
 * `[ADDR]3: eth0    inet 192.0.2.50/24 scope global eth0\ ...` or
 * `[LINK]Deleted 3: eth0@NONE: <BROADCAST,...> ...`: the interface a line
 * is about (the follower re-reads the interface; the line's details are not
 * needed). Undefined for any other line.
 */
export function parseInterfaceLine(line: string): InterfaceEvent | undefined {
  const m = INTERFACE_LINE.exec(line);
  if (!m?.[3] || !m[4]) return undefined;
  return { what: m[1] === 'LINK' ? 'link' : 'address', deleted: m[2] !== undefined, index: Number(m[3]), device: m[4] };
}
