import t from 'tap';
import { SecretKey, type WgPublicKey } from '../../../../src/core/wireguard/keys.js';
import {
  type Endpoint, canonicalAllowedIp, describePeerOp, formatEndpoint, parseEndpoint, parseErrno, parseGetReply, renderSetRequest,
} from '../../../../src/core/wireguard/uapi-codec.js';
import { errnoName } from '../../../../src/core/wireguard/errors.js';
import { KEY_A, KEY_B, PSK } from './vectors.js';

function secret(base64: string): SecretKey {
  const parsed = SecretKey.parseBase64(base64);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.key;
}
const pskHex = Buffer.from(PSK, 'base64').toString('hex');

t.test('set request: device fields, then each peer, hex keys, empty line at the end', async (t) => {
  const text = renderSetRequest({
    privateKey: secret(KEY_A.private), listenPort: 51820, replacePeers: true,
    peers: [
      { kind: 'remove', publicKey: KEY_A.public as WgPublicKey },
      { kind: 'upsert', publicKey: KEY_B.public as WgPublicKey, presharedKey: secret(PSK), endpoint: '192.0.2.12:51820' as Endpoint,
        persistentKeepaliveInterval: 25, replaceAllowedIps: true, allowedIps: ['10.5.2.0/24', 'fd00:5:0:2::/64'] },
      { kind: 'upsert', publicKey: KEY_A.public as WgPublicKey, updateOnly: true, presharedKey: null },
    ],
  });
  t.equal(text, [
    'set=1', `private_key=${KEY_A.privateHex}`, 'listen_port=51820', 'replace_peers=true',
    `public_key=${KEY_A.publicHex}`, 'remove=true',
    `public_key=${KEY_B.publicHex}`, `preshared_key=${pskHex}`, 'endpoint=192.0.2.12:51820', 'persistent_keepalive_interval=25',
    'replace_allowed_ips=true', 'allowed_ip=10.5.2.0/24', 'allowed_ip=fd00:5:0:2::/64',
    `public_key=${KEY_A.publicHex}`, 'update_only=true', `preshared_key=${'0'.repeat(64)}`,
    '', '',
  ].join('\n'));
  t.equal(renderSetRequest({}), 'set=1\n\n');
});

t.test('describe: for logs, no secrets', async (t) => {
  const line = describePeerOp({ kind: 'upsert', publicKey: KEY_B.public as WgPublicKey, presharedKey: secret(PSK), endpoint: '192.0.2.12:51820' as Endpoint, allowedIps: [] });
  t.equal(line, `set peer ${KEY_B.public} endpoint 192.0.2.12:51820 allowed-ips (none) psk set`);
  t.notMatch(line, PSK.slice(0, 10));
});

/** The shape wireguard-go 0.0.20220316 prints (device/uapi.go IpcGetOperation). */
const GET_REPLY = [
  `private_key=${KEY_A.privateHex}`, 'listen_port=51820',
  `public_key=${KEY_B.publicHex}`, `preshared_key=${pskHex}`, 'protocol_version=1', 'endpoint=192.0.2.12:51820',
  'last_handshake_time_sec=1700000000', 'last_handshake_time_nsec=250000000', 'tx_bytes=1184', 'rx_bytes=972',
  'persistent_keepalive_interval=25', 'allowed_ip=10.5.2.0/24', 'allowed_ip=fd00:5:0:2::/64',
  `public_key=${KEY_A.publicHex}`, `preshared_key=${'0'.repeat(64)}`, 'protocol_version=1', 'endpoint=[fd00:0:0:0::12]:51821',
  'last_handshake_time_sec=0', 'last_handshake_time_nsec=0', 'tx_bytes=0', 'rx_bytes=0', 'persistent_keepalive_interval=0',
  'errno=0', '', '',
].join('\n');

t.test('get reply: device, peers, handshake, bytes; the private key only as its public key', async (t) => {
  const parsed = parseGetReply(GET_REPLY);
  if (!parsed.ok) throw new Error(parsed.reason);
  const state = parsed.value;
  t.equal(state.publicKey, KEY_A.public);
  t.equal(state.listenPort, 51820);
  t.equal(state.peers.length, 2);
  const [b, a] = state.peers;
  t.match(b, { publicKey: KEY_B.public, endpoint: '192.0.2.12:51820', persistentKeepaliveInterval: 25, allowedIps: ['10.5.2.0/24', 'fd00:5:0:2::/64'],
    lastHandshakeMs: 1700000000250, rxBytes: 972, txBytes: 1184 });
  t.ok(b?.presharedKey?.equals(secret(PSK)));
  t.match(a, { publicKey: KEY_A.public, presharedKey: undefined, endpoint: '[fd00::12]:51821', allowedIps: [], lastHandshakeMs: undefined });
  t.notMatch(JSON.stringify(state), KEY_A.privateHex.slice(0, 16));
  t.notMatch(JSON.stringify(state), pskHex.slice(0, 16));
});

t.test('get reply: an empty device, errors and truncation', async (t) => {
  t.same(parseGetReply('listen_port=0\nerrno=0\n\n'), { ok: true, value: { publicKey: undefined, listenPort: 0, fwmark: 0, peers: [] } });
  t.match(parseGetReply('listen_port=0\n'), { ok: false, reason: /no errno line/ });
  t.match(parseGetReply('errno=-5\n\n'), { ok: false, reason: /errno=-5/ });
  t.match(parseGetReply(`public_key=${KEY_A.publicHex}\nallowed_ip=10.5.300.0/24\nerrno=0\n\n`), { ok: false, reason: /line 2 \(allowed_ip\): not a CIDR/ });
  t.match(parseGetReply('public_key=xyz\nerrno=0\n\n'), { ok: false, reason: /line 1 \(public_key\): not a hex key/ });
});

t.test('errno', async (t) => {
  t.equal(parseErrno('errno=0\n\n'), 0);
  t.equal(parseErrno('errno=-22\n\n'), -22);
  t.equal(parseErrno('errno=1\n'), 1);
  t.equal(parseErrno('listen_port=1\n'), undefined);
  t.equal(errnoName(-22), 'EINVAL');
  t.equal(errnoName(-98), 'EADDRINUSE');
  t.equal(errnoName(-4242), 'errno -4242');
});

t.test('endpoints and allowed IPs in canonical form', async (t) => {
  t.equal(formatEndpoint('192.0.2.1', 51820), '192.0.2.1:51820');
  t.equal(formatEndpoint('fd00:0::10', 51821), '[fd00::10]:51821');
  t.equal(formatEndpoint('192.0.2.1', 0), undefined);
  t.equal(formatEndpoint('host.example', 1), undefined);
  t.equal(parseEndpoint('[FD00:0:0::1]:5'), '[fd00::1]:5');
  t.equal(parseEndpoint('192.0.2.1:70000'), undefined);
  t.equal(parseEndpoint('192.0.2.1'), undefined);
  t.equal(canonicalAllowedIp('10.5.2.0/24'), '10.5.2.0/24');
  t.equal(canonicalAllowedIp('fd00:5:0:2:0::/64'), 'fd00:5:0:2::/64');
  t.equal(canonicalAllowedIp('10.5.2.1/24'), '10.5.2.0/24', 'masked, as WireGuard stores it');
  t.equal(canonicalAllowedIp('nope'), undefined);
});
