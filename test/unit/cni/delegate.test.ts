import t from 'tap';
import { buildDelegateConf, renderCanonicalJson } from '../../../src/cni/delegate.js';
import { parseNetConf } from '../../../src/cni/netconf.js';
import { parseSubnetEnv, type SubnetEnv } from '../../../src/core/subnet-env.js';

function env(text: string): SubnetEnv {
  const parsed = parseSubnetEnv(text);
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.env;
}

function delegateJson(netconf: Record<string, unknown>, subnetEnv: SubnetEnv): string {
  return renderCanonicalJson(buildDelegateConf(parseNetConf(JSON.stringify(netconf)), subnetEnv));
}

const flannelTestEnv = env('FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n');

t.test("flannel's IPv4 test vector (cni-plugin flannel_linux_test.go), with weft's explicit gw", async (t) => {
  // flannel saves: {"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],"routes":[{"dst":"10.1.0.0/16"}],
  // "type":"host-local"},"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"} (its input has no cniVersion).
  t.equal(delegateJson({ cniVersion: '0.3.1', name: 'cni-flannel', type: 'flannel' }, flannelTestEnv),
    '{"cniVersion":"0.3.1","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],'
    + '"routes":[{"dst":"10.1.0.0/16","gw":"10.1.17.1"}],"type":"host-local"},'
    + '"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}');
});

t.test('kube-flannel style delegate: hairpin, default gateway, runtimeConfig passed through', async (t) => {
  // FLANNEL_IPMASQ=false: flannel's plugin would give ipMasq:true (masquerading pod-to-pod traffic); weft's gives false.
  const json = delegateJson({
    cniVersion: '1.0.0', name: 'cbr0', type: 'weft',
    delegate: { hairpinMode: true, isDefaultGateway: true },
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
  }, env('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n'));
  t.equal(json,
    '{"cniVersion":"1.0.0","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.244.7.0/24"}]],'
    + '"routes":[{"dst":"10.244.0.0/16","gw":"10.244.7.1"}],"type":"host-local"},"isDefaultGateway":true,"isGateway":true,'
    + '"mtu":1450,"name":"cbr0","runtimeConfig":{"portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},"type":"bridge"}');
});

t.test('delegate values win over subnet.env; non-bridge delegates get no isGateway', async (t) => {
  const json = delegateJson({
    cniVersion: '1.0.0', name: 'n', delegate: { type: 'ptp', ipMasq: true, mtu: 1400 },
  }, flannelTestEnv);
  t.equal(json,
    '{"cniVersion":"1.0.0","ipMasq":true,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}]],'
    + '"routes":[{"dst":"10.1.0.0/16","gw":"10.1.17.1"}],"type":"host-local"},"mtu":1400,"name":"n","type":"ptp"}');
  const bridge = JSON.parse(delegateJson({ cniVersion: '1.0.0', name: 'n', delegate: { isGateway: false, bridge: 'weft0' } }, flannelTestEnv));
  t.equal(bridge.isGateway, false);
  t.equal(bridge.bridge, 'weft0');
});

t.test('ipam: extra fields and type pass through, ranges replaced, user routes first', async (t) => {
  const json = delegateJson({
    cniVersion: '1.0.0', name: 'n',
    ipam: { type: 'my-ipam', dataDir: '/tmp/ipam', ranges: [[{ subnet: '192.168.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
  }, flannelTestEnv);
  t.equal(json,
    '{"cniVersion":"1.0.0","ipMasq":false,"ipam":{"dataDir":"/tmp/ipam","ranges":[[{"subnet":"10.1.17.0/24"}]],'
    + '"routes":[{"dst":"0.0.0.0/0"},{"dst":"10.1.0.0/16","gw":"10.1.17.1"}],"type":"my-ipam"},'
    + '"isGateway":true,"mtu":1472,"name":"n","type":"bridge"}');
});

t.test('the range is the network address even for small subnets; gw is its first host', async (t) => {
  const conf = JSON.parse(delegateJson({ cniVersion: '1.0.0', name: 'n' },
    env('FLANNEL_NETWORK=172.16.0.0/12\nFLANNEL_SUBNET=172.31.255.241/28\nFLANNEL_MTU=8951\nFLANNEL_IPMASQ=false\n')));
  t.same(conf.ipam.ranges, [[{ subnet: '172.31.255.240/28' }]]);
  t.same(conf.ipam.routes, [{ dst: '172.16.0.0/12', gw: '172.31.255.241' }]);
  t.equal(conf.mtu, 8951);
  t.equal(conf.ipMasq, false, 'weftd masquerades, never the bridge');
});

const flannelDualEnv = env('FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\nFLANNEL_IPV6_NETWORK=fc00::/48\n'
  + 'FLANNEL_IPV6_SUBNET=fc00:0:0:5::1/64\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n');

t.test("a flanneld dual-stack file: flannel's two range sets and both networks' routes (getDelegateIPAM), with weft's gw", async (t) => {
  // flannel's cni-plugin saves for this file: "ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}],[{"subnet":"fc00:0:0:5::/64"}]],
  // "routes":[{"dst":"10.1.0.0/16"},{"dst":"fc00::/48"}],"type":"host-local"}; weft adds each family's gateway as gw.
  t.equal(delegateJson({ cniVersion: '0.3.1', name: 'cni-flannel', type: 'flannel' }, flannelDualEnv),
    '{"cniVersion":"0.3.1","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.1.17.0/24"}],[{"subnet":"fc00:0:0:5::/64"}]],'
    + '"routes":[{"dst":"10.1.0.0/16","gw":"10.1.17.1"},{"dst":"fc00::/48","gw":"fc00:0:0:5::1"}],"type":"host-local"},'
    + '"isGateway":true,"mtu":1472,"name":"cni-flannel","type":"bridge"}');
});

t.test('dual stack: user routes first, ranges replaced by both families, extra ipam fields kept', async (t) => {
  const conf = JSON.parse(delegateJson({
    cniVersion: '1.0.0', name: 'n',
    ipam: { dataDir: '/tmp/ipam', ranges: [[{ subnet: '192.168.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] },
  }, flannelDualEnv));
  t.same(conf.ipam, {
    dataDir: '/tmp/ipam', type: 'host-local',
    ranges: [[{ subnet: '10.1.17.0/24' }], [{ subnet: 'fc00:0:0:5::/64' }]],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }, { dst: '10.1.0.0/16', gw: '10.1.17.1' }, { dst: 'fc00::/48', gw: 'fc00:0:0:5::1' }],
  });
});

t.test('dual stack: a subnet.env written with host bits and non-/64 IPv6 subnets still gives network-form ranges', async (t) => {
  const conf = JSON.parse(delegateJson({ cniVersion: '1.0.0', name: 'n' }, env(
    'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_IPV6_NETWORK=2001:db8:42::/56\n'
    + 'FLANNEL_IPV6_SUBNET=2001:db8:42:7:8000::1/80\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n')));
  t.same(conf.ipam.ranges, [[{ subnet: '10.244.7.0/24' }], [{ subnet: '2001:db8:42:7:8000::/80' }]]);
  t.same(conf.ipam.routes, [{ dst: '10.244.0.0/16', gw: '10.244.7.1' }, { dst: '2001:db8:42::/56', gw: '2001:db8:42:7:8000::1' }]);
});

t.test('canonical rendering sorts keys at every level and keeps array order', async (t) => {
  t.equal(renderCanonicalJson({ b: 1, a: [{ z: 1, y: [2, 1] }, null], c: { e: true, d: 'x' } }),
    '{"a":[{"y":[2,1],"z":1},null],"b":1,"c":{"d":"x","e":true}}');
});

t.test('ipMasq is false whatever FLANNEL_IPMASQ says; an explicit delegate.ipMasq wins', async (t) => {
  for (const masq of ['true', 'false']) {
    const e = env(`FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=${masq}\n`);
    t.equal(JSON.parse(delegateJson({ cniVersion: '1.0.0', name: 'n' }, e)).ipMasq, false, `FLANNEL_IPMASQ=${masq}`);
    t.equal(JSON.parse(delegateJson({ cniVersion: '1.0.0', name: 'n', delegate: { ipMasq: true } }, e)).ipMasq, true, `explicit, FLANNEL_IPMASQ=${masq}`);
  }
});
