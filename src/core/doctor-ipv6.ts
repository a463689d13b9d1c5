/**
 * The doctor's IPv6 checks on a dual-stack network: IPv6 forwarding, this
 * host's IPv6 lease half, the IPv6 device `weft-v6.<VNI>` and its MTU, and
 * per peer the IPv6 entries and a ping through the IPv6 device. Pure. They
 * are added after the IPv4 checks and never replace one: an IPv6 problem
 * never hides an IPv4 result.
 */
import { type UnderlayRoute, configuredPaths } from './direct-routing.js';
import { isVxlanPeer } from './peer-acceptance.js';
import type { ListedLease } from './allocate.js';
import type { Cidr6 } from './cidr6.js';
import { type CheckResult, fail, ok, warn } from './check-result.js';
import { deviceProblemsV6 } from './device-check.js';
import { checkIpv6Forward, checkMtuV6 } from './doctor-host.js';
import { peerChecks } from './doctor-peers.js';
import type { HostPeers } from './host-peers.js';
import type { KernelState } from './kernel-state.js';
import { type NetworkConfig, backendPort, directRoutingOn } from './network-config.js';
import { peerDriftV6 } from './peer-drift.js';
import type { VxlanLinkInfo } from './vxlan-device.js';

/** One ping through the IPv6 device to a peer's IPv6 subnet address (`ping -6`). */
export interface PeerProbe6 {
  readonly subnet: Cidr6;
  readonly replied: boolean;
  readonly output: string;
}

/** What doctor read of the IPv6 side (through an IPv6 kernel adapter). */
export interface Ipv6Facts {
  /** `weft-v6.<VNI>`. */
  readonly deviceName: string;
  readonly device: VxlanLinkInfo | undefined;
  readonly parentMtu: number | undefined;
  /** `net.ipv6.conf.all.forwarding`; undefined when it cannot be read. */
  readonly forwarding: number | undefined;
  readonly kernelState: KernelState | undefined;
  /** The IPv6 main table's routes, read when the config asks for DirectRouting. */
  readonly underlayRoutes?: readonly UnderlayRoute[] | undefined;
  readonly probes: readonly PeerProbe6[];
  /** Why the IPv6 side could not be read (the IPv4 checks are unaffected). */
  readonly error?: string | undefined;
}

const WEFTD_LOG = 'read weftd\'s log (journalctl -u weftd): it says why the host stays IPv4 only';

/** The IPv6 checks, in the order an operator would look; none when the network is not dual-stack. */
export function checkIpv6(ipv6: Ipv6Facts | undefined, config: NetworkConfig | undefined, own: ListedLease | undefined,
  judged: HostPeers | undefined): CheckResult[] {
  if (config?.ipv6 === undefined) return [];
  if (ipv6 === undefined) return [warn('ipv6', 'not checked: IPv6 side not read', 'run doctor on the host as root')];
  return [
    checkIpv6Forward(ipv6.forwarding),
    checkIpv6Lease(own),
    checkIpv6Device(ipv6, config, own),
    checkMtuV6({ deviceName: ipv6.deviceName, device: ipv6.device, parentMtu: ipv6.parentMtu, cni0Mtu: undefined }, config),
    ...checkIpv6Peers(ipv6, config, own, judged),
  ];
}

function checkIpv6Lease(own: ListedLease | undefined): CheckResult {
  if (!own) return warn('ipv6 lease', 'not checked: no lease for this host', 'fix the lease check first');
  if (own.subnetV6 === undefined) {
    return fail('ipv6 lease', `the lease ${own.subnet} has no IPv6 subnet: this host is IPv4 only on a dual-stack network`, WEFTD_LOG);
  }
  if (own.attrs.publicIpv6 === undefined) {
    return fail('ipv6 lease', `${own.subnetV6}, but no PublicIPv6: peers cannot reach this host over IPv6`,
      `give the external interface a global IPv6 address (a link-local one is never used), or weftd --public-ipv6; ${WEFTD_LOG}`);
  }
  return ok('ipv6 lease', `${own.subnetV6}, public IPv6 ${own.attrs.publicIpv6}`);
}

function checkIpv6Device(ipv6: Ipv6Facts, config: NetworkConfig, own: ListedLease | undefined): CheckResult {
  if (ipv6.error !== undefined) return warn('ipv6 device', `cannot read ${ipv6.deviceName}: ${ipv6.error}`, 'run doctor as root on the host; check `ip -6 -d link show`');
  if (!ipv6.device) return fail('ipv6 device', `${ipv6.deviceName} does not exist`, `weftd creates it once the host has an IPv6 lease half and a global IPv6 address; ${WEFTD_LOG}`);
  const problems = deviceProblemsV6(ipv6.device, config, own);
  const d = ipv6.device;
  if (problems.length === 0) return ok('ipv6 device', `${d.name} up, vxlan id ${String(d.vni)} dstport ${String(d.port)} local ${String(d.local)} dev ${String(d.parent)}`);
  return fail('ipv6 device', `${d.name}: ${problems.join('; ')}`, 'weftd repairs the device on its next pass (it recreates an incompatible one); if this persists, read weftd\'s log');
}

function checkIpv6Peers(ipv6: Ipv6Facts, config: NetworkConfig, own: ListedLease | undefined, judged: HostPeers | undefined): CheckResult[] {
  if (!own?.subnetV6 || own.attrs.publicIpv6 === undefined) return [warn('ipv6 peer entries', 'not checked: needs this host\'s IPv6 lease half', 'fix the ipv6 lease check first')];
  if (!ipv6.kernelState) return [warn('ipv6 peer entries', 'not checked: no IPv6 device', 'fix the ipv6 device first')];
  return peerChecks({ label: 'ipv6 ', deviceName: ipv6.deviceName, port: backendPort(config), ownPublicIp: own.attrs.publicIpv6 },
    peerDriftV6(own.subnetV6, (judged?.peers ?? []).filter(isVxlanPeer), ipv6.kernelState,
      configuredPaths(directRoutingOn(config), ipv6.device?.parent, ipv6.underlayRoutes, 6)), ipv6.probes);
}
