/**
 * `weftctl doctor` on a wireguard network, against an in-memory host
 * (test/helpers/wireguard-host-fixture.ts): device, MTU, route, and per peer
 * a tunnel row judged by handshake age and a ping through weft-wg; no
 * VXLAN-only row; the fix for a tunnel without a handshake names the UDP
 * ports and addresses; no private key in the output.
 */
import t from 'tap';
import type { HostProbe } from '../../../src/adapters/host-probe.js';
import { doctorCommand, gatherDoctorFacts } from '../../../src/cli/weftctl-doctor.js';
import { evaluateDoctor } from '../../../src/core/doctor.js';
import { HANDSHAKE_FRESH_SECONDS } from '../../../src/core/wireguard/doctor-tunnels.js';
import { encodeLeaseValue } from '../../../src/core/lease.js';
import { MemoryEthtool } from '../../fakes/memory-ethtool.js';
import { type WireguardHostFixture, keyOf, privateKeyOf, wireguardHostFixture, wireguardLease } from '../../helpers/wireguard-host-fixture.js';

class FakeHostProbe implements HostProbe {
  readonly pings: string[] = [];
  silent = new Set<string>();
  async readSysctl(path: string): Promise<number | undefined> {
    return new Map([['net/ipv4/ip_forward', 1], ['net/bridge/bridge-nf-call-iptables', 1], ['net/ipv4/conf/all/rp_filter', 0], ['net/ipv4/conf/weft-wg/rp_filter', 0]]).get(path);
  }
  async weftDevices(): Promise<string[]> { return []; }
  async filterRules(): Promise<{ ok: true; rules: string }> { return { ok: true, rules: '-P FORWARD ACCEPT\n' }; }
  async ping(device: string, ip: string): Promise<{ replied: boolean; output: string }> {
    this.pings.push(`${device} ${ip}`);
    return this.silent.has(ip) ? { replied: false, output: '2 packets transmitted, 0 received' } : { replied: true, output: '2 received' };
  }
  async dfPing(device: string, ip: string): Promise<{ passed: boolean; output: string }> {
    this.pings.push(`${device} ${ip} df`);
    return { passed: true, output: '' };
  }
  async httpGet(): Promise<{ ok: false; error: string }> { return { ok: false, error: 'not used' }; }
}

const handshakes = (h: WireguardHostFixture, agesSeconds: readonly (number | undefined)[]): void => {
  [2, 3].forEach((i, n) => {
    const peer = h.device.peers.get(keyOf(i));
    const age = agesSeconds[n];
    if (peer) Object.assign(peer, { lastHandshakeMs: age === undefined ? undefined : Date.now() - age * 1000, rxBytes: 100 * i, txBytes: 200 * i });
  });
};

const run = async (h: WireguardHostFixture, host = new FakeHostProbe()) => {
  const facts = await gatherDoctorFacts({ nodeName: 'host1', subnetFile: h.subnetFile, healthz: undefined },
    { openRegistry: h.openRegistry, kernel: h.kernel, host, offload: new MemoryEthtool(h.kernel), wireguard: h.readers });
  return { facts, results: evaluateDoctor(facts), host };
};

t.test('a healthy host: device, mtu, route, tunnels and pings ok; no VXLAN rows; pings through weft-wg', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  handshakes(h, [10, 100]);
  const { results, host } = await run(h);
  t.same(host.pings.sort(), ['weft-wg 10.42.2.0', 'weft-wg 10.42.3.0'], 'one plain ping per peer through the tunnel device, no DF probe');
  t.same(results.filter((r) => r.verdict !== 'ok').map((r) => `${r.check}: ${r.detail}`), []);
  const byName = new Map(results.map((r) => [r.check, r]));
  t.match(byName.get('device'), { detail: `weft-wg up, listen port 51820, public key ${keyOf(1)}` });
  t.match(byName.get('mtu'), { detail: 'weft-wg 1420 = eth0 MTU 1500 − 80' });
  t.match(byName.get('route'), { detail: '10.42.0.0/16 dev weft-wg scope link proto 87' });
  t.match(byName.get('duplicates'), { verdict: 'ok', detail: 'no two of the 3 leases share a public IP, node name or WireGuard public key' });
  t.match(byName.get('tunnel 10.42.2.0/24'), { detail: 'host2 192.0.2.12:51820: handshake 10s ago, rx 200 B, tx 400 B' });
  t.match(byName.get('ping 10.42.3.0/24'), { detail: '10.42.3.0 answered through weft-wg' });
  t.same(results.filter((r) => r.check !== 'subnet.env' && /checksum|peer entries|vxlan|df |vtep|fdb/i.test(`${r.check} ${r.detail}`)).map((r) => r.check), [], 'no VXLAN-only rows or words');
});

t.test('handshakes: never and too old are warnings whose fix names UDP, both ports and both addresses; fresh is ok', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  handshakes(h, [undefined, HANDSHAKE_FRESH_SECONDS + 5]);
  const { results } = await run(h);
  const never = results.find((r) => r.check === 'tunnel 10.42.2.0/24');
  t.match(never, { verdict: 'warn', detail: 'host2 192.0.2.12:51820: no handshake yet (rx 200 B, tx 400 B)' });
  t.match(never?.fix, /allow UDP between 192\.0\.2\.11 and 192\.0\.2\.12 both ways: to port 51820 on 192\.0\.2\.12 and to port 51820 here/);
  t.match(results.find((r) => r.check === 'tunnel 10.42.3.0/24'), { verdict: 'warn', detail: /latest handshake 18[56]s ago, older than 180s/ });
  handshakes(h, [HANDSHAKE_FRESH_SECONDS - 2, 0]);
  t.same((await run(h)).results.filter((r) => r.check.startsWith('tunnel')).map((r) => r.verdict), ['ok', 'ok']);
});

t.test('a silent peer, a missing route, a peer removed by hand: each FAILs with its fix; doctorCommand exits 1; no private key printed', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  handshakes(h, [5, 5]);
  const host = new FakeHostProbe();
  host.silent.add('10.42.2.0');
  h.routes = [];
  await h.device.set({ peers: [{ kind: 'remove', publicKey: keyOf(3) }] });
  const { results } = await run(h, host);
  t.match(results.find((r) => r.check === 'ping 10.42.2.0/24'), { verdict: 'FAIL', detail: /no answer from 10\.42\.2\.0 through weft-wg/, fix: /see the tunnel 10\.42\.2\.0\/24 check/ });
  t.match(results.find((r) => r.check === 'route'), { verdict: 'FAIL', detail: 'route 10.42.0.0/16 (scope link, proto 87) missing', fix: /weftd repairs/ });
  t.match(results.find((r) => r.check === 'tunnel 10.42.3.0/24'), { verdict: 'FAIL', detail: /not on the device/ });
  t.match(results.find((r) => r.check === 'ping 10.42.3.0/24'), { verdict: 'warn', detail: /not judged/ });
  t.notOk(host.pings.includes('weft-wg 10.42.3.0'), 'a peer missing from the device is not pinged');
  const out: string[] = [];
  const code = await doctorCommand({ 'node-name': 'host1', 'subnet-file': h.subnetFile, json: true }, { out: (s) => out.push(s), err: (s) => out.push(s) },
    { openRegistry: h.openRegistry, kernel: h.kernel, host, wireguard: h.readers, instanceId: async () => 'x' });
  t.equal(code, 1);
  const text = out.join('\n');
  const report = JSON.parse(text) as { ok: boolean; results: { check: string; verdict: string }[] };
  t.equal(report.ok, false);
  t.same(report.results.filter((r) => r.verdict === 'FAIL').map((r) => r.check), ['route', 'ping 10.42.2.0/24', 'tunnel 10.42.3.0/24'], 'exactly the three failures');
  for (const i of [1, 2, 3]) t.notOk(text.includes(privateKeyOf(i).base64()) || text.includes(privateKeyOf(i).hex()), `no private key of host${i}`);
});

t.test('no device and no socket: one device FAIL that says to start weftd; tunnels not checked', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  h.kernel.devices.delete('weft-wg');
  h.device.get = async () => { throw new Error('no such socket (is the device running?)'); };
  const { results, host } = await run(h);
  t.match(results.find((r) => r.check === 'device'), { verdict: 'FAIL', detail: /weft-wg does not exist and nothing answers on its UAPI socket/, fix: /start weftd/ });
  t.match(results.find((r) => r.check === 'tunnels'), { verdict: 'warn', detail: /not checked/ });
  t.match(results.find((r) => r.check === 'weftd'), { verdict: 'FAIL' });
  t.same(host.pings, []);
});

t.test('two leases with one WireGuard public key (a copied key file): the duplicates check FAILs naming the key', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  const copied = wireguardLease(4, keyOf(2));
  const registry = async () => {
    const r = await h.openRegistry();
    await r.claim(copied, encodeLeaseValue(copied.attrs), 3600);
    return r;
  };
  const facts = await gatherDoctorFacts({ nodeName: 'host1', subnetFile: h.subnetFile, healthz: undefined },
    { openRegistry: registry, kernel: h.kernel, host: new FakeHostProbe(), wireguard: h.readers });
  const results = evaluateDoctor(facts);
  t.match(results.find((r) => r.check === 'duplicates'), { verdict: 'FAIL', detail: `WireGuard public key ${keyOf(2)} is in 2 leases: 10.42.2.0/24 (host2), 10.42.4.0/24 (host4)` });
  t.match(results.find((r) => r.check === 'tunnel host4'), { verdict: 'FAIL', detail: /the lease gives no peer: its PublicKey .* is also the key of host2/ });
});
