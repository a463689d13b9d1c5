/**
 * One configuration per host for weftd and weftctl: flags, then `WEFTD_*`
 * variables, then the env file weftd's unit loads (`/etc/weft/weftd.env`,
 * or `--config-file`), then the built-in defaults. So `weftctl status` on an
 * installed host needs no flags: it finds etcd, TLS files, node name and
 * subnet file where weftd does. A missing env file is fine; an unreadable or
 * malformed one is a UsageError naming the file and line.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../core/errors.js';
import { parseEnvFile } from '../core/env-file.js';
import { checkBooleanSpellings, envName } from './strict-booleans.js';

export const DEFAULT_ENV_FILE = '/etc/weft/weftd.env';
export const ENV_PREFIX = 'WEFTD';
export const ENV_FILE_OPTION = {
  type: 'string', default: DEFAULT_ENV_FILE,
  describe: 'WEFTD_* settings file (systemd EnvironmentFile syntax); flags and WEFTD_* variables win; a missing file is ignored',
} as const;

/** The value of `--config-file` in args (either form), else the default. */
export function envFilePath(args: readonly string[]): string {
  let path = DEFAULT_ENV_FILE;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') break;
    if (arg === '--config-file') path = args[i + 1] ?? '';
    else if (arg.startsWith('--config-file=')) path = arg.slice('--config-file='.length);
  }
  if (path === '') throw new UsageError('--config-file needs a path');
  return path;
}

/** The file's variables; an empty map when it does not exist. */
export async function readEnvFile(path: string): Promise<ReadonlyMap<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw new UsageError(`--config-file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const parsed = parseEnvFile(text);
  if (!parsed.ok) throw new UsageError(`${path}: ${parsed.errors.join('; ')}`);
  return parsed.values;
}

/** The host's configuration as read before the command line: WEFTD_* variables over the env file. */
export interface HostSettings {
  readonly path: string;
  /** From the env file only (weftd: its own environment already goes through yargs). */
  readonly file: ReadonlyMap<string, string>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export async function readHostSettings(args: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<HostSettings> {
  const path = envFilePath(args);
  return { path, file: await readEnvFile(path), env };
}

/** `flag → value` for the given flags, the environment over the file, as a yargs config object (the command line wins). */
export function settingsFor(settings: HostSettings, flags: readonly string[], options: { fileOnly?: boolean } = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const flag of flags) {
    const name = envName(ENV_PREFIX, flag);
    const value = (options.fileOnly ? undefined : settings.env[name]) ?? settings.file.get(name);
    if (value !== undefined) out[flag] = value;
  }
  return out;
}

/** Boolean spellings in the arguments, the environment and the file (see strict-booleans.ts). */
export function checkHostBooleans(args: readonly string[], settings: HostSettings, booleanFlags: readonly string[], envBooleans: readonly string[]): void {
  checkBooleanSpellings(args, settings.env, ENV_PREFIX, envBooleans);
  try {
    checkBooleanSpellings([], Object.fromEntries(settings.file), ENV_PREFIX, envBooleans);
  } catch (err) {
    throw new UsageError(`${settings.path}: ${(err as Error).message}`);
  }
  checkBooleanSpellings(args, {}, undefined, booleanFlags);
}

/**
 * `WEFTD_*` names in the env file that are not a setting of `flags` (a typo
 * would otherwise be ignored). Other variables (a proxy, NODE_OPTIONS) are
 * the unit's business and left alone.
 */
export function unknownFileSettings(settings: HostSettings, flags: readonly string[]): string[] {
  const known = new Set(flags.map((f) => envName(ENV_PREFIX, f)));
  return [...settings.file.keys()].filter((k) => k.startsWith(`${ENV_PREFIX}_`) && !known.has(k));
}
