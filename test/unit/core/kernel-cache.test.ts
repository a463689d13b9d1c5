import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { KernelCache } from '../../../src/core/kernel-cache.js';
import { EMPTY_STATE, type KernelOp, type KernelState, describeOp, desiredState, planKernel } from '../../../src/core/kernel-state.js';
import type { Peer } from '../../../src/core/peer-acceptance.js';
import { peerLease, vxlanLease } from '../../helpers/leases.js';
import { seededRandom } from '../../helpers/prng.js';

const self = '10.5.1.0/24' as Cidr;
const short = (ops: readonly KernelOp[]): string[] => ops.map(describeOp);
/** What planKernel says, which the cache must reproduce exactly (operations and order). */
const reference = (leases: readonly Peer[], actual: KernelState): string[] => short(planKernel(desiredState(self, leases), actual));
const GROUPS = ['replace fdb', 'replace neighbor', 'replace route|add route', 'delete route', 'delete neighbor', 'delete fdb'];
/** The operations in plan order, sorted within each group (table order is the kernel's business). */
const grouped = (ops: readonly string[]): string[] => [...ops].sort((a, b) =>
  (GROUPS.findIndex((g) => g.split('|').some((p) => a.startsWith(p))) - GROUPS.findIndex((g) => g.split('|').some((p) => b.startsWith(p)))) || a.localeCompare(b));

const prng = seededRandom;

/** Leases drawn from a small space, so keys collide: shared MACs, a /16 and a /24 with one gateway, own subnet, host-gw, no MAC. */
function randomLeases(random: () => number): Peer[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const out: Peer[] = [];
  const count = Math.floor(random() * 8);
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(random() * 6);
    const subnet = pick([`10.5.${n}.0/24`, `10.5.${n}.0/24`, `10.5.${n}.0/24`, '10.5.0.0/16', self]);
    const lease = vxlanLease(subnet, pick(['192.0.2.11', '192.0.2.12', '192.0.2.13']), `0a:00:00:00:00:0${pick([1, 2, 3, 4])}`);
    out.push(lease);
  }
  return out;
}

/** A kernel state with some entries wanted, some wrong, some stray. */
function randomState(random: () => number): KernelState {
  const base = desiredState(self, randomLeases(random));
  const mangle = <T>(xs: readonly T[], change: (e: T) => T): T[] => xs.filter(() => random() > 0.2).map((e) => (random() < 0.2 ? change(e) : e));
  return {
    // Some routes wrong, some unmarked (left by an older weft: taken over by a replace, deleted without the protocol filter).
    routes: mangle(base.routes, (e) => (random() < 0.5 ? { ...e, via: '10.5.9.9' as Ipv4 } : { ...e, legacy: true })),
    neighbors: mangle(base.neighbors, (e) => ({ ...e, mac: '0a:00:00:00:00:99' as never })),
    fdb: mangle(base.fdb, (e) => ({ ...e, dst: '192.0.2.99' as Ipv4 })),
  };
}

t.test('plan equals planKernel(desiredState(leases), state), operations and order, on random cases with colliding keys', async (t) => {
  const random = prng(7);
  let mismatches = 0;
  let repeatedKeys = 0;
  for (let i = 0; i < 3000; i++) {
    const leases = randomLeases(random);
    const actual = randomState(random);
    const vxlan = leases.filter((l) => l.subnet !== self && l.attrs.backendType === 'vxlan' && l.attrs.vtepMac !== undefined);
    const macs = vxlan.map((l) => l.attrs.vtepMac);
    const gateways = vxlan.map((l) => l.subnet.split('/')[0]);
    if (new Set(macs).size < macs.length || new Set(gateways).size < gateways.length) repeatedKeys++;
    const got = short(new KernelCache(actual).plan(self, leases));
    const want = reference(leases, actual);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      mismatches++;
      if (mismatches <= 3) t.same(got, want, `case ${i}: ${JSON.stringify({ leases, actual })}`);
    }
  }
  t.equal(mismatches, 0, '3000 random cases');
  t.ok(repeatedKeys > 500 && repeatedKeys < 2500, `both paths exercised: ${repeatedKeys} cases with a repeated MAC or gateway`);
});

t.test('a sequence of plans with every operation recorded tracks the kernel (as planKernel against the real state would)', async (t) => {
  const random = prng(11);
  for (let run = 0; run < 200; run++) {
    let kernel: KernelState = randomState(random);
    const cache = new KernelCache(kernel);
    for (let step = 0; step < 6; step++) {
      const leases = randomLeases(random);
      const ops = cache.plan(self, leases);
      t.same(grouped(short(ops)), grouped(reference(leases, kernel)), `run ${run} step ${step}`);
      cache.record(ops);
      kernel = desiredState(self, leases); // the kernel after every operation succeeded
      t.same(cache.plan(self, leases), [], `run ${run} step ${step}: in sync afterwards`);
    }
  }
});

t.test('an event: only the new peer\'s entries, FDB then neighbour then route; nothing to do once recorded', async (t) => {
  const before = [peerLease(2), peerLease(3)];
  const cache = new KernelCache(desiredState(self, before));
  t.same(cache.plan(self, before), []);
  const after = [...before, peerLease(4)];
  const ops = cache.plan(self, after);
  t.same(short(ops), [
    'replace fdb 0a:00:00:00:00:04 dst 192.0.2.14', 'replace neighbor 10.5.4.0 lladdr 0a:00:00:00:00:04', 'add route 10.5.4.0/24 via 10.5.4.0',
  ]);
  cache.record(ops);
  t.same(cache.plan(self, after), []);
  const gone = cache.plan(self, [peerLease(2)]);
  t.same(short(gone).slice(0, 1), ['delete route 10.5.3.0/24 via 10.5.3.0']);
  cache.record(gone);
  t.same(cache.state(), desiredState(self, [peerLease(2)]));
});

t.test('record: replace overwrites, delete removes (an absent entry is fine)', async (t) => {
  const cache = new KernelCache(EMPTY_STATE);
  const [fdb, neighbor, route] = planKernel(desiredState(self, [peerLease(2)]), EMPTY_STATE);
  if (fdb?.kind !== 'fdb' || neighbor?.kind !== 'neighbor' || route?.kind !== 'route') throw new Error('unexpected plan');
  cache.record([fdb, neighbor, route, { ...route, action: 'delete' }, { ...route, action: 'delete' }]);
  t.same(cache.state(), { routes: [], neighbors: [neighbor.entry], fdb: [fdb.entry] });
  cache.record([{ action: 'replace', kind: 'fdb', entry: { mac: fdb.entry.mac, dst: '192.0.2.99' as Ipv4 } }]);
  t.same(cache.state().fdb, [{ mac: fdb.entry.mac, dst: '192.0.2.99' }]);
});

t.test('holdsAll: false when the state lists one key twice (a vxlan FDB MAC with several remotes)', async (t) => {
  const state = desiredState(self, [peerLease(2), peerLease(3)]);
  t.equal(new KernelCache(state).holdsAll, true);
  const [first] = state.fdb;
  if (!first) throw new Error('no fdb entry');
  t.equal(new KernelCache({ ...state, fdb: [...state.fdb, { ...first, dst: '192.0.2.99' as Ipv4 }] }).holdsAll, false);
});

t.test('planDelta: the operations planKernel gives for the whole new set, planning only the changed subnets and drifted entries', async (t) => {
  const random = prng(11);
  let compared = 0;
  let declined = 0;
  let mismatches = 0;
  const unique = (leases: readonly Peer[]): Map<Cidr, Peer> => new Map(leases.map((l) => [l.subnet, l]));
  for (let i = 0; i < 3000; i++) {
    const cache = new KernelCache(randomState(random));
    const before = unique(randomLeases(random));
    cache.record(cache.plan(self, [...before.values()]));
    // Some peers go, some come, some change MAC or public IP.
    const after = new Map(before);
    for (const lease of randomLeases(random)) {
      if (random() < 0.3) after.delete(lease.subnet);
      else after.set(lease.subnet, lease);
    }
    const changed = new Set<Cidr>();
    for (const subnet of new Set([...before.keys(), ...after.keys()])) {
      if (JSON.stringify(before.get(subnet)) !== JSON.stringify(after.get(subnet))) changed.add(subnet);
    }
    // The kernel drifted behind our back: entries deleted or changed (recorded as a kernel notification would be).
    const drifted = { routes: new Set<Cidr>(), neighbors: new Set<Ipv4>(), fdb: new Set<never>() };
    const state = cache.state();
    for (const route of state.routes) if (random() < 0.1) { cache.record([{ action: 'delete', kind: 'route', entry: route }]); drifted.routes.add(route.dst); }
    for (const n of state.neighbors) if (random() < 0.1) { cache.record([{ action: 'replace', kind: 'neighbor', entry: { ...n, mac: '0a:00:00:00:00:77' as never } }]); drifted.neighbors.add(n.ip); }
    if (random() < 0.2) { cache.record([{ action: 'replace', kind: 'fdb', entry: { mac: '0a:00:00:00:00:66' as never, dst: '192.0.2.66' as Ipv4 } }]); drifted.fdb.add('0a:00:00:00:00:66' as never); }
    const actual = cache.state();
    const delta = cache.planDelta(self, changed, (subnet) => after.get(subnet), drifted);
    if (delta === undefined) { declined++; continue; }
    compared++;
    const want = grouped(reference([...after.values()], actual));
    const got = grouped(short(delta));
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      mismatches++;
      if (mismatches <= 3) t.same(got, want, `case ${i}`);
    }
    cache.record(delta);
    if (cache.planDelta(self, [], (subnet) => after.get(subnet))?.length !== 0) mismatches++;
  }
  t.equal(mismatches, 0, `${compared} delta plans equal the full plan`);
  // The random leases share 4 MACs on purpose, so many cases want one MAC twice (the PeerSet refuses that in weftd).
  t.ok(compared > 1000, `cases planned alone (${compared} compared, ${declined} declined: a MAC or gateway wanted twice)`);
});

t.test('planDelta declines without a full plan first, and after one that met a key twice', async (t) => {
  const cache = new KernelCache(EMPTY_STATE);
  t.equal(cache.planDelta(self, ['10.5.2.0/24' as Cidr], () => undefined), undefined, 'no full plan yet');
  const a = vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:02');
  const b = vxlanLease('10.5.3.0/24', '192.0.2.13', '0a:00:00:00:00:02');
  cache.plan(self, [a, b]);
  t.equal(cache.planDelta(self, ['10.5.2.0/24' as Cidr], () => a), undefined, 'one MAC wanted by two subnets');
  cache.plan(self, [a]);
  t.same(cache.planDelta(self, [b.subnet], (s) => (s === b.subnet ? b : undefined)), undefined, 'b wants a\'s MAC while a keeps it');
  const ops = cache.plan(self, [a]);
  cache.record(ops);
  t.same(short(cache.planDelta(self, [a.subnet], () => undefined) ?? []),
    ['delete route 10.5.2.0/24 via 10.5.2.0', 'delete neighbor 10.5.2.0 lladdr 0a:00:00:00:00:02', 'delete fdb 0a:00:00:00:00:02 dst 192.0.2.12'], 'a peer that goes takes its three entries');
});
