/**
 * The wireguard backend in the network config, the lease codec and the
 * acceptance rule: flannel's config accepted (with every error at once),
 * flanneld-written lease values read and written byte-for-byte, and peers of
 * another backend type or with this host's key refused with their reason.
 */
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../../src/core/cidr.js';
import { decodeLeaseValue, encodeLeaseValue, sameAttrs } from '../../../../src/core/lease.js';
import type { Mac } from '../../../../src/core/mac.js';
import { type ConfigParse, type NetworkConfig, parseNetworkConfig, parseNetworkConfigText, renderNetworkConfig } from '../../../../src/core/network-config.js';
import { classifyOwnValue } from '../../../../src/core/own-lease.js';
import { isWireguardPeer, judgeLease } from '../../../../src/core/peer-acceptance.js';
import type { WgPublicKey } from '../../../../src/core/wireguard/keys.js';
import { KEY_A, KEY_B, PSK } from './vectors.js';

function ok(r: ConfigParse): NetworkConfig {
  if (!r.ok) throw new Error(`expected a valid config, got: ${r.errors.join('; ')}`);
  return r.config;
}

const wg = ok(parseNetworkConfig({ Network: '10.10.0.0/16', Backend: { Type: 'wireguard' } }));

t.test('Backend.Type wireguard: flannel\'s defaults and its sample dist/wireguard', async (t) => {
  t.match(wg.backend, { type: 'wireguard', listenPort: 51820, listenPortV6: 51821, mtu: undefined, psk: undefined, persistentKeepaliveInterval: 0, mode: 'separate' });
  const sample = ok(parseNetworkConfigText(`{"Network":"10.10.0.0/16","Backend":{"Type":"wireguard","ListenPort":51820,"PSK":"${PSK}","PersistentKeepaliveInterval":300}}`));
  t.match(sample.backend, { type: 'wireguard', persistentKeepaliveInterval: 300 });
  t.ok(sample.backend.type === 'wireguard' && sample.backend.psk?.base64() === PSK);
  t.match(ok(parseNetworkConfig({ Network: '10.10.0.0/16', Backend: { type: 'WireGuard', mode: 'ipv4' } })).backend, { type: 'wireguard', mode: 'ipv4' }, 'any key and type case');
});

t.test('every problem at once; a dual-stack wireguard network accepted, the combinations that cannot work refused', async (t) => {
  const r = parseNetworkConfig({ Network: '10.10.0.0/16', SubnetLen: 40, Backend: { Type: 'wireguard', ListenPort: 70000, PSK: 'nope', PersistentKeepaliveInterval: '25s', MTU: 100 } });
  t.notOk(r.ok);
  const errors = r.ok ? [] : r.errors;
  t.match(errors, [/SubnetLen 40/, /Backend.ListenPort/, /Backend.MTU 100 is too small/, /Backend.PSK/, /PersistentKeepaliveInterval must be a number of seconds/]);
  t.notMatch(errors.join('\n'), /nope/, 'the PSK value is never echoed');
  for (const mode of ['separate', 'auto', 'ipv4', 'ipv6']) {
    const m = parseNetworkConfig({ Network: '10.10.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10::/48', Backend: { Type: 'wireguard', Mode: mode } });
    t.match(m, { ok: true, config: { backend: { mode }, ipv6: { network: 'fd00:10::/48' } } }, `Mode ${mode} on a dual-stack network`);
  }
  t.ok(parseNetworkConfig({ Network: '10.10.0.0/16', Backend: { Type: 'wireguard', Mode: 'auto' } }).ok, 'auto without IPv6: IPv4 endpoints, as flannel');
  const v6only = parseNetworkConfig({ Network: '10.10.0.0/16', Backend: { Type: 'wireguard', Mode: 'ipv6' } });
  t.match(v6only.ok ? [] : v6only.errors, [/Mode "ipv6" sends every tunnel over the IPv6 underlay/]);
  const ports = parseNetworkConfig({ Network: '10.10.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10::/48', Backend: { Type: 'wireguard', ListenPortV6: 51820 } });
  t.match(ports.ok ? [] : ports.errors, [/ListenPortV6 51820 is also ListenPort/]);
  const bad = parseNetworkConfig({ Network: '10.10.0.0/16', Backend: { Type: 'udp' } });
  t.match(bad.ok ? [] : bad.errors, [/Backend.Type "udp" is not supported: weft supports "vxlan" and "wireguard"/]);
});

t.test('render: flannel\'s field names, the PSK redacted for display', async (t) => {
  const c = ok(parseNetworkConfig({ Network: '10.10.0.0/16', Backend: { Type: 'wireguard', PSK: PSK, ListenPort: 51000 } }));
  const shown = renderNetworkConfig(c, { redactPsk: true });
  t.notMatch(shown, PSK);
  t.match(JSON.parse(shown), { Backend: { Type: 'wireguard', ListenPort: 51000, PSK: '[redacted]', Mode: 'separate' } });
  t.same(ok(parseNetworkConfigText(renderNetworkConfig(c))), c, 'the stored form parses back to the same config');
});

// Written by flanneld v0.26.6+ (newSubnetAttrs, wireguardLeaseAttrs without JSON tags; next-anchors §1.2).
const FLANNELD = `{"PublicIP":"192.168.1.10","PublicIPv6":null,"BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_B.public}","Port":51820}}`;
const FLANNELD_OLD = `{"PublicIP":"192.168.1.11","PublicIPv6":null,"BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_B.public}"}}`;
const FLANNELD_DUAL = `{"PublicIP":"192.168.1.10","PublicIPv6":"fd00::10","BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_B.public}","Port":51820},"BackendV6Data":{"PublicKey":"${KEY_B.public}","Port":51821}}`;

t.test('lease codec: flanneld\'s values read and written back byte for byte', async (t) => {
  for (const text of [FLANNELD, FLANNELD_OLD, FLANNELD_DUAL]) {
    const d = decodeLeaseValue(text);
    t.ok(d.ok, text);
    if (d.ok) t.equal(encodeLeaseValue(d.attrs), text, 'round trip');
  }
  const d = decodeLeaseValue(FLANNELD);
  t.match(d, { ok: true, attrs: { backendType: 'wireguard', wireguard: { publicKey: KEY_B.public, port: 51820 }, vtepMac: undefined } });
  t.match(decodeLeaseValue(FLANNELD_OLD), { ok: true, attrs: { wireguard: { publicKey: KEY_B.public, port: undefined } } }, 'no Port: ours is used');
  t.match(decodeLeaseValue(FLANNELD_DUAL), { ok: true, attrs: { publicIpv6: 'fd00::10', wireguardV6: { port: 51821 } } });
  t.match(decodeLeaseValue('{"PublicIP":"192.168.1.10","BackendType":"wireguard","BackendData":{"PublicKey":"short"}}'),
    { ok: false, reason: /BackendData.PublicKey "short"/ });
  t.match(decodeLeaseValue('{"PublicIP":"192.168.1.10","BackendType":"wireguard"}'), { ok: false, reason: /neither BackendData nor BackendV6Data/ });
  const ours = { publicIp: '192.0.2.11' as Ipv4, backendType: 'wireguard', vni: undefined, vtepMac: undefined, nodeName: 'host1',
    wireguard: { publicKey: KEY_A.public as WgPublicKey, port: 51820 } };
  t.equal(encodeLeaseValue(ours), `{"PublicIP":"192.0.2.11","PublicIPv6":null,"BackendType":"wireguard","BackendData":{"PublicKey":"${KEY_A.public}","Port":51820},"NodeName":"host1"}`);
  t.notOk(sameAttrs(ours, { ...ours, wireguard: { publicKey: KEY_B.public as WgPublicKey, port: 51820 } }), 'a new key is a change');
  t.match(classifyOwnValue(encodeLeaseValue({ ...ours, wireguard: { publicKey: KEY_B.public as WgPublicKey, port: 51820 } }), ours),
    { kind: 'drifted', reason: /BackendData.PublicKey/ }, 'the own-lease guard sees a changed key');
});

t.test('acceptance: the one rule, for a wireguard network', async (t) => {
  const self = { subnet: '10.10.1.0/24' as Cidr, publicIp: '192.0.2.11' as Ipv4, wireguardKey: KEY_A.public as WgPublicKey };
  const decoded = decodeLeaseValue(FLANNELD);
  if (!decoded.ok) throw new Error('vector');
  const verdict = judgeLease({ subnet: '10.10.2.0/24' as Cidr, attrs: decoded.attrs }, wg, self);
  t.match(verdict, { kind: 'peer', peer: { subnet: '10.10.2.0/24', attrs: { wireguard: { publicKey: KEY_B.public } } } }, 'flanneld\'s lease is a peer');
  t.ok(verdict.kind === 'peer' && isWireguardPeer(verdict.peer));
  const vxlan = { publicIp: '192.0.2.12' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: '0a:00:00:00:00:02' as Mac, nodeName: 'h2' };
  t.match(judgeLease({ subnet: '10.10.2.0/24' as Cidr, attrs: vxlan }, wg, self),
    { kind: 'refused', code: 'backend-type', reason: 'backend type "vxlan"; this network uses wireguard' });
  const vx = ok(parseNetworkConfig({ Network: '10.10.0.0/16' }));
  t.match(judgeLease({ subnet: '10.10.2.0/24' as Cidr, attrs: decoded.attrs }, vx, self),
    { kind: 'refused', code: 'backend-type', reason: 'backend type "wireguard"; this network uses vxlan' });
  const mine = { ...decoded.attrs, wireguard: { publicKey: KEY_A.public as WgPublicKey, port: 51820 } };
  t.match(judgeLease({ subnet: '10.10.2.0/24' as Cidr, attrs: mine }, wg, self), { kind: 'refused', code: 'wireguard-key', reason: /this host's own/ });
  t.match(judgeLease({ subnet: '10.10.2.0/24' as Cidr, attrs: { ...decoded.attrs, publicIp: '10.10.9.9' as Ipv4 } }, wg, self),
    { kind: 'refused', code: 'public-ip', reason: /inside the overlay network/ }, 'PublicIP rules as for vxlan');
  const dual = decodeLeaseValue(FLANNELD_DUAL);
  if (!dual.ok) throw new Error('vector');
  t.match(judgeLease({ subnet: '10.10.2.0/24' as Cidr, attrs: dual.attrs }, wg, self),
    { kind: 'peer', peer: { attrs: { publicIpv6: undefined, wireguardV6: undefined }, ipv6Refusal: /IPv6 is not enabled in this network/ } },
    'a dual-stack flanneld peer on an IPv4 network: IPv4 only');
});
