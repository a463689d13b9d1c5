import { pino } from 'pino';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { type LeaseAttrs, encodeLeaseValue, encodeSubnetKey } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { OwnLeaseGuard } from '../../../src/daemon/own-lease-guard.js';
import { ManualClock } from '../../fakes/manual-clock.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const log = pino({ level: 'silent' });
const subnet = '10.5.7.0/24' as Cidr;
const key = encodeSubnetKey({ subnet });
const ours: LeaseAttrs = { publicIp: '198.51.100.1' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:00:01' as Mac, nodeName: 'me' };
const forged = encodeLeaseValue({ ...ours, publicIp: '198.51.100.9' as Ipv4 });

function setup(conflict?: string) {
  const clock = new ManualClock();
  const registry = new MemoryRegistry({ clock });
  const leaseId = registry.grant(3600);
  registry.putRaw(key, encodeLeaseValue(ours), leaseId);
  const lost: string[] = [];
  let corrected = 0;
  const ac = new AbortController();
  const guard = new OwnLeaseGuard({
    registry, subnets: { subnet }, attrs: ours, leaseId: () => leaseId, clock, random: () => 0, log, onLost: (r) => lost.push(r),
    identityConflict: () => conflict, onCorrected: () => { corrected++; },
  }, ac.signal);
  return { clock, registry, leaseId, lost, guard, ac, corrected: () => corrected };
}

t.test('a drifted value is written back on the same etcd lease', async (t) => {
  const s = setup();
  s.registry.putRaw(key, forged, s.leaseId); // etcdctl put --lease=<ours>
  const entry = s.registry.entry(key);
  if (!entry) throw new Error('missing');
  s.guard.drifted(entry, 'PublicIP');
  await s.guard.idle();
  t.equal(s.registry.entry(key)?.value, encodeLeaseValue(ours));
  t.equal(s.registry.entry(key)?.leaseId, s.leaseId, 'back on our etcd lease');
  t.equal(s.corrected(), 1);
  t.same(s.lost, []);
});

t.test('a lost compare-and-swap re-reads the key and tries again', async (t) => {
  const s = setup();
  s.registry.putRaw(key, forged, s.leaseId);
  const stale = s.registry.entry(key);
  s.registry.putRaw(key, encodeLeaseValue({ ...ours, vni: 9 }), s.leaseId); // changed again before we write
  if (!stale) throw new Error('missing');
  s.guard.drifted(stale, 'PublicIP');
  await s.clock.advance(1000);
  await s.guard.idle();
  t.equal(s.registry.entry(key)?.value, encodeLeaseValue(ours));
  t.ok(s.registry.count('restore') >= 2, 'a second attempt');
});

t.test('etcd unreachable: retried with backoff until it answers', async (t) => {
  const s = setup();
  s.registry.putRaw(key, forged, s.leaseId);
  const entry = s.registry.entry(key);
  if (!entry) throw new Error('missing');
  s.registry.setAvailable(false);
  s.guard.drifted(entry, 'PublicIP');
  await s.clock.advance(3000);
  s.registry.setAvailable(true);
  await s.clock.advance(10_000);
  await s.guard.idle();
  t.equal(s.registry.entry(key)?.value, encodeLeaseValue(ours));
});

t.test('our etcd lease is gone: the lease is lost, nothing written', async (t) => {
  const s = setup();
  s.registry.putRaw(key, forged, '0');
  await s.registry.revoke(s.leaseId);
  const entry = s.registry.entry(key);
  if (!entry) throw new Error('missing');
  s.guard.drifted(entry, 'PublicIP');
  await s.guard.idle();
  t.equal(s.lost.length, 1);
  t.equal(s.registry.entry(key)?.value, forged, 'no fight over the key');
});

t.test('another instance holds our node name: lost instead of fighting', async (t) => {
  const s = setup('node name "me" is already in use by another running host');
  s.registry.putRaw(key, forged, s.leaseId);
  const entry = s.registry.entry(key);
  if (!entry) throw new Error('missing');
  s.guard.drifted(entry, 'PublicIP');
  await s.guard.idle();
  t.match(s.lost[0], /another weftd instance holds our node name/);
  t.equal(s.registry.entry(key)?.value, forged);
});

t.test('our key turned into a reservation: the write-back keeps it one (no etcd lease)', async (t) => {
  const clock = new ManualClock();
  const registry = new MemoryRegistry({ clock });
  registry.putRaw(key, forged, '0'); // weftctl reserve --force, or etcdctl put without --lease
  const lost: string[] = [];
  const guard = new OwnLeaseGuard({
    registry, subnets: { subnet }, attrs: ours, leaseId: () => '0', clock, random: () => 0, log, onLost: (r) => lost.push(r), identityConflict: () => undefined,
  }, new AbortController().signal);
  const entry = registry.entry(key);
  if (!entry) throw new Error('missing');
  guard.drifted(entry, 'PublicIP');
  await guard.idle();
  t.equal(registry.entry(key)?.value, encodeLeaseValue(ours));
  t.equal(registry.entry(key)?.leaseId, '0', 'still a reservation');
  t.same(lost, []);
});
