/**
 * Runs the real weftd binary as a child process (optionally inside a network
 * namespace) and collects its JSON log lines, so tests can wait for facts
 * ("acquired subnet lease", "peer set changed") instead of sleeping.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const WEFTD_BIN = `${REPO_ROOT}bin/weftd`;
export const WEFTCTL_BIN = `${REPO_ROOT}bin/weftctl`;

/**
 * The environment for a child weftd/weftctl: without tap's loader hooks
 * (NODE_OPTIONS, TAP_*) and without NODE_EXTRA_CA_CERTS, which adds ~55 ms to
 * every Node start on these machines.
 */
export function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k === 'NODE_EXTRA_CA_CERTS' || k.startsWith('TAP') || k.startsWith('_TAPJS')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * argv to run a Node script from a test: through `env -u NODE_OPTIONS`, because
 * tap's process tracking re-injects its loader into every child's
 * NODE_OPTIONS, and that loader would also be loaded into (and slow down) every weftd started.
 */
export function nodeArgv(script: string, args: readonly string[], netns?: string): [string, string[]] {
  const inner = ['-u', 'NODE_OPTIONS', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, script, ...args];
  return netns ? ['ip', ['netns', 'exec', netns, 'env', ...inner]] : ['env', inner];
}

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface WeftdProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  stderr(): string;
  /** Resolves with the first log line (already seen or future) matching. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number, what?: string): Promise<LogLine>;
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startWeftd(args: readonly string[], options: { netns?: string; env?: NodeJS.ProcessEnv } = {}): WeftdProcess {
  const [cmd, argv] = nodeArgv(WEFTD_BIN, args, options.netns);
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv(options.env) });
  const logs: LogLine[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let stderr = '';
  let partial = '';
  child.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const text of lines) {
      if (!text.trim()) continue;
      let line: LogLine;
      try { line = JSON.parse(text) as LogLine; } catch { line = { msg: text }; }
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.match(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
      }
    }
  });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child, logs, exited,
    stderr: () => stderr,
    waitForLog(match, timeoutMs = 20000, what = 'log line') {
      const seen = logs.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last logs:\n${logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        const waiter = { match, resolve: (l: LogLine) => { clearTimeout(timer); resolve(l); } };
        waiters.push(waiter);
        void exited.then(() => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer);
            reject(new Error(`weftd exited while waiting for ${what}; last logs:\n${logs.slice(-8).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${stderr.slice(-2000)}`));
          }
        });
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs weftctl to completion. */
export async function runWeftctl(args: readonly string[], options: { netns?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, argv] = nodeArgv(WEFTCTL_BIN, args, options.netns);
  const r = await execa(cmd, argv, { env: childEnv(options.env), extendEnv: false, reject: false, ...(options.input === undefined ? {} : { input: options.input }) });
  return { code: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export const msgIs = (msg: string) => (l: LogLine): boolean => l.msg === msg;
