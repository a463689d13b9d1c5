import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import {
  EMPTY_STATE, type KernelOp, type KernelState, describeOp, desiredState, isSatisfied, planKernel, summarizeOps,
} from '../../../src/core/kernel-state.js';
import type { Peer } from '../../../src/core/peer-acceptance.js';
import { peerLease, vxlanLease } from '../../helpers/leases.js';

const self = '10.5.1.0/24' as Cidr;
const short = (ops: readonly KernelOp[]): string[] => ops.map(describeOp);

t.test('desiredState: one neighbour, FDB entry and route per peer, not for itself', async (t) => {
  const leases: Peer[] = [peerLease(1), peerLease(2)];
  t.same(desiredState(self, leases), {
    routes: [{ dst: '10.5.2.0/24', via: '10.5.2.0' }],
    neighbors: [{ ip: '10.5.2.0', mac: '0a:00:00:00:00:02' }],
    fdb: [{ mac: '0a:00:00:00:00:02', dst: '192.0.2.12' }],
  });
  t.same(desiredState(self, []), EMPTY_STATE);
});

t.test('desiredState: a MAC shared by two leases keeps one FDB remote, the later lease', async (t) => {
  const moved = [vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:02'), vxlanLease('10.5.9.0/24', '192.0.2.19', '0a:00:00:00:00:02')];
  const state = desiredState(self, moved);
  t.same(state.fdb, [{ mac: '0a:00:00:00:00:02', dst: '192.0.2.19' }]);
  t.equal(state.routes.length, 2);
  t.equal(state.neighbors.length, 2);
});

t.test('planKernel: empty kernel gets FDB, then neighbours, then routes', async (t) => {
  const ops = planKernel(desiredState(self, [peerLease(2), peerLease(3)]), EMPTY_STATE);
  t.same(short(ops), [
    'replace fdb 0a:00:00:00:00:02 dst 192.0.2.12', 'replace fdb 0a:00:00:00:00:03 dst 192.0.2.13',
    'replace neighbor 10.5.2.0 lladdr 0a:00:00:00:00:02', 'replace neighbor 10.5.3.0 lladdr 0a:00:00:00:00:03',
    'add route 10.5.2.0/24 via 10.5.2.0', 'add route 10.5.3.0/24 via 10.5.3.0',
  ]);
  t.same(summarizeOps(ops), { replace_fdb: 2, replace_neighbor: 2, add_route: 2 });
});

t.test('planKernel: nothing to do when the kernel already matches', async (t) => {
  const desired = desiredState(self, [peerLease(2), peerLease(3)]);
  const reordered: KernelState = { routes: [...desired.routes].reverse(), neighbors: [...desired.neighbors].reverse(), fdb: [...desired.fdb].reverse() };
  t.same(planKernel(desired, reordered), []);
});

t.test('planKernel: a departed peer goes route, neighbour, FDB', async (t) => {
  const actual = desiredState(self, [peerLease(2), peerLease(3)]);
  t.same(short(planKernel(desiredState(self, [peerLease(2)]), actual)), [
    'delete route 10.5.3.0/24 via 10.5.3.0',
    'delete neighbor 10.5.3.0 lladdr 0a:00:00:00:00:03',
    'delete fdb 0a:00:00:00:00:03 dst 192.0.2.13',
  ]);
});

t.test('planKernel: a new MAC gets its FDB entry and neighbour before the old FDB entry goes', async (t) => {
  const actual = desiredState(self, [peerLease(2)]);
  const desired = desiredState(self, [vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:22')]);
  t.same(short(planKernel(desired, actual)), [
    'replace fdb 0a:00:00:00:00:22 dst 192.0.2.12',
    'replace neighbor 10.5.2.0 lladdr 0a:00:00:00:00:22',
    'delete fdb 0a:00:00:00:00:02 dst 192.0.2.12',
  ]);
});

t.test('planKernel: a new public IP with the same MAC only replaces the FDB entry', async (t) => {
  const actual = desiredState(self, [peerLease(2)]);
  const desired = desiredState(self, [vxlanLease('10.5.2.0/24', '192.0.2.99', '0a:00:00:00:00:02')]);
  t.same(short(planKernel(desired, actual)), ['replace fdb 0a:00:00:00:00:02 dst 192.0.2.99']);
});

t.test('planKernel: entries no lease wants are removed, wrong ones replaced', async (t) => {
  const desired = desiredState(self, [peerLease(2)]);
  const stray = desiredState(self, [vxlanLease('10.9.0.0/16', '192.0.2.99', '0a:00:00:00:00:99')]);
  const actual: KernelState = {
    routes: [{ dst: '10.5.2.0/24' as Cidr, via: '10.5.2.9' as Ipv4 }, ...stray.routes],
    neighbors: [...desired.neighbors, ...stray.neighbors],
    fdb: stray.fdb,
  };
  t.same(short(planKernel(desired, actual)), [
    'replace fdb 0a:00:00:00:00:02 dst 192.0.2.12',
    'replace route 10.5.2.0/24 via 10.5.2.0',
    'delete route 10.9.0.0/16 via 10.9.0.0',
    'delete neighbor 10.9.0.0 lladdr 0a:00:00:00:00:99',
    'delete fdb 0a:00:00:00:00:99 dst 192.0.2.99',
  ]);
});

t.test('isSatisfied: replace needs the entry, delete needs it gone', async (t) => {
  const state = desiredState(self, [peerLease(2)]);
  const all = planKernel(desiredState(self, [peerLease(2), peerLease(3)]), EMPTY_STATE);
  const [fdb2, fdb3, neigh2, neigh3, route2, route3] = all;
  t.ok(fdb2 && isSatisfied(fdb2, state));
  t.notOk(fdb3 && isSatisfied(fdb3, state));
  t.ok(neigh2 && isSatisfied(neigh2, state));
  t.notOk(neigh3 && isSatisfied(neigh3, state));
  t.ok(route2 && isSatisfied(route2, state));
  t.notOk(route3 && isSatisfied(route3, state));
  for (const op of planKernel(EMPTY_STATE, state)) t.notOk(isSatisfied(op, state), describeOp(op));
  for (const op of planKernel(EMPTY_STATE, state)) t.ok(isSatisfied(op, EMPTY_STATE), describeOp(op));
  const otherMac = planKernel(desiredState(self, [vxlanLease('10.5.2.0/24', '192.0.2.99', '0a:00:00:00:00:05')]), EMPTY_STATE);
  for (const op of otherMac) {
    // Same subnet, so the route is already right; the FDB entry and neighbour are not.
    t.equal(isSatisfied(op, state), op.kind === 'route', describeOp(op));
  }
});
