import { writeFile } from 'node:fs/promises';
import t from 'tap';
import type { Cidr } from '../../../src/core/cidr.js';
import type { Kernel } from '../../../src/adapters/kernel.js';
import { collectStatus, renderStatus, statusCommand } from '../../../src/cli/weftctl-status.js';
import { DEVICE6, dualHostFixture } from '../../helpers/dual-host-fixture.js';

const quiet = { out: (): void => undefined, err: (): void => undefined };

t.test('a dual-stack host as weftd leaves it: both devices and both families\' peers in sync', async (t) => {
  const h = await dualHostFixture(t.testdir());
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel6);
  t.same(r.problems, []);
  t.match(r, {
    ok: true, lease: { subnet: '10.5.1.0/24', subnetV6: 'fd00:10:0:1::/64', publicIpv6: 'fd00:99::11' },
    ipv6: { deviceName: DEVICE6, device: { name: DEVICE6, mtu: 1430, problems: [] }, problems: [] },
  });
  t.same(r.ipv6?.drift?.peers.map((p) => [p.subnet, p.node, p.publicIp, p.inSync]),
    [['fd00:10:0:2::/64', 'host2', 'fd00:99::12', true], ['fd00:10:0:3::/64', 'host3', 'fd00:99::13', true]]);
  t.same(r.drift?.peers.map((p) => p.subnet), ['10.5.2.0/24', '10.5.3.0/24'], 'the IPv4 peers as before');
  const text = renderStatus(r);
  t.match(text, /^lease {7}10\.5\.1\.0\/24, public IP 192\.0\.2\.11, VTEP MAC \S+; IPv6 fd00:10:0:1::\/64, public IPv6 fd00:99::11, VTEP MAC \S+, TTL 1h/m);
  t.match(text, /^ipv6 device weft-v6\.1 up, vxlan id 1 dstport 8472 local fd00:99::11 dev eth0, mtu 1430, mac /m);
  t.match(text, /^PEER IPV6 SUBNET +NODE +PUBLIC IPV6 +VTEP MAC +PATH +ROUTE +NEIGHBOUR +FDB$/m);
  t.match(text, /^fd00:10:0:2::\/64 +host2 +fd00:99::12 +\S+ +vxlan +ok +ok +ok$/m);
  t.match(text, /\nin sync: 2 peers, 2 over IPv6$/);
});

t.test('IPv6 drift is reported as IPv6 and fails the status; the IPv4 side stays in sync', async (t) => {
  const h = await dualHostFixture(t.testdir());
  await h.kernel6.apply(DEVICE6, [{ action: 'delete', kind: 'route', entry: { dst: 'fd00:10:0:3::/64' as string as Cidr, via: 'fd00:10:0:3::' as never } }]);
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel6);
  t.same(r.problems, ['IPv6: 1 of 2 peers drifted']);
  t.equal(r.drift?.inSync, true);
  t.match(renderStatus(r), /^fd00:10:0:3::\/64 +host3 .* missing +ok +ok$/m);
  t.equal(await statusCommand(h.registry, { 'node-name': 'host1', 'subnet-file': h.subnetFile }, quiet, h.kernel, h.kernel6), 1);
});

t.test('an IPv6 side that cannot be read is one problem; the IPv4 report is complete', async (t) => {
  const h = await dualHostFixture(t.testdir());
  const broken = { readDevice: async () => { throw new Error('ip -6: Cannot open netlink socket: Address family not supported by protocol'); } } as unknown as Kernel;
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, broken);
  t.same(r.problems, [`IPv6: cannot read ${DEVICE6}: ip -6: Cannot open netlink socket: Address family not supported by protocol`]);
  t.match(r, { device: { name: 'weft.1', problems: [] }, drift: { inSync: true }, ipv6: { device: null, drift: null } });
  t.match(renderStatus(r), /^ipv6 device missing$/m);
});

t.test('a missing IPv6 device, a device with the wrong MAC, local and address', async (t) => {
  const h = await dualHostFixture(t.testdir());
  const dev = h.kernel6.devices.get(DEVICE6);
  if (dev) dev.info = { ...dev.info, mac: '02:00:00:00:00:09' as never, local: 'fd00:99::77' as never, addresses: ['fe80::1/64'] };
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel6);
  t.match(r.problems, [
    /^IPv6: weft-v6\.1: MAC 02:00:00:00:00:09 but the lease's BackendV6Data says /,
    'IPv6: weft-v6.1: local fd00:99::77 but the lease\'s PublicIPv6 is fd00:99::11',
    'IPv6: weft-v6.1: address fd00:10:0:1::/128 missing',
  ]);
  await h.kernel6.deleteDevice(DEVICE6);
  const gone = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel6);
  t.same(gone.problems, [`IPv6: device ${DEVICE6} does not exist`]);
  t.equal(gone.drift?.inSync, true, 'IPv4 peers still checked');
});

t.test('an IPv4-only peer is on the IPv4 device only; subnet.env must carry the smaller MTU and the IPv6 keys', async (t) => {
  const h = await dualHostFixture(t.testdir(), { ipv4Only: [3] });
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel6);
  t.same(r.problems, []);
  t.same(r.drift?.peers.map((p) => p.subnet), ['10.5.2.0/24', '10.5.3.0/24']);
  t.same(r.ipv6?.drift?.peers.map((p) => p.subnet), ['fd00:10:0:2::/64']);
  await writeFile(h.subnetFile, 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.1.1/24\nFLANNEL_IPV6_NETWORK=fd00:10::/48\n'
    + 'FLANNEL_IPV6_SUBNET=fd00:10:0:1::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  t.same((await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel6)).problems,
    [`subnet.env ${h.subnetFile}: says MTU 1450, the device has 1430`]);
  await writeFile(h.subnetFile, 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.1.1/24\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false\n');
  t.same((await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel6)).problems,
    [`subnet.env ${h.subnetFile}: has no FLANNEL_IPV6_NETWORK, but the lease has the IPv6 subnet fd00:10:0:1::/64`]);
});

t.test('an IPv4-only network never reads the IPv6 side', async (t) => {
  const { hostFixture } = await import('../../helpers/host-fixture.js');
  const h = await hostFixture(t.testdir());
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, () => { throw new Error('IPv6 adapter built'); });
  t.equal(r.ok, true);
  t.equal(r.ipv6, null);
  t.notMatch(renderStatus(r), 'ipv6');
});
