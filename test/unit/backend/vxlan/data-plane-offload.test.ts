/**
 * DataPlane and Backend.ChecksumOffload / Backend.MTU: the flag is set when
 * the device is prepared and whenever a reading pass finds it wrong (a
 * recreated device comes back with the kernel's default, on); `auto` never
 * touches it; a Backend.MTU above the interface's MTU refuses to prepare
 * and changes nothing.
 */
import t from 'tap';
import type { Cidr } from '../../../../src/core/cidr.js';
import { UsageError } from '../../../../src/core/errors.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../../src/core/network-config.js';
import { DataPlane } from '../../../../src/backend/vxlan/data-plane.js';
import { MemoryEthtool } from '../../../fakes/memory-ethtool.js';
import { MemoryKernel } from '../../../fakes/memory-kernel.js';
import { LEVEL, memoryLogger } from '../../../helpers/log-sink.js';
import { peerLease } from '../../../helpers/leases.js';

const self = '10.5.1.0/24' as Cidr;

function configWith(backend: Record<string, unknown>): NetworkConfig {
  const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan', ...backend } });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
}

function setup(): { kernel: MemoryKernel; ethtool: MemoryEthtool; plane: DataPlane; records: ReturnType<typeof memoryLogger>['records'] } {
  const kernel = new MemoryKernel();
  const ethtool = new MemoryEthtool(kernel);
  const { log, records } = memoryLogger();
  return { kernel, ethtool, plane: new DataPlane({ kernel, log, offload: ethtool }), records };
}

t.test('default (off): set on the new device at prepare, and again after the device is recreated', async (t) => {
  const { kernel, ethtool, plane } = setup();
  await plane.prepare({ config: configWith({}), nodeName: 'host1' });
  t.same(ethtool.calls, ['-k weft.1', '-K weft.1 off'], 'a new device is on (the kernel default): turned off');
  t.equal(await ethtool.readTxChecksum('weft.1'), false);

  ethtool.calls.length = 0;
  t.equal((await plane.reconcile(self, [peerLease(2)])).ok, true);
  t.same(ethtool.calls, ['-k weft.1'], 'a reading pass checks; nothing to change');

  kernel.devices.delete('weft.1'); // deleted by hand
  ethtool.calls.length = 0;
  const repaired = await plane.reconcile(self, [peerLease(2)]);
  t.equal(repaired.ok, true);
  t.ok(kernel.devices.has('weft.1'), 'the device is back');
  t.same(ethtool.calls, ['-k weft.1', '-K weft.1 off'], 'and its offload is off again');
  t.equal(await ethtool.readTxChecksum('weft.1'), false);
});

t.test('on: a device turned off by hand is turned back on by the next reading pass', async (t) => {
  const { ethtool, plane } = setup();
  await plane.prepare({ config: configWith({ ChecksumOffload: 'on' }), nodeName: 'host1' });
  t.same(ethtool.calls, ['-k weft.1'], 'already on: nothing set');
  await ethtool.setTxChecksum('weft.1', false);
  ethtool.calls.length = 0;
  await plane.reconcile(self, []);
  t.same(ethtool.calls, ['-k weft.1', '-K weft.1 on']);
});

t.test('auto: weft never reads or sets the flag', async (t) => {
  const { kernel, ethtool, plane } = setup();
  await plane.prepare({ config: configWith({ ChecksumOffload: 'auto' }), nodeName: 'host1' });
  kernel.devices.delete('weft.1');
  await plane.reconcile(self, []);
  t.same(ethtool.calls, []);
});

t.test('ethtool failing is logged and retried, the pass still succeeds', async (t) => {
  const { ethtool, plane, records } = setup();
  ethtool.failWith = 'ethtool could not run or was killed: spawn ethtool ENOENT';
  await plane.prepare({ config: configWith({}), nodeName: 'host1' });
  t.match(records.filter((r) => r.level === LEVEL.warn), [{ msg: /cannot set checksum offload/, device: 'weft.1', wanted: 'off' }]);
  t.equal((await plane.reconcile(self, [peerLease(2)])).ok, true, 'the data path is programmed anyway');
  ethtool.failWith = undefined;
  ethtool.calls.length = 0;
  await plane.reconcile(self, [peerLease(2)]);
  t.same(ethtool.calls, ['-k weft.1', '-K weft.1 off'], 'the next reading pass sets it');
});

t.test('Backend.MTU above the external interface MTU: refused at prepare, naming both numbers, nothing changed', async (t) => {
  const { kernel, ethtool, plane } = setup();
  await plane.prepare({ config: configWith({}), nodeName: 'host1' });
  const before = structuredClone(kernel.devices.get('weft.1')?.info);
  kernel.calls.length = 0;
  const err = await plane.prepare({ config: configWith({ MTU: 1600 }), nodeName: 'host1' }).then(() => undefined, (e: unknown) => e);
  t.type(err, UsageError);
  t.match((err as Error).message, /^Backend\.MTU 1600 is larger than the MTU 1500 of the external interface eth0 .*set Backend\.MTU to at most 1500/);
  t.same(kernel.calls, [], 'no device deleted, created or changed');
  t.same(kernel.devices.get('weft.1')?.info, before);
  t.equal((await plane.prepare({ config: configWith({ MTU: 1500 }), nodeName: 'host1' })).mtu, 1450, 'equal to the interface MTU is fine');
  t.equal((await plane.prepare({ config: configWith({ MTU: 1400 }), nodeName: 'host1' })).mtu, 1350, 'smaller is fine');
  t.ok(ethtool.calls.length > 0);
});
