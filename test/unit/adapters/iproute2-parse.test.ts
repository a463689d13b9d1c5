import { readFileSync } from 'node:fs';
import t from 'tap';
import * as parse from '../../../src/adapters/iproute2/parse.js';
import { parseBatchErrors } from '../../../src/adapters/iproute2/batch.js';
import { selectExternalInterface } from '../../../src/core/external-interface.js';
import { fixture } from '../../helpers/fixtures.js';

// Captured once from iproute2 6.1 in a scratch namespace (see test/fixtures/iproute2/README.md).
const json = (name: string): unknown => JSON.parse(readFileSync(fixture('iproute2', name), 'utf8'));

t.test('neighbours: only PERMANENT entries with a MAC', async (t) => {
  t.same(parse.parseNeighbors(json('neigh-show.json')), [
    { ip: '10.5.3.0', mac: '0a:00:00:00:00:03' },
    { ip: '10.5.2.0', mac: '0a:00:00:00:00:02' },
    { ip: '10.5.4.0', mac: '0a:00:00:00:00:04' },
  ]);
});

t.test('fdb: self permanent unicast entries, not the all-zero default remotes', async (t) => {
  t.same(parse.parseFdb(json('fdb-show.json')), [
    { mac: '0a:00:00:00:00:05', dst: '192.0.2.15' },
    { mac: '0a:00:00:00:00:04', dst: '192.0.2.14' },
    { mac: '0a:00:00:00:00:02', dst: '192.0.2.77' },
  ]);
});

t.test('routes on the device (a `dev` listing): unmarked routes of the old shape are weft\'s, to take over; the rest is foreign', async (t) => {
  const read = parse.parseRoutes(json('route-show.json'), 'weft.1');
  t.same(read.ours, [
    { dst: '10.5.2.0/24', via: '10.5.2.0', legacy: true },
    { dst: '10.5.3.0/24', via: '10.5.3.0', legacy: true },
    { dst: '10.5.4.0/24', via: '10.5.4.0', legacy: true },
    { dst: '10.5.8.0/24', via: '10.5.8.0', legacy: true },
    { dst: '10.5.52.0/24', via: '10.5.52.0', legacy: true },
  ]);
  t.same(read.foreign.map((r) => `${r.dst} ${r.description}`), [
    '10.5.7.0/24 proto boot',
    '10.5.60.5/32 via 10.5.60.5 proto boot metric 7',
    '10.5.61.0/24 via 10.5.61.0 proto static',
    '172.16.0.0/24 proto kernel',
  ]);
  t.same(parse.parseRoutes([{ dst: '10.5.9.9', gateway: '10.5.9.9', flags: ['onlink'] }, { dst: 'default', gateway: '1.2.3.4', flags: ['onlink'] }], 'weft.1').ours,
    [{ dst: '10.5.9.9/32', via: '10.5.9.9', legacy: true }]);
});

t.test('routes in the network (a `root` listing, numeric protocols): marked on our device are ours, everything else foreign', async (t) => {
  const read = parse.parseRoutes(json('route-show-root.json'), 'weft.1');
  t.same(read.ours, [
    { dst: '10.5.3.0/24', via: '10.5.3.0', legacy: true },
    { dst: '10.5.4.0/24', via: '10.5.4.0' },
    { dst: '10.5.7.0/24', via: '10.5.7.0' },
  ]);
  t.same(read.foreign.map((r) => `${r.dst} ${r.description}`), [
    '10.5.9.0/24 via 10.5.9.0 dev weft.2 proto weft',
    '10.5.5.0/24 dev d1 proto static metric 100',
    '10.5.1.0/24 dev cni0 proto kernel',
    '10.5.6.0/24 type blackhole proto boot',
  ]);
  t.same(parse.parseRoutes([{ dst: '10.5.8.0/24', gateway: '10.5.8.0', dev: 'weft.1', protocol: 'weft', flags: ['onlink'] }], 'weft.1').ours, [],
    'a protocol name is never trusted (routes are read with -N): another name for 87 could be anything');
});

t.test('link: vxlan details, addresses and state', async (t) => {
  t.same(parse.parseLinkInfo(json('link-vxlan.json')), {
    name: 'weft.1', kind: 'vxlan', vni: 1, port: 8472, local: '192.0.2.11', parent: 'eth0', learning: false, gbp: false,
    mac: '0a:11:22:33:44:55', mtu: 1450, up: true, addresses: ['10.5.1.0/32', '10.5.200.0/32', '172.16.0.1/24'],
  });
  t.match(parse.parseLinkInfo(json('link-vxlan-gbp-down.json')), { name: 'gb.2', vni: 2, port: 4789, gbp: true, up: false, addresses: [] });
  t.match(parse.parseLinkInfo(json('link-veth.json')), { name: 'vv', kind: 'veth', vni: undefined, local: undefined });
  t.equal(parse.parseLinkInfo([]), undefined);
  t.equal(parse.parseLinkInfo('garbage'), undefined);
});

t.test('interfaces and default route → external interface', async (t) => {
  const interfaces = parse.parseInterfaces(json('addr-show.json'));
  t.same(interfaces.map((i) => i.name), ['lo', 'eth1', 'eth0', 'weft.1', 'gb.2', 'vw', 'vv']);
  const dev = parse.parseDefaultRouteDevice(json('route-default.json'));
  t.equal(dev, 'eth0');
  t.same(selectExternalInterface(interfaces, dev, {}), { ok: true, ext: { name: 'eth0', index: 3, address: '192.0.2.11', addresses: ['192.0.2.11'], mtu: 1500 } });
  t.match(selectExternalInterface(interfaces, dev, { iface: '10.5.200.0' }),
    { ok: true, ext: { name: 'weft.1', address: '10.5.200.0', addresses: ['10.5.1.0', '10.5.200.0', '172.16.0.1'] } });
  t.match(selectExternalInterface(interfaces, undefined, { publicIp: '192.0.2.11' as never }), { ok: true, ext: { name: 'eth0' } });
  t.match(selectExternalInterface(interfaces, dev, { iface: 'eth1' }), { ok: false, reason: /eth1 \(--iface\) has no IPv4 address/ });
  t.match(selectExternalInterface(interfaces, dev, { iface: 'eth9' }), { ok: false, reason: /no interface named eth9/ });
  t.match(selectExternalInterface(interfaces, dev, { iface: '192.0.2.99' }), { ok: false, reason: /holds the --iface address 192.0.2.99/ });
  t.match(selectExternalInterface(interfaces, dev, { publicIp: '198.51.100.7' as never }), { ok: false, reason: /--public-ip address 198.51.100.7/ });
  t.match(selectExternalInterface(interfaces, undefined, {}), { ok: false, reason: /no IPv4 default route/ });
  t.match(selectExternalInterface(interfaces, 'lo', {}), { ok: false, reason: /lo has no IPv4 address/ });
  t.equal(parse.parseDefaultRouteDevice([]), undefined);
});

t.test('captured batch stderr', async (t) => {
  const route = parseBatchErrors(readFileSync(fixture('iproute2', 'batch-route-stderr.txt'), 'utf8'));
  t.same([...route.failedLines], [[1, 'Cannot find device "nosuchdev"'], [2, 'RTNETLINK answers: No such process']]);
  const abort = parseBatchErrors(readFileSync(fixture('iproute2', 'batch-neigh-abort-stderr.txt'), 'utf8'));
  t.same([...abort.failedLines.keys()], [2]);
  t.equal(abort.trailing, 'RTNETLINK answers: No such file or directory');
});
