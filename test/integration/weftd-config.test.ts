/**
 * weftd's handling of the network config in a real etcd: it waits (logging
 * once, not every second) while the config is missing, and exits 1 with every
 * problem named when the config is invalid.
 */
import t from 'tap';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { msgIs, runWeftctl, startWeftd } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  t.before(async () => { etcd = await startEtcd(); });
  t.teardown(async () => { await etcd?.stop(); });
  let n = 0;
  const run = (pfx: string) => startWeftd(['--dataplane', 'none', '--etcd-endpoints', etcd.endpoints.join(','),
    '--etcd-prefix', pfx, '--node-name', 'h1', '--public-ip', '198.51.100.1', '--subnet-file', `/tmp/weft-config-test-${process.pid}-${n}.env`]);

  t.test('missing config: waits, logs once, starts when it appears', async (t) => {
    const pfx = `/cfg-${++n}/network`;
    const p = run(pfx);
    await new Promise((r) => setTimeout(r, 3500));
    const waiting = p.logs.filter((l) => /network config not found/.test(String(l.msg)));
    t.equal(waiting.length, 1, 'one log line in 3.5 s, not one per second');
    t.equal(p.child.exitCode, null, 'still running');
    await etcd.etcdctl(['put', `${pfx}/config`, '{"Network":"10.40.0.0/16"}']);
    await p.waitForLog(msgIs('acquired subnet lease'), 10000, 'lease after config appeared');
    t.equal(await p.stop(), 0);
  });

  const bad: [string, RegExp[]][] = [
    ['not json', [/config is not valid JSON/]],
    ['{"Network":"10.5.0.0/29"}', [/Network prefix \/29 is too small/]],
    ['{"Network":"10.5.0.0/16","SubnetLen":31}', [/SubnetLen 31 is invalid: SubnetLen must be less than \/31/]],
    ['{"Network":"10.5.0.0/16","SubnetMin":"10.6.0.0","SubnetMax":"10.5.3.7"}',
      [/SubnetMin 10\.6\.0\.0 is not inside Network 10\.5\.0\.0\/16/, /SubnetMax 10\.5\.3\.7 is not aligned to SubnetLen \/24/]],
    ['{"Network":"10.5.0.1/16","Backend":{"Type":"udp","VNI":"x","Port":70000}}',
      [/Network "10\.5\.0\.1\/16" is invalid: .*host bits/, /Backend\.Type "udp" is not supported/, /Backend\.VNI must be a whole number .* got "x"/, /Backend\.Port must be a whole number from 0 to 65535, got 70000/]],
    ['{"network":"10.5.0.0/16","backend":{"type":"vxlan"},"EnableIPv6":true}', [/IPv6Network is missing: EnableIPv6 is true/]],
    ['{"Network":"10.5.0.0/16","EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/48"}', [/EnableIPv4: false \(an IPv6-only network\) is not supported/]],
  ];
  for (const [config, patterns] of bad) {
    t.test(`invalid config ${config}`, async (t) => {
      const pfx = `/cfg-${++n}/network`;
      await etcd.etcdctl(['put', `${pfx}/config`, config]);
      const p = run(pfx);
      t.equal(await p.exited, 1, 'exits 1');
      for (const re of patterns) t.match(p.stderr(), re, `names the problem: ${re}`);
      t.match(p.stderr(), new RegExp(`invalid network config at ${pfx}/config`), 'names where the config is');
      const ctl = await runWeftctl(['config', 'set', '-', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', `/cfg-set-${n}/network`], { input: config });
      t.equal(ctl.code, 1, 'weftctl config set refuses it too');
      for (const re of patterns) t.match(ctl.stderr, re);
      const after = await runWeftctl(['config', 'get', '--etcd-endpoints', etcd.endpoints.join(','), '--etcd-prefix', `/cfg-set-${n}/network`]);
      t.equal(after.code, 1, 'nothing was written');
    });
  }

  t.test('bad flags are usage errors', async (t) => {
    for (const [args, re] of [
      [['--public-ip', '300.1.1.1'], /--public-ip "300\.1\.1\.1" is not an IPv4 address/],
      [['--subnet-lease-ttl', 'soon'], /--subnet-lease-ttl "soon" must be a duration/],
      [['--no-such-flag'], /Unknown argument/],
      [['--etcd-endpoints', 'not an url'], /--etcd-endpoints: "not an url" is not an endpoint/],
      [['--etcd-certfile', '/x'], /--etcd-certfile and --etcd-keyfile must be given together/],
    ] as const) {
      const p = startWeftd([...args]);
      t.equal(await p.exited, 1, `${args.join(' ')} exits 1`);
      t.match(p.stderr(), re);
    }
    const env = startWeftd(['--dataplane', 'none'], { env: { WEFTD_SUBNET_LEASE_TTL: '2x' } });
    t.equal(await env.exited, 1);
    t.match(env.stderr(), /--subnet-lease-ttl "2x"/, 'env variables are validated like flags');
  });
}
