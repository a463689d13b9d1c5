/**
 * Leases written by others can be garbage: weftd skips each bad key with one
 * warning and never removes a good peer because of it. And compaction while
 * watching: events after the compaction arrive, nothing is removed by mistake,
 * including when the watch itself falls behind the compacted revision.
 */
import t from 'tap';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { EtcdRegistry, etcdClientOptions } from '../../src/adapters/etcd-registry.js';
import { systemClock } from '../../src/adapters/clock.js';
import type { SubnetRegistry, WatchHandlers } from '../../src/adapters/registry.js';
import { parseNetworkConfig } from '../../src/core/network-config.js';
import { PeerSet } from '../../src/core/peer-set.js';
import { LeaseWatcher } from '../../src/daemon/lease-watcher.js';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { msgIs, startWeftd } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';
import { peerValue } from '../helpers/lease-values.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  t.before(async () => { etcd = await startEtcd(); });
  t.teardown(async () => { await etcd?.stop(); });
  const revision = async (): Promise<string> => /"revision":(\d+)/.exec(await etcd.etcdctl(['get', '/', '-w', 'json']))?.[1] ?? '0';

  t.test('garbage keys and values in the subnets prefix', async (t) => {
    const p = '/garbage/network';
    // SubnetMin: weftd's own lease never lands on 10.60.1–7.0/24, the keys the test writes while it runs.
    await etcd.etcdctl(['put', `${p}/config`, '{"Network":"10.60.0.0/16","SubnetMin":"10.60.10.0"}']);
    await etcd.etcdctl(['put', `${p}/subnets/10.60.1.0-24`, peerValue('198.51.100.11', '02:00:00:00:00:11', 'good1')]);
    await etcd.etcdctl(['put', `${p}/subnets/10.60.2.0-24`, peerValue('198.51.100.12', '02:00:00:00:00:12')]);
    const garbage: [string, string, RegExp][] = [
      ['not-a-subnet', '{}', /not a subnet key/],
      ['10.60.3.0-24', 'not json', /not JSON/],
      ['10.99.0.0-24', peerValue('198.51.100.13', '02:00:00:00:00:13'), /outside the network 10\.60\.0\.0\/16/],
      ['10.60.4.7-24', peerValue('198.51.100.14', '02:00:00:00:00:14'), /host bits/],
      ['10.60.5.0-24', peerValue('999.1.1.1', '02:00:00:00:00:15'), /PublicIP "999\.1\.1\.1"/],
      ['10.60.6.0-24', peerValue('198.51.100.16', '01:00:5e:00:00:01'), /VtepMAC "01:00:5e:00:00:01"/],
    ];
    for (const [key, value] of garbage.slice(0, 3)) await etcd.etcdctl(['put', `${p}/subnets/${key}`, value]);
    const a = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', p,
      '--node-name', 'h1', '--public-ip', '198.51.100.1', '--subnet-file', `/tmp/weft-garbage-${process.pid}.env`, '--resync-interval', '500ms']);
    t.teardown(() => a.stop('SIGKILL'));
    await a.waitForLog(msgIs('wrote subnet.env'));
    await a.waitForLog((l) => l.msg === 'peer set changed' && l.peers === 2, 10000, 'two good peers');
    for (const [key, value] of garbage.slice(3)) await etcd.etcdctl(['put', `${p}/subnets/${key}`, value]);
    // The same garbage again, and a good peer's value turned to garbage.
    await etcd.etcdctl(['put', `${p}/subnets/10.60.3.0-24`, 'not json']);
    await etcd.etcdctl(['put', `${p}/subnets/10.60.1.0-24`, '{"PublicIP":"garbage"}']);
    await etcd.etcdctl(['put', `${p}/subnets/10.60.7.0-24`, peerValue('198.51.100.17', '02:00:00:00:00:17', 'good3')]);
    await a.waitForLog((l) => l.msg === 'peer set changed' && l.peers === 3, 10000, 'the new good peer');
    const warnings = a.logs.filter((l) => l.msg === 'refusing peer lease');
    for (const [key, , reason] of garbage) {
      const mine = warnings.filter((w) => w.key === key);
      t.equal(mine.length, 1, `${key}: exactly one warning`);
      t.match(String(mine[0]?.reason), reason, `${key}: says what is wrong`);
    }
    t.ok(warnings.some((w) => w.key === '10.60.1.0-24'), 'a good lease turned bad is reported');
    t.notOk(a.logs.some((l) => l.msg === 'peer set changed' && Number(l.peers) < 2), 'no good peer was ever removed');
    t.equal(a.child.exitCode, null, 'still running');
    t.equal(await a.stop(), 0);
  });

  t.test('compaction while weftd watches', async (t) => {
    const p = '/compact/network';
    // SubnetMin: weftd's own lease never lands on 10.61.2.0/24, the peer the test writes while it runs.
    await etcd.etcdctl(['put', `${p}/config`, '{"Network":"10.61.0.0/16","SubnetMin":"10.61.10.0"}']);
    await etcd.etcdctl(['put', `${p}/subnets/10.61.1.0-24`, peerValue('198.51.100.11', '02:00:00:00:00:11', 'p1')]);
    const a = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', p,
      '--node-name', 'h1', '--public-ip', '198.51.100.1', '--subnet-file', `/tmp/weft-compact-${process.pid}.env`]);
    t.teardown(() => a.stop('SIGKILL'));
    await a.waitForLog((l) => l.msg === 'peer set changed' && l.peers === 1, 10000, 'one peer');
    for (let i = 0; i < 20; i++) await etcd.etcdctl(['put', `${p}/churn`, String(i)]);
    await etcd.etcdctl(['compact', await revision()]);
    await etcd.etcdctl(['put', `${p}/subnets/10.61.2.0-24`, peerValue('198.51.100.12', '02:00:00:00:00:12', 'p2')]);
    await a.waitForLog((l) => l.msg === 'peer set changed' && l.peers === 2, 10000, 'a peer added after the compaction');
    await etcd.etcdctl(['del', `${p}/subnets/10.61.1.0-24`]);
    await a.waitForLog((l) => l.msg === 'peer set changed' && l.peers === 1 && a.logs.filter((x) => x.msg === 'peer set changed').length >= 3, 10000, 'a removal after the compaction');
    t.pass('events after the compaction arrive');
    t.equal(await a.stop(), 0);
  });

  t.test('a watch that falls behind a compaction re-lists and diffs', async (t) => {
    const p = '/compact2/network';
    const parsed = parseNetworkConfig({ Network: '10.62.0.0/16' });
    if (!parsed.ok) throw new Error('config');
    await etcd.etcdctl(['put', `${p}/subnets/10.62.1.0-24`, peerValue('198.51.100.11', '02:00:00:00:00:11', 'p1')]);
    await etcd.etcdctl(['put', `${p}/subnets/10.62.2.0-24`, peerValue('198.51.100.12', '02:00:00:00:00:12', 'p2')]);
    const real = new EtcdRegistry(new Etcd3(etcdClientOptions({ endpoints: etcd.endpoints, prefix: p }, {})), p);
    t.teardown(() => real.close());
    // The first watch is held back (as if the stream were disconnected) while
    // the store moves on and is compacted past the watch's start revision.
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => { release = r; });
    let watches = 0;
    const registry: SubnetRegistry = Object.assign(Object.create(real) as SubnetRegistry, {
      listLeases: () => real.listLeases(),
      watch: (from: string, h: WatchHandlers) => {
        watches++;
        if (watches > 1) return real.watch(from, h);
        let cancel = (): void => undefined;
        void held.then(() => { cancel = real.watch(from, h); });
        return () => cancel();
      },
    });
    const peers = new PeerSet(parsed.config);
    const changes: number[] = [];
    const stop = new AbortController();
    const watcher = new LeaseWatcher({ registry, peers, clock: systemClock, log: pino({ level: 'silent' }),
      onChange: () => changes.push(peers.size), onLost: () => t.fail('no own lease here') });
    const running = watcher.run(stop.signal);
    await watcher.ready;
    t.equal(peers.size, 2);
    await etcd.etcdctl(['del', `${p}/subnets/10.62.1.0-24`]);
    await etcd.etcdctl(['put', `${p}/subnets/10.62.3.0-24`, peerValue('198.51.100.13', '02:00:00:00:00:13', 'p3')]);
    await etcd.etcdctl(['compact', await revision()]);
    release();
    for (let i = 0; i < 100 && watcher.stats.lists < 2; i++) await new Promise((r) => setTimeout(r, 50));
    t.equal(watcher.stats.lists, 2, 're-listed after the compacted watch failed');
    t.same(peers.values().map((l) => l.subnet).sort(), ['10.62.2.0/24', '10.62.3.0/24'], 'diffed to the true set');
    t.notOk(changes.some((n) => n < 1), 'never went through an empty set');
    await etcd.etcdctl(['put', `${p}/subnets/10.62.4.0-24`, peerValue('198.51.100.14', '02:00:00:00:00:14', 'p4')]);
    for (let i = 0; i < 100 && peers.size < 3; i++) await new Promise((r) => setTimeout(r, 50));
    t.equal(peers.size, 3, 'the new watch delivers later events');
    stop.abort();
    await running;
  });
}
