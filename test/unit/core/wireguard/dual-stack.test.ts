/**
 * The wireguard backend on a dual-stack network, in the core: every Mode in
 * the config, flanneld's dual lease values (BackendData + BackendV6Data)
 * read and written back, the IPv6 half of a wireguard lease judged by the one
 * acceptance rule per Mode (and PeerSet's older-key rule for its IPv6
 * subnet), the devices per Mode, and the peers each device
 * wants (flannel's handleSubnetEvents table and its auto-mode endpoint rule).
 */
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../../src/core/cidr.js';
import type { Cidr6, Ipv6 } from '../../../../src/core/cidr6.js';
import { type Lease, decodeLeaseValue, decodeSubnetKey, encodeLeaseValue } from '../../../../src/core/lease.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../../src/core/network-config.js';
import { type WireguardPeer, judgeLease, peerSubnetV6 } from '../../../../src/core/peer-acceptance.js';
import { PeerSet, type RawLeaseKv } from '../../../../src/core/peer-set.js';
import { advertisedPorts, wireguardTunnels } from '../../../../src/core/wireguard/device.js';
import type { WgPublicKey } from '../../../../src/core/wireguard/keys.js';
import { autoEndpoint, wantedTunnelPeers } from '../../../../src/core/wireguard/peer-plan.js';
import type { WireguardBackend } from '../../../../src/core/wireguard/backend-config.js';
import { KEY_A, KEY_B } from './vectors.js';

type Mode = WireguardBackend['mode'];
function network(mode: Mode, extra: Record<string, unknown> = {}): NetworkConfig & { backend: WireguardBackend } {
  const r = parseNetworkConfig({ Network: '10.10.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10::/48', Backend: { Type: 'wireguard', Mode: mode, ...extra } });
  if (!r.ok || r.config.backend.type !== 'wireguard') throw new Error(`bad test config: ${r.ok ? '' : r.errors.join('; ')}`);
  return r.config as NetworkConfig & { backend: WireguardBackend };
}

// flanneld ≥ v0.26.6 on a dual-stack host (newSubnetAttrs: the same key in both datas, Port = ListenPort / ListenPortV6; next-anchors §1.2).
const KEY = '10.10.2.0-24&fd00:10:0:2::-64';
const FLANNELD_DUAL = `{"PublicIP":"192.0.2.12","PublicIPv6":"fd00:99::12","BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_B.public}","Port":51820},"BackendV6Data":{"PublicKey":"${KEY_B.public}","Port":51821}}`;
// flanneld before v0.26.6: no Port.
const FLANNELD_DUAL_OLD = `{"PublicIP":"192.0.2.12","PublicIPv6":"fd00:99::12","BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_B.public}"},"BackendV6Data":{"PublicKey":"${KEY_B.public}"}}`;

function lease(text: string, key = KEY): Lease {
  const k = decodeSubnetKey(key);
  const v = decodeLeaseValue(text);
  if (!k.ok || !v.ok) throw new Error('vector');
  return { subnet: k.subnet, subnetV6: k.subnetV6, attrs: v.attrs };
}
const self = {
  subnet: '10.10.1.0/24' as Cidr, publicIp: '192.0.2.11' as Ipv4, subnetV6: 'fd00:10:0:1::/64' as Cidr6,
  publicIpv6: 'fd00:99::11' as Ipv6, wireguardKey: KEY_A.public as WgPublicKey,
};
function peerOf(mode: Mode, l: Lease): WireguardPeer {
  const v = judgeLease(l, network(mode), self);
  if (v.kind !== 'peer') throw new Error(`not a peer: ${JSON.stringify(v)}`);
  return v.peer as WireguardPeer;
}

t.test('config: every Mode on a dual-stack network; ports and the IPv6-only mode checked with the rest', async (t) => {
  for (const mode of ['separate', 'auto', 'ipv4', 'ipv6'] as const) t.equal(network(mode).backend.mode, mode);
  const r = parseNetworkConfig({ Network: '10.10.0.0/16', SubnetLen: 40, EnableIPv6: true, IPv6Network: 'fd00:10::/48',
    Backend: { Type: 'wireguard', ListenPortV6: 51820 } });
  t.match(r.ok ? [] : r.errors, [/SubnetLen 40/, /ListenPortV6 51820 is also ListenPort/], 'every error at once');
  const noV6 = parseNetworkConfig({ Network: '10.10.0.0/16', Backend: { Type: 'wireguard', Mode: 'ipv6' } });
  t.match(noV6.ok ? [] : noV6.errors, [/Mode "ipv6".*set EnableIPv6 and IPv6Network/]);
});

t.test('lease codec: flanneld\'s dual values round trip byte for byte; weft writes the same shape', async (t) => {
  for (const text of [FLANNELD_DUAL, FLANNELD_DUAL_OLD]) {
    const d = decodeLeaseValue(text);
    t.ok(d.ok);
    if (d.ok) t.equal(encodeLeaseValue(d.attrs), text, 'round trip');
  }
  t.match(decodeLeaseValue(FLANNELD_DUAL), { ok: true, attrs: { publicIpv6: 'fd00:99::12', wireguard: { publicKey: KEY_B.public, port: 51820 }, wireguardV6: { publicKey: KEY_B.public, port: 51821 } } });
  t.match(decodeLeaseValue(FLANNELD_DUAL_OLD), { ok: true, attrs: { wireguard: { port: undefined }, wireguardV6: { port: undefined } } });
  t.same(advertisedPorts(network('separate').backend), { v4: 51820, v6: 51821 }, 'separate: ListenPort and ListenPortV6, as flanneld');
  for (const mode of ['auto', 'ipv4', 'ipv6'] as const) t.same(advertisedPorts(network(mode).backend), { v4: 51820, v6: 51820 }, `${mode}: the one device's port in both`);
  const ours = encodeLeaseValue({ publicIp: '192.0.2.11' as Ipv4, publicIpv6: 'fd00:99::11' as Ipv6, backendType: 'wireguard', vni: undefined, vtepMac: undefined,
    nodeName: undefined, wireguard: { publicKey: KEY_B.public as WgPublicKey, port: 51820 }, wireguardV6: { publicKey: KEY_B.public as WgPublicKey, port: 51821 } });
  t.equal(ours, FLANNELD_DUAL.replace('192.0.2.12', '192.0.2.11').replace('fd00:99::12', 'fd00:99::11'), 'weft writes flanneld\'s bytes');
});

t.test('acceptance: the IPv6 half of a wireguard lease, per Mode, with its reason', async (t) => {
  const dual = lease(FLANNELD_DUAL);
  for (const mode of ['separate', 'auto', 'ipv4', 'ipv6'] as const) {
    t.match(judgeLease(dual, network(mode), self), { kind: 'peer', peer: { subnetV6: 'fd00:10:0:2::/64', attrs: { wireguardV6: { port: 51821 } }, ipv6Refusal: undefined } }, `${mode}: both halves`);
  }
  const noV6Ip = lease(FLANNELD_DUAL.replace('"fd00:99::12"', 'null'));
  t.match(judgeLease(noV6Ip, network('separate'), self), { kind: 'peer', peer: { attrs: { wireguardV6: undefined }, ipv6Refusal: /no PublicIPv6/ } }, 'separate: weft-wg-v6 needs an endpoint');
  t.match(judgeLease(noV6Ip, network('ipv4'), self), { kind: 'peer', peer: { attrs: { wireguardV6: { port: 51821 } }, ipv6Refusal: undefined } }, 'ipv4: IPv6 rides the IPv4 underlay');
  t.match(judgeLease(noV6Ip, network('auto'), self), { kind: 'peer', peer: { attrs: { wireguardV6: { port: 51821 } } } }, 'auto: the IPv4 endpoint');
  t.match(judgeLease(noV6Ip, network('ipv6'), self), { kind: 'refused', code: 'public-ip', reason: /Mode "ipv6" reaches peers over IPv6 only: no PublicIPv6/ });
  t.match(judgeLease(lease(FLANNELD_DUAL.replace('fd00:99::12', 'fe80::12')), network('separate'), self), { kind: 'peer', peer: { ipv6Refusal: /PublicIPv6 .*link-local/ } });
  t.match(judgeLease(lease(FLANNELD_DUAL.replace('fd00:99::12', 'fd00:10:0:9::1')), network('auto'), self), { kind: 'peer', peer: { ipv6Refusal: /inside the IPv6 overlay network/ } });
  t.match(judgeLease(lease(FLANNELD_DUAL, '10.10.2.0-24&fd00:11:0:2::-64'), network('separate'), self), { kind: 'peer', peer: { ipv6Refusal: /outside the IPv6 network fd00:10::\/48/ } });
  t.match(judgeLease(lease(FLANNELD_DUAL, '10.10.2.0-24&fd00:10:0:1::-64'), network('separate'), self), { kind: 'peer', peer: { ipv6Refusal: /this host's own/ } });
  const noData = lease(FLANNELD_DUAL.replace(/,"BackendV6Data":\{[^}]*\}/, ''));
  t.match(judgeLease(noData, network('separate'), self), { kind: 'peer', peer: { ipv6Refusal: /no BackendV6Data/ } });
  const otherKey = lease(FLANNELD_DUAL.replace(`"BackendV6Data":{"PublicKey":"${KEY_B.public}"`, `"BackendV6Data":{"PublicKey":"${KEY_A.public}"`));
  t.match(judgeLease(otherKey, network('separate'), self), { kind: 'peer', peer: { ipv6Refusal: /BackendV6Data.PublicKey .* this host's own/ } });
  const twoKeys = lease(FLANNELD_DUAL.replace(`"BackendV6Data":{"PublicKey":"${KEY_B.public}"`, `"BackendV6Data":{"PublicKey":"${'C'.repeat(42)}A="`));
  t.match(judgeLease(twoKeys, network('separate'), self), { kind: 'peer', peer: { ipv6Refusal: undefined } }, 'separate: two devices, two keys allowed');
  t.match(judgeLease(twoKeys, network('auto'), self), { kind: 'peer', peer: { ipv6Refusal: /one device, to one key/ } });
  const v4only = lease(`{"PublicIP":"192.0.2.13","PublicIPv6":null,"BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_B.public}","Port":51820}}`, '10.10.3.0-24');
  t.match(judgeLease(v4only, network('separate'), self), { kind: 'peer', peer: { subnetV6: undefined, ipv6Refusal: undefined } }, 'an IPv4-only peer is fine');
});

t.test('devices per Mode: two in separate, one carrying both otherwise', async (t) => {
  const own = { network: '10.10.0.0/16' as Cidr, subnet: '10.10.1.0/24' as Cidr, network6: 'fd00:10::/48' as Cidr6, subnet6: 'fd00:10:0:1::/64' as Cidr6 };
  t.same(wireguardTunnels(network('separate').backend, own, 1500), [
    { name: 'weft-wg', mtu: 1420, listenPort: 51820, overlays: [{ family: 4, address: '10.10.1.0', route: '10.10.0.0/16' }] },
    { name: 'weft-wg-v6', mtu: 1420, listenPort: 51821, overlays: [{ family: 6, address: 'fd00:10:0:1::', route: 'fd00:10::/48' }] },
  ]);
  for (const mode of ['auto', 'ipv4', 'ipv6'] as const) {
    t.same(wireguardTunnels(network(mode).backend, own, 1500), [{ name: 'weft-wg', mtu: 1420, listenPort: 51820, overlays: [
      { family: 4, address: '10.10.1.0', route: '10.10.0.0/16' }, { family: 6, address: 'fd00:10:0:1::', route: 'fd00:10::/48' }] }], mode);
  }
  t.same(wireguardTunnels(network('separate').backend, { network: own.network, subnet: own.subnet }, 9000).map((d) => [d.name, d.mtu]), [['weft-wg', 8920]], 'IPv4 only: weft-wg alone');
});

t.test('peer plan per Mode: endpoints and allowed IPs as flannel programs them', async (t) => {
  const own = { publicKey: KEY_A.public as WgPublicKey, publicIp: self.publicIp, publicIpv6: self.publicIpv6, ipv6: true };
  const sep = wantedTunnelPeers(network('separate').backend, [peerOf('separate', lease(FLANNELD_DUAL))], own);
  t.match(sep.get('weft-wg')?.peers, [{ publicKey: KEY_B.public, endpoint: '192.0.2.12:51820', allowedIps: ['10.10.2.0/24'] }]);
  t.match(sep.get('weft-wg-v6')?.peers, [{ publicKey: KEY_B.public, endpoint: '[fd00:99::12]:51821', allowedIps: ['fd00:10:0:2::/64'] }]);
  const old = wantedTunnelPeers(network('separate', { ListenPortV6: 52000 }).backend, [peerOf('separate', lease(FLANNELD_DUAL_OLD))], own);
  t.match(old.get('weft-wg-v6')?.peers, [{ endpoint: '[fd00:99::12]:52000' }], 'no Port: our own ListenPortV6, as flannel');
  const v4peer = peerOf('separate', lease(`{"PublicIP":"192.0.2.13","PublicIPv6":null,"BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_B.public}","Port":51820}}`, '10.10.3.0-24'));
  const mixed = wantedTunnelPeers(network('separate').backend, [v4peer], own);
  t.equal(mixed.get('weft-wg')?.peers.length, 1);
  t.same(mixed.get('weft-wg-v6'), { peers: [], refused: [] }, 'an IPv4-only peer has no IPv6 peer, and no refusal');
  t.equal(wantedTunnelPeers(network('separate').backend, [v4peer], { ...own, ipv6: false }).has('weft-wg-v6'), false, 'no IPv6 on this host: no weft-wg-v6');

  const both = ['10.10.2.0/24', 'fd00:10:0:2::/64'];
  t.match(wantedTunnelPeers(network('ipv4').backend, [peerOf('ipv4', lease(FLANNELD_DUAL))], own).get('weft-wg')?.peers,
    [{ endpoint: '192.0.2.12:51820', allowedIps: both }], 'ipv4: one peer, both subnets, IPv4 endpoint');
  t.match(wantedTunnelPeers(network('ipv6').backend, [peerOf('ipv6', lease(FLANNELD_DUAL))], own).get('weft-wg')?.peers,
    [{ endpoint: '[fd00:99::12]:51820', allowedIps: both }], 'ipv6: the IPv6 endpoint on the one device\'s port (BackendData.Port), not flanneld\'s BackendV6Data.Port');
  t.equal(wantedTunnelPeers(network('ipv6').backend, [peerOf('ipv6', lease(FLANNELD_DUAL))], own).size, 1, 'one device');
  const auto = wantedTunnelPeers(network('auto').backend, [peerOf('auto', lease(FLANNELD_DUAL))], own).get('weft-wg');
  t.match(auto?.peers, [{ endpoint: '192.0.2.12:51820', allowedIps: both }], 'auto: a peer with a public (non-RFC 1918) IPv4 address is reached over IPv4');
});

t.test('auto: flannel\'s selectPublicEndpoint', async (t) => {
  const peer = (v4: string, v6: string | undefined): WireguardPeer => ({ subnet: '10.10.2.0/24' as Cidr,
    attrs: { publicIp: v4 as Ipv4, publicIpv6: v6 as Ipv6 | undefined, backendType: 'wireguard', vni: undefined, vtepMac: undefined, nodeName: undefined,
      wireguard: { publicKey: KEY_B.public as WgPublicKey, port: 51820 } } });
  const own = (v6: string | undefined) => ({ publicKey: undefined, publicIp: '10.0.0.1' as Ipv4, publicIpv6: v6 as Ipv6 | undefined, ipv6: true });
  t.equal(autoEndpoint(peer('10.0.0.2', undefined), own('2001:db8::1')), '10.0.0.2', 'no peer IPv6: IPv4');
  t.equal(autoEndpoint(peer('198.51.100.2', '2001:db8::2'), own('2001:db8::1')), '198.51.100.2', 'public peer IPv4: IPv4');
  t.equal(autoEndpoint(peer('10.0.0.2', '2001:db8::2'), own('2001:db8::1')), '2001:db8::2', 'private IPv4, both IPv6 not ULA: IPv6');
  t.equal(autoEndpoint(peer('172.16.0.2', 'fd00::2'), own('2001:db8::1')), '172.16.0.2', 'peer IPv6 is ULA: IPv4');
  t.equal(autoEndpoint(peer('192.168.0.2', '2001:db8::2'), own('fc00::1')), '192.168.0.2', 'our IPv6 is ULA: IPv4');
  t.equal(autoEndpoint(peer('192.168.0.2', '2001:db8::2'), own(undefined)), '192.168.0.2', 'no IPv6 of ours: IPv4');
});

t.test('PeerSet: a wireguard IPv6 subnet used twice stays with the older key, and is handed on when it goes', async (t) => {
  const entry = (key: string, n: number, rev: number): RawLeaseKv => ({
    key, reservation: false, createRevision: String(rev),
    value: FLANNELD_DUAL.replace('192.0.2.12', `192.0.2.${10 + n}`).replace('fd00:99::12', `fd00:99::${10 + n}`),
  });
  const older = entry('10.10.2.0-24&fd00:10:0:2::-64', 2, 10);
  const newer = entry('10.10.3.0-24&fd00:10:0:2::-64', 3, 20);
  for (const order of [[older, newer], [newer, older]]) {
    const set = new PeerSet(network('separate'), self);
    for (const e of order) set.put(e);
    t.equal(peerSubnetV6(set.get('10.10.2.0/24' as Cidr) as WireguardPeer), 'fd00:10:0:2::/64', 'older keeps it');
    t.match(set.get('10.10.3.0/24' as Cidr), { attrs: { wireguardV6: undefined }, ipv6Refusal: /IPv6 subnet fd00:10:0:2::\/64 is already used by the older key/ });
    set.delete(older.key);
    t.equal(peerSubnetV6(set.get('10.10.3.0/24' as Cidr) as WireguardPeer), 'fd00:10:0:2::/64', 'handed on');
  }
});
