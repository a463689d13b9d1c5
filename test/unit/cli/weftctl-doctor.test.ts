import t from 'tap';
import type { HostProbe } from '../../../src/adapters/host-probe.js';
import { doctorCommand, gatherDoctorFacts, renderDoctor } from '../../../src/cli/weftctl-doctor.js';
import { evaluateDoctor } from '../../../src/core/doctor.js';
import type { Ipv4 } from '../../../src/core/cidr.js';
import { encodePresence } from '../../../src/core/node-presence.js';
import type { MemoryRegistry } from '../../fakes/memory-registry.js';
import { hostFixture } from '../../helpers/host-fixture.js';
import { MemoryEthtool } from '../../fakes/memory-ethtool.js';

/** A host whose sysctls, iptables and peers are all fine unless told otherwise; records pings and GETs. */
class FakeHostProbe implements HostProbe {
  readonly pings: string[] = [];
  readonly gets: string[] = [];
  sysctls = new Map<string, number>([['net/ipv4/ip_forward', 1], ['net/bridge/bridge-nf-call-iptables', 1], ['net/ipv4/conf/all/rp_filter', 0], ['net/ipv4/conf/weft.1/rp_filter', 0]]);
  silent = new Set<string>();
  async readSysctl(path: string): Promise<number | undefined> { return this.sysctls.get(path); }
  async weftDevices(): Promise<string[]> { return ['weft.1']; }
  async filterRules(): Promise<{ ok: true; rules: string }> { return { ok: true, rules: '-P FORWARD ACCEPT\n' }; }
  async ping(device: string, ip: string): Promise<{ replied: boolean; output: string }> {
    this.pings.push(`${device} ${ip}`);
    return this.silent.has(ip) ? { replied: false, output: '2 packets transmitted, 0 received' } : { replied: true, output: '2 received' };
  }
  /** The largest packet that crosses (default: everything up to the device MTU). */
  pathMtu = 1450;
  async dfPing(device: string, ip: string, size: number): Promise<{ passed: boolean; output: string }> {
    this.pings.push(`${device} ${ip} df ${size}`);
    return size <= this.pathMtu ? { passed: true, output: '1 received' } : { passed: false, output: '1 packets transmitted, 0 received, 100% packet loss' };
  }
  async httpGet(url: string): Promise<{ ok: true; status: number; body: string }> {
    this.gets.push(url);
    return { ok: true, status: 200, body: 'ready\n' };
  }
}

/** The registry with `node`'s presence key held by weftd instance `instanceId`. */
function withPresence<R extends MemoryRegistry>(registry: R, node: string, instanceId: string): R {
  registry.putPresenceRaw(node, encodePresence({ instanceId, publicIp: '198.51.100.77' as Ipv4, startedAt: '2026-11-27T10:00:00.000Z' }), registry.grant(30));
  return registry;
}

const options = (subnetFile: string, port?: number) => ({ nodeName: 'host1', subnetFile, healthz: port ? { ip: '127.0.0.1', port } : undefined });

t.test('gathers every fact: pings each peer\'s VTEP address through the device, never its own', async (t) => {
  const h = await hostFixture(t.testdir());
  const host = new FakeHostProbe();
  const facts = await gatherDoctorFacts(options(h.subnetFile), { openRegistry: async () => h.registry, kernel: h.kernel, host });
  t.same(host.pings.sort(), ['weft.1 10.5.2.0', 'weft.1 10.5.2.0 df 1450', 'weft.1 10.5.3.0', 'weft.1 10.5.3.0 df 1450'], 'a plain ping, then DF at the device MTU');
  t.match(facts.probes, [{ df: { size: 1450, passed: true } }, { df: { size: 1450, passed: true } }]);
  t.equal(facts.txChecksum, undefined, 'no offload reader: no checksum offload fact');
  t.same(host.gets, [], 'no --healthz-port: /readyz is not probed');
  t.match(facts, { deviceName: 'weft.1', device: { name: 'weft.1', mtu: 1450 }, cni0Mtu: undefined, readiness: { kind: 'not-probed' },
    sysctl: { ipForward: 1, rpFilterDevice: 0 }, etcd: { ok: true } });
  t.same(evaluateDoctor(facts).filter((r) => r.verdict === 'FAIL'), []);
  await gatherDoctorFacts(options(h.subnetFile, 9180), { openRegistry: async () => h.registry, kernel: h.kernel, host });
  t.same(host.gets, ['http://127.0.0.1:9180/readyz']);
});

t.test('DF probe: when the device MTU does not cross, the largest size that does (bisection); a silent peer gets no DF probe', async (t) => {
  const h = await hostFixture(t.testdir());
  const host = new FakeHostProbe();
  host.pathMtu = 1400;
  host.silent.add('10.5.3.0');
  const ethtool = new MemoryEthtool(h.kernel);
  const facts = await gatherDoctorFacts(options(h.subnetFile), { openRegistry: async () => h.registry, kernel: h.kernel, host, offload: ethtool });
  t.match(facts.probes.find((p) => p.subnet === '10.5.2.0/24'), { df: { size: 1450, passed: false, largest: 1400, output: /100% packet loss/ } });
  t.equal(facts.probes.find((p) => p.subnet === '10.5.3.0/24')?.df, undefined);
  t.ok(host.pings.filter((p) => p.startsWith('weft.1 10.5.2.0 df')).length <= 12, 'bisection, not a walk');
  t.same(facts.txChecksum, { ok: true, on: true }, 'read through the offload reader');
  const results = evaluateDoctor(facts);
  t.match(results.find((r) => r.check === 'df 10.5.2.0/24'), {
    verdict: 'FAIL', detail: /1450-byte packet with DF set .* did not cross to 10\.5\.2\.0 .*the largest that did: 1400 bytes/, fix: /Backend\.MTU to 1450/,
  });
  t.match(results.find((r) => r.check === 'checksum offload'), { verdict: 'FAIL', detail: 'weft.1 tx-checksum-ip-generic on, but Backend.ChecksumOffload is off' });
  await ethtool.setTxChecksum('weft.1', false);
  const again = evaluateDoctor(await gatherDoctorFacts(options(h.subnetFile), { openRegistry: async () => (await hostFixture(t.testdir())).registry, kernel: h.kernel, host, offload: ethtool }));
  t.match(again.find((r) => r.check === 'checksum offload'), { verdict: 'ok' });
});

t.test('etcd unreachable: the device is found by name and nothing is pinged', async (t) => {
  const h = await hostFixture(t.testdir());
  const host = new FakeHostProbe();
  const facts = await gatherDoctorFacts(options(h.subnetFile), {
    openRegistry: async () => { throw new Error('connect ECONNREFUSED 192.0.2.1:2379. Resolution note: '); }, kernel: h.kernel, host,
  });
  t.same(facts.etcd, { ok: false, error: 'etcd: connect ECONNREFUSED 192.0.2.1:2379.' });
  t.equal(facts.device?.name, 'weft.1');
  t.same(host.pings, []);
});

t.test('doctorCommand: exit 0 without FAIL, 1 with; text and JSON', async (t) => {
  const dir = t.testdir();
  const h = await hostFixture(dir);
  const host = new FakeHostProbe();
  // doctor closes the registry it opened: each run gets a fresh one with the same content.
  const deps = { openRegistry: async () => withPresence((await hostFixture(dir)).registry, 'host1', 'instance-host1'), kernel: h.kernel, host, instanceId: async () => 'instance-host1' };
  const out: string[] = [];
  const io = { out: (s: string) => out.push(s), err: () => undefined };
  t.equal(await doctorCommand({ 'node-name': 'host1', 'subnet-file': h.subnetFile }, io, deps), 0);
  t.match(out.pop(), /^ok {4}weftd .*ok {4}node name +"host1" is held by this host's weftd .*\n\n18 checks: 17 ok, 1 warn, 0 FAIL$/s, 'the parent MTU is unknown to the fake kernel: a warn');
  host.silent.add('10.5.3.0');
  t.equal(await doctorCommand({ 'node-name': 'host1', 'subnet-file': h.subnetFile, json: true }, io, deps), 1);
  const json = JSON.parse(out.pop() ?? '') as { ok: boolean; summary: object; results: { check: string; verdict: string }[] };
  t.match(json, { ok: false, summary: { fail: 1 } });
  t.same(json.results.filter((r) => r.verdict === 'FAIL').map((r) => r.check), ['vxlan 10.5.3.0/24']);
});

t.test('doctorCommand: two hosts with one node name is a FAIL naming the other host', async (t) => {
  const dir = t.testdir();
  const h = await hostFixture(dir);
  const deps = { openRegistry: async () => withPresence((await hostFixture(dir)).registry, 'host1', 'a-clone'), kernel: h.kernel, host: new FakeHostProbe(), instanceId: async () => 'instance-host1' };
  const out: string[] = [];
  t.equal(await doctorCommand({ 'node-name': 'host1', 'subnet-file': h.subnetFile, json: true }, { out: (s: string) => out.push(s), err: () => undefined }, deps), 1);
  const json = JSON.parse(out.pop() ?? '') as { results: { check: string; verdict: string; detail: string; fix: string }[] };
  const check = json.results.find((r) => r.check === 'node name');
  t.match(check, { verdict: 'FAIL', detail: /node name "host1" is already in use by another running host \(public IP 198\.51\.100\.77/, fix: /unique --node-name/ });
});

t.test('renderDoctor: aligned columns, the fix under its check', async (t) => {
  const text = renderDoctor([
    { check: 'ip_forward', verdict: 'FAIL', detail: 'net.ipv4.ip_forward = 0', fix: 'sysctl -w net.ipv4.ip_forward=1' },
    { check: 'mtu', verdict: 'ok', detail: 'fine', fix: null },
  ]);
  t.equal(text, 'FAIL  ip_forward  net.ipv4.ip_forward = 0\n                  fix: sysctl -w net.ipv4.ip_forward=1\nok    mtu         fine\n\n2 checks: 1 ok, 0 warn, 1 FAIL');
});
