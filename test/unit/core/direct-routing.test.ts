/**
 * DirectRouting: the path decision (longest prefix match over the main
 * table) and the plans with direct peers — the cache's full and event plans
 * must equal planKernel on the whole desired state, and a peer moving
 * between the paths is add-before-delete.
 */
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { type UnderlayRoute, configuredPaths, directPaths } from '../../../src/core/direct-routing.js';
import { KernelCache } from '../../../src/core/kernel-cache.js';
import { DriftTracker } from '../../../src/core/kernel-drift.js';
import { type KernelOp, type KernelState, describeOp, desiredState, planKernel } from '../../../src/core/kernel-state.js';
import type { Peer } from '../../../src/core/peer-acceptance.js';
import { peerDrift } from '../../../src/core/peer-drift.js';
import { vxlanLease } from '../../helpers/leases.js';
import { seededRandom } from '../../helpers/prng.js';

const self = '10.5.1.0/24' as Cidr;
const short = (ops: readonly KernelOp[]): string[] => ops.map(describeOp);
const route = (dst: string, gateway: boolean, device = 'eth0', type = 'unicast'): UnderlayRoute => ({ dst, gateway, device, type });

/** Host A of the rig: eth0 on 192.0.2.0/24 (A and B), everything else through the router. */
const UNDERLAY = [route('default', true), route('192.0.2.0/24', false), route('198.51.100.0/24', true)];
const paths = directPaths('eth0', UNDERLAY, 4);

t.test('a peer is direct when the longest match has no gateway and is on the external interface', async (t) => {
  t.equal(paths.direct('192.0.2.12'), true, 'same segment');
  t.equal(paths.direct('198.51.100.13'), false, 'behind the router (via)');
  t.equal(paths.direct('203.0.113.1'), false, 'default route: via a gateway');
  const more = directPaths('eth0', [...UNDERLAY, route('192.0.2.128/25', true), route('192.0.2.64/26', false, 'eth1'),
    route('192.0.2.32/27', false, 'eth0', 'blackhole'), route('192.0.2.9', false)], 4);
  t.equal(more.direct('192.0.2.200'), false, 'a more specific route via a gateway wins over the connected /24');
  t.equal(more.direct('192.0.2.70'), false, 'the best match is on another interface (weft would put the route on eth0)');
  t.equal(more.direct('192.0.2.33'), false, 'a blackhole is not a path');
  t.equal(more.direct('192.0.2.9'), true, 'a host route without a gateway');
  t.equal(directPaths('eth0', [], 4).direct('192.0.2.12'), false, 'no route at all: VXLAN');
  t.equal(directPaths('eth0', [route('192.0.2.0/24', true, undefined as never), { dst: '192.0.2.0/25', gateway: true, device: undefined, type: 'unicast' }], 4)
    .direct('192.0.2.3'), false, 'multipath (no device, via several): not direct');
  const v6 = directPaths('eth0', [route('default', true), route('fd00:99::/64', false), route('fd00:98::/64', true)], 6);
  t.equal(v6.direct('fd00:99::12'), true, 'IPv6 on the segment');
  t.equal(v6.direct('fd00:98::13'), false, 'IPv6 behind a router');
  t.equal(v6.direct('not-an-ip'), false);
  t.equal(configuredPaths(false, 'eth0', UNDERLAY, 4), undefined, 'DirectRouting off: no decision, every peer VXLAN');
  t.equal(configuredPaths(true, undefined, UNDERLAY, 4), undefined);
});

const near = vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:02');
const far = vxlanLease('10.5.3.0/24', '198.51.100.13', '0a:00:00:00:00:03');

t.test('desired state: a direct peer gets only its route via its public IP on eth0, the others VXLAN entries', async (t) => {
  const state = desiredState(self, [near, far], paths);
  t.same(state.routes, [{ dst: '10.5.2.0/24', via: '192.0.2.12', dev: 'eth0' }, { dst: '10.5.3.0/24', via: '10.5.3.0' }]);
  t.same(state.neighbors, [{ ip: '10.5.3.0', mac: '0a:00:00:00:00:03' }]);
  t.same(state.fdb, [{ mac: '0a:00:00:00:00:03', dst: '198.51.100.13' }]);
  t.same(desiredState(self, [near, far]).routes.length, 2, 'without paths both are VXLAN');
});

t.test('moving paths: one route replace (atomic), the old entries only after it, the new ones before it', async (t) => {
  const vxlanState = desiredState(self, [near, far]);
  t.same(short(planKernel(desiredState(self, [near, far], paths), vxlanState)), [
    'replace route 10.5.2.0/24 via 192.0.2.12 dev eth0',
    'delete neighbor 10.5.2.0 lladdr 0a:00:00:00:00:02',
    'delete fdb 0a:00:00:00:00:02 dst 192.0.2.12',
  ], 'VXLAN → direct: the route moves first, then the neighbour and FDB entry go');
  const directState = desiredState(self, [near, far], paths);
  t.same(short(planKernel(desiredState(self, [near, far]), directState)), [
    'replace fdb 0a:00:00:00:00:02 dst 192.0.2.12',
    'replace neighbor 10.5.2.0 lladdr 0a:00:00:00:00:02',
    'replace route 10.5.2.0/24 via 10.5.2.0',
  ], 'direct → VXLAN: FDB and neighbour first, then the route replace');
});

/** Leases whose public IPs are on the segment or behind the router, with colliding keys. */
function randomLeases(random: () => number): Peer[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const out: Peer[] = [];
  const count = Math.floor(random() * 8);
  for (let i = 0; i < count; i++) {
    const n = 1 + Math.floor(random() * 6);
    out.push(vxlanLease(pick([`10.5.${n}.0/24`, `10.5.${n}.0/24`, self]), pick(['192.0.2.12', '192.0.2.13', '198.51.100.13', '198.51.100.14']),
      `0a:00:00:00:00:0${pick([1, 2, 3, 4, 5, 6])}`));
  }
  return out;
}

function randomState(random: () => number): KernelState {
  const withPaths = random() < 0.5;
  const base = desiredState(self, randomLeases(random), withPaths ? paths : undefined);
  const keep = <T>(xs: readonly T[]): T[] => xs.filter(() => random() > 0.2);
  return {
    routes: keep(base.routes).map((r) => (random() < 0.15 ? { ...r, via: '10.5.9.9' as Ipv4 } : r)),
    neighbors: keep(base.neighbors),
    fdb: keep(base.fdb),
  };
}

const sorted = (ops: readonly string[]): string[] => [...ops].sort();

t.test('the cache plans direct peers exactly as planKernel on the whole desired state (full plans and event plans)', async (t) => {
  const random = seededRandom(23);
  let full = 0;
  let delta = 0;
  let mismatches = 0;
  for (let i = 0; i < 2000; i++) {
    const actual = randomState(random);
    const leases = [...new Map(randomLeases(random).map((l) => [l.subnet, l])).values()];
    const want = short(planKernel(desiredState(self, leases, paths), actual));
    const cache = new KernelCache(actual);
    const got = short(cache.plan(self, leases, paths));
    full++;
    if (JSON.stringify(sorted(got)) !== JSON.stringify(sorted(want))) {
      mismatches++;
      if (mismatches <= 3) t.same(got, want, `full plan, case ${i}`);
    }
    cache.record(cache.plan(self, leases, paths));
    // Peers change public IP (moving between the paths), come and go; only the changed subnets are planned.
    const after = new Map(leases.map((l) => [l.subnet, l]));
    for (const lease of randomLeases(random)) {
      if (random() < 0.3) after.delete(lease.subnet);
      else after.set(lease.subnet, lease);
    }
    const changed = new Set<Cidr>([...leases.map((l) => l.subnet), ...after.keys()].filter((s) =>
      JSON.stringify(leases.find((l) => l.subnet === s)) !== JSON.stringify(after.get(s))));
    const before = cache.state();
    const planned = cache.planDelta(self, changed, (s) => after.get(s), undefined, paths);
    if (planned === undefined) continue; // a MAC wanted twice: the caller plans the whole set
    delta++;
    const reference = short(planKernel(desiredState(self, [...after.values()], paths), before));
    if (JSON.stringify(sorted(short(planned))) !== JSON.stringify(sorted(reference))) {
      mismatches++;
      if (mismatches <= 3) t.same(short(planned), reference, `event plan, case ${i}`);
    }
  }
  t.equal(mismatches, 0, `${full} full plans and ${delta} event plans`);
  t.ok(delta > 400, `event plans exercised (${delta})`);
  const cache = new KernelCache(desiredState(self, [near], paths));
  cache.plan(self, [near], paths);
  t.equal(cache.planDelta(self, [near.subnet], () => near, undefined, directPaths('eth0', UNDERLAY, 4)), undefined,
    'a new path decision (another underlay read) is never planned alone: the whole set is');
  t.equal(cache.countProgrammed(self, [near, far], paths), 1, 'the direct peer counts as programmed by its route alone');
});

t.test('drift: a hand-deleted direct route is repaired; an underlay route change asks for a read; echoes cost nothing', async (t) => {
  const inOverlay = (dst: Cidr): boolean => dst.startsWith('10.5.');
  const tracker = new DriftTracker('weft.1', { direct: { device: 'eth0', inOverlay } });
  const cache = new KernelCache(desiredState(self, [near, far], paths));
  cache.plan(self, [near, far], paths);
  const change = { kind: 'route', device: 'eth0', type: 'unicast', dst: '10.5.2.0/24' as Cidr, via: '192.0.2.12' as Ipv4, protocol: 87, onlink: false, metric: 0 } as const;
  t.equal(tracker.note([{ ...change, deleted: false }], cache), false, 'weft\'s own direct route echoed back');
  t.equal(tracker.note([{ ...change, deleted: true }], cache), true, 'deleted by hand');
  t.same([...tracker.take().routes], ['10.5.2.0/24']);
  t.same(short(cache.planDelta(self, ['10.5.2.0/24' as Cidr], () => near, undefined, paths) ?? []), ['add route 10.5.2.0/24 via 192.0.2.12 dev eth0']);
  t.equal(tracker.note([{ kind: 'route', deleted: false, device: 'eth0', type: 'unicast', dst: '192.0.2.128/25' as Cidr, via: '192.0.2.1' as Ipv4,
    protocol: 4, onlink: false, metric: 0 }], cache), true, 'a new underlay route through eth0');
  t.equal(tracker.take().full, true, 'which peers are direct must be decided again from a read');
  t.equal(tracker.note([{ kind: 'link', deleted: false, device: 'eth0', index: 2, up: false, mtu: 1500, mac: undefined }], cache), true);
  t.equal(tracker.take().full, true, 'the external interface changed');
  const off = new DriftTracker('weft.1');
  t.equal(off.note([{ kind: 'route', deleted: false, device: 'eth0', type: 'unicast', dst: '192.0.2.128/25' as Cidr, via: '192.0.2.1' as Ipv4,
    protocol: 4, onlink: false, metric: 0 }], cache), false, 'DirectRouting off: the underlay is none of weft\'s business');
});

t.test('status: each peer\'s path, and a direct peer judged by its route alone', async (t) => {
  const ok = peerDrift(self, [near, far], desiredState(self, [near, far], paths), paths);
  t.same(ok.peers.map((p) => [p.subnet, p.path, p.inSync]), [['10.5.2.0/24', 'direct', true], ['10.5.3.0/24', 'vxlan', true]]);
  t.equal(ok.inSync, true);
  const stale = peerDrift(self, [near, far], desiredState(self, [near, far]), paths);
  t.equal(stale.peers[0]?.route, 'wrong: via 10.5.2.0', 'still on VXLAN where it should be direct');
  t.match(stale.extra, ['neighbour 10.5.2.0 lladdr 0a:00:00:00:00:02', 'fdb 0a:00:00:00:00:02 dst 192.0.2.12'], 'its VXLAN entries are unwanted');
  const off = peerDrift(self, [near, far], desiredState(self, [near, far], paths));
  t.match(off.peers[0]?.route, /wrong: via 192\.0\.2\.12 dev eth0/, 'DirectRouting turned off: the direct route is wrong');
});
