/**
 * Network-namespace helpers for tests and the rig. Every command is an
 * argument array; nothing here touches the root namespace's links, addresses
 * or routes (links are created from inside a namespace with `ip -n`).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';

/** A short per-run name prefix, e.g. `wt2kq9x4`: `wt` + pid in base 36 + 2 random bytes. */
export function uniquePrefix(tag = 'wt'): string {
  return `${tag}${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
}

const PREFIX_RE = /^[a-z][a-z0-9]{1,19}$/;

/** Prefixes are used to find namespaces to delete, so they must be specific (letters and digits only). */
export function assertPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) throw new Error(`rig prefix ${JSON.stringify(prefix)} must match ${PREFIX_RE.source}`);
  return prefix;
}

/** `ip <args>` (add `-n <ns>` yourself). */
export async function ip(args: readonly string[]): Promise<string> {
  return (await execa('ip', [...args])).stdout;
}

/** Runs a command inside a namespace with `ip netns exec`. */
export async function inNetns(netns: string, file: string, args: readonly string[], options: { timeoutMs?: number } = {}): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', netns, file, ...args], { timeout: options.timeoutMs ?? 30_000 });
  return r.stdout;
}

export async function addNetns(name: string): Promise<void> {
  await ip(['netns', 'add', name]);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Names of the namespaces that start with `<prefix>-`. */
export function listNetnsSync(prefix: string): string[] {
  const out = execFileSync('ip', ['-j', 'netns', 'list'], { encoding: 'utf8' }).trim();
  const list = out === '' ? [] : (JSON.parse(out) as { name?: unknown }[]);
  return list.map((n) => String(n.name)).filter((n) => n.startsWith(`${assertPrefix(prefix)}-`));
}

/** PIDs of processes whose network namespace is `netns`. */
export function netnsPidsSync(netns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
  } catch {
    return [];
  }
}

/** Sends a signal to one PID we started; a process that is already gone is fine. */
export function killPid(pid: number, signal: NodeJS.Signals = 'SIGTERM'): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while the process runs; a zombie (exited, not yet reaped by its parent) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Deletes one namespace; missing is fine. */
export function deleteNetnsSync(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}
