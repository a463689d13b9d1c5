import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { pino } from 'pino';
import t from 'tap';
import { fitsConfig } from '../../../src/core/allocate.js';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { SubnetExhaustedError } from '../../../src/core/errors.js';
import { type LeaseAttrs, decodeLeaseValue, encodeLeaseValue, encodeSubnetKey } from '../../../src/core/lease.js';
import { vtepMacFor } from '../../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig, subnetCapacity } from '../../../src/core/network-config.js';
import { type AcquireInput, type HeldLease, acquireLease } from '../../../src/daemon/acquire-lease.js';
import { ManualClock } from '../../fakes/manual-clock.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';
import { seededRandom } from '../../helpers/prng.js';

const log = pino({ level: 'silent' });
const TTL = 86_400;

function config(fields: Record<string, unknown>): NetworkConfig {
  const r = parseNetworkConfig(fields);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
}
const net16 = config({ Network: '10.5.0.0/16' });

const seeded = seededRandom;

function attrsFor(node: string, publicIp: string, vni = 1): LeaseAttrs & { nodeName: string } {
  return { publicIp: publicIp as Ipv4, backendType: 'vxlan', vni, vtepMac: vtepMacFor(node, vni), nodeName: node };
}

interface Host { registry: MemoryRegistry; clock: ManualClock; config?: NetworkConfig; previous?: Cidr; seed?: number; ttl?: number }

function inputFor(node: string, publicIp: string, h: Host, attrs = attrsFor(node, publicIp)): AcquireInput {
  return {
    registry: h.registry, config: h.config ?? net16, attrs, previous: h.previous === undefined ? undefined : { subnet: h.previous }, ttlSeconds: h.ttl ?? TTL,
    random: seeded(h.seed ?? node.length * 7919 + publicIp.length), clock: h.clock, log, signal: new AbortController().signal,
  };
}

/** Runs `work` while moving the manual clock, so the retry backoff can elapse. */
async function drive<T>(clock: ManualClock, work: Promise<T>): Promise<T> {
  let done = false;
  const tracked = work.finally(() => { done = true; });
  tracked.catch(() => undefined);
  for (let i = 0; i < 10_000 && !done; i++) await clock.advance(25);
  return tracked;
}

function setup(): { registry: MemoryRegistry; clock: ManualClock } {
  const clock = new ManualClock();
  return { registry: new MemoryRegistry({ clock }), clock };
}

t.test('fresh claim', async (t) => {
  const h = setup();
  const attrs = attrsFor('n1', '192.0.2.1');
  const held = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.1', h, attrs)));
  t.ok(fitsConfig(held.subnet, net16), `${held.subnet} is within the config`);
  t.equal(held.reservation, false);
  t.not(held.leaseId, '0');
  const entry = h.registry.entry(encodeSubnetKey(held));
  t.equal(entry?.value, encodeLeaseValue(attrs), 'the key holds our encoded attrs');
  t.equal(entry?.leaseId, held.leaseId, 'attached to the returned etcd lease');
  t.equal(await h.registry.timeToLive(held.leaseId), TTL);
  t.equal(h.registry.entries().length, 1);
  t.equal(h.registry.count('claim'), 1, 'no lost race on an empty registry');
});

t.test('a restart reuses its own lease with a new etcd lease and revokes the old one', async (t) => {
  const h = setup();
  const first = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.1', h)));
  await h.clock.advance(3_600_000);
  const newAttrs = { ...attrsFor('n1', '192.0.2.99'), vni: 1 };
  const second = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.99', h, newAttrs)));
  t.equal(second.subnet, first.subnet, 'same subnet, found by NodeName although the PublicIP changed');
  t.not(second.leaseId, first.leaseId, 'a new etcd lease');
  t.notOk(h.registry.hasLease(first.leaseId), 'the old etcd lease is revoked');
  const entry = h.registry.entry(encodeSubnetKey(first));
  t.equal(entry?.leaseId, second.leaseId);
  t.equal(entry?.value, encodeLeaseValue(newAttrs), 'the value carries the new attrs');
  t.equal(h.registry.leaseCount, 1);
  t.equal(h.registry.count('claim'), 1, 'the restart replaced, it did not claim');
});

t.test('a lease written by flanneld for our PublicIP is adopted', async (t) => {
  const h = setup();
  const flannelLeaseId = h.registry.grant(TTL);
  const flannelValue = encodeLeaseValue({ ...attrsFor('x', '192.0.2.1'), nodeName: undefined });
  h.registry.putRaw('10.5.42.0-24', flannelValue, flannelLeaseId);
  const held = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.1', h)));
  t.equal(held.subnet, '10.5.42.0/24');
  const decoded = decodeLeaseValue(h.registry.entry('10.5.42.0-24')?.value ?? '');
  t.equal(decoded.ok && decoded.attrs.nodeName, 'n1', 'now carries our NodeName');
  t.notOk(h.registry.hasLease(flannelLeaseId));
});

t.test('a host with our PublicIP but another NodeName keeps its lease', async (t) => {
  const h = setup();
  const other = await drive(h.clock, acquireLease(inputFor('n2', '192.0.2.1', h)));
  const before = h.registry.entry(encodeSubnetKey(other));
  const mine = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.1', { ...h, previous: other.subnet })));
  t.not(mine.subnet, other.subnet);
  t.same(h.registry.entry(encodeSubnetKey(other)), before, "the other host's key is untouched");
});

t.test('an own lease outside the current config is released and a new one claimed', async (t) => {
  const h = setup();
  const old = h.registry.grant(TTL);
  h.registry.putRaw('10.5.0.0-24', encodeLeaseValue(attrsFor('n1', '192.0.2.1')), old);
  const narrowed = config({ Network: '10.5.0.0/16', SubnetMin: '10.5.100.0', SubnetMax: '10.5.120.0' });
  const held = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.1', { ...h, config: narrowed })));
  t.ok(fitsConfig(held.subnet, narrowed));
  t.equal(h.registry.entry('10.5.0.0-24'), undefined, 'the unfitting key is gone');
  t.same(h.registry.entries().map((e) => e.key), [encodeSubnetKey(held)]);
});

t.test('concurrent hosts on a 31-subnet network all get distinct subnets', async (t) => {
  const small = config({ Network: '10.7.0.0/19' });
  t.equal(subnetCapacity(small), 31);
  let claims = 0;
  for (let round = 0; round < 6; round++) {
    const clock = new ManualClock();
    const jitter = seeded(1000 + round);
    const registry = new MemoryRegistry({
      clock,
      delay: async () => { for (let i = Math.floor(jitter() * 4); i > 0; i--) await nextMacrotask(); },
    });
    const hosts = Array.from({ length: 20 }, (_, i) => ({ node: `host-${i}`, ip: `192.0.2.${i + 1}` }));
    const work = Promise.all(hosts.map((host, i) =>
      acquireLease(inputFor(host.node, host.ip, { registry, clock, config: small, seed: round * 100 + i }))));
    const held: HeldLease[] = await drive(clock, work);
    t.equal(new Set(held.map((l) => l.subnet)).size, 20, `round ${round}: 20 distinct subnets`);
    t.ok(held.every((l) => fitsConfig(l.subnet, small)), `round ${round}: all within the config`);
    const owners = registry.entries().map((e) => {
      const d = decodeLeaseValue(e.value);
      return d.ok ? `${e.key}=${d.attrs.nodeName}` : 'bad';
    }).sort();
    t.same(owners, held.map((l, i) => `${encodeSubnetKey(l)}=host-${i}`).sort(), `round ${round}: each key names its holder`);
    t.equal(registry.leaseCount, 20, `round ${round}: the etcd leases of lost claims were revoked`);
    claims += registry.count('claim');
  }
  t.ok(claims > 6 * 20, `claim races actually happened (${claims} claims for ${6 * 20} leases)`);
});

t.test('expired then taken: the previous subnet is not taken back', async (t) => {
  const h = setup();
  const a1 = await drive(h.clock, acquireLease(inputFor('a', '192.0.2.1', { ...h, ttl: 60 })));
  await h.clock.advance(61_000);
  t.equal(h.registry.entry(encodeSubnetKey(a1)), undefined, "A's key expired with its etcd lease");

  const b = await drive(h.clock, acquireLease(inputFor('b', '192.0.2.2', { ...h, previous: a1.subnet })));
  t.equal(b.subnet, a1.subnet, "B took A's old subnet");
  const bEntry = h.registry.entry(encodeSubnetKey(b));

  const a2 = await drive(h.clock, acquireLease(inputFor('a', '192.0.2.1', { ...h, previous: a1.subnet })));
  t.not(a2.subnet, a1.subnet, 'A gets a different subnet');
  t.same(h.registry.entry(encodeSubnetKey(b)), bEntry, "B's key, value and lease are untouched");
  t.ok(h.registry.hasLease(b.leaseId));
});

t.test('the previous subnet from subnet.env is taken back when free', async (t) => {
  const h = setup();
  const held = await drive(h.clock, acquireLease(inputFor('a', '192.0.2.1', { ...h, previous: '10.5.77.0/24' as Cidr })));
  t.equal(held.subnet, '10.5.77.0/24');
});

t.test('a reservation naming this host stays a reservation', async (t) => {
  const h = setup();
  const attrs = attrsFor('n1', '192.0.2.1');
  const rev = h.registry.putRaw('10.5.9.0-24', encodeLeaseValue(attrs));
  const held = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.1', h, attrs)));
  t.same(held, { subnet: '10.5.9.0/24', attrs, leaseId: '0', reservation: true });
  t.equal(h.registry.entry('10.5.9.0-24')?.modRevision, String(rev), 'an identical value is not rewritten');
  t.equal(h.registry.leaseCount, 0, 'no etcd lease was created');

  const moved = attrsFor('n1', '192.0.2.50', 1);
  const again = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.50', h, moved)));
  t.equal(again.leaseId, '0');
  const entry = h.registry.entry('10.5.9.0-24');
  t.equal(entry?.value, encodeLeaseValue(moved), 'new attrs are written');
  t.equal(entry?.reservation, true, 'still without an etcd lease');
  t.equal(h.registry.leaseCount, 0);

  h.registry.putRaw('10.5.10.0-24', encodeLeaseValue({ ...attrsFor('f', '192.0.2.60'), nodeName: undefined }));
  const flannelReserved = await drive(h.clock, acquireLease(inputFor('n9', '192.0.2.60', h)));
  t.same([flannelReserved.subnet, flannelReserved.leaseId], ['10.5.10.0/24', '0'], 'a flannel reservation is matched by PublicIP');
});

t.test('keys with unreadable values are never claimed', async (t) => {
  const h = setup();
  const tiny = config({ Network: '10.9.0.0/26' });
  h.registry.putRaw('10.9.0.16-28', 'garbage');
  h.registry.putRaw('10.9.0.48-28', '{"PublicIP":"0.0.0.0"}');
  for (let i = 0; i < 3; i++) {
    const held = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.1', { ...h, config: tiny, seed: i })));
    t.equal(held.subnet, '10.9.0.32/28');
  }
  t.equal(h.registry.entry('10.9.0.16-28')?.value, 'garbage');
});

t.test('exhaustion names the network and the subnet count', async (t) => {
  const h = setup();
  const tiny = config({ Network: '10.9.0.0/26' });
  for (const [i, key] of ['10.9.0.16-28', '10.9.0.32-28', '10.9.0.48-28'].entries()) {
    h.registry.putRaw(key, encodeLeaseValue(attrsFor(`other-${i}`, `198.51.100.${i + 1}`)), h.registry.grant(TTL));
  }
  const err = await drive(h.clock, acquireLease(inputFor('n1', '192.0.2.1', { ...h, config: tiny }))).catch((e: unknown) => e);
  t.ok(err instanceof SubnetExhaustedError, 'SubnetExhaustedError');
  t.match((err as Error).message, /10\.9\.0\.0\/26/);
  t.match((err as Error).message, new RegExp(`all ${subnetCapacity(tiny)} subnets`));
  t.equal(h.registry.count('claim'), 0, 'nothing was claimed');
});

t.test('an aborted signal stops the acquisition', async (t) => {
  const h = setup();
  const ac = new AbortController();
  ac.abort(new Error('shutting down'));
  await t.rejects(acquireLease({ ...inputFor('n1', '192.0.2.1', h), signal: ac.signal }), /shutting down/);
  t.equal(h.registry.entries().length, 0);
});
