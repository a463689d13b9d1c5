/**
 * Reads and writes subnet.env through the core codec. Writes are atomic
 * (temp file in the same directory, fsync, rename, fsync of the directory)
 * with mode 0644 regardless of umask, so a reader never sees half a file.
 */
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type SubnetEnv, type SubnetEnvParse, parseSubnetEnv, renderSubnetEnv } from '../core/subnet-env.js';

export type SubnetFileRead = SubnetEnvParse | { ok: false; missing: true; errors: readonly string[] };

export async function readSubnetFile(path: string): Promise<SubnetFileRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false, missing: true, errors: [`${path} does not exist`] };
    return { ok: false, errors: [`cannot read ${path}: ${(err as Error).message}`] };
  }
  const parsed = parseSubnetEnv(text);
  return parsed.ok ? parsed : { ok: false, errors: parsed.errors.map((e) => `${path}: ${e}`) };
}

/** Writes `data` to `path` atomically with the given mode. */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const handle = await open(tmp, 'w', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

export async function writeSubnetFile(path: string, env: SubnetEnv): Promise<void> {
  await writeFileAtomic(path, renderSubnetEnv(env), 0o644);
}

/** Writes the file only when its content differs (level-triggered, cheap on every pass). */
export async function ensureSubnetFile(path: string, env: SubnetEnv): Promise<boolean> {
  const wanted = renderSubnetEnv(env);
  try {
    if ((await readFile(path, 'utf8')) === wanted) return false;
  } catch {
    // missing or unreadable: write it
  }
  await writeFileAtomic(path, wanted, 0o644);
  return true;
}

/**
 * Removes subnet.env (missing is fine): done before weftd gives up a subnet,
 * so the CNI plugin answers "not ready" instead of handing out its addresses.
 * Returns whether a file was removed.
 */
export async function removeSubnetFile(path: string): Promise<boolean> {
  try {
    await rm(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
