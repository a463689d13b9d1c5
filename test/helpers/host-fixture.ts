/**
 * One weft host in memory, as weftd leaves it: config and three leases in a
 * MemoryRegistry, the device with every peer's entries in a MemoryKernel,
 * subnet.env on disk. For `weftctl status` / `doctor` unit tests.
 */
import { join } from 'node:path';
import type { Cidr, Ipv4 } from '../../src/core/cidr.js';
import { EMPTY_STATE, desiredState, planKernel } from '../../src/core/kernel-state.js';
import { encodeLeaseValue } from '../../src/core/lease.js';
import type { Peer } from '../../src/core/peer-acceptance.js';
import { vtepMacFor } from '../../src/core/mac.js';
import { parseNetworkConfig } from '../../src/core/network-config.js';
import { deviceSpec } from '../../src/core/vxlan-device.js';
import { writeSubnetFile } from '../../src/adapters/subnet-file.js';
import { MemoryKernel } from '../fakes/memory-kernel.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';

export const CONFIG_TEXT = '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}';

export interface HostFixture {
  readonly registry: MemoryRegistry;
  readonly kernel: MemoryKernel;
  readonly subnetFile: string;
  /** host1, host2, host3: subnet 10.5.i.0/24, public IP 192.0.2.(10+i), MAC vtepMacFor(`host${i}`, 1). */
  readonly leases: readonly Peer[];
}

export async function hostFixture(dir: string): Promise<HostFixture> {
  const parsed = parseNetworkConfig(JSON.parse(CONFIG_TEXT));
  if (!parsed.ok) throw new Error('fixture config');
  const config = parsed.config;
  const registry = new MemoryRegistry();
  await registry.putConfig(CONFIG_TEXT);
  const leases: Peer[] = [1, 2, 3].map((i) => ({
    subnet: `10.5.${i}.0/24` as Cidr,
    attrs: { publicIp: `192.0.2.${10 + i}` as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: vtepMacFor(`host${i}`, 1), nodeName: `host${i}` },
  }));
  for (const l of leases) await registry.claim(l, encodeLeaseValue(l.attrs), 3600);
  const kernel = new MemoryKernel();
  const spec = deviceSpec(config, await kernel.externalInterface({ iface: 'eth0' }), 'host1');
  await kernel.createDevice(spec);
  await kernel.setUp(spec.name);
  await kernel.ensureAddress(spec.name, '10.5.1.0' as Ipv4, config.network);
  await kernel.apply(spec.name, planKernel(desiredState('10.5.1.0/24' as Cidr, leases), EMPTY_STATE));
  const subnetFile = join(dir, 'subnet.env');
  await writeSubnetFile(subnetFile, { network: config.network, subnet: '10.5.1.0/24' as Cidr, mtu: spec.mtu, ipMasq: false });
  return { registry, kernel, subnetFile, leases };
}
