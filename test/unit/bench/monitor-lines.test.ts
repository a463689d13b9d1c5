/**
 * The bench's parsers for `ip -4 -o monitor link address route neigh` and
 * `bridge monitor fdb`. Fixtures are lines captured from iproute2 6.1 in a
 * throwaway namespace (vxlan device weft.1, the entries weftd programs).
 */
import t from 'tap';
import { parseBridgeMonitorLine, parseIpMonitorLine } from '../../../bench/monitor-lines.js';

t.test('routes: weft\'s, deleted, typed, with a protocol name', async (t) => {
  t.match(parseIpMonitorLine('10.1.2.0/24 via 10.1.2.0 dev weft.1 proto 87 onlink '),
    { kind: 'route', gone: false, key: '10.1.2.0/24', dev: 'weft.1', protocol: '87' });
  t.match(parseIpMonitorLine('Deleted 10.1.2.0/24 via 10.1.2.0 dev weft.1 proto weft onlink '),
    { kind: 'route', gone: true, key: '10.1.2.0/24', dev: 'weft.1', protocol: 'weft' });
  t.match(parseIpMonitorLine('local 10.5.3.0 dev weft.1 table local proto kernel scope host src 10.5.3.0 '),
    { kind: 'route', gone: false, key: '10.5.3.0', dev: 'weft.1', protocol: 'kernel' });
  t.match(parseIpMonitorLine('blackhole 198.51.100.1 proto boot '), { kind: 'route', key: '198.51.100.1', dev: undefined });
});

t.test('neighbours: present only with their lladdr', async (t) => {
  t.match(parseIpMonitorLine('10.1.2.0 dev weft.1 lladdr 02:be:00:01:02:01 PERMANENT '),
    { kind: 'neigh', gone: false, key: '10.1.2.0', dev: 'weft.1' });
  // `ip neigh del` of a permanent entry: first FAILED, then Deleted; both mean gone.
  t.match(parseIpMonitorLine('10.1.2.0 dev weft.1 FAILED '), { kind: 'neigh', gone: true, key: '10.1.2.0' });
  t.match(parseIpMonitorLine('Deleted 10.1.2.0 dev weft.1 FAILED '), { kind: 'neigh', gone: true, key: '10.1.2.0' });
});

t.test('links and addresses are told apart from routes', async (t) => {
  t.match(parseIpMonitorLine('4: weft.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 qdisc noqueue state UNKNOWN group default \\    link/ether ba:c2:48:82:e1:34 brd ff:ff:ff:ff:ff:ff'),
    { kind: 'link', gone: false, key: 'weft.1', dev: 'weft.1' });
  t.match(parseIpMonitorLine('Deleted 3: v0@v1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN'), { kind: 'link', gone: true, dev: 'v0' });
  t.match(parseIpMonitorLine('4: weft.1    inet 10.5.3.0/32 scope global weft.1\\       valid_lft forever preferred_lft forever'),
    { kind: 'address', gone: false, dev: 'weft.1' });
});

t.test('blank lines are nothing', async (t) => {
  t.equal(parseIpMonitorLine('  '), undefined);
  t.equal(parseBridgeMonitorLine(''), undefined);
});

t.test('fdb entries are keyed by MAC and destination', async (t) => {
  t.match(parseBridgeMonitorLine('02:be:00:01:02:01 dev weft.1 dst 198.18.1.2 self permanent'),
    { kind: 'fdb', gone: false, key: '02:be:00:01:02:01 198.18.1.2', dev: 'weft.1' });
  t.match(parseBridgeMonitorLine('Deleted 02:be:00:01:02:01 dev weft.1 dst 198.18.1.2 self permanent'),
    { kind: 'fdb', gone: true, key: '02:be:00:01:02:01 198.18.1.2' });
  t.match(parseBridgeMonitorLine('33:33:00:00:00:01 dev eth0 self permanent'), { kind: 'fdb', key: '33:33:00:00:00:01', dev: 'eth0' });
});
