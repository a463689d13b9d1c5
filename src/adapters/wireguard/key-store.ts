/**
 * The host's WireGuard private key on disk: created once (mode 0600 in a 0700
 * directory), then reused on every start, across restarts and reboots, so
 * peers keep one key per host (docs/design.md "WireGuard backend"). Creation is
 * atomic and race-free: the key is written to a temporary file and hard-linked
 * into place, so two starting daemons end up with the same key and a reader
 * never sees half a key. An existing file that is not a key is an error, never
 * overwritten: replacing it would silently change the host's identity.
 *
 * The key itself never appears in a message, a log or an error.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { WeftError } from '../../core/errors.js';
import { SecretKey, type WgPublicKey, clampPrivateKey, publicKeyOf } from '../../core/wireguard/keys.js';

/** Kept in /var/lib (not /run as flannel): the key survives reboots. */
export const DEFAULT_KEY_FILE = '/var/lib/weft/wireguard/private.key';
/** flannel's variable for the key file path; weft honours the same name. */
export const KEY_FILE_ENV = 'WIREGUARD_KEY_FILE';

/** The key file a daemon uses: a flag, else `$WIREGUARD_KEY_FILE`, else DEFAULT_KEY_FILE. */
export function keyFilePath(env: Readonly<Record<string, string | undefined>>, flag?: string): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env[KEY_FILE_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_KEY_FILE;
}

/** The key file is unreadable or does not hold a key. */
export class KeyFileError extends WeftError {
  readonly path: string;
  constructor(message: string, path: string, cause?: unknown) {
    super('wireguard-key-file', message, cause === undefined ? {} : { cause });
    this.path = path;
  }
}

/** A new private key from the system's CSPRNG, clamped as `wg genkey` does. */
export function generatePrivateKey(): SecretKey {
  return clampPrivateKey(randomBytes(32));
}

export interface LoadedKey {
  readonly privateKey: SecretKey;
  readonly publicKey: WgPublicKey;
  /** True when this call created the file. */
  readonly created: boolean;
  /** e.g. a key file others can read; for the caller to log. */
  readonly warnings: readonly string[];
}

/** Reads the key at `path`, creating it first when it does not exist. */
export async function loadOrCreatePrivateKey(path: string, generate: () => SecretKey = generatePrivateKey): Promise<LoadedKey> {
  const existing = await readKeyFile(path);
  if (existing !== undefined) return existing;
  const key = generate();
  const won = await createExclusive(path, key.base64());
  if (!won) {
    const theirs = await readKeyFile(path);
    if (theirs === undefined) throw new KeyFileError(`${path} appeared and vanished while creating the WireGuard key`, path);
    return theirs;
  }
  return { privateKey: key, publicKey: publicKeyOf(key), created: true, warnings: [] };
}

async function readKeyFile(path: string): Promise<LoadedKey | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new KeyFileError(`cannot read the WireGuard key file ${path}: ${(err as Error).message}`, path, err);
  }
  const parsed = SecretKey.parseBase64(text);
  if (!parsed.ok) {
    throw new KeyFileError(`${path} does not hold a WireGuard private key: its content ${parsed.reason}; `
      + 'fix or delete it (deleting gives this host a new key)', path);
  }
  const warnings: string[] = [];
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) warnings.push(`${path} has mode ${mode.toString(8).padStart(4, '0')}: other users can read the private key; chmod 600 it`);
  return { privateKey: parsed.key, publicKey: publicKeyOf(parsed.key), created: false, warnings };
}

/** Writes `data` to a temporary file (0600) and links it to `path`; false when `path` exists by then. */
async function createExclusive(path: string, data: string): Promise<boolean> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(tmp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    throw new KeyFileError(`cannot create the WireGuard key file ${path}: ${(err as Error).message}`, path, err);
  } finally {
    await rm(tmp, { force: true });
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
  return true;
}
