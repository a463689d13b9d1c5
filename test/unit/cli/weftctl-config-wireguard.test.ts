/**
 * `weftctl config set|get` for the wireguard backend: the flags write
 * flannel's field names, the PSK comes only from a file and is redacted by
 * `get` unless --show-secrets, and flags of the other backend are refused.
 */
import { join } from 'node:path';
import t from 'tap';
import { UsageError } from '../../../src/core/errors.js';
import { parseNetworkConfigText } from '../../../src/core/network-config.js';
import { redactPskText } from '../../../src/core/wireguard/backend-config.js';
import { configGet, configSet } from '../../../src/cli/weftctl-config.js';
import { main } from '../../../src/cli/weftctl.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const PSK = 'H0Ad2yE+Y0vEnSJ8VZ6T5pVbE2M5YqqfAgNqY9qeJ8E=';

const capture = (): { out: string[]; err: string[]; io: { out(s: string): void; err(s: string): void } } => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s) => out.push(s), err: (s) => err.push(s) } };
};

t.test('--backend wireguard with its flags: flannel\'s field names, the PSK read from the file', async (t) => {
  const dir = t.testdir({ psk: `${PSK}\n` });
  const registry = new MemoryRegistry();
  const c = capture();
  t.equal(await configSet(registry, {
    network: '10.5.0.0/16', backend: 'wireguard', 'listen-port': 51900, 'persistent-keepalive': 25, 'psk-file': join(dir, 'psk'), mtu: 1400,
  }, c.io), 0, c.err.join('\n'));
  t.same(JSON.parse(await registry.getConfig() ?? '{}'), {
    Network: '10.5.0.0/16', Backend: { Type: 'wireguard', ListenPort: 51900, PersistentKeepaliveInterval: 25, PSK: PSK, MTU: 1400 },
  });
  const out = c.out.join('\n');
  t.match(out, 'wireguard, listen port 51900, mode separate, with a PSK');
  t.notMatch(out, PSK, 'set does not print the PSK');
});

t.test('a PSK file that is missing or not a key: nothing written, the reason named', async (t) => {
  const dir = t.testdir({ bad: 'not-a-key\n' });
  const registry = new MemoryRegistry();
  await t.rejects(configSet(registry, { network: '10.5.0.0/16', backend: 'wireguard', 'psk-file': join(dir, 'none') }, capture().io),
    new UsageError(`--psk-file ${join(dir, 'none')}: cannot read it (ENOENT)`));
  const c = capture();
  t.equal(await configSet(registry, { network: '10.5.0.0/16', backend: 'wireguard', 'psk-file': join(dir, 'bad') }, c.io), 1);
  t.match(c.err.join('\n'), /Backend\.PSK /);
  t.notMatch(c.err.join('\n'), 'not-a-key', 'not even a bad key is echoed');
  t.equal(await registry.getConfig(), undefined);
});

t.test('flags of the other backend are refused, naming them', async (t) => {
  const registry = new MemoryRegistry();
  await t.rejects(configSet(registry, { network: '10.5.0.0/16', 'listen-port': 51820 }, capture().io),
    new UsageError('--listen-port is not for the vxlan backend (add --backend wireguard)'));
  await t.rejects(configSet(registry, { network: '10.5.0.0/16', backend: 'wireguard', vni: 2, 'direct-routing': true }, capture().io),
    new UsageError('--vni, --direct-routing are not for the wireguard backend'));
  await t.rejects(configSet(registry, { file: 'c.json', backend: 'wireguard' }, capture().io),
    new UsageError('config set takes a JSON file or flags, not both (got c.json and --backend)'));
  t.equal(await registry.getConfig(), undefined);
});

t.test('config get: the PSK redacted, raw and --effective, unless --show-secrets', async (t) => {
  const registry = new MemoryRegistry();
  const stored = `{"Network":"10.5.0.0/16","Backend":{"Type":"wireguard","psk":"${PSK}","ListenPort":51820}}`;
  await registry.putConfig(stored);
  const raw = capture();
  t.equal(await configGet(registry, {}, raw.io), 0);
  t.equal(raw.out.join(''), '{"Network":"10.5.0.0/16","Backend":{"Type":"wireguard","psk":"[redacted]","ListenPort":51820}}');
  const effective = capture();
  t.equal(await configGet(registry, { effective: true }, effective.io), 0);
  t.match(JSON.parse(effective.out.join('')), { Backend: { Type: 'wireguard', PSK: '[redacted]', ListenPort: 51820, Mode: 'separate' } });
  const shown = capture();
  t.equal(await configGet(registry, { 'show-secrets': true }, shown.io), 0);
  t.equal(shown.out.join(''), stored);
  const shownEffective = capture();
  t.equal(await configGet(registry, { effective: true, 'show-secrets': true }, shownEffective.io), 0);
  const parsed = parseNetworkConfigText(shownEffective.out.join(''));
  t.ok(parsed.ok && parsed.config.backend.type === 'wireguard' && parsed.config.backend.psk?.base64() === PSK, 'the effective config round-trips with the PSK');
});

t.test('redactPskText: every PSK key in any case and spacing, escapes included; nothing else changed', async (t) => {
  t.equal(redactPskText('{ "PSK" : "a\\"b", "x": "PSK"}'), '{ "PSK" : "[redacted]", "x": "PSK"}');
  t.equal(redactPskText('{"Backend":{"Psk":"abc"'), '{"Backend":{"Psk":"[redacted]"', 'also in text that is not valid JSON');
  t.equal(redactPskText('{"Network":"10.5.0.0/16"}'), '{"Network":"10.5.0.0/16"}');
});

t.test('weftctl has no --psk flag: a PSK on the command line is refused before anything is read', async (t) => {
  const c = capture();
  t.equal(await main(['config', 'set', '--network', '10.5.0.0/16', '--backend', 'wireguard', '--psk', PSK, '--config-file', '/nonexistent/weftd.env'], c.io, {}), 1);
  t.match(c.err.join('\n'), /Unknown argument: psk/);
  const d = capture();
  t.equal(await main(['config', 'set', '--network', '10.5.0.0/16', '--backend', 'geneve', '--config-file', '/nonexistent/weftd.env'], d.io, {}), 1);
  t.match(d.err.join('\n'), /Invalid values:[\s\S]*backend/);
});
