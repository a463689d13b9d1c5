/**
 * `weftctl doctor` on a wireguard network: the device, its MTU, the network
 * route, and per peer its tunnel (in sync with the lease, and a handshake
 * less than HANDSHAKE_FRESH_SECONDS ago) and a ping through it. These rows
 * replace the VXLAN ones (device, MTU, peer entries, checksum offload, path
 * MTU): a wireguard host has no VTEP, FDB or neighbour entries. Pure; the
 * facts come from src/cli/weftctl-doctor.ts.
 */
import type { Cidr } from '../cidr.js';
import { type CheckResult, fail, ok, warn } from '../check-result.js';
import { WIREGUARD_OVERHEAD } from './backend-config.js';
import type { WireguardDeviceSpec } from './device.js';
import type { WgPublicKey } from './keys.js';
import { type TunnelReport, type TunnelRow, type WireguardDeviceFacts, wireguardDeviceProblems } from './tunnel-check.js';

/**
 * A handshake younger than this is healthy: WireGuard re-handshakes every
 * 2 minutes while traffic flows (REKEY_AFTER_TIME 120 s), so a live tunnel
 * under traffic or keepalives never shows an older one. An idle tunnel
 * without keepalives also ages past it: the fix says how to tell.
 */
export const HANDSHAKE_FRESH_SECONDS = 180;

export interface WireguardDoctorFacts {
  readonly deviceName: string;
  readonly device: WireguardDeviceFacts;
  /** What the device should be (undefined without this host's lease). */
  readonly spec: WireguardDeviceSpec | undefined;
  readonly listenPort: number;
  /** The MTU the device is derived from: Backend.MTU, else the external interface's; with where it came from. */
  readonly underlay: { readonly mtu: number; readonly source: string } | undefined;
  /** undefined when the device cannot be read over its socket. */
  readonly tunnels: TunnelReport | undefined;
  /** A ping through the device to each peer's subnet address. */
  readonly probes: readonly { readonly subnet: Cidr; readonly replied: boolean; readonly output: string }[];
  readonly ownPublicIp: string | undefined;
  readonly leaseKey: WgPublicKey | undefined;
  /** `weft-wg-v6` (Mode "separate" on a dual-stack host): as read, and the port it should listen on. */
  readonly v6?: WireguardV6DoctorFacts | undefined;
}

export interface WireguardV6DoctorFacts {
  readonly deviceName: string;
  readonly up: boolean | null;
  readonly listenPort: number | null;
  readonly publicKey: WgPublicKey | null;
  readonly wantPort: number;
  /** Why its socket could not be read. */
  readonly error?: string | undefined;
  readonly tunnels: TunnelReport | null;
}

const REPAIR = 'weftd repairs the device on its next pass (--resync-interval); if this persists, read weftd\'s log (journalctl -u weftd)';

/** The rows, grouped so doctor.ts can put each where the VXLAN one would be. */
export interface WireguardChecks {
  readonly device: CheckResult;
  readonly mtu: CheckResult;
  readonly route: CheckResult;
  /** Per peer: its tunnel, then a ping through it; then `weft-wg-v6` and its tunnels on a dual-stack host in Mode "separate". */
  readonly tunnels: readonly CheckResult[];
}

export function wireguardChecks(f: WireguardDoctorFacts): WireguardChecks {
  const problems = wireguardDeviceProblems(f.device, f.spec, f.listenPort, f.leaseKey);
  const routeProblems = problems.filter((p) => p.startsWith('route ') || p.startsWith('its routes'));
  const deviceProblems = problems.filter((p) => !routeProblems.includes(p) && !p.startsWith('MTU '));
  const v6 = f.v6 ? checkV6(f, f.v6) : [];
  return { device: checkDevice(f, deviceProblems), mtu: checkMtu(f), route: checkRoute(f, routeProblems), tunnels: [...checkTunnels(f), ...v6] };
}

/** `weft-wg-v6`: answering, up, on ListenPortV6 with the host's key; then its tunnels as weft-wg's (handshake age), without a ping row. */
function checkV6(f: WireguardDoctorFacts, v6: WireguardV6DoctorFacts): CheckResult[] {
  const name = `device ${v6.deviceName}`;
  if (v6.error !== undefined || v6.tunnels === null) {
    return [fail(name, `${v6.deviceName} does not answer on its UAPI socket (${v6.error ?? 'not read'})`, REPAIR)];
  }
  const problems = [
    ...(v6.up === true ? [] : [v6.up === null ? 'no link in this network namespace' : 'link is down']),
    ...(v6.listenPort === v6.wantPort ? [] : [`listens on ${String(v6.listenPort)}, not ListenPortV6 ${v6.wantPort}`]),
    ...(f.leaseKey === undefined || v6.publicKey === f.leaseKey ? [] : [`its public key ${String(v6.publicKey)} is not the lease's ${f.leaseKey}`]),
  ];
  const device = problems.length > 0 ? fail(name, `${v6.deviceName}: ${problems.join('; ')}`, REPAIR)
    : ok(name, `${v6.deviceName} up, listen port ${v6.wantPort}, the same key as weft-wg`);
  const tunnels = v6.tunnels;
  const as6: WireguardDoctorFacts = { ...f, deviceName: v6.deviceName, listenPort: v6.wantPort };
  return [device, ...tunnels.peers.map((row) => {
    const r = tunnelRow(as6, row);
    return { ...r, check: `${r.check} (IPv6)` };
  })];
}

function checkDevice(f: WireguardDoctorFacts, problems: readonly string[]): CheckResult {
  const name = f.deviceName;
  if (!f.device.link && !f.device.uapi.ok) {
    return fail('device', `${name} does not exist and nothing answers on its UAPI socket (${f.device.uapi.error})`,
      'start weftd (systemctl start weftd): it starts wireguard-go and sets up the device; `--wireguard-socket-dir` must be weftd\'s');
  }
  if (problems.length > 0) return fail('device', `${name}: ${problems.join('; ')}`, REPAIR);
  const u = f.device.uapi.ok ? f.device.uapi : undefined;
  return ok('device', `${name} up, listen port ${String(u?.listenPort)}, public key ${String(u?.publicKey)}`);
}

function checkMtu(f: WireguardDoctorFacts): CheckResult {
  const link = f.device.link;
  if (!link) return warn('mtu', 'not checked: no device', 'fix the device first');
  if (!f.underlay) return warn('mtu', `cannot tell the underlay MTU ${f.deviceName} should follow`, 'check `ip link` on the host; give Backend.MTU in the network config');
  const want = f.underlay.mtu - WIREGUARD_OVERHEAD;
  if (link.mtu === want) return ok('mtu', `${f.deviceName} ${link.mtu} = ${f.underlay.source} − ${WIREGUARD_OVERHEAD}`);
  return fail('mtu', `${f.deviceName} MTU is ${link.mtu}, want ${want} (${f.underlay.source} − ${WIREGUARD_OVERHEAD})`,
    'weftd sets the device MTU on each pass from the MTU it found at start: restart weftd after changing the underlay MTU');
}

function checkRoute(f: WireguardDoctorFacts, problems: readonly string[]): CheckResult {
  if (!f.spec) return warn('route', 'not checked: needs this host\'s lease', 'fix the lease check first');
  if (!f.device.link) return warn('route', 'not checked: no device', 'fix the device first');
  if (problems.length > 0) return fail('route', problems.join('; '), `${REPAIR}; \`ip route show ${f.spec.route}\` shows what holds the network's route instead`);
  return ok('route', `${f.spec.route} dev ${f.deviceName} scope link proto 87`);
}

function checkTunnels(f: WireguardDoctorFacts): CheckResult[] {
  if (!f.tunnels) return [warn('tunnels', 'not checked: the device does not answer on its UAPI socket', 'fix the device first')];
  const rows: CheckResult[] = [];
  for (const r of f.tunnels.refused) {
    rows.push(fail(`tunnel ${r.name}`, `the lease gives no peer: ${r.reason}`, 'give each host its own key: delete the copied key file on one of them and restart its weftd'));
  }
  for (const row of f.tunnels.peers) {
    rows.push(tunnelRow(f, row));
    if (row.state !== 'unwanted' && row.subnet !== null) rows.push(pingRow(f, row, row.subnet));
  }
  if (rows.length === 0) rows.push(ok('tunnels', 'no peers (this is the only host)'));
  return rows;
}

function peerName(r: TunnelRow): string {
  return `${r.node ? `${r.node} ` : ''}${r.endpoint ?? ''}`.trim();
}

function tunnelRow(f: WireguardDoctorFacts, r: TunnelRow): CheckResult {
  const name = `tunnel ${r.subnet ?? r.publicKey}`;
  if (r.state === 'unwanted') return warn(name, `peer ${r.publicKey} is on ${f.deviceName} but no accepted lease has its key`, 'weftd removes it on its next pass; if it stays, weftd is not running');
  if (r.state !== 'ok') return fail(name, r.problems.join('; '), `${REPAIR}; \`weftctl status\` shows the tunnel as the leases want it`);
  const port = r.endpoint?.slice(r.endpoint.lastIndexOf(':') + 1) ?? String(f.listenPort);
  const peerIp = r.endpoint?.slice(0, r.endpoint.lastIndexOf(':')).replace(/^\[|\]$/g, '') ?? 'the peer';
  const fix = `allow UDP between ${f.ownPublicIp ?? 'this host'} and ${peerIp} both ways: to port ${port} on ${peerIp} and to port ${f.listenPort} here `
    + `(host firewalls: iptables -S INPUT on both hosts; cloud security groups); run weftctl doctor on ${r.node ?? peerIp} too; `
    + 'an idle tunnel without PersistentKeepaliveInterval also has no recent handshake: the ping below starts one';
  const bytes = `rx ${r.rxBytes} B, tx ${r.txBytes} B`;
  if (r.handshakeAgeSeconds === null) return warn(name, `${peerName(r)}: no handshake yet (${bytes})`, fix);
  if (r.handshakeAgeSeconds >= HANDSHAKE_FRESH_SECONDS) {
    return warn(name, `${peerName(r)}: latest handshake ${r.handshakeAgeSeconds}s ago, older than ${HANDSHAKE_FRESH_SECONDS}s (${bytes})`, fix);
  }
  return ok(name, `${peerName(r)}: handshake ${r.handshakeAgeSeconds}s ago, ${bytes}`);
}

function pingRow(f: WireguardDoctorFacts, r: TunnelRow, subnet: Cidr): CheckResult {
  const name = `ping ${subnet}`;
  const target = subnet.slice(0, subnet.indexOf('/'));
  const probe = f.probes.find((p) => p.subnet === subnet);
  if (r.state !== 'ok') return warn(name, 'not judged: the tunnel is not as the lease says', `see the tunnel ${subnet} check`);
  if (!probe) return warn(name, 'not probed', 'run doctor on the host itself (ip netns exec <host> weftctl doctor) as root');
  if (probe.replied) return ok(name, `${target} answered through ${f.deviceName}`);
  return fail(name, `no answer from ${target} through ${f.deviceName} (${probe.output})`,
    `see the tunnel ${subnet} check: without a handshake UDP is blocked between the hosts; with one, check forwarding and iptables FORWARD on ${r.node ?? 'the peer'}`);
}
