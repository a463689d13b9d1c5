/** Small builders for hand-written leases in data-plane tests. */
import type { Cidr, Ipv4 } from '../../src/core/cidr.js';
import type { Peer } from '../../src/core/peer-acceptance.js';
import type { Mac } from '../../src/core/mac.js';

/** A weft/flannel vxlan lease: `vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:02')`. */
export function vxlanLease(subnet: string, publicIp: string, vtepMac: string, nodeName?: string): Peer {
  return {
    subnet: subnet as Cidr,
    attrs: { publicIp: publicIp as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: vtepMac as Mac, nodeName },
  };
}

/** Peer i (1-based) in 10.5.0.0/16: subnet 10.5.i.0/24, public IP 192.0.2.(10+i), MAC 0a:00:00:00:<hi>:<lo>. */
export function peerLease(i: number): Peer {
  if (!Number.isInteger(i) || i < 1 || i > 240) throw new Error(`peerLease(${i}): i must be 1..240`);
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return vxlanLease(`10.5.${i}.0/24`, `192.0.2.${10 + i}`, `0a:00:00:00:${hex(i >> 8)}:${hex(i & 255)}`, `host${i}`);
}
