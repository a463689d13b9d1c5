/**
 * The multi-host rig itself: namespaces, underlay, etcd in the switch
 * namespace reachable from every host, pods, and a teardown that leaves
 * nothing behind (also through the CLI, which runs etcd detached).
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import t from 'tap';
import type { Cidr } from '../../src/core/cidr.js';
import { requirePrerequisites } from '../helpers/require.js';
import { repoRoot } from '../helpers/fixtures.js';
import { isAlive, listNetnsSync, netnsPidsSync, uniquePrefix } from '../rig/netns.js';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';
import { teardownPrefixSync } from '../rig/teardown.js';

/** The root namespace's IPv4 addresses and routes: the rig must never change them. */
async function rootNetwork(): Promise<string> {
  const [addr, route] = await Promise.all([execa('ip', ['-4', '-j', 'addr', 'show']), execa('ip', ['-4', '-j', 'route', 'show', 'table', 'all'])]);
  return addr.stdout + route.stdout;
}

if (requirePrerequisites(t, ['ip', 'etcd', 'etcdctl', 'ping', 'sysctl'], true)) {
  const rootBefore = await rootNetwork();

  t.test('3 hosts with etcd in the switch namespace, pods, then a clean teardown', async (t) => {
    const rig = await Rig.up({ hosts: 3, pods: 1 });
    t.teardown(() => rig.down());
    t.same(listNetnsSync(rig.prefix).sort(), [`${rig.prefix}-h1`, `${rig.prefix}-h2`, `${rig.prefix}-h3`, `${rig.prefix}-sw`]);
    t.same(rig.hosts.map((h) => [h.nodeName, h.address]), [['host1', '192.0.2.11'], ['host2', '192.0.2.12'], ['host3', '192.0.2.13']]);
    t.equal(rig.etcdEndpoint, ETCD_ENDPOINT);

    const etcdctl = (netns: string, args: string[]): Promise<string> =>
      rig.exec(netns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, '--command-timeout', '5s', ...args]);
    t.equal(await etcdctl(rig.host(1).netns, ['put', '/weft/rig-test', 'from-host1']), 'OK');
    for (const host of rig.hosts) t.equal(await etcdctl(host.netns, ['get', '--print-value-only', '/weft/rig-test']), 'from-host1', host.nodeName);
    t.match(await rig.exec(rig.host(3).netns, 'ping', ['-c1', '-W2', '192.0.2.11']), /1 received/, 'underlay host3 → host1');
    t.equal(await rig.exec(rig.host(2).netns, 'sysctl', ['-n', 'net.ipv4.ip_forward']), '1');

    const pods = await rig.attachPods(2, '10.5.2.0/24' as Cidr, 1450);
    t.match(pods, [{ netns: `${rig.prefix}-h2p1`, address: '10.5.2.2', gateway: '10.5.2.1', hostIndex: 2 }]);
    t.match(await rig.exec(pods[0]?.netns ?? '', 'ping', ['-c1', '-W2', '10.5.2.1']), /1 received/, 'pod → its cni0 gateway');
    t.match(await rig.exec(rig.host(2).netns, 'ip', ['-o', 'link', 'show', 'cni0']), /mtu 1450/);

    const etcdPids = netnsPidsSync(rig.switchNetns);
    t.ok(etcdPids.length > 0, 'etcd runs in the switch namespace');
    const sleeper = rig.spawnIn(rig.host(1).netns, 'sleep', ['600']);
    const report = await rig.down();
    t.same(listNetnsSync(rig.prefix), [], 'no namespace with the prefix is left');
    t.ok(report.killed.includes(sleeper.pid ?? -1), 'processes started in the rig are stopped');
    for (const pid of [...etcdPids, sleeper.pid ?? -1]) t.notOk(isAlive(pid), `pid ${pid} is gone`);
    t.equal(await rootNetwork(), rootBefore, 'the root namespace is unchanged');
  });

  t.test('the CLI: up (detached etcd), attach, down', async (t) => {
    const prefix = uniquePrefix('wc');
    t.teardown(() => { teardownPrefixSync(prefix); });
    const cli = `${repoRoot()}/dist/test/rig/rig-cli.js`;
    const run = async (args: string[]): Promise<unknown> =>
      JSON.parse((await execa(process.execPath, [cli, ...args], { env: { NODE_OPTIONS: '' } })).stdout) as unknown;
    const up = await run(['up', '--prefix', prefix, '--hosts', '2', '--pods', '2']) as { stateDir: string; hosts: { netns: string }[] };
    t.equal(up.hosts.length, 2);
    t.same(listNetnsSync(prefix).length, 3);
    const pods = await run(['attach', '--prefix', prefix, '--host', '1', '--subnet', '10.5.1.0/24', '--mtu', '1450']);
    t.match(pods, [{ address: '10.5.1.2' }, { address: '10.5.1.3' }]);
    t.match((await execa('ip', ['netns', 'exec', `${prefix}-h2`, 'etcdctl', '--endpoints', ETCD_ENDPOINT, 'endpoint', 'health'])).stderr
      + (await execa('ip', ['netns', 'exec', `${prefix}-h2`, 'etcdctl', '--endpoints', ETCD_ENDPOINT, 'endpoint', 'health'])).stdout, /is healthy/,
      'the detached etcd outlived `up`');
    const etcdPids = netnsPidsSync(`${prefix}-sw`);
    const down = await run(['down', '--prefix', prefix]) as { namespaces: string[]; killed: number[] };
    t.equal(down.namespaces.length, 5);
    t.same(listNetnsSync(prefix), []);
    for (const pid of etcdPids) t.notOk(isAlive(pid), `etcd ${pid} is gone`);
    t.notOk(existsSync(up.stateDir), 'the state dir is removed');
  });
}
