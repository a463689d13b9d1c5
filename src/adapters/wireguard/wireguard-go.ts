/**
 * wireguard-go, the userspace WireGuard for kernels without the module
 * (next-anchors §3), started in the foreground as a supervised child: its PID
 * is ours to stop, its exit is reported, its stderr tail kept for errors.
 *
 * - Foreground (`-f` and WG_PROCESS_FOREGROUND=1): without it wireguard-go
 *   re-executes itself and the parent returns, leaving a daemon nobody owns.
 * - Network namespace: `ip netns exec <ns>` (tests); the current one otherwise.
 * - UAPI socket directory: wireguard-go's is compiled in (/var/run/wireguard)
 *   and shared by every network namespace, so two test hosts with the same
 *   device name would take each other's socket. For another directory the
 *   process gets a private mount namespace (`unshare --mount`) in which the
 *   directory is bind-mounted over /run/wireguard. That needs two steps
 *   (mount, then exec), done by a fixed `sh -c` text: every value is a
 *   positional argument ("$1".. "$3"), nothing is interpolated.
 * - Every `exec` keeps the PID, so the child's PID is wireguard-go itself.
 */
import { access, mkdir } from 'node:fs/promises';
import { execa } from 'execa';
import { WireguardProcessError } from '../../core/wireguard/errors.js';
import { DEFAULT_SOCKET_DIR, UapiClient, uapiSocketPath } from './uapi-client.js';
import type { CommandRunner } from '../iproute2/runner.js';

export interface WireguardGoOptions {
  /** Interface name, e.g. `weft-wg` (at most 15 characters). */
  readonly device: string;
  /** Where the UAPI socket appears (default /run/wireguard). */
  readonly socketDir?: string;
  /** Run inside this named network namespace (`ip netns exec`). */
  readonly netns?: string;
  /** Default `wireguard-go` from PATH. */
  readonly binary?: string;
  /** wireguard-go's LOG_LEVEL (default `error`). */
  readonly logLevel?: 'error' | 'verbose' | 'silent';
  /** How long to wait for the socket to answer (default 10 s). */
  readonly startTimeoutMs?: number;
}

export interface WireguardGoExit {
  readonly code: number | undefined;
  readonly signal: string | undefined;
  /** The last lines wireguard-go wrote to stderr. */
  readonly stderr: string;
}

export interface WireguardGoCommand {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** Fixed text; $1 = directory, $2 = binary, $3 = device. */
const BIND_AND_EXEC = 'mkdir -p /run/wireguard && mount --bind "$1" /run/wireguard && exec "$2" -f "$3"';

/** The argument array that starts wireguard-go for these options (no shell unless a private socket directory needs the bind mount). */
export function wireguardGoCommand(options: WireguardGoOptions): WireguardGoCommand {
  const binary = options.binary ?? 'wireguard-go';
  const env = { WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: options.logLevel ?? 'error' };
  const inner: string[] = options.socketDir === undefined || options.socketDir === DEFAULT_SOCKET_DIR
    ? [binary, '-f', options.device]
    : ['unshare', '--mount', '--propagation', 'slave', 'sh', '-c', BIND_AND_EXEC, 'weft-wireguard-go', options.socketDir, binary, options.device];
  const argv = options.netns === undefined ? inner : ['ip', 'netns', 'exec', options.netns, ...inner];
  const [file, ...args] = argv as [string, ...string[]];
  return { file, args, env };
}

/** A running wireguard-go we started. */
export class WireguardGoProcess {
  readonly device: string;
  readonly pid: number;
  readonly socketPath: string;
  /** Settles once, when the process has exited (never rejects). */
  readonly exited: Promise<WireguardGoExit>;
  #done = false;

  constructor(device: string, pid: number, socketPath: string, exited: Promise<WireguardGoExit>) {
    this.device = device;
    this.pid = pid;
    this.socketPath = socketPath;
    this.exited = exited.finally(() => { this.#done = true; });
  }

  get running(): boolean {
    return !this.#done;
  }

  /** SIGTERM to our PID (wireguard-go removes its device and socket), SIGKILL after `graceMs`. */
  async stop(graceMs = 3000): Promise<WireguardGoExit> {
    if (this.#done) return this.exited;
    signal(this.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(this.pid, 'SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

const STDERR_TAIL = 4096;

/** Starts wireguard-go and resolves once its UAPI socket answers; rejects (and stops it) otherwise. */
export async function startWireguardGo(options: WireguardGoOptions): Promise<WireguardGoProcess> {
  const command = wireguardGoCommand(options);
  const socketDir = options.socketDir ?? DEFAULT_SOCKET_DIR;
  // wireguard-go makes /run/wireguard itself (0755); a directory given here is bind-mounted, so it must exist first.
  if (socketDir !== DEFAULT_SOCKET_DIR) await mkdir(socketDir, { recursive: true, mode: 0o755 });
  let stderr = '';
  const child = execa(command.file, [...command.args], {
    env: command.env, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', reject: false, buffer: false,
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-STDERR_TAIL); });
  const exited = child.then((r) => ({ code: r.exitCode, signal: r.signal, stderr }));
  if (child.pid === undefined) {
    const exit = await exited;
    throw new WireguardProcessError(`cannot start ${command.file} for ${options.device}: ${exit.stderr.trim() || 'spawn failed'}`, { device: options.device, stderr: exit.stderr });
  }
  const proc = new WireguardGoProcess(options.device, child.pid, uapiSocketPath(socketDir, options.device), exited);
  const client = new UapiClient({ device: options.device, socketDir, timeoutMs: 1000 });
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (!proc.running) {
      const exit = await proc.exited;
      throw new WireguardProcessError(`wireguard-go for ${options.device} exited (code ${exit.code ?? '-'}, signal ${exit.signal ?? '-'}) before its socket answered: `
        + `${summary(exit.stderr)}`, { device: options.device, stderr: exit.stderr });
    }
    if (await client.isLive()) return proc;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const exit = await proc.stop();
  throw new WireguardProcessError(`wireguard-go for ${options.device}: no answer on ${proc.socketPath} within ${options.startTimeoutMs ?? 10_000} ms`,
    { device: options.device, stderr: exit.stderr });
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '(no output)';
}

/** stderr on one line, for an error message. */
function summary(text: string): string {
  const joined = text.split('\n').map((l) => l.trim()).filter((l) => l !== '').join(' / ');
  return joined === '' ? '(no output)' : joined.slice(-400);
}

export type WireguardImplementation =
  | { readonly kind: 'kernel' }
  | { readonly kind: 'userspace'; readonly reason: string };

/**
 * Which WireGuard this host has. A loaded module shows in /sys/module; else a
 * probe creates a wireguard link in a throw-away network namespace
 * (`unshare --net`: it disappears with the probe, nothing in the host's
 * namespaces changes), which also autoloads a module that is built but not loaded.
 */
export async function detectWireguard(runner: CommandRunner, sysModuleDir = '/sys/module/wireguard'): Promise<WireguardImplementation> {
  try {
    await access(sysModuleDir);
    return { kind: 'kernel' };
  } catch {
    // not loaded: probe
  }
  const probe = await runner('unshare', ['--net', 'ip', 'link', 'add', 'weftwgprobe', 'type', 'wireguard'], { allowFailure: true });
  if (probe.exitCode === 0) return { kind: 'kernel' };
  return { kind: 'userspace', reason: `the kernel cannot create a wireguard link (${lastLine(probe.stderr)})` };
}
