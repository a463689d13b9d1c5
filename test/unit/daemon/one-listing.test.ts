/**
 * Start-up reads the subnets prefix once: the lease watcher starts from the
 * listing the lease acquisition decided on (revision R) and watches from R+1,
 * so a lease written in between is seen; a restart finds its own lease by
 * the key of its previous subnet and lists nothing, and the watcher's
 * listing is the only one. Anything the key alone cannot settle falls back to
 * the listing path.
 */
import { pino } from 'pino';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { type LeaseAttrs, encodeLeaseValue, encodeSubnetKey } from '../../../src/core/lease.js';
import { vtepMacFor } from '../../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../src/core/network-config.js';
import { PeerSet } from '../../../src/core/peer-set.js';
import { type AcquireInput, acquireLeaseWithListing } from '../../../src/daemon/acquire-lease.js';
import { LeaseWatcher } from '../../../src/daemon/lease-watcher.js';
import { ManualClock, settle } from '../../fakes/manual-clock.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';
import { seededRandom } from '../../helpers/prng.js';

const TTL = 3600;

function config(fields: Record<string, unknown>): NetworkConfig {
  const r = parseNetworkConfig(fields);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
}
const net16 = config({ Network: '10.5.0.0/16' });

function attrsFor(node: string, publicIp: string): LeaseAttrs & { nodeName: string } {
  return { publicIp: publicIp as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: vtepMacFor(node, 1), nodeName: node };
}
const me = attrsFor('me', '198.51.100.1');

function setup() {
  const clock = new ManualClock();
  const registry = new MemoryRegistry({ clock });
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { clock, registry, lines, log };
}
type Setup = ReturnType<typeof setup>;

function input(h: Setup, previous?: Cidr, cfg = net16): AcquireInput {
  return { registry: h.registry, config: cfg, attrs: me, previous: previous === undefined ? undefined : { subnet: previous }, ttlSeconds: TTL, random: seededRandom(7), clock: h.clock, log: h.log, signal: new AbortController().signal };
}

function peer(h: Setup, key: string, node: string, ip: string): void {
  h.registry.putRaw(key, encodeLeaseValue(attrsFor(node, ip)), h.registry.grant(TTL));
}

function watcher(h: Setup, own: Cidr) {
  const peers = new PeerSet(net16, { subnet: own, publicIp: me.publicIp, vtepMac: me.vtepMac });
  const lost: string[] = [];
  const drifts: string[] = [];
  const w = new LeaseWatcher({ registry: h.registry, peers, clock: h.clock, log: h.log, random: () => 0,
    onChange: () => undefined, onLost: (r) => lost.push(r), onOwnDrift: (_e, r) => drifts.push(r) });
  w.watchOwn({ subnet: own }, { nodeName: me.nodeName, publicIp: me.publicIp }, false, me);
  return { w, peers, lost, drifts };
}

/** Runs `work` while moving the manual clock, so a retry's backoff can elapse. */
async function drive<T>(clock: ManualClock, work: Promise<T>): Promise<T> {
  let done = false;
  const tracked = work.finally(() => { done = true; });
  tracked.catch(() => undefined);
  for (let i = 0; i < 10_000 && !done; i++) await clock.advance(25);
  return tracked;
}

const subnets = (peers: PeerSet): string[] => peers.values().map((l) => l.subnet).sort();

t.test('the watcher starts from the acquisition\'s listing: a lease written before the watch starts is seen', async (t) => {
  const h = setup();
  peer(h, '10.5.1.0-24', 'a', '192.0.2.11');
  const { held, listing } = await acquireLeaseWithListing(input(h));
  t.ok(listing, 'a first start decides on a listing');
  t.equal(listing?.entries.length, 1, 'which predates our own key');
  // Written after the acquisition listed (and after our own claim), before the watch exists.
  peer(h, '10.5.2.0-24', 'b', '192.0.2.12');
  const v = watcher(h, held.subnet);
  v.w.startFrom(listing);
  const ac = new AbortController();
  const running = v.w.run(ac.signal);
  await v.w.ready;
  await settle();
  t.same(subnets(v.peers), ['10.5.1.0/24', '10.5.2.0/24'], 'the lease written in between arrived through the watch from R+1');
  t.equal(h.registry.count('listLeases'), 1, 'one listing in all');
  t.equal(v.w.stats.lists, 1, 'the watcher applied the handed-over listing');
  t.same(v.lost, [], 'our key, absent from the older listing, is not taken for lost');
  t.same(v.drifts, [], 'and our own write seen through the watch is ours');
  t.match(h.lines.find((l) => l['msg'] === 'watching leases'), { listedBy: 'lease acquisition', leases: 1 });
  h.registry.putRaw('10.5.3.0-24', encodeLeaseValue(attrsFor('c', '192.0.2.13')), h.registry.grant(TTL));
  h.registry.deleteRaw(encodeSubnetKey(held));
  await settle();
  t.same(subnets(v.peers), ['10.5.1.0/24', '10.5.2.0/24', '10.5.3.0/24'], 'and it keeps following');
  t.match(v.lost, [/was deleted/], 'our key deleted after the hand-over is a lost lease');
  ac.abort();
  await running;
});

t.test('a restart finds its own lease by key: no listing before the watcher\'s', async (t) => {
  const h = setup();
  peer(h, '10.5.1.0-24', 'a', '192.0.2.11');
  const first = await acquireLeaseWithListing(input(h));
  const before = h.registry.count('listLeases');
  const again = await acquireLeaseWithListing(input(h, first.held.subnet));
  t.equal(again.held.subnet, first.held.subnet, 'same subnet');
  t.not(again.held.leaseId, first.held.leaseId, 'on a new etcd lease, as the listing path renews it');
  t.notOk(h.registry.hasLease(first.held.leaseId), 'the old etcd lease is revoked');
  t.equal(again.listing, undefined, 'no listing to hand over');
  t.equal(h.registry.count('listLeases'), before, 'nothing listed');
  t.equal(h.registry.count('getLease'), 1, 'one key read: the previous subnet\'s');
  t.match(h.lines.filter((l) => l['msg'] === 'renewed own subnet lease').at(-1), { found: 'previous subnet' });
  const v = watcher(h, again.held.subnet);
  v.w.startFrom(again.listing);
  const ac = new AbortController();
  const running = v.w.run(ac.signal);
  await v.w.ready;
  t.equal(h.registry.count('listLeases'), before + 1, 'the watcher\'s listing is the only one');
  t.same(subnets(v.peers), ['10.5.1.0/24']);
  t.same(v.lost, []);
  ac.abort();
  await running;
});

t.test('a previous subnet the key alone cannot settle takes the listing path', async (t) => {
  await t.test('held by another host: a free subnet is claimed instead', async (t) => {
    const h = setup();
    peer(h, '10.5.9.0-24', 'other', '192.0.2.19');
    const got = await acquireLeaseWithListing(input(h, '10.5.9.0/24' as Cidr));
    t.not(got.held.subnet, '10.5.9.0/24');
    t.ok(got.listing, 'decided on a listing');
    t.equal(h.registry.count('listLeases'), 1);
    t.match(h.registry.entry('10.5.9.0-24')?.value, /"NodeName":"other"/, 'the other host\'s key untouched');
  });
  await t.test('gone: the previous subnet is claimed again after a listing (another key may overlap it)', async (t) => {
    const h = setup();
    const got = await acquireLeaseWithListing(input(h, '10.5.9.0/24' as Cidr));
    t.equal(got.held.subnet, '10.5.9.0/24');
    t.equal(h.registry.count('listLeases'), 1);
    t.match(h.lines.find((l) => l['msg'] === 'acquired subnet lease'), { source: 'previous' });
  });
  await t.test('ours but outside a changed config: released through the listing path', async (t) => {
    const h = setup();
    h.registry.putRaw('10.5.9.0-24', encodeLeaseValue(me), h.registry.grant(TTL));
    const narrowed = config({ Network: '10.5.0.0/16', SubnetMin: '10.5.100.0' });
    const got = await drive(h.clock, acquireLeaseWithListing(input(h, '10.5.9.0/24' as Cidr, narrowed)));
    t.equal(h.registry.count('listLeases'), 2, 'listed, released, listed again');
    t.not(got.held.subnet, '10.5.9.0/24');
    t.equal(h.registry.entry('10.5.9.0-24'), undefined, 'the lease that no longer fits was released');
  });
  await t.test('an unreadable value under the previous key: never reused by key', async (t) => {
    const h = setup();
    h.registry.putRaw('10.5.9.0-24', 'not json', h.registry.grant(TTL));
    const got = await acquireLeaseWithListing(input(h, '10.5.9.0/24' as Cidr));
    t.not(got.held.subnet, '10.5.9.0/24', 'an occupied key is not ours to take');
    t.equal(h.registry.count('listLeases'), 1);
  });
  await t.test('a reservation for this host under the previous key is used as a reservation', async (t) => {
    const h = setup();
    h.registry.putRaw('10.5.9.0-24', encodeLeaseValue(me), '0');
    const got = await acquireLeaseWithListing(input(h, '10.5.9.0/24' as Cidr));
    t.same({ subnet: got.held.subnet, reservation: got.held.reservation, leaseId: got.held.leaseId }, { subnet: '10.5.9.0/24', reservation: true, leaseId: '0' });
    t.equal(h.registry.count('listLeases'), 0, 'found by key');
    t.match(h.lines.find((l) => l['msg'] === 'using reserved subnet'), { found: 'previous subnet' });
  });
});
