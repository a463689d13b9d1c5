import t from 'tap';
import type { Ipv4 } from '../../../src/core/cidr.js';
import { vtepMacFor } from '../../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../src/core/network-config.js';
import { type ExternalInterface, type VxlanLinkInfo, deviceMismatch, deviceName, deviceSpec, vxlanLocal } from '../../../src/core/vxlan-device.js';

function config(backend: Record<string, unknown> = { Type: 'vxlan' }): NetworkConfig {
  const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: backend });
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
}

const eth0: ExternalInterface = { name: 'eth0', index: 3, address: '192.0.2.11' as Ipv4, addresses: ['192.0.2.11', '192.0.2.50'] as Ipv4[], mtu: 1500 };

t.test('deviceSpec: defaults, MTU from the interface minus 50, MAC from the node name', async (t) => {
  t.same(deviceSpec(config(), eth0, 'host1'), {
    name: 'weft.1', vni: 1, port: 8472, local: '192.0.2.11', parent: 'eth0', mtu: 1450, mac: vtepMacFor('host1', 1), gbp: false,
  });
  t.equal(deviceName(4096), 'weft.4096');
});

t.test('deviceSpec: local is the public IP when given', async (t) => {
  t.match(deviceSpec(config(), eth0, 'host1', '192.0.2.50' as Ipv4), { local: '192.0.2.50', parent: 'eth0' });
});

t.test('vxlanLocal: the public IP (default: the interface address), which the interface must hold', async (t) => {
  t.same(vxlanLocal(eth0, undefined), { ok: true, local: '192.0.2.11' });
  t.same(vxlanLocal(eth0, '192.0.2.11' as Ipv4), { ok: true, local: '192.0.2.11' });
  t.same(vxlanLocal(eth0, '192.0.2.50' as Ipv4), { ok: true, local: '192.0.2.50' }, 'a secondary address of the interface');
  const nat = vxlanLocal(eth0, '198.51.100.7' as Ipv4);
  t.match(nat, { ok: false, reason: /--public-ip 198\.51\.100\.7 is not an address of the external interface eth0 \(192\.0\.2\.11, 192\.0\.2\.50\)/ });
  t.match(nat, { reason: /VXLAN source address .*NAT is not supported yet/ });
  t.match(vxlanLocal({ ...eth0, addresses: [] }, '198.51.100.7' as Ipv4), { ok: false, reason: /eth0 \(no IPv4 address\)/ });
});

t.test('deviceSpec: Backend.MTU, VNI, port and GBP from the config', async (t) => {
  const spec = deviceSpec(config({ Type: 'vxlan', VNI: 42, Port: 4789, MTU: 9000, GBP: true }), eth0, 'host2');
  t.match(spec, { name: 'weft.42', vni: 42, port: 4789, mtu: 8950, gbp: true, mac: vtepMacFor('host2', 42) });
  t.not(spec.mac, vtepMacFor('host1', 42));
});

t.test('deviceMismatch: compatible device (any MTU) is kept', async (t) => {
  const spec = deviceSpec(config(), eth0, 'host1');
  const actual: VxlanLinkInfo = {
    name: 'weft.1', kind: 'vxlan', vni: 1, port: 8472, local: '192.0.2.11' as Ipv4, parent: 'eth0', learning: false, gbp: false,
    mac: spec.mac, mtu: 1400, up: true, addresses: [],
  };
  t.equal(deviceMismatch(spec, actual), undefined);

  const cases: [Partial<VxlanLinkInfo>, RegExp][] = [
    [{ vni: 2 }, /VNI is 2, want 1/],
    [{ port: 4789 }, /port is 4789, want 8472/],
    [{ local: '192.0.2.99' as Ipv4 }, /local address is 192.0.2.99, want 192.0.2.11/],
    [{ local: undefined }, /local address is undefined/],
    [{ parent: 'eth1' }, /parent is eth1, want eth0/],
    [{ mac: vtepMacFor('other', 1) }, /MAC is .*, want /],
    [{ gbp: true }, /GBP is true, want false/],
    [{ learning: true }, /learning is on/],
    [{ kind: 'veth' }, /weft.1 is a veth device, not vxlan/],
  ];
  for (const [change, reason] of cases) t.match(deviceMismatch(spec, { ...actual, ...change }), reason, JSON.stringify(change));
  t.match(deviceMismatch(spec, { ...actual, vni: 2, port: 1 }), /VNI .*; port/);
});
