/** The underlay decision (flannel #2247/#2433) and the underlay monitor's line codec. */
import t from 'tap';
import type { Ipv4 } from '../../../src/core/cidr.js';
import type { Ipv6 } from '../../../src/core/cidr6.js';
import type { InterfaceAddress6 } from '../../../src/core/external-interface.js';
import { parseInterfaceLine } from '../../../src/core/monitor-lines.js';
import { type UnderlayReading, decideUnderlay } from '../../../src/core/underlay-change.js';

const OLD = '192.0.2.12' as Ipv4;
const NEW = '192.0.2.42' as Ipv4;
const baseline = { iface: 'eth0', index: 3, publicIp: OLD };
const v6addr = (ip: string, extra: Partial<InterfaceAddress6> = {}): InterfaceAddress6 =>
  ({ ip: ip as Ipv6, prefixLength: 64, scope: 'global', deprecated: false, tentative: false, dadfailed: false, temporary: false, ...extra });
function reading(index: number, v4: readonly string[], v6: readonly InterfaceAddress6[] = []): UnderlayReading {
  return {
    v4: { name: 'eth0', index, mtu: 1500, addresses: v4.map((ip) => ({ ip: ip as Ipv4, prefixLength: 24, scope: 'global' })) },
    v6: { name: 'eth0', index, mtu: 1500, addresses: v6 },
  };
}
const ipv4Only = { ipv6: false };

t.test('same interface, same address: nothing to do', async (t) => {
  t.same(decideUnderlay(baseline, reading(3, [OLD]), ipv4Only), { kind: 'none', index: 3 });
  t.same(decideUnderlay(baseline, reading(3, [OLD, NEW]), ipv4Only), { kind: 'none', index: 3 }, 'a second address added beside the first changes nothing');
  t.same(decideUnderlay({ ...baseline, index: undefined }, reading(3, [OLD]), ipv4Only), { kind: 'none', index: 3 }, 'the first read learns the ifindex');
});

t.test('a new address on the same interface is a re-address', async (t) => {
  t.match(decideUnderlay(baseline, reading(3, [NEW]), ipv4Only),
    { kind: 're-address', index: 3, publicIp: NEW, publicIpv6: undefined, reason: 'address 192.0.2.12 -> 192.0.2.42' });
});

t.test('the interface made again (new ifindex) is a re-create, with or without a new address', async (t) => {
  t.match(decideUnderlay(baseline, reading(7, [OLD]), ipv4Only), { kind: 're-create', index: 7, publicIp: OLD, reason: /new interface \(ifindex 3 -> 7\)/ });
  t.match(decideUnderlay(baseline, reading(7, [NEW]), ipv4Only), { kind: 're-create', index: 7, publicIp: NEW, reason: /ifindex 3 -> 7.*address 192\.0\.2\.12 -> 192\.0\.2\.42/ });
});

t.test('gone, or without an address: wait (never a throw)', async (t) => {
  t.match(decideUnderlay(baseline, undefined, ipv4Only), { kind: 'wait', reason: 'the external interface eth0 is gone; waiting for it to come back' });
  t.match(decideUnderlay(baseline, reading(3, []), ipv4Only), { kind: 'wait', reason: /eth0 has no IPv4 address; waiting/ });
});

t.test('--public-ip: the flag\'s address stays advertised; its absence is a wait that says so', async (t) => {
  const pins = { publicIp: OLD, ipv6: false };
  t.same(decideUnderlay(baseline, reading(3, [NEW, OLD]), pins), { kind: 'none', index: 3 }, 'another address first on the interface is not taken');
  t.match(decideUnderlay(baseline, reading(3, [NEW]), pins),
    { kind: 'wait', reason: '--public-ip 192.0.2.12 is not an address of eth0 any more (it has 192.0.2.42); still advertising it, waiting for it to come back' });
  t.match(decideUnderlay(baseline, reading(9, [OLD]), pins), { kind: 're-create', index: 9, publicIp: OLD }, 'the interface made again is followed');
  t.match(decideUnderlay(baseline, undefined, pins), { kind: 'wait' });
});

t.test('dual-stack: the IPv6 address is followed too, and kept while none is usable', async (t) => {
  const dual = { ...baseline, publicIpv6: 'fd00:99::12' as Ipv6 };
  const pins = { ipv6: true };
  t.same(decideUnderlay(dual, reading(3, [OLD], [v6addr('fd00:99::12')]), pins), { kind: 'none', index: 3 });
  t.match(decideUnderlay(dual, reading(3, [OLD], [v6addr('fd00:99::42')]), pins),
    { kind: 're-address', publicIp: OLD, publicIpv6: 'fd00:99::42', reason: 'IPv6 address fd00:99::12 -> fd00:99::42' });
  t.same(decideUnderlay(dual, reading(3, [OLD], [v6addr('fe80::1', { scope: 'link' })]), pins), { kind: 'none', index: 3 },
    'only a link-local address left: the lease keeps its IPv6 endpoint');
  t.match(decideUnderlay(baseline, reading(3, [OLD], [v6addr('fd00:99::12')]), pins),
    { kind: 're-address', publicIpv6: 'fd00:99::12', reason: 'IPv6 address none -> fd00:99::12' }, 'an IPv6 address that appears is taken up');
  t.same(decideUnderlay(dual, reading(3, [OLD], [v6addr('fd00:99::42'), v6addr('fd00:99::12')]), { ipv6: true, publicIpv6: 'fd00:99::12' as Ipv6 }),
    { kind: 'none', index: 3 }, '--public-ipv6 stays');
});

t.test('the underlay monitor\'s lines', async (t) => {
  t.same(parseInterfaceLine('[ADDR]3: eth0    inet 192.0.2.50/24 scope global eth0\\       valid_lft forever preferred_lft forever'),
    { what: 'address', deleted: false, index: 3, device: 'eth0' });
  t.same(parseInterfaceLine('[ADDR]Deleted 3: eth0    inet 192.0.2.50/24 scope global eth0\\       valid_lft forever preferred_lft forever'),
    { what: 'address', deleted: true, index: 3, device: 'eth0' });
  t.same(parseInterfaceLine('[LINK]Deleted 3: eth0@NONE: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \\    link/ether 9a:4a:93:07:8e:09 brd ff:ff:ff:ff:ff:ff'),
    { what: 'link', deleted: true, index: 3, device: 'eth0' });
  t.same(parseInterfaceLine('[LINK]5: eth0@p0: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN group default'),
    { what: 'link', deleted: false, index: 5, device: 'eth0' });
  t.same(parseInterfaceLine('[ADDR]4: bond0.100    inet6 fd00::1/64 scope global'), { what: 'address', deleted: false, index: 4, device: 'bond0.100' });
  t.equal(parseInterfaceLine('[ROUTE]10.5.2.0/24 via 10.5.2.0 dev weft.1 onlink'), undefined);
  t.equal(parseInterfaceLine('garbage'), undefined);
});
