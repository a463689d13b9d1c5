/**
 * `weftctl doctor` against the real weftd on rig hosts, each check broken on
 * purpose inside a host namespace (never the root namespace): the check
 * FAILs (or warns) with its fix, the other checks stay ok, and applying the
 * printed fix makes it ok again.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { requirePrerequisites } from '../helpers/require.js';
import { HEALTHZ_PORT, PREFIX, startWeftCluster } from '../helpers/weft-cluster.js';

const DEVICE = 'weft.1';
const NETWORK = '10.5.0.0/16';

interface Result { check: string; verdict: 'ok' | 'warn' | 'FAIL'; detail: string; fix: string | null }
interface Doctor { code: number; results: Result[]; get(check: string): Result | undefined; fails(): string[] }

if (requirePrerequisites(t, ['ip', 'bridge', 'etcd', 'etcdctl', 'ping', 'sysctl', 'iptables'], true)) {
  // --ip-masq=false: the FORWARD check is judged on a host without weft's own WEFT-FWD accept rules.
  const c = await startWeftCluster({ hosts: 3, config: { Network: NETWORK, Backend: { Type: 'vxlan' } }, weftdArgs: ['--resync-interval', '60s', '--ip-masq=false'] });
  t.teardown(() => c.stop());
  const doctor = async (i: number, extra: string[] = []): Promise<Doctor> => {
    const r = await c.weftctl(i, 'doctor', ['--json', ...extra]);
    let results: Result[];
    try {
      results = (JSON.parse(r.stdout) as { results: Result[] }).results;
    } catch {
      throw new Error(`doctor printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
    return { code: r.code, results, get: (check) => results.find((x) => x.check === check), fails: () => results.filter((x) => x.verdict === 'FAIL').map((x) => x.check) };
  };
  const inSync = async (i: number): Promise<boolean> => (await c.weftctl(i, 'status')).code === 0;
  await c.waitFor('every host to program its peers', async () => (await Promise.all([1, 2, 3].map(inSync))).every(Boolean));

  t.test('the starting point: no FAIL on host1', async (t) => {
    const d = await doctor(1);
    t.equal(d.code, 0);
    t.same(d.fails(), []);
  });

  t.test('ip_forward = 0 in the host: FAIL with the sysctl; the fix works', async (t) => {
    await c.sh(1, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    const d = await doctor(1);
    t.equal(d.code, 1);
    t.same(d.fails(), ['ip_forward']);
    t.match(d.get('ip_forward'), { detail: /net\.ipv4\.ip_forward = 0/, fix: /sysctl -w net\.ipv4\.ip_forward=1/ });
    await c.sh(1, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    t.match((await doctor(1)).get('ip_forward'), { verdict: 'ok' });
  });

  t.test('rp_filter = 1 on the device: FAIL (effective = max(all, device)); loose is ok', async (t) => {
    const key = `net/ipv4/conf/${DEVICE}/rp_filter`;
    const original = (await c.sh(1, 'sysctl', ['-n', key])).trim();
    await c.sh(1, 'sysctl', ['-qw', `${key}=1`]);
    const d = await doctor(1);
    t.same(d.fails(), ['rp_filter']);
    t.match(d.get('rp_filter'), { detail: new RegExp(`${DEVICE} = 1, effective 1: strict`), fix: new RegExp(`sysctl -w ${key}=2`) });
    await c.sh(1, 'sysctl', ['-qw', `${key}=2`]);
    t.match((await doctor(1)).get('rp_filter'), { verdict: 'ok', detail: /effective 2 \(loose\)/ });
    await c.sh(1, 'sysctl', ['-qw', `${key}=${original}`]);
  });

  t.test('bridge-nf-call-iptables: reported as found, a warn at most', async (t) => {
    const path = '/proc/sys/net/bridge/bridge-nf-call-iptables';
    const present = await c.sh(1, 'cat', [path]).then(() => true, () => false);
    if (!present) {
      t.comment('br_netfilter is not visible in this network namespace: only the "not loaded" warning is testable');
      t.match((await doctor(1)).get('bridge-nf-call-iptables'), { verdict: 'warn', detail: /br_netfilter is not loaded/ });
      return;
    }
    const original = (await c.sh(1, 'cat', [path])).trim();
    await c.sh(1, 'sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=0']);
    const d = await doctor(1);
    t.equal(d.code, 0, 'a warn does not fail doctor');
    t.match(d.get('bridge-nf-call-iptables'), { verdict: 'warn', detail: /= 0/, fix: /sysctl -w net\.bridge\.bridge-nf-call-iptables=1/ });
    await c.sh(1, 'sysctl', ['-qw', 'net.bridge.bridge-nf-call-iptables=1']);
    t.match((await doctor(1)).get('bridge-nf-call-iptables'), { verdict: 'ok' });
    await c.sh(1, 'sysctl', ['-qw', `net.bridge.bridge-nf-call-iptables=${original}`]);
  });

  t.test('a cni0 bridge with a larger MTU than the device: FAIL; at the device MTU it is ok', async (t) => {
    await c.sh(1, 'ip', ['link', 'add', 'cni0', 'mtu', '1500', 'type', 'bridge']);
    try {
      const d = await doctor(1);
      t.same(d.fails(), ['mtu']);
      t.match(d.get('mtu'), { detail: `cni0 MTU 1500 is larger than ${DEVICE} MTU 1450`, fix: /ip link set cni0 mtu 1450/ });
      await c.sh(1, 'ip', ['link', 'set', 'cni0', 'mtu', '1450']);
      t.match((await doctor(1)).get('mtu'), { verdict: 'ok', detail: `${DEVICE} 1450 = eth0 MTU 1500 − 50; cni0 1450` });
    } finally {
      await c.sh(1, 'ip', ['link', 'del', 'cni0']);
    }
  });

  t.test('a second lease with host2\'s public IP (written with etcdctl): duplicates FAIL, and its probe fails', async (t) => {
    const used = new Set([1, 2, 3].map((i) => c.subnet(i)));
    const ghost = ['10.5.250.0/24', '10.5.251.0/24'].find((s) => !used.has(s)) ?? '?';
    const key = `${PREFIX}/subnets/${ghost.replace('/', '-')}`;
    await c.etcdctl(['put', key, JSON.stringify({ PublicIP: '192.0.2.12', PublicIPv6: null, BackendType: 'vxlan',
      BackendData: { VNI: 1, VtepMAC: '0a:00:00:00:00:fa' }, NodeName: 'ghost' })]);
    try {
      await c.waitFor('host1 to program the ghost lease', () => inSync(1));
      const d = await doctor(1);
      t.equal(d.code, 1);
      t.same(d.fails().sort(), ['duplicates', `vxlan ${ghost}`].sort(), 'host2 has no VTEP with the ghost\'s MAC: nothing answers');
      t.match(d.get('duplicates'), { detail: /^public IP 192\.0\.2\.12 is in 2 leases: .*\(host2\).*\(ghost\)|^public IP 192\.0\.2\.12 is in 2 leases: .*\(ghost\).*\(host2\)/,
        fix: /--public-ip.*weftctl release --force/ });
    } finally {
      await c.etcdctl(['del', key]);
    }
    await c.waitFor('host1 to drop the ghost lease', () => inSync(1));
    t.same((await doctor(1)).fails(), []);
  });

  t.test('UDP 8472 dropped by a peer\'s firewall: that peer\'s probe FAILs, the other passes', async (t) => {
    const rule = ['INPUT', '-p', 'udp', '--dport', '8472', '-j', 'DROP'];
    await c.sh(2, 'iptables', ['-I', ...rule]);
    try {
      const d = await doctor(1);
      t.equal(d.code, 1);
      t.same(d.fails(), [`vxlan ${c.subnet(2)}`]);
      t.match(d.get(`vxlan ${c.subnet(2)}`), { detail: /no answer from .* \(2 packets transmitted, 0 received.*\): UDP 8472 to 192\.0\.2\.12 \(host2\) and back is blocked/,
        fix: /allow UDP 8472 between 192\.0\.2\.11 and 192\.0\.2\.12 both ways/ });
      t.match(d.get(`vxlan ${c.subnet(3)}`), { verdict: 'ok' });
      t.match(d.get('peer entries'), { verdict: 'ok' }, 'the kernel entries are fine: only the wire is blocked');
    } finally {
      await c.sh(2, 'iptables', ['-D', ...rule]);
    }
    t.match((await doctor(1)).get(`vxlan ${c.subnet(2)}`), { verdict: 'ok' });
  });

  t.test('FORWARD policy DROP: FAIL with the fix; ACCEPT rules for the network make it ok', async (t) => {
    await c.sh(1, 'iptables', ['-P', 'FORWARD', 'DROP']);
    try {
      const d = await doctor(1);
      t.same(d.fails(), ['FORWARD']);
      t.match(d.get('FORWARD'), { detail: `policy DROP and no rule accepts traffic from ${NETWORK} or to ${NETWORK}`,
        fix: `iptables -I FORWARD -s ${NETWORK} -j ACCEPT; iptables -I FORWARD -d ${NETWORK} -j ACCEPT` });
      await c.sh(1, 'iptables', ['-I', 'FORWARD', '-s', NETWORK, '-j', 'ACCEPT']);
      t.match((await doctor(1)).get('FORWARD'), { verdict: 'FAIL', detail: `no rule accepts traffic to ${NETWORK}:` }, 'one direction is not enough');
      await c.sh(1, 'iptables', ['-I', 'FORWARD', '-d', NETWORK, '-j', 'ACCEPT']);
      t.match((await doctor(1)).get('FORWARD'), { verdict: 'ok', detail: `policy DROP, but rules in FORWARD accept ${NETWORK} both ways` });
    } finally {
      await c.sh(1, 'iptables', ['-F', 'FORWARD']);
      await c.sh(1, 'iptables', ['-P', 'FORWARD', 'ACCEPT']);
    }
  });

  t.test('etcd unreachable: FAIL etcd; the host checks still run', async (t) => {
    const d = await doctor(1, ['--etcd-endpoints', 'http://192.0.2.1:2399']);
    t.equal(d.code, 1);
    t.same(d.fails(), ['etcd']);
    t.match(d.get('etcd'), { detail: /etcd at http:\/\/192\.0\.2\.1:2399 is unreachable/, fix: /--etcd-endpoints/ });
    t.match(d.get('device'), { verdict: 'ok', detail: new RegExp(`^${DEVICE} up`) }, 'the device is found without the config');
    t.match(d.get('lease'), { verdict: 'warn' });
    t.match(d.get('ip_forward'), { verdict: 'ok' });
  });

  t.test('cni0 with an address from another subnet: FAIL naming it, with the fix; the right address is ok', async (t) => {
    const subnet = /FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.1\/(\d+)/.exec(readFileSync(c.subnetFile(1), 'utf8'));
    const gateway = `${subnet?.[1] ?? ''}.1/${subnet?.[2] ?? ''}`;
    t.notOk((await doctor(1)).get('cni0 address'), 'no cni0: no row');
    await c.sh(1, 'ip', ['link', 'add', 'cni0', 'mtu', '1400', 'type', 'bridge']);
    try {
      // Another subnet's gateway (the host's own subnet is random: it may be 10.5.250.0/24).
      const stale = gateway === '10.5.250.1/24' ? '10.5.251.1/24' : '10.5.250.1/24';
      await c.sh(1, 'ip', ['addr', 'add', stale, 'dev', 'cni0']);
      const d = await doctor(1);
      t.same(d.fails(), ['cni0 address']);
      t.match(d.get('cni0 address'), { detail: new RegExp(`cni0 has ${stale.replace(/\./g, '\\.')}, but this host's subnet is .*\\(gateway ${gateway.replace(/\./g, '\\.')}\\)`),
        fix: /remove or recreate the pods still attached to cni0/ });
      await c.sh(1, 'ip', ['addr', 'flush', 'dev', 'cni0']);
      await c.sh(1, 'ip', ['addr', 'add', gateway, 'dev', 'cni0']);
      t.match((await doctor(1)).get('cni0 address'), { verdict: 'ok', detail: `${gateway}, the gateway of ` });
    } finally {
      await c.sh(1, 'ip', ['link', 'del', 'cni0']);
    }
  });

  t.test('weftd stopped: the /readyz probe FAILs; without --healthz-port doctor says it only inferred', async (t) => {
    t.match((await doctor(3, ['--healthz-port', String(HEALTHZ_PORT)])).get('weftd'), { verdict: 'ok', detail: /answered 200/ });
    t.equal(await c.daemons.get(3)?.stop('SIGTERM'), 0);
    const probed = await doctor(3, ['--healthz-port', String(HEALTHZ_PORT)]);
    t.equal(probed.code, 1);
    t.match(probed.get('weftd'), { verdict: 'FAIL', detail: new RegExp(`nothing answers at http://127\\.0\\.0\\.1:${HEALTHZ_PORT}/readyz \\(connect ECONNREFUSED`), fix: /start weftd/ });
    // subnet.env and the device outlive weftd by design (hitless restarts): the inference cannot tell.
    t.match((await doctor(3)).get('weftd'), { verdict: 'ok', detail: /inferred from subnet\.env and the device/ });
  });
}
