/**
 * weftd's flags (flag-spec.ts data) and the parser a normal start uses.
 * yargs (daemon-yargs.ts, built from the same table) costs weftd ~6 MB of
 * memory and a tenth of its start-up, and is needed only for --help, for
 * error messages and for the unusual spellings it accepts. So start-up first
 * reads the common forms itself, the way yargs reads them: `--flag value`,
 * `--flag=value`, `--flag`/`--no-flag`/`--flag=true|false` for a boolean,
 * WEFTD_* variables and the env file's settings, the command line over the
 * variables over the file over the defaults. Anything else (an unknown name
 * or variable, a camelCase spelling, a missing or dash-led value, a value
 * not among the choices, a port that is not plain digits, --help,
 * positional arguments) returns undefined, and yargs decides, as it always
 * did. test/unit/cli/daemon-flags.test.ts checks both give the same values.
 */
import { hostname } from 'node:os';
import type { LevelWithSilent } from 'pino';
import { DEFAULT_SUBNET_FILE } from '../core/subnet-env.js';
import { DEFAULT_RUN_DIR, DEFAULT_SOCKET_DIR } from '../core/wireguard/device.js';
import { WIREGUARD_IMPLEMENTATIONS, type WireguardImplementationFlag } from '../core/wireguard/implementation.js';
import { ETCD_FLAGS, type EtcdFlagValues } from './etcd-flags.js';
import type { FlagEntry, FlagSpec } from './flag-spec.js';
import { ENV_FILE_OPTION, ENV_PREFIX } from './host-config.js';
import { LOG_LEVELS } from './log.js';
import { envName } from './strict-booleans.js';

/** Every weftd flag, in --help order (node-name's default is this host's name). */
export function daemonFlagTable(): readonly FlagEntry[] {
  return [
    ...ETCD_FLAGS,
    ['iface', { type: 'string', describe: 'external interface (name or address) for VXLAN traffic' }],
    ['public-ip', { type: 'string', describe: 'IP address advertised to peers and used as the VXLAN source; must be an address of the external interface (default: the interface address)' }],
    ['public-ipv6', { type: 'string', describe: 'on a dual-stack network: the IPv6 address advertised to peers and used as the IPv6 VXLAN source; must be a global address of the external interface (default: its first global IPv6 address; never a link-local one)' }],
    ['subnet-file', { type: 'string', default: DEFAULT_SUBNET_FILE, describe: 'where to write subnet.env' }],
    ['subnet-lease-ttl', { type: 'string', default: '24h', describe: 'TTL of the subnet lease in etcd (renewed every third of it)' }],
    ['ip-masq', { type: 'boolean', default: true, describe: 'masquerade traffic leaving the overlay network and accept forwarding to and from it (iptables chains WEFT-POSTRTG, WEFT-FWD); false removes them' }],
    ['healthz-ip', { type: 'string', default: '127.0.0.1', describe: 'address for the health/metrics endpoint' }],
    ['healthz-port', { type: 'number', default: 0, describe: 'port for /healthz, /readyz and /metrics (0: off)' }],
    ['healthz-etcd-grace', { type: 'string', default: '2m', describe: '/healthz fails once etcd has been unreachable this long' }],
    ['node-name', { type: 'string', default: hostname(), describe: 'this host\'s identity in its lease; must be unique among running hosts' }],
    ['node-presence-ttl', { type: 'string', default: '30s', hidden: true, describe: 'advanced: TTL of the node name\'s presence key in etcd (how long a crashed host\'s name stays taken)' }],
    ['instance-id', { type: 'string', hidden: true, describe: 'advanced/tests: this weftd instance\'s id for the presence key (default: from the boot id and network namespace)' }],
    ['resync-interval', { type: 'string', default: '10s', describe: 'check the device, its entries and the iptables rules at least this often (entries are re-read every 6th time while kernel notifications work)' }],
    ['dataplane', { choices: ['vxlan', 'none'], default: 'vxlan', describe: 'none: lease and watch only, program no kernel state (the default programs the kernel with the backend the network config names: vxlan or wireguard)' }],
    ['wireguard-key-file', { type: 'string', describe: 'wireguard backend: the private key file, created (mode 0600) on first start and kept (default: $WIREGUARD_KEY_FILE, else /var/lib/weft/wireguard/private.key)' }],
    ['wireguard-socket-dir', { type: 'string', default: DEFAULT_SOCKET_DIR, describe: `wireguard backend: the UAPI socket directory of wireguard-go (another one is bind-mounted over ${DEFAULT_SOCKET_DIR} for wireguard-go)` }],
    ['wireguard-run-dir', { type: 'string', default: DEFAULT_RUN_DIR, describe: 'wireguard backend: where the PID file and log of the wireguard-go weftd started are kept (a restarted weftd adopts that process)' }],
    ['wireguard-implementation', { choices: WIREGUARD_IMPLEMENTATIONS, default: 'auto', describe: 'wireguard backend: kernel WireGuard (ip link type wireguard, controlled with wg) or userspace (wireguard-go); auto: an existing weft-wg keeps its kind, else kernel when the kernel has WireGuard; kernel fails when it has not' }],
    ['log-level', { choices: LOG_LEVELS, default: 'info', describe: 'log level' }],
    ['config-file', ENV_FILE_OPTION],
  ];
}

/** The parsed flags (dashed names), as yargs returns them. */
export interface DaemonArgv extends EtcdFlagValues {
  readonly iface?: string | undefined;
  readonly 'public-ip'?: string | undefined;
  readonly 'public-ipv6'?: string | undefined;
  readonly 'subnet-file': string;
  readonly 'subnet-lease-ttl': string;
  readonly 'ip-masq': boolean;
  readonly 'healthz-ip': string;
  readonly 'healthz-port': number;
  readonly 'healthz-etcd-grace': string;
  readonly 'node-name': string;
  readonly 'node-presence-ttl': string;
  readonly 'instance-id'?: string | undefined;
  readonly 'resync-interval': string;
  readonly dataplane: 'vxlan' | 'none';
  readonly 'wireguard-key-file'?: string | undefined;
  readonly 'wireguard-socket-dir': string;
  readonly 'wireguard-run-dir': string;
  readonly 'wireguard-implementation': WireguardImplementationFlag;
  readonly 'log-level': LevelWithSilent;
  readonly 'config-file': string;
}

type Value = string | number | boolean;

/** A value read as yargs would read it for this flag, or undefined when that is not certain. */
function typed(spec: FlagSpec, raw: string, source: 'argv' | 'setting'): Value | undefined {
  if (spec.choices && !spec.choices.includes(raw)) return undefined;
  switch (spec.type ?? 'string') {
    case 'string': return raw;
    case 'boolean': return raw === 'true' ? true : raw === 'false' ? false : undefined;
    case 'number':
      if (source === 'setting' && raw === '') return 0; // yargs reads an empty variable as 0
      return /^(0|[1-9][0-9]{0,4})$/.test(raw) ? Number(raw) : undefined;
  }
}

/** The command line's values, or undefined when only yargs can tell. */
function fromArgs(args: readonly string[], flags: ReadonlyMap<string, FlagSpec>): Map<string, Value> | undefined {
  const out = new Map<string, Value>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const m = /^--([a-z0-9][a-z0-9-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) return undefined;
    const [, name = '', inline] = m;
    const negated = name.startsWith('no-') && flags.get(name.slice(3))?.type === 'boolean' && !flags.has(name);
    const spec = flags.get(negated ? name.slice(3) : name);
    if (!spec || name === 'help') return undefined;
    if (negated) {
      if (inline !== undefined) return undefined;
      out.set(name.slice(3), false);
      continue;
    }
    if (spec.type === 'boolean' && inline === undefined) {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('--')) return undefined; // `--flag false`: yargs' reading
      out.set(name, true);
      continue;
    }
    const raw = inline ?? args[++i];
    if (raw === undefined || raw.startsWith('-')) return undefined;
    const value = typed(spec, raw, 'argv');
    if (value === undefined) return undefined;
    out.set(name, value);
  }
  return out;
}

/**
 * weftd's flags from the command line, the WEFTD_* variables and the env
 * file's settings (`flag → value`); undefined when yargs must parse them.
 */
export function parseDaemonArgs(args: readonly string[], env: Readonly<Record<string, string | undefined>>,
  fileSettings: Readonly<Record<string, string>>): DaemonArgv | undefined {
  const table = daemonFlagTable();
  const flags = new Map(table);
  const cli = fromArgs(args, flags);
  if (!cli) return undefined;
  const byEnvName = new Map(table.map(([name]) => [envName(ENV_PREFIX, name), name]));
  const fromEnv = new Map<string, Value>();
  for (const [key, raw] of Object.entries(env)) {
    if (!key.startsWith(`${ENV_PREFIX}_`) || raw === undefined) continue;
    const name = byEnvName.get(key);
    const value = name === undefined ? undefined : typed(flags.get(name) as FlagSpec, raw, 'setting');
    if (name === undefined || value === undefined) return undefined;
    fromEnv.set(name, value);
  }
  const argv: Record<string, Value> = {};
  for (const [name, spec] of table) {
    const file = fileSettings[name];
    const fromFile = file === undefined ? undefined : typed(spec, file, 'setting');
    if (file !== undefined && fromFile === undefined) return undefined;
    const value = cli.get(name) ?? fromEnv.get(name) ?? fromFile ?? spec.default;
    if (value !== undefined) argv[name] = value;
  }
  return argv as unknown as DaemonArgv;
}
