/**
 * The underlay follower against the real VXLAN DataPlane on an in-memory
 * kernel: a readdress makes the device again with the new local and reports
 * the new addresses, a missing interface is a wait that touches nothing, the
 * interface made again (new ifindex) gets its device back, and --public-ip
 * is never replaced.
 */
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../src/core/network-config.js';
import type { Prepared } from '../../../src/backend/data-plane-port.js';
import { DataPlane } from '../../../src/backend/vxlan/data-plane.js';
import { DaemonStatus } from '../../../src/daemon/status.js';
import { UnderlayFollower } from '../../../src/daemon/underlay-follower.js';
import { MemoryKernel } from '../../fakes/memory-kernel.js';
import { MemoryUnderlay } from '../../fakes/memory-underlay.js';
import { LEVEL, memoryLogger } from '../../helpers/log-sink.js';
import { peerLease } from '../../helpers/leases.js';

const OLD = '192.0.2.11' as Ipv4;
const NEW = '192.0.2.42' as Ipv4;
const self = '10.5.1.0/24' as Cidr;

function configOf(backend: object = {}): NetworkConfig {
  const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan', ...backend } });
  if (!parsed.ok) throw new Error('bad test config');
  return parsed.config;
}

function eth0(index: number, addresses: readonly Ipv4[], mtu = 1500) {
  return { name: 'eth0', index, mtu, addresses: addresses.map((ip) => ({ ip, prefixLength: 24, scope: 'global' })) };
}

async function setup(options: { publicIp?: Ipv4; config?: NetworkConfig } = {}) {
  const config = options.config ?? configOf();
  const kernel = new MemoryKernel();
  const { log, records } = memoryLogger();
  const dataPlane = new DataPlane({ kernel, log });
  const input = { config, nodeName: 'h1', iface: 'eth0', ...(options.publicIp ? { publicIp: options.publicIp } : {}) };
  const prepared = await dataPlane.prepare(input);
  const underlay = new MemoryUnderlay(kernel);
  const status = new DaemonStatus();
  const moved: Prepared[] = [];
  let wakes = 0;
  const follower = new UnderlayFollower({
    underlay, dataPlane, prepareInput: input, pins: { publicIp: options.publicIp, ipv6: false }, log, status, now: () => 1000,
    onMoved: (next) => moved.push(next),
  }, prepared);
  await follower.start(() => { wakes++; });
  return { kernel, dataPlane, underlay, status, moved, follower, records, wakes: () => wakes };
}

t.test('a notification marks the follower dirty and wakes the loop; an unchanged interface is ok', async (t) => {
  const s = await setup();
  t.same(s.underlay.watching, ['eth0'], 'watching the interface the device sits on');
  t.equal(s.follower.dirty, false);
  await s.underlay.notify('eth0');
  t.equal(s.wakes(), 1);
  t.equal(s.follower.dirty, true);
  const created = s.kernel.calls.filter((c) => c.startsWith('createDevice')).length;
  t.equal(await s.follower.check(), 'ok');
  t.equal(s.follower.dirty, false);
  t.equal(s.kernel.calls.filter((c) => c.startsWith('createDevice')).length, created, 'the device is left alone');
  t.same(s.moved, []);
  t.same(s.status.underlay, { iface: 'eth0', publicIp: OLD, publicIpv6: undefined, changes: 0, waiting: undefined });
});

t.test('a readdress makes the device again with the new local; peers are programmed on it by the next pass', async (t) => {
  const s = await setup();
  t.ok((await s.dataPlane.reconcile(self, [peerLease(2)])).ok);
  s.kernel.interfaces = [eth0(2, [NEW])];
  t.equal(await s.follower.check(), 'moved');
  t.equal(s.kernel.devices.get('weft.1')?.info.local, NEW, 'the device sends from the new address');
  t.equal(s.moved.length, 1);
  t.equal(s.moved[0]?.publicIp, NEW, 'the new address to advertise');
  t.equal(s.moved[0]?.vtepMac, s.kernel.devices.get('weft.1')?.info.mac, 'the same VTEP MAC');
  t.match(s.status.underlay, { publicIp: NEW, changes: 1, waiting: undefined, lastChangeAt: 1000 });
  t.equal(s.kernel.devices.get('weft.1')?.fdb.size, 0, 'the new device starts empty');
  const pass = await s.dataPlane.reconcile(self, [peerLease(2)]);
  t.ok(pass.ok);
  t.equal(pass.programmed, 1, 'the full pass programs the peer on the new device');
  t.equal(s.kernel.devices.get('weft.1')?.fdb.size, 1);
  t.equal(await s.follower.check(), 'ok', 'followed once');
  t.equal(s.moved.length, 1);
});

t.test('the interface gone is a logged wait that touches nothing; made again (new ifindex) its device comes back', async (t) => {
  const s = await setup();
  t.ok((await s.dataPlane.reconcile(self, [peerLease(2)])).ok);
  s.kernel.interfaces = [];
  s.kernel.devices.delete('weft.1'); // the kernel deletes a vxlan device with its parent
  const calls = s.kernel.calls.length;
  t.equal(await s.follower.check(), 'waiting');
  t.equal(await s.follower.check(), 'waiting', 'still waiting, no throw');
  t.equal(s.kernel.calls.length, calls, 'nothing was changed in the kernel');
  t.match(s.follower.waiting, /eth0 is gone/);
  t.match(s.status.underlay?.waiting, /eth0 is gone/);
  t.equal(s.records.filter((r) => r.level === LEVEL.warn && /underlay interface not usable/.test(String(r.msg))).length, 1, 'logged once per reason');
  s.kernel.interfaces = [eth0(7, [OLD])];
  t.equal(await s.follower.check(), 'moved');
  t.match(s.kernel.devices.get('weft.1')?.info, { local: OLD, parent: 'eth0' }, 'the device is back on the new eth0');
  t.equal(s.moved[0]?.publicIp, OLD);
  t.match(s.status.underlay, { changes: 1, waiting: undefined });
  t.equal(await s.follower.check(), 'ok');
});

t.test('a device that cannot be made again (the new interface\'s MTU is too small) is a wait, retried', async (t) => {
  const s = await setup({ config: configOf({ MTU: 1500 }) });
  s.kernel.interfaces = [eth0(2, [NEW], 1400)];
  t.equal(await s.follower.check(), 'waiting');
  t.match(s.follower.waiting, /cannot make the vxlan device again on eth0: .*MTU/);
  t.same(s.moved, []);
  t.equal(s.kernel.devices.get('weft.1')?.info.local, OLD, 'the working device is left as it was');
  s.kernel.interfaces = [eth0(2, [NEW], 1500)];
  t.equal(await s.follower.check(), 'moved');
  t.equal(s.kernel.devices.get('weft.1')?.info.local, NEW);
});

t.test('--public-ip: the flag\'s address is kept; the interface made again is followed', async (t) => {
  const s = await setup({ publicIp: OLD });
  s.kernel.interfaces = [eth0(2, [NEW])];
  t.equal(await s.follower.check(), 'waiting');
  t.match(s.status.underlay?.waiting, /--public-ip 192\.0\.2\.11 is not an address of eth0 any more/);
  t.equal(s.kernel.devices.get('weft.1')?.info.local, OLD, 'the device is not moved to the other address');
  t.same(s.moved, []);
  s.kernel.interfaces = [eth0(2, [NEW, OLD])];
  t.equal(await s.follower.check(), 'ok', 'back: nothing to do');
  s.kernel.interfaces = [eth0(9, [NEW, OLD])];
  s.kernel.devices.delete('weft.1');
  t.equal(await s.follower.check(), 'moved');
  t.equal(s.moved[0]?.publicIp, OLD, 'still the flag\'s address');
  t.equal(s.kernel.devices.get('weft.1')?.info.local, OLD);
});

t.test('a failed read is not a move and not a wait', async (t) => {
  const s = await setup();
  s.underlay.failReads = 'ip: command timed out';
  t.equal(await s.follower.check(), 'ok');
  t.same(s.moved, []);
  t.ok(s.records.some((r) => r.level === LEVEL.warn && /cannot read the underlay interface/.test(String(r.msg))));
  await s.follower.stop();
  t.same(s.underlay.watching, [], 'stop ends the watch');
});
