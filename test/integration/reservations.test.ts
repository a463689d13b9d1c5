/**
 * Reservations as an operator meets them, with a real etcd and a real weftd
 * (lease-only data plane, health endpoint on): a reservation made ahead of its
 * host shows as such in `weftctl leases` and is not a failing peer in the
 * metrics; `weftctl leases --json` gives the etcd lease id in the hex form
 * etcdctl takes; turning a running host's lease into a reservation needs
 * --force, says what happens, and weftd notices it (TTL metric -1, no more
 * renewals); releasing a reservation that a host holds needs --force too.
 */
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type EtcdCluster, freePort, startEtcd } from '../helpers/etcd-server.js';
import { msgIs, runWeftctl, startWeftd } from '../helpers/weftd-process.js';
import { metric, until } from '../helpers/metrics.js';
import { requirePrerequisites } from '../helpers/require.js';


if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  const dir = mkdtempSync(join(tmpdir(), 'weft-reservations-'));
  t.before(async () => { etcd = await startEtcd(); });
  t.teardown(async () => { await etcd?.stop(); rmSync(dir, { recursive: true, force: true }); });

  t.test('pre-reservations, lease ids, reserve and release of a running host', async (t) => {
    const ctl = (args: string[]) => runWeftctl([...args, '--etcd-endpoints', etcd.endpoints.join(','), '--config-file', join(dir, 'none.env')]);
    await etcd.etcdctl(['put', '/weft/network/config', '{"Network":"10.60.0.0/16"}']);
    const port = await freePort();
    const d = startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','), '--node-name', 'h1', '--public-ip', '198.51.100.1',
      '--subnet-file', join(dir, 'h1.env'), '--resync-interval', '500ms', '--healthz-port', String(port), '--config-file', join(dir, 'none.env')]);
    t.teardown(() => d.stop('SIGKILL'));
    const subnet = String((await d.waitForLog(msgIs('acquired subnet lease'))).subnet);
    await d.waitForLog(msgIs('wrote subnet.env'));
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

    const pre = await ctl(['reserve', '10.60.40.0/24', '--public-ip', '10.0.0.7', '--node-name', 'node7']);
    t.equal(pre.code, 0, pre.stderr);
    t.ok(await until(async () => metric(await metrics(), 'weft_leases_pending') === 1, 10000), 'the pre-reservation is pending');
    const m = await metrics();
    t.equal(metric(m, 'weft_peers_known'), 0, 'not a peer to program');
    t.equal(metric(m, 'weft_peers_programmed'), metric(m, 'weft_peers_known'), 'the documented alert (programmed < known) stays quiet');
    t.match((await ctl(['leases'])).stdout, /10\.60\.40\.0\/24\s+node7\s+10\.0\.0\.7\s+-\s+reservation\s+pending: reservation for node7; its host has not started weftd yet/);

    const json = JSON.parse((await ctl(['leases', '--json'])).stdout) as { leases: { subnet: string; leaseId: string | null; state: string }[] };
    const own = json.leases.find((l) => l.subnet === subnet);
    t.match(own?.leaseId, /^[0-9a-f]+$/, 'hex lease id');
    t.equal(json.leases.find((l) => l.subnet === '10.60.40.0/24')?.leaseId, null, 'a reservation has none');
    t.equal(json.leases.find((l) => l.subnet === '10.60.40.0/24')?.state, 'pending');
    const ttl = await execa('etcdctl', ['--endpoints', etcd.endpoints.join(','), 'lease', 'timetolive', own?.leaseId ?? 'x'], { reject: false });
    t.match(ttl.stdout, new RegExp(`^lease ${own?.leaseId ?? 'x'} granted with TTL\\(86400s\\), remaining\\(\\d+s\\)`), 'etcdctl takes it as it is');
    t.ok(metric(await metrics(), 'weft_lease_ttl_seconds') > 86000);

    const refused = await ctl(['reserve', subnet]);
    t.equal(refused.code, 1);
    t.match(refused.stderr, new RegExp(`${subnet.replace(/\./g, '\\.')} is a live lease of h1; with --force it becomes a reservation \\(no TTL\\): h1 keeps it, its weftd stops renewing it`));
    const forced = await ctl(['reserve', subnet, '--force']);
    t.equal(forced.code, 0, forced.stderr);
    t.match(forced.stdout, /is now a reservation \(no TTL\) for h1/);
    await d.waitForLog(msgIs('our lease became a reservation (no TTL); no longer renewing it'), 10000, 'weftd notices');
    t.equal(metric(await metrics(), 'weft_lease_ttl_seconds'), -1, 'its TTL metric says reservation');
    t.equal(d.child.exitCode, null, 'and keeps running');

    const held = await ctl(['release', subnet]);
    t.equal(held.code, 1, 'a reservation its host holds is not released without --force');
    t.match(held.stderr, /is reserved for h1, which has come up and holds it .* use --force to release it: h1's weftd then exits and leases a subnet again/);
    t.equal((await ctl(['release', '10.60.40.0/24'])).code, 0, 'a pre-reservation is released without --force');
    t.equal((await ctl(['release', subnet, '--force'])).code, 0);
    t.equal(await d.exited, 2, 'the host whose reservation was released exits 2 (systemd restarts it)');
  });
}
