import t from 'tap';
import type { ListedLease } from '../../../src/core/allocate.js';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { type CheckResult, type DoctorFacts, evaluateDoctor, summarize } from '../../../src/core/doctor.js';
import { desiredState } from '../../../src/core/kernel-state.js';
import { encodeLeaseValue, encodeSubnetKey } from '../../../src/core/lease.js';
import type { Peer } from '../../../src/core/peer-acceptance.js';
import type { Mac } from '../../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../src/core/network-config.js';
import type { VxlanLinkInfo } from '../../../src/core/vxlan-device.js';
import { peerLease } from '../../helpers/leases.js';

const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan' } });
if (!parsed.ok) throw new Error('test config');
const config: NetworkConfig = parsed.config;
const leases: (ListedLease & Peer)[] = [1, 2, 3].map((i) => ({ ...peerLease(i), reservation: false }));

/** etcd facts for a listing of these leases (as the registry would return them). */
function etcdOk(cfg: NetworkConfig, list: readonly ListedLease[]): DoctorFacts['etcd'] {
  const entries = list.map((l) => ({ key: encodeSubnetKey(l), value: encodeLeaseValue(l.attrs), reservation: l.reservation }));
  return { ok: true, config: cfg, leases: list, entries };
}
const self = '10.5.1.0/24' as Cidr;
const device: VxlanLinkInfo = {
  name: 'weft.1', kind: 'vxlan', vni: 1, port: 8472, local: '192.0.2.11' as Ipv4, parent: 'eth0', learning: false, gbp: false,
  mac: '0a:00:00:00:00:01' as Mac, mtu: 1450, up: true, addresses: ['10.5.1.0/32'],
};
const FORWARD_ACCEPT = '-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n';

/** A host where everything is right; each test breaks one thing. */
function healthy(): DoctorFacts {
  return {
    nodeName: 'host1',
    readiness: { kind: 'answered', url: 'http://127.0.0.1:9180/readyz', status: 200, body: 'ready\n' },
    etcd: etcdOk(config, leases),
    subnetFile: { path: '/run/weft/subnet.env', state: { ok: true, env: { network: config.network, subnet: self, mtu: 1450, ipMasq: false } } },
    deviceName: 'weft.1', device, parentMtu: 1500, cni0Mtu: 1450,
    sysctl: { ipForward: 1, bridgeNfCallIptables: 1, rpFilterAll: 0, rpFilterDevice: 2 },
    iptables: { ok: true, rules: FORWARD_ACCEPT },
    kernelState: desiredState(self, leases),
    probes: [{ subnet: '10.5.2.0/24' as Cidr, replied: true, output: '2 received' }, { subnet: '10.5.3.0/24' as Cidr, replied: true, output: '2 received' }],
  };
}

const byName = (results: readonly CheckResult[], name: string): CheckResult => {
  const found = results.find((r) => r.check === name);
  if (!found) throw new Error(`no check ${name} in ${results.map((r) => r.check).join(', ')}`);
  return found;
};
const check = (facts: DoctorFacts, name: string): CheckResult => byName(evaluateDoctor(facts), name);
/** The checks that are not ok, as `verdict check`. */
const notOk = (facts: DoctorFacts): string[] => evaluateDoctor(facts).filter((r) => r.verdict !== 'ok').map((r) => `${r.verdict} ${r.check}`);

t.test('a healthy host: every check ok, in a fixed order, no fixes', async (t) => {
  const results = evaluateDoctor(healthy());
  t.same(results.map((r) => r.check), ['weftd', 'etcd', 'lease', 'subnet.env', 'device', 'ip_forward', 'bridge-nf-call-iptables', 'rp_filter',
    'mtu', 'duplicates', 'leases', 'peer entries', 'vxlan 10.5.2.0/24', 'vxlan 10.5.3.0/24', 'FORWARD']);
  t.same(results.filter((r) => r.verdict !== 'ok' || r.fix !== null), []);
  t.same(summarize(results), { ok: 15, warn: 0, fail: 0 });
  t.match(byName(results, 'rp_filter').detail, 'all = 0, weft.1 = 2, effective 2 (loose)');
  t.match(byName(results, 'mtu').detail, 'weft.1 1450 = eth0 MTU 1500 − 50; cni0 1450');
});

t.test('weftd: /readyz 503, nothing listening, or inferred from subnet.env and the device', async (t) => {
  const r503 = check({ ...healthy(), readiness: { kind: 'answered', url: 'http://x/readyz', status: 503, body: 'not ready: first pass\n' } }, 'weftd');
  t.match(r503, { verdict: 'FAIL', detail: 'not ready: http://x/readyz answered 503 not ready: first pass' });
  t.match(check({ ...healthy(), readiness: { kind: 'unreachable', url: 'http://x/readyz', error: 'ECONNREFUSED' } }, 'weftd'),
    { verdict: 'FAIL', detail: /nothing answers at http:\/\/x\/readyz \(ECONNREFUSED\)/, fix: /--healthz-port/ });
  t.match(check({ ...healthy(), readiness: { kind: 'not-probed' } }, 'weftd'), { verdict: 'ok', detail: /inferred from subnet\.env and the device/ });
  const stopped = { ...healthy(), readiness: { kind: 'not-probed' } as const, subnetFile: { path: '/f', state: { ok: false, missing: true, errors: ['/f does not exist'] } as const }, device: undefined };
  t.match(check(stopped, 'weftd'), { verdict: 'FAIL', detail: /no subnet\.env and no weft\.1 \(up\)/ });
});

t.test('etcd unreachable: FAIL, and what needs it is a warn, never a false ok', async (t) => {
  const facts: DoctorFacts = { ...healthy(), etcd: { ok: false, error: 'etcd: connect ECONNREFUSED' }, iptables: { ok: true, rules: '-P FORWARD DROP\n' } };
  t.same(notOk(facts), ['FAIL etcd', 'warn lease', 'warn peer entries', 'warn FORWARD']);
  t.match(check(facts, 'etcd'), { detail: 'etcd: connect ECONNREFUSED', fix: /--etcd-endpoints/ });
  t.match(check(facts, 'device'), { verdict: 'ok' }, 'the device is still checked as far as it can be');
  t.notOk(evaluateDoctor(facts).some((r) => r.check === 'duplicates'));
});

t.test('lease: none names this node', async (t) => {
  t.match(check({ ...healthy(), nodeName: 'host9' }, 'lease'), { verdict: 'FAIL', detail: 'no lease names node host9', fix: /--node-name host9/ });
});

t.test('subnet.env: missing, or describing another subnet, network or MTU', async (t) => {
  const env = { network: config.network, subnet: self, mtu: 1450, ipMasq: false };
  const with_ = (state: DoctorFacts['subnetFile']['state']): CheckResult => check({ ...healthy(), subnetFile: { path: '/f', state } }, 'subnet.env');
  t.match(with_({ ok: false, missing: true, errors: ['/f does not exist'] }), { verdict: 'FAIL', detail: /does not exist: CNI ADD fails/ });
  t.match(with_({ ok: false, errors: ['/f: missing FLANNEL_MTU'] }), { verdict: 'FAIL', detail: '/f: /f: missing FLANNEL_MTU' });
  t.match(with_({ ok: true, env: { ...env, subnet: '10.5.7.0/24' as Cidr } }), { verdict: 'FAIL', detail: /says subnet 10\.5\.7\.0\/24, the lease is 10\.5\.1\.0\/24/ });
  t.match(with_({ ok: true, env: { ...env, network: '10.6.0.0/16' as Cidr } }), { verdict: 'FAIL', detail: /says network 10\.6\.0\.0\/16/ });
  t.match(with_({ ok: true, env: { ...env, mtu: 1400 } }), { verdict: 'FAIL', detail: /says MTU 1400, the device has 1450/ });
});

t.test('device: missing, unknown, or not what the config and lease say', async (t) => {
  t.match(check({ ...healthy(), device: undefined, kernelState: undefined }, 'device'), { verdict: 'FAIL', detail: 'weft.1 does not exist' });
  t.match(check({ ...healthy(), deviceName: undefined, device: undefined }, 'device'), { verdict: 'FAIL', detail: /no weft\.\* VXLAN device/ });
  const odd = { ...device, port: 4789, up: false, learning: true, local: '192.0.2.99' as Ipv4, addresses: [] };
  t.match(check({ ...healthy(), device: odd }, 'device'), {
    verdict: 'FAIL', detail: /UDP port 4789 instead of 8472; learning is on.*; link is down; local 192\.0\.2\.99 but the lease's public IP is 192\.0\.2\.11; address 10\.5\.1\.0\/32 missing/,
  });
  t.match(check({ ...healthy(), device: { ...device, kind: 'bridge' } }, 'device'), { detail: 'weft.1: weft.1 is a bridge device, not vxlan' });
});

t.test('ip_forward 0 FAILs with the sysctl; unreadable warns', async (t) => {
  const s = healthy().sysctl;
  t.match(check({ ...healthy(), sysctl: { ...s, ipForward: 0 } }, 'ip_forward'), { verdict: 'FAIL', fix: /sysctl -w net\.ipv4\.ip_forward=1/ });
  t.match(check({ ...healthy(), sysctl: { ...s, ipForward: undefined } }, 'ip_forward'), { verdict: 'warn' });
});

t.test('bridge-nf-call-iptables: 0 or br_netfilter absent is a warn, never a FAIL', async (t) => {
  const s = healthy().sysctl;
  t.match(check({ ...healthy(), sysctl: { ...s, bridgeNfCallIptables: 0 } }, 'bridge-nf-call-iptables'), { verdict: 'warn', detail: /= 0/ });
  t.match(check({ ...healthy(), sysctl: { ...s, bridgeNfCallIptables: undefined } }, 'bridge-nf-call-iptables'),
    { verdict: 'warn', detail: /br_netfilter is not loaded/, fix: /modprobe br_netfilter/ });
});

t.test('rp_filter: the effective value is max(all, device); strict FAILs', async (t) => {
  const s = healthy().sysctl;
  const rp = (all: number, dev: number): CheckResult => check({ ...healthy(), sysctl: { ...s, rpFilterAll: all, rpFilterDevice: dev } }, 'rp_filter');
  t.match(rp(0, 1), { verdict: 'FAIL', detail: /effective 1: strict/, fix: /sysctl -w net\/ipv4\/conf\/weft\.1\/rp_filter=2/ });
  t.match(rp(1, 0), { verdict: 'FAIL', detail: 'all = 1, weft.1 = 0, effective 1' });
  t.match(rp(1, 2), { verdict: 'ok', detail: 'effective 2 (loose)' });
  t.match(rp(0, 0), { verdict: 'ok', detail: 'effective 0 (off)' });
  t.match(check({ ...healthy(), sysctl: { ...s, rpFilterDevice: undefined } }, 'rp_filter'), { verdict: 'warn' });
  t.match(check({ ...healthy(), device: undefined }, 'rp_filter'), { verdict: 'warn', detail: /no device/ });
});

t.test('mtu: device = underlay − 50, Backend.MTU within the parent, cni0 not above the device', async (t) => {
  t.match(check({ ...healthy(), cni0Mtu: 1500 }, 'mtu'), { verdict: 'FAIL', detail: /cni0 MTU 1500 is larger than weft\.1 MTU 1450/, fix: /ip link set cni0 mtu 1450/ });
  t.match(check({ ...healthy(), cni0Mtu: undefined }, 'mtu'), { verdict: 'ok', detail: /no cni0/ });
  t.match(check({ ...healthy(), cni0Mtu: 1400 }, 'mtu'), { verdict: 'ok' }, 'a smaller cni0 is merely wasteful');
  t.match(check({ ...healthy(), parentMtu: 9001 }, 'mtu'), { verdict: 'FAIL', detail: /weft\.1 MTU is 1450, want 8951 \(eth0 MTU 9001 − 50\)/, fix: /restart weftd/ });
  const jumbo = { ...config, backend: { ...config.backend, mtu: 9000 } };
  t.match(check({ ...healthy(), etcd: etcdOk(jumbo, leases) }, 'mtu'), {
    verdict: 'FAIL', detail: /Backend\.MTU 9000 is larger than the MTU 1500 of the external interface eth0 .*; weft\.1 MTU is 1450, want 8950 \(Backend\.MTU 9000 − 50\)/,
  });
  const small = { ...config, backend: { ...config.backend, mtu: 1400 } };
  t.match(check({ ...healthy(), device: { ...device, mtu: 1350 }, cni0Mtu: 1350, subnetFile: healthy().subnetFile, etcd: etcdOk(small, leases) }, 'mtu'),
    { verdict: 'ok', detail: 'weft.1 1350 = Backend.MTU 1400 − 50' });
  t.match(check({ ...healthy(), parentMtu: undefined }, 'mtu'), { verdict: 'warn' });
});

t.test('duplicates: a public IP, node name or VTEP MAC in two leases', async (t) => {
  const ghost: ListedLease = { subnet: '10.5.9.0/24' as Cidr, reservation: false,
    attrs: { publicIp: '192.0.2.12' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: '0a:00:00:00:00:09' as Mac, nodeName: 'host3' } };
  const r = check({ ...healthy(), etcd: etcdOk(config, [...leases, ghost]) }, 'duplicates');
  t.equal(r.verdict, 'FAIL');
  t.match(r.detail, 'public IP 192.0.2.12 is in 2 leases: 10.5.2.0/24 (host2), 10.5.9.0/24 (host3)');
  t.match(r.detail, 'node name host3 is in 2 leases: 10.5.3.0/24 (host3), 10.5.9.0/24 (host3)');
  t.match(r.fix, /--public-ip.*weftctl release --force/);
  const sameMac = { ...ghost, attrs: { ...ghost.attrs, publicIp: '192.0.2.19' as Ipv4, nodeName: 'host9', vtepMac: '0a:00:00:00:00:02' as Mac } };
  t.match(check({ ...healthy(), etcd: etcdOk(config, [...leases, sameMac]) }, 'duplicates'), { detail: 'VTEP MAC 0a:00:00:00:00:02 is in 2 leases' });
});

t.test('peers: drifted entries FAIL and their probe is not judged; a silent peer FAILs alone', async (t) => {
  const h = healthy();
  const state = h.kernelState ?? desiredState(self, leases);
  const drifted = { ...h, kernelState: { ...state, routes: state.routes.filter((r) => r.dst !== '10.5.2.0/24') } };
  t.same(notOk(drifted), ['FAIL peer entries', 'warn vxlan 10.5.2.0/24'], 'the vxlan row is not judged (one FAIL per cause)');
  t.match(check(drifted, 'peer entries'), { detail: '10.5.2.0/24: route missing, neighbour ok, fdb ok' });
  t.match(check(drifted, 'vxlan 10.5.2.0/24'), { verdict: 'warn', detail: /^not judged: .*cannot be tested/ });
  const silent = { ...h, probes: [{ subnet: '10.5.2.0/24' as Cidr, replied: true, output: '' }, { subnet: '10.5.3.0/24' as Cidr, replied: false, output: '2 packets transmitted, 0 received' }] };
  t.same(notOk(silent), ['FAIL vxlan 10.5.3.0/24']);
  t.match(check(silent, 'vxlan 10.5.3.0/24'), {
    detail: /no answer from 10\.5\.3\.0 through weft\.1 \(2 packets transmitted, 0 received\): UDP 8472 to 192\.0\.2\.13 \(host3\) and back/,
    fix: /allow UDP 8472 between 192\.0\.2\.11 and 192\.0\.2\.13 both ways/,
  });
  t.match(check({ ...h, probes: [] }, 'vxlan 10.5.2.0/24'), { verdict: 'warn', detail: 'not probed' });
  const extra = { ...h, kernelState: { ...state, routes: [...state.routes, { dst: '10.5.9.0/24' as Cidr, via: '10.5.9.0' as Ipv4 }] } };
  t.match(check(extra, 'peer entries'), { verdict: 'FAIL', detail: 'unwanted route 10.5.9.0/24 via 10.5.9.0' });
  t.match(check({ ...h, kernelState: undefined }, 'peer entries'), { verdict: 'warn', detail: /no device/ });
});

t.test('FORWARD: DROP without accept rules FAILs with the fix; with them, or ACCEPT, is ok', async (t) => {
  const fwd = (rules: string): CheckResult => check({ ...healthy(), iptables: { ok: true, rules } }, 'FORWARD');
  t.match(fwd('-P FORWARD DROP\n'), { verdict: 'FAIL', detail: /policy DROP and no rule accepts traffic from 10\.5\.0\.0\/16 or to 10\.5\.0\.0\/16/, fix: /--ip-masq.*iptables -I FORWARD -s 10\.5\.0\.0\/16 -j ACCEPT/ });
  t.match(fwd('-P FORWARD DROP\n-A FORWARD -s 10.5.0.0/16 -j ACCEPT\n'), { verdict: 'FAIL', detail: /no rule accepts traffic to 10\.5\.0\.0\/16:/ });
  t.match(fwd('-P FORWARD DROP\n-N WEFT-FWD\n-A FORWARD -j WEFT-FWD\n-A WEFT-FWD -s 10.5.0.0/16 -j ACCEPT\n-A WEFT-FWD -d 10.5.0.0/16 -j ACCEPT\n'),
    { verdict: 'ok', detail: 'policy DROP, but rules in WEFT-FWD accept 10.5.0.0/16 both ways' });
  t.match(fwd('-P FORWARD ACCEPT\n-A FORWARD -j REJECT\n'), { verdict: 'FAIL', detail: /policy ACCEPT, and -A FORWARD -j REJECT and no rule/ });
  t.match(check({ ...healthy(), iptables: { ok: false, error: 'iptables: not found' } }, 'FORWARD'), { verdict: 'warn', detail: /iptables: not found/ });
});

t.test('cni0 address: shown only when cni0 exists; FAIL with the stale address and the fix when it is not the subnet\'s gateway', async (t) => {
  t.notOk(evaluateDoctor(healthy()).some((r) => r.check === 'cni0 address'), 'no cni0: no row');
  t.match(check({ ...healthy(), cni0Addresses: ['10.5.1.1/24'] }, 'cni0 address'), { verdict: 'ok', detail: '10.5.1.1/24, the gateway of 10.5.1.0/24', fix: null });
  t.match(check({ ...healthy(), cni0Addresses: [] }, 'cni0 address'), { verdict: 'ok', detail: /none yet/ });
  t.match(check({ ...healthy(), cni0Addresses: ['10.5.7.1/24'] }, 'cni0 address'), {
    verdict: 'FAIL',
    detail: /cni0 has 10\.5\.7\.1\/24, but this host's subnet is 10\.5\.1\.0\/24 \(gateway 10\.5\.1\.1\/24\): every CNI ADD fails/,
    fix: /remove or recreate the pods still attached to cni0.*re-addresses cni0 on the next ADD once none is attached/,
  });
  t.match(check({ ...healthy(), cni0Addresses: ['10.5.7.1/24'], subnetFile: { path: '/x', state: { ok: false, missing: true, errors: [] } } }, 'cni0 address'),
    { verdict: 'warn', detail: /not checked/ });
});
