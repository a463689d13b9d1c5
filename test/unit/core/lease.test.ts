import t from 'tap';
import type { Cidr6 } from '../../../src/core/cidr6.js';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import {
  type LeaseAttrs, decodeLeaseValue, decodeSubnetKey, encodeLeaseValue, encodeSubnetKey, sameAttrs,
} from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';

const weftAttrs: LeaseAttrs = {
  publicIp: '192.168.64.3' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: 'c6:d2:32:6f:8f:44' as Mac, nodeName: 'n1',
};
/** The value flanneld writes (flannel Documentation/reservations.md). */
const FLANNEL_VALUE = '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}';

t.test('subnet key encode/decode', async (t) => {
  const table: [string, string][] = [['10.5.34.0/24', '10.5.34.0-24'], ['10.5.34.128/25', '10.5.34.128-25'], ['0.0.0.0/0', '0.0.0.0-0']];
  for (const [subnet, key] of table) {
    t.equal(encodeSubnetKey({ subnet: subnet as Cidr }), key);
    t.same(decodeSubnetKey(key), { ok: true, subnet, subnetV6: undefined }, key);
  }
});

t.test("a dual-stack key: flannel's TestSubnetNodev6 vector, both parts, and back", async (t) => {
  const key = '10.12.13.0-24&fd00:12:13::-56';
  t.same(decodeSubnetKey(key), { ok: true, subnet: '10.12.13.0/24', subnetV6: 'fd00:12:13::/56' });
  t.equal(encodeSubnetKey({ subnet: '10.12.13.0/24' as Cidr, subnetV6: 'fd00:12:13::/56' as Cidr6 }), key, 'MakeSubnetKey matches the parsed key');
  t.same(decodeSubnetKey('10.12.13.0-24&2001::-64'), { ok: true, subnet: '10.12.13.0/24', subnetV6: '2001::/64' });
  t.same(decodeSubnetKey('10.12.13.0-24&fd00:0:0:5::-64'), { ok: true, subnet: '10.12.13.0/24', subnetV6: 'fd00:0:0:5::/64' });
});

t.test("invalid keys, including flannel's TestSubnetNodeInvalid vectors", async (t) => {
  const table: [string, RegExp][] = [
    ['10.12.13.0-24hi', /not a subnet key/],
    ['10.12.13.300-24', /not a valid IPv4 address/],
    ['10.12.13.0-24&2001::', /not a subnet key/],
    ['10', /not a subnet key/],
    ['10.12.13.0', /not a subnet key/],
    ['10.12.13-24', /not a subnet key/],
    ['&2001::-56', /not a subnet key/],
    ['10.12.13.0-24&:12:13:-56', /not a valid IPv6 address/],
    ['10.12.13.0-24&20011::-56', /not a valid IPv6 address/],
    ['10.12.13.0-24&2001-56', /not a valid IPv6 address/],
    ['10.12.13.0-24&2001::-56hi', /not a subnet key/],
    ['10.12.13.0-24&2001::-128', /IPv6 prefix length 128; it must be 0\.\.127/],
    ['10.12.13.0-24&fd00::1-64', /host bits set/],
    ['10.12.13.0-24&fd00:0:0:0005::-64', /not in canonical form \(fd00:0:0:5::\)/],
    ['10.12.13.0-24&FD00::-64', /not a subnet key/],
    ['10.12.13.0-32', /prefix length 32; it must be 0\.\.31/],
    ['10.12.13.1-24', /host bits set/],
    ['10.12.13.0-124', /not a subnet key/],
    ['10.12.13.0/24', /not a subnet key/],
    ['x10.12.13.0-24', /not a subnet key/],
    ['10.12.13-24', /not a subnet key/],
    ['', /not a subnet key/],
  ];
  for (const [key, reason] of table) {
    const r = decodeSubnetKey(key);
    t.equal(r.ok, false, JSON.stringify(key));
    if (!r.ok) t.match(r.reason, reason, JSON.stringify(key));
  }
});

t.test('lease value encoding is byte-exact', async (t) => {
  t.equal(encodeLeaseValue(weftAttrs),
    '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"NodeName":"n1"}');
  t.equal(encodeLeaseValue({ ...weftAttrs, nodeName: undefined }), FLANNEL_VALUE, 'without NodeName it is exactly what flanneld writes');
  t.equal(encodeLeaseValue({ publicIp: '1.2.3.4' as Ipv4, backendType: '', vni: undefined, vtepMac: undefined, nodeName: undefined }),
    '{"PublicIP":"1.2.3.4","PublicIPv6":null}', "flannel's registry_test minimal form");
  t.equal(encodeLeaseValue({ ...weftAttrs, vni: 7 }), encodeLeaseValue(weftAttrs).replace('"VNI":1', '"VNI":7'));
});

t.test('decodes values written by flanneld', async (t) => {
  t.same(decodeLeaseValue(FLANNEL_VALUE), { ok: true, attrs: { ...weftAttrs, nodeName: undefined } });
  const hostGw = decodeLeaseValue('{"PublicIP":"10.0.0.2","PublicIPv6":null,"BackendType":"host-gw"}');
  t.same(hostGw, { ok: true, attrs: { publicIp: '10.0.0.2', backendType: 'host-gw', vni: undefined, vtepMac: undefined, nodeName: undefined } },
    'other backends are kept, without VXLAN data');
  const minimal = decodeLeaseValue('{"PublicIP":"1.2.3.4","PublicIPv6":null}');
  t.same(minimal.ok && minimal.attrs.backendType, '', 'no BackendType decodes as empty');
  const extra = decodeLeaseValue(FLANNEL_VALUE.replace('}}', '},"BackendV6Data":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:f0"},"Future":1}'));
  t.equal(extra.ok, true, 'unknown fields are ignored');
});

t.test('an upper-case VtepMAC is normalised', async (t) => {
  const r = decodeLeaseValue(FLANNEL_VALUE.replace('c6:d2:32:6f:8f:44', 'C6:D2:32:6F:8F:44'));
  t.equal(r.ok && r.attrs.vtepMac, 'c6:d2:32:6f:8f:44');
});

t.test('invalid values are rejected with a reason', async (t) => {
  const withValue = (patch: Record<string, unknown>): string => JSON.stringify({ ...JSON.parse(FLANNEL_VALUE), ...patch });
  const table: [string, RegExp][] = [
    ['not json', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['null', /not a JSON object/],
    [withValue({ PublicIP: '0.0.0.0' }), /PublicIP "0\.0\.0\.0" is not a valid IPv4/],
    [withValue({ PublicIP: '1.2.3' }), /PublicIP "1\.2\.3" is not a valid IPv4/],
    [withValue({ PublicIP: 5 }), /PublicIP 5 is not a valid IPv4/],
    [withValue({ PublicIP: undefined }), /PublicIP undefined is not a valid IPv4/],
    [withValue({ BackendType: 3 }), /BackendType is not a string/],
    [withValue({ NodeName: '' }), /NodeName is not a non-empty string/],
    [withValue({ NodeName: 7 }), /NodeName is not a non-empty string/],
    [withValue({ BackendData: undefined }), /vxlan lease has no BackendData/],
    [withValue({ BackendData: { VNI: 1, VtepMAC: '01:00:5e:00:00:01' } }), /VtepMAC "01:00:5e:00:00:01" is not a unicast MAC/],
    [withValue({ BackendData: { VNI: 1, VtepMAC: 'c6d2326f8f44' } }), /VtepMAC "c6d2326f8f44"/],
    [withValue({ BackendData: { VNI: 1 } }), /VtepMAC undefined/],
  ];
  for (const [value, reason] of table) {
    const r = decodeLeaseValue(value);
    t.equal(r.ok, false, value);
    if (!r.ok) t.match(r.reason, reason, value);
  }
});

t.test('encode → decode round trip', async (t) => {
  const table: LeaseAttrs[] = [
    weftAttrs,
    { ...weftAttrs, nodeName: undefined },
    { ...weftAttrs, vni: 4096, vtepMac: '02:00:00:00:00:01' as Mac, nodeName: 'worker-7.example.com' },
    { publicIp: '10.0.0.2' as Ipv4, backendType: 'host-gw', vni: undefined, vtepMac: undefined, nodeName: 'gw' },
  ];
  for (const attrs of table) {
    const text = encodeLeaseValue(attrs);
    t.same(decodeLeaseValue(text), { ok: true, attrs }, text);
    const decoded = decodeLeaseValue(text);
    t.ok(decoded.ok && sameAttrs(decoded.attrs, attrs), 'sameAttrs agrees');
  }
});

t.test('sameAttrs compares every field', async (t) => {
  t.ok(sameAttrs(weftAttrs, { ...weftAttrs }));
  const changes: Partial<LeaseAttrs>[] = [
    { publicIp: '192.168.64.4' as Ipv4 }, { backendType: 'udp' }, { vni: 2 }, { vtepMac: 'c6:d2:32:6f:8f:45' as Mac }, { nodeName: 'n2' },
    { nodeName: undefined },
  ];
  for (const change of changes) t.notOk(sameAttrs(weftAttrs, { ...weftAttrs, ...change }), JSON.stringify(change));
});
