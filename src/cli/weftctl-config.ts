/**
 * `weftctl config get|set`: the network config, validated before it is
 * written. The wireguard PSK is a secret: `set` reads it from a file
 * (`--psk-file`; argv is visible to every user in ps), and `get` prints it
 * as `[redacted]` unless `--show-secrets`.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';
import { type NetworkConfig, parseNetworkConfig, parseNetworkConfigText, renderNetworkConfig, subnetCapacity } from '../core/network-config.js';
import { redactPskText } from '../core/wireguard/backend-config.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import type { CtlIo } from './ctl-io.js';

export async function configGet(registry: SubnetRegistry, argv: Record<string, unknown>, io: CtlIo): Promise<number> {
  const text = await registry.getConfig();
  if (text === undefined) {
    io.err(`weftctl: no network config in etcd at ${String(argv['etcd-prefix'])}/config (create it with: weftctl config set --network 10.5.0.0/16)`);
    return 1;
  }
  const redact = argv['show-secrets'] !== true;
  if (!argv['effective']) {
    io.out(redact ? redactPskText(text) : text);
    return 0;
  }
  const parsed = parseNetworkConfigText(text);
  if (!parsed.ok) {
    io.err(`weftctl: the stored config is invalid:\n  - ${parsed.errors.join('\n  - ')}`);
    return 1;
  }
  io.out(renderNetworkConfig(parsed.config, { redactPsk: redact }));
  return 0;
}

async function readInput(file: string): Promise<string> {
  try {
    // stdin may be a socket (readFile of /dev/stdin fails with ENXIO then): stream it.
    return file === '-' || file === '/dev/stdin' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file === '-' || file === '/dev/stdin' ? 'stdin' : file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The flags of one backend only, and the Backend fields they set. */
const VXLAN_FLAGS = [['vni', 'VNI'], ['port', 'Port'], ['checksum-offload', 'ChecksumOffload'], ['direct-routing', 'DirectRouting']] as const;
const WIREGUARD_FLAGS = [['listen-port', 'ListenPort'], ['persistent-keepalive', 'PersistentKeepaliveInterval'], ['psk-file', 'PSK']] as const;

/** Every flag that sets a config field (a file and these together would silently drop the flags). */
const CONFIG_FLAGS = ['network', 'subnet-len', 'subnet-min', 'subnet-max', 'backend', 'mtu', ...VXLAN_FLAGS.map(([f]) => f),
  ...WIREGUARD_FLAGS.map(([f]) => f), 'enable-ipv6', 'ipv6-network', 'ipv6-subnet-len', 'ipv6-subnet-min', 'ipv6-subnet-max'] as const;

/** The IPv6 flags and the config fields they set, as the IPv4 ones (the parser checks them all together). */
const IPV6_FLAGS = [
  ['ipv6-network', 'IPv6Network'], ['ipv6-subnet-len', 'IPv6SubnetLen'], ['ipv6-subnet-min', 'IPv6SubnetMin'], ['ipv6-subnet-max', 'IPv6SubnetMax'],
] as const;

/** The PSK from `--psk-file` (as `wg genpsk` writes it: base64 and a newline); the parser checks it is a key. */
async function readPskFile(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new UsageError(`--psk-file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

async function fromFlags(argv: Record<string, unknown>): Promise<Record<string, unknown>> {
  const type = argv['backend'] === undefined ? 'vxlan' : String(argv['backend']);
  const own = type === 'wireguard' ? WIREGUARD_FLAGS : VXLAN_FLAGS;
  const other = (type === 'wireguard' ? VXLAN_FLAGS : WIREGUARD_FLAGS).filter(([f]) => argv[f] !== undefined);
  if (other.length > 0) {
    throw new UsageError(`${other.map(([f]) => `--${f}`).join(', ')} ${other.length === 1 ? 'is' : 'are'} not for the ${type} backend`
      + `${type === 'vxlan' ? ' (add --backend wireguard)' : ''}`);
  }
  const backend: Record<string, unknown> = { Type: type };
  for (const [flag, field] of own) {
    if (argv[flag] === undefined) continue;
    backend[field] = flag === 'psk-file' ? await readPskFile(String(argv[flag])) : argv[flag];
  }
  if (argv['mtu'] !== undefined) backend['MTU'] = argv['mtu'];
  const config: Record<string, unknown> = { Network: argv['network'], Backend: backend };
  if (argv['subnet-len'] !== undefined) config['SubnetLen'] = argv['subnet-len'];
  if (argv['subnet-min'] !== undefined) config['SubnetMin'] = argv['subnet-min'];
  if (argv['subnet-max'] !== undefined) config['SubnetMax'] = argv['subnet-max'];
  // --ipv6-network alone means dual-stack; --no-enable-ipv6 with it leaves it off (the parser then warns).
  const enableIpv6 = argv['enable-ipv6'] ?? (argv['ipv6-network'] !== undefined ? true : undefined);
  if (enableIpv6 !== undefined) config['EnableIPv6'] = enableIpv6;
  for (const [flag, field] of IPV6_FLAGS) if (argv[flag] !== undefined) config[field] = argv[flag];
  return config;
}

/** One line per family: what `config set` wrote. */
function describeConfig(c: NetworkConfig): string[] {
  const lines = [`network config written: ${c.network}, /${c.subnetLen} subnets from ${c.subnetMin} to ${c.subnetMax} `
    + `(${subnetCapacity(c)} hosts), ${c.backend.type === 'vxlan' ? `VNI ${c.backend.vni}, UDP port ${c.backend.port}, checksum offload ${c.backend.checksumOffload}${c.backend.directRouting ? ', DirectRouting on' : ''}` : `wireguard, listen port ${c.backend.listenPort}, mode ${c.backend.mode}${c.backend.psk ? ', with a PSK' : ''}`}`];
  if (c.ipv6) {
    lines.push(`dual-stack: IPv6 ${c.ipv6.network}, /${c.ipv6.subnetLen} subnets from ${c.ipv6.subnetMin} to ${c.ipv6.subnetMax}`);
  }
  return lines;
}

export async function configSet(registry: SubnetRegistry, argv: Record<string, unknown>, io: CtlIo): Promise<number> {
  const file = argv['file'] as string | undefined;
  if (!file && argv['network'] === undefined) throw new UsageError('config set needs a JSON file ("-" for stdin) or --network');
  if (file && CONFIG_FLAGS.some((f) => argv[f] !== undefined)) {
    throw new UsageError(`config set takes a JSON file or flags, not both (got ${file === '/dev/stdin' ? '-' : file} and ${CONFIG_FLAGS.filter((f) => argv[f] !== undefined).map((f) => `--${f}`).join(', ')})`);
  }
  let text: string;
  let parsed;
  if (file) {
    text = await readInput(file);
    parsed = parseNetworkConfigText(text);
  } else {
    const raw = await fromFlags(argv);
    text = JSON.stringify(raw);
    parsed = parseNetworkConfig(raw);
  }
  if (!parsed.ok) {
    io.err(`weftctl: invalid network config (nothing written):\n  - ${parsed.errors.join('\n  - ')}`);
    return 1;
  }
  for (const w of parsed.warnings) io.err(`warning: ${w}`);
  await registry.putConfig(text.trim());
  for (const line of describeConfig(parsed.config)) io.out(line);
  io.out('running weftd instances read the config at start; restart them to apply a change');
  return 0;
}
