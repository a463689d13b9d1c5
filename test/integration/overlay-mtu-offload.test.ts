/**
 * The IPv4 VXLAN data path's size and checksum settings on the real kernel,
 * with the real weftd on two rig hosts and pods attached by the real weft
 * CNI plugin (bridge + host-local):
 *   - Backend.ChecksumOffload's default (off) is on weft.1 after start and
 *     again after the device is deleted by hand and weftd recreates it (a new
 *     VXLAN device comes back with the kernel's default, on);
 *   - a DF-set ping pod to pod across hosts of exactly FLANNEL_MTU crosses, one
 *     byte more fails with "message too long" (never a silent timeout);
 *   - weftctl doctor's DF probe and checksum offload checks pass;
 *   - a Backend.MTU larger than eth0's is refused at weftd start, naming eth0
 *     and both numbers, and the running data path is left as it was.
 * Pod namespaces carry the rig's prefix, so the rig's teardown removes them.
 */
import t from 'tap';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseSubnetEnv } from '../../src/core/subnet-env.js';
import { BUNDLE, mustRun, PLUGINS_DIR, runProgram, type Run } from '../helpers/cni-plugin-node.js';
import { requirePrerequisites } from '../helpers/require.js';
import { type LogLine, msgIs, runWeftctl, startWeftd, type WeftdProcess } from '../helpers/weftd-process.js';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';

const PREFIX = '/weft/network';
const DEVICE = 'weft.1';

if (requirePrerequisites(t, ['ip', 'etcd', 'etcdctl', 'ping', 'ethtool', `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else {
    const rig = await Rig.up({ hosts: 2, pods: 0 });
    const daemons = new Map<number, WeftdProcess>();
    t.teardown(async () => {
      for (const d of daemons.values()) await d.stop('SIGKILL');
      await rig.down();
    });
    const etcdctl = (args: string[]): Promise<string> => rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, '--command-timeout', '5s', ...args]);
    const subnetFile = (i: number): string => join(rig.stateDir, `host${i}-subnet.env`);
    const flags = (i: number): string[] => ['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', subnetFile(i),
      '--node-name', `host${i}`, '--iface', 'eth0', '--resync-interval', '2s'];
    const start = (i: number): WeftdProcess => {
      const d = startWeftd(flags(i), { netns: rig.host(i).netns });
      daemons.set(i, d);
      return d;
    };
    const sh = (i: number, file: string, args: string[]): Promise<string> => rig.exec(rig.host(i).netns, file, args);
    const txChecksum = async (i: number): Promise<string> => /tx-checksum-ip-generic: (\S+)/.exec(await sh(i, 'ethtool', ['-k', DEVICE]))?.[1] ?? '?';
    const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (!(await check().catch(() => false))) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(100);
      }
    };

    await etcdctl(['put', `${PREFIX}/config`, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}']);
    for (const i of [1, 2]) start(i);
    for (const [i, d] of daemons) await d.waitForLog(msgIs('wrote subnet.env'), 30_000, `host${i} subnet.env`);
    const mtu = (i: number): number => {
      const parsed = parseSubnetEnv(readFileSync(subnetFile(i), 'utf8'));
      if (!parsed.ok) throw new Error(parsed.errors.join('; '));
      return parsed.env.mtu;
    };

    t.test('checksum offload: off on the device weftd creates, and again on the device it recreates after a hand delete', async (t) => {
      for (const i of [1, 2]) t.equal(await txChecksum(i), 'off', `host${i}: the default, off`);
      const ready = daemons.get(1)?.logs.find(msgIs('vxlan device ready'));
      t.match(ready, { checksumOffload: 'off', changes: ['created device', 'tx-checksum-ip-generic off'] }, 'weftd set it on the device it created');

      const d = daemons.get(1);
      if (!d) throw new Error('no host1 daemon');
      const seen = d.logs.length;
      await sh(1, 'ip', ['link', 'del', DEVICE]);
      const repaired = await d.waitForLog((l: LogLine) => d.logs.indexOf(l) >= seen && l.msg === 'data plane changed'
        && Array.isArray(l['deviceChanges']) && l['deviceChanges'].includes('created device'), 15_000, 'the device recreated');
      t.same((repaired['deviceChanges'] as string[]).slice(0, 2), ['created device', 'tx-checksum-ip-generic off'], 'recreated, and its offload set before it came up');
      t.equal(await txChecksum(1), 'off', 'off again (a new VXLAN device is on)');

      // A hand change is put back by the next pass that reads the kernel (a resync at the latest).
      await sh(1, 'ethtool', ['-K', DEVICE, 'tx-checksum-ip-generic', 'on']);
      await waitFor('weftd to turn offload off again', async () => (await txChecksum(1)) === 'off', 80_000);
      t.pass('a hand change is undone');
    });

    const bin = join(rig.stateDir, 'cni-bin');
    mkdirSync(bin);
    copyFileSync(BUNDLE, join(bin, 'weft'));
    chmodSync(join(bin, 'weft'), 0o755);
    const netconf = (i: number): string => JSON.stringify({
      cniVersion: '1.0.0', name: 'weftmtu', type: 'weft', subnetFile: subnetFile(i), dataDir: join(rig.stateDir, `host${i}-cni-data`),
      ipam: { dataDir: join(rig.stateDir, `host${i}-ipam`) },
    });
    const cni = (command: string, i: number, pod: string): Promise<Run> => runProgram('ip', ['netns', 'exec', rig.host(i).netns, join(bin, 'weft')], {
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: command, CNI_CONTAINERID: pod, CNI_NETNS: `/run/netns/${pod}`,
        CNI_IFNAME: 'eth0', CNI_PATH: `${bin}:${PLUGINS_DIR}` },
      input: netconf(i),
    });
    const pods = [`${rig.prefix}-h1c1`, `${rig.prefix}-h2c1`] as const;
    const addresses: string[] = [];
    const dfPing = (from: string, to: string, payload: number): Promise<Run> =>
      runProgram('ip', ['netns', 'exec', from, 'ping', '-n', '-c', '1', '-W', '2', '-M', 'do', '-s', String(payload), to]);

    t.test('pods attached by the weft plugin: DF pings of exactly FLANNEL_MTU cross the overlay, one byte more is refused', async (t) => {
      for (const [index, pod] of pods.entries()) {
        await mustRun('ip', ['netns', 'add', pod]);
        const add = await cni('ADD', index + 1, pod);
        t.equal(add.code, 0, add.stdout + add.stderr);
        addresses.push(((add.json?.['ips'] as Array<{ address: string }> | undefined)?.[0]?.address ?? '').split('/')[0] ?? '');
        t.match(await mustRun('ip', ['-n', pod, 'link', 'show', 'eth0']), new RegExp(`mtu ${mtu(index + 1)} `), 'the pod has FLANNEL_MTU');
      }
      const podMtu = mtu(1);
      t.equal(podMtu, 1450, 'eth0 1500 − 50');
      t.equal(mtu(2), podMtu);
      // The first packets may wait for ARP on the bridge: retry the fitting size until it crosses.
      for (const [from, to] of [[0, 1], [1, 0]] as const) {
        let fits: Run | undefined;
        for (let attempt = 0; attempt < 10; attempt++) {
          fits = await dfPing(pods[from], addresses[to] ?? '', podMtu - 28);
          if (fits.code === 0) break;
        }
        t.match(fits?.stdout, new RegExp(`1 received`), `pod${from + 1} → pod${to + 1}: ${podMtu} bytes with DF set cross`);
        t.match(fits?.stdout, new RegExp(`${podMtu - 28 + 8} bytes from ${addresses[to]}`), 'the full-size echo came back');
        const tooBig = await dfPing(pods[from], addresses[to] ?? '', podMtu - 27);
        t.not(tooBig.code, 0, `${podMtu + 1} bytes with DF set do not`);
        t.match(`${tooBig.stdout}\n${tooBig.stderr}`, new RegExp(`message too long, mtu=${podMtu}`), 'refused with "message too long", not a silent loss');
      }
    });

    t.test('weftctl doctor: the DF probe at the device MTU and the checksum offload check pass', async (t) => {
      const r = await runWeftctl(['doctor', '--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--node-name', 'host1',
        '--subnet-file', subnetFile(1), '--json'], { netns: rig.host(1).netns });
      const results = (JSON.parse(r.stdout) as { results: { check: string; verdict: string; detail: string }[] }).results;
      const df = results.filter((x) => x.check.startsWith('df '));
      t.equal(df.length, 1, 'one peer, one DF probe');
      t.match(df[0], { verdict: 'ok', detail: /a 1450-byte packet with DF set \(the weft\.1 MTU, the pods' MTU\) crossed to 10\.5\.\d+\.0 and back/ });
      t.match(results.find((x) => x.check === 'checksum offload'), { verdict: 'ok', detail: 'weft.1 tx-checksum-ip-generic off, as Backend.ChecksumOffload off asks' });
    });

    t.test('Backend.MTU larger than eth0: weftd refuses to start, names eth0 and both numbers, and leaves the data path alone', async (t) => {
      const before = await sh(2, 'ip', ['-d', 'link', 'show', DEVICE]);
      const routesBefore = await sh(2, 'ip', ['route', 'show', 'dev', DEVICE]);
      const envBefore = readFileSync(subnetFile(2), 'utf8');
      t.equal(await daemons.get(2)?.stop('SIGTERM'), 0);
      await etcdctl(['put', `${PREFIX}/config`, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan","MTU":1600}}']);
      const refused = start(2);
      t.equal(await refused.exited, 1, 'exit 1');
      t.match(refused.stderr(), /Backend\.MTU 1600 is larger than the MTU 1500 of the external interface eth0 .*set Backend\.MTU to at most 1500/);
      t.equal(await sh(2, 'ip', ['-d', 'link', 'show', DEVICE]), before, 'the device is untouched');
      t.equal(await sh(2, 'ip', ['route', 'show', 'dev', DEVICE]), routesBefore, 'its routes too');
      t.equal(readFileSync(subnetFile(2), 'utf8'), envBefore, 'and subnet.env');
      const still = await dfPing(pods[0], addresses[1] ?? '', 1422);
      t.match(still.stdout, /1 received/, 'pods still reach each other');
      await etcdctl(['put', `${PREFIX}/config`, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}']);

      // With host2's weftd stopped nothing puts a hand change back: doctor flags it.
      await sh(2, 'ethtool', ['-K', DEVICE, 'tx-checksum-ip-generic', 'on']);
      const wrong = await runWeftctl(['doctor', '--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--node-name', 'host2',
        '--subnet-file', subnetFile(2), '--json'], { netns: rig.host(2).netns });
      t.match((JSON.parse(wrong.stdout) as { results: { check: string }[] }).results.find((x) => x.check === 'checksum offload'),
        { verdict: 'FAIL', detail: /weft\.1 tx-checksum-ip-generic on, but Backend\.ChecksumOffload is off/ }, 'doctor flags a device that differs from the config');
    });

    t.test('pods are removed with CNI DEL', async (t) => {
      for (const [index, pod] of pods.entries()) {
        t.equal((await cni('DEL', index + 1, pod)).code, 0);
        await runProgram('ip', ['netns', 'del', pod]);
      }
    });
  }
}
