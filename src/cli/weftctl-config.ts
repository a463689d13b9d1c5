/** `weftctl config get|set`: the network config, validated before it is written. */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';
import { type NetworkConfig, parseNetworkConfig, parseNetworkConfigText, renderNetworkConfig, subnetCapacity } from '../core/network-config.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import type { CtlIo } from './ctl-io.js';

export async function configGet(registry: SubnetRegistry, argv: Record<string, unknown>, io: CtlIo): Promise<number> {
  const text = await registry.getConfig();
  if (text === undefined) {
    io.err(`weftctl: no network config in etcd at ${String(argv['etcd-prefix'])}/config (create it with: weftctl config set --network 10.5.0.0/16)`);
    return 1;
  }
  if (!argv['effective']) {
    io.out(text);
    return 0;
  }
  const parsed = parseNetworkConfigText(text);
  if (!parsed.ok) {
    io.err(`weftctl: the stored config is invalid:\n  - ${parsed.errors.join('\n  - ')}`);
    return 1;
  }
  io.out(renderNetworkConfig(parsed.config));
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

/** Every flag that sets a config field (a file and these together would silently drop the flags). */
const CONFIG_FLAGS = ['network', 'subnet-len', 'subnet-min', 'subnet-max', 'vni', 'port', 'mtu', 'checksum-offload', 'direct-routing', 'enable-ipv6',
  'ipv6-network', 'ipv6-subnet-len', 'ipv6-subnet-min', 'ipv6-subnet-max'] as const;

/** The IPv6 flags and the config fields they set, as the IPv4 ones (the parser checks them all together). */
const IPV6_FLAGS = [
  ['ipv6-network', 'IPv6Network'], ['ipv6-subnet-len', 'IPv6SubnetLen'], ['ipv6-subnet-min', 'IPv6SubnetMin'], ['ipv6-subnet-max', 'IPv6SubnetMax'],
] as const;

function fromFlags(argv: Record<string, unknown>): Record<string, unknown> {
  const backend: Record<string, unknown> = { Type: 'vxlan' };
  if (argv['vni'] !== undefined) backend['VNI'] = argv['vni'];
  if (argv['port'] !== undefined) backend['Port'] = argv['port'];
  if (argv['mtu'] !== undefined) backend['MTU'] = argv['mtu'];
  if (argv['checksum-offload'] !== undefined) backend['ChecksumOffload'] = argv['checksum-offload'];
  if (argv['direct-routing'] !== undefined) backend['DirectRouting'] = argv['direct-routing'];
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
    const raw = fromFlags(argv);
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
