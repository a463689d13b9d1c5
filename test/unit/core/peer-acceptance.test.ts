import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import type { LeaseAttrs } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../src/core/network-config.js';
import { judgeLease, publicIpProblem, routeCollisions } from '../../../src/core/peer-acceptance.js';
import { peerLease } from '../../helpers/leases.js';

const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan', VNI: 1 } });
if (!parsed.ok) throw new Error('test config');
const config = parsed.config;
const self = { subnet: '10.5.1.0/24' as Cidr, publicIp: '192.0.2.11' as Ipv4 };
const good: LeaseAttrs = { publicIp: '192.0.2.12' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: '0a:00:00:00:00:02' as Mac, nodeName: 'host2' };
const lease = (subnet: string, attrs: Partial<LeaseAttrs> = {}, reservation = false) =>
  ({ subnet: subnet as Cidr, attrs: { ...good, ...attrs }, reservation });

t.test('a plausible peer is accepted; this host\'s own lease is self', async (t) => {
  t.match(judgeLease(lease('10.5.2.0/24'), config, self), { kind: 'peer', peer: { subnet: '10.5.2.0/24' } });
  t.same(judgeLease(lease('10.5.1.0/24'), config, self), { kind: 'self' });
  t.match(judgeLease(lease('10.5.1.0/24'), config, {}), { kind: 'peer' }, 'off a host (weftctl leases) nothing is self');
});

t.test('each refusal has its code and a reason that names the problem', async (t) => {
  const cases: [ReturnType<typeof lease>, string, RegExp][] = [
    [lease('10.5.2.0/25'), 'subnet-length', /10\.5\.2\.0\/25 is a \/25; this network leases \/24 subnets/],
    [lease('10.5.0.0/16'), 'subnet-length', /is a \/16/],
    [lease('10.6.2.0/24'), 'outside-network', /outside the network 10\.5\.0\.0\/16/],
    [lease('10.0.0.0/8'), 'outside-network', /outside the network/],
    [lease('10.5.2.0/24', { publicIp: '127.0.0.1' as Ipv4 }), 'public-ip', /loopback/],
    [lease('10.5.2.0/24', { publicIp: '0.0.0.0' as Ipv4 }), 'public-ip', /0\.0\.0\.0\/8/],
    [lease('10.5.2.0/24', { publicIp: '239.1.1.1' as Ipv4 }), 'public-ip', /multicast/],
    [lease('10.5.2.0/24', { publicIp: '255.255.255.255' as Ipv4 }), 'public-ip', /limited broadcast/],
    [lease('10.5.2.0/24', { publicIp: '240.0.0.1' as Ipv4 }), 'public-ip', /reserved/],
    [lease('10.5.2.0/24', { publicIp: '10.5.9.9' as Ipv4 }), 'public-ip', /inside the overlay network/],
    [lease('10.5.2.0/24', { publicIp: '192.0.2.11' as Ipv4 }), 'public-ip', /this host's own address/],
    [lease('10.5.2.0/24', { backendType: 'host-gw' }), 'backend-type', /"host-gw"; this network uses vxlan/],
    [lease('10.5.2.0/24', { vni: 7 }), 'vni', /VNI 7; this network uses VNI 1/],
    [lease('10.5.2.0/24', { vni: undefined }), 'vni', /VNI \(none\)/],
    [lease('10.5.2.0/24', { vtepMac: undefined }), 'invalid-value', /no VTEP MAC/],
  ];
  for (const [l, code, reason] of cases) {
    const v = judgeLease(l, config, self);
    t.equal(v.kind, 'refused', `${l.subnet} ${JSON.stringify(l.attrs)}`);
    if (v.kind === 'refused') {
      t.equal(v.code, code, `${l.subnet}: ${v.reason}`);
      t.match(v.reason, reason);
    }
  }
});

t.test('a reservation made ahead of its host is pending, not refused', async (t) => {
  const ahead = lease('10.5.7.0/24', { backendType: '', vtepMac: undefined, vni: undefined, nodeName: 'host7' }, true);
  t.match(judgeLease(ahead, config, self), { kind: 'pending', reason: /reservation for host7; its host has not started/ });
  t.match(judgeLease({ ...ahead, reservation: false }, config, self), { kind: 'refused', code: 'backend-type' }, 'a live lease without backend data is refused');
  t.match(judgeLease(lease('10.5.7.0/25', { backendType: '', vtepMac: undefined }, true), config, self), { kind: 'refused', code: 'subnet-length' },
    'a reservation of the wrong size is refused all the same');
});

t.test('publicIpProblem accepts ordinary unicast underlay addresses', async (t) => {
  for (const ip of ['192.0.2.12', '10.0.0.5', '172.16.0.1', '100.64.0.1', '169.254.10.1', '8.8.8.8', '223.255.255.254']) {
    t.equal(publicIpProblem(ip as Ipv4, config, self), undefined, ip);
  }
});

t.test('routeCollisions: a peer whose subnet is the destination of a foreign route', async (t) => {
  const peers = [peerLease(2), peerLease(3), peerLease(4)];
  const collisions = routeCollisions(peers, [
    { dst: '10.5.3.0/24' as Cidr, description: 'dev eth1 proto static' },
    { dst: '10.5.4.0/25' as Cidr, description: 'dev eth1 proto static' },
    { dst: '10.5.0.0/16' as Cidr, description: 'dev eth2 proto kernel' },
  ]);
  t.same([...collisions], [['10.5.3.0/24', 'the host already has a route 10.5.3.0/24 dev eth1 proto static that weft does not own']],
    'only an exact destination would be replaced; more or less specific routes do not collide');
  t.equal(routeCollisions(peers, []).size, 0);
});
