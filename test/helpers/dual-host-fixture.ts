/**
 * One dual-stack weft host in memory, as weftd leaves it: the dual-stack
 * config and three dual keys in a MemoryRegistry; the IPv4 device with its
 * entries in one MemoryKernel and the IPv6 device `weft-v6.1` with its
 * entries in another (weftctl reads the IPv6 device through its own,
 * IPv6, kernel adapter); subnet.env with the IPv6 keys and the smaller MTU.
 * For the dual-stack `weftctl status` / `doctor` unit tests.
 */
import { join } from 'node:path';
import type { Cidr, Ipv4 } from '../../src/core/cidr.js';
import type { Cidr6, Ipv6 } from '../../src/core/cidr6.js';
import { EMPTY_STATE, type KernelOp, desiredState, planKernel } from '../../src/core/kernel-state.js';
import { encodeLeaseValue } from '../../src/core/lease.js';
import { type Mac, vtepMacFor } from '../../src/core/mac.js';
import { parseNetworkConfig } from '../../src/core/network-config.js';
import type { Peer } from '../../src/core/peer-acceptance.js';
import { type VxlanLinkInfo, deviceSpec } from '../../src/core/vxlan-device.js';
import { writeSubnetFile } from '../../src/adapters/subnet-file.js';
import { MemoryKernel } from '../fakes/memory-kernel.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

export const DUAL_CONFIG_TEXT = '{"Network":"10.5.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10::/48","Backend":{"Type":"vxlan"}}';
export const DEVICE6 = 'weft-v6.1';

export interface DualHostFixture {
  readonly registry: MemoryRegistry;
  /** The IPv4 side (`weft.1`). */
  readonly kernel: MemoryKernel;
  /** The IPv6 side (`weft-v6.1`), as the IPv6 adapter shows it. */
  readonly kernel6: MemoryKernel;
  readonly subnetFile: string;
  /** host1..3: 10.5.i.0/24 and fd00:10:0:i::/64, public IPs 192.0.2.(10+i) and fd00:99::(10+i). */
  readonly leases: readonly Peer[];
}

export interface DualHostOptions {
  /** Hosts whose key has no IPv6 half (IPv4-only hosts in the dual-stack network). */
  readonly ipv4Only?: readonly number[];
}

const macV6 = (i: number): Mac => vtepMacFor(`host${i}-v6`, 1);

/** The devices' parent, so doctor can read the underlay MTU. */
const underlay: VxlanLinkInfo = {
  name: 'eth0', kind: 'veth', vni: undefined, port: undefined, local: undefined, parent: undefined, learning: false, gbp: false,
  mac: '02:00:00:00:00:11' as Mac, mtu: 1500, up: true, addresses: [],
};

/** A peer's IPv6 entries in the IPv4 types, as an IPv6 adapter reads them. */
function ipv6Entries(peers: readonly Peer[]): KernelOp[] {
  const halves = peers.flatMap((p) => (p.subnetV6 && p.attrs.publicIpv6 && p.attrs.backendV6
    ? [{ subnet: p.subnetV6 as string as Cidr, attrs: { ...p.attrs, publicIp: p.attrs.publicIpv6 as string as Ipv4, vtepMac: p.attrs.backendV6.vtepMac } }] : []));
  return planKernel(desiredState('fd00:10:0:1::/64' as string as Cidr, halves), EMPTY_STATE);
}

export async function dualHostFixture(dir: string, options: DualHostOptions = {}): Promise<DualHostFixture> {
  const parsed = parseNetworkConfig(JSON.parse(DUAL_CONFIG_TEXT));
  if (!parsed.ok) throw new Error('fixture config');
  const config = parsed.config;
  const registry = new MemoryRegistry();
  await registry.putConfig(DUAL_CONFIG_TEXT);
  const leases: Peer[] = [1, 2, 3].map((i) => {
    const v4 = { publicIp: `192.0.2.${10 + i}` as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: vtepMacFor(`host${i}`, 1), nodeName: `host${i}` };
    if (options.ipv4Only?.includes(i)) return { subnet: `10.5.${i}.0/24` as Cidr, attrs: v4 };
    return {
      subnet: `10.5.${i}.0/24` as Cidr, subnetV6: `fd00:10:0:${i}::/64` as Cidr6,
      attrs: { ...v4, publicIpv6: `fd00:99::${10 + i}` as Ipv6, backendV6: { vni: 1, vtepMac: macV6(i) } },
    };
  });
  for (const l of leases) await registry.claim(l, encodeLeaseValue(l.attrs), 3600);

  const kernel = new MemoryKernel();
  const spec = deviceSpec(config, await kernel.externalInterface({ iface: 'eth0' }), 'host1');
  await kernel.createDevice(spec);
  await kernel.setUp(spec.name);
  await kernel.ensureAddress(spec.name, '10.5.1.0' as Ipv4, config.network);
  await kernel.apply(spec.name, planKernel(desiredState('10.5.1.0/24' as Cidr, leases), EMPTY_STATE));

  const kernel6 = new MemoryKernel();
  await kernel6.createDevice({ ...spec, name: DEVICE6, local: 'fd00:99::11' as string as Ipv4, mtu: 1500 - 70, mac: macV6(1) });
  await kernel6.setUp(DEVICE6);
  const device6 = kernel6.devices.get(DEVICE6);
  if (device6) device6.info = { ...device6.info, addresses: ['fd00:10:0:1::/128', 'fe80::1/64'] };
  await kernel6.apply(DEVICE6, ipv6Entries(leases));

  for (const k of [kernel, kernel6]) k.devices.set('eth0', { info: underlay, routes: new Map(), neighbors: new Map(), fdb: new Map() });

  const subnetFile = join(dir, 'subnet.env');
  await writeSubnetFile(subnetFile, {
    network: config.network, subnet: '10.5.1.0/24' as Cidr, mtu: 1430, ipMasq: false,
    ipv6Network: 'fd00:10::/48' as Cidr6, ipv6Subnet: 'fd00:10:0:1::/64' as Cidr6,
  });
  return { registry, kernel, kernel6, subnetFile, leases };
}
