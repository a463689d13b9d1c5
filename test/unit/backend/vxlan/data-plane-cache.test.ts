/**
 * DataPlane between resyncs: event passes plan against what the last
 * successful pass left (no reads), and every rule that makes that state
 * untrustworthy sends the next pass back to the kernel.
 */
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../../src/core/cidr.js';
import { type KernelState, describeOp, desiredState } from '../../../../src/core/kernel-state.js';
import type { Mac } from '../../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../../src/core/network-config.js';
import type { VxlanLinkInfo } from '../../../../src/core/vxlan-device.js';
import { DataPlane } from '../../../../src/backend/vxlan/data-plane.js';
import { MemoryKernel } from '../../../fakes/memory-kernel.js';
import { LEVEL, memoryLogger } from '../../../helpers/log-sink.js';
import { peerLease, vxlanLease } from '../../../helpers/leases.js';

const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } });
if (!parsed.ok) throw new Error('bad test config');
const config = parsed.config;
const self = '10.5.1.0/24' as Cidr;
const event = { resync: false } as const;

/** MemoryKernel that counts reads. */
class CountingKernel extends MemoryKernel {
  reads: string[] = [];
  override async readDevice(name: string): Promise<VxlanLinkInfo | undefined> {
    this.reads.push('readDevice');
    return super.readDevice(name);
  }
  override async readState(device: string, network?: Cidr): Promise<KernelState> {
    this.reads.push('readState');
    return super.readState(device, network);
  }
}

function sorted(state: KernelState): KernelState {
  const by = <T>(key: (e: T) => string) => (a: T, b: T): number => key(a).localeCompare(key(b));
  return { routes: [...state.routes].sort(by((e) => e.dst)), neighbors: [...state.neighbors].sort(by((e) => e.ip)), fdb: [...state.fdb].sort(by((e) => e.mac)) };
}

async function setup(): Promise<{ kernel: CountingKernel; plane: DataPlane; records: ReturnType<typeof memoryLogger>['records'] }> {
  const kernel = new CountingKernel();
  const { log, records } = memoryLogger();
  const plane = new DataPlane({ kernel, log });
  await plane.prepare({ config, nodeName: 'host1' });
  kernel.reads = [];
  return { kernel, plane, records };
}

t.test('an event pass after a successful pass reads nothing and applies only the difference', async (t) => {
  const { kernel, plane, records } = await setup();
  t.match(await plane.reconcile(self, [peerLease(2)], event), { ok: true, applied: 3 }, 'nothing known yet: the first pass reads');
  t.same([...kernel.reads].sort(), ['readDevice', 'readState']);
  kernel.reads = [];
  const opsBefore = kernel.ops.length;
  t.same(await plane.reconcile(self, [peerLease(2), peerLease(3)], event), { ok: true, applied: 3, failed: 0, changes: 3, programmed: 2 });
  t.same(kernel.reads, [], 'no read');
  t.equal(kernel.ops.length - opsBefore, 3, 'only the new peer');
  t.match(records.at(-1), { msg: 'data plane changed', planned: 'cache' });
  const calls = kernel.calls.length;
  t.same(await plane.reconcile(self, [peerLease(2), peerLease(3)], event), { ok: true, applied: 0, failed: 0, changes: 0, programmed: 2 });
  t.equal(kernel.calls.length, calls, 'nothing new: no kernel call at all');
  t.same(kernel.reads, []);
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(2), peerLease(3)])));
  await plane.reconcile(self, [peerLease(3)], event);
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(3)])), 'a departed peer is removed from the cache too');
  t.same(kernel.reads, []);
});

t.test('a hand edit is invisible to event passes and repaired by the next resync', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2), peerLease(3)]);
  kernel.devices.get('weft.1')?.routes.delete('10.5.2.0/24' as Cidr);
  t.same(await plane.reconcile(self, [peerLease(2), peerLease(3)], event), { ok: true, applied: 0, failed: 0, changes: 0, programmed: 2 });
  t.equal(kernel.state('weft.1').routes.length, 1);
  t.same(await plane.reconcile(self, [peerLease(2), peerLease(3)], { resync: true }), { ok: true, applied: 1, failed: 0, changes: 1, programmed: 2 });
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(2), peerLease(3)])));
});

t.test('reconcile without options is a resync (reads every time)', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  await plane.reconcile(self, [peerLease(2)]);
  t.same([...kernel.reads].sort(), ['readDevice', 'readDevice', 'readState', 'readState']);
});

t.test('a failed operation drops the cache: the next event pass reads and retries it', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  kernel.failOp = (op) => (op.kind === 'route' && op.entry.dst === '10.5.3.0/24' ? 'RTNETLINK answers: Invalid argument' : undefined);
  t.match(await plane.reconcile(self, [peerLease(2), peerLease(3)], event), { ok: false, failed: 1, applied: 2 });
  kernel.failOp = undefined;
  kernel.reads = [];
  t.same(await plane.reconcile(self, [peerLease(2), peerLease(3)], event), { ok: true, applied: 1, failed: 0, changes: 1, programmed: 2 });
  t.same([...kernel.reads].sort(), ['readDevice', 'readState'], 'read, not planned from the cache');
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(2), peerLease(3)])));
});

t.test('a kernel error in an event pass (device gone) drops the cache; the next pass recreates and repopulates', async (t) => {
  const { kernel, plane, records } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  await kernel.deleteDevice('weft.1');
  t.same(await plane.reconcile(self, [peerLease(2), peerLease(3)], event), { ok: false, applied: 0, failed: 0, changes: 3, programmed: 0 });
  t.match(records.at(-1), { level: LEVEL.warn, msg: 'data plane pass failed; retrying' });
  kernel.reads = [];
  t.match(await plane.reconcile(self, [peerLease(2), peerLease(3)], event), { ok: true, applied: 6 });
  t.ok(kernel.reads.includes('readDevice') && kernel.reads.includes('readState'), 'read');
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(2), peerLease(3)])));
});

t.test('a different own subnet or a new prepare() makes the next pass read', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  kernel.reads = [];
  await plane.reconcile('10.5.9.0/24' as Cidr, [peerLease(2)], event);
  t.same([...kernel.reads].sort(), ['readDevice', 'readState'], 'own subnet changed');
  t.same(kernel.devices.get('weft.1')?.info.addresses, ['10.5.9.0/32']);
  kernel.reads = [];
  await plane.prepare({ config, nodeName: 'host1' });
  kernel.reads = [];
  await plane.reconcile('10.5.9.0/24' as Cidr, [peerLease(2)], event);
  t.same([...kernel.reads].sort(), ['readDevice', 'readState'], 'after prepare()');
});

t.test('leases sharing a MAC: event passes give the same result as resyncs', async (t) => {
  const { kernel, plane } = await setup();
  const moved = [vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:02'), vxlanLease('10.5.9.0/24', '192.0.2.19', '0a:00:00:00:00:02')];
  await plane.reconcile(self, [peerLease(3)]);
  t.match(await plane.reconcile(self, [peerLease(3), ...moved], event), { ok: true });
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(3), ...moved])));
  t.same(await plane.reconcile(self, [peerLease(3), ...moved], { resync: true }), { ok: true, applied: 0, failed: 0, changes: 0, programmed: 2 });
});

t.test('a resync that recreates an incompatible device plans against the new, empty device (not the entries read from the old one)', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  const dev = kernel.devices.get('weft.1');
  if (!dev) throw new Error('no device');
  dev.info = { ...dev.info, vni: 99 };
  t.match(await plane.reconcile(self, [peerLease(2)], { resync: true }), { ok: true, applied: 3 });
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(2)])));
  t.match(kernel.devices.get('weft.1')?.info, { vni: 1, up: true, addresses: ['10.5.1.0/32'] });
});

t.test('a read listing one FDB MAC twice (several remotes) is planned on the list: every remote of an unwanted MAC goes', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  const read = kernel.readState.bind(kernel);
  kernel.readState = async (device) => {
    const state = await read(device);
    return { ...state, fdb: [...state.fdb, { mac: '0a:00:00:00:00:f0' as Mac, dst: '192.0.2.240' as Ipv4 }, { mac: '0a:00:00:00:00:f0' as Mac, dst: '192.0.2.241' as Ipv4 }] };
  };
  const from = kernel.ops.length;
  await plane.reconcile(self, [peerLease(2)], { resync: true });
  t.same(kernel.ops.slice(from).map(describeOp), ['delete fdb 0a:00:00:00:00:f0 dst 192.0.2.240', 'delete fdb 0a:00:00:00:00:f0 dst 192.0.2.241']);
});

t.test('reconcileChanged: plans only the changed subnets, O(changes); declines without a trusted state', async (t) => {
  const { kernel, plane, records } = await setup();
  const peers = new Map<Cidr, ReturnType<typeof peerLease>>([2, 3, 4].map((i) => [peerLease(i).subnet, peerLease(i)]));
  const peerOf = (subnet: Cidr): ReturnType<typeof peerLease> | undefined => peers.get(subnet);
  t.equal(await plane.reconcileChanged(self, new Set(peers.keys()), peerOf), undefined, 'no pass yet: the caller runs a full one');
  await plane.reconcile(self, [...peers.values()]);
  kernel.reads = [];
  let asked = 0;
  const counting = (subnet: Cidr): ReturnType<typeof peerLease> | undefined => { asked++; return peerOf(subnet); };
  peers.set(peerLease(5).subnet, peerLease(5));
  peers.delete(peerLease(2).subnet);
  const result = await plane.reconcileChanged(self, new Set([peerLease(5).subnet, peerLease(2).subnet]), counting);
  t.same(result, { ok: true, applied: 6, failed: 0, changes: 6, programmed: 3 });
  t.ok(asked <= 4, `asked for the changed subnets only (${asked} lookups for 2 changes among 4 peers)`);
  t.same(kernel.reads, [], 'no read');
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [...peers.values()])));
  t.match(records.at(-1), { msg: 'data plane changed', planned: 'changes' });
  t.same(await plane.reconcileChanged(self, new Set(), peerOf), { ok: true, applied: 0, failed: 0, changes: 0, programmed: 3 }, 'nothing changed: nothing to do');
  t.equal(await plane.reconcileChanged('10.5.9.0/24' as Cidr, new Set(), peerOf), undefined, 'another own subnet: no trusted state');
});

t.test('reconcileChanged: a failed operation drops the trusted state, so the next pass reads the kernel', async (t) => {
  const { kernel, plane } = await setup();
  await plane.reconcile(self, [peerLease(2)]);
  kernel.failOp = (op) => (op.kind === 'route' && op.entry.dst === peerLease(3).subnet ? 'RTNETLINK answers: Network is unreachable' : undefined);
  const result = await plane.reconcileChanged(self, new Set([peerLease(3).subnet]), (s) => (s === peerLease(3).subnet ? peerLease(3) : undefined));
  t.match(result, { ok: false, failed: 1 });
  t.equal(await plane.reconcileChanged(self, new Set(), () => undefined), undefined, 'the next pass must be a full one');
});

t.test('reconcileChanged: a peer whose subnet a foreign route uses is refused, and accepted once the subnet is free', async (t) => {
  const { kernel, plane } = await setup();
  const foreign = peerLease(3).subnet;
  kernel.foreignRoutes = [{ dst: foreign, description: 'dev eth1 proto static' }];
  await plane.reconcile(self, [peerLease(2)]);
  const r = await plane.reconcileChanged(self, new Set([foreign]), (s) => (s === foreign ? peerLease(3) : undefined));
  t.match(r, { ok: true, changes: 0, refused: [{ subnet: foreign, reason: /route 10\.5\.3\.0\/24 dev eth1 proto static that weft does not own/ }] });
  t.same(sorted(kernel.state('weft.1')), sorted(desiredState(self, [peerLease(2)])), 'the colliding peer is not programmed');
  const gone = await plane.reconcileChanged(self, new Set([foreign]), () => undefined);
  t.equal(gone?.refused, undefined, 'the lease went: no refusal left');
});
