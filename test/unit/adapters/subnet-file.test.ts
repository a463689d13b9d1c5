import t from 'tap';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureSubnetFile, readSubnetFile, writeSubnetFile } from '../../../src/adapters/subnet-file.js';
import type { Cidr } from '../../../src/core/cidr.js';

const env = { network: '10.5.0.0/16' as Cidr, subnet: '10.5.34.0/24' as Cidr, mtu: 1450, ipMasq: true };

t.test('writes flannel format atomically with mode 0644 whatever the umask', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'run', 'weft', 'subnet.env');
  const old = process.umask(0o077);
  try {
    await writeSubnetFile(path, env);
  } finally {
    process.umask(old);
  }
  t.equal(await readFile(path, 'utf8'), 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  t.equal((await stat(path)).mode & 0o777, 0o644);
  t.same(await readdir(join(dir, 'run', 'weft')), ['subnet.env'], 'no temp file left behind');
  t.same(await readSubnetFile(path), { ok: true, env }, 'reads back what it wrote');
});

t.test('ensure rewrites only when the content differs', async (t) => {
  const dir = t.testdir({});
  const path = join(dir, 'subnet.env');
  t.equal(await ensureSubnetFile(path, env), true, 'missing → written');
  t.equal(await ensureSubnetFile(path, env), false, 'same → untouched');
  await writeFile(path, 'FLANNEL_NETWORK=garbage\n');
  t.equal(await ensureSubnetFile(path, env), true, 'damaged → rewritten');
  t.equal(await ensureSubnetFile(path, { ...env, mtu: 1400 }), true, 'changed → rewritten');
  t.match(await readFile(path, 'utf8'), /FLANNEL_MTU=1400/);
});

t.test('read reports a missing file and names bad content', async (t) => {
  const dir = t.testdir({ 'bad.env': 'FLANNEL_NETWORK=10.5.0.0/16\n' });
  const missing = await readSubnetFile(join(dir, 'nope.env'));
  t.match(missing, { ok: false, missing: true });
  const bad = await readSubnetFile(join(dir, 'bad.env'));
  t.equal(bad.ok, false);
  if (!bad.ok) t.match(bad.errors[0], /bad\.env: missing FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ/);
});
