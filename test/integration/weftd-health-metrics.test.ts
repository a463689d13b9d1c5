/**
 * weftd's /healthz, /readyz and /metrics against a real etcd: the figures
 * move as peers come and go, and /healthz turns 503 with a reason when etcd
 * has been unreachable for longer than the grace period.
 */
import t from 'tap';
import { type EtcdCluster, freePort, startEtcd } from '../helpers/etcd-server.js';
import { msgIs, startWeftd } from '../helpers/weftd-process.js';
import { metric, until } from '../helpers/metrics.js';
import { requirePrerequisites } from '../helpers/require.js';
import { peerValue } from '../helpers/lease-values.js';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}


if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  t.before(async () => { etcd = await startEtcd(); });
  t.teardown(async () => { await etcd?.stop(); });

  t.test('health, readiness and metrics', async (t) => {
    const port = await freePort();
    // SubnetMin: weftd's own lease never lands on 10.80.9.0/24, the peer the test writes below.
    await etcd.etcdctl(['put', '/weft/network/config', '{"Network":"10.80.0.0/16","SubnetMin":"10.80.10.0"}']);
    const a = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--node-name', 'h1',
      '--public-ip', '198.51.100.1', '--subnet-file', `/tmp/weft-metrics-${process.pid}.env`, '--resync-interval', '500ms',
      '--healthz-port', String(port), '--healthz-etcd-grace', '3s']);
    t.teardown(() => a.stop('SIGKILL'));
    await a.waitForLog(msgIs('health endpoint listening'));
    await a.waitForLog(msgIs('first reconcile pass done; ready'));
    t.equal((await get(port, '/readyz')).status, 200, 'ready after the first pass');
    t.equal((await get(port, '/healthz')).status, 200, 'healthy');
    const m1 = (await get(port, '/metrics')).body;
    t.equal(metric(m1, 'weft_peers_known'), 0);
    t.ok(metric(m1, 'weft_lease_ttl_seconds') > 86000, 'lease TTL remaining is reported');
    t.match(m1, /weft_build_info\{version="[^"]+",node="v20/);
    t.equal(metric(m1, 'weft_etcd_reachable'), 1);
    const passes1 = metric(m1, 'weft_reconcile_passes_total');

    await etcd.etcdctl(['put', '/weft/network/subnets/10.80.9.0-24', peerValue('198.51.100.9', '02:00:00:00:00:09', 'p9')]);
    await etcd.etcdctl(['put', '/weft/network/subnets/garbage', 'x']);
    t.ok(await until(async () => metric((await get(port, '/metrics')).body, 'weft_peers_known') === 1, 10000), 'peers known moves to 1');
    t.ok(await until(async () => metric((await get(port, '/metrics')).body, 'weft_leases_refused{reason="invalid-key"}') === 1, 10000), 'the garbage key is counted as refused (invalid-key)');
    const m2 = (await get(port, '/metrics')).body;
    t.equal(metric(m2, 'weft_peers_programmed'), 0, '--dataplane none programs nothing, and the metric says so');
    t.ok(metric(m2, 'weft_reconcile_passes_total') > passes1, 'passes counter moves');
    t.ok(metric(m2, 'weft_reconcile_pass_duration_seconds_count') >= 1, 'pass duration histogram has samples');

    await etcd.stopMember(0);
    t.ok(await until(async () => (await get(port, '/healthz')).status === 503, 20000), '/healthz fails after the etcd grace period');
    const h = await get(port, '/healthz');
    t.match(h.body, /etcd unreachable for \d+s/, 'says why');
    const m3 = (await get(port, '/metrics')).body;
    t.equal(metric(m3, 'weft_etcd_reachable'), 0);
    t.ok(metric(m3, 'weft_etcd_request_errors_total') >= 1, 'etcd errors counted');
    t.equal((await get(port, '/readyz')).status, 200, 'still ready: the data path is unaffected');
    await etcd.startMember(0);
    t.ok(await until(async () => (await get(port, '/healthz')).status === 200, 20000), 'healthy again once etcd is back');
    t.equal((await get(port, '/nope')).status, 404);
    t.equal(await a.stop(), 0);
  });
}
