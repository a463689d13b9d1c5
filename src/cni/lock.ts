/**
 * A lock between plugin processes on one host: a directory created with
 * mkdir (atomic), removed when done. A lock older than STALE_MS is left over
 * from a killed process and is taken over.
 */
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CniCode, CniError } from './errors.js';

const STALE_MS = 30_000;
const WAIT_MS = 10_000;

export async function withDirLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      mkdirSync(path, { mode: 0o700 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new CniError(CniCode.IoFailure, `cannot take the lock ${path}: ${(err as Error).message}`);
    }
    if (isStale(path)) {
      removeQuietly(path);
      continue;
    }
    if (Date.now() > deadline) throw new CniError(CniCode.TryAgainLater, `the lock ${path} has been held for more than ${WAIT_MS / 1000} s by another weft call`);
    await sleep(20);
  }
  try {
    return await fn();
  } finally {
    removeQuietly(path);
  }
}

function isStale(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > STALE_MS;
  } catch {
    return false;
  }
}

function removeQuietly(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // gone already
  }
}
