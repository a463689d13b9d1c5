/**
 * weftd against a real etcd (lease-only data plane, so nothing touches the
 * kernel): restart keeps the subnet, SIGTERM keeps the lease, reservations,
 * exhaustion, the expired-then-taken scenario, and lease loss → exit 2.
 */
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { msgIs, runWeftctl, startWeftd, type WeftdProcess } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  let dir: string;
  const running: WeftdProcess[] = [];
  t.before(async () => {
    etcd = await startEtcd();
    dir = await mkdtemp(join(tmpdir(), 'weft-leases-'));
  });
  t.teardown(async () => {
    for (const p of running) await p.stop('SIGKILL');
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let n = 0;
  const prefix = () => `/weft-test-${++n}/network`;
  const weftd = (pfx: string, node: string, extra: string[] = []): WeftdProcess => {
    const p = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', pfx,
      '--node-name', node, '--public-ip', `198.51.100.${10 + Number(node.replace(/\D/g, '') || 0)}`,
      '--subnet-file', join(dir, `${pfx.replace(/\//g, '_')}-${node}.env`), '--subnet-lease-ttl', '1h', ...extra]);
    running.push(p);
    return p;
  };
  const acquired = async (p: WeftdProcess): Promise<string> =>
    String((await p.waitForLog((l) => l.msg === 'acquired subnet lease' || l.msg === 'renewed own subnet lease' || l.msg === 'using reserved subnet', 20000, 'a lease')).subnet);
  const get = async (key: string): Promise<{ value: string; lease: bigint } | undefined> => {
    const raw = await etcd.etcdctl(['get', key, '-w', 'json']);
    const out = JSON.parse(raw) as { kvs?: { value: string }[] };
    const kv = out.kvs?.[0];
    // Lease ids are 64-bit: read them from the text, not through a JS number.
    const lease = /"lease":(\d+)/.exec(raw)?.[1] ?? '0';
    return kv ? { value: Buffer.from(kv.value, 'base64').toString(), lease: BigInt(lease) } : undefined;
  };
  const keyOf = (pfx: string, subnet: string) => `${pfx}/subnets/${subnet.replace('/', '-')}`;

  t.test('lease is flannel JSON with a TTL; restart keeps the subnet; SIGTERM keeps the lease', async (t) => {
    const pfx = prefix();
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.20.0.0/16","Backend":{"Type":"vxlan"}}']);
    const a = weftd(pfx, 'h1');
    const subnet = await acquired(a);
    await a.waitForLog(msgIs('wrote subnet.env'));
    const stored = await get(keyOf(pfx, subnet));
    t.ok(stored, 'lease key exists');
    t.match(stored?.value, /^\{"PublicIP":"198\.51\.100\.11","PublicIPv6":null,"BackendType":"vxlan","BackendData":\{"VNI":1,"VtepMAC":"[0-9a-f:]{17}"\},"NodeName":"h1"\}$/);
    t.not(stored?.lease, 0n, 'key carries an etcd lease');
    const ttl = await etcd.etcdctl(['lease', 'timetolive', (stored?.lease ?? 0n).toString(16)]);
    t.match(ttl, /granted with TTL\(3600s\)/, 'etcdctl lease timetolive shows the TTL');
    const env = await readFile(join(dir, `${pfx.replace(/\//g, '_')}-h1.env`), 'utf8');
    t.equal(env, `FLANNEL_NETWORK=10.20.0.0/16\nFLANNEL_SUBNET=${subnet.replace(/\.0\//, '.1/')}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`);
    t.equal(await a.stop('SIGTERM'), 0, 'clean exit on SIGTERM');
    t.ok(await get(keyOf(pfx, subnet)), 'lease kept after SIGTERM');
    t.match(a.logs.find((l) => l.msg === 'watching leases'), { listedBy: 'lease acquisition' }, 'first start: the watcher starts from the acquisition\'s listing');
    const again = weftd(pfx, 'h1');
    t.equal(await acquired(again), subnet, 'restart gets the same subnet');
    t.match(again.logs.find((l) => l.msg === 'renewed own subnet lease'), { found: 'previous subnet' }, 'found by the key subnet.env names, without a listing');
    t.match(await again.waitForLog(msgIs('watching leases')), { listedBy: 'lease watcher' }, 'so the watcher\'s listing is the only one');
    t.equal(await again.stop('SIGINT'), 0, 'clean exit on SIGINT');
  });

  t.test('expired lease taken by another host is never overwritten', async (t) => {
    const pfx = prefix();
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.21.0.0/16"}']);
    const a = weftd(pfx, 'h1', ['--subnet-lease-ttl', '5s']);
    const subnetA = await acquired(a);
    await a.waitForLog(msgIs('wrote subnet.env'));
    await a.stop('SIGKILL');
    // Wait for etcd to expire A's lease.
    for (let i = 0; i < 100 && (await get(keyOf(pfx, subnetA))); i++) await new Promise((r) => setTimeout(r, 200));
    t.notOk(await get(keyOf(pfx, subnetA)), 'A\'s lease expired while A was away');
    // B takes A's old subnet (its previous subnet from subnet.env says so).
    await writeFile(join(dir, `${pfx.replace(/\//g, '_')}-h2.env`),
      `FLANNEL_NETWORK=10.21.0.0/16\nFLANNEL_SUBNET=${subnetA.replace(/\.0\//, '.1/')}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`);
    const b = weftd(pfx, 'h2');
    t.equal(await acquired(b), subnetA, 'B got the subnet A used to have');
    const valueB = (await get(keyOf(pfx, subnetA)))?.value;
    const a2 = weftd(pfx, 'h1');
    const subnetA2 = await acquired(a2);
    t.not(subnetA2, subnetA, 'A acquired a different subnet');
    t.equal((await get(keyOf(pfx, subnetA)))?.value, valueB, 'B\'s lease is untouched');
    await a2.stop();
    await b.stop();
  });

  t.test('reservation: kept without TTL by its host, never given to another', async (t) => {
    const pfx = prefix();
    // Network with exactly two usable subnets: 10.22.0.4/30 and 10.22.0.8/30 (SubnetMin skips the first).
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.22.0.0/28","SubnetLen":30,"SubnetMax":"10.22.0.8"}']);
    const ctl = await runWeftctl(['reserve', '10.22.0.4/30', '--public-ip', '198.51.100.15',
      '--node-name', 'h5', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', pfx]);
    t.equal(ctl.code, 0, 'weftctl reserve succeeds');
    t.match(ctl.stdout, /reserved for h5/);
    const other = weftd(pfx, 'h6');
    t.equal(await acquired(other), '10.22.0.8/30', 'the other host does not get the reserved subnet');
    const h5 = weftd(pfx, 'h5');
    t.equal(await acquired(h5), '10.22.0.4/30', 'the named host gets its reservation');
    const stored = await get(keyOf(pfx, '10.22.0.4/30'));
    t.equal(stored?.lease, 0n, 'still a reservation: no etcd lease attached');
    t.match(stored?.value, /"VtepMAC":"[0-9a-f:]{17}".*"NodeName":"h5"/, 'value updated with the host\'s VTEP MAC');
    const third = weftd(pfx, 'h7');
    t.equal(await third.exited, 1, 'a third host exits 1: no free subnet');
    t.match(third.stderr(), /no free subnet in network 10\.22\.0\.0\/28: all 2 subnets of \/30 between SubnetMin 10\.22\.0\.4 and SubnetMax 10\.22\.0\.8 are leased or reserved/);
    const table = await runWeftctl(['leases', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', pfx]);
    t.match(table.stdout, /10\.22\.0\.4\/30\s+h5\s+198\.51\.100\.15\s+[0-9a-f:]{17}\s+reservation/);
    t.match(table.stdout, /10\.22\.0\.8\/30\s+h6\s+198\.51\.100\.16\s+[0-9a-f:]{17}\s+\d+m\d+s|10\.22\.0\.8\/30\s+h6\s+198\.51\.100\.16\s+[0-9a-f:]{17}\s+\d+h/);
    await h5.stop();
    t.equal((await get(keyOf(pfx, '10.22.0.4/30')))?.lease, 0n, 'reservation survives its host stopping');
    await other.stop();
  });

  t.test('own lease deleted or taken over while running → exit 2', async (t) => {
    const pfx = prefix();
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.23.0.0/16"}']);
    const a = weftd(pfx, 'h1');
    const subnet = await acquired(a);
    await a.waitForLog(msgIs('wrote subnet.env'));
    await etcd.etcdctl(['del', keyOf(pfx, subnet)]);
    t.equal(await a.exited, 2, 'exit code 2 when the lease is deleted');
    t.ok(a.logs.some((l) => l.msg === 'lease lost; exiting so the supervisor restarts weftd' && /deleted/.test(String(l.reason))), 'logged clearly');

    const b = weftd(pfx, 'h2');
    const subnetB = await acquired(b);
    await b.waitForLog(msgIs('wrote subnet.env'));
    await etcd.etcdctl(['put', keyOf(pfx, subnetB),
      '{"PublicIP":"198.51.100.99","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:99"},"NodeName":"intruder"}']);
    t.equal(await b.exited, 2, 'exit code 2 when another host takes the lease over');
    t.ok(b.logs.some((l) => /taken over by node intruder/.test(String(l.reason))), 'names the new holder');
  });

  t.test('flannel prefix: joins a flannel cluster and keeps flannel leases', async (t) => {
    const pfx = `/coreos.com/network-${n}`;
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.24.0.0/16","Backend":{"Type":"vxlan"}}']);
    await etcd.etcdctl(['put', `${pfx}/subnets/10.24.7.0-24`,
      '{"PublicIP":"198.51.100.77","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}']);
    const a = weftd(pfx, 'h1');
    const subnet = await acquired(a);
    t.not(subnet, '10.24.7.0/24', 'does not take the flannel host\'s subnet');
    const peers = await a.waitForLog((l) => l.msg === 'peer set changed', 10000, 'peer set');
    t.equal(peers.peers, 1, 'the flannel host is a peer');
    await a.stop();
  });
}
