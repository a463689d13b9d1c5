/**
 * wireguard-go for weftd: a process that outlives weftd, so a restart of the
 * daemon neither deletes nor re-creates the device and the tunnels keep
 * carrying traffic (docs/design.md "WireGuard backend").
 *
 * - Started detached (own session and process group, `setsid`), stdin and
 *   stdout closed, stderr appended to `<runDir>/weft-wg.log`; its PID is
 *   written to `<runDir>/weft-wg.pid`.
 * - A starting weftd adopts it when the PID file names a live wireguard-go
 *   (checked by /proc/<pid>/comm, so a reused PID is never taken for it) and
 *   its UAPI socket answers; it never starts a second one.
 * - Stopped only by the PID in that file, after the same check.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WireguardProcessError } from '../../core/wireguard/errors.js';
import { DEFAULT_SOCKET_DIR, UapiClient } from './uapi-client.js';
import { wireguardGoCommand } from './wireguard-go.js';

export interface WireguardGoDaemonOptions {
  readonly device: string;
  /** Where its UAPI socket appears (default /run/wireguard; another one is bind-mounted over /run/wireguard for it). */
  readonly socketDir?: string | undefined;
  /** Where the PID file and the log live (default /run/weft). */
  readonly runDir: string;
  readonly binary?: string;
  readonly startTimeoutMs?: number;
  /** Start it in this network namespace (`ip netns exec`); weftd leaves it unset (it runs in its own namespace). */
  readonly netns?: string;
}

/** Keeps a device answering on its control socket (wireguard-go here; a fake in unit tests). */
export interface WireguardDeviceProcess {
  /** Resolves once a device answers; what it did (started, adopted), or undefined when that device was already known. */
  ensure(): Promise<string | undefined>;
  /** Stops the device's process when it is ours (a device this host no longer runs); its PID, or undefined when none ran. */
  stop?(): Promise<number | undefined>;
}

/**
 * weftd's wireguard-go: adopted when the PID file names a live one whose
 * socket answers (logged once per PID), else started detached; a PID of ours
 * that no longer answers (wedged, its socket removed) is stopped first.
 */
export class WireguardGoProcess implements WireguardDeviceProcess {
  readonly #options: WireguardGoDaemonOptions;
  readonly #client: UapiClient;
  #adoptedPid: number | undefined;

  constructor(options: WireguardGoDaemonOptions, client: UapiClient) {
    this.#options = options;
    this.#client = client;
  }

  async stop(): Promise<number | undefined> {
    this.#adoptedPid = undefined;
    return stopWireguardGo(this.#options.runDir, this.#options.device);
  }

  async ensure(): Promise<string | undefined> {
    const found = await findWireguardGo(this.#options, this.#client);
    if (found.kind === 'adopted') {
      if (this.#adoptedPid === found.pid) return undefined;
      this.#adoptedPid = found.pid;
      return `adopted wireguard-go (PID ${found.pid})`;
    }
    if (await this.#client.isLive()) return 'adopted a device that answers on its socket without a PID file of ours';
    if (found.stalePid !== undefined) await stopWireguardGo(this.#options.runDir, this.#options.device);
    const pid = await startDetachedWireguardGo(this.#options);
    this.#adoptedPid = pid; // ours from the start: the next pass does not report it as adopted
    return `started wireguard-go (PID ${pid})`;
  }
}

export type DaemonFound = { readonly kind: 'adopted'; readonly pid: number } | { readonly kind: 'none'; readonly stalePid?: number };

export function pidFilePath(runDir: string, device: string): string {
  return join(runDir, `${device}.pid`);
}

/** The PID in the file when it is a live wireguard-go (not a reused PID). */
export async function livePid(runDir: string, device: string): Promise<number | undefined> {
  const text = await readFile(pidFilePath(runDir, device), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return comm.trim() === 'wireguard-go' ? pid : undefined;
}

/** Adopts the running wireguard-go of a previous weftd when its PID is alive and its socket answers. */
export async function findWireguardGo(options: WireguardGoDaemonOptions, client: UapiClient): Promise<DaemonFound> {
  const pid = await livePid(options.runDir, options.device);
  if (pid === undefined) return { kind: 'none' };
  return (await client.isLive()) ? { kind: 'adopted', pid } : { kind: 'none', stalePid: pid };
}

/** Stops the wireguard-go whose PID the file names (only after checking it is one); resolves once it is gone. */
export async function stopWireguardGo(runDir: string, device: string, graceMs = 3000): Promise<number | undefined> {
  const pid = await livePid(runDir, device);
  if (pid === undefined) return undefined;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && await livePid(runDir, device) === pid) await sleep(50);
  if (await livePid(runDir, device) === pid) signal(pid, 'SIGKILL');
  await rm(pidFilePath(runDir, device), { force: true });
  return pid;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** Starts a detached wireguard-go, records its PID, resolves once its socket answers. */
export async function startDetachedWireguardGo(options: WireguardGoDaemonOptions): Promise<number> {
  const socketDir = options.socketDir ?? DEFAULT_SOCKET_DIR;
  const command = wireguardGoCommand({ device: options.device, socketDir, ...(options.binary ? { binary: options.binary } : {}),
    ...(options.netns ? { netns: options.netns } : {}) });
  await mkdir(options.runDir, { recursive: true, mode: 0o755 });
  if (socketDir !== DEFAULT_SOCKET_DIR) await mkdir(socketDir, { recursive: true, mode: 0o755 });
  const logPath = join(options.runDir, `${options.device}.log`);
  const log = await open(logPath, 'a', 0o600);
  let pid: number | undefined;
  try {
    const child = spawn(command.file, [...command.args], {
      detached: true, stdio: ['ignore', 'ignore', log.fd], env: { ...process.env, ...command.env },
    });
    pid = child.pid;
    child.on('error', () => undefined);
    child.unref();
  } finally {
    await log.close();
  }
  if (pid === undefined) throw new WireguardProcessError(`cannot start ${command.file} for ${options.device}`, { device: options.device });
  await writeFile(pidFilePath(options.runDir, options.device), `${pid}\n`, { mode: 0o644 });
  const client = new UapiClient({ device: options.device, socketDir, timeoutMs: 1000 });
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(pid)) break;
    if (await client.isLive()) return pid;
    await sleep(50);
  }
  signal(pid, 'SIGTERM');
  const stderr = (await readFile(logPath, 'utf8').catch(() => '')).slice(-2000);
  throw new WireguardProcessError(`wireguard-go for ${options.device} (PID ${pid}) did not answer on its socket within ${timeoutMs} ms; its log ${logPath}: `
    + `${stderr.trim().split('\n').slice(-3).join(' / ') || '(empty)'}`, { device: options.device, stderr });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
