/**
 * Parsers for the text of `ip -4 -o monitor link address route neigh` and
 * `bridge monitor fdb` (iproute2 6.x), one line each. Pure: the bench's
 * KernelMonitor (kernel-monitor.ts) feeds them and timestamps the results.
 *
 * Without `-t` neither tool labels the object type, so it is told apart by
 * shape: `N: dev: <flags> …` is a link, `N: dev    inet …` an address, a
 * neighbour has a state word in capitals and no `via`/`proto`, anything else
 * is a route. A deleted object starts with `Deleted `. Deleting a permanent
 * neighbour first reports it `FAILED` (no lladdr), then `Deleted`: both count
 * as "gone"; "present" needs the lladdr back.
 */

export type MonitorKind = 'link' | 'address' | 'route' | 'neigh' | 'fdb';

export interface MonitorLine {
  readonly kind: MonitorKind;
  /** The object is gone (Deleted, or a neighbour without its lladdr). */
  readonly gone: boolean;
  /** Route: destination; neigh: address; fdb: `mac dst`; link/address: device. */
  readonly key: string;
  readonly dev: string | undefined;
  /** Route protocol as printed (`87`, or `weft` once rt_protos.d names it). */
  readonly protocol: string | undefined;
  readonly text: string;
}

const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'anycast']);
const NEIGH_STATE = /\b(PERMANENT|NOARP|REACHABLE|STALE|DELAY|PROBE|FAILED|INCOMPLETE|NONE)\b/;

const field = (text: string, name: string): string | undefined => new RegExp(`(?:^| )${name} (\\S+)`).exec(text)?.[1];

/** One line of `ip -o monitor`; undefined for blank lines. */
export function parseIpMonitorLine(line: string): MonitorLine | undefined {
  const text = line.trimEnd();
  if (text.trim() === '') return undefined;
  const deleted = text.startsWith('Deleted ');
  const body = deleted ? text.slice('Deleted '.length) : text;
  const indexed = /^\d+: ([^:@\s]+)(@\S+)?:? /.exec(body);
  if (indexed) {
    const kind: MonitorKind = /\sinet6? /.test(body) && !body.includes('<') ? 'address' : 'link';
    return { kind, gone: deleted, key: indexed[1] ?? '', dev: indexed[1], protocol: undefined, text };
  }
  const words = body.replace(/^miss /, '').split(' ');
  const isNeigh = !/ (via|proto|table|scope) /.test(` ${body} `) && NEIGH_STATE.test(body) && !ROUTE_TYPES.has(words[0] ?? '');
  if (isNeigh) {
    const hasLladdr = field(body, 'lladdr') !== undefined;
    return { kind: 'neigh', gone: deleted || !hasLladdr, key: words[0] ?? '', dev: field(body, 'dev'), protocol: undefined, text };
  }
  const key = (ROUTE_TYPES.has(words[0] ?? '') ? words[1] : words[0]) ?? '';
  return { kind: 'route', gone: deleted, key, dev: field(body, 'dev'), protocol: field(body, 'proto'), text };
}

/** One line of `bridge monitor fdb`; undefined for blank lines. */
export function parseBridgeMonitorLine(line: string): MonitorLine | undefined {
  const text = line.trimEnd();
  if (text.trim() === '') return undefined;
  const deleted = text.startsWith('Deleted ');
  const body = deleted ? text.slice('Deleted '.length) : text;
  const mac = body.split(' ')[0] ?? '';
  const dst = field(body, 'dst');
  return { kind: 'fdb', gone: deleted, key: dst === undefined ? mac : `${mac} ${dst}`, dev: field(body, 'dev'), protocol: undefined, text };
}
