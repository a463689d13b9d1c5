/**
 * The real weftd on three rig hosts with etcd in the switch namespace:
 * pods talk across hosts, a host that joins later is reached by everyone, a
 * daemon restart drops no packets and changes no kernel state, and a deleted
 * lease takes the host's entries off its peers until it comes back.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import t from 'tap';
import { requirePrerequisites } from '../helpers/require.js';
import { msgIs, startWeftd, type WeftdProcess } from '../helpers/weftd-process.js';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';

const PREFIX = '/weft/network';
const DEVICE = 'weft.1';

if (requirePrerequisites(t, ['ip', 'bridge', 'etcd', 'etcdctl', 'ping', 'sysctl'], true)) {
  const rig = await Rig.up({ hosts: 3, pods: 1 });
  const daemons = new Map<number, WeftdProcess>();
  t.teardown(async () => {
    for (const d of daemons.values()) await d.stop('SIGKILL');
    await rig.down();
  });

  const etcdctl = (args: string[]): Promise<string> =>
    rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, '--command-timeout', '5s', ...args]);
  const subnetFile = (i: number): string => join(rig.stateDir, `host${i}-subnet.env`);
  const start = (i: number, extra: string[] = []): WeftdProcess => {
    const d = startWeftd(['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', subnetFile(i),
      '--node-name', `host${i}`, '--iface', 'eth0', '--resync-interval', '2s', ...extra], { netns: rig.host(i).netns });
    daemons.set(i, d);
    return d;
  };
  const subnets = new Map<number, string>();
  /** Starts host i's daemon and waits for its lease; the first time, also for subnet.env and then adds its pod. */
  const join_ = async (i: number): Promise<void> => {
    const d = start(i);
    const lease = await d.waitForLog((l) => l.msg === 'acquired subnet lease' || l.msg === 'renewed own subnet lease', 20000, 'a lease');
    subnets.set(i, String(lease['subnet']));
    if (rig.host(i).pods.length > 0) return; // a rejoin with the same subnet leaves subnet.env as it was: no log line
    await d.waitForLog(msgIs('wrote subnet.env'), 20000, 'subnet.env');
    await rig.attachPodsFromSubnetFile(i, subnetFile(i));
  };
  const routes = (i: number): Promise<string> => rig.exec(rig.host(i).netns, 'ip', ['-4', 'route', 'show', 'dev', DEVICE]);
  const entries = async (i: number): Promise<string> => (await Promise.all([routes(i),
    rig.exec(rig.host(i).netns, 'ip', ['-4', 'neigh', 'show', 'dev', DEVICE, 'nud', 'permanent']),
    rig.exec(rig.host(i).netns, 'bridge', ['fdb', 'show', 'dev', DEVICE])])).map((s) => s.split('\n').sort().join('\n')).join('\n--\n');
  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 10000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };
  const pod = (i: number): { netns: string; address: string } => {
    const p = rig.host(i).pods[0];
    if (!p) throw new Error(`host${i} has no pod`);
    return p;
  };
  const ping = async (from: number, to: number, args: string[] = ['-c', '2', '-i', '0.2', '-W', '2']): Promise<string> =>
    (await execa('ip', ['netns', 'exec', pod(from).netns, 'ping', ...args, pod(to).address], { reject: false })).stdout;

  await etcdctl(['put', `${PREFIX}/config`, '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}']);

  t.test('two hosts: pods reach each other', async (t) => {
    await join_(1);
    await join_(2);
    t.not(subnets.get(1), subnets.get(2));
    await waitFor('host1 to route to host2', async () => (await routes(1)).includes(subnets.get(2) ?? '?'));
    t.match(await ping(1, 2), /2 received/);
    t.match(await ping(2, 1), /2 received/);
  });

  t.test('a new host is reached by everyone', async (t) => {
    await join_(3);
    for (const i of [1, 2]) await waitFor(`host${i} to route to host3`, async () => (await routes(i)).includes(subnets.get(3) ?? '?'));
    for (const [a, b] of [[1, 3], [3, 1], [2, 3], [3, 2], [1, 2], [2, 1]] as const) t.match(await ping(a, b), /2 received/, `pod${a} → pod${b}`);
  });

  t.test('restarting a daemon under traffic loses no packet and changes nothing', async (t) => {
    const before = await entries(2);
    const traffic = ping(1, 2, ['-c', '80', '-i', '0.05', '-W', '1']);
    await sleep(500);
    const d2 = daemons.get(2);
    // A stop during a pass once killed weftd by a re-raised SIGTERM (execa's signal-exit): say so if it comes back.
    t.equal(await d2?.stop('SIGTERM'), 0, `clean exit (signal ${String(d2?.child.signalCode)}; stderr ${d2?.stderr().slice(-800) ?? ''})`);
    t.equal(await entries(2), before, 'entries stay while the daemon is down');
    const restarted = start(2, ['--log-level', 'debug']);
    const first = await restarted.waitForLog((l) => l.msg === 'data plane in sync' || l.msg === 'data plane changed', 20000, 'the first pass');
    t.equal(first.msg, 'data plane in sync', 'the first pass after a restart has nothing to do');
    t.match(await traffic, /80 packets transmitted, 80 received/);
    t.equal(await entries(2), before);
  });

  t.test('a deleted lease takes the host off its peers until it rejoins (with a fresh subnet.env)', async (t) => {
    const subnet3 = subnets.get(3) ?? '?';
    await etcdctl(['del', `${PREFIX}/subnets/${subnet3.replace('/', '-')}`]);
    t.equal(await daemons.get(3)?.exited, 2, 'host3 exits with 2: lease lost');
    t.notOk(existsSync(subnetFile(3)), 'host3 removed subnet.env before exiting: the plugin answers "not ready" instead of handing out a lost subnet');
    for (const i of [1, 2]) await waitFor(`host${i} to drop host3`, async () => !(await entries(i)).includes(subnet3.replace('/24', '')));
    t.match(await ping(1, 3, ['-c', '1', '-W', '1']), /0 received/);
    await join_(3);
    const rejoined = subnets.get(3) ?? '?';
    await daemons.get(3)?.waitForLog(msgIs('wrote subnet.env'), 20000, 'subnet.env again');
    t.match(readFileSync(subnetFile(3), 'utf8'), `FLANNEL_SUBNET=${rejoined.replace('.0/24', '.1/24')}`, 'subnet.env names the lease host3 holds now');
    for (const i of [1, 2]) await waitFor(`host${i} to route to host3 again`, async () => (await routes(i)).includes(rejoined));
  });
}
