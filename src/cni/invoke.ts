/**
 * Runs a delegate plugin found in CNI_PATH, like libcni's invoke package: the
 * same environment with CNI_COMMAND overridden, the config on stdin. A failed
 * delegate's JSON error on stdout becomes a CniError with the same code, so
 * the runtime sees the delegate's own code and message.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CniCode, CniError } from './errors.js';

export type DelegateCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';

/** The side-effect boundary for delegation; tests use a fake. */
export interface PluginInvoker {
  /**
   * Resolves with the delegate's stdout on success. Throws a DelegateError
   * when the delegate ran and failed, another CniError when it could not run.
   * `env` overrides CNI_* variables for this call (GC's DEL of one attachment).
   */
  exec(type: string, command: DelegateCommand, stdin: string, env?: Readonly<Record<string, string>>): Promise<string>;
}

/** The delegate ran and failed: whatever it did before failing may need a DEL. */
export class DelegateError extends CniError {}

export interface ExecInvokerOptions {
  readonly path: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Receives the delegate's stderr, which is never mixed into our stdout. */
  readonly onStderr: (type: string, text: string) => void;
}

interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function createExecInvoker(options: ExecInvokerOptions): PluginInvoker {
  return {
    async exec(type, command, stdin, overrides = {}) {
      const file = findPlugin(type, options.path);
      const env = { ...options.env, ...overrides, CNI_COMMAND: command };
      const result = await runWithRetry(file, stdin, env);
      if (result.stderr !== '') options.onStderr(type, result.stderr);
      if (result.code === 0) return result.stdout;
      throw delegateError(type, command, result);
    },
  };
}

/** The first executable regular file named `type` in the CNI_PATH dirs. */
export function findPlugin(type: string, path: readonly string[]): string {
  if (type === '' || type.includes('/') || type === '.' || type === '..') {
    throw new CniError(CniCode.InvalidNetworkConfig, `delegate type "${type}" is not a plugin name`);
  }
  for (const dir of path) {
    const file = join(dir, type);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(CniCode.Internal, `failed to find delegate plugin "${type}" in CNI_PATH [${path.join(' ')}]`);
}

/** Like libcni, retries "text file busy" (a plugin binary being replaced). */
async function runWithRetry(file: string, stdin: string, env: Record<string, string | undefined>): Promise<RunResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(file, stdin, env);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ETXTBSY' || attempt >= 5) {
        throw new CniError(CniCode.Internal, `cannot run delegate ${file}: ${(err as Error).message}`, { cause: err });
      }
      await sleep(100 * attempt);
    }
  }
}

function run(file: string, stdin: string, env: Record<string, string | undefined>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({
      code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'),
    }));
    child.stdin.on('error', () => { /* the delegate may exit without reading stdin */ });
    child.stdin.end(stdin);
  });
}

function delegateError(type: string, command: DelegateCommand, result: RunResult): DelegateError {
  const parsed = parseErrorJson(result.stdout);
  if (parsed !== undefined) {
    return new DelegateError(parsed.code, parsed.msg, parsed.details === undefined ? {} : { details: parsed.details });
  }
  const how = result.signal !== null ? `was killed by ${result.signal}` : `exited with ${result.code}`;
  const text = (result.stderr.trim() || result.stdout.trim()).slice(0, 2000);
  return new DelegateError(CniCode.Internal, `delegate ${type} ${command} ${how}${text === '' ? '' : `: ${text}`}`);
}

function parseErrorJson(stdout: string): { code: number; msg: string; details: string | undefined } | undefined {
  try {
    const value: unknown = JSON.parse(stdout);
    if (typeof value !== 'object' || value === null) return undefined;
    const { code, msg, details } = value as Record<string, unknown>;
    if (typeof code !== 'number' || !Number.isInteger(code)) return undefined;
    return { code, msg: typeof msg === 'string' ? msg : '', details: typeof details === 'string' && details !== '' ? details : undefined };
  } catch {
    return undefined;
  }
}
