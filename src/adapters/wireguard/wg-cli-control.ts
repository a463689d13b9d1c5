/**
 * WireguardControl through the `wg` tool (wireguard-tools): the control path
 * of kernel WireGuard, which has no UAPI socket. `wg` reaches a kernel device
 * over genetlink and a wireguard-go device over its UAPI socket with the same
 * text, so this class is proven against wireguard-go on a machine without the
 * module (test/integration/wireguard-wg-cli.test.ts).
 *
 * - get: `wg show <dev> dump`, parsed by core/wireguard/wg-cli.ts. Its stdout
 *   holds the private key: it is parsed and dropped, never logged or quoted.
 * - set: `wg set <dev> …` (argv built by wgSetCommand); the private key and
 *   PSKs go through files with mode 0600 in a fresh 0700 directory under
 *   `secretDir` (default /run/weft, a tmpfs), removed when `wg` returns. The
 *   argv has only their paths (`ps` shows argv to every user).
 * - A failed `wg set` may have applied part of the request (wg sends one
 *   request, which the device applies in order): the error always carries an
 *   errno (from wg's "Unable to modify interface: <reason>", EIO when the
 *   reason is unknown) so peer-sync.ts reads the device back.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WireguardControlError } from '../../core/wireguard/errors.js';
import { DEFAULT_RUN_DIR } from '../../core/wireguard/device.js';
import { type DeviceState, type SetRequest } from '../../core/wireguard/uapi-codec.js';
import { parseWgDump, wgDumpArgs, wgSetCommand } from '../../core/wireguard/wg-cli.js';
import { KernelCommandError } from '../../core/errors.js';
import type { CommandRunner } from '../iproute2/runner.js';
import type { WireguardControl } from './uapi-client.js';

export interface WgCliControlOptions {
  readonly device: string;
  readonly runner: CommandRunner;
  /** Default `wg` from PATH. */
  readonly binary?: string;
  /** Where the short-lived key files are written (default /run/weft). */
  readonly secretDir?: string;
}

/** wg's strerror text → the negative errno the UAPI would send. */
const ERRNO_BY_REASON: Readonly<Record<string, number>> = {
  'Operation not permitted': -1, 'No such file or directory': -2, 'Input/output error': -5, 'Permission denied': -13,
  'No such device': -19, 'Invalid argument': -22, 'Protocol not supported': -93, 'Address already in use': -98,
  'Cannot assign requested address': -99,
};

/** The errno of a failed wg command from its stderr; EIO when wg gave no known reason. */
export function wgErrno(stderr: string): number {
  const m = /Unable to (?:modify|access) interface: (.+)/.exec(stderr);
  return (m && ERRNO_BY_REASON[m[1]?.trim() ?? '']) ?? -5;
}

export class WgCliControl implements WireguardControl {
  readonly device: string;
  readonly #run: CommandRunner;
  readonly #binary: string;
  readonly #secretDir: string;

  constructor(options: WgCliControlOptions) {
    this.device = options.device;
    this.#run = options.runner;
    this.#binary = options.binary ?? 'wg';
    this.#secretDir = options.secretDir ?? DEFAULT_RUN_DIR;
  }

  async get(): Promise<DeviceState> {
    const result = await this.#wg('get', wgDumpArgs(this.device));
    if (result.exitCode !== 0) {
      throw this.#error('get', `wg show ${this.device} dump failed: ${firstLine(result.stderr)}`, wgErrno(result.stderr));
    }
    const parsed = parseWgDump(result.stdout);
    if (!parsed.ok) throw this.#error('get', `wg show ${this.device} dump printed an unreadable dump: ${parsed.reason}`);
    return parsed.value;
  }

  async set(request: SetRequest): Promise<void> {
    await mkdir(this.#secretDir, { recursive: true, mode: 0o755 });
    const dir = await mkdtemp(join(this.#secretDir, 'wg-set-'));
    try {
      const command = wgSetCommand(this.device, request, dir);
      for (const file of command.files) await writeFile(file.path, `${file.key.base64()}\n`, { mode: 0o600, flag: 'wx' });
      const result = await this.#wg('set', command.args);
      if (result.exitCode !== 0) {
        const errno = wgErrno(result.stderr);
        throw this.#error('set', `wg set ${this.device} failed (errno ${errno}): ${firstLine(result.stderr)}; earlier changes may be applied`, errno);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async #wg(operation: 'get' | 'set', args: readonly string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    try {
      return await this.#run(this.#binary, args, { allowFailure: true });
    } catch (err) {
      const why = err instanceof KernelCommandError ? firstLine(err.message) : String(err);
      throw this.#error(operation, `${this.#binary} ${operation === 'get' ? 'show' : 'set'} ${this.device}: ${why}`, undefined, err);
    }
  }

  #error(operation: 'get' | 'set', message: string, errno?: number, cause?: unknown): WireguardControlError {
    return new WireguardControlError(message, {
      device: this.device, socketPath: '', operation, ...(errno === undefined ? {} : { errno }), ...(cause === undefined ? {} : { cause }),
    });
  }
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '(no message)';
}
