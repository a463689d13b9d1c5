import t from 'tap';
import { parseSubnetEnv, renderSubnetEnv, type SubnetEnv } from '../../../src/core/subnet-env.js';
import type { Cidr } from '../../../src/core/cidr.js';

const sample: SubnetEnv = { network: '10.5.0.0/16' as Cidr, subnet: '10.5.34.0/24' as Cidr, mtu: 1450, ipMasq: false };

t.test('renders flannel exact format', async (t) => {
  t.equal(renderSubnetEnv(sample),
    'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  t.match(renderSubnetEnv({ ...sample, ipMasq: true }), /FLANNEL_IPMASQ=true\n$/);
});

t.test('round trip', async (t) => {
  for (const env of [sample, { ...sample, ipMasq: true, mtu: 8951 },
    { network: '172.16.0.0/12' as Cidr, subnet: '172.31.255.240/28' as Cidr, mtu: 68, ipMasq: false }]) {
    const parsed = parseSubnetEnv(renderSubnetEnv(env));
    t.same(parsed, { ok: true, env });
  }
});

t.test('reads a file written by flanneld, including IPv6 keys and lists', async (t) => {
  const text = 'FLANNEL_NETWORK=10.1.0.0/16,10.2.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\n'
    + 'FLANNEL_IPV6_SUBNET=fc00:0:0:5::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n';
  t.same(parseSubnetEnv(text), { ok: true, env: { network: '10.1.0.0/16', subnet: '10.1.17.0/24', mtu: 1472, ipMasq: true, ipv6Network: 'fc00::/48', ipv6Subnet: 'fc00:0:0:5::/64' } });
});

t.test('reports every missing key at once', async (t) => {
  const r = parseSubnetEnv('FLANNEL_MTU=1450\n');
  t.same(r, { ok: false, errors: ['missing FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_IPMASQ'] });
});

t.test('names invalid values', async (t) => {
  const r = parseSubnetEnv('FLANNEL_NETWORK=10.5.0.1/16\nFLANNEL_SUBNET=banana\nFLANNEL_MTU=15x\nFLANNEL_IPMASQ=yes\n');
  t.equal(r.ok, false);
  if (r.ok) return;
  t.equal(r.errors.length, 4);
  t.match(r.errors[0], /FLANNEL_NETWORK "10.5.0.1\/16" is invalid: .*host bits/);
  t.match(r.errors[1], /FLANNEL_SUBNET "banana"/);
  t.match(r.errors[2], /FLANNEL_MTU "15x"/);
  t.match(r.errors[3], /FLANNEL_IPMASQ "yes"/);
});
