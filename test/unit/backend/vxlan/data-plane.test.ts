import t from 'tap';
import type { Cidr, Ipv4 } from '../../../../src/core/cidr.js';
import type { Peer } from '../../../../src/core/peer-acceptance.js';
import { vtepMacFor } from '../../../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../../src/core/network-config.js';
import { type KernelState, describeOp, desiredState } from '../../../../src/core/kernel-state.js';
import { DataPlane } from '../../../../src/backend/vxlan/data-plane.js';
import { MemoryKernel } from '../../../fakes/memory-kernel.js';
import { LEVEL, memoryLogger } from '../../../helpers/log-sink.js';
import { peerLease, vxlanLease } from '../../../helpers/leases.js';

const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } });
if (!parsed.ok) throw new Error('bad test config');
const config: NetworkConfig = parsed.config;
const self = '10.5.1.0/24' as Cidr;

/** Kernel tables are sets: compare them sorted. */
function sorted(state: KernelState): KernelState {
  const by = <T>(key: (e: T) => string) => (a: T, b: T): number => key(a).localeCompare(key(b));
  return {
    routes: [...state.routes].sort(by((e) => e.dst)),
    neighbors: [...state.neighbors].sort(by((e) => e.ip)),
    fdb: [...state.fdb].sort(by((e) => e.mac)),
  };
}
const leases: Peer[] = [peerLease(1), peerLease(2), peerLease(3)];

async function setup(): Promise<{ kernel: MemoryKernel; plane: DataPlane; records: ReturnType<typeof memoryLogger>['records'] }> {
  const kernel = new MemoryKernel();
  const { log, records } = memoryLogger();
  const plane = new DataPlane({ kernel, log });
  await plane.prepare({ config, nodeName: 'host1' });
  return { kernel, plane, records };
}

t.test('prepare: picks the default-route interface and creates the device before any lease exists', async (t) => {
  const kernel = new MemoryKernel();
  const plane = new DataPlane({ kernel, log: memoryLogger().log });
  const prepared = await plane.prepare({ config, nodeName: 'host1' });
  t.same(prepared, { publicIp: '192.0.2.11', vtepMac: vtepMacFor('host1', 1), advert: { backendType: 'vxlan', vni: 1, vtepMac: vtepMacFor('host1', 1) }, mtu: 1450, device: 'weft.1', parent: 'eth0' });
  t.match(kernel.devices.get('weft.1')?.info, { kind: 'vxlan', vni: 1, port: 8472, local: '192.0.2.11', mac: vtepMacFor('host1', 1), up: false });
  t.same(kernel.calls, ['createDevice weft.1']);
  const again = await plane.prepare({ config, nodeName: 'host1', iface: 'eth0', publicIp: '192.0.2.11' as Ipv4 });
  t.equal(again.publicIp, '192.0.2.11');
  t.same(kernel.calls, ['createDevice weft.1'], 'a compatible device is reused');
});

t.test('prepare: the device\'s local address is the public IP', async (t) => {
  const kernel = new MemoryKernel();
  kernel.interfaces = [
    { name: 'eth0', index: 2, mtu: 1500, addresses: [{ ip: '192.0.2.11' as Ipv4, prefixLength: 24, scope: 'global' }] },
    { name: 'eth1', index: 3, mtu: 1500, addresses: [
      { ip: '198.51.100.2' as Ipv4, prefixLength: 24, scope: 'global' }, { ip: '198.51.100.7' as Ipv4, prefixLength: 24, scope: 'global' }] },
  ];
  const plane = new DataPlane({ kernel, log: memoryLogger().log });
  const byPublic = await plane.prepare({ config, nodeName: 'host1', publicIp: '198.51.100.7' as Ipv4 });
  t.match(byPublic, { publicIp: '198.51.100.7', parent: 'eth1' }, 'without --iface: the interface holding the public IP');
  t.match(kernel.devices.get('weft.1')?.info, { local: '198.51.100.7', parent: 'eth1' });

  const onIface = await plane.prepare({ config, nodeName: 'host1', iface: 'eth1', publicIp: '198.51.100.7' as Ipv4 });
  t.match(onIface, { publicIp: '198.51.100.7', parent: 'eth1' }, '--iface and a public IP it holds (not its first address)');
  t.same(kernel.calls, ['createDevice weft.1'], 'same local address: the device is reused');

  await plane.prepare({ config, nodeName: 'host1', iface: 'eth1' });
  t.match(kernel.devices.get('weft.1')?.info, { local: '198.51.100.2' }, 'no --public-ip: the interface address');
  t.same(kernel.calls.slice(1), ['deleteDevice weft.1', 'createDevice weft.1'], 'a changed local address recreates the device');

  const before = kernel.calls.length;
  await t.rejects(plane.prepare({ config, nodeName: 'host1', iface: 'eth0', publicIp: '198.51.100.7' as Ipv4 }), {
    name: 'UsageError', code: 'usage',
    message: /--public-ip 198\.51\.100\.7 is not an address of the external interface eth0 .*VXLAN source address.*NAT is not supported yet/,
  });
  t.equal(kernel.calls.length, before, 'nothing touched the kernel');
});

t.test('prepare: fixes the MTU in place, recreates an incompatible device', async (t) => {
  const { kernel, plane } = await setup();
  const dev = kernel.devices.get('weft.1');
  if (!dev) throw new Error('no device');
  dev.info = { ...dev.info, mtu: 1300 };
  await plane.prepare({ config, nodeName: 'host1' });
  t.same(kernel.calls.slice(1), ['setMtu weft.1 1450']);
  dev.info = { ...dev.info, mac: vtepMacFor('someone-else', 1) };
  await plane.prepare({ config, nodeName: 'host1' });
  t.same(kernel.calls.slice(2), ['deleteDevice weft.1', 'createDevice weft.1']);
  t.equal(kernel.devices.get('weft.1')?.info.mac, vtepMacFor('host1', 1));
  await t.rejects(new DataPlane({ kernel, log: memoryLogger().log }).prepare({ config, nodeName: 'h', iface: 'eth9' }),
    { message: /no interface named eth9/ });
});

t.test('reconcile: converges, then a pass with nothing new does nothing', async (t) => {
  const { kernel, plane, records } = await setup();
  const first = await plane.reconcile(self, leases);
  t.same(first, { ok: true, applied: 6, failed: 0, changes: 8, programmed: 2 }, '6 entries + address + link up');
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, leases)));
  t.match(kernel.devices.get('weft.1')?.info, { up: true, addresses: ['10.5.1.0/32'] });
  t.ok(records.some((r) => r.level === LEVEL.info && r.msg === 'data plane changed'));

  const callsBefore = kernel.calls.length;
  const infosBefore = records.filter((r) => r.level >= LEVEL.info).length;
  t.same(await plane.reconcile(self, leases), { ok: true, applied: 0, failed: 0, changes: 0, programmed: 2 });
  t.equal(kernel.calls.length, callsBefore, 'no kernel change at all');
  t.equal(records.filter((r) => r.level >= LEVEL.info).length, infosBefore, 'a no-op pass logs below info');
  t.equal(records.at(-1)?.msg, 'data plane in sync');
});

t.test('reconcile: a restarted daemon (new DataPlane, same kernel) changes nothing', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, leases);
  const calls = kernel.calls.length;
  const restarted = new DataPlane({ kernel, log: memoryLogger().log });
  await restarted.prepare({ config, nodeName: 'host1' });
  t.same(await restarted.reconcile(self, leases), { ok: true, applied: 0, failed: 0, changes: 0, programmed: 2 });
  t.equal(kernel.calls.length, calls);
});

t.test('reconcile: a departed peer is removed route, then neighbour, then FDB', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, leases);
  const from = kernel.ops.length;
  await plane.reconcile(self, [peerLease(1), peerLease(2)]);
  t.same(kernel.ops.slice(from).map(describeOp), [
    'delete route 10.5.3.0/24 via 10.5.3.0', 'delete neighbor 10.5.3.0 lladdr 0a:00:00:00:00:03', 'delete fdb 0a:00:00:00:00:03 dst 192.0.2.13',
  ]);
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(2)])));
});

t.test('reconcile: a peer with a new MAC leaves no stale FDB entry', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, leases);
  const changed = [peerLease(1), vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:22'), peerLease(3)];
  await plane.reconcile(self, changed);
  t.same(kernel.state('weft.1').fdb.map((e) => e.mac).sort(), ['0a:00:00:00:00:03', '0a:00:00:00:00:22']);
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, changed)));
});

t.test('reconcile: a deleted device is recreated and fully repopulated', async (t) => {
  const { kernel, plane, records } = await setup();
  await plane.reconcile(self, leases);
  await kernel.deleteDevice('weft.1');
  const result = await plane.reconcile(self, leases);
  t.match(result, { ok: true, applied: 6, failed: 0 });
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, leases)));
  t.match(kernel.devices.get('weft.1')?.info, { up: true, addresses: ['10.5.1.0/32'], mac: vtepMacFor('host1', 1) });
  t.ok(records.some((r) => r.level === LEVEL.warn && r.msg === 'vxlan device missing, recreating'));
});

t.test('reconcile: a failing entry is reported, the others are applied, the next pass retries it', async (t) => {
  const { kernel, plane, records } = await setup();
  kernel.failOp = (op) => (op.kind === 'neighbor' && op.entry.ip === '10.5.2.0' ? 'RTNETLINK answers: Invalid argument' : undefined);
  t.same(await plane.reconcile(self, leases), { ok: false, applied: 5, failed: 1, changes: 8, programmed: 1 });
  t.match(records.find((r) => r.msg === 'kernel operations failed; retrying next pass'),
    { level: LEVEL.warn, failed: 1, failures: [{ op: 'replace neighbor 10.5.2.0 lladdr 0a:00:00:00:00:02', error: /Invalid argument/ }] });
  kernel.failOp = undefined;
  t.same(await plane.reconcile(self, leases), { ok: true, applied: 1, failed: 0, changes: 1, programmed: 2 });
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, leases)));
});

t.test('reconcile: a new own subnet moves the device address; stray addresses in the network go', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, leases);
  await plane.reconcile('10.5.9.0/24' as Cidr, leases);
  t.same(kernel.devices.get('weft.1')?.info.addresses, ['10.5.9.0/32']);
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState('10.5.9.0/24' as Cidr, leases)), 'the old own subnet is now a peer');
});

t.test('reconcile: a device that cannot be created is a failed pass, not an exception', async (t) => {
  const { kernel, plane, records } = await setup();
  await kernel.deleteDevice('weft.1');
  kernel.interfaces = [];
  t.same(await plane.reconcile(self, leases), { ok: false, applied: 0, failed: 0, changes: 0, programmed: 0 });
  t.match(records.at(-1), { level: LEVEL.warn, msg: 'data plane pass failed; retrying', err: { message: /Cannot find device "eth0"/ } });
  await t.rejects(new DataPlane({ kernel, log: memoryLogger().log }).reconcile(self, leases), { message: /before prepare/ });
});

t.test('route collision: a peer whose subnet a foreign route uses is refused, and the host route stays', async (t) => {
  const { kernel, plane } = await setup();
  const hostRoute = { dst: '10.5.3.0/24' as Cidr, description: 'dev eth1 proto static' };
  kernel.foreignRoutes = [hostRoute];
  const result = await plane.reconcile(self, leases);
  t.match(result, { ok: true, programmed: 1, refused: [{ subnet: '10.5.3.0/24', reason: /route 10\.5\.3\.0\/24 dev eth1 proto static that weft does not own/ }] });
  t.same(kernel.foreignRoutes, [hostRoute], 'the foreign route was not replaced');
  t.same(kernel.state('weft.1').routes.map((r) => r.dst), ['10.5.2.0/24'], 'nothing of weft\'s for the refused peer');
  t.match(await plane.reconcile(self, leases, { resync: false }), { refused: [{ subnet: '10.5.3.0/24' }] }, 'event passes keep refusing it');
  kernel.foreignRoutes = [];
  t.match(await plane.reconcile(self, leases), { ok: true, programmed: 2, applied: 3 }, 'programmed once the host route is gone (next resync)');
});

t.test('legacy routes (no mark, from an older weft) are taken over by a replace, never deleted first', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, leases);
  const dev = kernel.devices.get('weft.1');
  if (!dev) throw new Error('no device');
  for (const [dst, route] of dev.routes) dev.routes.set(dst, { ...route, legacy: true });
  const before = kernel.ops.length;
  t.match(await plane.reconcile(self, leases), { ok: true, applied: 2, programmed: 2 });
  t.same(kernel.ops.slice(before).map(describeOp), ['replace route 10.5.2.0/24 via 10.5.2.0', 'replace route 10.5.3.0/24 via 10.5.3.0']);
  t.notOk(kernel.state('weft.1').routes.some((r) => r.legacy), 'every route now carries the mark');
});

t.test('a host route that appears between two resyncs is not overwritten by an event pass: add fails, the resync refuses', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  const hostRoute = { dst: '10.5.3.0/24' as Cidr, description: 'dev eth1 proto static' };
  kernel.foreignRoutes = [hostRoute]; // added by someone after the last read
  const event = await plane.reconcile(self, [peerLease(2), peerLease(3)], { resync: false });
  t.match(event, { ok: false, failed: 1 }, 'the route add fails instead of replacing the host route');
  t.same(kernel.foreignRoutes, [hostRoute]);
  const next = await plane.reconcile(self, [peerLease(2), peerLease(3)], { resync: false });
  t.match(next, { ok: true, refused: [{ subnet: '10.5.3.0/24' }], programmed: 1 }, 'after a failure the pass reads and refuses the lease');
  t.same(kernel.foreignRoutes, [hostRoute], 'the host route is still there');
});

t.test('our own subnet\'s route (cni0) is no collision, even when the own lease is passed in', async (t) => {
  const { kernel, plane } = await setup();
  kernel.foreignRoutes = [{ dst: self, description: 'dev cni0 proto kernel' }];
  const result = await plane.reconcile(self, leases);
  t.match(result, { ok: true, programmed: 2 });
  t.notOk('refused' in result, 'nothing refused');
});

t.test('a host route with a metric that appears between resyncs coexists until the resync refuses the lease', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  const dhcp = { dst: '10.5.3.0/24' as Cidr, description: 'dev eth1 proto dhcp metric 100', metric: 100 };
  kernel.foreignRoutes = [dhcp];
  t.match(await plane.reconcile(self, [peerLease(2), peerLease(3)], { resync: false }), { ok: true }, 'the kernel accepts the add');
  t.match(await plane.reconcile(self, [peerLease(2), peerLease(3)], { resync: true }), { ok: true, refused: [{ subnet: '10.5.3.0/24' }], programmed: 1 },
    'the resync sees the host route and refuses the lease');
  t.same(kernel.state('weft.1').routes.map((r) => r.dst), ['10.5.2.0/24'], 'weft\'s own route for it is gone again');
  t.same(kernel.foreignRoutes, [dhcp], 'the host route was never touched');
});
