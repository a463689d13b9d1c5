/**
 * weftd: flags (flannel's names; each also read from WEFTD_<FLAG>, then from
 * the env file /etc/weft/weftd.env, the command line wins; host-config.ts)
 * → typed options → real adapters → runDaemon.
 * Exit codes: 0 clean stop, 1 bad flags/config or startup failure, 2 lease lost.
 */
import { type Ipv4, isIpv4 } from '../core/cidr.js';
import { ipv6UnicastProblem, parseIpv6 } from '../core/cidr6.js';
import { UsageError, WeftError, errorMessage } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { systemClock } from '../adapters/clock.js';
import { notifyReady } from '../adapters/sd-notify.js';
import { type DataPlanePort, LeaseOnlyDataPlane } from '../backend/data-plane-port.js';
import { type DaemonOptions, runDaemon } from '../daemon/run-daemon.js';
import { DaemonStatus } from '../daemon/status.js';
import { TrafficRules } from '../daemon/traffic-rules.js';
import { IptablesCli } from '../adapters/iptables.js';
import { readInstanceId } from '../adapters/instance-id.js';
import { configKey, etcdConnection, openRegistry } from './etcd-flags.js';
import { createLogger } from './log.js';
import { type DaemonArgv, daemonFlagTable, parseDaemonArgs } from './daemon-flags.js';
import { createKernelDataPlane } from './kernel-data-plane.js';
import { keyFilePath } from '../adapters/wireguard/key-store.js';
import { type HostSettings, checkHostBooleans, readHostSettings, settingsFor, unknownFileSettings } from './host-config.js';

const BOOLEAN_FLAGS = ['ip-masq'] as const;

export interface ParsedDaemonFlags {
  readonly options: DaemonOptions;
  readonly argv: DaemonArgv;
}

function validate(argv: DaemonArgv): DaemonOptions {
  const ttlMs = parseDuration(argv['subnet-lease-ttl']);
  if (ttlMs === undefined || ttlMs < 5000) throw new UsageError(`--subnet-lease-ttl "${argv['subnet-lease-ttl']}" must be a duration of at least 5s, like 24h`);
  const resyncMs = parseDuration(argv['resync-interval']);
  if (resyncMs === undefined || resyncMs < 100) throw new UsageError(`--resync-interval "${argv['resync-interval']}" must be a duration of at least 100ms, like 10s`);
  const publicIp = argv['public-ip'];
  if (publicIp !== undefined && !isIpv4(publicIp)) throw new UsageError(`--public-ip "${publicIp}" is not an IPv4 address`);
  const publicIpv6Text = argv['public-ipv6'];
  const publicIpv6 = publicIpv6Text === undefined || publicIpv6Text === '' ? undefined : parseIpv6(publicIpv6Text);
  if (publicIpv6Text && publicIpv6 === undefined) throw new UsageError(`--public-ipv6 "${publicIpv6Text}" is not an IPv6 address`);
  const v6Problem = publicIpv6 === undefined ? undefined : ipv6UnicastProblem(publicIpv6);
  if (v6Problem !== undefined) throw new UsageError(`--public-ipv6: ${v6Problem}; give a global address of the external interface`);
  const nodeName = argv['node-name'];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(nodeName)) throw new UsageError(`--node-name "${nodeName}" must be 1-253 letters, digits, '.', '_' or '-'`);
  if (!Number.isInteger(argv['healthz-port']) || argv['healthz-port'] < 0 || argv['healthz-port'] > 65535) {
    throw new UsageError(`--healthz-port "${argv['healthz-port']}" must be a port number (0 to disable)`);
  }
  if (parseDuration(argv['healthz-etcd-grace']) === undefined) throw new UsageError(`--healthz-etcd-grace "${argv['healthz-etcd-grace']}" must be a duration like 2m`);
  if (!/^\d+$/.test(String(argv['healthz-port']))) throw new UsageError(`--healthz-port "${argv['healthz-port']}" must be a port number (0 to disable)`);
  const presenceMs = parseDuration(argv['node-presence-ttl']);
  if (presenceMs === undefined || presenceMs < 2000) throw new UsageError(`--node-presence-ttl "${argv['node-presence-ttl']}" must be a duration of at least 2s, like 30s`);
  const instanceId = argv['instance-id'];
  if (instanceId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(instanceId)) throw new UsageError(`--instance-id "${instanceId}" must be 1-64 letters, digits, '.', '_' or '-'`);
  if (!isIpv4(argv['healthz-ip'])) throw new UsageError(`--healthz-ip "${argv['healthz-ip']}" is not an IPv4 address`);
  const conn = etcdConnection(argv);
  return {
    nodeName, subnetFile: argv['subnet-file'], leaseTtlSeconds: Math.round(ttlMs / 1000), ipMasq: argv['ip-masq'],
    resyncMs, configKey: configKey(conn.prefix), iface: argv.iface || undefined, publicIp: publicIp as Ipv4 | undefined,
    publicIpv6,
    presenceTtlSeconds: Math.round(presenceMs / 1000), instanceId: instanceId ?? '',
  };
}

/** Parses flags; throws UsageError (with usage text) on anything wrong. yargs is loaded only when needed (daemon-flags.ts). */
export async function parseDaemonFlags(args: readonly string[]): Promise<ParsedDaemonFlags | undefined> {
  const withUsage = async (err: unknown): Promise<UsageError> => {
    const { daemonParser } = await import('./daemon-yargs.js');
    return new UsageError(`${errorMessage(err)}\n\n${await daemonParser().getHelp()}`);
  };
  let settings: HostSettings;
  const flags = daemonFlagNames();
  try {
    settings = await readHostSettings(args);
    const unknown = unknownFileSettings(settings, flags);
    if (unknown.length > 0) throw new UsageError(`${settings.path}: ${unknown.join(', ')} ${unknown.length === 1 ? 'is not a weftd setting' : 'are not weftd settings'} (see weftd --help: WEFTD_ + the flag in upper case, '-' as '_')`);
    checkHostBooleans(args, settings, BOOLEAN_FLAGS, BOOLEAN_FLAGS);
  } catch (err) {
    throw await withUsage(err);
  }
  let argv = parseDaemonArgs(args, settings.env, fileSettings(settings, flags));
  if (!argv) {
    const { daemonParser } = await import('./daemon-yargs.js');
    let failure: string | undefined;
    let helped = false;
    const parsed = await daemonParser(fileSettings(settings, flags))
      .fail((msg, err) => { failure = msg || errorMessage(err); })
      .exitProcess(false)
      .parseAsync([...args], {}, (_err, _argv, output) => { if (output) { helped = true; process.stdout.write(`${output}\n`); } });
    if (failure) throw await withUsage(failure);
    if (helped) return undefined;
    argv = parsed as unknown as DaemonArgv;
  }
  try {
    return { argv, options: validate(argv) };
  } catch (err) {
    throw await withUsage(err);
  }
}

/** Every flag weftd takes (the names its WEFTD_* settings come from). */
export function daemonFlagNames(): string[] {
  return daemonFlagTable().map(([name]) => name).filter((name) => name !== 'config-file');
}

function fileSettings(settings: HostSettings, flags: readonly string[]): Record<string, string> {
  return settingsFor(settings, flags, { fileOnly: true });
}

export async function main(args: readonly string[]): Promise<number> {
  let parsed: ParsedDaemonFlags | undefined;
  try {
    parsed = await parseDaemonFlags(args);
  } catch (err) {
    process.stderr.write(`weftd: ${errorMessage(err)}\n`);
    return 1;
  }
  if (!parsed) return 0;
  const { argv, options } = parsed;
  const log = createLogger(argv['log-level'], 'weftd');
  const controller = new AbortController();
  const onSignal = (sig: string): void => {
    if (controller.signal.aborted) return;
    log.info({ signal: sig }, 'stopping');
    controller.abort();
  };
  // `on`, not `once`: execa's signal-exit (loaded while an ip/bridge child runs) re-raises a
  // signal that has no other listener left, which killed weftd mid-shutdown when `once` had
  // already removed ours (exit by SIGTERM instead of a clean stop).
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  const status = new DaemonStatus();
  status.readyListeners.push(() => {
    const subnet = status.lease?.subnet ?? '';
    notifyReady(`ready: subnet ${subnet}, ${status.peersKnown} peers`).catch((err: unknown) =>
      log.warn({ err: errorMessage(err) }, 'cannot notify systemd (is systemd-notify installed?)'));
  });
  let registry: Awaited<ReturnType<typeof openRegistry>> | undefined;
  let health: { close(): Promise<void> } | undefined;
  let dataPlane: DataPlanePort | undefined;
  try {
    registry = await openRegistry(etcdConnection(argv));
    const instanceId = options.instanceId !== '' ? options.instanceId : await readInstanceId();
    if (argv['healthz-port'] > 0) {
      const { startHealthServer } = await import('../daemon/health-server.js'); // only when configured
      health = await startHealthServer({ ip: argv['healthz-ip'], port: argv['healthz-port'], status, log,
        etcdGraceMs: parseDuration(argv['healthz-etcd-grace']) ?? 120_000, staleAfterMs: Math.max(60_000, 6 * options.resyncMs) });
    }
    dataPlane = argv.dataplane === 'none' ? new LeaseOnlyDataPlane() : await createKernelDataPlane(log, {
      wireguardKeyFile: keyFilePath(process.env, argv['wireguard-key-file']),
      wireguardSocketDir: argv['wireguard-socket-dir'], wireguardRunDir: argv['wireguard-run-dir'],
      wireguardImplementation: argv['wireguard-implementation'],
    });
    // --ip-masq: weft's iptables chains, present or absent (docs/masquerade.md); --dataplane none programs nothing, iptables included.
    const trafficRules = argv.dataplane !== 'none'
      ? new TrafficRules({ iptables: new IptablesCli(), ip6tables: new IptablesCli({ family: 'ipv6' }), log: log.child({ component: 'iptables' }), enabled: options.ipMasq }) : undefined;
    // The external interface is followed (new address, interface made again) only where weft made a device on it.
    const underlay = argv.dataplane !== 'none' ? new (await import('../adapters/iproute2/underlay.js')).IpRoute2Underlay() : undefined;
    return await runDaemon({ ...options, instanceId }, { registry, dataPlane, clock: systemClock, random: Math.random, log, status, trafficRules, underlay }, controller.signal);
  } catch (err) {
    if (controller.signal.aborted) return 0;
    log.fatal({ err: errorMessage(err), code: err instanceof WeftError ? err.code : undefined }, 'weftd cannot start');
    process.stderr.write(`weftd: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    await health?.close();
    dataPlane?.close?.();
    registry?.close();
  }
}
