/**
 * weftd follows its underlay (flannel #2247 and its follow-up crash #2433),
 * with the real weftd on three rig hosts, pods on each, etcd in the switch
 * namespace:
 *   - host2's eth0 is readdressed (new address added, old one deleted, as a
 *     DHCP renewal or an operator does): host2's lease in etcd carries the new
 *     PublicIP on the same key and etcd lease, host1's and host3's FDB entries
 *     for host2's VTEP MAC point at it, weft.1's local is it, and pod pings
 *     between host1 and host2 resume within a bounded number of attempts;
 *   - host2's eth0 is deleted (a VLAN restart, a bond failover) and made
 *     again with the same name and address: meanwhile weftd keeps running,
 *     its lease stays in etcd and it says it waits; afterwards weft.1 sits on
 *     the new eth0 (new ifindex) and pods reach each other again;
 *   - with --public-ip, the flag's address removed from the interface is
 *     waited for (logged, in weftctl status and the metric), never replaced
 *     by the interface's other address, and followed again when it is back;
 *   - NATed traffic across nodes with the default checksum offload (off) and
 *     --ip-masq: a pod on host1 reaches host3's underlay address (ping and a
 *     TCP connection), and host3 sees host1's address as the source.
 * Everything lives in the rig's namespaces; the rig's teardown removes them
 * (also on failure).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import t from 'tap';
import { metric } from '../helpers/metrics.js';
import { requirePrerequisites } from '../helpers/require.js';
import { HEALTHZ_PORT, PREFIX, startWeftCluster } from '../helpers/weft-cluster.js';
import { childEnv, msgIs, startWeftd } from '../helpers/weftd-process.js';
import { ETCD_ENDPOINT, UNDERLAY_GATEWAY } from '../rig/rig.js';

const DEVICE = 'weft.1';
/** host2's address after the readdress (and when its eth0 is made again). */
const NEW_B = '192.0.2.42';

if (requirePrerequisites(t, ['ip', 'bridge', 'etcd', 'etcdctl', 'ping', 'sysctl', 'iptables', 'ethtool'], true)) {
  const started = Date.now();
  const c = await startWeftCluster({
    hosts: 3,
    config: { Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } },
    weftdArgs: ['--resync-interval', '2s', '--ip-masq'],
  });
  t.teardown(async () => {
    await c.stop();
    t.comment(`underlay-change tests took ${Math.round((Date.now() - started) / 1000)} s`);
  });
  const { rig } = c;
  for (const i of [1, 2, 3]) await rig.attachPodsFromSubnetFile(i, c.subnetFile(i), 1);
  const pod = (i: number): { netns: string; address: string } => {
    const p = rig.host(i).pods[0];
    if (!p) throw new Error(`host${i} has no pod`);
    return p;
  };
  const inPod = (i: number, file: string, args: readonly string[]) =>
    execa('ip', ['netns', 'exec', pod(i).netns, file, ...args], { reject: false, env: childEnv(), timeout: 20_000 });
  const pingOnce = async (from: number, to: string): Promise<boolean> => (await inPod(from, 'ping', ['-c', '1', '-W', '1', to])).exitCode === 0;
  /** Attempts (1 s each at most) until one ping gets through; Infinity when none of `max` did. */
  const attemptsUntilPing = async (from: number, to: string, max: number): Promise<number> => {
    for (let n = 1; n <= max; n++) {
      if (await pingOnce(from, to)) return n;
      await sleep(200);
    }
    return Infinity;
  };
  const leaseKey = (i: number): string => `${PREFIX}/subnets/${c.subnet(i).replace('/', '-')}`;
  const leaseValue = async (i: number): Promise<Record<string, unknown>> => {
    const out = await c.etcdctl(['get', '--print-value-only', leaseKey(i)]);
    return out.trim() === '' ? {} : JSON.parse(out) as Record<string, unknown>;
  };
  const leaseId = async (i: number): Promise<string> => {
    const json = JSON.parse(await c.etcdctl(['get', '-w', 'json', leaseKey(i)])) as { kvs?: { lease?: number | string }[] };
    return String(json.kvs?.[0]?.lease ?? 'none');
  };
  const vtepMac = async (i: number): Promise<string> => String(((await leaseValue(i))['BackendData'] as { VtepMAC?: string } | undefined)?.VtepMAC);
  const fdbDst = async (on: number, mac: string): Promise<string | undefined> =>
    (/ dst (\S+)/.exec((await c.sh(on, 'bridge', ['fdb', 'show', 'dev', DEVICE])).split('\n').find((l) => l.startsWith(mac)) ?? '')?.[1]);
  const device = async (i: number): Promise<{ ifindex: number; local: string | undefined; link: string | undefined } | undefined> => {
    const r = await execa('ip', ['-n', rig.host(i).netns, '-j', '-d', 'link', 'show', DEVICE], { reject: false });
    if (r.exitCode !== 0) return undefined;
    const [link] = JSON.parse(r.stdout) as { ifindex: number; linkinfo?: { info_data?: { local?: string; link?: string } } }[];
    return link ? { ifindex: link.ifindex, local: link.linkinfo?.info_data?.local, link: link.linkinfo?.info_data?.link } : undefined;
  };
  const ifindex = async (i: number, name: string): Promise<number> =>
    (JSON.parse(await c.sh(i, 'ip', ['-j', 'link', 'show', name])) as { ifindex: number }[])[0]?.ifindex ?? -1;
  const metrics = async (i: number): Promise<string> => (await execa('ip', ['netns', 'exec', rig.host(i).netns, process.execPath, '-e',
    `fetch('http://127.0.0.1:${HEALTHZ_PORT}/metrics').then((r) => r.text()).then((b) => process.stdout.write(b))`], { env: childEnv() })).stdout;
  const daemon = (i: number) => {
    const d = c.daemons.get(i);
    if (!d) throw new Error(`no weftd on host${i}`);
    return d;
  };

  await c.waitFor('every host routes to every other', async () => {
    for (const i of [1, 2, 3]) {
      const routes = await c.sh(i, 'ip', ['-4', 'route', 'show', 'dev', DEVICE]);
      for (const j of [1, 2, 3]) if (j !== i && !routes.includes(c.subnet(j))) return false;
    }
    return true;
  }, 20_000);

  t.test('host2 readdressed: lease, peers\' FDB, device local and pod traffic follow', async (t) => {
    t.equal(await attemptsUntilPing(1, pod(2).address, 5), 1, 'pod1 → pod2 before the move');
    const oldB = rig.host(2).address;
    const mac = await vtepMac(2);
    const etcdLease = await leaseId(2);
    t.equal(await fdbDst(1, mac), oldB, 'host1 sends host2\'s VTEP traffic to its old address');
    // NetworkManager and networkd promote a secondary address when the primary goes; the kernel's default would drop both.
    await c.sh(2, 'sysctl', ['-qw', 'net.ipv4.conf.eth0.promote_secondaries=1']);
    await c.sh(2, 'ip', ['addr', 'add', `${NEW_B}/24`, 'dev', 'eth0']);
    await c.sh(2, 'ip', ['addr', 'del', `${oldB}/24`, 'dev', 'eth0']);
    await c.sh(2, 'ip', ['route', 'replace', 'default', 'via', UNDERLAY_GATEWAY]);

    await c.waitFor('host2\'s lease to carry the new PublicIP', async () => (await leaseValue(2))['PublicIP'] === NEW_B, 20_000);
    t.equal(await leaseId(2), etcdLease, 'the same key on the same etcd lease (updated in place, not re-acquired)');
    t.equal(await vtepMac(2), mac, 'the VTEP MAC is unchanged');
    t.equal((await device(2))?.local, NEW_B, 'host2\'s weft.1 sends from the new address');
    for (const i of [1, 3]) await c.waitFor(`host${i}'s FDB entry for host2 to point at ${NEW_B}`, async () => (await fdbDst(i, mac)) === NEW_B, 15_000);
    const attempts = await attemptsUntilPing(1, pod(2).address, 20);
    t.ok(attempts <= 20, `pod1 → pod2 works again (after ${attempts} attempts)`);
    t.ok(await attemptsUntilPing(2, pod(1).address, 20) <= 20, 'pod2 → pod1 works again');
    const burst = await inPod(1, 'ping', ['-c', '20', '-i', '0.05', '-W', '1', pod(2).address]);
    t.match(burst.stdout, /20 packets transmitted, 20 received/, 'once moved, nothing is lost');
    t.equal(daemon(2).child.exitCode, null, 'weftd on host2 is still running');
    const body = await metrics(2);
    t.equal(metric(body, 'weft_underlay_changes_total'), 1, 'one underlay change followed');
    t.equal(metric(body, 'weft_own_lease_corrections_total'), 0, 'its own update was never taken for drift and written back');
    t.match(body, new RegExp(`weft_underlay_info\\{[^}]*public_ip="${NEW_B.replaceAll('.', '\\.')}"`), 'the metric shows the new address');
    const status = await c.weftctl(2, 'status');
    t.equal(status.code, 0, `weftctl status on host2 is in sync: ${status.stdout}`);
  });

  t.test('host2\'s eth0 gone and made again: weftd waits, keeps its lease, then re-creates weft.1 on the new interface', async (t) => {
    const etcdLease = await leaseId(2);
    const eth0Before = await ifindex(2, 'eth0');
    const deviceBefore = await device(2);
    t.ok(deviceBefore, 'weft.1 exists before');
    // Deleting one end of the veth deletes both; the kernel deletes weft.1 with its parent.
    await c.sh(2, 'ip', ['link', 'del', 'eth0']);
    await daemon(2).waitForLog(msgIs('underlay interface not usable; keeping the lease and every kernel entry, retrying'), 10_000, 'the wait');
    await sleep(5000); // two resync intervals and more without the interface
    t.equal(daemon(2).child.exitCode, null, 'weftd on host2 is still running without its interface');
    t.equal((await leaseValue(2))['PublicIP'], NEW_B, 'its lease is still in etcd');
    t.equal(await leaseId(2), etcdLease, 'on the same etcd lease');
    t.equal(metric(await metrics(2), 'weft_underlay_waiting'), 1, 'the metric says it waits');
    const health = await execa('ip', ['netns', 'exec', rig.host(2).netns, process.execPath, '-e',
      `fetch('http://127.0.0.1:${HEALTHZ_PORT}/healthz').then(async (r) => process.stdout.write(r.status + ' ' + await r.text()))`], { env: childEnv() });
    t.match(health.stdout, /^200 /, 'waiting for the underlay is not unhealthy (a restart would not help)');

    // A VLAN restart or bond failover: the same name and address on a new link.
    await execa('ip', ['-n', rig.switchNetns, 'link', 'add', 'u2', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', rig.host(2).netns]);
    await execa('ip', ['-n', rig.switchNetns, 'link', 'set', 'u2', 'master', 'br0', 'up']);
    await c.sh(2, 'ip', ['addr', 'add', `${NEW_B}/24`, 'dev', 'eth0']);
    await c.sh(2, 'ip', ['link', 'set', 'eth0', 'up']);
    await c.sh(2, 'ip', ['route', 'replace', 'default', 'via', UNDERLAY_GATEWAY]);
    const eth0After = await ifindex(2, 'eth0');
    t.not(eth0After, eth0Before, 'eth0 is a new interface');

    await c.waitFor('weft.1 on the new eth0', async () => (await device(2))?.link === 'eth0', 15_000);
    const deviceAfter = await device(2);
    t.not(deviceAfter?.ifindex, deviceBefore?.ifindex, 'weft.1 was made again');
    t.equal(deviceAfter?.local, NEW_B, 'with the same local address');
    const attempts = await attemptsUntilPing(1, pod(2).address, 20);
    t.ok(attempts <= 20, `pod1 → pod2 works again (after ${attempts} attempts)`);
    t.ok(await attemptsUntilPing(2, pod(3).address, 20) <= 20, 'pod2 → pod3 works again');
    t.equal(metric(await metrics(2), 'weft_underlay_waiting'), 0, 'no longer waiting');
    t.equal(metric(await metrics(2), 'weft_underlay_changes_total'), 2, 'two underlay changes followed');
    t.equal(await leaseId(2), etcdLease, 'still the same etcd lease');
  });

  t.test('NATed traffic across nodes with the default checksum offload: pod on host1 → host3\'s address', async (t) => {
    t.match(await c.sh(1, 'ethtool', ['-k', DEVICE]), /tx-checksum-ip-generic: off/, 'the default offload setting (off) is on weft.1');
    const hostC = rig.host(3).address;
    t.ok(await attemptsUntilPing(1, hostC, 5) <= 5, `pod1 pings host3's underlay address ${hostC}`);
    const port = 7077;
    // A TCP server in host3 that answers with the address it sees the client at.
    const server = rig.spawnIn(rig.host(3).netns, process.execPath, ['-e',
      `require('net').createServer((s) => s.end(s.remoteAddress + '\\n')).listen(${port}, '${hostC}', () => console.log('listening'))`], { env: childEnv() });
    await new Promise<void>((resolve, reject) => {
      server.stdout?.once('data', () => resolve());
      server.once('exit', (code) => reject(new Error(`the TCP server exited (${String(code)})`)));
    });
    const client = await inPod(1, process.execPath, ['-e',
      `const s = require('net').connect(${port}, '${hostC}'); let b = ''; s.on('data', (d) => { b += d; }); s.on('end', () => { process.stdout.write(b); process.exit(0); }); s.on('error', (e) => { console.error(e.message); process.exit(1); }); setTimeout(() => process.exit(2), 5000);`]);
    t.equal(client.exitCode, 0, `the TCP connection succeeded: ${client.stderr}`);
    t.equal(client.stdout.trim(), rig.host(1).address, 'host3 saw host1\'s address: the pod\'s traffic was masqueraded, and the reply came back through it');
    server.kill('SIGTERM');
  });

  t.test('--public-ip: the flag\'s address gone from the interface is waited for, never replaced', async (t) => {
    const hostC = rig.host(3).address;
    await daemon(3).stop('SIGTERM');
    const d3 = startWeftd(['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', c.subnetFile(3), '--node-name', 'host3',
      '--iface', 'eth0', '--healthz-port', String(HEALTHZ_PORT), '--resync-interval', '2s', '--ip-masq', '--public-ip', hostC], { netns: rig.host(3).netns });
    c.daemons.set(3, d3);
    await d3.waitForLog((l) => l.msg === 'first reconcile pass done; ready', 20_000, 'host3 ready again');
    const other = '192.0.2.53';
    await c.sh(3, 'sysctl', ['-qw', 'net.ipv4.conf.eth0.promote_secondaries=1']);
    await c.sh(3, 'ip', ['addr', 'add', `${other}/24`, 'dev', 'eth0']);
    await c.sh(3, 'ip', ['addr', 'del', `${hostC}/24`, 'dev', 'eth0']);
    await c.sh(3, 'ip', ['route', 'replace', 'default', 'via', UNDERLAY_GATEWAY]);
    const wait = await d3.waitForLog(msgIs('underlay interface not usable; keeping the lease and every kernel entry, retrying'), 10_000, 'the wait');
    t.match(String(wait['reason']), `--public-ip ${hostC} is not an address of eth0 any more (it has ${other})`, 'the log says why');
    await sleep(3000); // a resync and more
    t.equal((await leaseValue(3))['PublicIP'], hostC, 'the lease keeps the flag\'s address');
    t.equal((await device(3))?.local, hostC, 'weft.1 keeps it too');
    t.equal(metric(await metrics(3), 'weft_underlay_waiting'), 1);
    const status = await c.weftctl(3, 'status');
    t.equal(status.code, 1, 'weftctl status is not in sync');
    t.match(status.stdout, `underlay    eth0: ${other}`);
    t.match(status.stdout, `the lease's public IP ${hostC} is not on eth0 (it has ${other})`);

    await c.sh(3, 'ip', ['addr', 'add', `${hostC}/24`, 'dev', 'eth0']);
    await c.waitFor('host3 to stop waiting', async () => metric(await metrics(3), 'weft_underlay_waiting') === 0, 15_000);
    t.equal(metric(await metrics(3), 'weft_underlay_changes_total'), 0, 'nothing to follow: the address never changed');
    t.equal((await leaseValue(3))['PublicIP'], hostC);
    t.ok(await attemptsUntilPing(1, pod(3).address, 20) <= 20, 'pod1 → pod3 works');
  });
}
