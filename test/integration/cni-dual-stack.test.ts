/**
 * Dual stack with the real reference plugins (bridge + host-local 1.1.1 from
 * /usr/lib/cni): the built weft plugin reads a subnet.env with flanneld's IPv6
 * keys and the pod gets an IPv4 and an IPv6 address and a route to each
 * network, read from inside the pod's namespace with `ip -j`; the bridge
 * carries both gateways, CHECK passes, the pods reach each other over IPv6,
 * and DEL frees both host-local reservations. Everything happens in
 * namespaces this test creates (per-run names), deleted also on failure.
 */
import t, { type Test } from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, CniPluginNode, mustRun, PLUGINS_DIR, runProgram } from '../helpers/cni-plugin-node.js';
import { requirePrerequisites } from '../helpers/require.js';

const SUBNET_ENV = 'FLANNEL_NETWORK=10.78.0.0/16\nFLANNEL_SUBNET=10.78.5.1/24\nFLANNEL_IPV6_NETWORK=fd00:78::/48\n'
  + 'FLANNEL_IPV6_SUBNET=fd00:78:0:5::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

if (requirePrerequisites(t, ['ip', 'ping', `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else t.test('weft dual stack with bridge + host-local 1.1.1 in a node namespace', dualStack);
}

interface AddrInfo { family: string; local: string; prefixlen: number; scope: string }
interface RouteInfo { dst: string; gateway?: string; dev?: string }

async function addresses(ns: string, dev: string): Promise<string[]> {
  const links = JSON.parse(await mustRun('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', dev])) as Array<{ addr_info: AddrInfo[] }>;
  return links.flatMap((l) => l.addr_info).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
}

async function routes(ns: string, family: '-4' | '-6'): Promise<string[]> {
  const list = JSON.parse(await mustRun('ip', ['-n', ns, '-j', family, 'route', 'show'])) as RouteInfo[];
  return list.filter((r) => r.gateway !== undefined).map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}`);
}

/** host-local's reservation files (one per address, named by it) for this node's network. */
function reservations(node: CniPluginNode): string[] {
  const dir = join(node.ipamDir, node.network);
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes('.') !== f.includes(':')).sort() : [];
}

async function dualStack(t: Test): Promise<void> {
  const node = new CniPluginNode();
  t.teardown(() => node.cleanup());
  await node.start(SUBNET_ENV);
  const pod1 = await node.addPod('d1');
  const pod2 = await node.addPod('d2');
  let result1: Record<string, unknown> = {};

  await t.test('ADD: the pod gets an IPv4 and an IPv6 address and a route to each network', async (t) => {
    const out = await node.pod('ADD', pod1, node.netconf());
    t.equal(out.code, 0, out.stdout + out.stderr);
    result1 = out.json ?? {};
    t.match(result1, {
      cniVersion: '1.0.0',
      ips: [{ address: '10.78.5.2/24', gateway: '10.78.5.1' }, { address: 'fd00:78:0:5::2/64', gateway: 'fd00:78:0:5::1' }],
      routes: [{ dst: '10.78.0.0/16', gw: '10.78.5.1' }, { dst: 'fd00:78::/48', gw: 'fd00:78:0:5::1' }],
    });
    t.same(await addresses(pod1, 'eth0'), ['10.78.5.2/24', 'fd00:78:0:5::2/64'], 'both addresses inside the pod');
    t.same(await routes(pod1, '-4'), ['10.78.0.0/16 via 10.78.5.1 dev eth0']);
    t.same(await routes(pod1, '-6'), ['fd00:78::/48 via fd00:78:0:5::1 dev eth0']);
    t.same(await addresses(node.nodeNs, node.bridge), ['10.78.5.1/24', 'fd00:78:0:5::1/64'], 'the bridge carries both gateways');
    t.same(reservations(node), ['10.78.5.2', 'fd00:78:0:5::2']);
    const record = JSON.parse(readFileSync(join(node.dataDir, '_attachments', node.network, `${pod1}:eth0`), 'utf8')) as { conf: string };
    t.same(JSON.parse(record.conf).ipam.ranges, [[{ subnet: '10.78.5.0/24' }], [{ subnet: 'fd00:78:0:5::/64' }]]);
  });

  await t.test('CHECK passes with the real bridge for both families', async (t) => {
    const out = await node.pod('CHECK', pod1, node.netconf({ prevResult: result1 }));
    t.same([out.code, out.stdout], [0, ''], out.stdout);
  });

  await t.test('a second ADD on the dual-stack bridge: its gateways are not taken for stale, the pods reach each other over IPv6', async (t) => {
    const out = await node.pod('ADD', pod2, node.netconf());
    t.equal(out.code, 0, out.stdout + out.stderr);
    t.same(await addresses(pod2, 'eth0'), ['10.78.5.3/24', 'fd00:78:0:5::3/64']);
    const ping6 = await runProgram('ip', ['netns', 'exec', pod2, 'ping', '-6', '-c', '1', '-W', '3', 'fd00:78:0:5::2']);
    t.equal(ping6.code, 0, ping6.stdout + ping6.stderr);
    const ping4 = await runProgram('ip', ['netns', 'exec', pod2, 'ping', '-c', '1', '-W', '3', '10.78.5.2']);
    t.equal(ping4.code, 0, ping4.stdout + ping4.stderr);
  });

  await t.test('DEL frees both host-local reservations; the bridge keeps its gateways for the other pod', async (t) => {
    t.same((await node.pod('DEL', pod1, node.netconf())).code, 0);
    t.same(reservations(node), ['10.78.5.3', 'fd00:78:0:5::3']);
    t.same((await node.pod('DEL', pod2, node.netconf())).code, 0);
    t.same(reservations(node), [], 'both families released');
    t.same(node.savedConfigs(), []);
    t.same(await addresses(node.nodeNs, node.bridge), ['10.78.5.1/24', 'fd00:78:0:5::1/64']);
  });

  await t.test('a new IPv6 subnet with nothing attached: the old IPv6 gateway is stale, the bridge is re-addressed', async (t) => {
    writeFileSync(node.subnetFile, SUBNET_ENV.replace('fd00:78:0:5::1/64', 'fd00:78:0:9::1/64'));
    const pod3 = await node.addPod('d3');
    const out = await node.pod('ADD', pod3, node.netconf());
    t.equal(out.code, 0, out.stdout + out.stderr);
    t.match(await addresses(pod3, 'eth0'), [/^10\.78\.5\.\d+\/24$/, /^fd00:78:0:9::\d+\/64$/], 'an IPv6 address of the new subnet');
    t.same(await addresses(node.nodeNs, node.bridge), ['10.78.5.1/24', 'fd00:78:0:9::1/64'], 'the old fd00:78:0:5::1 is gone from the bridge');
    t.same((await node.pod('DEL', pod3, node.netconf())).code, 0);
    t.same(reservations(node), []);
  });

  await t.test('root namespace untouched: IPv4 and IPv6 forwarding still off', async (t) => {
    t.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '0');
    t.equal(readFileSync('/proc/sys/net/ipv6/conf/all/forwarding', 'utf8').trim(), '0');
  });
}
