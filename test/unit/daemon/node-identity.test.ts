import { pino } from 'pino';
import t from 'tap';
import type { Ipv4 } from '../../../src/core/cidr.js';
import { NodeNameInUseError } from '../../../src/core/errors.js';
import { encodePresence } from '../../../src/core/node-presence.js';
import { claimIdentity, keepIdentity } from '../../../src/daemon/node-identity.js';
import { ManualClock } from '../../fakes/manual-clock.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const log = pino({ level: 'silent' });
const TTL = 30;
const me = { instanceId: 'me-1', publicIp: '198.51.100.1' as Ipv4, startedAt: '2026-11-27T10:00:00.000Z' };
const other = { instanceId: 'other-2', publicIp: '198.51.100.2' as Ipv4, startedAt: '2026-11-27T09:00:00.000Z' };

function setup() {
  const clock = new ManualClock();
  const registry = new MemoryRegistry({ clock });
  const input = { registry, nodeName: 'web1', self: me, ttlSeconds: TTL, clock, random: () => 0, log };
  return { clock, registry, input };
}

/** Moves the clock until `work` settles. */
async function drive<T>(clock: ManualClock, work: Promise<T>, stepMs = 250): Promise<T> {
  let done = false;
  const tracked = work.finally(() => { done = true; });
  tracked.catch(() => undefined);
  for (let i = 0; i < 10_000 && !done; i++) await clock.advance(stepMs);
  return tracked;
}

t.test('a free name is claimed on its own short lease', async (t) => {
  const { registry, input, clock } = setup();
  const leaseId = await drive(clock, claimIdentity(input, new AbortController().signal));
  const stored = registry.presence('web1');
  t.equal(stored?.value, encodePresence(me));
  t.equal(stored?.leaseId, leaseId);
  t.equal(registry.entries().length, 0, 'no subnet key written');
});

t.test('our own instance (a restart on this host) takes the name over at once and revokes the old lease', async (t) => {
  const { registry, input, clock } = setup();
  const old = registry.grant(TTL);
  registry.putPresenceRaw('web1', encodePresence({ ...me, startedAt: 'earlier' }), old);
  const started = clock.now();
  const leaseId = await drive(clock, claimIdentity(input, new AbortController().signal));
  t.ok(clock.now() - started < 1000, 'no waiting');
  t.not(leaseId, old);
  t.notOk(registry.hasLease(old), 'the previous run\'s lease is revoked');
  t.equal(registry.presence('web1')?.value, encodePresence(me));
});

t.test('another instance: wait up to 1.5x the TTL, then fail with the conflict; its key is untouched', async (t) => {
  const { registry, input, clock } = setup();
  const theirs = registry.grant(TTL);
  registry.putPresenceRaw('web1', encodePresence(other), theirs);
  const keep = setInterval(() => undefined, 1000); // keep the event loop alive while the manual clock runs
  // The other host keeps its key alive.
  const alive = new AbortController();
  void (async () => { while (!alive.signal.aborted) { await clock.sleep(10_000, alive.signal).catch(() => undefined); await registry.keepAlive(theirs); } })();
  const started = clock.now();
  const err = await drive(clock, claimIdentity(input, new AbortController().signal)).catch((e: unknown) => e);
  alive.abort();
  clearInterval(keep);
  t.type(err, NodeNameInUseError);
  t.match((err as Error).message, /node name "web1" is already in use by another running host \(public IP 198\.51\.100\.2/);
  t.ok(clock.now() - started >= 45_000 && clock.now() - started < 47_000, `failed after 1.5x TTL (${clock.now() - started} ms)`);
  t.equal(registry.presence('web1')?.value, encodePresence(other), 'the other host\'s key is untouched');
});

t.test('another instance that died: its key expires within the wait and the name is ours', async (t) => {
  const { registry, input, clock } = setup();
  registry.putPresenceRaw('web1', encodePresence(other), registry.grant(TTL)); // never renewed: its host crashed
  const leaseId = await drive(clock, claimIdentity(input, new AbortController().signal));
  t.equal(registry.presence('web1')?.leaseId, leaseId);
  t.ok(clock.now() >= 30_000 && clock.now() <= 32_000, `claimed right after the old key expired (${clock.now()} ms)`);
});

t.test('the keeper renews, re-creates an expired key, and reports a conflict when another instance took it', async (t) => {
  const { registry, input, clock } = setup();
  const leaseId = await drive(clock, claimIdentity(input, new AbortController().signal));
  const conflicts: (string | undefined)[] = [];
  const ac = new AbortController();
  const kept = keepIdentity({ ...input, leaseId, onConflict: (c) => conflicts.push(c) }, ac.signal);
  await clock.advance(10 * TTL * 1000);
  t.ok(registry.hasLease(leaseId), 'renewed every third of the TTL');
  t.ok(registry.count('keepAlive') >= 29, `${registry.count('keepAlive')} keepalives`);

  // A long etcd outage: the lease expires on the server.
  registry.setAvailable(false);
  await clock.advance(40_000);
  t.notOk(registry.presence('web1'), 'expired during the outage');
  registry.setAvailable(true);
  await clock.advance(12_000);
  const recreated = registry.presence('web1');
  t.equal(recreated?.value, encodePresence(me), 're-created when etcd came back');
  t.same(conflicts, [], 'no conflict');

  // Outage again, and meanwhile another instance claims the name.
  registry.setAvailable(false);
  await clock.advance(40_000);
  registry.setAvailable(true);
  registry.putPresenceRaw('web1', encodePresence(other), registry.grant(3600));
  await clock.advance(12_000);
  t.equal(registry.presence('web1')?.value, encodePresence(other), 'the other instance\'s key is left alone');
  t.equal(conflicts.length, 1);
  t.match(conflicts[0], /public IP 198\.51\.100\.2/);
  ac.abort();
  t.equal(await kept, '', 'holds no presence lease at the end');
});
