/**
 * Pods behind a hand-made `cni0` bridge in a host namespace, addressed from
 * the host's leased subnet the way the bridge CNI plugin would: gateway .1 on
 * cni0, pods from .2, MTU from subnet.env, default route via the gateway.
 * Dual-stack pods (with `v6`) get the same from the host's IPv6 subnet
 * (`::1` on cni0, pods from `::2`, an IPv6 default route via `::1`, all
 * `nodad`), and optionally a lower IPv6 MTU on their eth0 (the IPv6 device
 * runs at underlay − 70, the IPv4 one at underlay − 50).
 */
import { type Cidr, type Ipv4, cidrPrefix, nthAddress } from '../../src/core/cidr.js';
import { type Cidr6, type Ipv6, cidr6Prefix, nthAddress6 } from '../../src/core/cidr6.js';
import { addNetns, inNetns, ip } from './netns.js';

export interface RigPod {
  readonly netns: string;
  readonly address: Ipv4;
  readonly gateway: Ipv4;
  /** Dual-stack pods only. */
  readonly address6?: Ipv6 | undefined;
  readonly gateway6?: Ipv6 | undefined;
  readonly hostIndex: number;
}

/** The IPv6 half of dual-stack pods. */
export interface PodsV6 {
  readonly subnet: Cidr6;
  /** The pods' IPv6 MTU (`net.ipv6.conf.eth0.mtu`), when lower than the link's. */
  readonly mtu?: number | undefined;
}

export async function attachPods(hostNetns: string, hostIndex: number, subnet: Cidr, mtu: number, count: number, v6?: PodsV6): Promise<RigPod[]> {
  const gateway = nthAddress(subnet, 1);
  const len = cidrPrefix(subnet);
  const gateway6 = v6 === undefined ? undefined : nthAddress6(v6.subnet, 1);
  const len6 = v6 === undefined ? 0 : cidr6Prefix(v6.subnet);
  await ip(['-n', hostNetns, 'link', 'add', 'cni0', 'type', 'bridge']);
  await ip(['-n', hostNetns, 'addr', 'add', `${gateway}/${len}`, 'dev', 'cni0']);
  if (gateway6) await ip(['-n', hostNetns, 'addr', 'add', `${gateway6}/${len6}`, 'dev', 'cni0', 'nodad']);
  await ip(['-n', hostNetns, 'link', 'set', 'cni0', 'mtu', String(mtu), 'up']);
  const pods: RigPod[] = [];
  for (let p = 1; p <= count; p++) {
    const netns = `${hostNetns}p${p}`;
    const address = nthAddress(subnet, 1 + p);
    await addNetns(netns);
    await ip(['-n', hostNetns, 'link', 'add', `vp${p}`, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(mtu), 'netns', netns]);
    await ip(['-n', hostNetns, 'link', 'set', `vp${p}`, 'master', 'cni0', 'up']);
    await ip(['-n', netns, 'addr', 'add', `${address}/${len}`, 'dev', 'eth0']);
    await ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', netns, 'route', 'add', 'default', 'via', gateway]);
    if (v6 === undefined || gateway6 === undefined) {
      pods.push({ netns, address, gateway, hostIndex });
      continue;
    }
    const address6 = nthAddress6(v6.subnet, 1 + p);
    await ip(['-n', netns, 'addr', 'add', `${address6}/${len6}`, 'dev', 'eth0', 'nodad']);
    await ip(['-n', netns, '-6', 'route', 'add', 'default', 'via', gateway6]);
    if (v6.mtu !== undefined) await inNetns(netns, 'sysctl', ['-qw', `net.ipv6.conf.eth0.mtu=${v6.mtu}`]);
    pods.push({ netns, address, gateway, address6, gateway6, hostIndex });
  }
  return pods;
}
