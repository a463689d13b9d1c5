/**
 * Pods behind a hand-made `cni0` bridge in a host namespace, addressed from
 * the host's leased subnet the way the bridge CNI plugin would: gateway .1 on
 * cni0, pods from .2, MTU from subnet.env, default route via the gateway.
 */
import { type Cidr, type Ipv4, cidrPrefix, nthAddress } from '../../src/core/cidr.js';
import { addNetns, ip } from './netns.js';

export interface RigPod {
  readonly netns: string;
  readonly address: Ipv4;
  readonly gateway: Ipv4;
  readonly hostIndex: number;
}

export async function attachPods(hostNetns: string, hostIndex: number, subnet: Cidr, mtu: number, count: number): Promise<RigPod[]> {
  const gateway = nthAddress(subnet, 1);
  const len = cidrPrefix(subnet);
  await ip(['-n', hostNetns, 'link', 'add', 'cni0', 'type', 'bridge']);
  await ip(['-n', hostNetns, 'addr', 'add', `${gateway}/${len}`, 'dev', 'cni0']);
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
    pods.push({ netns, address, gateway, hostIndex });
  }
  return pods;
}
