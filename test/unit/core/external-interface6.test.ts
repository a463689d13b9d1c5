import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Ipv6 } from '../../../src/core/cidr6.js';
import { selectExternalAddress6 } from '../../../src/core/external-interface.js';
import { MAX_VNI_IPV6, parseNetworkConfig } from '../../../src/core/network-config.js';
import { deviceMismatch, deviceName6, deviceSpec, deviceSpec6 } from '../../../src/core/vxlan-device.js';
import { vtepMacFor } from '../../../src/core/mac.js';
import { parseInterfaces6, parseLinkInfo } from '../../../src/adapters/iproute2/parse.js';
import { fixture } from '../../helpers/fixtures.js';

const json = (name: string): unknown => JSON.parse(readFileSync(fixture('iproute2', name), 'utf8'));
const [eth0] = parseInterfaces6(json('addr6-show.json'));
const [linkLocalOnly] = parseInterfaces6(json('addr6-link-local-only.json'));

t.test('the interface\'s IPv6 addresses with their flags', async (t) => {
  t.same(eth0?.addresses.map((a) => `${a.ip}/${a.prefixLength} ${a.scope}${a.tentative ? ' tentative' : ''}${a.deprecated ? ' deprecated' : ''}`), [
    'fd00:97::5/64 global tentative', 'fd00:98::5/64 global tentative deprecated', 'fd00:99::11/64 global', 'fe80::5806:b9ff:feeb:faf8/64 link',
  ]);
});

t.test('default: the first settled, non-deprecated global address', async (t) => {
  const choice = selectExternalAddress6(eth0, 'eth0');
  t.match(choice, { ok: true, ext: { name: 'eth0', index: 2, mtu: 1500, address: 'fd00:99::11' } });
  if (choice.ok) t.same(choice.ext.addresses, ['fd00:97::5', 'fd00:98::5', 'fd00:99::11'], 'global ones only');
  const onlyTentative = eth0 && { ...eth0, addresses: eth0.addresses.filter((a) => a.ip !== 'fd00:99::11') };
  t.match(selectExternalAddress6(onlyTentative, 'eth0'), { ok: true, ext: { address: 'fd00:97::5' } }, 'tentative beats deprecated');
});

t.test('never a link-local address: a clear error naming the interface and the way out', async (t) => {
  const choice = selectExternalAddress6(linkLocalOnly, 'e1');
  t.match(choice, { ok: false, reason: /interface e1 has only a link-local IPv6 address \(fe80::4cc6:20ff:fe3a:58b5\).*give --public-ipv6 or add a global IPv6 address to e1/ });
  t.match(selectExternalAddress6({ name: 'e1', index: 3, mtu: 1500, addresses: [] }, 'e1'), { ok: false, reason: /e1 has no IPv6 address/ });
  t.match(selectExternalAddress6(undefined, 'e9'), { ok: false, reason: /no interface named e9/ });
});

t.test('--public-ipv6: must be a global address of the interface', async (t) => {
  t.match(selectExternalAddress6(eth0, 'eth0', 'fd00:97::5' as Ipv6), { ok: true, ext: { address: 'fd00:97::5' } });
  t.match(selectExternalAddress6(eth0, 'eth0', 'fd00:99::99' as Ipv6),
    { ok: false, reason: /--public-ipv6 fd00:99::99 is not a global address of the external interface eth0 \(fd00:97::5, fd00:98::5, fd00:99::11\)/ });
  t.match(selectExternalAddress6(eth0, 'eth0', 'fe80::5806:b9ff:feeb:faf8' as Ipv6), { ok: false, reason: /link-local/ });
});

t.test('the IPv6 device spec: weft-v6.<VNI>, MTU underlay − 70, its own MAC, the v6 local', async (t) => {
  const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10::/48', Backend: { Type: 'vxlan', VNI: 7, Port: 4789 } });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const choice = selectExternalAddress6(eth0, 'eth0');
  if (!choice.ok) throw new Error(choice.reason);
  const spec = deviceSpec6(parsed.config, choice.ext, 'host1');
  t.same(spec, { name: 'weft-v6.7', vni: 7, port: 4789, local: 'fd00:99::11', parent: 'eth0', mtu: 1430, mac: vtepMacFor('host1', 7, 6), gbp: false });
  t.equal(deviceName6(MAX_VNI_IPV6).length, 15, 'the largest VNI a dual-stack network takes fits the kernel\'s 15 characters');
  t.equal(deviceName6(MAX_VNI_IPV6 + 1).length, 16);
  const tooLarge = parseNetworkConfig({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10::/48', Backend: { Type: 'vxlan', VNI: 16777215 } });
  t.match(tooLarge, { ok: false, errors: [/Backend.VNI 16777215 is too large with EnableIPv6: the IPv6 device weft-v6.16777215 .*use a VNI up to 9999999/] });
  t.ok(parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan', VNI: 16777215 } }).ok, 'IPv4 only: any VNI');
  const v4 = deviceSpec(parsed.config, { name: 'eth0', index: 2, mtu: 1500, address: '192.0.2.11' as never, addresses: [] }, 'host1');
  t.not(spec.mac, v4.mac);
  t.equal(v4.mtu, 1450);
  const link = parseLinkInfo(json('link-vxlan6.json'), 6);
  t.match(link, { name: 'weft-v6.1', kind: 'vxlan', vni: 1, port: 8472, local: 'fd00:99::11', parent: 'eth0', mtu: 1430, mac: '02:11:22:33:44:55' });
  t.same(link?.addresses, ['fd00:10:0:7::/128', 'fd00:10:0:1::/128', 'fe80::11:22ff:fe33:4455/64']);
  t.same(parseLinkInfo(json('link-vxlan6.json'))?.addresses, [], 'an IPv4 reader lists no IPv6 addresses');
  if (link) {
    t.equal(deviceMismatch({ ...spec, name: 'weft-v6.1', vni: 1, port: 8472, mac: '02:11:22:33:44:55' as never }, link), undefined, 'the local6 compares');
    t.match(deviceMismatch({ ...spec, name: 'weft-v6.1', vni: 1, port: 8472, mac: '02:11:22:33:44:55' as never, local: 'fd00:99::12' as Ipv6 }, link),
      /local address is fd00:99::11, want fd00:99::12/);
  }
});
