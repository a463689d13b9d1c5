import { readFileSync } from 'node:fs';
import t from 'tap';
import { type KernelChange, describeChange } from '../../../src/core/kernel-change.js';
import { parseFdbLine, parseFdbLine6, parseIpMonitorLine, parseIpMonitorLine6 } from '../../../src/core/monitor-lines.js';
import { fixture } from '../../helpers/fixtures.js';

// Captured from iproute2 6.1 in a scratch namespace (see test/fixtures/iproute2/README.md, IPv6 section).
const lines = (name: string): string[] => readFileSync(fixture('iproute2', name), 'utf8').split('\n').filter((l) => l !== '');
const described = (changes: readonly (KernelChange | undefined)[]): string[] => changes.map((c) => (c ? describeChange(c) : '-'));

t.test('ip -6 monitor: every captured line, in order', async (t) => {
  t.same(described(lines('monitor-ip6.txt').map((l) => parseIpMonitorLine6(l))), [
    'new link 2: eth0 up mtu 1500',
    'new link 5: weft-v6.1 down mtu 1430', // created at 1430 = 1500 − 70
    'new link 5: weft-v6.1 up mtu 1430',
    '-', // ff00::/8 multicast, table local
    'new route fe80::/64 dev weft-v6.1 proto 2 metric 256',
    'new route fd00:10:0:1::/128 dev weft-v6.1 proto 2 metric 256', // the kernel's main-table route for the device's /128
    '-', // its local-table twin
    'new route fd00:10:0:7::/128 dev weft-v6.1 proto 2 metric 256',
    '-',
    'new neighbor fd00:10:0:2:: dev weft-v6.1 lladdr 02:aa:bb:cc:dd:02 PERMANENT',
    'new route fd00:10:0:2::/64 via fd00:10:0:2:: dev weft-v6.1 proto 87 metric 1024 onlink', // IPv6 routes carry metric 1024
    'new route fd00:10:0:2::/64 via fd00:10:0:2::1 dev weft-v6.1 proto 87 metric 1024 onlink',
    'new neighbor fd00:10:0:3:: dev weft-v6.1 lladdr 02:aa:bb:cc:dd:03 PERMANENT',
    'new route fd00:10:0:3::/64 via fd00:10:0:3:: dev weft-v6.1 proto 87 metric 1024 onlink',
    'new route fd00:10:0:4::/64 via fd00:10:0:4:: dev weft-v6.1 proto 3 metric 1024 onlink', // unmarked
    'new route fd00:10:0:5::/64 dev eth0 proto 4 metric 5',
    '-', // table 100
    'new neighbor fd00:10:0:8:: dev weft-v6.1 lladdr 02:aa:bb:cc:dd:08 REACHABLE',
    'new route ::/0 via fd00:99::1 dev eth0 proto 3 metric 1024', // `default`
    'deleted route fd00:10:0:2::/64 via fd00:10:0:2::1 dev weft-v6.1 proto 87 metric 1024 onlink',
    'new neighbor fd00:10:0:2:: dev weft-v6.1 FAILED', // a delete: FAILED first, as for IPv4
    'deleted neighbor fd00:10:0:2:: dev weft-v6.1 FAILED',
    'new link 2: eth0 up mtu 1500',
    'new link 5: weft-v6.1 down mtu 1430',
    // Unlike IPv4, deleting the device reports its IPv6 routes gone.
    'deleted route fd00:10:0:1::/128 dev weft-v6.1 proto 2 metric 256',
    'deleted route fd00:10:0:3::/64 via fd00:10:0:3:: dev weft-v6.1 proto 87 metric 1024 onlink',
    'deleted route fd00:10:0:4::/64 via fd00:10:0:4:: dev weft-v6.1 proto 3 metric 1024 onlink',
    'deleted route fd00:10:0:7::/128 dev weft-v6.1 proto 2 metric 256',
    'deleted route fe80::/64 dev weft-v6.1 proto 2 metric 256',
    '-', '-', '-',
    'deleted neighbor ff02::1:ff33:4455 dev weft-v6.1 NOARP', // a multicast lladdr is no MAC: none is reported
    'deleted neighbor fd00:10:0:8:: dev weft-v6.1 lladdr 02:aa:bb:cc:dd:08 REACHABLE',
    'deleted neighbor fd00:10:0:3:: dev weft-v6.1 lladdr 02:aa:bb:cc:dd:03 PERMANENT',
    'deleted neighbor ff02::16 dev weft-v6.1 NOARP',
    'deleted link 5: weft-v6.1 down mtu 1430',
    'deleted route ::/0 via fd00:99::1 dev eth0 proto 3 metric 1024',
    'deleted route fd00:10:0:5::/64 dev eth0 proto 4 metric 5',
    '-',
    'new neighbor fd00:99::13 dev eth0 FAILED',
  ]);
});

t.test('each family reads only its own addresses', async (t) => {
  t.equal(parseIpMonitorLine('[NEIGH]fd00:10:0:2:: dev weft-v6.1 lladdr 02:aa:bb:cc:dd:02 PERMANENT'), undefined);
  t.equal(parseIpMonitorLine('[ROUTE]fd00:10:0:2::/64 via fd00:10:0:2:: dev weft-v6.1 proto 87 metric 1024 onlink'), undefined);
  t.equal(parseIpMonitorLine6('[NEIGH]10.9.1.0 dev weft.1 lladdr 02:00:00:00:00:01 PERMANENT'), undefined);
  t.equal(parseIpMonitorLine6('[ROUTE]10.9.1.0/24 via 10.9.1.0 dev weft.1 proto 87 onlink'), undefined);
  t.match(parseIpMonitorLine6('[NEIGH]FD00:10:0:0002:: dev weft-v6.1 lladdr 02:aa:bb:cc:dd:02 PERMANENT'), { ip: 'fd00:10:0:2::' },
    'canonical form whatever the spelling');
  t.match(parseIpMonitorLine6('[ROUTE]fd00:10:0:2::/64 via 10.9.1.0 dev weft-v6.1 proto 87 onlink'), { via: undefined },
    'a gateway of the other family is none');
});

t.test('bridge monitor fdb with IPv6 remotes', async (t) => {
  t.same(described(lines('monitor-bridge6.txt').map((l) => parseFdbLine6(l))), [
    'new fdb 02:aa:bb:cc:dd:02 dev weft-v6.1 dst fd00:99::12 self permanent',
    '-', // the all-zero default remote
    'deleted fdb 02:aa:bb:cc:dd:02 dev weft-v6.1 dst fd00:99::12 self permanent',
    '-',
  ]);
  t.match(parseFdbLine('02:aa:bb:cc:dd:02 dev weft-v6.1 dst fd00:99::12 self permanent'), { dst: undefined }, 'the IPv4 reader sees no remote');
  t.match(parseFdbLine6('02:aa:bb:cc:dd:02 dev weft.1 dst 192.0.2.12 self permanent'), { dst: undefined });
});
