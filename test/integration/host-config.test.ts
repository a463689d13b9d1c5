/**
 * One configuration per host, with a real etcd and the real weftd/weftctl
 * processes: boolean and duration settings accept exactly the documented
 * spellings (flag, WEFTD_* variable, env file); weftd and weftctl read the
 * same env file and WEFTD_* variables, the command line winning over the
 * environment and the environment over the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { msgIs, runWeftctl, startWeftd } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  const dir = mkdtempSync(join(tmpdir(), 'weft-host-config-'));
  t.before(async () => { etcd = await startEtcd(); });
  t.teardown(async () => { await etcd?.stop(); rmSync(dir, { recursive: true, force: true }); });
  const file = (name: string, lines: string[]): string => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  };
  const noFile = join(dir, 'absent.env');

  t.test('booleans and durations: exactly the documented spellings, from flags, variables and the env file', async (t) => {
    const refused: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [[], { WEFTD_IP_MASQ: 'yes' }, /WEFTD_IP_MASQ="yes": must be true or false/],
      [[], { WEFTD_IP_MASQ: '1' }, /WEFTD_IP_MASQ="1": must be true or false/],
      [[], { WEFTD_IP_MASQ: 'TRUE' }, /WEFTD_IP_MASQ="TRUE": must be true or false/],
      [['--ip-masq=1'], {}, /--ip-masq=1: --ip-masq is true or false/],
      [['--ip-masq', 'yes'], {}, /Unknown argument: yes/],
      [['--resync-interval', '30m1h'], {}, /--resync-interval "30m1h" must be a duration/],
      [[], { WEFTD_RESYNC_INTERVAL: ' 10s' }, /--resync-interval " 10s" must be a duration/],
      [[], { WEFTD_SUBNET_LEASE_TTL: '1w' }, /--subnet-lease-ttl "1w" must be a duration/],
      [['--config-file', file('bool.env', ['WEFTD_IP_MASQ=on'])], {}, /bool\.env: WEFTD_IP_MASQ="on": must be true or false/],
      [['--config-file', file('typo.env', ['WEFTD_IP_MASK=false'])], {}, /typo\.env: WEFTD_IP_MASK is not a weftd setting/],
      [['--config-file', file('syntax.env', ['WEFTD_IFACE eth0'])], {}, /syntax\.env: line 1: "WEFTD_IFACE eth0" is not KEY=value/],
    ];
    for (const [args, env, re] of refused) {
      const p = startWeftd(['--dataplane', 'none', '--config-file', noFile, ...args], { env });
      t.equal(await p.exited, 1, `${args.join(' ')} ${JSON.stringify(env)} exits 1`);
      t.match(p.stderr(), re);
      t.match(p.stderr(), /Options:\n/, 'with usage');
    }
    const ctl = await runWeftctl(['leases', '--json=yes', '--config-file', noFile]);
    t.equal(ctl.code, 1);
    t.match(ctl.stderr, /--json=yes: --json is true or false/);
  });

  t.test('weftd and weftctl read the same env file; variables beat it; flags beat both', async (t) => {
    const prefix = '/hostcfg/network';
    await etcd.etcdctl(['put', `${prefix}/config`, '{"Network":"10.41.0.0/16"}']);
    const env = file('weftd.env', ['# as installed', 'HTTPS_PROXY=http://proxy.example:3128', `WEFTD_ETCD_ENDPOINTS=${etcd.endpoints.join(',')}`, `WEFTD_ETCD_PREFIX="${prefix}"`,
      'WEFTD_NODE_NAME=filehost', `WEFTD_SUBNET_FILE=${join(dir, 'subnet.env')}`, 'WEFTD_PUBLIC_IP=198.51.100.7', 'WEFTD_IP_MASQ=false']);
    const d = startWeftd(['--dataplane', 'none', '--config-file', env]);
    t.teardown(() => d.stop());
    const lease = await d.waitForLog(msgIs('acquired subnet lease'), 15000, 'lease from the env file\'s settings');
    t.match(String(lease['subnet']), /^10\.41\./, 'weftd found etcd and the prefix in the file');

    const leases = await runWeftctl(['leases', '--config-file', env]);
    t.equal(leases.code, 0, leases.stderr);
    t.match(leases.stdout, /filehost\s+198\.51\.100\.7/, 'weftctl with no etcd flags lists weftd\'s lease');

    const other = '/hostcfg-empty/network';
    const byEnv = await runWeftctl(['leases', '--config-file', env], { env: { WEFTD_ETCD_PREFIX: other } });
    t.same([byEnv.code, byEnv.stdout], [0, 'no leases'], 'WEFTD_ETCD_PREFIX beats the file');
    const byFlag = await runWeftctl(['leases', '--config-file', env, '--etcd-prefix', prefix], { env: { WEFTD_ETCD_PREFIX: other } });
    t.match(byFlag.stdout, /filehost/, 'the command line beats the variable');

    const unreachable = await runWeftctl(['leases', '--config-file', noFile], { env: { WEFTD_ETCD_ENDPOINTS: 'http://127.0.0.1:1' } });
    t.equal(unreachable.code, 1);
    t.match(unreachable.stderr, /127\.0\.0\.1:1/, 'the variable\'s endpoint is the one used');
    t.equal(await d.stop(), 0);
  });
}
