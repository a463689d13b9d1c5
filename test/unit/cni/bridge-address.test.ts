/**
 * The stale cni0 address, with a fake bridge: re-addressed (the bridge is
 * deleted, the delegate recreates it) when nothing is attached; code 11
 * naming the stale address, the attached containers and the fix otherwise.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { makeNode } from './harness.js';

const MOVED = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.99.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

t.test('cni0 with the right address, or none yet: nothing is touched', async (t) => {
  const node = makeNode(t.testdir());
  t.equal((await node.cni('ADD', node.netconf())).code, 0, 'no bridge yet');
  node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], ports: ['veth1'] });
  t.equal((await node.cni('ADD', node.netconf(), 'c2')).code, 0);
  t.same(node.bridge.removed, []);
  t.equal(node.bridge.portReads, 0, 'the ports are not read for a healthy bridge');
});

t.test('stale address and nothing attached: the bridge is deleted before the delegate runs', async (t) => {
  const node = makeNode(t.testdir(), MOVED);
  node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], ports: [] });
  node.invoker.handlers.ADD = () => {
    t.same(node.bridge.removed, ['cni0'], 'deleted before the delegate ran');
    return '{"cniVersion":"1.0.0"}';
  };
  const out = await node.cni('ADD', node.netconf({ logLevel: 'warn' }));
  t.equal(out.code, 0, out.stdout);
  t.match(out.stderr, /stale address and nothing attached/);
});

t.test('stale address with containers attached: 11 naming the address, the containers and the fix; nothing changed', async (t) => {
  const node = makeNode(t.testdir());
  node.invoker.handlers.ADD = () => JSON.stringify({ cniVersion: '1.0.0', interfaces: [{ name: 'cni0' }, { name: 'vethaaa' }, { name: 'eth0', sandbox: '/run/netns/old' }] });
  await node.cni('ADD', node.netconf(), 'old-pod');
  delete node.invoker.handlers.ADD;
  writeFileSync(node.subnetFile, MOVED);
  node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], ports: ['vethaaa', 'vethzzz'] });
  const calls = node.invoker.calls.length;
  const out = await node.cni('ADD', node.netconf(), 'new-pod');
  t.equal(out.json?.['code'], 11);
  const text = `${String(out.json?.['msg'])} ${String(out.json?.['details'])}`;
  t.match(text, /bridge "cni0" has the stale address 10\.5\.34\.1\/24, but this host's subnet is now 10\.5\.99\.0\/24 \(gateway 10\.5\.99\.1\/24\)/);
  t.match(text, /container old-pod \(weftnet\/eth0, port vethaaa\)/, 'names the weft container');
  t.match(text, /port vethzzz \(no weft record\)/, 'and a port weft does not know');
  t.match(text, /fix: remove or recreate those containers/);
  t.same(node.bridge.removed, []);
  t.equal(node.invoker.calls.length, calls, 'the delegate was not run');
  t.same(node.records(), ['old-pod:eth0'], 'no record for the refused ADD');
});

t.test('the locked re-check sees a bridge another ADD just fixed, and leaves it alone', async (t) => {
  const node = makeNode(t.testdir(), MOVED);
  node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], ports: [] });
  node.bridge.onRead = (name, reads) => {
    if (reads === 2) node.bridge.links.set(name, { mac: '0a:58:0a:05:22:01', addresses: ['10.5.99.1/24'], ports: ['vethnew'] });
  };
  t.equal((await node.cni('ADD', node.netconf())).code, 0);
  t.same(node.bridge.removed, []);
});

t.test('not checked when the bridge gets no gateway, forceAddress is set, or the delegate is not bridge', async (t) => {
  for (const delegate of [{ isGateway: false }, { forceAddress: true }, { type: 'ptp' }]) {
    const node = makeNode(t.testdir(), MOVED);
    node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], ports: ['veth1'] });
    t.equal((await node.cni('ADD', node.netconf({ delegate }))).code, 0, JSON.stringify(delegate));
  }
});

t.test('a bridge named in the delegate is the one checked', async (t) => {
  const node = makeNode(t.testdir(), MOVED);
  node.bridge.links.set('weft0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], ports: [] });
  node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], ports: ['veth1'] });
  t.equal((await node.cni('ADD', node.netconf({ delegate: { bridge: 'weft0' } }))).code, 0);
  t.same(node.bridge.removed, ['weft0']);
});

t.test('a bridge left with no ports, no address and a zero MAC by a failed first ADD is deleted; a fresh one is not', async (t) => {
  const node = makeNode(t.testdir());
  node.bridge.links.set('cni0', { mac: '00:00:00:00:00:00', addresses: [], ports: [] });
  t.equal((await node.cni('ADD', node.netconf())).code, 0);
  t.same(node.bridge.removed, ['cni0']);
  node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: [], ports: [] });
  t.equal((await node.cni('ADD', node.netconf(), 'c2')).code, 0);
  t.same(node.bridge.removed, ['cni0'], 'a bridge another ADD is just setting up (random MAC) is left alone');
});

const DUAL = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_IPV6_NETWORK=fd00:5::/48\n'
  + 'FLANNEL_IPV6_SUBNET=fd00:5:0:34::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

t.test('dual stack: the IPv6 gateway, link-local and foreign IPv6 addresses are not stale', async (t) => {
  const node = makeNode(t.testdir(), DUAL);
  node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'],
    addresses6: ['fd00:5:0:34::1/64', '2001:db8:1::7/64'], ports: ['veth1'] });
  t.equal((await node.cni('ADD', node.netconf())).code, 0);
  t.same(node.bridge.removed, []);
  t.equal(node.bridge.portReads, 0, 'a healthy dual-stack bridge costs no port read');
});

t.test('dual stack: an IPv4-only subnet.env never looks at the bridge\'s IPv6 addresses', async (t) => {
  const node = makeNode(t.testdir());
  node.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], addresses6: ['fd00:5:0:12::1/64'], ports: ['veth1'] });
  t.equal((await node.cni('ADD', node.netconf())).code, 0);
  t.same(node.bridge.removed, []);
});

t.test('dual stack: an old IPv6 gateway of this network is stale (deleted when nothing is attached, 11 otherwise)', async (t) => {
  const empty = makeNode(t.testdir(), DUAL);
  empty.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'], addresses6: ['fd00:5:0:12::1/64'], ports: [] });
  t.equal((await empty.cni('ADD', empty.netconf())).code, 0);
  t.same(empty.bridge.removed, ['cni0'], 'IPv4 right, IPv6 stale: still re-addressed');

  const busy = makeNode(t.testdir(), DUAL);
  busy.bridge.links.set('cni0', { mac: '0a:58:0a:05:22:01', addresses: ['10.5.34.1/24'],
    addresses6: ['fd00:5:0:34::1/64', 'fd00:5:0:34::1/80'], ports: ['vethzzz'] });
  const out = await busy.cni('ADD', busy.netconf());
  t.equal(out.json?.['code'], 11, 'an address overlapping the new subnet is refused by the bridge plugin anyway');
  t.match(String(out.json?.['msg']), /stale address fd00:5:0:34::1\/80, but this host's subnet is now 10\.5\.34\.0\/24 \(gateway 10\.5\.34\.1\/24\) and fd00:5:0:34::\/64 \(gateway fd00:5:0:34::1\/64\)/);
  t.same(busy.bridge.removed, []);
});

t.test('iproute2 JSON: addresses, MAC and port names', async (t) => {
  const { parseAddresses, parseAddresses6, parseLinkNames, parseMac } = await import('../../../src/cni/bridge-probe.js');
  const addr = JSON.stringify([{ ifname: 'cni0', address: '00:00:00:00:00:00', addr_info: [
    { family: 'inet', local: '10.5.34.1', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }, { family: 'inet', local: '10.5.99.1', prefixlen: 24 }] }]);
  t.same(parseAddresses(addr), ['10.5.34.1/24', '10.5.99.1/24']);
  const dual = JSON.stringify([{ ifname: 'cni0', address: '0a:58:0a:05:22:01', addr_info: [
    { family: 'inet', local: '10.5.34.1', prefixlen: 24, scope: 'global' }, { family: 'inet6', local: 'fd00:5:0:34::1', prefixlen: 64, scope: 'global' },
    { family: 'inet6', local: 'fe80::858:aff:fe05:2201', prefixlen: 64, scope: 'link' }] }]);
  t.same([parseAddresses(dual), parseAddresses6(dual)], [['10.5.34.1/24'], ['fd00:5:0:34::1/64']], 'link-local left out');
  t.equal(parseMac(addr), '00:00:00:00:00:00');
  t.same([parseAddresses(''), parseMac('[]')], [[], '']);
  t.same(parseLinkNames(JSON.stringify([{ ifname: 'veth1' }, { ifname: 'veth2' }])), ['veth1', 'veth2']);
  t.same(parseLinkNames('[]'), []);
});
