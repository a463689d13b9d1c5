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

export function renderLeases(rows: readonly LeaseRow[], skipped: readonly SkippedRow[]): string {
  const table = renderTable(['SUBNET', 'NODE', 'PUBLIC IP', 'VTEP MAC', 'TTL', 'STATE'], rows.map((r) => [
    r.subnet, r.node ?? '-', r.publicIp, r.vtepMac ?? (r.backendType ? `(${r.backendType})` : '-'),
    r.reservation ? 'reservation' : r.ttlSeconds === null || r.ttlSeconds < 0 ? 'expired' : formatDuration(r.ttlSeconds * 1000),
    r.state === 'peer' ? 'ok' : r.state === 'refused' ? `REFUSED: ${r.reason ?? ''}` : r.state === 'pending' ? `pending: ${r.reason ?? ''}` : 'unknown (no valid network config)',
  ]));
  const extra = skipped.map((s) => `REFUSED ${s.key}: ${s.reason}`);
  return [table, ...extra].join('\n');
}
