/**
 * Issue 8, lease side, with a real etcd and the real weftd (lease-only data
 * plane, so nothing touches the kernel): one node name = one running host,
 * a restart (also with a new public IP) keeps its subnet, our own lease
 * value is written back when someone changes it, a lost lease takes
 * subnet.env with it, and subnet.env naming another subnet is removed.
 * Every weftd here runs in the root namespace of one host, so each gets its
 * own --instance-id (what boot id + netns give real hosts).
 */
import t from 'tap';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { type LogLine, msgIs, startWeftd, type WeftdProcess } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

const PRESENCE_TTL_S = 3;

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  let dir: string;
  const running: WeftdProcess[] = [];
  t.before(async () => {
    etcd = await startEtcd();
    dir = await mkdtemp(join(tmpdir(), 'weft-identity-'));
  });
  t.teardown(async () => {
    for (const p of running) await p.stop('SIGKILL');
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  let n = 0;
  const prefix = () => `/weft-identity-${++n}/network`;
  const envFile = (pfx: string, host: string) => join(dir, `${pfx.replace(/\//g, '_')}-${host}.env`);
  /** weftd for `host` (its instance, its subnet.env) under node name `node`. */
  const weftd = (pfx: string, host: string, node: string, ip: string, extra: string[] = []): WeftdProcess => {
    const p = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', pfx,
      '--node-name', node, '--public-ip', ip, '--subnet-file', envFile(pfx, host), '--subnet-lease-ttl', '1h',
      ...extra], { env: { WEFTD_NODE_PRESENCE_TTL: `${PRESENCE_TTL_S}s`, WEFTD_INSTANCE_ID: `instance-${host}` } });
    running.push(p);
    return p;
  };
  const leased = (l: LogLine) => l.msg === 'acquired subnet lease' || l.msg === 'renewed own subnet lease';
  const acquired = async (p: WeftdProcess): Promise<string> => String((await p.waitForLog(leased, 20000, 'a lease')).subnet);
  const get = async (key: string): Promise<{ value: string; lease: string } | undefined> => {
    const raw = await etcd.etcdctl(['get', key, '-w', 'json']);
    const out = JSON.parse(raw) as { kvs?: { value: string }[] };
    const kv = out.kvs?.[0];
    const lease = /"lease":(\d+)/.exec(raw)?.[1] ?? '0';
    return kv ? { value: Buffer.from(kv.value, 'base64').toString(), lease } : undefined;
  };
  const keyOf = (pfx: string, subnet: string) => `${pfx}/subnets/${subnet.replace('/', '-')}`;
  const exists = (path: string) => access(path).then(() => true, () => false);
  const config = (pfx: string, network: string) => etcd.etcdctl(['put', `${pfx}/config`, JSON.stringify({ Network: network, Backend: { Type: 'vxlan' } })]);

  t.test('a second host with the same node name fails with the conflict and the fix; the first keeps its lease', async (t) => {
    const pfx = prefix();
    await config(pfx, '10.40.0.0/16');
    const first = weftd(pfx, 'hostA', 'web1', '198.51.100.11');
    const subnet = await acquired(first);
    await first.waitForLog(msgIs('wrote subnet.env'));
    const before = await get(keyOf(pfx, subnet));
    const presence = await get(`${pfx}/weft-nodes/web1`);
    t.match(presence?.value, /"InstanceID":"instance-hostA","PublicIP":"198\.51\.100\.11"/, 'presence key names the holder');
    t.ok(presence !== undefined && presence.lease !== '0', 'presence key lives on an etcd lease');
    t.notOk((await etcd.etcdctl(['get', '--prefix', `${pfx}/subnets/`, '--keys-only'])).includes('weft-nodes'), 'presence key is outside subnets/');

    const second = weftd(pfx, 'hostB', 'web1', '198.51.100.12');
    await second.waitForLog(msgIs('node name is held by another weftd instance; waiting to see whether it is gone (it expires one TTL after its holder died)'), 10000, 'the wait');
    const started = Date.now();
    t.equal(await second.exited, 1, 'the second host exits 1');
    t.ok(Date.now() - started >= PRESENCE_TTL_S * 1000, 'it waited about 1.5x the presence TTL first');
    t.match(second.stderr(), /node name "web1" is already in use by another running host \(public IP 198\.51\.100\.11/, 'names the name and the other host');
    t.match(second.stderr(), /give each host a unique --node-name \(or WEFTD_NODE_NAME\)/, 'says the fix');
    t.notOk(second.logs.some(leased), 'the second host never touched a lease');
    t.same(await get(keyOf(pfx, subnet)), before, 'the first host\'s lease (value and etcd lease) is untouched');
    t.ok(await exists(envFile(pfx, 'hostA')), 'the first host\'s subnet.env is still there');
    t.equal(first.child.exitCode, null, 'the first host keeps running');
    t.equal(await first.stop(), 0);
  });

  t.test('restart keeps the subnet, also with a new public IP; a crashed host\'s name is free again after its TTL', async (t) => {
    const pfx = prefix();
    await config(pfx, '10.41.0.0/16');
    const a = weftd(pfx, 'hostA', 'db1', '198.51.100.21');
    const subnet = await acquired(a);
    await a.waitForLog(msgIs('wrote subnet.env'));
    t.equal(await a.stop('SIGTERM'), 0);
    t.notOk(await get(`${pfx}/weft-nodes/db1`), 'a clean stop releases the node name');

    // DHCP gave the host another address.
    const b = weftd(pfx, 'hostA', 'db1', '198.51.100.22');
    t.equal(await acquired(b), subnet, 'same subnet after a restart with a new public IP');
    t.match((await get(keyOf(pfx, subnet)))?.value, /"PublicIP":"198\.51\.100\.22"/, 'lease carries the new address');
    await b.waitForLog(msgIs('first reconcile pass done; ready'));

    // Crash, then the same host again: its own instance takes the name over at once.
    await b.stop('SIGKILL');
    const c = weftd(pfx, 'hostA', 'db1', '198.51.100.22');
    const t0 = Date.now();
    t.equal(await acquired(c), subnet, 'same subnet after a crash');
    t.ok(c.logs.some(msgIs('took over our node name from our previous run on this host')), 'took its own name over');
    t.ok(Date.now() - t0 < PRESENCE_TTL_S * 1000, 'without waiting for the TTL');
    await c.waitForLog(msgIs('first reconcile pass done; ready'));

    // Crash, then the host comes back rebooted (another instance): it waits for the old key to expire, then keeps the subnet.
    await c.stop('SIGKILL');
    const d = weftd(pfx, 'hostA-rebooted', 'db1', '198.51.100.23');
    await writeFile(envFile(pfx, 'hostA-rebooted'), await readFile(envFile(pfx, 'hostA'), 'utf8'));
    t.equal(await acquired(d), subnet, 'same subnet after a reboot');
    t.ok(d.logs.some(msgIs('claimed node name')), 'claimed the name once the crashed instance\'s key expired');
    t.equal(await d.stop(), 0);
  });

  t.test('our lease value changed in etcd (same node name) is written back, on the same etcd lease', async (t) => {
    const pfx = prefix();
    await config(pfx, '10.42.0.0/16');
    const a = weftd(pfx, 'hostA', 'app1', '198.51.100.31');
    const subnet = await acquired(a);
    await a.waitForLog(msgIs('wrote subnet.env'));
    const ours = await get(keyOf(pfx, subnet));
    const forged = ours?.value.replace('198.51.100.31', '198.51.100.99').replace(/"VtepMAC":"[0-9a-f:]+"/, '"VtepMAC":"02:00:00:00:00:99"') ?? '';
    t.not(forged, ours?.value);
    const t0 = Date.now();
    // A script that edits the value and keeps the key's etcd lease.
    await etcd.etcdctl(['put', `--lease=${BigInt(ours?.lease ?? '0').toString(16)}`, keyOf(pfx, subnet), forged]);
    await a.waitForLog(msgIs('wrote our true lease value back'), 10000, 'the write-back');
    t.ok(Date.now() - t0 < 5000, `corrected within a few seconds (${Date.now() - t0} ms)`);
    const now = await get(keyOf(pfx, subnet));
    t.equal(now?.value, ours?.value, 'our true value is back');
    t.equal(now?.lease, ours?.lease, 'still on our etcd lease (renewals keep working)');
    // A plain `etcdctl put` drops the etcd lease: weft treats our key as a reservation now (as after
    // `weftctl reserve --force`), and the write-back keeps it one.
    const corrections = a.logs.filter(msgIs('wrote our true lease value back')).length;
    await etcd.etcdctl(['put', keyOf(pfx, subnet), forged]);
    const deadline = Date.now() + 10000;
    while (a.logs.filter(msgIs('wrote our true lease value back')).length === corrections && Date.now() < deadline) await sleep(100);
    const reserved = await get(keyOf(pfx, subnet));
    t.equal(reserved?.value, ours?.value, 'our true value is back again');
    t.equal(reserved?.lease, '0', 'kept as a reservation');
    t.ok(a.logs.some((l) => l.msg === 'our own lease value in etcd was changed; writing our true value back' && /PublicIP 198\.51\.100\.99/.test(String(l.reason))), 'warned with what changed');
    t.equal(a.child.exitCode, null, 'still running');
    t.equal(await a.stop(), 0);
  });

  t.test('our key taken by another node name: exit 2 and subnet.env removed first', async (t) => {
    const pfx = prefix();
    await config(pfx, '10.43.0.0/16');
    const a = weftd(pfx, 'hostA', 'app2', '198.51.100.41');
    const subnet = await acquired(a);
    await a.waitForLog(msgIs('wrote subnet.env'));
    t.ok(await exists(envFile(pfx, 'hostA')));
    await etcd.etcdctl(['put', keyOf(pfx, subnet),
      '{"PublicIP":"198.51.100.99","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:99"},"NodeName":"intruder"}']);
    t.equal(await a.exited, 2, 'exit 2');
    t.notOk(await exists(envFile(pfx, 'hostA')), 'subnet.env is gone: the CNI plugin answers "not ready"');
    t.ok(a.logs.some((l) => /taken over by node intruder/.test(String(l.reason))), 'names the new holder');
    t.ok(a.logs.some(msgIs('removed subnet.env: this host no longer holds its subnet')));
  });

  t.test('subnet.env naming a subnet this host does not get is removed before the new lease is taken', async (t) => {
    const pfx = prefix();
    await config(pfx, '10.44.0.0/16');
    const other = weftd(pfx, 'hostO', 'other', '198.51.100.51');
    const taken = await acquired(other);
    // hostA's file names the subnet another host holds now.
    await writeFile(envFile(pfx, 'hostA'), `FLANNEL_NETWORK=10.44.0.0/16\nFLANNEL_SUBNET=${taken.replace(/\.0\//, '.1/')}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`);
    const a = weftd(pfx, 'hostA', 'app3', '198.51.100.52');
    const subnet = await acquired(a);
    t.not(subnet, taken, 'another subnet');
    const removed = a.logs.findIndex(msgIs('removed subnet.env: it names a subnet this host is not taking'));
    t.ok(removed >= 0 && removed < a.logs.findIndex(leased), 'the stale file was removed before the lease was taken');
    await a.waitForLog(msgIs('wrote subnet.env'));
    t.match(await readFile(envFile(pfx, 'hostA'), 'utf8'), `FLANNEL_SUBNET=${subnet.replace(/\.0\//, '.1/')}`);
    await a.stop();
    await other.stop();
  });

  t.test('a start-up that gets no lease releases the node name at once', async (t) => {
    const pfx = prefix();
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.47.0.0/28","SubnetLen":30,"SubnetMax":"10.47.0.4"}']);
    const a = weftd(pfx, 'hostA', 'only1', '198.51.100.71');
    await acquired(a);
    const b = weftd(pfx, 'hostB', 'none1', '198.51.100.72');
    t.equal(await b.exited, 1, 'no free subnet');
    t.ok(b.logs.some(msgIs('claimed node name')));
    t.notOk(await get(`${pfx}/weft-nodes/none1`), 'its presence key is gone, not left to expire');
    t.ok(await get(`${pfx}/weft-nodes/only1`), 'the running host keeps its own');
    await a.stop();
  });

  t.test('a normal stop and restart keeps subnet.env', async (t) => {
    const pfx = prefix();
    await config(pfx, '10.45.0.0/16');
    const a = weftd(pfx, 'hostA', 'app4', '198.51.100.61');
    await acquired(a);
    await a.waitForLog(msgIs('wrote subnet.env'));
    const text = await readFile(envFile(pfx, 'hostA'), 'utf8');
    t.equal(await a.stop('SIGTERM'), 0);
    t.equal(await readFile(envFile(pfx, 'hostA'), 'utf8'), text, 'kept after a stop');
    const b = weftd(pfx, 'hostA', 'app4', '198.51.100.61');
    await acquired(b);
    t.notOk(b.logs.some((l) => String(l.msg).startsWith('removed subnet.env')), 'not removed on restart');
    t.equal(await b.stop('SIGTERM'), 0);
    await sleep(0);
  });
}
