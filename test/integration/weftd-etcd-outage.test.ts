/**
 * etcd stopped for 30 s and started again: weftd keeps running, keeps its
 * lease, logs the outage a bounded number of times, never drops a peer, and
 * its watch resumes (a lease added afterwards is seen).
 */
import t from 'tap';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { type LogLine, msgIs, startWeftd } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';
import { peerValue } from '../helpers/lease-values.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  t.before(async () => { etcd = await startEtcd(); });
  t.teardown(async () => { await etcd?.stop(); });

  t.test('etcd down for 30 s', async (t) => {
    // SubnetMax: weftd's own lease never lands on 10.50.200.0/24 or 10.50.201.0/24, the peers the test writes (a random
    // allocation once took 10.50.201.0/24, and the test's put then took weftd's lease over).
    await etcd.etcdctl(['put', '/weft/network/config', '{"Network":"10.50.0.0/16","SubnetMax":"10.50.199.0"}']);
    await etcd.etcdctl(['put', '/weft/network/subnets/10.50.200.0-24', peerValue('198.51.100.200', '02:00:00:00:02:00', 'peer1')]);
    const a = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--node-name', 'h1',
      '--public-ip', '198.51.100.1', '--subnet-file', `/tmp/weft-outage-${process.pid}.env`, '--resync-interval', '1s']);
    t.teardown(() => a.stop('SIGKILL'));
    const lease = await a.waitForLog(msgIs('acquired subnet lease'));
    await a.waitForLog((l) => l.msg === 'peer set changed' && l.peers === 1, 10000, 'one peer');
    const before = a.logs.length;

    await etcd.stopMember(0);
    await new Promise((r) => setTimeout(r, 30_000));
    t.equal(a.child.exitCode, null, 'weftd still running after 30 s without etcd');
    const outage = a.logs.slice(before);
    const reasons = outage.filter((l) => typeof l['err'] === 'string').map((l) => String(l['err']));
    t.ok(reasons.some((e) => e.includes(`etcd at ${etcd.endpoints.join(', ')} is unreachable: check that etcd runs there`)), 'the log says etcd is unreachable, naming the endpoint');
    t.same(reasons.filter((e) => /circuit breaker|UNAVAILABLE|No connection established|DEADLINE_EXCEEDED/.test(e)), [], 'and shows no client-library text');
    const warnings = outage.filter((l: LogLine) => (l.level ?? 0) >= 40);
    t.ok(warnings.length >= 1, 'the outage is logged');
    t.ok(warnings.length <= 6, `bounded logging: ${warnings.length} warnings in 30 s`);
    t.notOk(outage.some((l) => l.msg === 'peer set changed'), 'no peer dropped during the outage');

    await etcd.startMember(0);
    const key = `/weft/network/subnets/${String(lease.subnet).replace('/', '-')}`;
    t.match(await etcd.etcdctl(['get', key, '--print-value-only']), /"NodeName":"h1"/, 'lease still in etcd');
    await etcd.etcdctl(['put', '/weft/network/subnets/10.50.201.0-24', peerValue('198.51.100.201', '02:00:00:00:02:01', 'peer2')]);
    await a.waitForLog((l) => l.msg === 'peer set changed' && l.peers === 2, 30_000, 'the new peer after etcd came back');
    t.pass('watch resumed: a lease added after the outage is seen');
    t.notOk(a.logs.some((l) => l.msg === 'peer set changed' && Number(l.peers) < 1), 'never dropped the existing peer');
    t.equal(await a.stop(), 0);
  });
}
