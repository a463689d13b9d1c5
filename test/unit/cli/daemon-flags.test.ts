/**
 * weftd's start-up parser (parseDaemonArgs) against yargs built from the same
 * flag table: whatever it accepts, yargs reads to the same values (command
 * line over WEFTD_* variables over the env file over the defaults); whatever
 * it is not sure of, it leaves to yargs. Hundreds of generated cases from a
 * seeded PRNG, plus the spellings the docs, the unit file and the tests use.
 */
import t, { type Test } from 'tap';
import { type DaemonArgv, daemonFlagTable, parseDaemonArgs } from '../../../src/cli/daemon-flags.js';
import { daemonParser } from '../../../src/cli/daemon-yargs.js';
import { seededRandom } from '../../helpers/prng.js';

type Env = Record<string, string>;
const names = daemonFlagTable().map(([name]) => name);

/** yargs' reading of the same input (it takes WEFTD_* from process.env). */
async function viaYargs(args: readonly string[], env: Env, file: Record<string, string>): Promise<Record<string, unknown> | string> {
  const saved = Object.entries(process.env).filter(([k]) => k.startsWith('WEFTD_'));
  for (const [k] of saved) delete process.env[k];
  Object.assign(process.env, env);
  try {
    let failure: string | undefined;
    const argv = await daemonParser(file).fail((msg, err) => { failure = msg || String(err); }).exitProcess(false).parseAsync([...args]);
    if (failure) return `error: ${failure}`;
    return Object.fromEntries(names.filter((n) => (argv as Record<string, unknown>)[n] !== undefined).map((n) => [n, (argv as Record<string, unknown>)[n]]));
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
    for (const [k, v] of saved) process.env[k] = v;
  }
}

const plain = (argv: DaemonArgv | undefined): Record<string, unknown> | undefined => argv && { ...argv };

async function same(t: Test, args: readonly string[], env: Env = {}, file: Record<string, string> = {}): Promise<boolean> {
  const fast = parseDaemonArgs(args, env, file);
  if (fast === undefined) return false;
  t.same(plain(fast), await viaYargs(args, env, file), `${JSON.stringify(args)} ${JSON.stringify(env)} ${JSON.stringify(file)}`);
  return true;
}

t.test('the spellings weftd is started with are read without yargs, to the values yargs reads', async (t) => {
  const cases: [string[], Env?, Record<string, string>?][] = [
    [[]],
    [['--etcd-endpoints', 'http://192.0.2.1:2379', '--node-name', 'benchhost', '--iface', 'eth0', '--subnet-file', '/tmp/x.env', '--resync-interval', '30s']],
    [['--dataplane', 'none', '--etcd-endpoints', 'http://127.0.0.1:2379,http://127.0.0.2:2379', '--etcd-prefix', '/weft-test-1/network', '--public-ip', '198.51.100.11', '--subnet-lease-ttl', '1h']],
    [['--healthz-port', '9153', '--healthz-ip', '127.0.0.1', '--log-level', 'debug', '--no-ip-masq']],
    [['--ip-masq=false', '--iface=eth0', '--etcd-password=a=b=c', '--config-file=/nonexistent']],
    [['--ip-masq', '--iface', ''], { WEFTD_IP_MASQ: 'false' }],
    [['--iface', 'cli'], { WEFTD_IFACE: 'env', WEFTD_HEALTHZ_PORT: '8080', WEFTD_ETCD_ENDPOINTS: 'http://10.0.0.1:2379' }, { iface: 'file', 'node-name': 'filehost' }],
    [[], { WEFTD_NODE_PRESENCE_TTL: '3s', WEFTD_INSTANCE_ID: 'abc' }, { 'ip-masq': 'false', 'healthz-port': '9000', dataplane: 'none' }],
    [['--iface', 'a', '--iface', 'b'], { WEFTD_IFACE: '' }],
    [[], { WEFTD_HEALTHZ_PORT: '' }],
  ];
  for (const [args, env, file] of cases) t.ok(await same(t, args, env, file), `read without yargs: ${JSON.stringify(args)}`);
});

t.test('what it is not sure of is left to yargs', async (t) => {
  const declined: [string[], Env?][] = [
    [['--help']], [['--version']], [['--no-such-flag']], [['--subnetFile', '/x']], [['positional']], [['--', '--iface', 'x']],
    [['--iface']], [['--iface', '-x']], [['--dataplane', 'foo']], [['--healthz-port', 'x']], [['--healthz-port', '08080']], [['--healthz-port', '1.5']],
    [['--ip-masq', 'false']], [['--no-iface']], [['-h']], [[], { WEFTD_FOO: 'x' }], [[], { WEFTD_IP_MASQ: 'yes' }], [[], { WEFTD_LOG_LEVEL: 'loud' }],
  ];
  for (const [args, env] of declined) t.equal(parseDaemonArgs(args, env ?? {}, {}), undefined, `${JSON.stringify(args)} ${JSON.stringify(env ?? {})}`);
});

t.test('generated cases: whatever it reads, yargs reads the same', async (t) => {
  const random = seededRandom(20261127);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const values: Record<string, readonly string[]> = {
    'ip-masq': ['true', 'false'], 'healthz-port': ['0', '9153', '65535', '7', ''], dataplane: ['vxlan', 'none'], 'log-level': ['info', 'debug', 'silent'],
  };
  const anyString = ['', 'eth0', '10.0.0.1', 'a=b', '/run/weft/subnet.env', '30s', 'http://127.0.0.1:2379', 'x y', '0', 'true'];
  const valueFor = (name: string): string => pick(values[name] ?? anyString);
  let read = 0;
  for (let i = 0; i < 300; i++) {
    const args: string[] = [];
    for (let k = Math.floor(random() * 5); k > 0; k--) {
      const name = pick(names);
      const form = random();
      if (name === 'ip-masq' && form < 0.3) args.push(pick(['--ip-masq', '--no-ip-masq']));
      else if (form < 0.6) args.push(`--${name}=${valueFor(name)}`);
      else args.push(`--${name}`, valueFor(name));
    }
    const env: Env = {};
    for (let k = Math.floor(random() * 3); k > 0; k--) { const name = pick(names); env[`WEFTD_${name.toUpperCase().replace(/-/g, '_')}`] = valueFor(name); }
    const file: Record<string, string> = {};
    for (let k = Math.floor(random() * 3); k > 0; k--) { const name = pick(names.filter((n) => n !== 'config-file')); file[name] = valueFor(name); }
    if (await same(t, args, env, file)) read++;
  }
  t.ok(read > 150, `most generated cases are read without yargs (${read} of 300)`);
});
