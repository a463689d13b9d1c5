/**
 * weftctl: the operator's CLI. Same etcd flags as weftd, and the same host
 * configuration (WEFTD_* variables, then /etc/weft/weftd.env; the command line
 * wins): etcd flags for every command, weftd's node name, subnet file and
 * healthz address for status and doctor (host-config.ts).
 *   weftctl config get | set      network config (set validates before writing; IPv4, and IPv6 for dual-stack)
 *   weftctl leases [--json]       every lease with its TTL, or "reservation"
 *   weftctl reserve SUBNET        pin a subnet (no TTL) to a host
 *   weftctl release SUBNET        remove a reservation (or, with --force, any lease)
 *   weftctl cleanup               remove weft's iptables chains and WireGuard tunnel from this host (no etcd)
 *   weftctl status [--json]       this host: lease, device, and per peer whether the kernel entries (wireguard: the tunnels) match
 *   weftctl doctor [--json]       this host: ok / warn / FAIL per check, with the fix
 */
import { DEFAULT_SUBNET_FILE } from '../core/subnet-env.js';
import { DEFAULT_SOCKET_DIR } from '../core/wireguard/device.js';
import yargs, { type Argv } from 'yargs';
import { UsageError, WeftError, errorMessage } from '../core/errors.js';
import { withEtcdFlags, etcdConnection, openRegistry, type EtcdFlagValues } from './etcd-flags.js';
import { configGet, configSet } from './weftctl-config.js';
import { leasesCommand, releaseCommand, reserveCommand } from './weftctl-leases.js';
import { DEFAULT_WIREGUARD_RUN_DIR, cleanupCommand } from './weftctl-cleanup.js';
import { statusCommand } from './weftctl-status.js';
import { doctorCommand } from './weftctl-doctor.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import type { CtlIo } from './ctl-io.js';
import { ENV_FILE_OPTION, type HostSettings, checkHostBooleans, readHostSettings, settingsFor } from './host-config.js';

/** weftd's settings that weftctl shares: every command's etcd connection, and the host's identity for status/doctor. */
const ETCD_SETTINGS = ['etcd-endpoints', 'etcd-prefix', 'etcd-cafile', 'etcd-certfile', 'etcd-keyfile', 'etcd-username', 'etcd-password'] as const;
const HOST_SETTINGS = ['node-name', 'subnet-file', 'wireguard-socket-dir'] as const;
const HEALTHZ_SETTINGS = ['healthz-ip', 'healthz-port'] as const;
const BOOLEAN_FLAGS = ['json', 'force', 'effective', 'enable-ipv6', 'show-secrets'] as const;

export type { CtlIo } from './ctl-io.js';


type Handler = (registry: SubnetRegistry, argv: Record<string, unknown> & EtcdFlagValues, io: CtlIo) => Promise<number>;
/** A command that acts on this host only: main() opens no etcd connection for it. */
type LocalCommand = { readonly local: (argv: Record<string, unknown>, io: CtlIo) => Promise<number> };

function build(run: (h: Handler | LocalCommand, argv: Record<string, unknown> & EtcdFlagValues) => void, settings?: HostSettings): Argv {
  const host = (flags: readonly string[]): Record<string, string> => (settings ? settingsFor(settings, flags) : {});
  const y = withEtcdFlags(yargs()).scriptName('weftctl').option('config-file', ENV_FILE_OPTION).config(host(ETCD_SETTINGS)).parserConfiguration({ 'duplicate-arguments-array': false }).strict().demandCommand(1, 'a command is required').help().version(false).wrap(100);
  return y
    .command('config <action> [file]', 'show or set the network config', (c) => c
      .positional('action', { choices: ['get', 'set'] as const })
      .positional('file', { type: 'string', describe: 'JSON file for set ("-" for stdin)' })
      .option('network', { type: 'string', describe: 'set: the overlay network (Network), e.g. 10.5.0.0/16' })
      .option('subnet-len', { type: 'number', describe: 'set: prefix length of each host\'s subnet (SubnetLen; default 24, or network prefix + 2)' })
      .option('subnet-min', { type: 'string', describe: 'set: first subnet handed out (SubnetMin; default the second subnet)' })
      .option('subnet-max', { type: 'string', describe: 'set: last subnet handed out (SubnetMax; default the last subnet)' })
      .option('enable-ipv6', { type: 'boolean', describe: 'set: dual-stack (EnableIPv6; on by itself with --ipv6-network)' })
      .option('ipv6-network', { type: 'string', describe: 'set: the IPv6 overlay network (IPv6Network), e.g. fd00:10::/48' })
      .option('ipv6-subnet-len', { type: 'number', describe: 'set: prefix length of each host\'s IPv6 subnet (IPv6SubnetLen; default 64, or prefix + 2)' })
      .option('ipv6-subnet-min', { type: 'string', describe: 'set: first IPv6 subnet handed out (IPv6SubnetMin; default the second subnet)' })
      .option('ipv6-subnet-max', { type: 'string', describe: 'set: last IPv6 subnet handed out (IPv6SubnetMax; default the last subnet)' })
      .option('backend', { type: 'string', choices: ['vxlan', 'wireguard'], describe: 'set: the backend (Backend.Type; default vxlan)' })
      .option('vni', { type: 'number', describe: 'set: VXLAN id (Backend.VNI; default 1)' })
      .option('port', { type: 'number', describe: 'set: VXLAN UDP port (Backend.Port; default 8472)' })
      .option('mtu', { type: 'number', describe: 'set: underlay MTU (Backend.MTU; the device gets it − 50 for vxlan, − 80 for wireguard; default the external interface\'s, never above it)' })
      .option('checksum-offload', { type: 'string', describe: 'set: TX checksum offload on the VXLAN device: auto, on or off (Backend.ChecksumOffload; default off)' })
      .option('direct-routing', { type: 'boolean', describe: 'set: a plain route, no VXLAN, to peers on this host\'s own segment (Backend.DirectRouting; default off)' })
      .option('listen-port', { type: 'number', describe: 'set, wireguard: UDP listen port of weft-wg (Backend.ListenPort; default 51820)' })
      .option('persistent-keepalive', { type: 'number', describe: 'set, wireguard: seconds between keepalives to each peer, 0 off (Backend.PersistentKeepaliveInterval; default 0)' })
      .option('psk-file', { type: 'string', describe: 'set, wireguard: a file holding the pre-shared key (Backend.PSK, e.g. from `wg genpsk`; never on the command line)' })
      .option('effective', { type: 'boolean', default: false, describe: 'get: show the config with defaults applied' })
      .option('show-secrets', { type: 'boolean', default: false, describe: 'get: print Backend.PSK instead of [redacted]' }),
    (argv) => run(argv['action'] === 'get' ? configGet : configSet, argv as never))
    .command('leases', 'list subnet leases and reservations', (c) => c.option('json', { type: 'boolean', default: false, describe: 'print JSON (for scripts)' }),
      (argv) => run(leasesCommand, argv as never))
    .command('reserve <subnet>', 'make a subnet a reservation (no TTL) for a host', (c) => c
      .positional('subnet', { type: 'string', demandOption: true })
      .option('public-ip', { type: 'string', describe: 'the host\'s public IP (needed when the subnet is not leased yet)' })
      .option('node-name', { type: 'string', describe: 'the host\'s weftd --node-name' })
      .option('ipv6-subnet', { type: 'string', describe: 'on a dual-stack network: the host\'s IPv6 subnet (e.g. fd00:10:0:5::/64)' })
      .option('force', { type: 'boolean', default: false, describe: 'also turn a live lease into a reservation (its host stops renewing it)' }),
    (argv) => run(reserveCommand, argv as never))
    .command('release <subnet>', 'delete a reservation', (c) => c
      .positional('subnet', { type: 'string', demandOption: true })
      .option('force', { type: 'boolean', default: false, describe: 'also delete a live lease, or a reservation its host holds (that host\'s weftd exits and leases again)' }),
    (argv) => run(releaseCommand, argv as never))
    .command('cleanup', 'remove weft\'s iptables chains and jumps (--ip-masq) and its WireGuard tunnel (weft-wg, wireguard-go) from this host; stop weftd first', (c) => c
      .option('wireguard-run-dir', { type: 'string', default: DEFAULT_WIREGUARD_RUN_DIR, describe: 'weftd\'s --wireguard-run-dir: where the PID file of its wireguard-go is' }),
      (argv) => run({ local: cleanupCommand }, argv as never))
    .command('status', 'on a host: its lease, device and per-peer kernel entries; exit 1 on any drift', (c) => c
      .option('node-name', { type: 'string', describe: 'weftd\'s --node-name (default: the hostname)' })
      .option('subnet-file', { type: 'string', default: DEFAULT_SUBNET_FILE, describe: 'weftd\'s --subnet-file' })
      .option('wireguard-socket-dir', { type: 'string', default: DEFAULT_SOCKET_DIR, describe: 'wireguard backend: weftd\'s --wireguard-socket-dir (where weft-wg\'s UAPI socket is)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (for scripts)' })
      .config(host(HOST_SETTINGS)),
    (argv) => run(statusCommand, argv as never))
    .command('doctor', 'on a host: check what breaks overlays (weftd, etcd, sysctls, MTU, peers over UDP, FORWARD); exit 1 on any FAIL', (c) => c
      .option('node-name', { type: 'string', describe: 'weftd\'s --node-name (default: the hostname)' })
      .option('subnet-file', { type: 'string', default: DEFAULT_SUBNET_FILE, describe: 'weftd\'s --subnet-file' })
      .option('wireguard-socket-dir', { type: 'string', default: DEFAULT_SOCKET_DIR, describe: 'wireguard backend: weftd\'s --wireguard-socket-dir (where weft-wg\'s UAPI socket is)' })
      .option('healthz-ip', { type: 'string', default: '127.0.0.1', describe: 'weftd\'s --healthz-ip' })
      .option('healthz-port', { type: 'number', default: 0, describe: 'weftd\'s --healthz-port: probe /readyz (0: infer readiness from subnet.env and the device)' })
      .option('instance-id', { type: 'string', hidden: true, describe: 'weftd\'s --instance-id, if it was given one' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON (for scripts)' })
      .config(host([...HOST_SETTINGS, ...HEALTHZ_SETTINGS])),
    (argv) => run({ local: doctorCommand }, argv as never));
}

export async function main(args: readonly string[], io: CtlIo = {
  out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`),
}, env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  let chosen: { handler: Handler | LocalCommand; argv: Record<string, unknown> & EtcdFlagValues } | undefined;
  let failure: string | undefined;
  let output = '';
  let settings: HostSettings;
  try {
    settings = await readHostSettings(args, env);
    checkHostBooleans(args, settings, BOOLEAN_FLAGS, []);
  } catch (err) {
    io.err(`weftctl: ${errorMessage(err)}\n\n${await build(() => undefined).getHelp()}`);
    return 1;
  }
  const parser = build((handler, argv) => { chosen = { handler, argv }; }, settings)
    .fail((msg, err) => { failure = msg || errorMessage(err); })
    .exitProcess(false);
  // yargs reads a bare "-" as a flag; it means stdin here.
  await parser.parseAsync(args.map((a) => (a === '-' ? '/dev/stdin' : a)), {}, (_e, _a, out) => { output = out; });
  if (failure) {
    io.err(`weftctl: ${failure}\n\n${await build(() => undefined).getHelp()}`);
    return 1;
  }
  if (!chosen) {
    if (output) io.out(output);
    return 0;
  }
  let registry: SubnetRegistry | undefined;
  try {
    if (typeof chosen.handler !== 'function') return await chosen.handler.local(chosen.argv, io);
    registry = await openRegistry(etcdConnection(chosen.argv));
    return await chosen.handler(registry, chosen.argv, io);
  } catch (err) {
    io.err(`weftctl: ${err instanceof WeftError || err instanceof UsageError ? err.message : errorMessage(err)}`);
    return 1;
  } finally {
    registry?.close();
  }
}
