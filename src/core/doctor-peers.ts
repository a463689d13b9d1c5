/**
 * The doctor's peer checks for one family's device: are the route,
 * neighbour and FDB entry of every peer in place, and does a ping to each
 * peer's subnet address through the device come back. Pure; the same rules
 * for the IPv4 device and the IPv6 one.
 */
import { type CheckResult, fail, ok, warn } from './check-result.js';
import type { DriftReport } from './peer-drift.js';

/** One family's side of the peer checks: its label (`''` or `ipv6 `), device, and this host's address on its underlay. */
export interface FamilyPeerCheck {
  readonly label: '' | 'ipv6 ';
  readonly deviceName: string | undefined;
  readonly port: number;
  readonly ownPublicIp: string;
}

/** The peer entries of one family's device, then per peer whether a ping through it came back. */
export function peerChecks(family: FamilyPeerCheck, drift: DriftReport, probes: readonly { readonly subnet: string; readonly replied: boolean; readonly output: string }[]): CheckResult[] {
  const { label, port } = family;
  const device = family.deviceName ?? 'the device';
  const bad = drift.peers.filter((p) => !p.inSync);
  const entries = bad.length === 0 && drift.extra.length === 0
    ? ok(`${label}peer entries`, `route, neighbour and FDB entry in place for all ${drift.peers.length} peers${label ? ` on ${device}` : ''}`)
    : fail(`${label}peer entries`, [...bad.map((p) => `${p.subnet}: route ${p.route}, neighbour ${p.neighbor}, fdb ${p.fdb}`), ...drift.extra.map((e) => `unwanted ${e}`)].join('; '),
      'weftd repairs these on its next pass (--resync-interval); if they stay wrong, weftd\'s log says which kernel change failed; `weftctl status` shows every entry');
  const reach = drift.peers.map((p): CheckResult => {
    const probe = probes.find((x) => x.subnet === p.subnet);
    if (p.path === 'direct') {
      const name = `${label ? 'direct6' : 'direct'} ${p.subnet}`;
      const target = p.subnet.slice(0, p.subnet.indexOf('/'));
      if (!p.inSync) return warn(name, 'not judged: this host\'s direct route for the peer is not in place', `see the ${label}peer entries check`);
      if (!probe) return warn(name, 'not probed', 'run doctor on the host itself (ip netns exec <host> weftctl doctor) as root');
      if (probe.replied) return ok(name, `${target} answered over the direct route via ${p.publicIp}${p.node ? ` (${p.node})` : ''} (DirectRouting: no VXLAN)`);
      return fail(name, `no answer from ${target} over the direct route via ${p.publicIp} (${probe.output})`,
        `the peer is on this host's segment: check forwarding and ${label ? 'ip6tables' : 'iptables'} FORWARD on ${p.node ?? p.publicIp}, and rp_filter on both hosts`);
    }
    const name = `${label ? 'vxlan6' : 'vxlan'} ${p.subnet}`;
    const path = `UDP ${port} to ${p.publicIp}${p.node ? ` (${p.node})` : ''} and back`;
    // Not judged (the docs promise it): the peer entries check already FAILs for this peer.
    if (!p.inSync) return warn(name, `not judged: this host's entries for the peer are not in place, so UDP ${port} cannot be tested`, `see the ${label}peer entries check`);
    if (!probe) return warn(name, 'not probed', 'run doctor on the host itself (ip netns exec <host> weftctl doctor) as root');
    const target = p.subnet.slice(0, p.subnet.indexOf('/'));
    if (probe.replied) return ok(name, `${target} answered through ${device}: ${path} works`);
    return fail(name, `no answer from ${target} through ${device} (${probe.output}): ${path} is blocked or the peer is down`,
      `allow UDP ${port} between ${family.ownPublicIp} and ${p.publicIp} both ways (host firewalls: ${label ? 'ip6tables' : 'iptables'} -S INPUT on both hosts; cloud security groups); run weftctl doctor on ${p.node ?? p.publicIp} too`);
  });
  return [entries, ...reach];
}
