/**
 * A 3-member etcd cluster with its leader killed: weftd keeps its lease
 * alive through the other members and keeps receiving peer changes.
 */
import t from 'tap';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { msgIs, startWeftd } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';
import { peerValue } from '../helpers/lease-values.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  t.before(async () => { etcd = await startEtcd({ members: 3 }); });
  t.teardown(async () => { await etcd?.stop(); });

  t.test('leader killed', async (t) => {
    // SubnetMin: weftd's own lease never lands on 10.51.9.0/24, the peer the test writes below.
    await etcd.etcdctl(['put', '/weft/network/config', '{"Network":"10.51.0.0/16","SubnetMin":"10.51.10.0"}']);
    const a = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--node-name', 'h1',
      '--public-ip', '198.51.100.1', '--subnet-file', `/tmp/weft-cluster-${process.pid}.env`, '--subnet-lease-ttl', '12s']);
    t.teardown(() => a.stop('SIGKILL'));
    const lease = await a.waitForLog(msgIs('acquired subnet lease'));
    const key = `/weft/network/subnets/${String(lease.subnet).replace('/', '-')}`;
    const status = JSON.parse(await etcd.etcdctl(['endpoint', 'status', '-w', 'json'])) as
      { Endpoint: string; Status: { leader: string | number; header: { member_id: string | number } } }[];
    const leaderUrl = status.find((s) => String(s.Status.leader) === String(s.Status.header.member_id))?.Endpoint;
    const leader = etcd.members.findIndex((m) => m.clientUrl === leaderUrl);
    t.ok(leader >= 0, `found the leader (${leaderUrl})`);
    await etcd.stopMember(leader, 'SIGKILL');
    const alive = etcd.members.filter((_, i) => i !== leader).map((m) => m.clientUrl).join(',');
    const ctl = (args: string[]) => etcd.etcdctl(['--endpoints', alive, ...args]);
    await new Promise((r) => setTimeout(r, 2000));
    await ctl(['put', '/weft/network/subnets/10.51.9.0-24', peerValue('198.51.100.9', '02:00:00:00:00:09', 'peer')]);
    await a.waitForLog((l) => l.msg === 'peer set changed' && l.peers === 1, 20_000, 'peer added after the leader died');
    // Two TTLs with a dead member: only keepalives through the survivors keep the key.
    await new Promise((r) => setTimeout(r, 24_000));
    t.match(await ctl(['get', key, '--print-value-only']), /"NodeName":"h1"/, 'lease kept alive for 2 TTLs after the kill');
    t.equal(a.child.exitCode, null, 'weftd still running');
    t.notOk(a.logs.some((l) => l.msg === 'lease lost; exiting so the supervisor restarts weftd'), 'lease never lost');
    t.equal(await a.stop(), 0);
  });
}
