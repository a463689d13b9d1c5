import t from 'tap';
import {
  type Identity, type ListedLease, decideAllocation, fitsConfig, freeSubnets, isOwnLease,
} from '../../../src/core/allocate.js';
import { type Cidr, type Ipv4, intToIpv4, overlaps } from '../../../src/core/cidr.js';
import type { Mac } from '../../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig, subnetCapacity } from '../../../src/core/network-config.js';

function config(fields: Record<string, unknown>): NetworkConfig {
  const r = parseNetworkConfig(fields);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
}

const net16 = config({ Network: '10.5.0.0/16' });
/** 10.9.0.0/26 in /28s: SubnetMin .16, SubnetMax .48, three subnets. */
const tiny = config({ Network: '10.9.0.0/26' });
const self: Identity = { nodeName: 'n1', publicIp: '192.0.2.1' as Ipv4 };

function lease(subnet: string, owner: { nodeName?: string; publicIp?: string; reservation?: boolean } = {}): ListedLease {
  return {
    subnet: subnet as Cidr,
    reservation: owner.reservation ?? false,
    attrs: {
      publicIp: (owner.publicIp ?? '198.51.100.9') as Ipv4, backendType: 'vxlan', vni: 1,
      vtepMac: '02:00:00:00:00:09' as Mac, nodeName: owner.nodeName,
    },
  };
}
const never = (): number => { throw new Error('random must not be used'); };
const half = (): number => 0.5;

t.test('isOwnLease: NodeName when present, else PublicIP', async (t) => {
  const table: [ListedLease, boolean][] = [
    [lease('10.5.1.0/24', { nodeName: 'n1' }), true],
    [lease('10.5.1.0/24', { nodeName: 'n1', publicIp: '203.0.113.1' }), true],
    [lease('10.5.1.0/24', { nodeName: 'n2', publicIp: '192.0.2.1' }), false],
    [lease('10.5.1.0/24', { publicIp: '192.0.2.1' }), true],
    [lease('10.5.1.0/24', { publicIp: '192.0.2.2' }), false],
  ];
  for (const [l, expected] of table) t.equal(isOwnLease(l, self), expected, JSON.stringify(l.attrs));
});

t.test('fitsConfig: configured length and within [SubnetMin, SubnetMax]', async (t) => {
  const table: [string, boolean][] = [
    ['10.5.1.0/24', true], ['10.5.255.0/24', true], ['10.5.0.0/24', false], ['10.5.4.0/22', false], ['10.5.1.128/25', false],
    ['10.6.1.0/24', false],
  ];
  for (const [subnet, expected] of table) t.equal(fitsConfig(subnet as Cidr, net16), expected, subnet);
});

t.test('reuses its own lease', async (t) => {
  const byName = lease('10.5.7.0/24', { nodeName: 'n1', publicIp: '203.0.113.1' });
  t.same(decideAllocation(net16, [lease('10.5.6.0/24'), byName], self, { subnet: '10.5.9.0/24' as Cidr }, never),
    { kind: 'reuse', lease: byName }, 'by NodeName, even after a PublicIP change, before the previous subnet');
  const flannels = lease('10.5.8.0/24', { publicIp: '192.0.2.1' });
  t.same(decideAllocation(net16, [flannels], self, undefined, never), { kind: 'reuse', lease: flannels },
    'a flannel lease (no NodeName) by PublicIP');
  const reserved = lease('10.5.3.0/24', { nodeName: 'n1', reservation: true });
  t.same(decideAllocation(net16, [reserved], self, undefined, never), { kind: 'reuse', lease: reserved }, 'a reservation naming us');
});

t.test('a lease with our PublicIP but another NodeName is not ours', async (t) => {
  const other = lease('10.9.0.16/28', { nodeName: 'n2', publicIp: '192.0.2.1' });
  const d = decideAllocation(tiny, [other], self, { subnet: '10.9.0.16/28' as Cidr }, () => 0);
  t.equal(d.kind, 'claim');
  t.ok(d.kind === 'claim' && !overlaps(d.subnet, other.subnet), 'neither reused nor claimed as previous');
});

t.test('own lease that no longer fits the config', async (t) => {
  for (const subnet of ['10.5.0.0/24', '10.5.4.0/22', '10.6.1.0/24']) {
    const stale = lease(subnet, { nodeName: 'n1' });
    t.same(decideAllocation(net16, [stale], self, undefined, never), { kind: 'remove-incompatible', lease: stale }, subnet);
  }
  const reserved = lease('10.5.0.0/24', { nodeName: 'n1', reservation: true });
  const d = decideAllocation(net16, [reserved], self, undefined, half);
  t.equal(d.kind, 'claim', 'an unfitting reservation is kept, never removed');
});

t.test('previous subnet is used only when free and fitting', async (t) => {
  const previous = '10.5.9.0/24' as Cidr;
  t.same(decideAllocation(net16, [lease('10.5.8.0/24')], self, { subnet: previous }, never), { kind: 'claim', subnet: previous, subnetV6: undefined, source: 'previous' });
  const notPrevious: [string, ListedLease[], Cidr[], string][] = [
    ['taken', [lease('10.5.9.0/24')], [], previous],
    ['taken by a wider lease', [lease('10.5.8.0/22')], [], previous],
    ['reserved for another host', [lease('10.5.9.0/24', { nodeName: 'n2', reservation: true })], [], previous],
    ['occupied by an unreadable key', [], [previous], previous],
    ['outside SubnetMin..SubnetMax', [], [], '10.5.0.0/24'],
    ['another length', [], [], '10.5.9.0/25'],
    ['outside the network', [], [], '10.6.9.0/24'],
  ];
  for (const [why, leases, occupied, prev] of notPrevious) {
    const d = decideAllocation(net16, leases, self, { subnet: prev as Cidr }, half, occupied.map((subnet) => ({ subnet })));
    t.equal(d.kind === 'claim' && d.source, 'random', why);
    t.ok(d.kind === 'claim' && fitsConfig(d.subnet, net16), `${why}: the random pick fits`);
    t.ok(d.kind === 'claim' && [...leases.map((l) => l.subnet), ...occupied].every((s) => !overlaps(s, d.subnet)), `${why}: and is free`);
  }
});

t.test('the random pick is drawn from the free subnets only', async (t) => {
  const taken = [lease('10.9.0.16/28'), lease('10.9.0.48/28')];
  for (const r of [0, 0.3, 0.5, 0.999999, 1]) {
    t.same(decideAllocation(tiny, taken, self, undefined, () => r), { kind: "claim", subnet: "10.9.0.32/28", subnetV6: undefined, source: "random" }, `random ${r}`);
  }
  const leases = [lease('10.5.1.0/24'), lease('10.5.4.0/22'), lease('10.5.200.0/21'), lease('10.5.77.128/25')];
  const occupied = [{ subnet: '10.5.100.0/24' as Cidr }];
  const free = new Set(freeSubnets(net16, [...leases, ...occupied.map((s) => lease(s.subnet))]).map((s) => `${intToIpv4(s)}/24`));
  const picked = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const d = decideAllocation(net16, leases, self, undefined, () => i / 5000, occupied);
    if (d.kind === 'claim') picked.add(d.subnet);
  }
  t.same([...picked].sort(), [...free].sort(), 'a sweep of the random source reaches every free subnet and nothing else');
  t.notOk(picked.has('10.5.100.0/24'), 'occupied subnet never picked');
  t.notOk(picked.has('10.5.77.0/24'), 'a /24 holding a leased /25 is never picked');
});

t.test('exhaustion reports the capacity', async (t) => {
  const all = [lease('10.9.0.16/28'), lease('10.9.0.32/28', { reservation: true })];
  t.same(decideAllocation(tiny, all, self, undefined, never, [{ subnet: '10.9.0.48/28' as Cidr }]),
    { kind: 'exhausted', family: 'IPv4', capacity: subnetCapacity(tiny), used: subnetCapacity(tiny) });
  const big = config({ Network: '10.5.0.0/16', SubnetMin: '10.5.10.0', SubnetMax: '10.5.13.0' });
  const d = decideAllocation(big, [lease('10.5.8.0/22'), lease('10.5.12.0/23')], self, undefined, never);
  t.same(d, { kind: 'exhausted', family: 'IPv4', capacity: 4, used: 4 }, 'wider leases cover the whole range');
});

t.test('freeSubnets handles leases of other prefix lengths', async (t) => {
  const narrow = config({ Network: '10.5.0.0/16', SubnetMin: '10.5.0.0', SubnetMax: '10.5.15.0' });
  const table: [string[], string[]][] = [
    [[], Array.from({ length: 16 }, (_, i) => `10.5.${i}.0`)],
    [['10.5.4.0/22'], ['10.5.0.0', '10.5.1.0', '10.5.2.0', '10.5.3.0', '10.5.8.0', '10.5.9.0', '10.5.10.0', '10.5.11.0',
      '10.5.12.0', '10.5.13.0', '10.5.14.0', '10.5.15.0']],
    [['10.5.0.0/20'], []],
    [['10.5.3.128/25', '10.5.9.4/30', '10.5.0.0/24'], ['10.5.1.0', '10.5.2.0', '10.5.4.0', '10.5.5.0', '10.5.6.0', '10.5.7.0',
      '10.5.8.0', '10.5.10.0', '10.5.11.0', '10.5.12.0', '10.5.13.0', '10.5.14.0', '10.5.15.0']],
    [['10.4.0.0/16', '10.5.16.0/20'], Array.from({ length: 16 }, (_, i) => `10.5.${i}.0`)],
  ];
  // A key holding the whole network is never a real lease: it takes nothing (else one stray key exhausts the network).
  t.same(freeSubnets(narrow, [lease('10.5.0.0/16'), lease('10.0.0.0/8')]).length, 16, 'a key over the whole network takes nothing');
  for (const [taken, expected] of table) {
    const free = freeSubnets(narrow, taken.map((s) => lease(s))).map(intToIpv4);
    t.same(free, expected, taken.join(', ') || 'nothing taken');
    for (const s of free) t.ok(taken.every((x) => !overlaps(x as Cidr, `${s}/24` as Cidr)), `${s} overlaps nothing taken`);
  }
});
