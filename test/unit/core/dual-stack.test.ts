/**
 * The IPv6 half of the core: address math (ip-num), the dual-stack network
 * config with flannel's defaults and test vectors, the lease value as
 * flanneld writes it, allocation of both subnets in one decision, subnet.env.
 */
import t from 'tap';
import { type Identity, type ListedLease, decideAllocation, freeIpv6Subnets, leaseFitsConfig } from '../../../src/core/allocate.js';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import {
  type Cidr6, type Ipv6, containsIp6, ipv6UnicastProblem, isCanonicalIpv6, nthAddress6, overlaps6, parseCidr6, parseIpv6,
} from '../../../src/core/cidr6.js';
import { decodeLeaseValue, encodeLeaseValue, encodeSubnetKey, sameAttrs } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig, renderNetworkConfig } from '../../../src/core/network-config.js';
import { parseSubnetEnv, renderSubnetEnv } from '../../../src/core/subnet-env.js';

function config(raw: unknown): NetworkConfig {
  const r = parseNetworkConfig(raw);
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.config;
}
function errorsOf(raw: unknown): readonly string[] {
  const r = parseNetworkConfig(raw);
  return r.ok ? [] : r.errors;
}

t.test('IPv6 text: canonical RFC 5952 form, as Go net.IP.String() writes it', async (t) => {
  const table: [string, string | undefined][] = [
    ['FD00:0000:0000:0005:0000:0000:0000:0000', 'fd00:0:0:5::'], ['fd00::', 'fd00::'], ['::1', '::1'], ['::', '::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['fe80::1%eth0', undefined], ['10.1.2.3', undefined], ['::ffff:1.2.3.4', undefined], ['2001:db8::g', undefined], ['', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined], [':::', undefined],
  ];
  for (const [text, canonical] of table) t.equal(parseIpv6(text), canonical, JSON.stringify(text));
  t.ok(isCanonicalIpv6('fd00:0:0:5::'));
  t.notOk(isCanonicalIpv6('fd00:0:0:05::'));
});

t.test('IPv6 CIDR math', async (t) => {
  t.same(parseCidr6('fd00:10::/48'), { ok: true, cidr: 'fd00:10::/48', ip: 'fd00:10::', prefixLength: 48 });
  t.match(parseCidr6('fd00:10::1/48'), { ok: false, reason: /host bits set \(the network address is fd00:10::\/48\)/ });
  t.same(parseCidr6('fd00:10::1/48', false), { ok: true, cidr: 'fd00:10::/48', ip: 'fd00:10::1', prefixLength: 48 });
  t.match(parseCidr6('fd00::/129'), { ok: false });
  t.equal(nthAddress6('fd00:0:0:5::/64' as Cidr6, 1), 'fd00:0:0:5::1');
  t.equal(nthAddress6('fd00:0:0:ffff:ffff:ffff:ffff:ffff/128' as Cidr6, 1), 'fd00:0:1::', 'carries across groups');
  t.ok(containsIp6('fd00:10::/48' as Cidr6, 'fd00:10:0:ffff::1' as Ipv6));
  t.notOk(containsIp6('fd00:10::/48' as Cidr6, 'fd00:11::1' as Ipv6));
  t.ok(overlaps6('fd00:10::/48' as Cidr6, 'fd00:10:0:5::/64' as Cidr6));
  t.notOk(overlaps6('fd00:10:0:4::/64' as Cidr6, 'fd00:10:0:5::/64' as Cidr6));
  t.match(ipv6UnicastProblem('fe80::1' as Ipv6), /link-local/);
  t.match(ipv6UnicastProblem('ff02::1' as Ipv6), /multicast/);
  t.match(ipv6UnicastProblem('::1' as Ipv6), /loopback/);
  t.match(ipv6UnicastProblem('::' as Ipv6), /unspecified/);
  t.equal(ipv6UnicastProblem('fd00:99::1' as Ipv6), undefined);
});

t.test("dual-stack config: flannel's defaults (TestConfigDefaults: fc00::/48 -> /64, fc00:0:0:1:: .. fc00:0:0:ffff::)", async (t) => {
  const c = config({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/48' });
  t.same(c.ipv6, { network: 'fc00::/48', subnetLen: 64, subnetMin: 'fc00:0:0:1::', subnetMax: 'fc00:0:0:ffff::' });
  t.same(config({ network: '10.3.0.0/16', enableIPv6: true, ipv6Network: 'fd00::/120' }).ipv6,
    { network: 'fd00::/120', subnetLen: 122, subnetMin: 'fd00::40', subnetMax: 'fd00::c0' }, 'prefix+2 above /62; keys case-insensitive');
  t.equal(config({ Network: '10.3.0.0/16' }).ipv6, undefined, 'IPv4 only by default');
  const r = parseNetworkConfig({ Network: '10.3.0.0/16', IPv6Network: 'fc00::/48' });
  t.match(r.ok && r.warnings, [/IPv6Network is ignored: EnableIPv6 is not true/]);
  const explicit = config({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/48', IPv6SubnetLen: 56,
    IPv6SubnetMin: 'fc00:0:0:100::', IPv6SubnetMax: 'fc00:0:0:ff00::' });
  t.same(explicit.ipv6, { network: 'fc00::/48', subnetLen: 56, subnetMin: 'fc00:0:0:100::', subnetMax: 'fc00:0:0:ff00::' });
  const round = config(JSON.parse(renderNetworkConfig(explicit)));
  t.same(round, explicit, 'weftctl config get renders what parses back to the same config');
});

t.test('dual-stack config: every IPv6 error, at once and with the IPv4 ones', async (t) => {
  t.match(errorsOf({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/125' }), [/minimum useful IPv6 network prefix is \/124/]);
  t.match(errorsOf({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/48', IPv6SubnetLen: 127 }), [/must be less than \/127/]);
  t.match(errorsOf({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/48', IPv6SubnetLen: 49 }), [/at least four subnets \(IPv6SubnetLen >= 50\)/]);
  t.match(errorsOf({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::1/48' }), [/IPv6Network "fc00::1\/48" is invalid: .*host bits/]);
  t.match(errorsOf({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: '10.4.0.0/16' }), [/IPv6Network "10.4.0.0\/16" is invalid/]);
  t.match(errorsOf({ Network: '10.3.0.0/16', EnableIPv6: 'yes', IPv6Network: 'fc00::/48' }), [/EnableIPv6 must be true or false/]);
  const all = errorsOf({
    Network: '10.3.0.0/15', EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fc00::/48',
    IPv6SubnetMin: 'fc01::', IPv6SubnetMax: 'fc00:0:0:1:8000::',
  });
  t.equal(all.length, 4, all.join(' | '));
  t.match(all, [/EnableIPv4: false/, /Network "10.3.0.0\/15" is invalid/, /IPv6SubnetMin fc01:: is not inside IPv6Network fc00::\/48/,
    /IPv6SubnetMax fc00:0:0:1:8000:: is not aligned to IPv6SubnetLen \/64/]);
  t.match(errorsOf({ Network: '10.3.0.0/16', EnableIPv6: true, IPv6Network: 'fc00::/48', IPv6SubnetMin: 'fc00:0:0:9::', IPv6SubnetMax: 'fc00:0:0:8::' }),
    [/IPv6SubnetMin fc00:0:0:9:: is above IPv6SubnetMax fc00:0:0:8::/]);
});

const mac4 = '0e:5a:01:02:03:04' as Mac;
const mac6 = '0e:5a:01:02:03:05' as Mac;

t.test('a dual-stack lease value, byte-for-byte as flanneld writes it, and back', async (t) => {
  const flanneld = '{"PublicIP":"192.168.64.3","PublicIPv6":"fd00:64::3","BackendType":"vxlan",'
    + '"BackendData":{"VNI":1,"VtepMAC":"0e:5a:01:02:03:04"},"BackendV6Data":{"VNI":1,"VtepMAC":"0e:5a:01:02:03:05"}}';
  const parsed = decodeLeaseValue(flanneld);
  t.same(parsed, {
    ok: true,
    attrs: { publicIp: '192.168.64.3', backendType: 'vxlan', vni: 1, vtepMac: mac4, nodeName: undefined,
      publicIpv6: 'fd00:64::3', backendV6: { vni: 1, vtepMac: mac6 } },
  });
  if (parsed.ok) t.equal(encodeLeaseValue(parsed.attrs), flanneld, 're-encoded byte-for-byte');
  const v4only = '{"PublicIP":"192.168.64.4","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0e:5a:01:02:03:06"}}';
  const p4 = decodeLeaseValue(v4only);
  t.equal(p4.ok && p4.attrs.publicIpv6, undefined, 'PublicIPv6 null: an IPv4-only host');
  if (p4.ok) t.equal(encodeLeaseValue(p4.attrs), v4only);
  const weft = encodeLeaseValue({ publicIp: '10.0.0.1' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: mac4, nodeName: 'n1',
    publicIpv6: 'fd00::1' as Ipv6, backendV6: { vni: 1, vtepMac: mac6 } });
  t.equal(weft, '{"PublicIP":"10.0.0.1","PublicIPv6":"fd00::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0e:5a:01:02:03:04"},'
    + '"BackendV6Data":{"VNI":1,"VtepMAC":"0e:5a:01:02:03:05"},"NodeName":"n1"}', "weft's NodeName comes after flannel's fields");
  if (parsed.ok && p4.ok) t.notOk(sameAttrs(parsed.attrs, { ...parsed.attrs, backendV6: { vni: 1, vtepMac: mac4 } }), 'a new v6 MAC is a change');
});

t.test('bad IPv6 halves of a lease value are named', async (t) => {
  const base = { PublicIP: '192.168.64.3', BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac4 } };
  const table: [unknown, RegExp][] = [
    [{ ...base, PublicIPv6: 'fd00:64:0:0::3' }, /PublicIPv6 "fd00:64:0:0::3" is not an IPv6 address in canonical form/],
    [{ ...base, PublicIPv6: '192.168.1.1' }, /PublicIPv6 "192.168.1.1" is not an IPv6 address/],
    [{ ...base, PublicIPv6: 7 }, /PublicIPv6 7 is not/],
    [{ ...base, PublicIPv6: 'fd00::3', BackendV6Data: { VNI: 1, VtepMAC: 'ff:ff:ff:ff:ff:ff' } }, /BackendV6Data.VtepMAC "ff:ff:ff:ff:ff:ff" is not a unicast MAC/],
    [{ ...base, PublicIPv6: 'fd00::3', BackendV6Data: 'x' }, /BackendV6Data is not a JSON object/],
  ];
  for (const [value, reason] of table) t.match(decodeLeaseValue(JSON.stringify(value)), { ok: false, reason }, JSON.stringify(value));
});

const dual = config({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:5::/48' });
const self: Identity = { nodeName: 'me', publicIp: '192.0.2.9' as Ipv4 };
function lease(subnet: string, subnetV6: string | undefined, node: string, reservation = false): ListedLease {
  return {
    subnet: subnet as Cidr, ...(subnetV6 ? { subnetV6: subnetV6 as Cidr6 } : {}), reservation,
    attrs: { publicIp: '192.0.2.1' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: mac4, nodeName: node },
  };
}

t.test('allocation takes both subnets in one decision', async (t) => {
  const others = [lease('10.5.1.0/24', 'fd00:5:0:1::/64', 'a'), lease('10.5.2.0/24', 'fd00:5:0:3::/64', 'b')];
  const d = decideAllocation(dual, others, self, undefined, () => 0);
  t.same(d, { kind: 'claim', subnet: '10.5.3.0/24', subnetV6: 'fd00:5:0:2::/64', source: 'random' }, 'the first free of each family');
  const prev = decideAllocation(dual, others, self, { subnet: '10.5.9.0/24' as Cidr, subnetV6: 'fd00:5:0:9::/64' as Cidr6 }, () => 0);
  t.same(prev, { kind: 'claim', subnet: '10.5.9.0/24', subnetV6: 'fd00:5:0:9::/64', source: 'previous' }, 'a restart keeps both');
  const taken6 = decideAllocation(dual, others, self, { subnet: '10.5.9.0/24' as Cidr, subnetV6: 'fd00:5:0:3::/64' as Cidr6 }, () => 0);
  t.same(taken6, { kind: 'claim', subnet: '10.5.9.0/24', subnetV6: 'fd00:5:0:2::/64', source: 'random' }, 'a previous IPv6 subnet taken meanwhile is not reused');
  const own = lease('10.5.7.0/24', 'fd00:5:0:7::/64', 'me');
  t.same(decideAllocation(dual, [...others, own], self, undefined, () => 0), { kind: 'reuse', lease: own });
  const ownV4 = lease('10.5.7.0/24', undefined, 'me');
  t.same(decideAllocation(dual, [ownV4], self, undefined, () => 0), { kind: 'remove-incompatible', lease: ownV4 },
    'an own IPv4-only lease in a network that is now dual-stack does not fit (flannel: same)');
  t.notOk(leaseFitsConfig(own, config({ Network: '10.5.0.0/16' })), 'and a dual-stack lease does not fit an IPv4-only network');
});

t.test('IPv6 candidates: the first 100 free from IPv6SubnetMin, every taken one skipped', async (t) => {
  const v6 = dual.ipv6;
  if (!v6) throw new Error('no ipv6');
  const taken = [lease('10.5.1.0/24', 'fd00:5:0:1::/64', 'a'), lease('10.5.2.0/24', 'fd00:5:0:2::/63', 'b'), lease('10.5.3.0/24', 'fd00:5:0:4::/64', 'c')];
  const free = freeIpv6Subnets(v6, taken);
  t.equal(free.length, 100);
  t.same(free.slice(0, 3), ['fd00:5:0:5::/64', 'fd00:5:0:6::/64', 'fd00:5:0:7::/64'], 'a /63 blocks both /64s it holds');
  t.equal(free[99], 'fd00:5:0:68::/64');
  const tiny = config({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00::/124' });
  const all = ['fd00::4/126', 'fd00::8/126', 'fd00::c/126'].map((s, i) => lease(`10.5.${i + 1}.0/24`, s, `h${i}`));
  t.same(decideAllocation(tiny, all, self, undefined, () => 0), { kind: 'exhausted', family: 'IPv6', capacity: undefined, used: undefined });
});

t.test('subnet.env for a dual-stack host, in flannel order', async (t) => {
  const env = { network: '10.5.0.0/16' as Cidr, subnet: '10.5.34.0/24' as Cidr, mtu: 1430, ipMasq: true,
    ipv6Network: 'fd00:5::/48' as Cidr6, ipv6Subnet: 'fd00:5:0:22::/64' as Cidr6 };
  const text = renderSubnetEnv(env);
  t.equal(text, 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_IPV6_NETWORK=fd00:5::/48\n'
    + 'FLANNEL_IPV6_SUBNET=fd00:5:0:22::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=true\n');
  t.same(parseSubnetEnv(text), { ok: true, env });
  t.match(parseSubnetEnv('FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_IPV6_NETWORK=fd00:5::/48\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=true\n'),
    { ok: false, errors: [/FLANNEL_IPV6_NETWORK is set but FLANNEL_IPV6_SUBNET is missing/] });
  t.match(parseSubnetEnv('FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_IPV6_NETWORK=fd00:5::1/48\nFLANNEL_IPV6_SUBNET=x\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=true\n'),
    { ok: false, errors: [/FLANNEL_IPV6_NETWORK "fd00:5::1\/48" is invalid/, /FLANNEL_IPV6_SUBNET "x" is invalid/] });
  t.equal(encodeSubnetKey({ subnet: env.subnet, subnetV6: env.ipv6Subnet }), '10.5.34.0-24&fd00:5:0:22::-64');
});
