import { inspect } from 'node:util';
import t from 'tap';
import {
  SecretKey, clampPrivateKey, parsePublicKey, publicKeyFromHex, publicKeyOf, publicKeyToHex, type WgPublicKey,
} from '../../../../src/core/wireguard/keys.js';
import { KEY_A, KEY_B, PSK } from './vectors.js';

t.test('public key of a private key matches `wg pubkey`', async (t) => {
  for (const k of [KEY_A, KEY_B]) {
    const parsed = SecretKey.parseBase64(k.private);
    if (!parsed.ok) throw new Error(parsed.reason);
    t.equal(publicKeyOf(parsed.key), k.public);
    t.equal(parsed.key.hex(), k.privateHex);
    t.equal(parsed.key.base64(), k.private);
  }
});

t.test('base64 <-> hex as the UAPI socket wants them', async (t) => {
  t.equal(publicKeyToHex(KEY_A.public as WgPublicKey), KEY_A.publicHex);
  t.equal(publicKeyFromHex(KEY_B.publicHex), KEY_B.public);
  t.equal(publicKeyFromHex(KEY_B.publicHex.toUpperCase()), undefined, 'the socket prints lower case');
  t.equal(publicKeyFromHex('abcd'), undefined);
  const hex = SecretKey.parseHex(KEY_A.privateHex);
  t.ok(hex.ok && hex.key.base64() === KEY_A.private);
  t.match(SecretKey.parseHex('zz'), { ok: false, reason: /64 lower-case hex digits/ });
});

t.test('validation says what is wrong', async (t) => {
  t.same(parsePublicKey(KEY_A.public), { ok: true, key: KEY_A.public });
  t.match(parsePublicKey(''), { ok: false, reason: /0 characters long; a base64 WireGuard key has 44/ });
  t.match(parsePublicKey(KEY_A.public.slice(0, 43)), { ok: false, reason: /43 characters/ });
  t.match(parsePublicKey(KEY_B.public.replace('+', '-')), { ok: false, reason: /not standard base64/, }, 'base64url is not what wg writes');
  t.match(parsePublicKey(`${KEY_A.public.slice(0, 42)}B=`), { ok: false, reason: /not standard base64/ }, 'non-zero padding bits: not 32 bytes');
  t.ok(SecretKey.parseBase64(`${PSK}\n`).ok, 'a key file from `wg genkey > file` ends with a newline');
  t.ok(SecretKey.parseBase64(`  ${PSK}\r\n`).ok);
});

t.test('a secret never prints', async (t) => {
  const parsed = SecretKey.parseBase64(KEY_A.private);
  if (!parsed.ok) throw new Error(parsed.reason);
  const key = parsed.key;
  for (const text of [String(key), `${key}`, JSON.stringify({ key }), inspect({ key }), inspect(key, { showHidden: true, depth: 5 })]) {
    t.notMatch(text, KEY_A.private.slice(0, 20), text);
    t.notMatch(text, KEY_A.privateHex.slice(0, 20), text);
    t.match(text, /redacted/);
  }
  t.ok(key.equals(SecretKey.fromBytes(Buffer.from(KEY_A.privateHex, 'hex'))));
  t.notOk(key.equals(undefined));
  t.ok(SecretKey.fromBytes(new Uint8Array(32)).isZero());
  t.throws(() => SecretKey.fromBytes(new Uint8Array(31)), /32 bytes, got 31/);
});

t.test('clamping as wg genkey: fixed bits, same public key as the unclamped scalar', async (t) => {
  const raw = Buffer.alloc(32, 0xff);
  const clamped = clampPrivateKey(raw);
  const bytes = Buffer.from(clamped.hex(), 'hex');
  t.equal(bytes[0], 0xf8);
  t.equal(bytes[31], 0x7f);
  t.equal(publicKeyOf(clamped), publicKeyOf(SecretKey.fromBytes(raw)), 'X25519 clamps by itself');
  const alreadyClamped = SecretKey.parseBase64(KEY_B.private);
  if (!alreadyClamped.ok) throw new Error('vector');
  t.equal(clampPrivateKey(Buffer.from(KEY_B.privateHex, 'hex')).base64(), KEY_B.private, 'wg genkey keys are already clamped');
});
