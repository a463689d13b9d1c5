/**
 * `weftctl status` and a healthy `weftctl doctor` on rig hosts running the
 * real weftd. weftd resyncs only every 60 s here, so entries broken by hand
 * stay broken while status looks at them: status must read the kernel, not
 * trust the daemon.
 */
import t from 'tap';
import { requirePrerequisites } from '../helpers/require.js';
import { HEALTHZ_PORT, PREFIX, startWeftCluster } from '../helpers/weft-cluster.js';
import { ETCD_ENDPOINT } from '../rig/rig.js';
import { msgIs, startWeftd } from '../helpers/weftd-process.js';

const DEVICE = 'weft.1';

interface StatusJson {
  ok: boolean;
  problems: string[];
  lease: { subnet: string; publicIp: string; vtepMac: string; reservation: boolean; ttlSeconds: number } | null;
  device: { name: string; vni: number; port: number; local: string; parent: string; mtu: number; up: boolean; mac: string; problems: string[] } | null;
  subnetFile: { path: string; state: string };
  drift: { inSync: boolean; extra: string[]; peers: { subnet: string; node: string; publicIp: string; vtepMac: string; route: string; neighbor: string; fdb: string; inSync: boolean }[] };
}

interface DoctorJson {
  ok: boolean;
  results: { check: string; verdict: string; detail: string; fix: string | null }[];
  summary: { ok: number; warn: number; fail: number };
}

if (requirePrerequisites(t, ['ip', 'bridge', 'etcd', 'etcdctl', 'ping', 'sysctl', 'iptables'], true)) {
  const c = await startWeftCluster({ hosts: 3, config: { Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } }, weftdArgs: ['--resync-interval', '60s'] });
  t.teardown(() => c.stop());
  const statusJson = async (i: number): Promise<{ code: number; report: StatusJson }> => {
    const r = await c.weftctl(i, 'status', ['--json']);
    return { code: r.code, report: JSON.parse(r.stdout) as StatusJson };
  };
  const others = (i: number): number[] => [1, 2, 3].filter((j) => j !== i);
  const gateway = (i: number): string => c.subnet(i).replace(/\/\d+$/, '');
  await c.waitFor('every host to program its peers', async () => (await Promise.all([1, 2, 3].map((i) => c.weftctl(i, 'status')))).every((r) => r.code === 0));

  t.test('status on each healthy host: exit 0, its lease and device, every peer ok', async (t) => {
    for (const i of [1, 2, 3]) {
      const r = await c.weftctl(i, 'status');
      t.equal(r.code, 0, `host${i}: exit 0`);
      t.match(r.stdout, new RegExp(`^node +host${i}$`, 'm'));
      t.match(r.stdout, new RegExp(`^lease +${c.subnet(i)}, public IP 192\\.0\\.2\\.1${i}, VTEP MAC [0-9a-f:]{17}, TTL \\d`, 'm'));
      t.match(r.stdout, new RegExp(`^device +${DEVICE} up, vxlan id 1 dstport 8472 local 192\\.0\\.2\\.1${i} dev eth0, mtu 1450, mac `, 'm'));
      t.match(r.stdout, new RegExp(`^subnet\\.env +${c.subnetFile(i)}: ok$`, 'm'));
      for (const j of others(i)) {
        t.match(r.stdout, new RegExp(`^${c.subnet(j)} +host${j} +192\\.0\\.2\\.1${j} +[0-9a-f:]{17} +vxlan +ok +ok +ok$`, 'm'), `host${i} → host${j}: ok ok ok`);
      }
      t.match(r.stdout, /\nin sync: 2 peers$/);
    }
  });

  t.test('status --json: the same facts, for scripts', async (t) => {
    const { code, report } = await statusJson(1);
    t.equal(code, 0);
    t.match(report, { ok: true, problems: [], lease: { subnet: c.subnet(1), publicIp: '192.0.2.11', reservation: false },
      device: { name: DEVICE, vni: 1, port: 8472, local: '192.0.2.11', parent: 'eth0', mtu: 1450, up: true, problems: [] },
      subnetFile: { path: c.subnetFile(1), state: 'ok' }, drift: { inSync: true, extra: [] } });
    t.ok((report.lease?.ttlSeconds ?? 0) > 0, 'a TTL in seconds');
    t.same(report.drift.peers.map((p) => [p.subnet, p.node, p.publicIp, p.route, p.neighbor, p.fdb, p.inSync]).sort(),
      others(1).map((j) => [c.subnet(j), `host${j}`, `192.0.2.1${j}`, 'ok', 'ok', 'ok', true]).sort());
  });

  t.test('doctor on a healthy host: no FAIL, exit 0, /readyz probed', async (t) => {
    const r = await c.weftctl(1, 'doctor', ['--healthz-port', String(HEALTHZ_PORT)]);
    t.equal(r.code, 0, r.stdout);
    t.match(r.stdout, new RegExp(`^ok +weftd +ready: http://127\\.0\\.0\\.1:${HEALTHZ_PORT}/readyz answered 200$`, 'm'));
    for (const j of others(1)) t.match(r.stdout, new RegExp(`^ok +vxlan ${c.subnet(j)} +${gateway(j)} answered through ${DEVICE}: UDP 8472 to 192\\.0\\.2\\.1${j} \\(host${j}\\) and back works$`, 'm'));
    for (const j of others(1)) t.match(r.stdout, new RegExp(`^ok +df ${c.subnet(j)} +a 1450-byte packet with DF set \\(the ${DEVICE} MTU, the pods' MTU\\) crossed to ${gateway(j)} and back$`, 'm'));
    t.match(r.stdout, new RegExp(`^ok +checksum offload +${DEVICE} tx-checksum-ip-generic off, as Backend\\.ChecksumOffload off asks$`, 'm'));
    t.match(r.stdout, /\n19 checks: \d+ ok, \d+ warn, 0 FAIL$/, 'two peers: a df row each, and the checksum offload row');
    t.match(r.stdout, /^ok +node name +"host1" is held by this host's weftd \(public IP 192\.0\.2\.11/m, 'the instance id (boot id + netns) matches weftd\'s');
    const json = JSON.parse((await c.weftctl(1, 'doctor', ['--json'])).stdout) as DoctorJson;
    t.equal(json.ok, true);
    t.same(json.results.filter((x) => x.verdict === 'FAIL'), []);
    t.match(json.results.find((x) => x.check === 'weftd'), { verdict: 'ok', detail: /inferred from subnet\.env and the device/ }, 'without --healthz-port it says how it decided');
  });

  t.test('a route deleted and a neighbour changed by hand: exit 1, that peer shows missing / wrong', async (t) => {
    const strange = '02:00:5e:00:00:99';
    const before = await statusJson(1);
    // weftd puts hand edits right at once (kernel notifications): stop it (its entries stay) to look at the drift.
    t.equal(await c.daemons.get(1)?.stop('SIGTERM'), 0, 'host1 weftd stopped');
    await c.sh(1, 'ip', ['route', 'del', c.subnet(2), 'dev', DEVICE]);
    await c.sh(1, 'ip', ['neigh', 'replace', gateway(3), 'lladdr', strange, 'dev', DEVICE, 'nud', 'permanent']);

    const text = await c.weftctl(1, 'status');
    t.equal(text.code, 1, 'exit 1');
    t.match(text.stdout, new RegExp(`^${c.subnet(2)} +host2 +192\\.0\\.2\\.12 +[0-9a-f:]{17} +vxlan +missing +ok +ok$`, 'm'), 'host2: route missing');
    t.match(text.stdout, new RegExp(`^${c.subnet(3)} +host3 +192\\.0\\.2\\.13 +[0-9a-f:]{17} +vxlan +ok +wrong: lladdr ${strange} +ok$`, 'm'), 'host3: neighbour wrong');
    t.match(text.stdout, /\nNOT in sync:\n {2}- 2 of 2 peers drifted$/);

    const { code, report } = await statusJson(1);
    t.equal(code, 1);
    t.equal(report.ok, false);
    const peer = (j: number): StatusJson['drift']['peers'][number] | undefined => report.drift.peers.find((p) => p.subnet === c.subnet(j));
    t.match(peer(2), { route: 'missing', neighbor: 'ok', fdb: 'ok', inSync: false });
    t.match(peer(3), { route: 'ok', neighbor: `wrong: lladdr ${strange}`, fdb: 'ok', inSync: false });

    const doctor = await c.weftctl(1, 'doctor', ['--json']);
    t.equal(doctor.code, 1, 'doctor FAILs too');
    const results = (JSON.parse(doctor.stdout) as DoctorJson).results;
    const entries = results.find((x) => x.check === 'peer entries');
    t.equal(entries?.verdict, 'FAIL');
    t.match(entries?.detail, `${c.subnet(2)}: route missing, neighbour ok, fdb ok`);
    t.match(entries?.detail, `${c.subnet(3)}: route ok, neighbour wrong: lladdr ${strange}, fdb ok`);

    // weftd back: its first pass repairs both, and status says so.
    t.equal(before.report.drift.peers.length, 2);
    await c.restart(1).waitForLog(msgIs('first reconcile pass done; ready'), 20_000, 'host1 ready again');
    await c.waitFor('status to be in sync again', async () => (await c.weftctl(1, 'status')).code === 0);
    t.pass('exit 0 once weftd put the entries back');
  });

  t.test('two rig hosts, one node name: the second weftd fails naming the first; doctor there reports the conflict', async (t) => {
    const before = await c.etcdctl(['get', `${PREFIX}/subnets/${c.subnet(1).replace('/', '-')}`, '-w', 'json']);
    // A clone of host1 on host2 (another network namespace, same kernel: only the netns part of the instance id differs).
    // Lease-only, so host2's own device and entries are not touched.
    const clone = startWeftd(['--dataplane', 'none', '--public-ip', '192.0.2.12', '--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX,
      '--node-name', 'host1', '--subnet-file', `${c.subnetFile(2)}.clone`, '--node-presence-ttl', '2s'], { netns: c.rig.host(2).netns });
    t.teardown(() => clone.stop('SIGKILL'));
    const doctor = await c.weftctl(2, 'doctor', ['--json', '--node-name', 'host1']);
    const check = (JSON.parse(doctor.stdout) as DoctorJson).results.find((x) => x.check === 'node name');
    t.match(check, { verdict: 'FAIL', detail: /node name "host1" is already in use by another running host \(public IP 192\.0\.2\.11/, fix: /unique --node-name/ });
    t.equal(await clone.exited, 1, 'the clone exits 1');
    t.match(clone.stderr(), /node name "host1" is already in use by another running host \(public IP 192\.0\.2\.11.*unique --node-name/s);
    t.equal(await c.etcdctl(['get', `${PREFIX}/subnets/${c.subnet(1).replace('/', '-')}`, '-w', 'json']).then((x) => x.replace(/"revision":\d+,/, '')),
      before.replace(/"revision":\d+,/, ''), 'host1\'s lease is untouched');
    t.equal((await c.weftctl(1, 'status')).code, 0, 'host1 is still fine');
  });
}
