/**
 * Synthetic peer hosts for the data-plane bench: peer i leases 10.a.b.0/24
 * (its VTEP address 10.a.b.0), VTEP MAC 02:be:…, public IP 198.18.x.y, so the
 * entries weftd must program for it are known in advance:
 *   fdb   <mac> dev weft.1 dst <public ip> self permanent
 *   neigh <vtep> lladdr <mac> dev weft.1 nud permanent
 *   route <subnet> via <vtep> dev weft.1 onlink proto 87
 */
import type { Etcd3 } from 'etcd3';

export interface Peer {
  readonly key: string;
  readonly subnet: string;
  readonly vtep: string;
  readonly mac: string;
  readonly publicIp: string;
}

const hex = (n: number): string => (n & 255).toString(16).padStart(2, '0');

export function peer(i: number): Peer {
  const a = 1 + (i >> 8), b = i & 255;
  return {
    key: `10.${a}.${b}.0-24`, subnet: `10.${a}.${b}.0/24`, vtep: `10.${a}.${b}.0`,
    mac: `02:be:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}:01`, publicIp: `198.18.${(i >> 8) & 255}.${i & 255}`,
  };
}

/** flannel's lease value for a vxlan peer. */
export function leaseValue(p: Peer, i: number): string {
  return JSON.stringify({ PublicIP: p.publicIp, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: p.mac }, NodeName: `peer${i}` });
}

/** Writes leases for peers from..to (inclusive), 100 per transaction. */
export async function writePeers(etcd: Etcd3, prefix: string, from: number, to: number): Promise<void> {
  for (let start = from; start <= to; start += 100) {
    const ops = [];
    for (let i = start; i <= Math.min(to, start + 99); i++) {
      const p = peer(i);
      ops.push(etcd.put(`${prefix}/subnets/${p.key}`).value(leaseValue(p, i)));
    }
    await etcd.if(`${prefix}/config`, 'Create', '>', 0).then(...ops).commit();
  }
}

/** The `ip -batch` and `bridge -batch` text that programs peers 1..n on `dev` (the floor's input). */
export function batchInput(n: number, dev: string): { ip: string; bridge: string } {
  const ip: string[] = [];
  const bridge: string[] = [];
  for (let i = 1; i <= n; i++) {
    const p = peer(i);
    bridge.push(`fdb replace ${p.mac} dev ${dev} dst ${p.publicIp} self permanent`);
    ip.push(`neigh replace ${p.vtep} lladdr ${p.mac} dev ${dev} nud permanent`, `route replace ${p.subnet} via ${p.vtep} dev ${dev} onlink proto 87`);
  }
  return { ip: `${ip.join('\n')}\n`, bridge: `${bridge.join('\n')}\n` };
}
