/**
 * Saved delegate configs: `<dataDir>/<containerId>` holds the exact JSON the
 * delegate got on ADD, so DEL and CHECK replay it even after subnet.env
 * changed or vanished. Files are 0600 in a 0700 directory and are written
 * atomically (temp file, fsync, rename, fsync of the directory), so a crash
 * never leaves a half-written config for DEL to choke on.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError } from './errors.js';

/** Temp files start with a dot, so listings and GC never mistake them for configs. */
const TEMP_PREFIX = '.tmp-';

function ioError(what: string, err: unknown): CniError {
  return new CniError(CniCode.IoFailure, `${what}: ${(err as Error).message}`, { cause: err });
}

export function saveDelegateConf(dataDir: string, containerId: string, json: string): void {
  const temp = join(dataDir, `${TEMP_PREFIX}${containerId}-${process.pid}`);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, json);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, join(dataDir, containerId));
    syncDirectory(dataDir);
  } catch (err) {
    removeQuietly(temp);
    throw ioError(`cannot save the delegate config in ${dataDir}`, err);
  }
}

/** The saved config text, or undefined when there is none. */
export function readDelegateConf(dataDir: string, containerId: string): string | undefined {
  try {
    return readFileSync(join(dataDir, containerId), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(`cannot read the saved delegate config ${join(dataDir, containerId)}`, err);
  }
}

/** Removes a saved config; a missing one is fine (DEL is idempotent). */
export function removeDelegateConf(dataDir: string, containerId: string): void {
  try {
    unlinkSync(join(dataDir, containerId));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError(`cannot remove the saved delegate config ${join(dataDir, containerId)}`, err);
  }
}

/** Container IDs that have a saved config (temp files excluded). */
export function listSavedContainerIds(dataDir: string): string[] {
  try {
    return readdirSync(dataDir).filter((name) => !name.startsWith('.'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(`cannot list ${dataDir}`, err);
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // nothing to clean up
  }
}
