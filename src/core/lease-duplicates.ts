/**
 * Leases that claim the same identity: the same public IP (every Vagrant/NAT
 * host picked 10.0.2.15), the same node name, the same VTEP MAC (one FDB
 * entry can serve only one of them) or the same WireGuard public key (a
 * copied key file: no host programs either). Pure; used by `weftctl doctor`.
 */
import type { ListedLease } from './allocate.js';
import { type CheckResult, fail, ok } from './check-result.js';

function groups(leases: readonly ListedLease[], key: (l: ListedLease) => string | undefined): Map<string, ListedLease[]> {
  const by = new Map<string, ListedLease[]>();
  for (const lease of leases) {
    const k = key(lease);
    if (k !== undefined) by.set(k, [...(by.get(k) ?? []), lease]);
  }
  return new Map([...by].filter(([, list]) => list.length > 1));
}

const holders = (list: readonly ListedLease[]): string => list.map((l) => `${l.subnet}${l.attrs.nodeName ? ` (${l.attrs.nodeName})` : ''}`).join(', ');

export function duplicateLeaseProblems(leases: readonly ListedLease[]): string[] {
  return [
    ...[...groups(leases, (l) => l.attrs.publicIp)].map(([ip, list]) => `public IP ${ip} is in ${list.length} leases: ${holders(list)}`),
    ...[...groups(leases, (l) => l.attrs.nodeName)].map(([name, list]) => `node name ${name} is in ${list.length} leases: ${holders(list)}`),
    ...[...groups(leases, (l) => l.attrs.vtepMac)].map(([mac, list]) => `VTEP MAC ${mac} is in ${list.length} leases: ${holders(list)}`),
    ...[...groups(leases, (l) => l.attrs.wireguard?.publicKey)].map(([key, list]) => `WireGuard public key ${key} is in ${list.length} leases: ${holders(list)}`),
  ];
}

export function checkDuplicates(leases: readonly ListedLease[]): CheckResult {
  const problems = duplicateLeaseProblems(leases);
  if (problems.length === 0) {
    // Name what was compared: the backend identity the leases carry.
    const backend = leases.some((l) => l.attrs.wireguard !== undefined) && !leases.some((l) => l.attrs.vtepMac !== undefined) ? 'WireGuard public key' : 'VTEP MAC';
    return ok('duplicates', `no two of the ${leases.length} leases share a public IP, node name or ${backend}`);
  }
  return fail('duplicates', problems.join('; '),
    'each host needs its own public IP and node name: start weftd with --iface/--public-ip (hosts behind the same NAT address all pick it) '
      + 'and a unique --node-name, then delete the stale lease with `weftctl release --force <subnet>`');
}
