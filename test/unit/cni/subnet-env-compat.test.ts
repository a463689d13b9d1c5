import t from 'tap';
import { buildDelegateConf, renderCanonicalJson } from '../../../src/cni/delegate.js';
import { parseNetConf } from '../../../src/cni/netconf.js';
import type { Cidr } from '../../../src/core/cidr.js';
import { parseSubnetEnv, renderSubnetEnv } from '../../../src/core/subnet-env.js';

// What flanneld (WriteSubnetFile) writes in etcd mode, IPv4 only and dual stack.
const flannelV4 = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';
const flannelDual = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\n'
  + 'FLANNEL_IPV6_SUBNET=fc00:0:0:5::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n';

t.test('a flanneld-written subnet.env and weft\'s parse the same and give the same delegate', async (t) => {
  const theirs = parseSubnetEnv(flannelV4);
  if (!theirs.ok) throw new Error('flannel sample did not parse');
  const ours = renderSubnetEnv(theirs.env);
  t.equal(ours, flannelV4, 'weft writes byte-for-byte what flanneld writes');
  t.same(parseSubnetEnv(ours), theirs);
  const dual = parseSubnetEnv(flannelDual);
  if (!dual.ok) throw new Error('flannel dual-stack sample did not parse');
  t.same(dual.env, { ...theirs.env, ipv6Network: 'fc00::/48', ipv6Subnet: 'fc00:0:0:5::/64' }, 'the IPv6 keys add the IPv6 view');
  t.equal(renderSubnetEnv(dual.env), flannelDual, 'weft writes the dual-stack file byte-for-byte as flanneld does');
  const netconf = parseNetConf('{"cniVersion":"1.0.0","name":"n"}');
  t.equal(renderCanonicalJson(buildDelegateConf(netconf, theirs.env)),
    renderCanonicalJson(buildDelegateConf(netconf, { ...dual.env, ipv6Network: undefined, ipv6Subnet: undefined })),
    'without the IPv6 keys the delegate is the IPv4 one');
  t.equal(renderCanonicalJson(buildDelegateConf(netconf, theirs.env)),
    '{"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.5.34.0/24"}]],"routes":[{"dst":"10.5.0.0/16","gw":"10.5.34.1"}],'
    + '"type":"host-local"},"isGateway":true,"mtu":1450,"name":"n","type":"bridge"}', 'the IPv4-only delegate, byte for byte as before dual stack');
  const dualIpam = buildDelegateConf(netconf, dual.env)['ipam'];
  t.same(dualIpam, {
    type: 'host-local',
    ranges: [[{ subnet: '10.5.34.0/24' }], [{ subnet: 'fc00:0:0:5::/64' }]],
    routes: [{ dst: '10.5.0.0/16', gw: '10.5.34.1' }, { dst: 'fc00::/48', gw: 'fc00:0:0:5::1' }],
  }, 'with them, flannel\'s two range sets and a route to each network');
});

t.test("weft's file satisfies flannel's CNI plugin reader (loadFlannelSubnetEnv rules)", async (t) => {
  // flannel's reader: KEY=value lines split at the first '=', no quotes or trimming; needs
  // FLANNEL_NETWORK, FLANNEL_SUBNET (CIDR), FLANNEL_MTU (unsigned), FLANNEL_IPMASQ ("true" = true).
  const text = renderSubnetEnv({ network: '10.244.0.0/16' as Cidr, subnet: '10.244.7.0/24' as Cidr, mtu: 1450, ipMasq: true });
  const lines = text.split('\n').filter((l) => l !== '');
  t.same(lines.map((l) => l.slice(0, l.indexOf('='))), ['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ']);
  const values = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  t.match(values, { FLANNEL_NETWORK: /^\d+\.\d+\.\d+\.\d+\/\d+$/, FLANNEL_SUBNET: '10.244.7.1/24', FLANNEL_MTU: /^\d+$/, FLANNEL_IPMASQ: 'true' });
  t.notMatch(text, /["' ]/, 'no quotes or spaces');
});
