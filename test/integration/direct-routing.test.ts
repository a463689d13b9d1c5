/**
 * DirectRouting on the real kernel, with the real weftd on three rig hosts:
 * host1 and host2 on one L2 segment (192.0.2.0/24), host3 on another
 * (198.51.100.0/24) behind the switch namespace's router. Pods behind cni0.
 *   - host1 reaches host2's pods over a plain route (`via 192.0.2.12 dev
 *     eth0 proto 87`, no FDB entry or neighbour): tshark on host1's eth0 sees
 *     the pods' ICMP in clear and no UDP 8472 between host1 and host2, and
 *     VXLAN with VNI 1 between host1 and host3;
 *   - weftctl status shows each peer's path; the metric counts direct peers;
 *   - a hand-deleted direct route is put back;
 *   - an underlay route change (a /32 to host2 via the router) moves host2 to
 *     VXLAN under a running ping, and removing it moves it back: no ping lost;
 *   - the same for IPv6 (a dual-stack underlay: fd00:99::/64 on the first
 *     segment, fd00:98::/64 on the second): host2's IPv6 subnet via its
 *     PublicIPv6 on eth0, host3's over weft-v6.1; pods ping over IPv6;
 *   - host2 moved to the other segment (a new address, weftd follows it and
 *     updates its lease): host1 and host2 move each other to VXLAN; the lost
 *     pings are one window, the move;
 *   - DirectRouting off (config + restart): every peer VXLAN again.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { requirePrerequisites } from '../helpers/require.js';
import { startCapture } from '../helpers/tshark.js';
import { HEALTHZ_PORT, PREFIX, type WeftCluster, startWeftCluster } from '../helpers/weft-cluster.js';
import { UNDERLAY_GATEWAY } from '../rig/rig.js';

/** 30 s of pings at 50 ms: the move (measured 5–9 s: re-made devices, the etcd client's reconnect from the new address) fits with room. */
const MOVE_PINGS = 600;
const DUAL = { Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10::/48' };
const DIRECT = { ...DUAL, Backend: { Type: 'vxlan', DirectRouting: true } };

if (requirePrerequisites(t, ['ip', 'etcd', 'etcdctl', 'ping', 'tshark', 'curl'], true)) {
  const cluster: WeftCluster = await startWeftCluster({ hosts: 3, config: DIRECT, ipv6: true, segments: [1, 1, 2], weftdArgs: ['--resync-interval', '2s'] });
  t.teardown(() => cluster.stop());
  const { rig } = cluster;
  for (const i of [1, 2, 3]) await rig.attachPodsFromSubnetFile(i, cluster.subnetFile(i), 1);
  const pod = (i: number): { netns: string; address: string; address6?: string | undefined } => {
    const p = rig.host(i).pods[0];
    if (!p) throw new Error(`host${i} has no pod`);
    return p;
  };
  const routeTo = async (i: number, subnet: string): Promise<string> => (await cluster.sh(i, 'ip', ['-N', 'route', 'show', subnet])).trim();
  const fdbOf = async (i: number): Promise<string> => cluster.sh(i, 'bridge', ['fdb', 'show', 'dev', 'weft.1']);
  const directRoute = (j: number): RegExp => new RegExp(`^${cluster.subnet(j).replace(/\./g, '\\.')} via ${rig.host(j).address.replace(/\./g, '\\.')} dev eth0 proto 87`);
  const vxlanRoute = (j: number): RegExp => new RegExp(`^${cluster.subnet(j).replace(/\./g, '\\.')} via ${cluster.subnet(j).split('/')[0]?.replace(/\./g, '\\.')} dev weft\\.1 proto 87 onlink`);
  const ping = async (from: number, to: number, count = 3): Promise<string> =>
    rig.exec(pod(from).netns, 'ping', ['-n', '-c', String(count), '-i', '0.2', '-W', '2', pod(to).address]);

  t.test('host1↔host2 over a direct route, host1↔host3 and host2↔host3 over VXLAN', async (t) => {
    await cluster.waitFor('host1 and host2 route each other directly', async () =>
      directRoute(2).test(await routeTo(1, cluster.subnet(2))) && directRoute(1).test(await routeTo(2, cluster.subnet(1))));
    t.match(await routeTo(1, cluster.subnet(3)), vxlanRoute(3), 'host3 (behind the router) is VXLAN from host1');
    t.match(await routeTo(3, cluster.subnet(1)), vxlanRoute(1), 'and host1 is VXLAN from host3');
    const fdb = await fdbOf(1);
    t.match(fdb, new RegExp(`dst ${rig.host(3).address.replace(/\./g, '\\.')} `), 'an FDB entry for host3');
    t.notMatch(fdb, /dst 192\.0\.2\.12 /, 'no FDB entry for host2 (direct)');
    t.notMatch(await cluster.sh(1, 'ip', ['neigh', 'show', 'dev', 'weft.1']), new RegExp(`^${cluster.subnet(2).split('/')[0]?.replace(/\./g, '\\.')} `, 'm'),
      'no neighbour for host2 on weft.1');

    const capture = await startCapture({ netns: rig.host(1).netns, filter: 'udp port 8472 or icmp', packets: 200,
      decodeAs: ['udp.port==8472,vxlan'], fields: ['ip.src', 'ip.dst', 'udp.dstport', 'vxlan.vni', 'icmp.type'] });
    for (const [a, b] of [[1, 2], [2, 1], [1, 3], [3, 1], [2, 3]] as const) {
      t.match(await ping(a, b), / 0% packet loss/, `pod${a} → pod${b}`);
    }
    const lines = await capture.done(1500);
    const packets = lines.map((l) => l.split('\t'));
    const vxlan = packets.filter((p) => p[2] === '8472');
    const plain = packets.filter((p) => p[2] === '' || p[2] === undefined);
    t.ok(vxlan.length >= 12, `VXLAN packets on host1's eth0 (${vxlan.length})`);
    t.same(vxlan.filter((p) => (p[0] ?? '').includes('192.0.2.12') || (p[1] ?? '').includes('192.0.2.12')), [], 'no UDP 8472 between host1 and host2');
    t.ok(vxlan.every((p) => p[3] === '1' && [p[0], p[1]].some((x) => (x ?? '').includes(rig.host(3).address))), 'every VXLAN packet is host1↔host3, VNI 1');
    const p1p2 = plain.filter((p) => [p[0], p[1]].sort().join() === [pod(1).address, pod(2).address].sort().join());
    t.ok(p1p2.length >= 12, `pod1↔pod2 ICMP in clear on the segment (${p1p2.length} packets: 3 requests and replies each way)`);
    const p1p3Clear = plain.filter((p) => [p[0], p[1]].includes(pod(3).address));
    t.same(p1p3Clear, [], 'pod↔pod3 never in clear on host1\'s eth0 (encapsulated)');
  });

  t.test('IPv6: host2\'s IPv6 subnet via its PublicIPv6 on eth0, host3\'s over weft-v6.1; pods ping over IPv6', async (t) => {
    const routes6 = async (i: number): Promise<string> => cluster.sh(i, 'ip', ['-6', '-N', 'route', 'show', 'proto', '87']);
    await cluster.waitFor('host1 routes host2 directly over IPv6', async () => / via fd00:99::12 dev eth0 /.test(await routes6(1)));
    const lines = (await routes6(1)).split('\n').filter((l) => l !== '');
    t.equal(lines.filter((l) => / dev eth0 /.test(l)).length, 1, `one direct IPv6 route (host2): ${lines.join(' | ')}`);
    t.equal(lines.filter((l) => / dev weft-v6\.1 /.test(l)).length, 1, 'one IPv6 VXLAN route (host3)');
    t.notMatch(await cluster.sh(1, 'bridge', ['fdb', 'show', 'dev', 'weft-v6.1']), /dst fd00:99::12/, 'no IPv6 FDB entry for host2');
    for (const [a, b] of [[1, 2], [2, 1], [1, 3]] as const) {
      const to = pod(b).address6;
      if (!to) throw new Error(`pod${b} has no IPv6 address`);
      t.match(await rig.exec(pod(a).netns, 'ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '2', to]), / 0% packet loss/, `pod${a} → pod${b} over IPv6`);
    }
    const metrics = await cluster.sh(1, 'curl', ['-s', `http://127.0.0.1:${HEALTHZ_PORT}/metrics`]);
    t.match(metrics, /^weft_peers_direct\{family="ipv6"\} 1$/m);
    const status = await cluster.weftctl(1, 'status', ['--json']);
    const v6 = (JSON.parse(status.stdout) as { ipv6: { drift: { peers: { path: string; inSync: boolean }[] } } }).ipv6.drift.peers;
    t.same(v6.map((p) => [p.path, p.inSync]).sort(), [['direct', true], ['vxlan', true]], 'weftctl status: IPv6 paths, in sync');
  });

  t.test('weftctl status shows each peer\'s path; the metric counts direct peers', async (t) => {
    const status = await cluster.weftctl(1, 'status');
    t.equal(status.code, 0, `in sync: ${status.stdout}${status.stderr}`);
    t.match(status.stdout, new RegExp(`^${cluster.subnet(2).replace(/\./g, '\\.')} +host2 +192\\.0\\.2\\.12 +\\S+ +direct +ok +- +-$`, 'm'));
    t.match(status.stdout, new RegExp(`^${cluster.subnet(3).replace(/\./g, '\\.')} +host3 +198\\.51\\.100\\.13 +\\S+ +vxlan +ok +ok +ok$`, 'm'));
    const json = JSON.parse((await cluster.weftctl(1, 'status', ['--json'])).stdout) as { drift: { peers: { subnet: string; path: string }[] } };
    t.same(json.drift.peers.map((p) => p.path).sort(), ['direct', 'vxlan']);
    const metrics = await cluster.sh(1, 'curl', ['-s', `http://127.0.0.1:${HEALTHZ_PORT}/metrics`]);
    t.match(metrics, /^weft_peers_direct\{family="ipv4"\} 1$/m);
    const doctor = await cluster.weftctl(1, 'doctor');
    t.match(doctor.stdout, new RegExp(`direct ${cluster.subnet(2).replace(/\./g, '\\.')}.*answered over the direct route via 192\\.0\\.2\\.12`), doctor.stdout);
  });

  t.test('a direct route deleted by hand is put back', async (t) => {
    await cluster.sh(1, 'ip', ['route', 'del', cluster.subnet(2), 'via', '192.0.2.12', 'dev', 'eth0', 'proto', '87']);
    await cluster.waitFor('the direct route back', async () => directRoute(2).test(await routeTo(1, cluster.subnet(2))));
    t.match(await ping(1, 2), / 0% packet loss/);
  });

  t.test('an underlay route change moves a peer between paths under a running ping, with nothing lost', async (t) => {
    const pinger = rig.exec(pod(1).netns, 'ping', ['-n', '-c', '120', '-i', '0.05', '-W', '1', pod(2).address], { timeoutMs: 30_000 });
    await sleep(1000);
    // host2 now reached through the router: no longer on host1's segment as far as routing goes.
    await cluster.sh(1, 'ip', ['route', 'add', '192.0.2.12/32', 'via', UNDERLAY_GATEWAY, 'dev', 'eth0']);
    await cluster.waitFor('host2 on VXLAN from host1', async () => vxlanRoute(2).test(await routeTo(1, cluster.subnet(2))));
    t.match(await fdbOf(1), /dst 192\.0\.2\.12 /, 'host2\'s FDB entry added');
    await sleep(1500);
    await cluster.sh(1, 'ip', ['route', 'del', '192.0.2.12/32', 'via', UNDERLAY_GATEWAY, 'dev', 'eth0']);
    await cluster.waitFor('host2 direct again', async () => directRoute(2).test(await routeTo(1, cluster.subnet(2))));
    await cluster.waitFor('host2\'s FDB entry gone', async () => !/dst 192\.0\.2\.12 /.test(await fdbOf(1)));
    const out = await pinger;
    t.match(out, /120 packets transmitted, 120 received/, `no ping lost across both moves: ${out.split('\n').slice(-3).join(' ')}`);
  });

  t.test('host2 moves to the other segment: both sides move it to VXLAN; the only lost pings are one window, the move', async (t) => {
    const pinger = rig.exec(pod(1).netns, 'ping', ['-n', '-c', String(MOVE_PINGS), '-i', '0.05', '-W', '1', pod(2).address], { timeoutMs: 90_000 }).catch((err: unknown) => String(err));
    await sleep(1000);
    const moved = await rig.moveHost(2, 2);
    await cluster.waitFor('host1 routes host2 over VXLAN to its new address', async () =>
      vxlanRoute(2).test(await routeTo(1, cluster.subnet(2))) && (await fdbOf(1)).includes(`dst ${moved} `), 30_000);
    await cluster.waitFor('host2 routes host1 over VXLAN', async () => vxlanRoute(1).test(await routeTo(2, cluster.subnet(1))), 30_000);
    const out = await pinger;
    const answered = new Set([...out.matchAll(/icmp_seq=(\d+)/g)].map((m) => Number(m[1])));
    const lost = Array.from({ length: MOVE_PINGS }, (_, i) => i + 1).filter((seq) => !answered.has(seq));
    t.ok(answered.has(1) && answered.size > 0, `pings answered before the move (${answered.size} of ${MOVE_PINGS} in all)`);
    t.ok(lost.length === 0 || (lost[lost.length - 1] as number) - (lost[0] as number) + 1 === lost.length,
      `the lost pings are one window, the move itself: ${lost.length === 0 ? 'none' : `${lost[0]}–${lost[lost.length - 1]} (${lost.length})`}`);
    t.ok(answered.has(MOVE_PINGS), 'and the last ping was answered');
    const lease = await cluster.etcdctl(['get', '--prefix', `${PREFIX}/subnets/${cluster.subnet(2).replace('/', '-')}`, '--print-value-only']);
    t.match(lease, `"PublicIP":"${moved}"`, 'host2\'s lease carries its new address');
    t.match(await ping(1, 2, 5), / 0% packet loss/);
  });

  t.test('DirectRouting off (config change + restart): every peer VXLAN', async (t) => {
    await cluster.etcdctl(['put', `${PREFIX}/config`, JSON.stringify({ ...DUAL, Backend: { Type: 'vxlan' } })]);
    for (const i of [1, 2]) {
      await cluster.daemons.get(i)?.stop('SIGTERM');
      cluster.restart(i);
    }
    await cluster.waitFor('host1 and host2 over VXLAN', async () =>
      vxlanRoute(2).test(await routeTo(1, cluster.subnet(2))) && vxlanRoute(1).test(await routeTo(2, cluster.subnet(1))), 30_000);
    t.ok((await fdbOf(1)).includes(`dst ${rig.host(2).address} `), 'an FDB entry for host2');
    await cluster.waitFor('no direct IPv6 route left', async () => !/ dev eth0 /.test(await cluster.sh(1, 'ip', ['-6', '-N', 'route', 'show', 'proto', '87'])));
    const capture = await startCapture({ netns: rig.host(1).netns, filter: 'udp port 8472', packets: 6, decodeAs: ['udp.port==8472,vxlan'],
      fields: ['ip.src', 'ip.dst', 'vxlan.vni'] });
    t.match(await ping(1, 2), / 0% packet loss/);
    const lines = await capture.done(1500);
    t.ok(lines.length >= 6 && lines.every((l) => l.includes(rig.host(2).address)), `pod1↔pod2 encapsulated between host1 and host2: ${lines.join(' | ')}`);
  });
}
