/**
 * Masquerading under the documented defaults, with the real weftd, the weft
 * CNI plugin (bundle) delegating to the real bridge + host-local, and iptables,
 * on two rig hosts plus an "outside" namespace on the underlay (192.0.2.100,
 * no route to the overlay):
 *   - weftd without --ip-masq and the example conflist's delegate (no ipMasq):
 *     pod to pod across hosts keeps the pod address, a pod's traffic to the
 *     outside leaves with host1's underlay address, and no per-pod CNI-… chain
 *     exists (weftd's rules are the only masquerade: exactly once);
 *   - restarting host1's weftd with --ip-masq=false removes its chains and the
 *     same, existing pod's traffic to the outside is no longer masqueraded;
 *     --ip-masq again masquerades it again.
 * Everything runs inside the rig's namespaces.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { BUNDLE, PLUGINS_DIR, mustRun, runProgram, type Run } from '../helpers/cni-plugin-node.js';
import { requirePrerequisites } from '../helpers/require.js';
import { startCapture } from '../helpers/tshark.js';
import { type WeftdProcess, msgIs, startWeftd } from '../helpers/weftd-process.js';
import { addNetns, ip } from '../rig/netns.js';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';

const PREFIX = '/weft/network';
const OUTSIDE = '192.0.2.100';

if (requirePrerequisites(t, ['ip', 'etcd', 'etcdctl', 'ping', 'iptables', 'iptables-restore', 'tshark', `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run make build`);
  else {
    const rig = await Rig.up({ hosts: 2, pods: 0 });
    const daemons = new Map<number, WeftdProcess>();
    t.teardown(async () => {
      for (const d of daemons.values()) await d.stop('SIGKILL');
      await rig.down();
    });
    const bin = join(rig.stateDir, 'cni-bin');
    mkdirSync(bin);
    copyFileSync(BUNDLE, join(bin, 'weft'));
    chmodSync(join(bin, 'weft'), 0o755);
    await rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', `${PREFIX}/config`, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}']);
    const outNs = `${rig.prefix}-out`;
    await addNetns(outNs);
    await ip(['-n', rig.switchNetns, 'link', 'add', 'uout', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outNs]);
    await ip(['-n', rig.switchNetns, 'link', 'set', 'uout', 'master', 'br0', 'up']);
    await ip(['-n', outNs, 'addr', 'add', `${OUTSIDE}/24`, 'dev', 'eth0']);
    await ip(['-n', outNs, 'link', 'set', 'eth0', 'up']);

    const subnetFile = (i: number): string => join(rig.stateDir, `host${i}-subnet.env`);
    const start = (i: number, extra: string[] = []): WeftdProcess => {
      const d = startWeftd(['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', subnetFile(i),
        '--node-name', `host${i}`, '--iface', 'eth0', '--resync-interval', '2s', ...extra], { netns: rig.host(i).netns });
      daemons.set(i, d);
      return d;
    };
    // The documented defaults: no --ip-masq flag, the example conflist's delegate.
    for (const i of [1, 2]) await start(i).waitForLog(msgIs('wrote subnet.env'), 30000, `host${i} subnet.env`);
    const netconf = (i: number): string => JSON.stringify({
      cniVersion: '1.0.0', name: 'weftm', type: 'weft', subnetFile: subnetFile(i), dataDir: join(rig.stateDir, `host${i}-cni-data`),
      delegate: { hairpinMode: true, isDefaultGateway: true }, ipam: { dataDir: join(rig.stateDir, `host${i}-ipam`) },
    });
    const cni = (command: string, i: number, pod: string): Promise<Run> => runProgram('ip', ['netns', 'exec', rig.host(i).netns, join(bin, 'weft')], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: pod, CNI_NETNS: `/run/netns/${pod}`,
        CNI_IFNAME: 'eth0', CNI_PATH: `${bin}:${PLUGINS_DIR}` },
      input: netconf(i),
    });
    const pods = [`${rig.prefix}-h1c1`, `${rig.prefix}-h2c1`] as const;
    const addresses: string[] = [];
    for (const [index, pod] of pods.entries()) {
      await mustRun('ip', ['netns', 'add', pod]);
      const add = await cni('ADD', index + 1, pod);
      if (add.code !== 0) throw new Error(`ADD failed: ${add.stdout}${add.stderr}`);
      addresses.push(((add.json?.['ips'] as Array<{ address: string }> | undefined)?.[0]?.address ?? '').split('/')[0] ?? '');
    }
    t.teardown(async () => {
      for (const [index, pod] of pods.entries()) await cni('DEL', index + 1, pod);
    });
    const [pod1, pod2] = pods;
    const [address1 = '', address2 = ''] = addresses;
    const host1 = rig.host(1).address;
    const ping = async (netns: string, target: string, count = 2): Promise<string> =>
      (await runProgram('ip', ['netns', 'exec', netns, 'ping', '-c', String(count), '-i', '0.2', '-W', '1', target])).stdout;
    /** The source address of echo requests arriving in `netns` (on `iface`) while `pod1` pings `target`. */
    const sourcesSeen = async (netns: string, target: string, iface = 'eth0'): Promise<string[]> => {
      const capture = await startCapture({ netns, iface, filter: `icmp[icmptype] == icmp-echo and dst host ${target}`, packets: 2, fields: ['ip.src'] });
      await ping(pod1, target);
      return capture.done();
    };
    const podMasqChains = async (): Promise<string[]> =>
      (await rig.exec(rig.host(1).netns, 'iptables', ['-w', '5', '-t', 'nat', '-S', 'POSTROUTING'])).split('\n').filter((l) => /-j CNI-/.test(l));
    const weftChains = async (): Promise<string> =>
      (await rig.exec(rig.host(1).netns, 'iptables', ['-w', '5', '-t', 'nat', '-S'])).split('\n').filter((l) => l.includes('WEFT')).join('\n');

    t.test('defaults: pod to pod keeps pod addresses; outside traffic is masqueraded once, by weftd', async (t) => {
      t.match(readFileSync(subnetFile(1), 'utf8'), /FLANNEL_IPMASQ=true/, 'weftd masquerades by default');
      t.same(await podMasqChains(), [], 'the bridge delegate installed no per-pod masquerade chain');
      t.match(await weftChains(), /-A WEFT-POSTRTG .* -j MASQUERADE/);
      t.match(await ping(pod1, address2), /2 received/, 'pod1 → pod2 answered');
      t.same(await sourcesSeen(rig.host(2).netns, address2, 'cni0'), [address1, address1], 'host2\'s bridge delivers pod1\'s own address to pod2');
      t.same(await sourcesSeen(outNs, OUTSIDE), [host1, host1], 'the outside host sees host1\'s underlay address');
      t.match(await ping(pod1, OUTSIDE), /2 received/, 'and can answer it');
    });

    t.test('--ip-masq=false on the running host: its rules go, the existing pod is no longer masqueraded', async (t) => {
      await daemons.get(1)?.stop('SIGTERM');
      const d = start(1, ['--ip-masq=false']);
      await d.waitForLog(msgIs('traffic rules removed (--ip-masq is off)'), 20000, 'the removal');
      await d.waitForLog(msgIs('first reconcile pass done; ready'), 20000, 'ready');
      t.equal(await weftChains(), '', 'no WEFT chain or jump left');
      t.match(readFileSync(subnetFile(1), 'utf8'), /FLANNEL_IPMASQ=false/);
      t.same(await sourcesSeen(outNs, OUTSIDE), [address1, address1], 'the outside host sees the pod address');
      t.same(await sourcesSeen(rig.host(2).netns, address2, 'cni0'), [address1, address1], 'pod to pod unchanged');
    });

    t.test('--ip-masq again: the same pod is masqueraded again', async (t) => {
      await daemons.get(1)?.stop('SIGTERM');
      const d = start(1, ['--ip-masq']);
      await d.waitForLog(msgIs('traffic rules installed'), 20000, 'the rules');
      t.same(await sourcesSeen(outNs, OUTSIDE), [host1, host1]);
      t.same(await sourcesSeen(rig.host(2).netns, address2, 'cni0'), [address1, address1]);
      t.same(await podMasqChains(), []);
    });
  }
}
