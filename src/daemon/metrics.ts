/**
 * Prometheus metrics for weftd, computed from DaemonStatus at scrape time
 * (prom-client collect callbacks), so the loops only update plain data.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { REFUSAL_CODES } from '../core/peer-acceptance.js';
import type { DaemonStatus } from './status.js';

export const WEFT_VERSION = '0.1.0';

export function createMetrics(status: DaemonStatus, now: () => number = Date.now): Registry {
  const registry = new Registry();
  const gauge = (name: string, help: string, value: () => number): void => {
    new Gauge({ name, help, registers: [registry], collect() { this.set(value()); } });
  };
  const counter = (name: string, help: string, value: () => number): void => {
    let last = 0;
    new Counter({ name, help, registers: [registry], collect() { const v = value(); if (v > last) this.inc(v - last); last = v; } });
  };
  gauge('weft_peers_known', 'Peer leases accepted by the acceptance rule (this host and refused or pending leases excluded).', () => status.peersKnown);
  gauge('weft_peers_programmed', 'Peers whose route, neighbour and FDB entries the kernel holds, as read or applied by the last pass (0 with --dataplane none).', () => status.peersProgrammed);
  gauge('weft_ipv6_peers_programmed', 'On a dual-stack host: peers whose IPv6 route, neighbour and FDB entries the kernel holds on weft-v6.<VNI> (0 when IPv6 is not enabled).',
    () => status.ipv6?.peersProgrammed ?? 0);
  gauge('weft_ipv6_pass_ok', 'On a dual-stack host: 1 when the last pass succeeded for IPv6, else 0 (IPv4 is weft_reconcile_failures_total\'s).',
    () => (status.ipv6?.lastPassOk ? 1 : 0));
  new Gauge({
    name: 'weft_peers_direct', help: 'DirectRouting: peers reached by a plain route on the external interface (no VXLAN), by address family; 0 when it is off.',
    labelNames: ['family'], registers: [registry],
    collect() { this.set({ family: 'ipv4' }, status.directPeers); this.set({ family: 'ipv6' }, status.directPeersV6); },
  });
  gauge('weft_node_name_conflict', '1 while another weftd instance holds this host\'s node name (see weftctl doctor), else 0.', () => (status.identityConflict === undefined ? 0 : 1));
  counter('weft_own_lease_corrections_total', 'Times this host\'s lease value was found changed in etcd and written back.', () => status.ownLeaseCorrections);
  gauge('weft_leases_pending', 'Reservations whose host has not started weftd yet (no VTEP MAC): not peers, not refused.', () => status.leasesPending);
  new Gauge({
    name: 'weft_leases_refused', help: 'Lease keys refused by the acceptance rule, by reason (never programmed; see weftctl leases).',
    labelNames: ['reason'], registers: [registry],
    collect() {
      for (const code of REFUSAL_CODES) {
        this.set({ reason: code }, code === 'route-collision' ? status.routeCollisions : status.leasesRefused.get(code) ?? 0);
      }
    },
  });
  gauge('weft_wireguard_peers', 'wireguard backend: peers on weft-wg as the last pass read them back (0 on vxlan).', () => status.tunnels?.length ?? 0);
  new Gauge({
    name: 'weft_wireguard_peer_handshake_age_seconds', help: 'wireguard backend: seconds since each peer\'s latest handshake (-1: never), by public key.',
    labelNames: ['public_key'], registers: [registry],
    collect() {
      this.reset();
      for (const p of status.tunnels ?? []) this.set({ public_key: p.publicKey }, p.lastHandshakeMs === undefined ? -1 : Math.max(0, (now() - p.lastHandshakeMs) / 1000));
    },
  });
  counter('weft_kernel_changes_applied_total', 'Kernel entries added, replaced or removed.', () => status.changesApplied);
  counter('weft_kernel_changes_failed_total', 'Kernel changes that failed (retried on the next pass).', () => status.changesFailed);
  counter('weft_reconcile_passes_total', 'Reconcile passes run.', () => status.passes);
  counter('weft_reconcile_failures_total', 'Reconcile passes that did not fully succeed.', () => status.passFailures);
  counter('weft_watch_restarts_total', 'Times the lease watch ended and was re-listed.', () => status.watch?.watchRestarts ?? 0);
  counter('weft_watch_compactions_total', 'Watch ends caused by an etcd compaction.', () => status.watch?.compactions ?? 0);
  counter('weft_etcd_request_errors_total', 'Failed etcd requests (list, keepalive, probe).', () => status.etcdErrors + (status.watch?.listErrors ?? 0));
  gauge('weft_etcd_reachable', '1 while etcd answers, 0 while it does not.', () => (status.etcdDownSince === undefined ? 1 : 0));
  gauge('weft_lease_ttl_seconds', 'Seconds left on this host\'s lease (-1 for a reservation, which never expires).', () => {
    if (!status.lease) return 0;
    if (status.lease.reservation || status.leaseTtlSeconds === undefined) return -1;
    return Math.max(0, status.leaseTtlSeconds - (now() - (status.leaseRenewedAt ?? now())) / 1000);
  });
  counter('weft_underlay_changes_total', 'Underlay changes followed: the external interface got a new address or was made again (new ifindex).',
    () => status.underlay?.changes ?? 0);
  gauge('weft_underlay_waiting', '1 while the external interface is gone or has no usable address (passes wait; the lease is kept), else 0.',
    () => (status.underlay?.waiting === undefined ? 0 : 1));
  new Gauge({
    name: 'weft_underlay_info', help: 'The external interface and the addresses this host advertises (1).', labelNames: ['interface', 'public_ip', 'public_ipv6'],
    registers: [registry],
    collect() {
      this.reset();
      const u = status.underlay;
      if (u) this.set({ interface: u.iface, public_ip: u.publicIp, public_ipv6: u.publicIpv6 ?? '' }, 1);
    },
  });
  gauge('weft_ready', '1 after the first full reconcile pass and subnet.env.', () => (status.ready ? 1 : 0));
  new Gauge({ name: 'weft_build_info', help: 'weft version and Node.js version.', labelNames: ['version', 'node'], registers: [registry],
    collect() { this.set({ version: WEFT_VERSION, node: process.version }, 1); } });
  new Histogram({
    name: 'weft_reconcile_pass_duration_seconds', help: 'Duration of reconcile passes.', registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    collect() { for (const ms of status.passDurations.splice(0)) this.observe(ms / 1000); },
  });
  return registry;
}
