/**
 * Tearing a rig down by its prefix: stop every process running inside the
 * prefix's namespaces (all of them were started by the rig or the test that
 * owns the prefix), then delete the namespaces. Synchronous, so the same code
 * runs from a process 'exit' handler.
 */
import { deleteNetnsSync, isAlive, killPid, listNetnsSync, netnsPidsSync } from './netns.js';

export interface TeardownReport {
  readonly namespaces: readonly string[];
  readonly killed: readonly number[];
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILLs whatever is left. */
export function stopPidsSync(pids: Iterable<number>, graceMs = 3000): number[] {
  const targets = [...new Set(pids)].filter((pid) => pid > 1 && pid !== process.pid && killPid(pid, 'SIGTERM'));
  const deadline = Date.now() + graceMs;
  while (targets.some(isAlive) && Date.now() < deadline) sleepSync(50);
  for (const pid of targets) if (isAlive(pid)) killPid(pid, 'SIGKILL');
  return targets;
}

export function teardownPrefixSync(prefix: string, extraPids: readonly number[] = []): TeardownReport {
  const namespaces = listNetnsSync(prefix);
  const pids = [...extraPids, ...namespaces.flatMap(netnsPidsSync)];
  const killed = stopPidsSync(pids);
  // Pods and hosts first, the switch last: nothing depends on the order, but it reads better in `ip monitor`.
  for (const ns of [...namespaces].reverse()) deleteNetnsSync(ns);
  return { namespaces, killed };
}
