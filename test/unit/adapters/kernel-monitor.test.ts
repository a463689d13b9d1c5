/**
 * The KernelMonitor contract pieces that need no kernel: batch delivery with
 * a throwing handler, the in-memory fake, the /proc subscription check and
 * the monitor commands. The real monitor is tested against the kernel in
 * test/integration/kernel-monitor.test.ts.
 */
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import type { KernelChange } from '../../../src/core/kernel-change.js';
import type { Mac } from '../../../src/core/mac.js';
import { ChangeDelivery } from '../../../src/adapters/kernel-monitor.js';
import { fdbMonitorArgv, ipMonitorArgv, withNetns } from '../../../src/adapters/iproute2/argv.js';
import { isSubscribed, subscribedRouteSockets } from '../../../src/adapters/iproute2/netlink-subscription.js';
import { MemoryKernelMonitor, changesFor } from '../../fakes/memory-kernel-monitor.js';

const route: KernelChange = { kind: 'route', deleted: true, device: 'weft.1', type: 'unicast', dst: '10.5.2.0/24' as Cidr,
  via: '10.5.2.0' as Ipv4, protocol: 87, onlink: true, metric: 0 };

t.test('delivery: batches go to the handler; a throwing handler gets `lost` first in the next batch', async (t) => {
  const delivery = new ChangeDelivery();
  const seen: (readonly KernelChange[])[] = [];
  delivery.deliver([route]);
  t.same(seen, [], 'nothing without a handler');
  let fail = true;
  delivery.handler = (changes) => {
    seen.push(changes);
    if (fail) throw new Error('boom');
  };
  t.ok(delivery.active);
  t.doesNotThrow(() => delivery.deliver([route]), 'the exception stays inside');
  fail = false;
  delivery.deliver([]);
  t.equal(seen.length, 1, 'an empty batch is not delivered');
  delivery.deliver([route]);
  t.same(seen, [[route], [{ kind: 'lost', reason: 'the change handler threw: boom' }, route]]);
  delivery.deliver([route]);
  t.same(seen[2], [route], 'lost only once');
  delivery.handler = undefined;
  delivery.deliver([route]);
  t.equal(seen.length, 3, 'nothing after the handler is removed');
});

t.test('fake: only while running, one batch per emit, in a later macrotask', async (t) => {
  const monitor = new MemoryKernelMonitor();
  const seen: (readonly KernelChange[])[] = [];
  await monitor.emit(route);
  await monitor.start((changes) => seen.push(changes));
  await t.rejects(monitor.start(() => undefined), { message: /called when running/ });
  const pending = monitor.emit(route, route);
  t.same(seen, [], 'not delivered synchronously');
  await pending;
  t.same(seen, [[route, route]]);
  await monitor.lose('overflow');
  t.same(seen[1], [{ kind: 'lost', reason: 'overflow' }]);
  await monitor.stop();
  await monitor.emit(route);
  t.equal(seen.length, 2, 'nothing after stop');
  t.equal(monitor.state, 'stopped');
  t.same(monitor.delivered, seen);
});

t.test('fake: changesFor reports operations as the kernel does', async (t) => {
  const neighbor = { ip: '10.5.2.0' as Ipv4, mac: '0a:00:00:00:00:02' as Mac };
  t.same(changesFor('weft.1', { action: 'delete', kind: 'route', entry: { dst: '10.5.2.0/24' as Cidr, via: '10.5.2.0' as Ipv4 } }), [route]);
  t.match(changesFor('weft.1', { action: 'replace', kind: 'route', entry: { dst: '10.5.2.0/24' as Cidr, via: '10.5.2.0' as Ipv4, legacy: true } }),
    [{ deleted: false, protocol: 3 }]);
  t.same(changesFor('weft.1', { action: 'replace', kind: 'neighbor', entry: neighbor }),
    [{ kind: 'neighbor', deleted: false, device: 'weft.1', ip: '10.5.2.0', mac: '0a:00:00:00:00:02', state: ['PERMANENT'], permanent: true }]);
  t.same(changesFor('weft.1', { action: 'delete', kind: 'neighbor', entry: neighbor }).map((c) => c.kind === 'neighbor' && [c.deleted, c.state, c.mac]),
    [[false, ['FAILED'], undefined], [true, ['FAILED'], undefined]]);
  t.same(changesFor('weft.1', { action: 'replace', kind: 'fdb', entry: { mac: neighbor.mac, dst: '192.0.2.12' as Ipv4 } }),
    [{ kind: 'fdb', deleted: false, device: 'weft.1', mac: '0a:00:00:00:00:02', dst: '192.0.2.12', self: true, permanent: true }]);
});

// /proc/<pid>/net/netlink of an `ip -n NS -4 -o -N monitor label link route neigh` (captured; its socket is 1559168).
const NETLINK_TABLE = `sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
0000000014b05849 0   13762      00000004 0        0        0     2        0        1558223 
000000005fb2ef06 0   3906919004 00000000 0        0        0     2        0        1559169 
0000000089ba985e 0   0          00000000 0        0        0     2        0        1559023 
0000000065afc6b4 0   13761      00000045 0        0        0     2        0        1559168 
00000000783440f6 4   0          00000000 0        0        0     2        0        1559029 
000000009ad22758 12  0          00000001 0        0        0     2        0        1559030 
`;

t.test('subscription: route netlink sockets with a group mask', async (t) => {
  t.same([...subscribedRouteSockets(NETLINK_TABLE)], ['1558223', '1559168'], 'not unsubscribed ones, not other netlink families');
  t.same([...subscribedRouteSockets('')], []);
  t.equal(await isSubscribed(process.pid), false, 'this test process listens to nothing');
  t.equal(await isSubscribed(2 ** 22 + 12345), false, 'a process that does not exist');
});

t.test('monitor commands: labelled numeric IPv4 monitor, fdb monitor, in the namespace', async (t) => {
  t.same(withNetns('ns1', ipMonitorArgv()), ['-n', 'ns1', '-4', '-o', '-N', 'monitor', 'label', 'link', 'route', 'neigh']);
  t.same(withNetns(undefined, fdbMonitorArgv()), ['monitor', 'fdb']);
});
