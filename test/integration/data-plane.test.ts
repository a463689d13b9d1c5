/**
 * DataPlane on the real kernel in two rig hosts, with hand-written leases:
 * pod-to-pod traffic crosses the underlay as VXLAN with the configured VNI,
 * a second pass changes nothing, a deleted device comes back, and a removed
 * lease takes its entries with it.
 */
import { execa } from 'execa';
import t from 'tap';
import type { Cidr } from '../../src/core/cidr.js';
import type { Peer } from '../../src/core/peer-acceptance.js';
import { type NetworkConfig, parseNetworkConfig } from '../../src/core/network-config.js';
import { IpRoute2 } from '../../src/adapters/iproute2/iproute2.js';
import { DataPlane, type PreparedDevice } from '../../src/backend/vxlan/data-plane.js';
import { LEVEL, memoryLogger } from '../helpers/log-sink.js';
import { requirePrerequisites } from '../helpers/require.js';
import { Rig } from '../rig/rig.js';
import { captureVxlan } from '../helpers/tshark.js';

const VNI = 7;
const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan', VNI } });
if (!parsed.ok) throw new Error('bad config');
const config: NetworkConfig = parsed.config;

interface Node {
  readonly netns: string;
  readonly subnet: Cidr;
  readonly plane: DataPlane;
  readonly prepared: PreparedDevice;
  readonly records: ReturnType<typeof memoryLogger>['records'];
}

function leaseOf(node: Node, nodeName: string): Peer {
  return { subnet: node.subnet, attrs: { publicIp: node.prepared.publicIp, backendType: 'vxlan', vni: VNI, vtepMac: node.prepared.vtepMac, nodeName } };
}

if (requirePrerequisites(t, ['ip', 'bridge', 'ping', 'tshark', 'sysctl'], true)) {
  const rig = await Rig.up({ hosts: 2, pods: 1, etcd: 'none' });
  t.teardown(() => rig.down());

  const nodes: Node[] = [];
  for (const host of rig.hosts) {
    const { log, records } = memoryLogger();
    const plane = new DataPlane({ kernel: new IpRoute2({ netns: host.netns }), log });
    const prepared = await plane.prepare({ config, nodeName: host.nodeName, iface: 'eth0' });
    nodes.push({ netns: host.netns, subnet: `10.5.${host.index}.0/24` as Cidr, plane, prepared, records });
  }
  const [node1, node2] = nodes;
  if (!node1 || !node2) throw new Error('rig has fewer than 2 hosts');
  const leases = [leaseOf(node1, 'host1'), leaseOf(node2, 'host2')];
  const ping = (from: string, to: string, extra: string[] = []): Promise<string> =>
    execa('ip', ['netns', 'exec', from, 'ping', '-c', '3', '-i', '0.2', '-W', '2', ...extra, to], { reject: false }).then((r) => r.stdout);

  t.test('prepare: device on eth0 with the configured VNI and MTU', async (t) => {
    t.match(node1.prepared, { publicIp: '192.0.2.11', mtu: 1450, device: `weft.${VNI}`, parent: 'eth0' });
    const link = await execa('ip', ['-n', node1.netns, '-d', 'link', 'show', `weft.${VNI}`]);
    t.match(link.stdout, new RegExp(`vxlan id ${VNI} local 192\\.0\\.2\\.11 dev eth0 .*dstport 8472 nolearning`, 's'));
    t.match(link.stdout, new RegExp(`link/ether ${node1.prepared.vtepMac}`));
  });

  t.test('one pass per host: pods reach each other over VXLAN with the right VNI', async (t) => {
    for (const node of nodes) t.match(await node.plane.reconcile(node.subnet, leases), { ok: true, applied: 3, failed: 0 });
    const [pod1] = await rig.attachPods(1, node1.subnet, node1.prepared.mtu);
    const [pod2] = await rig.attachPods(2, node2.subnet, node2.prepared.mtu);
    if (!pod1 || !pod2) throw new Error('no pods');
    const tshark = await captureVxlan(node1.netns, 4);
    t.match(await ping(pod1.netns, pod2.address), /3 received/);
    const lines = await tshark.done();
    t.ok(lines.length >= 2, `captured ${lines.length} packets`);
    // Fields: VNI, outer+inner source, outer+inner destination, ICMP type (8 request, 0 reply).
    const wanted = new RegExp(`^${VNI}\\t192\\.0\\.2\\.1[12],10\\.5\\.[12]\\.2\\t192\\.0\\.2\\.1[12],10\\.5\\.[12]\\.2\\t[08]$`);
    for (const line of lines) t.match(line, wanted, line.replaceAll('\t', ' | '));
    t.match(await ping(pod2.netns, pod1.address, ['-M', 'do', '-s', String(node1.prepared.mtu - 28)]), /3 received/, 'full-MTU packets pass unfragmented');
  });

  t.test('a second pass changes nothing and logs below info', async (t) => {
    const infos = node1.records.filter((r) => r.level >= LEVEL.info).length;
    t.same(await node1.plane.reconcile(node1.subnet, leases), { ok: true, applied: 0, failed: 0, changes: 0, programmed: 1 });
    t.equal(node1.records.filter((r) => r.level >= LEVEL.info).length, infos);
  });

  t.test('a deleted device is recreated and repopulated by the next pass', async (t) => {
    await execa('ip', ['-n', node2.netns, 'link', 'del', `weft.${VNI}`]);
    t.match(await ping(rig.host(1).pods[0]?.netns ?? '', rig.host(2).pods[0]?.address ?? ''), /0 received/);
    t.match(await node2.plane.reconcile(node2.subnet, leases), { ok: true, applied: 3, failed: 0 });
    t.match(await ping(rig.host(1).pods[0]?.netns ?? '', rig.host(2).pods[0]?.address ?? ''), /3 received/);
  });

  t.test('a removed lease takes its route, neighbour and FDB entry with it', async (t) => {
    t.match(await node1.plane.reconcile(node1.subnet, [leases[0] as Peer]), { ok: true, applied: 3, failed: 0, changes: 3 });
    const dev = `weft.${VNI}`;
    const [routes, neighbors, fdb] = await Promise.all([
      execa('ip', ['-n', node1.netns, 'route', 'show', 'dev', dev]), execa('ip', ['-n', node1.netns, 'neigh', 'show', 'dev', dev]),
      execa('bridge', ['-n', node1.netns, 'fdb', 'show', 'dev', dev])]);
    t.equal(routes.stdout + neighbors.stdout + fdb.stdout, '');
    t.match(await ping(rig.host(1).pods[0]?.netns ?? '', rig.host(2).pods[0]?.address ?? ''), /0 received/);
  });
}
