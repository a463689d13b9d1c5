import t from 'tap';
import type { Cidr } from '../../../src/core/cidr.js';
import type { Cidr6 } from '../../../src/core/cidr6.js';
import { leasesCommand } from '../../../src/cli/weftctl-leases.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const capture = (): { out: string[]; io: { out(s: string): void; err(s: string): void } } => {
  const out: string[] = [];
  return { out, io: { out: (s) => out.push(s), err: (s) => out.push(s) } };
};

const DUAL = '{"Network":"10.5.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10::/48","Backend":{"Type":"vxlan"}}';
/** Exactly as flanneld writes a dual-stack host's value. */
const FLANNEL_DUAL = '{"PublicIP":"192.0.2.12","PublicIPv6":"2001:db8::12","BackendType":"vxlan",'
  + '"BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:00:00:02"},"BackendV6Data":{"VNI":1,"VtepMAC":"aa:bb:cc:00:06:02"}}';
const V4_ONLY = '{"PublicIP":"192.0.2.13","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:00:00:03"},"NodeName":"host3"}';

async function dualRegistry(): Promise<MemoryRegistry> {
  const registry = new MemoryRegistry();
  await registry.putConfig(DUAL);
  await registry.claim({ subnet: '10.5.2.0/24' as Cidr, subnetV6: 'fd00:10:0:2::/64' as Cidr6 }, FLANNEL_DUAL, 3600);
  await registry.claim({ subnet: '10.5.3.0/24' as Cidr }, V4_ONLY, 3600);
  return registry;
}

t.test('dual-stack network: both families per lease, in the table and in JSON (IPv4 fields unchanged)', async (t) => {
  const registry = await dualRegistry();
  const c = capture();
  t.equal(await leasesCommand(registry, {}, c.io), 0);
  const text = c.out.join('\n');
  t.match(text, /^SUBNET +IPV6 SUBNET +NODE +PUBLIC IP +PUBLIC IPV6 +VTEP MAC +TTL +STATE$/m);
  t.match(text, /^10\.5\.2\.0\/24 +fd00:10:0:2::\/64 +- +192\.0\.2\.12 +2001:db8::12 +aa:bb:cc:00:00:02 +1h +ok$/m);
  t.match(text, /^10\.5\.3\.0\/24 +- +host3 +192\.0\.2\.13 +- +aa:bb:cc:00:00:03 +1h +ok, IPv4 only: its key names no IPv6 subnet/m);
  const j = capture();
  await leasesCommand(registry, { json: true }, j.io);
  const { leases } = JSON.parse(j.out.join('')) as { leases: Record<string, unknown>[] };
  t.match(leases[0], {
    subnet: '10.5.2.0/24', publicIp: '192.0.2.12', vtepMac: 'aa:bb:cc:00:00:02', backendType: 'vxlan', state: 'peer', reason: null,
    subnetV6: 'fd00:10:0:2::/64', publicIpv6: '2001:db8::12', vtepMacV6: 'aa:bb:cc:00:06:02', families: ['ipv4', 'ipv6'],
  });
  t.match(leases[1], { subnet: '10.5.3.0/24', subnetV6: null, publicIpv6: null, vtepMacV6: null, families: ['ipv4'], reason: /^IPv4 only/ });
});

t.test('IPv4-only network: the table keeps its IPv4 columns only; JSON has the new fields as null', async (t) => {
  const registry = new MemoryRegistry();
  await registry.putConfig('{"Network":"10.5.0.0/16"}');
  await registry.claim({ subnet: '10.5.3.0/24' as Cidr }, V4_ONLY, 3600);
  const c = capture();
  await leasesCommand(registry, {}, c.io);
  t.match(c.out.join('\n'), /^SUBNET +NODE +PUBLIC IP +VTEP MAC +TTL +STATE\n10\.5\.3\.0\/24 +host3 +192\.0\.2\.13 +aa:bb:cc:00:00:03 +1h +ok$/);
  const j = capture();
  await leasesCommand(registry, { json: true }, j.io);
  t.match(JSON.parse(j.out.join('')), { leases: [{ subnetV6: null, publicIpv6: null, families: ['ipv4'], reason: null }] });
});

t.test('a dual key whose host wrote no IPv6 endpoint is shown with its IPv6 subnet, programmed for IPv4 only', async (t) => {
  const registry = new MemoryRegistry();
  await registry.putConfig(DUAL);
  await registry.claim({ subnet: '10.5.4.0/24' as Cidr, subnetV6: 'fd00:10:0:4::/64' as Cidr6 },
    '{"PublicIP":"192.0.2.14","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:00:00:04"}}', 3600);
  const j = capture();
  await leasesCommand(registry, { json: true }, j.io);
  t.match(JSON.parse(j.out.join('')), { leases: [{ subnetV6: 'fd00:10:0:4::/64', publicIpv6: null, families: ['ipv4'], reason: /^IPv4 only: .*PublicIPv6/ }] });
});
