/**
 * A real systemd as PID 1, in a systemd-nspawn container (real-components.md
 * "A real systemd, in a container"): the cached Debian tree of
 * scripts/nspawn-rootfs.sh booted read-only with a tmpfs overlay
 * (`--volatile=overlay`, so every boot starts clean and the cache is never
 * written), `--private-network` (only `lo`: the test makes its underlay
 * inside, nothing touches the root namespace), and the files under test
 * bind-mounted read-only. Commands run inside with `nsenter -a` into the
 * container's systemd. Stopped by the nspawn process's PID (SIGTERM powers the
 * container off), SIGKILL to our own PIDs after a grace period.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { REPO_ROOT } from './weftd-process.js';
import { killPid } from '../rig/netns.js';

export interface Bind {
  readonly host: string;
  readonly container: string;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A clean environment inside: `env -i` after nsenter, because the test runner
 * adds NODE_OPTIONS (a loader from the host's node_modules) to every child's
 * environment, and a Node program inside would fail to find it.
 */
const INSIDE_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8'];

/** The cached root file system, built on first use (minutes, once per machine). */
export async function nspawnRootfs(): Promise<string> {
  const r = await execa(`${REPO_ROOT}scripts/nspawn-rootfs.sh`, [], { timeout: 600_000 });
  return r.stdout.trim().split('\n').at(-1) ?? '';
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

export class NspawnContainer {
  readonly #nspawn: ChildProcess;
  /** The container's systemd (PID 1 inside), as a host PID. */
  readonly init: number;

  private constructor(nspawn: ChildProcess, init: number) {
    this.#nspawn = nspawn;
    this.init = init;
  }

  /** Boots the container and resolves once `systemctl is-system-running` says running (or degraded: reported in `state`). */
  static async boot(rootfs: string, binds: readonly Bind[], timeoutMs = 60_000): Promise<{ container: NspawnContainer; state: string }> {
    const args = ['-q', '-D', rootfs, '--volatile=overlay', '--register=no', '--keep-unit', '--private-network', '--boot', '--console=passive',
      ...binds.map((b) => `--bind-ro=${b.host}:${b.container}`)];
    const nspawn = spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let output = '';
    nspawn.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
    nspawn.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
    const deadline = Date.now() + timeoutMs;
    let init: number | undefined;
    while (Date.now() < deadline && nspawn.exitCode === null && init === undefined) {
      init = childrenOf(nspawn.pid ?? 0).find((pid) => comm(pid) === 'systemd');
      if (init === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    if (init === undefined) {
      if (nspawn.pid !== undefined) killPid(nspawn.pid, 'SIGKILL');
      throw new Error(`systemd-nspawn did not boot a systemd: ${output.trim().slice(-1000) || '(no output)'}`);
    }
    const container = new NspawnContainer(nspawn, init);
    let state = '';
    while (Date.now() < deadline) {
      state = (await container.exec('systemctl', ['is-system-running'])).stdout.trim();
      if (state === 'running' || state === 'degraded') return { container, state };
      await new Promise((r) => setTimeout(r, 100));
    }
    await container.stop();
    throw new Error(`the container's systemd is "${state}" after ${timeoutMs} ms: ${output.trim().slice(-1000)}`);
  }

  /** Runs a command inside (all of the container's namespaces), never throwing. */
  async exec(file: string, args: readonly string[], options: { input?: string } = {}): Promise<ExecResult> {
    const r = await execa('nsenter', ['-t', String(this.init), '-a', 'env', '-i', ...INSIDE_ENV, file, ...args],
      { reject: false, timeout: 60_000, ...(options.input === undefined ? {} : { input: options.input }) });
    return { code: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like exec, but throws with the output when the command fails. */
  async run(file: string, args: readonly string[], options: { input?: string } = {}): Promise<string> {
    const r = await this.exec(file, args, options);
    if (r.code !== 0) throw new Error(`in the container: ${file} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /** Powers the container off (SIGTERM to nspawn), SIGKILL after `graceMs`. Idempotent. */
  async stop(graceMs = 10_000): Promise<void> {
    const pid = this.#nspawn.pid;
    const running = (): boolean => this.#nspawn.exitCode === null && this.#nspawn.signalCode === null;
    if (pid === undefined || !running()) return;
    killPid(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (comm(this.init) === 'systemd') killPid(this.init, 'SIGKILL');
    if (running()) killPid(pid, 'SIGKILL');
  }

  /** Synchronous last resort for a process 'exit' handler: SIGKILL to our two PIDs. */
  killSync(): void {
    if (comm(this.init) === 'systemd') killPid(this.init, 'SIGKILL');
    if (this.#nspawn.pid !== undefined && this.#nspawn.exitCode === null && this.#nspawn.signalCode === null) killPid(this.#nspawn.pid, 'SIGKILL');
  }
}
