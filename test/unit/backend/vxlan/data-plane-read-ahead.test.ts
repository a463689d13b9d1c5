/**
 * DataPlane.readAhead: weftd starts the first pass's kernel read once the
 * lease is acquired, so it overlaps the peer listing. The pass that follows
 * uses it instead of reading, the device is read once at start (by
 * prepare()), and nothing that a pass checks goes unchecked: a device that
 * vanished after prepare() is recreated by that same pass.
 */
import t from 'tap';
import type { Cidr } from '../../../../src/core/cidr.js';
import { type KernelState, desiredState } from '../../../../src/core/kernel-state.js';
import { parseNetworkConfig } from '../../../../src/core/network-config.js';
import type { VxlanLinkInfo } from '../../../../src/core/vxlan-device.js';
import { DataPlane } from '../../../../src/backend/vxlan/data-plane.js';
import { MemoryKernel } from '../../../fakes/memory-kernel.js';
import { LEVEL, memoryLogger } from '../../../helpers/log-sink.js';
import { peerLease } from '../../../helpers/leases.js';

const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } });
if (!parsed.ok) throw new Error('bad test config');
const config = parsed.config;
const self = '10.5.1.0/24' as Cidr;
const leases = [peerLease(1), peerLease(2), peerLease(3)];

class CountingKernel extends MemoryKernel {
  readonly reads: string[] = [];
  override async readDevice(name: string): Promise<VxlanLinkInfo | undefined> {
    this.reads.push('device');
    return super.readDevice(name);
  }
  override async readState(device: string, network?: Cidr): Promise<KernelState> {
    this.reads.push('entries');
    return super.readState(device, network);
  }
}

const count = (reads: readonly string[], what: string): number => reads.filter((r) => r === what).length;
const sortedKeys = (s: KernelState): string[] => [...s.routes.map((r) => r.dst), ...s.neighbors.map((n) => n.ip), ...s.fdb.map((f) => f.mac)].sort();

async function setup() {
  const kernel = new CountingKernel();
  const { log, records } = memoryLogger();
  const plane = new DataPlane({ kernel, log });
  await plane.prepare({ config, nodeName: 'host1' });
  return { kernel, plane, records };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

t.test('the first pass uses the read started ahead; the device is read once at start', async (t) => {
  const { kernel, plane } = await setup();
  const prepared = count(kernel.reads, 'device');
  t.ok(prepared >= 1, 'prepare() read the device (and again after creating it)');
  plane.readAhead(self);
  await settle();
  t.equal(count(kernel.reads, 'entries'), 1, 'the entries were read before the pass was asked for');
  t.ok(kernel.calls.includes('ensureAddress weft.1 10.5.1.0'), 'and the device address set');
  t.same(await plane.reconcile(self, leases), { ok: true, applied: 6, failed: 0, changes: 8, programmed: 2 }, 'the same pass as without it');
  t.same(sortedKeys(kernel.state('weft.1')), sortedKeys(desiredState(self, leases)));
  t.equal(count(kernel.reads, 'device'), prepared, 'the device was not read again');
  t.equal(count(kernel.reads, 'entries'), 1, 'nor the entries');
  t.same(await plane.reconcile(self, leases), { ok: true, applied: 0, failed: 0, changes: 0, programmed: 2 }, 'the next resync reads for itself');
  t.equal(count(kernel.reads, 'device'), prepared + 1);
});

t.test('a device deleted after prepare() is recreated by the pass that uses the read ahead', async (t) => {
  const { kernel, plane, records } = await setup();
  await kernel.deleteDevice('weft.1');
  plane.readAhead(self);
  t.match(await plane.reconcile(self, leases), { ok: true, applied: 6, failed: 0 });
  t.same(sortedKeys(kernel.state('weft.1')), sortedKeys(desiredState(self, leases)));
  t.match(kernel.devices.get('weft.1')?.info, { up: true, addresses: ['10.5.1.0/32'] });
  t.ok(records.some((r) => r.level === LEVEL.warn && r.msg === 'vxlan device missing, recreating'));
});

t.test('a read ahead for another own subnet is not used', async (t) => {
  const { kernel, plane } = await setup();
  plane.readAhead('10.5.9.0/24' as Cidr);
  await settle();
  const before = count(kernel.reads, 'entries');
  t.same(await plane.reconcile(self, leases), { ok: true, applied: 6, failed: 0, changes: 8, programmed: 2 });
  t.equal(count(kernel.reads, 'entries'), before + 1, 'the pass read for its own subnet');
  t.same(kernel.devices.get('weft.1')?.info.addresses, ['10.5.1.0/32'], 'with the address of the subnet it was given');
});

t.test('a failed read ahead is the pass\'s failure, reported, and the next pass reads again', async (t) => {
  const { kernel, plane, records } = await setup();
  await kernel.deleteDevice('weft.1');
  kernel.interfaces = [];
  plane.readAhead(self);
  await settle();
  t.same(await plane.reconcile(self, leases), { ok: false, applied: 0, failed: 0, changes: 0, programmed: 0 });
  t.match(records.at(-1), { level: LEVEL.warn, msg: 'data plane pass failed; retrying', err: { message: /Cannot find device "eth0"/ } });
  kernel.interfaces = new MemoryKernel().interfaces;
  t.match(await plane.reconcile(self, leases), { ok: true, applied: 6 });
});
