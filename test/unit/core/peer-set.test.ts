import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { encodeLeaseValue } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../src/core/network-config.js';
import { PeerSet, type RawLeaseKv, classifyLease, classifyListing } from '../../../src/core/peer-set.js';

const parsed = parseNetworkConfig({ Network: '10.5.0.0/16' });
if (!parsed.ok) throw new Error('bad test config');
const config = parsed.config;

/** A MAC of the key's own (leases of different keys never share one unless a test says so). */
function macFor(key: string): Mac {
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) & 0xffff;
  return `02:00:00:00:${(h >> 8).toString(16).padStart(2, '0')}:${(h & 255).toString(16).padStart(2, '0')}` as Mac;
}

function kv(key: string, node = `node-${key}`, extra: { reservation?: boolean; publicIp?: string; mac?: string; createRevision?: number } = {}): RawLeaseKv {
  const value = encodeLeaseValue({
    publicIp: (extra.publicIp ?? '192.0.2.10') as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: (extra.mac ?? macFor(key)) as Mac, nodeName: node,
  });
  if (extra.createRevision !== undefined) return { key, value, reservation: extra.reservation ?? false, createRevision: String(extra.createRevision) };
  return { key, value, reservation: extra.reservation ?? false };
}
const garbage = (key: string): RawLeaseKv => ({ key, value: '{"PublicIP":', reservation: false });
const subnets = (set: PeerSet): string[] => set.values().map((l) => l.subnet).sort();

t.test('classifyLease', async (t) => {
  const good = classifyLease(kv('10.5.3.0-24', 'n3', { reservation: true }), config);
  t.equal(good.ok && good.lease.subnet, '10.5.3.0/24');
  t.equal(good.ok && good.lease.reservation, true);
  t.equal(good.ok && good.lease.attrs.nodeName, 'n3');
  const bad: [RawLeaseKv, RegExp][] = [
    [kv('10.5.3.0-24x'), /not a subnet key/],
    [kv('10.5.3.1-24'), /host bits set/],
    [kv('10.6.3.0-24'), /subnet 10\.6\.3\.0\/24 is outside the network 10\.5\.0\.0\/16/],
    [kv('10.4.0.0-15'), /outside the network/],
    [garbage('10.5.3.0-24'), /not JSON/],
  ];
  for (const [entry, reason] of bad) {
    const r = classifyLease(entry, config);
    t.equal(r.ok, false, entry.key);
    if (!r.ok) t.match(r.reason, reason, entry.key);
  }
});

t.test('put and delete', async (t) => {
  const set = new PeerSet(config);
  t.same(set.put(kv('10.5.1.0-24')), { changed: true, warnings: [] });
  t.equal(set.version, 1);
  t.same(set.put(kv('10.5.1.0-24')), { changed: false, warnings: [] }, 'the same lease again is no change');
  t.equal(set.version, 1, 'version only bumps on change');
  t.equal(set.put(kv('10.5.1.0-24', 'other')).changed, true, 'new attrs are a change');
  t.equal(set.get('10.5.1.0/24' as Cidr)?.attrs.nodeName, 'other');
  t.equal(set.put(kv('10.5.1.0-24', 'other', { reservation: true })).changed, true, 'becoming a reservation is a change');
  t.equal(set.version, 3);
  t.equal(set.put(kv('10.5.2.0-24')).changed, true);
  t.equal(set.size, 2);

  t.same(set.delete('10.5.1.0-24'), { changed: true, warnings: [] });
  t.equal(set.get('10.5.1.0/24' as Cidr), undefined);
  t.same(set.delete('10.5.1.0-24'), { changed: false, warnings: [] }, 'deleting twice');
  t.same(set.delete('10.5.9.0-24'), { changed: false, warnings: [] }, 'deleting an unknown key');
  t.equal(set.version, 5);
  t.same(subnets(set), ['10.5.2.0/24']);
});

t.test('a bad entry is skipped with one warning, however often it repeats', async (t) => {
  const set = new PeerSet(config);
  set.put(kv('10.5.1.0-24'));
  const first = set.put(kv('10.6.1.0-24'));
  t.equal(first.changed, false);
  t.equal(first.warnings.length, 1);
  t.match(first.warnings[0], { key: '10.6.1.0-24', reason: /outside the network/ });
  t.same(set.put(kv('10.6.1.0-24')).warnings, [], 'same problem again: no new warning');
  t.same(set.reset([kv('10.5.1.0-24'), kv('10.6.1.0-24')]).warnings, [], 'nor from a re-list');
  t.equal(set.put(kv('10.5.1.7-24')).warnings.length, 1, 'a misaligned key is skipped with a warning');
  t.same([...set.problems().keys()].sort(), ['10.5.1.7-24', '10.6.1.0-24']);
  t.same(subnets(set), ['10.5.1.0/24'], 'bad entries never add or remove anything');
  t.equal(set.version, 1);

  t.equal(set.put(garbage('10.5.9.0-24')).warnings.length, 1);
  const otherProblem = set.put({ key: '10.5.9.0-24', value: '{"PublicIP":"x"}', reservation: false });
  t.match(otherProblem.warnings, [{ key: '10.5.9.0-24', reason: /PublicIP "x"/ }], 'a different problem on the same key is reported');
  t.equal(set.delete('10.5.9.0-24').changed, false);
  t.equal(set.put(garbage('10.5.9.0-24')).warnings.length, 1, 'after a delete the key starts fresh');
});

t.test('a garbage value for a known key keeps its last good lease', async (t) => {
  const set = new PeerSet(config);
  set.put(kv('10.5.1.0-24', 'n1'));
  const before = set.version;
  const update = set.put(garbage('10.5.1.0-24'));
  t.equal(update.changed, false);
  t.equal(update.warnings.length, 1);
  t.equal(set.get('10.5.1.0/24' as Cidr)?.attrs.nodeName, 'n1');
  t.equal(set.version, before);
  t.equal(set.reset([garbage('10.5.1.0-24')]).changed, false, 're-listing the garbage keeps it too');
  t.equal(set.get('10.5.1.0/24' as Cidr)?.attrs.nodeName, 'n1');

  t.equal(set.put(kv('10.5.1.0-24', 'n1')).changed, false, 'fixed back to the same value: no change');
  t.equal(set.problems().size, 0, 'the problem is cleared');
  t.equal(set.delete('10.5.1.0-24').changed, true, 'a delete still removes it');
});

t.test('reset diffs a full listing against what is known', async (t) => {
  const set = new PeerSet(config);
  set.reset([kv('10.5.1.0-24', 'a'), kv('10.5.2.0-24', 'b'), kv('10.5.3.0-24', 'c')]);
  t.equal(set.version, 1, 'one version bump for a whole listing');
  const removedOnly = set.reset([kv('10.5.2.0-24', 'b'), kv('10.5.3.0-24', 'c')]);
  t.same(removedOnly, { changed: true, warnings: [] });
  t.same(subnets(set), ['10.5.2.0/24', '10.5.3.0/24']);

  const update = set.reset([kv('10.5.2.0-24', 'b2'), kv('10.5.3.0-24', 'c'), kv('10.5.4.0-24', 'd'), garbage('10.5.5.0-24')]);
  t.equal(update.changed, true);
  t.same(update.warnings.map((w) => w.key), ['10.5.5.0-24']);
  t.same(subnets(set), ['10.5.2.0/24', '10.5.3.0/24', '10.5.4.0/24']);
  t.equal(set.get('10.5.2.0/24' as Cidr)?.attrs.nodeName, 'b2', 'changed attrs are taken');
  t.equal(set.version, 3);

  const listing = [kv('10.5.2.0-24', 'b2'), kv('10.5.3.0-24', 'c'), kv('10.5.4.0-24', 'd'), garbage('10.5.5.0-24')];
  t.same(set.reset(listing), { changed: false, warnings: [] }, 'an unchanged listing is no change and no new warning');
  t.equal(set.version, 3);

  t.same(set.reset(listing.slice(0, 3)), { changed: false, warnings: [] }, 'a vanished bad key changes no lease');
  t.equal(set.problems().size, 0, 'but its problem is forgotten');
  t.equal(set.reset([]).changed, true);
  t.equal(set.size, 0);
});

t.test('classifyListing: valid leases keep their raw entry; readable keys with bad values stay occupied', async (t) => {
  const good = { key: '10.5.1.0-24', reservation: false, value: encodeLeaseValue({ publicIp: '198.51.100.1' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:00:01' as Mac, nodeName: 'a' }), extra: 1 };
  const badValue = { key: '10.5.2.0-24', reservation: false, value: 'not json', extra: 2 };
  const badKey = { key: 'garbage', reservation: false, value: '{}', extra: 3 };
  const outside = { key: '10.9.0.0-24', reservation: false, value: good.value, extra: 4 };
  const r = classifyListing([good, badValue, badKey, outside], config);
  t.equal(r.valid.length, 1);
  t.equal(r.valid[0]?.entry, good, 'the raw entry is carried along');
  t.equal(r.valid[0]?.lease.subnet, '10.5.1.0/24');
  t.same(r.occupied, [{ subnet: '10.5.2.0/24' }, { subnet: '10.9.0.0/24' }], 'unreadable values and out-of-network keys still hold their subnet');
});

t.test('acceptance: refusals never remove or change an accepted peer, and each is reported once', async (t) => {
  const set = new PeerSet(config, { subnet: '10.5.1.0/24' as Cidr, publicIp: '192.0.2.11' as Ipv4 });
  t.equal(set.put(kv('10.5.2.0-24', 'n2', { publicIp: '192.0.2.12' })).changed, true);
  const hijack = set.put(kv('10.5.2.0-25', 'evil', { publicIp: '192.0.2.66' }));
  t.same(hijack, { changed: false, warnings: [{ key: '10.5.2.0-25', code: 'subnet-length', reason: 'subnet 10.5.2.0/25 is a /25; this network leases /24 subnets' }] });
  const turned = set.put(kv('10.5.2.0-24', 'n2', { publicIp: '127.0.0.1' }));
  t.match(turned, { changed: false, warnings: [{ key: '10.5.2.0-24', code: 'public-ip' }] });
  t.equal(set.get('10.5.2.0/24' as Cidr)?.attrs.publicIp, '192.0.2.12', 'the key keeps its last good lease');
  t.match(set.verdicts().find((v) => v.key === '10.5.2.0-24'), { state: 'refused', reason: /loopback.*last good value is still programmed/ });
  t.same(set.put(kv('10.5.2.0-24', 'n2', { publicIp: '127.0.0.1' })).warnings, [], 'the same refusal again is not reported again');
  t.equal(set.put(kv('10.5.1.0-24', 'me', { publicIp: '192.0.2.11' })).changed, false, 'our own lease is not a peer');
  t.same(set.values().map((l) => l.subnet), ['10.5.2.0/24']);
  t.same(Object.fromEntries(set.refusalCounts()), { 'subnet-length': 1, 'public-ip': 1 });
  t.equal(set.put(kv('10.5.2.0-24', 'n2', { publicIp: '192.0.2.13' })).changed, true, 'a good value again is taken');
  t.same(Object.fromEntries(set.refusalCounts()), { 'subnet-length': 1 });
});

t.test('acceptance: two keys for one subnet: the older holds it, the other takes over only when it goes', async (t) => {
  const set = new PeerSet(config);
  set.put(kv('10.5.3.0-24', 'n3', { publicIp: '192.0.2.13', createRevision: 5 }));
  const dual = set.put(kv('10.5.3.0-24&fd00::-64', 'other', { publicIp: '192.0.2.99', createRevision: 9 }));
  t.match(dual.warnings, [{ code: 'duplicate-subnet', reason: 'subnet 10.5.3.0/24 is already used by the older key 10.5.3.0-24' }]);
  t.equal(set.get('10.5.3.0/24' as Cidr)?.attrs.publicIp, '192.0.2.13');
  t.equal(set.delete('10.5.3.0-24').changed, true);
  t.equal(set.get('10.5.3.0/24' as Cidr)?.attrs.publicIp, '192.0.2.99', 'the refused duplicate is judged again and accepted');
  t.same([...set.problems().keys()], []);
});

t.test('acceptance: a reservation made ahead of its host is pending, and a peer once its host writes its endpoint', async (t) => {
  const set = new PeerSet(config);
  const ahead = encodeLeaseValue({ publicIp: '192.0.2.14' as Ipv4, backendType: '', vni: undefined, vtepMac: undefined, nodeName: 'n4' });
  t.same(set.put({ key: '10.5.4.0-24', value: ahead, reservation: true }), { changed: false, warnings: [] });
  t.equal(set.pendingCount, 1);
  t.match(set.verdicts(), [{ key: '10.5.4.0-24', state: 'pending', reason: /reservation for n4/ }]);
  t.equal(set.put(kv('10.5.4.0-24', 'n4', { reservation: true, publicIp: '192.0.2.14' })).changed, true);
  t.equal(set.pendingCount, 0);
  t.equal(set.size, 1);
});

t.test('acceptance: the older key wins whatever order a host sees the keys in', async (t) => {
  const older = kv('10.5.3.0-24&fd00::-64', 'first', { publicIp: '192.0.2.13', createRevision: 4 });
  const younger = kv('10.5.3.0-24', 'second', { publicIp: '192.0.2.99', createRevision: 8 });
  const watched = new PeerSet(config);
  watched.put(younger); // a watch can deliver the younger key first only if the older one was refused before; still:
  watched.put(older);
  const listed = new PeerSet(config);
  listed.reset([younger, older]);
  for (const set of [watched, listed]) {
    t.equal(set.get('10.5.3.0/24' as Cidr)?.attrs.nodeName, 'first');
    t.match(set.verdicts().find((v) => v.key === '10.5.3.0-24'), { state: 'refused', code: 'duplicate-subnet' });
  }
});

t.test('acceptance: a VTEP MAC has one owner: the older key, never this host\'s own MAC', async (t) => {
  const set = new PeerSet(config, { subnet: '10.5.1.0/24' as Cidr, publicIp: '192.0.2.11' as Ipv4, vtepMac: '02:aa:00:00:00:01' as Mac });
  set.put(kv('10.5.2.0-24', 'n2', { publicIp: '192.0.2.12', mac: '02:bb:00:00:00:02', createRevision: 3 }));
  const copy = set.put(kv('10.5.7.0-24', 'thief', { publicIp: '192.0.2.77', mac: '02:bb:00:00:00:02', createRevision: 10 }));
  t.match(copy.warnings, [{ key: '10.5.7.0-24', code: 'duplicate-mac', reason: 'VTEP MAC 02:bb:00:00:00:02 is already used by the older key 10.5.2.0-24' }]);
  t.same(set.values().map((l) => l.subnet), ['10.5.2.0/24'], 'the copy cannot redirect the first peer\'s FDB entry');
  t.match(set.put(kv('10.5.8.0-24', 'mimic', { publicIp: '192.0.2.78', mac: '02:aa:00:00:00:01' })).warnings,
    [{ code: 'duplicate-mac', reason: 'VTEP MAC 02:aa:00:00:00:01 is this host\'s own' }]);
  t.equal(set.put(kv('10.5.2.0-24', 'n2', { publicIp: '192.0.2.12', mac: '02:bb:00:00:00:22', createRevision: 3 })).changed, true, 'the first peer moves to a new MAC');
  t.same(set.values().map((l) => l.subnet).sort(), ['10.5.2.0/24', '10.5.7.0/24'], 'the old MAC is free: the held-back key is taken');
  t.same(Object.fromEntries(set.refusalCounts()), { 'duplicate-mac': 1 });
});

t.test('acceptance: the codes name the rule that refused, for the metric', async (t) => {
  const set = new PeerSet(config);
  const codes = (key: string, value = kv(key).value): string | undefined => set.put({ key, value, reservation: false }).warnings[0]?.code;
  t.equal(codes('10.6.3.0-24'), 'outside-network');
  t.equal(codes('10.5.3.0-25'), 'subnet-length');
  t.equal(codes('10.5.3.7-24'), 'invalid-key');
  t.equal(codes('10.5.4.0-24', '{'), 'invalid-value');
});


t.test('takeChanged: each subnet whose accepted peer appeared, changed or went, once; nothing for refusals or repeats', async (t) => {
  const set = new PeerSet(config);
  set.reset([kv('10.5.2.0-24'), kv('10.5.3.0-24')]);
  t.same([...set.takeChanged()].sort(), ['10.5.2.0/24', '10.5.3.0/24'], 'a listing: every new peer');
  t.same([...set.takeChanged()], [], 'taken: empty until the next change');
  set.put(kv('10.5.2.0-24'));
  t.same([...set.takeChanged()], [], 'the same value again changes nothing');
  set.put(kv('10.5.2.0-24', 'node-10.5.2.0-24', { publicIp: '192.0.2.77' }));
  set.delete('10.5.3.0-24');
  set.put(garbage('10.5.4.0-24'));
  t.same([...set.takeChanged()].sort(), ['10.5.2.0/24', '10.5.3.0/24'], 'a changed and a gone peer; a refused key is no change');
  set.put(garbage('10.5.2.0-24'));
  t.same([...set.takeChanged()], [], 'a peer whose value turns bad keeps its lease: no change');
  // A duplicate MAC held back, then promoted when the older key goes: both subnets change.
  set.reset([kv('10.5.2.0-24', 'a', { mac: '02:00:00:00:00:aa', createRevision: 1 }), kv('10.5.5.0-24', 'b', { mac: '02:00:00:00:00:aa', createRevision: 2 })]);
  set.takeChanged();
  set.delete('10.5.2.0-24');
  t.same([...set.takeChanged()].sort(), ['10.5.2.0/24', '10.5.5.0/24'], 'the older key went, the held-back one took its MAC');
});
