/**
 * Dual-stack end to end: three rig hosts with an IPv4 and an IPv6 underlay,
 * the real weftd with a dual-stack network config, pods attached by the weft
 * CNI plugin (the built bundle, delegating to bridge + host-local 1.1.1) get
 * an IPv4 and an IPv6 address and reach each other over both families. Then,
 * on that running overlay: a dual-stack lease written exactly as flanneld
 * writes it is programmed on weft-v6, updated and removed; an IPv4-only peer
 * is programmed for IPv4 only; a weftd restart under IPv6 ping loses no
 * packet; hand-deleted IPv6 entries and a deleted weft-v6 device come back;
 * tshark on the underlay shows the IPv6 VXLAN packets with VNI 1.
 */
import t from 'tap';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUNDLE, mustRun, PLUGINS_DIR, runProgram, type Run } from '../helpers/cni-plugin-node.js';
import { requirePrerequisites } from '../helpers/require.js';
import { captureVxlan6 } from '../helpers/tshark.js';
import { msgIs, startWeftd, type WeftdProcess } from '../helpers/weftd-process.js';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';

const PREFIX = '/weft/network';
const V4 = 'weft.1';
const V6 = 'weft-v6.1';
const CONFIG = { Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:5::/48', Backend: { Type: 'vxlan' } };

if (requirePrerequisites(t, ['ip', 'etcd', 'etcdctl', 'ping', 'tshark', `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else t.test('dual-stack overlay on three hosts', async (t) => {
    const rig = await Rig.up({ hosts: 3, pods: 0, ipv6: true });
    const daemons = new Map<number, WeftdProcess>();
    t.teardown(async () => {
      for (const d of daemons.values()) await d.stop('SIGKILL');
      await rig.down();
    });
    const bin = join(rig.stateDir, 'cni-bin');
    mkdirSync(bin);
    copyFileSync(BUNDLE, join(bin, 'weft'));
    chmodSync(join(bin, 'weft'), 0o755);
    const etcdctl = (args: readonly string[]): Promise<string> =>
      rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, '--command-timeout', '5s', ...args]);
    await etcdctl(['put', `${PREFIX}/config`, JSON.stringify(CONFIG)]);
    const subnetFile = (i: number): string => join(rig.stateDir, `host${i}-subnet.env`);
    const start = (i: number): WeftdProcess => {
      const d = startWeftd(['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', subnetFile(i),
        '--node-name', `host${i}`, '--iface', 'eth0', '--resync-interval', '2s', '--ip-masq'], { netns: rig.host(i).netns });
      daemons.set(i, d);
      return d;
    };
    for (const i of [1, 2, 3]) start(i);
    for (const [i, d] of daemons) await d.waitForLog(msgIs('wrote subnet.env'), 30_000, `host${i} subnet.env`);
    const sh = (i: number, file: string, args: readonly string[]): Promise<string> => rig.exec(rig.host(i).netns, file, args);
    const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(200);
      }
    };

    const env = (i: number): Record<string, string> => Object.fromEntries(readFileSync(subnetFile(i), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    for (const i of [1, 2, 3]) {
      t.match(env(i), { FLANNEL_NETWORK: '10.5.0.0/16', FLANNEL_IPV6_NETWORK: 'fd00:5::/48', FLANNEL_IPV6_SUBNET: /^fd00:5:0:[0-9a-f]+::1\/64$/, FLANNEL_MTU: '1430' },
        `host${i}: subnet.env has both families, and the MTU of the IPv6 device (underlay 1500 - 70)`);
    }
    t.equal((await sh(1, 'ip', ['-j', 'link', 'show', V6])).includes('"mtu":1430'), true, 'weft-v6.1 at underlay - 70');

    // Pods through the weft plugin.
    const netconf = (i: number): string => JSON.stringify({
      cniVersion: '1.0.0', name: 'weftds', type: 'weft', subnetFile: subnetFile(i), dataDir: join(rig.stateDir, `host${i}-cni-data`),
      ipam: { dataDir: join(rig.stateDir, `host${i}-ipam`) },
    });
    const cni = (command: string, i: number, pod: string): Promise<Run> => runProgram('ip', ['netns', 'exec', rig.host(i).netns, join(bin, 'weft')], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: pod, CNI_NETNS: `/run/netns/${pod}`,
        CNI_IFNAME: 'eth0', CNI_PATH: `${bin}:${PLUGINS_DIR}` },
      input: netconf(i),
    });
    const pods = new Map<number, { netns: string; v4: string; v6: string }>();
    for (const i of [1, 2, 3]) {
      const pod = `${rig.prefix}-h${i}c1`;
      await mustRun('ip', ['netns', 'add', pod]);
      const add = await cni('ADD', i, pod);
      t.equal(add.code, 0, add.stdout + add.stderr);
      const ips = (add.json?.['ips'] as Array<{ address: string }> | undefined) ?? [];
      const v4 = ips.find((a) => !a.address.includes(':'))?.address ?? '';
      const v6 = ips.find((a) => a.address.includes(':'))?.address ?? '';
      t.match(v4, /^10\.5\.\d+\.2\/24$/, `host${i} pod: IPv4 address from its lease`);
      t.match(v6, /^fd00:5:0:[0-9a-f]+::2\/64$/, `host${i} pod: IPv6 address from its lease`);
      // DAD on the pod's new address would delay the first IPv6 packets: wait for it to settle.
      await waitFor(`host${i} pod IPv6 address to settle`, async () => !(await rig.exec(pod, 'ip', ['-6', 'addr', 'show', 'tentative'])).includes('inet6'));
      pods.set(i, { netns: pod, v4: v4.split('/')[0] ?? '', v6: v6.split('/')[0] ?? '' });
    }
    const ping = (from: number, to: string, extra: readonly string[] = []): Promise<string> =>
      rig.exec(pods.get(from)?.netns ?? '', 'ping', [...(to.includes(':') ? ['-6'] : []), '-c', '2', '-W', '2', ...extra, to]);

    await t.test('pods on three hosts reach each other over IPv4 and IPv6', async (t) => {
      for (const [from, to] of [[1, 2], [2, 3], [3, 1], [2, 1], [3, 2], [1, 3]] as const) {
        const target = pods.get(to);
        if (!target) throw new Error('no pod');
        t.match(await ping(from, target.v4), / 0% packet loss/, `host${from} → host${to} IPv4`);
        t.match(await ping(from, target.v6), / 0% packet loss/, `host${from} → host${to} IPv6`);
      }
    });

    await t.test('tshark on the underlay: IPv6 VXLAN with VNI 1 between the hosts\' IPv6 addresses', async (t) => {
      const capture = await captureVxlan6(rig.host(2).netns, 2);
      await ping(1, pods.get(2)?.v6 ?? '');
      const packets = await capture.done(3000);
      t.ok(packets.length >= 2, `captured ${packets.length}`);
      for (const p of packets) {
        t.equal(p.vni, 1);
        t.ok([rig.host(1).address6, rig.host(2).address6].includes(p.outerSrc as never), `outer source ${p.outerSrc} is a host's IPv6 underlay address`);
        t.ok([pods.get(1)?.v6, pods.get(2)?.v6].includes(p.innerSrc), `inner source ${p.innerSrc} is a pod`);
      }
    });

    const entries6 = async (i: number): Promise<string> => (await Promise.all([
      sh(i, 'ip', ['-6', 'neigh', 'show', 'dev', V6, 'nud', 'permanent']),
      sh(i, 'ip', ['-6', 'route', 'show', 'dev', V6]),
      sh(i, 'bridge', ['fdb', 'show', 'dev', V6]),
    ])).join('\n');

    await t.test('a dual-stack lease written as flanneld writes it: programmed, updated, removed', async (t) => {
      const key = `${PREFIX}/subnets/10.5.200.0-24&fd00:5:0:c8::-64`;
      const value = (ip6: string): string => '{"PublicIP":"198.51.100.7","PublicIPv6":"' + ip6 + '","BackendType":"vxlan",'
        + '"BackendData":{"VNI":1,"VtepMAC":"0e:11:22:33:44:55"},"BackendV6Data":{"VNI":1,"VtepMAC":"0e:11:22:33:44:66"}}';
      await etcdctl(['put', key, value('fd00:99::77')]);
      await waitFor('the flanneld lease on weft-v6.1', async () => {
        const e = await entries6(1);
        return e.includes('fd00:5:0:c8:: lladdr 0e:11:22:33:44:66') && /fd00:5:0:c8::\/64 via fd00:5:0:c8:: .*onlink/.test(e)
          && e.includes('0e:11:22:33:44:66 dst fd00:99::77');
      });
      t.match(await sh(1, 'ip', ['-4', 'route', 'show', 'dev', V4]), /10\.5\.200\.0\/24 via 10\.5\.200\.0/, 'and its IPv4 half on weft.1');
      await etcdctl(['put', key, value('fd00:99::78')]);
      await waitFor('the new PublicIPv6 in the FDB', async () => (await entries6(1)).includes('0e:11:22:33:44:66 dst fd00:99::78'));
      t.notMatch(await entries6(1), /dst fd00:99::77/, 'the old remote is gone');
      await etcdctl(['del', key]);
      await waitFor('the lease gone from weft-v6.1', async () => !(await entries6(1)).includes('fd00:5:0:c8'));
      t.pass('updated and removed');
    });

    await t.test('an IPv4-only peer in the dual-stack network is programmed for IPv4 only', async (t) => {
      const key = `${PREFIX}/subnets/10.5.201.0-24`;
      await etcdctl(['put', key, '{"PublicIP":"198.51.100.8","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0e:11:22:33:44:77"}}']);
      await waitFor('the IPv4-only peer on weft.1', async () => (await sh(1, 'ip', ['-4', 'route', 'show', 'dev', V4])).includes('10.5.201.0/24'));
      t.notMatch(await entries6(1), /0e:11:22:33:44:77/, 'nothing of it on weft-v6.1');
      const leases = await rig.exec(rig.host(1).netns, 'node', [join(process.cwd(), 'bin/weftctl'), 'leases', '--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--json']).catch(() => '');
      if (leases) t.match(leases, /10\.5\.201\.0\/24/, 'weftctl leases lists it');
      await etcdctl(['del', key]);
    });

    await t.test('a weftd restart under IPv6 ping loses no packet', async (t) => {
      const target = pods.get(2)?.v6 ?? '';
      const pinging = rig.exec(pods.get(1)?.netns ?? '', 'ping', ['-6', '-i', '0.05', '-c', '160', '-W', '1', target], { timeoutMs: 60_000 });
      await sleep(1500);
      const d = daemons.get(1);
      await d?.stop('SIGTERM');
      const again = start(1);
      await again.waitForLog(msgIs('first reconcile pass done; ready'), 30_000, 'host1 ready again');
      const out = await pinging;
      t.match(out, /160 packets transmitted, 160 received/, 'every IPv6 echo answered across the restart');
    });

    await t.test('hand-deleted IPv6 entries and a deleted weft-v6 device are repaired', async (t) => {
      const peer6 = env(2)['FLANNEL_IPV6_SUBNET']?.replace(/::1\/64$/, '::') ?? '';
      await sh(1, 'ip', ['-6', 'route', 'del', `${peer6}/64`, 'dev', V6]);
      await sh(1, 'ip', ['-6', 'neigh', 'del', peer6, 'dev', V6]);
      await waitFor('the IPv6 route and neighbour back', async () => {
        const e = await entries6(1);
        return e.includes(`${peer6}/64 via ${peer6}`) && e.includes(`${peer6} lladdr`);
      });
      t.pass('route and neighbour put back');
      await sh(1, 'ip', ['link', 'del', V6]);
      await waitFor('weft-v6.1 recreated with its entries', async () => {
        const link = await sh(1, 'ip', ['-j', 'link', 'show', V6]).catch(() => '');
        return link.includes(V6) && (await entries6(1)).includes(`${peer6}/64 via ${peer6}`);
      }, 30_000);
      t.match(await ping(1, pods.get(2)?.v6 ?? ''), / 0% packet loss/, 'pods reach each other over IPv6 again');
      t.match(await ping(1, pods.get(2)?.v4 ?? ''), / 0% packet loss/, 'IPv4 untouched');
    });

    for (const i of [1, 2, 3]) {
      const pod = pods.get(i);
      if (pod) t.equal((await cni('DEL', i, pod.netns)).code, 0, `host${i} DEL`);
    }
  });
}
