/**
 * etcd trouble never kills a host (issue 8, item 6), with real etcd servers
 * and the real weftd (lease-only data plane):
 * - etcd answers reads but refuses writes (its space quota is exhausted, the
 *   NOSPACE alarm) while weftd starts: weftd waits, with backoff, and starts
 *   once the operator has fixed etcd, instead of exiting 1;
 * - a subnets listing bigger than gRPC's 4 MiB message limit is read in
 *   pages: weftd starts and sees every peer.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { msgIs, startWeftd, type WeftdProcess } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let dir: string;
  const running: WeftdProcess[] = [];
  const servers: EtcdCluster[] = [];
  t.before(async () => { dir = await mkdtemp(join(tmpdir(), 'weft-etcd-trouble-')); });
  t.teardown(async () => {
    for (const p of running) await p.stop('SIGKILL');
    for (const e of servers) await e.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const weftd = (etcd: EtcdCluster, pfx: string, node: string, ip: string): WeftdProcess => {
    const p = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', pfx,
      '--node-name', node, '--public-ip', ip, '--subnet-file', join(dir, `${node}.env`), '--subnet-lease-ttl', '1h',
    ], { env: { WEFTD_NODE_PRESENCE_TTL: '3s', WEFTD_INSTANCE_ID: `instance-${node}` } });
    running.push(p);
    return p;
  };

  t.test('etcd refusing writes at start-up: weftd waits and starts once etcd is fixed', async (t) => {
    const etcd = await startEtcd({ extraArgs: ['--quota-backend-bytes', String(256 * 1024)] });
    servers.push(etcd);
    const pfx = '/weft-nospace/network';
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.50.0.0/16","Backend":{"Type":"vxlan"}}']);
    // Fill etcd until it raises the NOSPACE alarm: reads still work, writes and lease grants fail.
    const filler = 'x'.repeat(60_000);
    for (let i = 0; i < 40; i++) {
      try { await etcd.etcdctl(['put', `/filler/${i}`, filler]); } catch { break; }
    }
    t.match(await etcd.etcdctl(['alarm', 'list']), /NOSPACE/, 'etcd is out of space');

    const a = weftd(etcd, pfx, 'h1', '198.51.100.71');
    await a.waitForLog(msgIs('network config loaded'), 20000, 'config (reads work)');
    const waiting = await a.waitForLog(msgIs('start-up step failed (etcd unreachable or erroring); waiting and retrying'), 20000, 'the retry');
    t.match(String(waiting['err']), /space exceeded/, 'logs etcd\'s error');
    await new Promise((r) => setTimeout(r, 3000));
    t.equal(a.child.exitCode, null, 'still running (on main it exits 1)');
    t.ok(a.logs.filter((l) => l.msg === 'start-up step failed (etcd unreachable or erroring); waiting and retrying').length <= 2, 'the retry log is throttled');

    // The operator frees space and disarms the alarm.
    await etcd.etcdctl(['del', '--prefix', '/filler/']);
    const status = JSON.parse(await etcd.etcdctl(['endpoint', 'status', '-w', 'json'])) as { Status: { header: { revision: number } } }[];
    await etcd.etcdctl(['compact', String(status[0]?.Status.header.revision ?? 1)]);
    await etcd.etcdctl(['defrag']);
    await etcd.etcdctl(['alarm', 'disarm']);
    const lease = await a.waitForLog((l) => l.msg === 'acquired subnet lease', 40000, 'the lease after etcd was fixed');
    t.match(String(lease['subnet']), /^10\.50\.\d+\.0\/24$/);
    await a.waitForLog(msgIs('first reconcile pass done; ready'));
    t.equal(await a.stop(), 0);
  });

  t.test('a subnets listing over 4 MiB is read in pages; weftd starts and sees every peer', async (t) => {
    const etcd = await startEtcd();
    servers.push(etcd);
    const pfx = '/weft-big/network';
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.60.0.0/16","Backend":{"Type":"vxlan"}}']);
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      const pad = 'p'.repeat(100_000);
      const peers = 50;
      for (let i = 1; i <= peers; i++) {
        const hex = i.toString(16).padStart(2, '0');
        await client.put(`${pfx}/subnets/10.60.${i}.0-24`).value(JSON.stringify({
          PublicIP: `198.51.100.${100 + i}`, PublicIPv6: null, BackendType: 'vxlan',
          BackendData: { VNI: 1, VtepMAC: `02:00:00:00:01:${hex}` }, NodeName: `peer${i}`, Padding: pad,
        }));
      }
      await t.rejects(client.getAll().prefix(`${pfx}/subnets/`).strings(), /larger than max/,
        'a single range read of the listing is over gRPC\'s 4 MiB limit (this is what failed before)');
      const a = weftd(etcd, pfx, 'big1', '198.51.100.90');
      const lease = await a.waitForLog((l) => l.msg === 'acquired subnet lease', 30000, 'a lease');
      t.notMatch(String(lease['subnet']), /^10\.60\.([1-9]|[1-4]\d|50)\.0\/24$/, 'not one of the 50 taken subnets');
      const seen = await a.waitForLog((l) => l.msg === 'peer set changed', 30000, 'the peers');
      t.equal(seen['peers'], peers, 'all 50 peers seen');
      await a.waitForLog(msgIs('first reconcile pass done; ready'));
      t.equal(await a.stop(), 0);
    } finally {
      client.close();
    }
  });
}
