import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { EMPTY_STATE, type KernelState, desiredState } from '../../../src/core/kernel-state.js';
import type { Peer } from '../../../src/core/peer-acceptance.js';
import type { Mac } from '../../../src/core/mac.js';
import { peerDrift } from '../../../src/core/peer-drift.js';
import { peerLease, vxlanLease } from '../../helpers/leases.js';

const self = '10.5.1.0/24' as Cidr;
const leases: Peer[] = [peerLease(1), peerLease(2), peerLease(3)];
const inPlace = desiredState(self, leases);

t.test('every peer in place: in sync, self skipped, sorted by subnet', async (t) => {
  const r = peerDrift(self, [peerLease(10), ...leases], desiredState(self, [peerLease(10), ...leases]));
  t.ok(r.inSync);
  t.same(r.peers.map((p) => p.subnet), ['10.5.2.0/24', '10.5.3.0/24', '10.5.10.0/24'], 'numeric order, 10.5.10 after 10.5.3');
  t.same(r.peers[0], { subnet: '10.5.2.0/24', node: 'host2', publicIp: '192.0.2.12', vtepMac: '0a:00:00:00:00:02', path: 'vxlan',
    route: 'ok', neighbor: 'ok', fdb: 'ok', inSync: true });
  t.same(r.extra, []);
});

t.test('nothing programmed: every entry missing', async (t) => {
  const r = peerDrift(self, leases, EMPTY_STATE);
  t.notOk(r.inSync);
  for (const p of r.peers) t.match(p, { route: 'missing', neighbor: 'missing', fdb: 'missing', inSync: false });
});

t.test('wrong entries say what the kernel has instead', async (t) => {
  const actual: KernelState = {
    routes: inPlace.routes.map((r) => (r.dst === '10.5.2.0/24' ? { ...r, via: '10.5.2.9' as Ipv4 } : r)),
    neighbors: inPlace.neighbors.map((n) => (n.ip === '10.5.3.0' ? { ...n, mac: '0a:00:00:00:00:99' as Mac } : n)),
    fdb: inPlace.fdb.map((f) => (f.mac === '0a:00:00:00:00:02' ? { ...f, dst: '192.0.2.99' as Ipv4 } : f)),
  };
  const r = peerDrift(self, leases, actual);
  t.notOk(r.inSync);
  t.match(r.peers[0], { subnet: '10.5.2.0/24', route: 'wrong: via 10.5.2.9', neighbor: 'ok', fdb: 'wrong: dst 192.0.2.99', inSync: false });
  t.match(r.peers[1], { subnet: '10.5.3.0/24', route: 'ok', neighbor: 'wrong: lladdr 0a:00:00:00:00:99', fdb: 'ok', inSync: false });
});

t.test('one missing route drifts only that peer', async (t) => {
  const r = peerDrift(self, leases, { ...inPlace, routes: inPlace.routes.filter((x) => x.dst !== '10.5.3.0/24') });
  t.same(r.peers.map((p) => [p.subnet, p.route, p.inSync]), [['10.5.2.0/24', 'ok', true], ['10.5.3.0/24', 'missing', false]]);
});

t.test('entries no lease wants are listed as extra and break sync', async (t) => {
  const actual: KernelState = {
    routes: [...inPlace.routes, { dst: '10.5.9.0/24' as Cidr, via: '10.5.9.0' as Ipv4 }],
    neighbors: [...inPlace.neighbors, { ip: '10.5.9.0' as Ipv4, mac: '0a:00:00:00:00:09' as Mac }],
    fdb: [...inPlace.fdb, { mac: '0a:00:00:00:00:09' as Mac, dst: '192.0.2.19' as Ipv4 }],
  };
  const r = peerDrift(self, leases, actual);
  t.ok(r.peers.every((p) => p.inSync));
  t.notOk(r.inSync);
  t.same(r.extra, ['route 10.5.9.0/24 via 10.5.9.0', 'neighbour 10.5.9.0 lladdr 0a:00:00:00:00:09', 'fdb 0a:00:00:00:00:09 dst 192.0.2.19']);
});

t.test('a flannel lease has node null', async (t) => {
  const flannel = vxlanLease('10.5.4.0/24', '192.0.2.14', '0a:00:00:00:00:04');
  const r = peerDrift(self, [flannel], desiredState(self, [flannel]));
  t.same(r.peers.map((p) => [p.subnet, p.node]), [['10.5.4.0/24', null]]);
  t.ok(r.inSync);
});

t.test('a MAC shared by two leases: the loser\'s FDB is wrong and names the other lease', async (t) => {
  const moved = [vxlanLease('10.5.2.0/24', '192.0.2.12', '0a:00:00:00:00:02'), vxlanLease('10.5.9.0/24', '192.0.2.19', '0a:00:00:00:00:02')];
  const r = peerDrift(self, moved, desiredState(self, moved));
  t.match(r.peers[0], { subnet: '10.5.2.0/24', fdb: /^wrong: dst 192\.0\.2\.19 \(MAC shared with 10\.5\.9\.0\/24; one of the two leases is stale\)$/, inSync: false });
  t.match(r.peers[1], { subnet: '10.5.9.0/24', fdb: 'ok', inSync: true });
  t.same(r.extra, [], 'the shared MAC\'s entry is wanted, not extra');
  const none = peerDrift(self, moved, EMPTY_STATE);
  t.match(none.peers[0], { fdb: /^wrong: dst none \(MAC shared/ });
});
