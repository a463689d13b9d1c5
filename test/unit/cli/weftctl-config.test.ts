import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { UsageError } from '../../../src/core/errors.js';
import { parseNetworkConfigText } from '../../../src/core/network-config.js';
import { configSet } from '../../../src/cli/weftctl-config.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const capture = (): { out: string[]; err: string[]; io: { out(s: string): void; err(s: string): void } } => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s) => out.push(s), err: (s) => err.push(s) } };
};

t.test('dual-stack from flags: --ipv6-network turns EnableIPv6 on; flannel\'s IPv6 defaults', async (t) => {
  const registry = new MemoryRegistry();
  const c = capture();
  t.equal(await configSet(registry, { network: '10.5.0.0/16', 'ipv6-network': 'fc00::/48' }, c.io), 0, c.err.join('\n'));
  const stored = await registry.getConfig();
  t.same(JSON.parse(stored ?? '{}'), { Network: '10.5.0.0/16', Backend: { Type: 'vxlan' }, EnableIPv6: true, IPv6Network: 'fc00::/48' });
  const parsed = parseNetworkConfigText(stored ?? '');
  t.match(parsed.ok && parsed.config.ipv6, { network: 'fc00::/48', subnetLen: 64, subnetMin: 'fc00:0:0:1::', subnetMax: 'fc00:0:0:ffff::' });
  t.match(c.out.join('\n'), 'dual-stack: IPv6 fc00::/48, /64 subnets from fc00:0:0:1:: to fc00:0:0:ffff::');
});

t.test('every IPv6 flag is written under flannel\'s field name', async (t) => {
  const registry = new MemoryRegistry();
  const c = capture();
  t.equal(await configSet(registry, {
    network: '10.5.0.0/16', 'enable-ipv6': true, 'ipv6-network': 'fd00:10::/48', 'ipv6-subnet-len': 56,
    'ipv6-subnet-min': 'fd00:10:0:200::', 'ipv6-subnet-max': 'fd00:10:0:f00::',
  }, c.io), 0, c.err.join('\n'));
  t.same(JSON.parse(await registry.getConfig() ?? '{}'), {
    Network: '10.5.0.0/16', Backend: { Type: 'vxlan' }, EnableIPv6: true, IPv6Network: 'fd00:10::/48', IPv6SubnetLen: 56,
    IPv6SubnetMin: 'fd00:10:0:200::', IPv6SubnetMax: 'fd00:10:0:f00::',
  });
});

t.test('bad IPv6 flags: every error at once, with the IPv4 ones, nothing written', async (t) => {
  const registry = new MemoryRegistry();
  const c = capture();
  t.equal(await configSet(registry, {
    network: '10.5.0.0/33', 'ipv6-network': 'fd00:10::/48', 'ipv6-subnet-min': 'fd00:11::', 'ipv6-subnet-max': 'fd00:10:0:1::1',
  }, c.io), 1);
  const text = c.err.join('\n');
  t.match(text, 'invalid network config (nothing written)');
  t.match(text, /Network "10\.5\.0\.0\/33" is invalid/);
  t.match(text, 'IPv6SubnetMin fd00:11:: is not inside IPv6Network fd00:10::/48');
  t.match(text, 'IPv6SubnetMax fd00:10:0:1::1 is not aligned to IPv6SubnetLen /64');
  t.equal(await registry.getConfig(), undefined);
});

t.test('--enable-ipv6 without --ipv6-network is the parser\'s error; --no-enable-ipv6 warns the IPv6 flags are ignored', async (t) => {
  const registry = new MemoryRegistry();
  const c = capture();
  t.equal(await configSet(registry, { network: '10.5.0.0/16', 'enable-ipv6': true }, c.io), 1);
  t.match(c.err.join('\n'), 'IPv6Network is missing: EnableIPv6 is true');
  const d = capture();
  t.equal(await configSet(registry, { network: '10.5.0.0/16', 'enable-ipv6': false, 'ipv6-network': 'fd00::/48', 'ipv6-subnet-len': 60 }, d.io), 0);
  t.same(d.err, ['warning: IPv6Network, IPv6SubnetLen are ignored: EnableIPv6 is not true']);
  t.notMatch(d.out.join('\n'), 'dual-stack');
});

t.test('IPv6 in JSON: case-insensitive like flannel; IPv6-only refused with the reason', async (t) => {
  const dir = t.testdir();
  const registry = new MemoryRegistry();
  const file = join(dir, 'config.json');
  await writeFile(file, '{"network":"10.5.0.0/16","enableIPv6":true,"ipv6network":"fd00:10::/48","IPv6SubnetLen":60}');
  const c = capture();
  t.equal(await configSet(registry, { file }, c.io), 0, c.err.join('\n'));
  t.match(c.out.join('\n'), 'dual-stack: IPv6 fd00:10::/48, /60 subnets');
  await writeFile(file, '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10::/48"}');
  const d = capture();
  t.equal(await configSet(registry, { file }, d.io), 1);
  t.match(d.err.join('\n'), /EnableIPv4: false \(an IPv6-only network\) is not supported/);
  t.match(d.err.join('\n'), /Network is missing/);
});

t.test('a file and config flags together: a usage error, not flags silently dropped', async (t) => {
  const registry = new MemoryRegistry();
  await t.rejects(configSet(registry, { file: 'c.json', 'ipv6-network': 'fd00::/48' }, capture().io),
    new UsageError('config set takes a JSON file or flags, not both (got c.json and --ipv6-network)'));
});
