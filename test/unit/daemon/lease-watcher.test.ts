import { pino } from 'pino';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { encodeLeaseValue } from '../../../src/core/lease.js';
import { vtepMacFor } from '../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../src/core/network-config.js';
import { PeerSet } from '../../../src/core/peer-set.js';
import type { WatchHandlers } from '../../../src/adapters/registry.js';
import { LeaseWatcher } from '../../../src/daemon/lease-watcher.js';
import { ManualClock, settle } from '../../fakes/manual-clock.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const log = pino({ level: 'silent' });
const parsed = parseNetworkConfig({ Network: '10.5.0.0/16' });
if (!parsed.ok) throw new Error('bad test config');
const config = parsed.config;
const TTL = 3600;
const self = { nodeName: 'me', publicIp: '192.0.2.1' as Ipv4 };

function valueFor(node: string, ip = '192.0.2.200'): string {
  return encodeLeaseValue({ publicIp: ip as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: vtepMacFor(node, 1), nodeName: node });
}

function put(registry: MemoryRegistry, key: string, node = `node-${key}`, ip?: string): void {
  registry.putRaw(key, valueFor(node, ip), registry.grant(TTL));
}

const subnets = (peers: PeerSet): string[] => peers.values().map((l) => l.subnet).sort();

function start(registry: MemoryRegistry, clock: ManualClock, own?: string) {
  const peers = new PeerSet(config);
  const changes: string[][] = [];
  const lost: string[] = [];
  const watcher = new LeaseWatcher({
    registry, peers, clock, log, onChange: () => changes.push(subnets(peers)), onLost: (reason) => lost.push(reason), random: () => 0,
  });
  if (own) watcher.watchOwn({ subnet: own as Cidr }, self);
  const ac = new AbortController();
  const running = watcher.run(ac.signal);
  return {
    peers, changes, lost, watcher,
    stop: async (): Promise<void> => {
      ac.abort();
      await running;
    },
  };
}

function setup(): { registry: MemoryRegistry; clock: ManualClock } {
  const clock = new ManualClock();
  return { clock, registry: new MemoryRegistry({ clock }) };
}

t.test('the initial listing fills the peer set', async (t) => {
  const { registry, clock } = setup();
  for (const key of ['10.5.1.0-24', '10.5.2.0-24', '10.5.3.0-24']) put(registry, key);
  const w = start(registry, clock);
  await w.watcher.ready;
  t.same(subnets(w.peers), ['10.5.1.0/24', '10.5.2.0/24', '10.5.3.0/24']);
  t.equal(w.changes.length, 1, 'one change notification for the whole listing');
  t.equal(w.watcher.stats.lists, 1);
  await w.stop();
});

t.test('watch events add and remove peers', async (t) => {
  const { registry, clock } = setup();
  put(registry, '10.5.1.0-24');
  const w = start(registry, clock);
  await w.watcher.ready;
  await settle();
  put(registry, '10.5.2.0-24', 'n2');
  await settle();
  t.same(subnets(w.peers), ['10.5.1.0/24', '10.5.2.0/24'], 'a put adds');
  t.equal(w.peers.get('10.5.2.0/24' as Cidr)?.attrs.nodeName, 'n2');
  put(registry, '10.5.2.0-24', 'n2-renamed');
  await settle();
  t.equal(w.peers.get('10.5.2.0/24' as Cidr)?.attrs.nodeName, 'n2-renamed', 'a put on a known key updates');
  registry.deleteRaw('10.5.1.0-24');
  await settle();
  t.same(subnets(w.peers), ['10.5.2.0/24'], 'a delete removes');
  registry.putRaw('10.5.3.0-24', valueFor('short'), registry.grant(30));
  await clock.advance(29_000);
  t.same(subnets(w.peers), ['10.5.2.0/24', '10.5.3.0/24']);
  await clock.advance(1_000);
  t.same(subnets(w.peers), ['10.5.2.0/24'], 'an expired etcd lease removes its peer');
  t.equal(w.changes.length, 6);
  t.equal(w.watcher.stats.lists, 1, 'no re-list was needed');
  t.equal(w.watcher.stats.watchRestarts, 0);
  await w.stop();
});

t.test('compaction: re-list, remove nothing by mistake, keep following events', async (t) => {
  const { registry, clock } = setup();
  for (const key of ['10.5.1.0-24', '10.5.2.0-24', '10.5.3.0-24']) put(registry, key);
  const w = start(registry, clock);
  await w.watcher.ready;
  await settle();
  // The watcher falls behind: these events are compacted away before it reads them.
  registry.deleteRaw('10.5.2.0-24');
  put(registry, '10.5.4.0-24');
  registry.compact();
  await settle();
  t.equal(w.watcher.stats.watchRestarts, 1, 'the watch ended with the compaction');
  t.match(w.watcher.stats.lastError, /compacted/);
  t.same(subnets(w.peers), ['10.5.1.0/24', '10.5.2.0/24', '10.5.3.0/24'], 'nothing changes until the re-list');
  await clock.advance(1000);
  t.equal(w.watcher.stats.lists, 2, 're-listed once');
  t.same(subnets(w.peers), ['10.5.1.0/24', '10.5.3.0/24', '10.5.4.0/24'], 'the re-list is diffed in');
  t.ok(w.changes.every((s) => s.includes('10.5.1.0/24') && s.includes('10.5.3.0/24')), 'surviving peers were never removed');
  put(registry, '10.5.5.0-24');
  registry.deleteRaw('10.5.1.0-24');
  await settle();
  t.same(subnets(w.peers), ['10.5.3.0/24', '10.5.4.0/24', '10.5.5.0/24'], 'events after the compaction arrive');
  t.equal(w.watcher.stats.lists, 2);
  await w.stop();
});

t.test('a broken watch backs off and re-lists without hot-looping', async (t) => {
  const { registry, clock } = setup();
  put(registry, '10.5.1.0-24');
  const w = start(registry, clock);
  await w.watcher.ready;
  await settle();
  registry.breakWatches();
  await settle();
  t.equal(w.watcher.stats.watchRestarts, 1);
  await clock.advance(150);
  t.equal(registry.count('listLeases'), 1, 'no re-list before the backoff elapses');
  await clock.advance(100);
  t.equal(registry.count('listLeases'), 2, 're-listed after the backoff');
  put(registry, '10.5.2.0-24');
  await settle();
  t.same(subnets(w.peers), ['10.5.1.0/24', '10.5.2.0/24'], 'the new watch delivers events');

  registry.setAvailable(false);
  const listsBefore = registry.count('listLeases');
  await clock.advanceInSteps(60_000, 100);
  const listsInOutage = registry.count('listLeases') - listsBefore;
  t.ok(listsInOutage >= 5 && listsInOutage <= 12, `backs off during a 60 s outage (${listsInOutage} list attempts)`);
  t.same(subnets(w.peers), ['10.5.1.0/24', '10.5.2.0/24'], 'an outage removes nothing');

  registry.putRaw('10.5.3.0-24', valueFor('late'));
  registry.deleteRaw('10.5.1.0-24');
  registry.setAvailable(true);
  await clock.advanceInSteps(12_000, 100);
  t.same(subnets(w.peers), ['10.5.2.0/24', '10.5.3.0/24'], 'changes made during the outage arrive after it');
  await w.stop();
});

class ResettingWatchRegistry extends MemoryRegistry {
  override watch(_fromRevision: string, handlers: WatchHandlers): () => void {
    this.calls.push('watch');
    queueMicrotask(() => handlers.onError(new Error('stream reset by proxy')));
    return () => undefined;
  }
}

t.test('a watch that fails right after every successful list does not hot-loop', async (t) => {
  const clock = new ManualClock();
  const registry = new ResettingWatchRegistry({ clock });
  put(registry, '10.5.1.0-24');
  const w = start(registry, clock);
  await w.watcher.ready;
  await clock.advanceInSteps(60_000, 100);
  const lists = registry.count('listLeases');
  t.ok(lists >= 5 && lists <= 12, `${lists} lists in 60 s`);
  t.equal(w.changes.length, 1, 'identical re-lists change nothing');
  await w.stop();
});

/** A stream that stays open but delivers nothing (say, a proxy that swallows events). */
class DeafWatchRegistry extends MemoryRegistry {
  override watch(): () => void {
    this.calls.push('watch');
    return () => undefined;
  }
}

t.test('a periodic re-list (every 5 minutes) catches what a watch missed', async (t) => {
  const clock = new ManualClock();
  const registry = new DeafWatchRegistry({ clock });
  put(registry, '10.5.1.0-24');
  const w = start(registry, clock);
  await w.watcher.ready;
  put(registry, '10.5.2.0-24');
  registry.deleteRaw('10.5.1.0-24');
  await clock.advance(5 * 60_000 - 1);
  t.same(subnets(w.peers), ['10.5.1.0/24'], 'the deaf watch saw nothing');
  t.equal(w.watcher.stats.lists, 1);
  await clock.advance(1);
  t.equal(w.watcher.stats.lists, 2, 're-listed after 5 minutes');
  t.same(subnets(w.peers), ['10.5.2.0/24']);
  t.equal(w.watcher.stats.watchRestarts, 0, 'a periodic re-list is not a watch failure');
  t.equal(registry.count('watch'), 2, 'and the watch is restarted from the new listing');
  await clock.advance(5 * 60_000);
  t.equal(w.watcher.stats.lists, 3, 'with no backoff growth');
  t.equal(w.changes.length, 2, 'an unchanged re-list notifies nobody');
  await w.stop();
});

t.test('garbage events are skipped without removing peers', async (t) => {
  const { registry, clock } = setup();
  put(registry, '10.5.1.0-24', 'n1');
  put(registry, '10.5.2.0-24', 'n2');
  const w = start(registry, clock);
  await w.watcher.ready;
  await settle();
  registry.putRaw('10.5.1.0-24', 'garbage');
  registry.putRaw('10.5.9.0-24', '{"PublicIP":"x"}');
  registry.putRaw('10.6.1.0-24', valueFor('outside'));
  registry.putRaw('not-a-key', valueFor('odd'));
  await settle();
  t.same(subnets(w.peers), ['10.5.1.0/24', '10.5.2.0/24'], 'nothing added, nothing removed');
  t.equal(w.peers.get('10.5.1.0/24' as Cidr)?.attrs.nodeName, 'n1', 'the garbage value kept the last good lease');
  t.equal(w.changes.length, 1, 'no change notification for garbage');
  t.equal(w.peers.problems().size, 4);
  put(registry, '10.5.3.0-24');
  await settle();
  t.same(subnets(w.peers), ['10.5.1.0/24', '10.5.2.0/24', '10.5.3.0/24'], 'later events still arrive');
  t.equal(w.watcher.stats.watchRestarts, 0, 'garbage does not break the watch');
  await w.stop();
});

t.test('own lease', async (t) => {
  const own = '10.5.7.0/24';
  const ownKey = '10.5.7.0-24';

  t.test('deleted → onLost once', async (t) => {
    const { registry, clock } = setup();
    put(registry, ownKey, self.nodeName, self.publicIp);
    const w = start(registry, clock, own);
    await w.watcher.ready;
    await settle();
    t.same(w.lost, []);
    registry.deleteRaw(ownKey);
    await settle();
    t.equal(w.lost.length, 1);
    t.match(w.lost[0], /10\.5\.7\.0-24 was deleted/);
    registry.breakWatches();
    await clock.advance(1000);
    t.equal(w.watcher.stats.lists, 2);
    t.equal(w.lost.length, 1, 'a re-list without the key does not report it again');
    await w.stop();
  });

  t.test('overwritten by another node → onLost', async (t) => {
    const { registry, clock } = setup();
    put(registry, ownKey, self.nodeName, self.publicIp);
    const w = start(registry, clock, own);
    await w.watcher.ready;
    await settle();
    put(registry, ownKey, 'intruder', '192.0.2.66');
    await settle();
    t.equal(w.lost.length, 1);
    t.match(w.lost[0], /taken over by node intruder with public IP 192\.0\.2\.66/);
    await w.stop();
  });

  t.test('re-put by ourselves, or garbage → not lost', async (t) => {
    const { registry, clock } = setup();
    put(registry, ownKey, self.nodeName, self.publicIp);
    const w = start(registry, clock, own);
    await w.watcher.ready;
    await settle();
    put(registry, ownKey, self.nodeName, self.publicIp);
    put(registry, ownKey, self.nodeName, '192.0.2.77');
    registry.putRaw(ownKey, 'garbage', registry.grant(TTL));
    await settle();
    t.same(w.lost, []);
    await w.stop();
  });

  t.test('missing from a listing → lost', async (t) => {
    const { registry, clock } = setup();
    const w = start(registry, clock, own);
    await w.watcher.ready;
    t.equal(w.lost.length, 1);
    t.match(w.lost[0], /gone from etcd/);
    await w.stop();
  });
});

t.test('run() ends when aborted during a listing', async (t) => {
  const clock = new ManualClock();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const registry = new MemoryRegistry({ clock, delay: () => gate });
  const w = start(registry, clock);
  await settle();
  const stopped = w.stop();
  release();
  const outcome = await Promise.race([stopped.then(() => 'stopped'), clock.advance(0).then(settle).then(() => 'still running')]);
  t.equal(outcome, 'stopped');
  t.equal(registry.watchCount, 0, 'no watch is left open');
});
