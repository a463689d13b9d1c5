import { pino } from 'pino';
import t from 'tap';
import { type LeaseKeeperInput, keepLeaseAlive } from '../../../src/daemon/lease-keeper.js';
import { ManualClock } from '../../fakes/manual-clock.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const log = pino({ level: 'silent' });

function start(ttlSeconds: number, leaseId?: string) {
  const clock = new ManualClock();
  const registry = new MemoryRegistry({ clock });
  const id = leaseId ?? registry.grant(ttlSeconds);
  const lost: string[] = [];
  const renewed: number[] = [];
  const input: LeaseKeeperInput = {
    registry, leaseId: id, ttlSeconds, clock, log, onLost: (reason) => lost.push(reason), onRenewed: (ttl) => renewed.push(ttl), random: () => 0,
  };
  const ac = new AbortController();
  let finished = false;
  const running = keepLeaseAlive(input, ac.signal).finally(() => { finished = true; });
  return {
    clock, registry, id, lost, renewed, running,
    keepAlives: () => registry.count('keepAlive'),
    finished: () => finished,
    stop: async (): Promise<void> => { ac.abort(); await running; },
  };
}

t.test('renews every third of the TTL and keeps the lease alive', async (t) => {
  const k = start(60);
  await k.clock.advance(19_999);
  t.equal(k.keepAlives(), 0, 'nothing before a third of the TTL');
  await k.clock.advance(1);
  t.equal(k.keepAlives(), 1, 'first renewal at 20 s');
  await k.clock.advance(40_000);
  t.equal(k.keepAlives(), 3, 'then every 20 s');
  await k.clock.advance(600_000);
  t.equal(k.keepAlives(), 33);
  t.ok(k.registry.hasLease(k.id), 'the lease is alive after 10 times its TTL');
  t.same(k.renewed.slice(0, 2), [60, 60], 'onRenewed gets the TTL etcd answered');
  t.same(k.lost, []);
  await k.stop();
  await k.clock.advance(60_000);
  t.equal(k.keepAlives(), 33, 'nothing after stop');
});

t.test('a short TTL is renewed at most once a second', async (t) => {
  const k = start(2);
  await k.clock.advance(999);
  t.equal(k.keepAlives(), 0);
  await k.clock.advance(1);
  t.equal(k.keepAlives(), 1);
  await k.clock.advance(10_000);
  t.equal(k.keepAlives(), 11);
  t.ok(k.registry.hasLease(k.id));
  await k.stop();
});

t.test('keepalive errors are retried and do not lose the lease', async (t) => {
  const k = start(60);
  await k.clock.advance(20_000);
  k.registry.setAvailable(false);
  await k.clock.advance(20_000);
  t.equal(k.keepAlives(), 2, 'the renewal at 40 s failed');
  await k.clock.advance(10_000);
  t.equal(k.keepAlives(), 12, 'retried every second while etcd is unreachable');
  t.same(k.lost, [], 'unreachable is not lost');
  t.notOk(k.finished());
  k.registry.setAvailable(true);
  await k.clock.advance(1_000);
  t.equal(k.keepAlives(), 13);
  t.equal(k.renewed.length, 2, 'renewed again once etcd answers');
  await k.clock.advance(19_999);
  t.equal(k.keepAlives(), 13, 'back to the normal interval');
  await k.clock.advance(1);
  t.equal(k.keepAlives(), 14);
  t.ok(k.registry.hasLease(k.id));
  await k.stop();
});

t.test('an outage longer than the TTL: etcd answers 0 and the lease is lost', async (t) => {
  const k = start(60);
  k.registry.setAvailable(false);
  await k.clock.advance(61_000);
  t.notOk(k.registry.hasLease(k.id), 'expired inside etcd');
  t.same(k.lost, []);
  k.registry.setAvailable(true);
  await k.clock.advance(2_000);
  t.equal(k.lost.length, 1);
  t.match(k.lost[0], new RegExp(`etcd lease ${k.id} expired`));
  t.ok(k.finished(), 'the keeper stops');
  await k.clock.advance(60_000);
  t.equal(k.lost.length, 1, 'reported once');
});

t.test('a revoked lease is lost at the next keepalive', async (t) => {
  const k = start(30);
  await k.clock.advance(10_000);
  await k.registry.revoke(k.id);
  await k.clock.advance(9_999);
  t.same(k.lost, []);
  await k.clock.advance(1);
  t.equal(k.lost.length, 1);
  t.ok(k.finished());
});

t.test('a reservation needs nothing', async (t) => {
  const k = start(60, '0');
  await k.running;
  t.ok(k.finished(), 'returns at once');
  t.equal(k.clock.pending, 0, 'no timer was started');
  await k.clock.advance(600_000);
  t.equal(k.keepAlives(), 0);
  t.same(k.lost, []);
});
