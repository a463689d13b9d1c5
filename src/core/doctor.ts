/**
 * `weftctl doctor`: facts about one host in, a verdict per check out (ok,
 * warn, FAIL with a concrete fix). Pure: src/cli/weftctl-doctor.ts gathers
 * the facts (etcd, /proc/sys, iproute2, iptables, ping, /readyz). The host
 * checks (sysctls, MTU, FORWARD) are in doctor-host.ts.
 */
import { type UnderlayRoute, configuredPaths } from './direct-routing.js';
import { isVxlanPeer } from './peer-acceptance.js';
import type { Cidr } from './cidr.js';
import type { ListedLease } from './allocate.js';
import { type CheckResult, fail, ok, warn } from './check-result.js';
import { type SubnetFileState, deviceProblems, findOwnLease, mtuForFile, subnetFileProblem } from './device-check.js';
import { type Ipv6Facts, checkIpv6 } from './doctor-ipv6.js';
import type { KernelState } from './kernel-state.js';
import { type NetworkConfig, backendPort, backendSummary, vxlanBackendOf, directRoutingOn } from './network-config.js';
import { peerDrift } from './peer-drift.js';
import { peerChecks } from './doctor-peers.js';
import { type HostPeers, hostPeers, selfView } from './host-peers.js';
import type { RawLeaseKv } from './peer-set.js';
import type { VxlanLinkInfo } from './vxlan-device.js';
import { type Sysctls, checkBridgeNetfilter, checkCni0Address, checkForward, checkIpForward, checkMtu, checkRpFilter } from './doctor-host.js';
import { checkDuplicates } from './lease-duplicates.js';
import { type TxChecksumFact, checkChecksumOffload } from './checksum-offload.js';
import { type DfProbe, checkPathMtu } from './path-mtu.js';
import { type WireguardDoctorFacts, wireguardChecks } from './wireguard/doctor-tunnels.js';

export type { CheckResult, Verdict } from './check-result.js';
export { summarize } from './check-result.js';
export type { Sysctls } from './doctor-host.js';
export type { Ipv6Facts, PeerProbe6 } from './doctor-ipv6.js';

/** weftd's /readyz, when doctor was given --healthz-port. */
export type ReadyProbe =
  | { readonly kind: 'not-probed' }
  | { readonly kind: 'answered'; readonly url: string; readonly status: number; readonly body: string }
  | { readonly kind: 'unreachable'; readonly url: string; readonly error: string };

export type EtcdFacts =
  /** `leases`: the readable leases (to find this host's own); `entries`: every key, for the acceptance rule. */
  | { readonly ok: true; readonly config: NetworkConfig; readonly leases: readonly ListedLease[]; readonly entries: readonly RawLeaseKv[] }
  | { readonly ok: false; readonly error: string };

/** One ping through the device to a peer's VTEP address (`<peer subnet>.0`). */
export interface PeerProbe {
  readonly subnet: Cidr;
  readonly replied: boolean;
  /** ping's summary or error line. */
  readonly output: string;
  /** The DF probe, when the peer answered the plain ping (core/path-mtu.ts). */
  readonly df?: DfProbe | undefined;
}

export interface DoctorFacts {
  readonly nodeName: string;
  readonly readiness: ReadyProbe;
  readonly etcd: EtcdFacts;
  readonly subnetFile: { readonly path: string; readonly state: SubnetFileState };
  /** `weft.<VNI>` from the config, or without etcd the only `weft.*` link; undefined when unknown. */
  readonly deviceName: string | undefined;
  readonly device: VxlanLinkInfo | undefined;
  /** MTU of the device's parent (underlay) interface. */
  readonly parentMtu: number | undefined;
  /** MTU of `cni0`; undefined when there is no cni0. */
  readonly cni0Mtu: number | undefined;
  /** IPv4 addresses of `cni0` (`a.b.c.d/len`); undefined when there is no cni0 (then no check is shown). */
  readonly cni0Addresses?: readonly string[] | undefined;
  readonly sysctl: Sysctls;
  /** `iptables -S` of the filter table. */
  readonly iptables: { readonly ok: true; readonly rules: string } | { readonly ok: false; readonly error: string };
  readonly kernelState: KernelState | undefined;
  /** The main table's routes, read when the config asks for DirectRouting (which peers weftd routes directly). */
  readonly underlayRoutes?: readonly UnderlayRoute[] | undefined;
  readonly probes: readonly PeerProbe[];
  /** The device's tx-checksum-ip-generic (ethtool); undefined when not read (then no check is shown). */
  readonly txChecksum?: TxChecksumFact | undefined;
  /** The IPv6 side on a dual-stack network (doctor-ipv6.ts); undefined otherwise. */
  readonly ipv6?: Ipv6Facts | undefined;
  /** On a wireguard network: `weft-wg`, its route and tunnels (wireguard/doctor-tunnels.ts); they replace the VXLAN rows. */
  readonly wireguard?: WireguardDoctorFacts | undefined;
}

/** Every check, in the order an operator would look. */
export function evaluateDoctor(f: DoctorFacts): CheckResult[] {
  const config = f.etcd.ok ? f.etcd.config : undefined;
  const own = f.etcd.ok ? findOwnLease(f.etcd.leases, f.nodeName, f.subnetFile.state).lease : undefined;
  const judged = doctorPeers(f, own); // once, for the leases check and the peer checks
  const wg = f.wireguard ? wireguardChecks(f.wireguard) : undefined;
  return [
    checkDaemon(f),
    checkEtcd(f),
    checkLease(f, own),
    checkSubnetFile(f, config, own),
    wg ? wg.device : checkDevice(f, config, own),
    checkIpForward(f.sysctl),
    checkBridgeNetfilter(f.sysctl),
    checkRpFilter(f.sysctl, f.deviceName, f.device),
    ...(wg ? [wg.mtu, wg.route] : [checkMtu(f, config)]),
    ...(f.txChecksum === undefined ? [] : [checkChecksumOffload(f.deviceName, config && vxlanBackendOf(config)?.checksumOffload, f.txChecksum)]),
    ...(f.cni0Addresses === undefined ? [] : [checkCni0Address(f.cni0Addresses, f.subnetFile.state)]),
    ...(f.etcd.ok ? [checkDuplicates(f.etcd.leases), checkRefusals(judged)] : []),
    ...(wg ? wg.tunnels : checkPeers(f, config, own, judged)),
    ...f.probes.flatMap((p) => (p.df && f.device ? [checkPathMtu(p.subnet, f.device.name, f.device.mtu, p.df)] : [])),
    checkForward(f.iptables, config?.network),
    ...checkIpv6(f.ipv6, config, own, judged),
  ];
}

const WEFTD_FIX = 'start weftd (systemctl start weftd) and read its log (journalctl -u weftd): it writes subnet.env and sets up the device after its first full pass';

function checkDaemon(f: DoctorFacts): CheckResult {
  const r = f.readiness;
  if (r.kind === 'answered') {
    return r.status === 200 ? ok('weftd', `ready: ${r.url} answered 200`)
      : fail('weftd', `not ready: ${r.url} answered ${r.status} ${r.body.trim()}`, `wait for the first pass, or read weftd's log for why it is stuck; ${WEFTD_FIX}`);
  }
  if (r.kind === 'unreachable') {
    return fail('weftd', `nothing answers at ${r.url} (${r.error})`, `${WEFTD_FIX}; give doctor the --healthz-ip/--healthz-port weftd runs with`);
  }
  const file = f.subnetFile.state.ok;
  const device = f.device !== undefined && f.device.up;
  const how = '(inferred from subnet.env and the device; pass weftd\'s --healthz-port to probe /readyz)';
  if (file && device) return ok('weftd', `has run: subnet.env exists and ${f.device?.name ?? 'the device'} is up ${how}`);
  const missing = [...(file ? [] : ['subnet.env']), ...(device ? [] : [`${f.deviceName ?? 'weft.<VNI>'} (up)`])];
  return fail('weftd', `not running or not ready: no ${missing.join(' and no ')} ${how}`, WEFTD_FIX);
}

function checkEtcd(f: DoctorFacts): CheckResult {
  if (f.etcd.ok) return ok('etcd', `reachable; network ${f.etcd.config.network}, ${backendSummary(f.etcd.config)}, ${f.etcd.leases.length} leases`);
  return fail('etcd', f.etcd.error, 'check --etcd-endpoints (and the TLS flags, https:// with --etcd-cafile) against weftd\'s; `weftctl config get` must show the network config');
}

function checkLease(f: DoctorFacts, own: ListedLease | undefined): CheckResult {
  if (!f.etcd.ok) return warn('lease', 'not checked: etcd is not reachable', 'fix etcd first');
  if (!own) return fail('lease', `no lease names node ${f.nodeName}`, `run weftd with --node-name ${f.nodeName} (or give doctor weftd's --node-name); \`weftctl leases\` lists who holds what`);
  const v6 = own.subnetV6 === undefined ? '' : ` and ${own.subnetV6}`;
  return ok('lease', `${own.subnet}${v6}, public IP ${own.attrs.publicIp}${own.reservation ? ', reservation' : ''}`);
}

function checkSubnetFile(f: DoctorFacts, config: NetworkConfig | undefined, own: ListedLease | undefined): CheckResult {
  const { path, state } = f.subnetFile;
  const problem = subnetFileProblem(state, config, own, mtuForFile(config, f.device?.mtu, f.ipv6?.device?.mtu));
  if (problem === undefined) return ok('subnet.env', `${path} ${own ? `matches the lease ${own.subnet}` : f.device ? 'matches the device MTU' : 'parses'}`);
  if (!state.ok && state.missing) return fail('subnet.env', `${path} does not exist: CNI ADD fails until it does`, WEFTD_FIX);
  return fail('subnet.env', `${path}: ${problem}`, 'weftd rewrites it on its next pass; if it stays wrong, another weftd (or flanneld) writes this file, or doctor got a different --subnet-file than weftd');
}

function checkDevice(f: DoctorFacts, config: NetworkConfig | undefined, own: ListedLease | undefined): CheckResult {
  if (!f.deviceName) return fail('device', 'no weft.* VXLAN device on this host (and no config from etcd to name it)', WEFTD_FIX);
  if (!f.device) return fail('device', `${f.deviceName} does not exist`, WEFTD_FIX);
  const problems = config ? deviceProblems(f.device, config, own) : (f.device.up ? [] : ['link is down']);
  const d = f.device;
  const settings = `vxlan id ${String(d.vni)} dstport ${String(d.port)} local ${String(d.local)} dev ${String(d.parent)}`;
  if (problems.length === 0) return ok('device', `${d.name} up, ${settings}`);
  return fail('device', `${d.name}: ${problems.join('; ')}`, 'weftd repairs the device on its next pass (it recreates an incompatible one); if this persists, read weftd\'s log');
}

function checkPeers(f: DoctorFacts, config: NetworkConfig | undefined, own: ListedLease | undefined, judged: HostPeers | undefined): CheckResult[] {
  if (!f.etcd.ok || !config || !own) return [warn('peer entries', 'not checked: needs etcd and this host\'s lease', 'fix the checks above first')];
  if (!f.kernelState) return [warn('peer entries', 'not checked: no device', 'fix the device first')];
  const paths = configuredPaths(directRoutingOn(config), f.device?.parent, f.underlayRoutes, 4);
  return peerChecks({ label: '', deviceName: f.deviceName, port: backendPort(config), ownPublicIp: own.attrs.publicIp },
    peerDrift(own.subnet, (judged?.peers ?? []).filter(isVxlanPeer), f.kernelState, paths), f.probes);
}

/**
 * The peers weftd on this host programs (the acceptance rule, and the route
 * collisions the kernel read shows), for the peer checks and the probes.
 */
export function doctorPeers(f: Pick<DoctorFacts, 'etcd' | 'kernelState'>, own: ListedLease | undefined): HostPeers | undefined {
  if (!f.etcd.ok || !own) return undefined;
  return hostPeers(f.etcd.config, f.etcd.entries, selfView(own), f.kernelState?.foreign ?? []);
}

/** Refused leases (and, on this host, peers whose subnet a foreign route uses): never programmed, each with its reason. */
function checkRefusals(judged: HostPeers | undefined): CheckResult {
  if (!judged) return warn('leases', 'not checked: needs this host\'s lease', 'fix the lease check first');
  const refused = judged.verdicts.filter((v) => v.state === 'refused').map((v) => `${v.key}: ${v.reason}`);
  const collisions = [...judged.collisions].map(([subnet, reason]) => `${subnet}: ${reason}`);
  const pending = judged.verdicts.filter((v) => v.state === 'pending').length;
  const counts = `${judged.peers.length} peers accepted${pending > 0 ? `, ${pending} reservations waiting for their host` : ''}`;
  if (collisions.length > 0) {
    return fail('leases', `${counts}; not programmed here because a route weft does not own uses the subnet: ${collisions.join('; ')}`,
      'remove or move the host route (ip route show <subnet>), or release the lease if the route is right; weftd programs the peer on its next resync');
  }
  if (refused.length > 0) {
    return warn('leases', `${counts}; ${refused.length} refused (never programmed): ${refused.join('; ')}`,
      'weftctl leases shows every refusal; fix or delete the key in etcd (docs/troubleshooting.md, "A lease is refused")');
  }
  return ok('leases', counts);
}
