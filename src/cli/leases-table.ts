/** Formats the lease list for `weftctl leases` (pure). */
import { formatDuration } from '../core/duration.js';

export interface LeaseRow {
  readonly subnet: string;
  readonly node: string | null;
  readonly publicIp: string;
  readonly vtepMac: string | null;
  readonly backendType: string;
  readonly reservation: boolean;
  /** Seconds left on the etcd lease; null for reservations. */
  readonly ttlSeconds: number | null;
  /**
   * The acceptance rule's verdict, as weftd on any host sees it (this
   * host's own subnet and address are not known here): `peer`, `pending` (a
   * reservation whose host has not started), `refused` (never programmed),
   * or `unknown` when etcd has no valid network config to judge against.
   */
  readonly state: 'peer' | 'pending' | 'refused' | 'unknown';
  /** Why it is pending or refused; null for a peer. */
  readonly reason: string | null;
  /** The etcd lease id in hex, the form `etcdctl lease timetolive` takes; null for reservations. */
  readonly leaseId: string | null;
  /** The IPv6 subnet the key names (dual-stack key); null for an IPv4-only key. */
  readonly subnetV6: string | null;
  /** `PublicIPv6` of the value; null when the host has none. */
  readonly publicIpv6: string | null;
  /** `BackendV6Data.VtepMAC`: the host's IPv6 VXLAN device; null when it has none. */
  readonly vtepMacV6: string | null;
  /**
   * The families a peer is programmed for: both, or `ipv4` alone on an
   * IPv4-only network, for a key with no IPv6 half, or when its IPv6 half is
   * refused (`reason` says why). Empty when the lease is no peer.
   */
  readonly families: readonly ('ipv4' | 'ipv6')[];
}

/** etcd3 gives lease ids in decimal; etcdctl prints them as 16 hex digits (and takes them so). */
export function leaseIdHex(decimal: string): string {
  return BigInt(decimal).toString(16).padStart(16, '0');
}

export interface SkippedRow {
  readonly key: string;
  /** The refusal code (`invalid-key`, `invalid-value`, …). */
  readonly code: string;
  readonly reason: string;
}

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** The STATE column: ok (with the family caveat of a dual-stack peer), pending, REFUSED or unknown. */
function stateCell(r: LeaseRow): string {
  switch (r.state) {
    case 'peer': return r.reason === null ? 'ok' : `ok, ${r.reason}`;
    case 'refused': return `REFUSED: ${r.reason ?? ''}`;
    case 'pending': return `pending: ${r.reason ?? ''}`;
    case 'unknown': return 'unknown (no valid network config)';
  }
}

/**
 * The lease table; with `dualStack` (the network is, or some key names an
 * IPv6 subnet) also each lease's IPv6 subnet and PublicIPv6.
 */
export function renderLeases(rows: readonly LeaseRow[], skipped: readonly SkippedRow[], dualStack = false): string {
  const v6 = dualStack || rows.some((r) => r.subnetV6 !== null);
  const headers = ['SUBNET', ...(v6 ? ['IPV6 SUBNET'] : []), 'NODE', 'PUBLIC IP', ...(v6 ? ['PUBLIC IPV6'] : []), 'VTEP MAC', 'TTL', 'STATE'];
  const table = renderTable(headers, rows.map((r) => [
    r.subnet, ...(v6 ? [r.subnetV6 ?? '-'] : []), r.node ?? '-', r.publicIp, ...(v6 ? [r.publicIpv6 ?? '-'] : []),
    r.vtepMac ?? (r.backendType ? `(${r.backendType})` : '-'),
    r.reservation ? 'reservation' : r.ttlSeconds === null || r.ttlSeconds < 0 ? 'expired' : formatDuration(r.ttlSeconds * 1000),
    stateCell(r),
  ]));
  const extra = skipped.map((s) => `REFUSED ${s.key}: ${s.reason}`);
  return [table, ...extra].join('\n');
}
