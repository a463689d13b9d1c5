/**
 * Cross-host: the real weftd on two rig hosts writes subnet.env, the weft
 * CNI plugin (the built bundle, delegating to bridge + host-local 1.1.1)
 * attaches one pod per host from it, and the pods reach each other over the
 * VXLAN overlay. Pod namespaces carry the rig's prefix, so the rig's teardown
 * removes them even if this test dies.
 */
import t from 'tap';
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, mustRun, PLUGINS_DIR, runProgram, type Run } from '../helpers/cni-plugin-node.js';
import { requirePrerequisites } from '../helpers/require.js';
import { msgIs, startWeftd, type WeftdProcess } from '../helpers/weftd-process.js';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';

const PREFIX = '/weft/network';

if (requirePrerequisites(t, ['ip', 'etcd', 'etcdctl', 'ping', `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else t.test('pods attached by the weft plugin on two hosts reach each other over the overlay', async (t) => {
    const rig = await Rig.up({ hosts: 2, pods: 0 });
    const daemons: WeftdProcess[] = [];
    t.teardown(async () => {
      for (const d of daemons) await d.stop('SIGKILL');
      await rig.down();
    });
    const bin = join(rig.stateDir, 'cni-bin');
    mkdirSync(bin);
    copyFileSync(BUNDLE, join(bin, 'weft'));
    chmodSync(join(bin, 'weft'), 0o755);
    await rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', `${PREFIX}/config`, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}']);

    const subnetFile = (i: number): string => join(rig.stateDir, `host${i}-subnet.env`);
    for (const i of [1, 2]) {
      // --ip-masq: weftd masquerades, so the delegate gets ipMasq:false (see docs/cni.md).
      const d = startWeftd(['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', subnetFile(i),
        '--node-name', `host${i}`, '--iface', 'eth0', '--resync-interval', '2s', '--ip-masq'], { netns: rig.host(i).netns });
      daemons.push(d);
      await d.waitForLog(msgIs('wrote subnet.env'), 30000, `host${i} subnet.env`);
    }

    const netconf = (i: number): string => JSON.stringify({
      cniVersion: '1.0.0', name: 'weftx', type: 'weft', subnetFile: subnetFile(i), dataDir: join(rig.stateDir, `host${i}-cni-data`),
      delegate: { hairpinMode: true }, ipam: { dataDir: join(rig.stateDir, `host${i}-ipam`) },
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
      t.equal(add.code, 0, add.stdout + add.stderr);
      const address = (add.json?.['ips'] as Array<{ address: string }> | undefined)?.[0]?.address ?? '';
      t.match(address, /^10\.5\.\d+\.2\/24$/, `host${index + 1} pod address from its lease`);
      addresses.push(address.split('/')[0] ?? '');
    }
    t.not(addresses[0], addresses[1]);

    const ping = async (from: string, to: string): Promise<string> => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const r = await runProgram('ip', ['netns', 'exec', from, 'ping', '-c', '2', '-i', '0.2', '-W', '1', to]);
        if (r.code === 0) return r.stdout;
      }
      return 'no reply';
    };
    t.match(await ping(pods[0], addresses[1] ?? ''), /2 received/, 'host1 pod → host2 pod');
    t.match(await ping(pods[1], addresses[0] ?? ''), /2 received/, 'host2 pod → host1 pod');

    for (const [index, pod] of pods.entries()) {
      t.equal((await cni('DEL', index + 1, pod)).code, 0);
      await runProgram('ip', ['netns', 'del', pod]);
    }
  });
}
