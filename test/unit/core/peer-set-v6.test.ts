/**
 * The IPv6 half of the acceptance rule and of PeerSet: judged as strictly as
 * IPv4, on its own, so a bad IPv6 half makes an IPv4-only peer, never a
 * refused one; older keys keep an IPv6 subnet or MAC, as for IPv4.
 */
import t from 'tap';
import type { Ipv4 } from '../../../src/core/cidr.js';
import type { Ipv6 } from '../../../src/core/cidr6.js';
import { encodeLeaseValue } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../src/core/network-config.js';
import { peerV6 } from '../../../src/core/peer-acceptance.js';
import { PeerSet, type RawLeaseKv } from '../../../src/core/peer-set.js';

const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:5::/48' });
if (!parsed.ok) throw new Error('bad test config');
const dual = parsed.config;
const v4only = (() => { const p = parseNetworkConfig({ Network: '10.5.0.0/16' }); if (!p.ok) throw new Error('x'); return p.config; })();

interface Opts { publicIpv6?: string | null; mac6?: string; vni6?: number; rev?: number; noV6Data?: boolean; mac?: string }
function kv(key: string, n: number, o: Opts = {}): RawLeaseKv {
  const value = encodeLeaseValue({
    publicIp: `192.0.2.${n}` as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: (o.mac ?? `02:00:00:00:04:${n.toString(16).padStart(2, '0')}`) as Mac, nodeName: `n${n}`,
    ...(o.publicIpv6 === null ? {} : { publicIpv6: (o.publicIpv6 ?? `fd00:99::${n}`) as Ipv6 }),
    ...(o.noV6Data ? {} : { backendV6: { vni: o.vni6 ?? 1, vtepMac: (o.mac6 ?? `02:00:00:00:06:${n.toString(16).padStart(2, '0')}`) as Mac } }),
  });
  return { key, value, reservation: false, ...(o.rev !== undefined ? { createRevision: String(o.rev) } : {}) };
}
const self = { subnet: '10.5.1.0/24' as never, subnetV6: 'fd00:5:0:1::/64' as never, publicIpv6: 'fd00:99::1' as Ipv6, vtepMacV6: '02:00:00:00:06:01' as Mac };

t.test('a dual-stack peer keeps its IPv6 half; an IPv4-only peer is an IPv4 peer', async (t) => {
  const set = new PeerSet(dual, self);
  set.reset([kv('10.5.2.0-24&fd00:5:0:2::-64', 2), kv('10.5.3.0-24', 3, { publicIpv6: null, noV6Data: true })]);
  const [a, b] = set.values().sort((x, y) => x.subnet.localeCompare(y.subnet));
  t.same(a && peerV6(a), { subnet: 'fd00:5:0:2::/64', publicIp: 'fd00:99::2', vtepMac: '02:00:00:00:06:02' });
  t.equal(b && peerV6(b), undefined);
  t.equal(b?.ipv6Refusal, undefined, 'no IPv6 half is not a problem');
  t.equal(set.size, 2);
});

t.test('every bad IPv6 half gives an IPv4-only peer with the reason', async (t) => {
  const table: [RawLeaseKv, RegExp][] = [
    [kv('10.5.2.0-24&fd00:6:0:2::-64', 2), /IPv6 subnet fd00:6:0:2::\/64 is outside the IPv6 network fd00:5::\/48/],
    [kv('10.5.2.0-24&fd00:5:0:2::-80', 2), /is a \/80; this network leases \/64/],
    [kv('10.5.2.0-24&fd00:5:0:1::-64', 2), /IPv6 subnet fd00:5:0:1::\/64 is this host's own/],
    [kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { publicIpv6: null }), /no PublicIPv6/],
    [kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { publicIpv6: 'fe80::2' }), /link-local/],
    [kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { publicIpv6: 'ff02::2' }), /multicast/],
    [kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { publicIpv6: 'fd00:5:0:9::2' }), /inside the IPv6 overlay network/],
    [kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { publicIpv6: 'fd00:99::1' }), /this host's own address/],
    [kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { noV6Data: true }), /no BackendV6Data/],
    [kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { vni6: 7 }), /BackendV6Data VNI 7; this network uses VNI 1/],
    [kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { mac6: '02:00:00:00:06:01' }), /IPv6 VTEP MAC 02:00:00:00:06:01 is this host's own/],
    [kv('10.5.2.0-24', 2), /the key names no IPv6 subnet/],
  ];
  for (const [entry, reason] of table) {
    const set = new PeerSet(dual, self);
    set.reset([entry]);
    const [peer] = set.values();
    t.equal(peer?.subnet, '10.5.2.0/24', `${entry.key}: still an IPv4 peer`);
    t.equal(peer && peerV6(peer), undefined, `${reason}: no IPv6 half`);
    t.match(peer?.ipv6Refusal, reason);
    t.match(set.verdicts()[0], { state: 'peer', reason: /^IPv4 only: / });
  }
  const set = new PeerSet(v4only, {});
  set.reset([kv('10.5.2.0-24&fd00:5:0:2::-64', 2)]);
  t.match(set.values()[0]?.ipv6Refusal, /IPv6 is not enabled in this network/, 'an IPv4-only network programs IPv4 only');
});

t.test('an IPv6 subnet or MAC used twice: the older key keeps it, whatever the order seen', async (t) => {
  const older = kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { rev: 10 });
  const newer = kv('10.5.3.0-24&fd00:5:0:2::-64', 3, { rev: 20 });
  for (const order of [[older, newer], [newer, older]]) {
    const set = new PeerSet(dual, self);
    for (const e of order) set.put(e);
    const by = new Map(set.values().map((p) => [p.subnet, p]));
    t.equal(set.size, 2, 'both stay IPv4 peers');
    t.same(by.get('10.5.2.0/24' as never) && peerV6(by.get('10.5.2.0/24' as never)!)?.subnet, 'fd00:5:0:2::/64', 'older keeps the IPv6 subnet');
    t.match(by.get('10.5.3.0/24' as never)?.ipv6Refusal, /IPv6 subnet fd00:5:0:2::\/64 is already used by the older key 10.5.2.0-24&fd00:5:0:2::-64/);
    set.takeChanged();
    set.delete(older.key);
    const promoted = set.get('10.5.3.0/24' as never);
    t.same(promoted && peerV6(promoted)?.subnet, 'fd00:5:0:2::/64', 'once the older key goes, the newer one gets its IPv6 half');
    t.ok(set.takeChanged().has('10.5.3.0/24' as never), 'and that is a change the data plane sees');
  }
  const macTwice = new PeerSet(dual, self);
  macTwice.reset([kv('10.5.2.0-24&fd00:5:0:2::-64', 2, { rev: 1, mac6: '02:00:00:00:06:77' }), kv('10.5.3.0-24&fd00:5:0:3::-64', 3, { rev: 2, mac6: '02:00:00:00:06:77' })]);
  t.match(macTwice.get('10.5.3.0/24' as never)?.ipv6Refusal, /IPv6 VTEP MAC 02:00:00:00:06:77 is already used by the older key/);
});
