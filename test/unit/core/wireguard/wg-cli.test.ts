/**
 * `wg show <dev> dump` parsing and `wg set` argv building. The dump texts are
 * verbatim output of wireguard-tools 1.0.20210914 against wireguard-go
 * 0.0.20220316 on this machine (keys throw-away): `wg` prints the same
 * format for a kernel device.
 */
import t from 'tap';
import { SecretKey, type WgPublicKey } from '../../../../src/core/wireguard/keys.js';
import type { Endpoint, SetRequest } from '../../../../src/core/wireguard/uapi-codec.js';
import { EMPTY_KEY_FILE, parseWgDump, wgDumpArgs, wgSetCommand } from '../../../../src/core/wireguard/wg-cli.js';
import { KEY_A, KEY_B, PSK } from './vectors.js';

const PRIVATE = 'ILDyifA6XnuEtRLDobDgdg41ydEO19TLRIXxpFvJPFc=';
const REAL_PSK = 'zHMxOOhAa/DkswA+RFc/XzJSJfhMrUG1+JAv9zeAQOI=';
const P1 = '/1UMAHrNiOSxJ32miZmyJCJvCM0kEp2L9VFo6PNNFBQ=';
const P2 = 'cElHc9vJh1PM1mlRnlnPg172a08mRSHnYCgjNSbKrGI=';
const P3 = 'ZW3406USm0kOnuLqC2zLw6xc02tRMpuc8n0LY2dB0ik=';

/** A fresh wireguard-go device: no key, a random port. */
const FRESH = '(none)\t(none)\t45857\toff\n';
/** After `wg set weft-wg private-key F listen-port 51820 fwmark 0x10 peer P1 preshared-key F endpoint … allowed-ips … persistent-keepalive 25 peer P2 … peer P3 allowed-ips ""`. */
const CONFIGURED = [
  `${PRIVATE}\t/RnGJrgR6J+m5dynuAsCEjZW/7T8zIr8FdZO6RaKaXQ=\t51820\t0x10`,
  `${P1}\t${REAL_PSK}\t198.51.100.2:51820\t10.50.2.0/24,fd00:5::/64\t0\t0\t0\t25`,
  `${P2}\t(none)\t[fd00::2]:51821\t10.50.3.0/24\t0\t0\t0\toff`,
  `${P3}\t(none)\t(none)\t(none)\t0\t0\t0\toff`,
  '',
].join('\n');
/** A peer after a handshake and traffic: written by hand in that format (real handshakes and bytes are read in test/integration/wireguard-wg-cli.test.ts). */
const TRAFFIC = `${PRIVATE}\t/RnGJrgR6J+m5dynuAsCEjZW/7T8zIr8FdZO6RaKaXQ=\t51820\toff\n${P1}\t(none)\t198.51.100.2:51820\t10.50.2.0/24\t1795834201\t1180\t1268\toff\n`;

function secret(base64: string): SecretKey {
  const parsed = SecretKey.parseBase64(base64);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.key;
}

t.test('dump of a fresh device: no key, its port, no peers', async (t) => {
  t.same(parseWgDump(FRESH), { ok: true, value: { publicKey: undefined, listenPort: 45857, fwmark: 0, peers: [] } });
  t.same(wgDumpArgs('weft-wg'), ['show', 'weft-wg', 'dump']);
});

t.test('dump of a configured device: every field, as the UAPI get gives it', async (t) => {
  const parsed = parseWgDump(CONFIGURED);
  if (!parsed.ok) throw new Error(parsed.reason);
  const state = parsed.value;
  t.equal(state.publicKey, '/RnGJrgR6J+m5dynuAsCEjZW/7T8zIr8FdZO6RaKaXQ=', 'the public key column, not derived from the private one');
  t.equal(state.listenPort, 51820);
  t.equal(state.fwmark, 16, 'fwmark printed in hex');
  t.equal(state.peers.length, 3);
  const [p1, p2, p3] = state.peers;
  t.match(p1, { publicKey: P1, endpoint: '198.51.100.2:51820', allowedIps: ['10.50.2.0/24', 'fd00:5::/64'], persistentKeepaliveInterval: 25,
    lastHandshakeMs: undefined, rxBytes: 0, txBytes: 0 });
  t.ok(p1?.presharedKey?.equals(secret(REAL_PSK)), 'the PSK as a SecretKey');
  t.match(p2, { publicKey: P2, presharedKey: undefined, endpoint: '[fd00::2]:51821', allowedIps: ['10.50.3.0/24'], persistentKeepaliveInterval: 0 });
  t.match(p3, { publicKey: P3, endpoint: undefined, allowedIps: [] });
  t.notMatch(JSON.stringify(state), PRIVATE.slice(0, 12), 'the private key is not kept');
});

t.test('handshake seconds and bytes', async (t) => {
  const parsed = parseWgDump(TRAFFIC);
  t.match(parsed, { ok: true, value: { fwmark: 0, peers: [{ lastHandshakeMs: 1795834201000, rxBytes: 1180, txBytes: 1268 }] } });
});

t.test('unreadable dumps: a reason naming the line, never the private key', async (t) => {
  t.match(parseWgDump(''), { ok: false, reason: /no device line/ });
  const cases: [string, RegExp][] = [
    [`${PRIVATE}\tnot-a-key\t51820\toff\n`, /line 1 \(device\): public key/],
    [`${PRIVATE}\t(none)\tport\toff\n`, /listen port/],
    [`${PRIVATE}\t(none)\t51820\n`, /3 fields, expected 4/],
    [`${FRESH}${P1}\t(none)\t(none)\t(none)\t0\t0\t0\n`, /line 2 \(peer\): 7 fields/],
    [`${FRESH}${P1}\t(none)\tsomewhere\t(none)\t0\t0\t0\toff\n`, /not an endpoint/],
    [`${FRESH}${P1}\t(none)\t(none)\t10.0.0.0/33\t0\t0\t0\toff\n`, /not a CIDR/],
    [`${FRESH}${P1}\t(none)\t(none)\t(none)\tx\t0\t0\toff\n`, /not a number/],
  ];
  for (const [text, reason] of cases) {
    const parsed = parseWgDump(text);
    t.match(parsed, { ok: false, reason }, reason.source);
    if (!parsed.ok) t.notMatch(parsed.reason, PRIVATE.slice(0, 12));
  }
});

t.test('wg set argv: every field, secrets only as file paths', async (t) => {
  const request: SetRequest = {
    privateKey: secret(KEY_A.private), listenPort: 51820, fwmark: 7,
    peers: [
      { kind: 'remove', publicKey: KEY_A.public as WgPublicKey },
      { kind: 'upsert', publicKey: KEY_B.public as WgPublicKey, presharedKey: secret(PSK), endpoint: '192.0.2.12:51820' as Endpoint,
        persistentKeepaliveInterval: 25, replaceAllowedIps: true, allowedIps: ['10.5.2.0/24', 'fd00:5:0:2::/64'] },
      { kind: 'upsert', publicKey: KEY_A.public as WgPublicKey, updateOnly: true, presharedKey: null, persistentKeepaliveInterval: 0,
        replaceAllowedIps: true, allowedIps: [] },
    ],
  };
  const command = wgSetCommand('weft-wg', request, '/run/weft/wg-set-x');
  t.same(command.args, [
    'set', 'weft-wg', 'listen-port', '51820', 'fwmark', '7', 'private-key', '/run/weft/wg-set-x/private.key',
    'peer', KEY_A.public, 'remove',
    'peer', KEY_B.public, 'preshared-key', '/run/weft/wg-set-x/psk-1.key', 'endpoint', '192.0.2.12:51820', 'persistent-keepalive', '25',
    'allowed-ips', '10.5.2.0/24,fd00:5:0:2::/64',
    'peer', KEY_A.public, 'preshared-key', EMPTY_KEY_FILE, 'persistent-keepalive', '0', 'allowed-ips', '',
  ]);
  t.same(command.files.map((f) => f.path), ['/run/weft/wg-set-x/private.key', '/run/weft/wg-set-x/psk-1.key']);
  t.ok(command.files[0]?.key.equals(secret(KEY_A.private)) && command.files[1]?.key.equals(secret(PSK)), 'the files carry the secrets');
  const argv = command.args.join(' ');
  for (const [name, base64] of [['private key', KEY_A.private], ['psk', PSK]] as const) {
    const key = secret(base64);
    for (const form of [key.base64(), key.hex(), key.base64().replace(/=+$/, '')]) t.notOk(argv.includes(form), `no ${name} on the argv`);
  }
});

t.test('wg set argv: only what is asked; what wg set cannot say is refused', async (t) => {
  t.same(wgSetCommand('weft-wg', {}, '/d').args, ['set', 'weft-wg']);
  t.same(wgSetCommand('weft-wg', { peers: [{ kind: 'upsert', publicKey: KEY_B.public as WgPublicKey, updateOnly: true, endpoint: '[fd00::2]:1' as Endpoint }] }, '/d'),
    { args: ['set', 'weft-wg', 'peer', KEY_B.public, 'endpoint', '[fd00::2]:1'], files: [] }, 'update_only has no wg set form: the read-back covers it');
  t.throws(() => wgSetCommand('weft-wg', { replacePeers: true }, '/d'), /cannot replace all peers/);
  t.throws(() => wgSetCommand('weft-wg', { peers: [{ kind: 'upsert', publicKey: KEY_B.public as WgPublicKey, allowedIps: ['10.0.0.0/24'] }] }, '/d'),
    /cannot add allowed IPs .* without replacing/);
});
