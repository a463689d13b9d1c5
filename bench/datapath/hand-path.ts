/**
 * The reference path of the data-path bench: the same two rig hosts joined
 * by a VXLAN pair made by hand with weft's settings (port 8472, MTU 1450,
 * nolearning, the same checksum offload), on its own VNI and subnets, each
 * host with its own bridge and pod, programmed the way flanneld (and weft)
 * does per peer: an onlink route via the peer's VTEP address, a permanent
 * neighbour and an FDB entry to the peer's public IP. Everything in the
 * rig's namespaces.
 */
import { inNetns, ip } from '../../test/rig/netns.js';
import type { Rig } from '../../test/rig/rig.js';
import { addNetns } from '../../test/rig/netns.js';

export const HAND_DEVICE = 'hand.2';
const HAND_VNI = 2;

export interface HandPod {
  readonly netns: string;
  readonly address: string;
}

/** Builds the hand-made path on hosts 1 and 2; returns each host's pod. */
export async function buildHandPath(rig: Rig, options: { port: number; mtu: number }): Promise<HandPod[]> {
  const pods: HandPod[] = [];
  for (const i of [1, 2]) {
    const host = rig.host(i);
    const n = host.netns;
    await ip(['-n', n, 'link', 'add', HAND_DEVICE, 'type', 'vxlan', 'id', String(HAND_VNI), 'local', host.address, 'dev', 'eth0',
      'dstport', String(options.port), 'nolearning']);
    await ip(['-n', n, 'link', 'set', HAND_DEVICE, 'mtu', String(options.mtu)]);
    await ip(['-n', n, 'addr', 'add', `10.99.${i}.0/32`, 'dev', HAND_DEVICE]);
    await ip(['-n', n, 'link', 'set', HAND_DEVICE, 'up']);
    await ip(['-n', n, 'link', 'add', 'hbr0', 'type', 'bridge']);
    await ip(['-n', n, 'addr', 'add', `10.99.${i}.1/24`, 'dev', 'hbr0']);
    await ip(['-n', n, 'link', 'set', 'hbr0', 'mtu', String(options.mtu), 'up']);
    const pod = `${n}q1`;
    await addNetns(pod);
    await ip(['-n', n, 'link', 'add', 'vq1', 'mtu', String(options.mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(options.mtu), 'netns', pod]);
    await ip(['-n', n, 'link', 'set', 'vq1', 'master', 'hbr0', 'up']);
    await ip(['-n', pod, 'addr', 'add', `10.99.${i}.2/24`, 'dev', 'eth0']);
    await ip(['-n', pod, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', pod, 'route', 'add', 'default', 'via', `10.99.${i}.1`]);
    pods.push({ netns: pod, address: `10.99.${i}.2` });
  }
  for (const [i, j] of [[1, 2], [2, 1]] as const) {
    const n = rig.host(i).netns;
    const peerMac = (JSON.parse(await ip(['-j', '-n', rig.host(j).netns, 'link', 'show', HAND_DEVICE])) as { address: string }[])[0]?.address ?? '';
    await ip(['-n', n, 'route', 'add', `10.99.${j}.0/24`, 'via', `10.99.${j}.0`, 'dev', HAND_DEVICE, 'onlink']);
    await ip(['-n', n, 'neigh', 'add', `10.99.${j}.0`, 'lladdr', peerMac, 'dev', HAND_DEVICE, 'nud', 'permanent']);
    await inNetns(n, 'bridge', ['fdb', 'append', peerMac, 'dev', HAND_DEVICE, 'dst', rig.host(j).address, 'self', 'permanent']);
  }
  return pods;
}
