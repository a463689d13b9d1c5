import t from 'tap';
import type { HostProbe } from '../../../src/adapters/host-probe.js';
import type { Kernel } from '../../../src/adapters/kernel.js';
import type { Cidr } from '../../../src/core/cidr.js';
import { doctorCommand, gatherDoctorFacts } from '../../../src/cli/weftctl-doctor.js';
import { type CheckResult, evaluateDoctor } from '../../../src/core/doctor.js';
import { DEVICE6, type DualHostFixture, dualHostFixture } from '../../helpers/dual-host-fixture.js';
import { hostFixture } from '../../helpers/host-fixture.js';

/** A dual-stack host whose sysctls, iptables and peers are fine unless told otherwise; records pings. */
class FakeHostProbe implements HostProbe {
  readonly pings: string[] = [];
  sysctls = new Map<string, number>([['net/ipv4/ip_forward', 1], ['net/bridge/bridge-nf-call-iptables', 1], ['net/ipv4/conf/all/rp_filter', 0],
    ['net/ipv4/conf/weft.1/rp_filter', 0], ['net/ipv6/conf/all/forwarding', 1]]);
  silent = new Set<string>();
  async readSysctl(path: string): Promise<number | undefined> { return this.sysctls.get(path); }
  async weftDevices(): Promise<string[]> { return ['weft.1']; }
  async filterRules(): Promise<{ ok: true; rules: string }> { return { ok: true, rules: '-P FORWARD ACCEPT\n' }; }
  async ping(device: string, ip: string): Promise<{ replied: boolean; output: string }> {
    this.pings.push(`${device} ${ip}`);
    return this.silent.has(ip) ? { replied: false, output: '2 packets transmitted, 0 received' } : { replied: true, output: '2 received' };
  }
  async dfPing(): Promise<{ passed: boolean; output: string }> { return { passed: true, output: '1 received' }; }
  async httpGet(): Promise<{ ok: false; error: string }> { return { ok: false, error: 'not used' }; }
}

const options = (subnetFile: string) => ({ nodeName: 'host1', subnetFile, healthz: undefined });

async function diagnose(h: DualHostFixture, host = new FakeHostProbe(), kernel6: Kernel = h.kernel6): Promise<CheckResult[]> {
  return evaluateDoctor(await gatherDoctorFacts(options(h.subnetFile), { openRegistry: async () => h.registry, kernel: h.kernel, kernel6, host }));
}

const notOk = (results: readonly CheckResult[]): string[] => results.filter((r) => r.verdict !== 'ok').map((r) => `${r.verdict} ${r.check}`);
const check = (results: readonly CheckResult[], name: string): CheckResult | undefined => results.find((r) => r.check === name);

t.test('a dual-stack host: IPv6 checks after the IPv4 ones, a ping -6 target per IPv6 peer, nothing fails', async (t) => {
  const h = await dualHostFixture(t.testdir());
  const host = new FakeHostProbe();
  const results = await diagnose(h, host);
  t.same(notOk(results), []);
  t.same(host.pings.sort(), [`${DEVICE6} fd00:10:0:2::`, `${DEVICE6} fd00:10:0:3::`, 'weft.1 10.5.2.0', 'weft.1 10.5.3.0']);
  const names = results.map((r) => r.check);
  t.same(names.slice(names.indexOf('FORWARD')), ['FORWARD', 'ipv6 forwarding', 'ipv6 lease', 'ipv6 device', 'ipv6 mtu', 'ipv6 peer entries',
    'vxlan6 fd00:10:0:2::/64', 'vxlan6 fd00:10:0:3::/64']);
  t.match(check(results, 'lease'), { detail: '10.5.1.0/24 and fd00:10:0:1::/64, public IP 192.0.2.11' });
  t.match(check(results, 'ipv6 mtu'), { detail: 'weft-v6.1 1430 = eth0 MTU 1500 − 70 (IPv6 underlay)' });
  t.match(check(results, 'vxlan6 fd00:10:0:2::/64'), { detail: 'fd00:10:0:2:: answered through weft-v6.1: UDP 8472 to fd00:99::12 (host2) and back works' });
});

t.test('IPv6 forwarding off and a silent IPv6 peer FAIL on their own; every IPv4 check stays ok', async (t) => {
  const h = await dualHostFixture(t.testdir());
  const host = new FakeHostProbe();
  host.sysctls.set('net/ipv6/conf/all/forwarding', 0);
  host.silent.add('fd00:10:0:3::');
  const results = await diagnose(h, host);
  t.same(notOk(results), ['FAIL ipv6 forwarding', 'FAIL vxlan6 fd00:10:0:3::/64']);
  t.match(check(results, 'ipv6 forwarding'), { fix: /sysctl -w net\.ipv6\.conf\.all\.forwarding=1/ });
  t.match(check(results, 'vxlan6 fd00:10:0:3::/64'), { detail: /no answer from fd00:10:0:3:: through weft-v6\.1/, fix: /ip6tables -S INPUT/ });
  t.match(check(results, 'vxlan 10.5.3.0/24'), { verdict: 'ok' });
});

t.test('no IPv6 device: the device FAILs, its peers are not checked, the IPv4 side is whole', async (t) => {
  const h = await dualHostFixture(t.testdir());
  await h.kernel6.deleteDevice(DEVICE6);
  const host = new FakeHostProbe();
  const results = await diagnose(h, host);
  t.same(notOk(results), ['FAIL ipv6 device', 'warn ipv6 mtu', 'warn ipv6 peer entries']);
  t.same(host.pings.filter((p) => p.startsWith(DEVICE6)), []);
  t.match(check(results, 'subnet.env'), { verdict: 'ok' }, 'the MTU is not compared against a device that is not there');
});

t.test('IPv6 entries drifted, and an IPv6 adapter that fails: IPv6 results only', async (t) => {
  const h = await dualHostFixture(t.testdir());
  await h.kernel6.apply(DEVICE6, [{ action: 'delete', kind: 'neighbor', entry: { ip: 'fd00:10:0:2::' as never, mac: '00:00:00:00:00:00' as never } }]);
  const drifted = await diagnose(h);
  t.same(notOk(drifted), ['FAIL ipv6 peer entries', 'warn vxlan6 fd00:10:0:2::/64']);
  t.match(check(drifted, 'ipv6 peer entries'), { detail: 'fd00:10:0:2::/64: route ok, neighbour missing, fdb ok' });
  const broken = { readDevice: async () => { throw new Error('Cannot open netlink socket'); } } as unknown as Kernel;
  const failed = await diagnose(await dualHostFixture(t.testdir()), new FakeHostProbe(), broken);
  t.same(notOk(failed), ['warn ipv6 device', 'warn ipv6 mtu', 'warn ipv6 peer entries']);
  t.match(check(failed, 'ipv6 device'), { detail: 'cannot read weft-v6.1: Cannot open netlink socket' });
});

t.test('an IPv4-only peer in the dual-stack network is probed over IPv4 only', async (t) => {
  const h = await dualHostFixture(t.testdir(), { ipv4Only: [3] });
  const host = new FakeHostProbe();
  const results = await diagnose(h, host);
  t.same(notOk(results), []);
  t.same(host.pings.filter((p) => p.includes('3')), ['weft.1 10.5.3.0']);
  t.ok(check(results, 'vxlan 10.5.3.0/24'));
  t.notOk(check(results, 'vxlan6 fd00:10:0:3::/64'));
});

t.test('an IPv4-only network: no IPv6 checks, the IPv6 adapter is never used; --json carries the IPv6 checks', async (t) => {
  const v4 = await hostFixture(t.testdir());
  const never = { readDevice: async () => { throw new Error('IPv6 adapter used'); } } as unknown as Kernel;
  const host = new FakeHostProbe();
  const results = evaluateDoctor(await gatherDoctorFacts(options(v4.subnetFile), { openRegistry: async () => v4.registry, kernel: v4.kernel, kernel6: never, host }));
  t.same(results.filter((r) => r.check.startsWith('ipv6') || r.check.startsWith('vxlan6')), []);
  const h = await dualHostFixture(t.testdir());
  await h.kernel6.apply(DEVICE6, [{ action: 'delete', kind: 'route', entry: { dst: 'fd00:10:0:2::/64' as string as Cidr, via: 'fd00:10:0:2::' as never } }]);
  const out: string[] = [];
  const code = await doctorCommand({ 'node-name': 'host1', 'subnet-file': h.subnetFile, json: true }, { out: (s) => out.push(s), err: () => undefined },
    { openRegistry: async () => h.registry, kernel: h.kernel, kernel6: h.kernel6, host: new FakeHostProbe() });
  t.equal(code, 1);
  t.match(JSON.parse(out.join('')), { ok: false, results: [], summary: { fail: 1 } });
  t.match(JSON.parse(out.join('')).results.find((r: CheckResult) => r.check === 'ipv6 peer entries'), { verdict: 'FAIL' });
});
