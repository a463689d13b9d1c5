/**
 * Saved state, one record per attachment: the CNI spec identifies an
 * attachment by (network name, CNI_CONTAINERID, CNI_IFNAME), so weft does too.
 *
 *   <dataDir>/_attachments/<network>/<containerId>:<ifname>
 *
 * holds a JSON record: the key, the CNI_NETNS of the ADD, the exact delegate
 * config text (`conf`, replayed byte for byte by DEL, CHECK and GC) and, once
 * the delegate's ADD succeeded, its result. Neither a network name nor a
 * container ID can contain ':' or '/', and an interface name cannot contain
 * either, so the file name splits unambiguously. `_attachments` cannot clash
 * with a file of the old layout: container IDs start with a letter or digit.
 *
 * The old layout (weft before per-attachment state, and flannel's plugin) was
 * `<dataDir>/<containerId>` holding only the delegate config. Such a file is
 * adopted the first time a command needs it (see adoptLegacy), so an upgrade
 * strands no container.
 *
 * Files are 0600 in 0700 directories, written atomically (temp file, fsync,
 * rename, fsync of the directory).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError } from './errors.js';
import { isJsonObject, type JsonObject } from './netconf.js';

export const ATTACHMENTS_DIR = '_attachments';
/** Temp files start with a dot, so listings never mistake them for records. */
const TEMP_PREFIX = '.tmp-';

export interface AttachmentKey {
  readonly network: string;
  readonly containerId: string;
  readonly ifname: string;
}

export interface AttachmentRecord extends AttachmentKey {
  /** CNI_NETNS of the ADD ('' when unknown, e.g. adopted from the old layout). */
  readonly netns: string;
  /** The delegate config text exactly as the delegate got it. */
  readonly conf: string;
  /** The delegate's ADD result, once it succeeded. */
  readonly result?: JsonObject;
}

function ioError(what: string, err: unknown): CniError {
  return new CniError(CniCode.IoFailure, `${what}: ${(err as Error).message}`, { cause: err });
}

export function networkDir(dataDir: string, network: string): string {
  return join(dataDir, ATTACHMENTS_DIR, network);
}

export function recordPath(dataDir: string, key: AttachmentKey): string {
  return join(networkDir(dataDir, key.network), `${key.containerId}:${key.ifname}`);
}

export function describeKey(key: AttachmentKey): string {
  return `${key.network}/${key.containerId}/${key.ifname}`;
}

export function saveAttachment(dataDir: string, record: AttachmentRecord): void {
  const dir = networkDir(dataDir, record.network);
  const { network, containerId, ifname, netns, conf, result } = record;
  writeAtomically(dir, `${containerId}:${ifname}`, JSON.stringify({ network, containerId, ifname, netns, conf, ...(result === undefined ? {} : { result }) }));
}

/** The record, undefined when there is none, or 'unreadable' when the file is not a record. */
export function readAttachment(dataDir: string, key: AttachmentKey): AttachmentRecord | 'unreadable' | undefined {
  const text = readOptional(recordPath(dataDir, key));
  return text === undefined ? undefined : parseRecord(text, key) ?? 'unreadable';
}

/** Removes a record; a missing one is fine (DEL is idempotent). */
export function removeAttachment(dataDir: string, key: AttachmentKey): void {
  removeFile(recordPath(dataDir, key));
}

/** Every record of one network; unreadable files are reported with their key and no record. */
export function listAttachments(dataDir: string, network: string): Array<{ key: AttachmentKey; record: AttachmentRecord | undefined }> {
  return listNames(networkDir(dataDir, network)).flatMap((name) => {
    const colon = name.indexOf(':');
    if (colon <= 0) return [];
    const key = { network, containerId: name.slice(0, colon), ifname: name.slice(colon + 1) };
    const text = readOptional(join(networkDir(dataDir, network), name));
    return text === undefined ? [] : [{ key, record: parseRecord(text, key) }];
  });
}

/** Every readable record in dataDir, all networks (used to name the containers on a bridge). */
export function listAllAttachments(dataDir: string): AttachmentRecord[] {
  return listNames(join(dataDir, ATTACHMENTS_DIR))
    .flatMap((network) => listAttachments(dataDir, network).flatMap((a) => (a.record === undefined ? [] : [a.record])));
}

// ---- the old layout: <dataDir>/<containerId> holding the delegate config ----

/** Container IDs that have an old-layout file. */
export function listLegacy(dataDir: string): string[] {
  return listNames(dataDir).filter((name) => name !== ATTACHMENTS_DIR && !name.startsWith('_'));
}

/** An old-layout file: its text and the network it was written for (undefined when it is not a config). */
export function readLegacy(dataDir: string, containerId: string): { text: string; network: string | undefined } | undefined {
  const text = readOptional(join(dataDir, containerId));
  if (text === undefined) return undefined;
  const conf = parseConf(text);
  const name = conf?.['name'];
  return { text, network: typeof name === 'string' ? name : undefined };
}

export function removeLegacy(dataDir: string, containerId: string): void {
  removeFile(join(dataDir, containerId));
}

/**
 * Adopts the old-layout file of `key.containerId` when it was written for
 * `key.network`: it becomes the record of each of `ifnames` (the config does
 * not depend on the interface name) and the old file is removed. Returns the
 * record for `key`, or undefined when there was nothing to adopt.
 */
export function adoptLegacy(dataDir: string, key: AttachmentKey, netns: string, ifnames: readonly string[] = [key.ifname]): AttachmentRecord | undefined {
  const legacy = readLegacy(dataDir, key.containerId);
  if (legacy === undefined || legacy.network !== key.network) return undefined;
  for (const ifname of new Set([key.ifname, ...ifnames])) {
    if (readAttachment(dataDir, { ...key, ifname }) === undefined) saveAttachment(dataDir, { ...key, ifname, netns, conf: legacy.text });
  }
  removeLegacy(dataDir, key.containerId);
  return { ...key, netns, conf: legacy.text };
}

/** A delegate config text as an object with a string `type`, or undefined when it is not one. */
export function parseConf(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) && typeof value['type'] === 'string' && value['type'] !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}

function parseRecord(text: string, key: AttachmentKey): AttachmentRecord | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (!isJsonObject(value) || typeof value['conf'] !== 'string') return undefined;
    const result = value['result'];
    return {
      ...key,
      netns: typeof value['netns'] === 'string' ? value['netns'] : '',
      conf: value['conf'],
      ...(isJsonObject(result) ? { result } : {}),
    };
  } catch {
    return undefined;
  }
}

function writeAtomically(dir: string, name: string, text: string): void {
  const temp = join(dir, `${TEMP_PREFIX}${name.replace(':', '_')}-${process.pid}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, join(dir, name));
    syncDirectory(dir);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // nothing to clean up
    }
    throw ioError(`cannot save the attachment record in ${dir}`, err);
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') return undefined;
    throw ioError(`cannot read ${path}`, err);
  }
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError(`cannot remove ${path}`, err);
  }
}

/** Names in a directory, temp files excluded; a missing directory has none. */
function listNames(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => !name.startsWith('.'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw ioError(`cannot list ${dir}`, err);
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
