/**
 * weftd and weftctl against an etcd that requires TLS client certificates,
 * and against one with username/password auth; wrong credentials give clear
 * errors.
 */
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { makeCerts, type TestCerts } from '../helpers/certs.js';
import { msgIs, runWeftctl, startWeftd } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl', 'openssl'])) {
  let dir: string;
  let certs: TestCerts;
  t.before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-tls-'));
    certs = await makeCerts(dir);
  });
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }); });

  t.test('TLS with client certificates', async (t) => {
    const etcd: EtcdCluster = await startEtcd({ tls: { caFile: certs.caFile, certFile: certs.serverCert, keyFile: certs.serverKey } });
    t.teardown(() => etcd.stop());
    t.match(etcd.endpoints[0], /^https:/);
    const tls = ['--etcd-endpoints', etcd.endpoints.join(','), '--etcd-cafile', certs.caFile,
      '--etcd-certfile', certs.clientCert, '--etcd-keyfile', certs.clientKey];
    const set = await runWeftctl(['config', 'set', '--network', '10.70.0.0/16', ...tls]);
    t.equal(set.code, 0, `weftctl config set over TLS: ${set.stderr}`);
    const a = startWeftd(['--dataplane', 'none', '--node-name', 'h1', '--public-ip', '198.51.100.1', '--subnet-file', join(dir, 'h1.env'), ...tls]);
    t.teardown(() => a.stop('SIGKILL'));
    const lease = await a.waitForLog(msgIs('acquired subnet lease'));
    const leases = await runWeftctl(['leases', ...tls]);
    t.match(leases.stdout, new RegExp(`${String(lease.subnet).replace(/\./g, '\\.')}\\s+h1\\s+198\\.51\\.100\\.1`), 'weftctl leases over TLS');
    t.equal(await a.stop(), 0);

    const noCert = await runWeftctl(['leases', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-cafile', certs.caFile]);
    t.equal(noCert.code, 1, 'no client certificate: refused');
    t.match(noCert.stderr, new RegExp(`etcd list leases failed: TLS refused by etcd at ${etcd.endpoints[0]}: etcd wants a client certificate: give --etcd-certfile and --etcd-keyfile`));
    t.notMatch(noCert.stderr, /UNAVAILABLE|SSL routines/, 'no library text');
    const wrongCa = await runWeftctl(['leases', ...tls.slice(0, 2), '--etcd-cafile', certs.otherCaFile,
      '--etcd-certfile', certs.clientCert, '--etcd-keyfile', certs.clientKey]);
    t.equal(wrongCa.code, 1, 'untrusted server certificate: refused');
    t.match(wrongCa.stderr, /TLS refused by etcd at https:.*server certificate is not trusted: give --etcd-cafile/);
    const plain = await runWeftctl(['leases', '--etcd-endpoints', etcd.endpoints.join(',').replace(/https:/g, 'http:')]);
    t.match(plain.stderr, /etcd at http:.* is unreachable: .*if etcd serves TLS, use https:\/\/ endpoints/, 'http:// to a TLS etcd');
    const missing = await runWeftctl(['leases', ...tls.slice(0, 2), '--etcd-cafile', join(dir, 'nope.pem')]);
    t.equal(missing.code, 1);
    t.match(missing.stderr, /--etcd-cafile .*nope\.pem: cannot read it \(ENOENT\)/, 'a missing file is named');
  });

  t.test('username and password', async (t) => {
    const etcd = await startEtcd();
    t.teardown(() => etcd.stop());
    await etcd.etcdctl(['user', 'add', 'root', '--new-user-password', 's3cret']);
    await etcd.etcdctl(['auth', 'enable']);
    const auth = ['--etcd-endpoints', etcd.endpoints.join(','), '--etcd-username', 'root', '--etcd-password', 's3cret'];
    t.equal((await runWeftctl(['config', 'set', '--network', '10.71.0.0/16', ...auth])).code, 0, 'config set with auth');
    const a = startWeftd(['--dataplane', 'none', '--node-name', 'h1', '--public-ip', '198.51.100.1', '--subnet-file', join(dir, 'h2.env')],
      { env: { WEFTD_ETCD_ENDPOINTS: etcd.endpoints.join(','), WEFTD_ETCD_USERNAME: 'root', WEFTD_ETCD_PASSWORD: 's3cret' } });
    t.teardown(() => a.stop('SIGKILL'));
    await a.waitForLog(msgIs('acquired subnet lease'));
    t.pass('weftd leases with credentials from WEFTD_* variables');
    t.equal(await a.stop(), 0);
    const wrong = await runWeftctl(['leases', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-username', 'root', '--etcd-password', 'nope']);
    t.equal(wrong.code, 1, 'wrong password refused');
    t.match(wrong.stderr, new RegExp(`etcd at ${etcd.endpoints[0]} refused the credentials of user "root": check --etcd-username and --etcd-password`), 'says authentication failed');
    const none = await runWeftctl(['leases', '--etcd-endpoints', etcd.endpoints.join(',')]);
    t.equal(none.code, 1, 'no credentials refused');
    t.match(none.stderr, /requires authentication: set --etcd-username and --etcd-password/);
    await etcd.etcdctl(['--user', 'root:s3cret', 'user', 'add', 'weak', '--new-user-password', 'pw']);
    const denied = await runWeftctl(['leases', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-username', 'weak', '--etcd-password', 'pw']);
    t.match(denied.stderr, /denied user "weak" access to \/weft\/network: grant it a role with readwrite/);
    const down = await runWeftctl(['leases', '--etcd-endpoints', 'http://127.0.0.1:1']);
    t.match(down.stderr, /^weftctl: etcd list leases failed: etcd at http:\/\/127\.0\.0\.1:1 is unreachable: check that etcd runs there/);
  });
}
