import t from 'tap';
import { chmod, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_KEY_FILE, KeyFileError, generatePrivateKey, keyFilePath, loadOrCreatePrivateKey,
} from '../../../../src/adapters/wireguard/key-store.js';
import { SecretKey, publicKeyOf } from '../../../../src/core/wireguard/keys.js';
import { KEY_A } from '../../core/wireguard/vectors.js';

t.test('created once with mode 0600 in a 0700 directory whatever the umask, then reused', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'var', 'lib', 'weft', 'wireguard', 'private.key');
  const old = process.umask(0);
  let first;
  try {
    first = await loadOrCreatePrivateKey(path);
  } finally {
    process.umask(old);
  }
  t.equal(first.created, true);
  t.equal((await stat(path)).mode & 0o777, 0o600);
  t.equal((await stat(join(dir, 'var', 'lib', 'weft', 'wireguard'))).mode & 0o777, 0o700);
  t.same(await readdir(join(dir, 'var', 'lib', 'weft', 'wireguard')), ['private.key'], 'no temp file left behind');
  const text = await readFile(path, 'utf8');
  t.match(text, /^[A-Za-z0-9+/]{43}=$/, 'base64 without newline, as flannel writes it');
  t.equal(first.publicKey, publicKeyOf(first.privateKey));
  const again = await loadOrCreatePrivateKey(path);
  t.equal(again.created, false);
  t.equal(again.publicKey, first.publicKey, 'same key on the next start');
  t.same(again.warnings, []);
});

t.test('racing starts end with one key', async (t) => {
  const path = join(t.testdir({}), 'k', 'private.key');
  const results = await Promise.all(Array.from({ length: 8 }, () => loadOrCreatePrivateKey(path)));
  t.equal(new Set(results.map((r) => r.publicKey)).size, 1);
  t.equal(results.filter((r) => r.created).length, 1, 'exactly one created it');
});

t.test('an existing key (wg genkey > file) is used; a loose mode is warned about', async (t) => {
  const dir = t.testdir({ 'wgkey': `${KEY_A.private}\n` });
  const path = join(dir, 'wgkey');
  await chmod(path, 0o644);
  const loaded = await loadOrCreatePrivateKey(path);
  t.equal(loaded.publicKey, KEY_A.public);
  t.match(loaded.warnings, [/mode 0644: other users can read the private key; chmod 600/]);
});

t.test('a file that is not a key is an error naming the file, never overwritten, never echoed', async (t) => {
  const dir = t.testdir({ 'wgkey': 'hunter2-not-a-key' });
  const path = join(dir, 'wgkey');
  const err = await loadOrCreatePrivateKey(path).catch((e: unknown) => e);
  t.ok(err instanceof KeyFileError);
  t.match((err as Error).message, new RegExp(`${path} does not hold a WireGuard private key: its content is 17 characters long`));
  t.notMatch((err as Error).message, /hunter2/);
  t.equal(await readFile(path, 'utf8'), 'hunter2-not-a-key');
  await writeFile(join(dir, 'x'), '');
  await t.rejects(loadOrCreatePrivateKey(join(dir, 'x', 'sub', 'key')), KeyFileError, 'a path under a file');
});

t.test('path: flag, then WIREGUARD_KEY_FILE (flannel), then the default', async (t) => {
  t.equal(keyFilePath({}, '/etc/weft/wg.key'), '/etc/weft/wg.key');
  t.equal(keyFilePath({ WIREGUARD_KEY_FILE: '/run/flannel/wgkey' }), '/run/flannel/wgkey');
  t.equal(keyFilePath({ WIREGUARD_KEY_FILE: '/run/flannel/wgkey' }, '/x'), '/x');
  t.equal(keyFilePath({ WIREGUARD_KEY_FILE: '' }), DEFAULT_KEY_FILE);
  t.equal(DEFAULT_KEY_FILE, '/var/lib/weft/wireguard/private.key');
});

t.test('generated keys are clamped and distinct', async (t) => {
  const keys = Array.from({ length: 20 }, () => generatePrivateKey());
  t.equal(new Set(keys.map((k) => k.base64())).size, 20);
  for (const key of keys) {
    const bytes = Buffer.from(key.hex(), 'hex');
    t.equal((bytes[0] ?? 0) & 7, 0);
    t.equal((bytes[31] ?? 0) & 0xc0, 0x40);
  }
  t.ok(SecretKey.parseBase64(keys[0]?.base64() ?? '').ok);
});
