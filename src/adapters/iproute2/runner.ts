/**
 * Runs external commands with argument arrays (never a shell string) and turns
 * every failure into a KernelCommandError that names the command and carries
 * its stderr.
 */
import { execa } from 'execa';
import { KernelCommandError } from '../../core/errors.js';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

export interface RunOptions {
  /** Written to the command's stdin. */
  readonly input?: string;
  /** Return a non-zero exit instead of throwing (batch mode reports failures in stderr). */
  readonly allowFailure?: boolean;
}

/** Runs `file` with `args`; rejects with KernelCommandError unless `allowFailure` covers the exit. */
export type CommandRunner = (file: string, args: readonly string[], options?: RunOptions) => Promise<CommandResult>;

export interface ExecaRunnerOptions {
  /** Per-command time limit (default 30 s: a 5000-peer batch takes under 1 s). */
  readonly timeoutMs?: number;
  /** Aborts every running command, e.g. on daemon shutdown. */
  readonly signal?: AbortSignal;
}

/** The runner for `ip`, `bridge` and `iptables`: execa, argument arrays, no shell, `LC_ALL=C`, a time limit and an abort signal. */
export function execaRunner(options: ExecaRunnerOptions = {}): CommandRunner {
  return async (file, args, runOptions = {}) => {
    const command = [file, ...args];
    const result = await execa(file, [...args], {
      reject: false,
      timeout: options.timeoutMs ?? 30_000,
      ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
      ...(runOptions.input === undefined ? { stdin: 'ignore' as const } : { input: runOptions.input }),
      env: { LC_ALL: 'C' },
      stripFinalNewline: false, // the tool's output, verbatim
    });
    const stderr = typeof result.stderr === 'string' ? result.stderr : '';
    const stdout = typeof result.stdout === 'string' ? result.stdout : '';
    if (result.exitCode === undefined || result.timedOut || result.isCanceled) {
      const why = result.timedOut ? 'timed out' : result.isCanceled ? 'was cancelled' : 'could not run or was killed';
      throw new KernelCommandError(`${command.join(' ')} ${why}: ${result.shortMessage ?? ''}`.trim(), command, stderr, { cause: result });
    }
    if (result.exitCode !== 0 && !runOptions.allowFailure) {
      throw new KernelCommandError(`${command.join(' ')} failed (exit ${result.exitCode}): ${firstLine(stderr)}`, command, stderr);
    }
    return { stdout, stderr, exitCode: result.exitCode };
  };
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '(no message)';
}
