import { readFileSync } from 'node:fs';
import t from 'tap';
import { type KernelChange, describeChange } from '../../../src/core/kernel-change.js';
import {
  parseFdbLine, parseIpMonitorLine, parseLinkLine, parseMonitorStderr, parseNeighborLine, parseRouteLine,
} from '../../../src/core/monitor-lines.js';
import { fixture } from '../../helpers/fixtures.js';

// Captured once from iproute2 6.1 in a scratch namespace (see test/fixtures/iproute2/README.md).
const lines = (name: string): string[] => readFileSync(fixture('iproute2', name), 'utf8').split('\n').filter((l) => l !== '');
const described = (changes: readonly (KernelChange | undefined)[]): string[] => changes.map((c) => (c ? describeChange(c) : '-'));

t.test('ip monitor: every captured line, in order (`-N`: numbers for protocols and route types)', async (t) => {
  t.same(described(lines('monitor-ip.txt').map(parseIpMonitorLine)), [
    'new link 3: eth0 up mtu 1500',
    'new link 4: weft.1 down mtu 1450', // link add: created down
    'new link 4: weft.1 up mtu 1450',
    'new neighbor 10.9.1.0 dev weft.1 lladdr 02:00:00:00:00:01 PERMANENT',
    'new route 10.9.1.0/24 via 10.9.1.0 dev weft.1 proto 87 onlink',
    'new route 10.9.1.0/24 via 10.9.1.1 dev weft.1 proto 87 onlink', // replace: only the new route
    'new route 10.9.3.0/24 via 10.9.3.0 dev weft.1 proto 3 onlink', // unmarked: proto boot, not printed
    'new route 10.9.1.0/24 via 192.0.2.1 dev eth0 proto 3', // replaced onto another device: no delete reported
    'new route blackhole 10.9.1.0/24 proto 3', // `6 10.9.1.0/24`
    'new route 10.9.4.0/24 via 10.9.4.0 dev weft.1 proto 87 metric 100 onlink',
    '-', // table 100
    'new route 10.9.7.7/32 dev weft.1 proto 4',
    'new route 10.9.8.0/24 proto 87', // multipath: no top-level device
    'deleted route 10.9.8.0/24 proto 87',
    'deleted route 10.9.3.0/24 via 10.9.3.0 dev weft.1 proto 3 onlink',
    'new neighbor 10.9.1.0 dev weft.1 lladdr 02:00:00:00:00:02 PERMANENT', // lladdr changed
    'new neighbor 10.9.1.0 dev weft.1 lladdr 02:00:00:00:00:02 REACHABLE',
    'new neighbor 10.9.1.0 dev weft.1 lladdr 02:00:00:00:00:05 PERMANENT',
    'new neighbor 10.9.1.0 dev weft.1 FAILED', // a delete: first FAILED without lladdr ...
    'deleted neighbor 10.9.1.0 dev weft.1 FAILED', // ... then Deleted
    'new neighbor 10.9.2.0 dev weft.1 lladdr 02:00:00:00:00:03 PERMANENT',
    'new route 10.9.2.0/24 via 10.9.2.0 dev weft.1 proto 87 onlink',
    'new link 4: weft.1 up mtu 1400',
    'new link 4: weft.1 down mtu 1400',
    'deleted neighbor 10.9.2.0 dev weft.1 lladdr 02:00:00:00:00:03 PERMANENT', // down flushes neighbours (and, silently, routes)
    'new link 4: weft.1 up mtu 1400',
    'new link 4: weft.9 up mtu 1400', // renamed: same index
    'new link 4: weft.1 up mtu 1400',
    'new link 3: eth0 up mtu 1500',
    'new link 4: weft.1 down mtu 1400',
    'deleted link 4: weft.1 down mtu 1400',
    'new neighbor 192.0.2.8 dev eth0 FAILED',
  ]);
});

t.test('ip monitor without -N (names for protocols and types) reads the same', async (t) => {
  const numeric = lines('monitor-ip.txt').map(parseIpMonitorLine);
  const named = lines('monitor-ip-names.txt').map(parseIpMonitorLine);
  t.equal(named.length, numeric.length);
  t.same(named, numeric);
  t.match(parseRouteLine('10.9.1.0/24 via 10.9.1.0 dev weft.1 proto weft onlink'), { protocol: 87 }, 'rt_protos name for weft');
  t.match(parseRouteLine('10.9.1.0/24 dev weft.1 proto kernel scope link'), { protocol: 2 });
  t.match(parseRouteLine('10.9.1.0/24 dev weft.1 proto frr'), { protocol: 'frr' }, 'an unknown name stays a name');
});

t.test('the typed fields of each kind', async (t) => {
  const ip = lines('monitor-ip.txt');
  const at = (i: number): KernelChange | undefined => parseIpMonitorLine(ip[i] ?? '');
  t.same(at(4), { kind: 'route', deleted: false, device: 'weft.1', type: 'unicast', dst: '10.9.1.0/24', via: '10.9.1.0',
    protocol: 87, onlink: true, metric: 0 });
  t.same(at(14), { kind: 'route', deleted: true, device: 'weft.1', type: 'unicast', dst: '10.9.3.0/24', via: '10.9.3.0',
    protocol: 3, onlink: true, metric: 0 });
  t.same(at(8), { kind: 'route', deleted: false, device: undefined, type: 'blackhole', dst: '10.9.1.0/24', via: undefined,
    protocol: 3, onlink: false, metric: 0 });
  t.same(at(3), { kind: 'neighbor', deleted: false, device: 'weft.1', ip: '10.9.1.0', mac: '02:00:00:00:00:01',
    state: ['PERMANENT'], permanent: true });
  t.same(at(19), { kind: 'neighbor', deleted: true, device: 'weft.1', ip: '10.9.1.0', mac: undefined, state: ['FAILED'],
    permanent: false });
  t.same(at(22), { kind: 'link', deleted: false, device: 'weft.1', index: 4, up: true, mtu: 1400, mac: '02:aa:00:00:00:01' });
  t.same(at(30), { kind: 'link', deleted: true, device: 'weft.1', index: 4, up: false, mtu: 1400, mac: '02:aa:00:00:00:01' });
  t.match(at(0), { device: 'eth0', index: 3 }, 'the veth peer suffix (@eth1) is not part of the name');
});

t.test('bridge monitor fdb: unicast entries with their flags, not the all-zero default remote', async (t) => {
  const fdb = lines('monitor-bridge.txt').map(parseFdbLine);
  t.same(described(fdb), [
    'new fdb 02:00:00:00:00:01 dev weft.1 dst 192.0.2.9 self permanent',
    'new fdb 02:00:00:00:00:01 dev weft.1 dst 192.0.2.10 self permanent', // replace: the new remote only
    '-',
    'new fdb 02:00:00:00:00:08 dev weft.1 dst 192.0.2.9 self permanent',
    'new fdb 02:00:00:00:00:09 dev eth0 self permanent', // another device: the parser keeps it
    'deleted fdb 02:00:00:00:00:01 dev weft.1 dst 192.0.2.10 self permanent',
    'deleted fdb 02:00:00:00:00:08 dev weft.1 dst 192.0.2.9 self permanent', // link deleted
    '-',
  ]);
  t.same(fdb[0], { kind: 'fdb', deleted: false, device: 'weft.1', mac: '02:00:00:00:00:01', dst: '192.0.2.9', self: true, permanent: true });
  t.same(parseFdbLine('02:00:00:00:00:07 dev veth1 master cni0 static'),
    { kind: 'fdb', deleted: false, device: 'veth1', mac: '02:00:00:00:00:07', dst: undefined, self: false, permanent: false });
  t.equal(parseFdbLine('33:33:00:00:00:01 dev weft.1 self permanent'), undefined, 'multicast');
});

t.test('lines that are not usable changes', async (t) => {
  for (const line of [
    '', 'garbage', '[ROUTE]', '[NEIGH]', '[LINK]', '[ADDR]2: eth0    inet 10.0.0.1/24 scope global eth0',
    '10.9.1.0/24 via 10.9.1.0 dev weft.1 proto 87 onlink', // unlabelled: ambiguous, the monitor always asks for labels
    '[ROUTE]fe80::/64 dev weft.1 proto kernel metric 256 pref medium',
    '[ROUTE]local 10.9.0.0 dev weft.1 table local proto kernel scope host src 10.9.0.0',
    '[ROUTE]2 10.9.0.0 dev weft.1 table 255 proto 2 scope 254 src 10.9.0.0',
    '[ROUTE]10.9.1.0/33 dev weft.1', '[ROUTE]10.9.1.1/24 dev weft.1',
    '[NEIGH]fe80::1 dev weft.1 lladdr 02:00:00:00:00:01 router STALE',
    '[NEIGH]miss 10.9.1.0 dev weft.1 INCOMPLETE', '[NEIGH]10.9.1.0 lladdr 02:00:00:00:00:01 PERMANENT',
    '[LINK]weft.1: <UP> mtu 1450', '[LINK]4: weft.1: mtu 1450',
  ]) t.equal(parseIpMonitorLine(line), undefined, JSON.stringify(line));
  t.equal(parseFdbLine('02:00:00:00:00:01 dst 192.0.2.9 self permanent'), undefined, 'no device');
  t.equal(parseFdbLine('Deleted'), undefined);
  t.equal(parseNeighborLine('Deleted'), undefined);
  t.equal(parseLinkLine(''), undefined);
});

t.test('what the brief and iproute2 print in other shapes', async (t) => {
  t.match(parseRouteLine('default via 192.0.2.1 dev eth0'), { dst: '0.0.0.0/0', via: '192.0.2.1', device: 'eth0' });
  t.match(parseRouteLine('10.9.1.0/24 via 10.9.1.0 dev weft.1 table main proto 87 onlink'), { dst: '10.9.1.0/24' }, 'table main is the main table');
  t.match(parseRouteLine('10.9.1.0/24 dev onlink'), { device: 'onlink', onlink: false }, 'a value is not read as a keyword');
  t.match(parseNeighborLine('10.9.1.0 dev weft.1 lladdr 02:00:00:00:00:01 NOARP PERMANENT'), { state: ['NOARP', 'PERMANENT'], permanent: true });
  t.match(parseNeighborLine('10.9.1.0 dev weft.1 lladdr 0a:00 PERMANENT'), { mac: undefined, permanent: true }, 'a malformed lladdr');
  t.match(parseLinkLine('Deleted 7: weft.7: <BROADCAST,MULTICAST> mtu 1450 qdisc noop state DOWN'), { deleted: true, index: 7, mac: undefined });
});

t.test('stderr: the overflow line means lost notifications; other lines are not changes', async (t) => {
  const [overflow] = lines('monitor-overflow-stderr.txt');
  t.same(parseMonitorStderr(overflow ?? ''), { kind: 'lost', reason: 'notifications dropped: netlink receive error No buffer space available (105)' });
  t.equal(parseMonitorStderr('Cannot open network namespace "x": No such file or directory'), undefined);
  t.equal(describeChange({ kind: 'lost', reason: 'x' }), 'lost: x');
});
