import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { KernelCache } from '../../../src/core/kernel-cache.js';
import type { KernelChange } from '../../../src/core/kernel-change.js';
import { DriftTracker } from '../../../src/core/kernel-drift.js';
import { EMPTY_STATE, describeOp } from '../../../src/core/kernel-state.js';
import type { Mac } from '../../../src/core/mac.js';
import { vxlanLease } from '../../helpers/leases.js';

const self = '10.5.1.0/24' as Cidr;
const dev = 'weft.1';
const a = vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:02');
const b = vxlanLease('10.5.3.0/24', '192.0.2.13', '0a:00:00:00:00:03');

function programmed(): KernelCache {
  const cache = new KernelCache(EMPTY_STATE);
  cache.record(cache.plan(self, [a, b]));
  return cache;
}
const route = (dst: string, extra: Partial<Extract<KernelChange, { kind: 'route' }>> = {}): KernelChange =>
  ({ kind: 'route', deleted: false, device: dev, type: 'unicast', dst: dst as Cidr, via: dst.split('/')[0] as Ipv4, protocol: 87, onlink: true, metric: 0, ...extra });
const neigh = (ip: string, mac: string | undefined, extra: Partial<Extract<KernelChange, { kind: 'neighbor' }>> = {}): KernelChange =>
  ({ kind: 'neighbor', deleted: false, device: dev, ip: ip as Ipv4, mac: mac as Mac | undefined, state: ['PERMANENT'], permanent: true, ...extra });
const fdb = (mac: string, dst: string, extra: Partial<Extract<KernelChange, { kind: 'fdb' }>> = {}): KernelChange =>
  ({ kind: 'fdb', deleted: false, device: dev, mac: mac as Mac, dst: dst as Ipv4, self: true, permanent: true, ...extra });

t.test('weft\'s own operations echoed back cost nothing', async (t) => {
  const cache = programmed();
  const drift = new DriftTracker(dev);
  t.equal(drift.note([route('10.5.2.0/24'), neigh('10.5.2.0', '0a:00:00:00:00:02'), fdb('0a:00:00:00:00:02', '192.0.2.12')], cache), false);
  t.equal(drift.note([route('10.5.9.0/24', { deleted: true })], cache), false, 'a delete of what the cache does not hold (weft deleted it)');
  t.equal(drift.pending, false);
});

t.test('hand deletions and changes: recorded in the cache, and the next delta plan puts them right', async (t) => {
  const cache = programmed();
  const drift = new DriftTracker(dev);
  t.equal(drift.note([
    route('10.5.2.0/24', { deleted: true }),
    neigh('10.5.3.0', undefined, { state: ['FAILED'], permanent: false }),
    fdb('0a:00:00:00:00:02', '192.0.2.99'),
    route('10.5.77.0/24'), // weft-shaped, no lease
  ], cache), true);
  const taken = drift.take();
  t.equal(taken.full, false);
  const ops = cache.planDelta(self, [], (s) => [a, b].find((p) => p.subnet === s), taken)?.map(describeOp).sort();
  t.same(ops, [
    'add route 10.5.2.0/24 via 10.5.2.0', 'delete route 10.5.77.0/24 via 10.5.77.0', 'replace fdb 0a:00:00:00:00:02 dst 192.0.2.12',
    'replace neighbor 10.5.3.0 lladdr 0a:00:00:00:00:03',
  ].sort());
  t.equal(drift.pending, false, 'taken');
});

t.test('what an entry view cannot repair asks for a full pass', async (t) => {
  const cases: [string, KernelChange][] = [
    ['lost notifications', { kind: 'lost', reason: 'overflow' }],
    ['weft\'s device changed', { kind: 'link', deleted: false, device: dev, index: 4, up: false, mtu: 1450, mac: undefined }],
    ['weft\'s route replaced by a foreign one', route('10.5.2.0/24', { device: 'eth0', protocol: 3, onlink: false, via: '192.0.2.1' as Ipv4 })],
  ];
  for (const [what, change] of cases) {
    const drift = new DriftTracker(dev);
    t.equal(drift.note([change], programmed()), true, what);
    t.equal(drift.take().full, true, what);
  }
  const other = new DriftTracker(dev);
  t.equal(other.note([{ kind: 'link', deleted: true, device: 'eth9', index: 9, up: false, mtu: undefined, mac: undefined },
    neigh('10.5.2.0', undefined, { device: 'eth0', deleted: true }), route('172.16.0.0/16', { device: 'eth0', protocol: 3 })], programmed()), false,
  'other devices and foreign routes elsewhere are none of weft\'s business');
});

t.test('without legacy routes (the IPv6 device) an unmarked onlink route is foreign: a stray one is left, one in weft\'s place asks for a read', async (t) => {
  const cache = programmed();
  const drift = new DriftTracker(dev, { legacyRoutes: false });
  t.equal(drift.note([route('10.5.88.0/24', { protocol: 3 })], cache), false, 'a foreign route elsewhere: nothing to do (the read calls it foreign)');
  t.equal(drift.pending, false);
  t.equal(drift.note([route('10.5.2.0/24', { protocol: 3 })], cache), true, 'weft\'s route replaced by a foreign one');
  t.equal(drift.take().full, true, 'the next pass reads the kernel (the collision rule decides)');
});

t.test('an unmarked weft-shaped route added by hand on the device (proto boot, onlink) is weft\'s to remove', async (t) => {
  const cache = programmed();
  const drift = new DriftTracker(dev);
  t.equal(drift.note([route('10.5.88.0/24', { protocol: 3 })], cache), true);
  t.same(cache.planDelta(self, [], (s) => [a, b].find((p) => p.subnet === s), drift.take())?.map(describeOp), ['delete route 10.5.88.0/24 via 10.5.88.0 (unmarked)']);
  const replaced = new DriftTracker(dev);
  t.equal(replaced.note([route('10.5.2.0/24', { protocol: 3 })], cache), true, 'weft\'s route replaced by an unmarked one');
  t.same(cache.planDelta(self, [], (s) => [a, b].find((p) => p.subnet === s), replaced.take())?.map(describeOp), ['replace route 10.5.2.0/24 via 10.5.2.0']);
});
