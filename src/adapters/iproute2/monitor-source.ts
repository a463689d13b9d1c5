/**
 * One monitor command run as a long-lived child, restarted whenever it exits
 * until stopped (the engine of IpRoute2Monitor, kernel-monitor.ts): its
 * stdout split into lines and parsed, one batch per chunk; overflow reports
 * on its stderr and its restarts turned into `lost` changes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { KernelChange, LostChange } from '../../core/kernel-change.js';
import { parseMonitorStderr } from '../../core/monitor-lines.js';
import type { Tool } from './argv.js';
import { isSubscribed } from './netlink-subscription.js';

export interface MonitorSettings {
  /** First restart delay; it doubles up to `maxDelay`, and starts over after a child that lived `maxDelay`. */
  readonly firstDelay: number;
  readonly maxDelay: number;
  /** How long to wait for a child to join its netlink groups. */
  readonly subscribeTimeoutMs: number;
}

/** Long-lived, output read as a stream (nothing buffered), no stdin, never rejecting. */
const PROCESS_OPTIONS = {
  buffer: false, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe', reject: false,
  env: { LC_ALL: 'C' }, forceKillAfterDelay: 2000, cleanup: true,
} as const;

function startProcess(tool: Tool, args: readonly string[]) {
  return execa(tool, [...args], PROCESS_OPTIONS);
}

type MonitorProcess = ReturnType<typeof startProcess>;

/**
 * What one MonitorSource runs and where its changes go: `C`, what a line
 * parses to (kernel entry changes for the data plane's monitor, interface
 * events for the underlay's), delivered with `lost` changes among them.
 */
export interface SourceSpec<C = KernelChange> {
  readonly tool: Tool;
  readonly args: readonly string[];
  readonly parse: (line: string) => C | undefined;
  /** False for a change to drop (another device's). */
  readonly keep: (change: C) => boolean;
  readonly deliver: (changes: readonly (C | LostChange)[]) => void;
  readonly settings: MonitorSettings;
}

/** One running child and what it has written so far. */
interface Child {
  readonly process: MonitorProcess | undefined;
  /** Settles (never rejects) when the process has exited and its pipes closed. */
  readonly done: Promise<string>;
  readonly startedAt: number;
  stdoutRest: string;
  stderrRest: string;
  /** The last few stderr lines that were not overflow reports, for the exit reason. */
  stderrTail: string[];
}

/** A line longer than this without a newline is not monitor output: it is dropped. */
const MAX_PARTIAL_LINE = 1 << 16;

/** One monitor command, restarted whenever it exits until stopped. */
export class MonitorSource<C = KernelChange> {
  #child: Child | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delay: number;
  #stopped = false;
  /** Why notifications may have been missed before the next child: reported as `lost` once it listens. */
  #pendingLost: string | undefined;

  readonly #spec: SourceSpec<C>;

  constructor(spec: SourceSpec<C>) {
    this.#spec = spec;
    this.#delay = spec.settings.firstDelay;
  }

  get pid(): number | undefined {
    return this.#child?.process?.pid;
  }

  /**
   * Starts the child and waits until it is subscribed, exits or times out;
   * then reports why notifications may have been missed before it, if they
   * may have been. A child that exits first leaves that to the next one.
   */
  async launch(): Promise<void> {
    if (this.#stopped) return;
    const child = this.#spawn();
    this.#child = child;
    const exited = child.done.then(() => 'exited' as const);
    const outcome = await Promise.race([this.#waitSubscribed(child), exited]);
    if (this.#stopped || this.#child !== child || outcome === 'exited') return;
    const lost = this.#pendingLost;
    this.#pendingLost = undefined;
    if (outcome === 'timeout') {
      this.#spec.deliver([lostChange(`${this.#spec.tool} monitor not seen subscribed after ${this.#spec.settings.subscribeTimeoutMs} ms${lost === undefined ? '' : `; ${lost}`}`)]);
    } else if (lost !== undefined) {
      this.#spec.deliver([lostChange(lost)]);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const child = this.#child;
    child?.process?.kill('SIGTERM');
    await child?.done;
    this.#child = undefined;
  }

  #spawn(): Child {
    const child: Child = { process: undefined, done: Promise.resolve(''), startedAt: Date.now(), stdoutRest: '', stderrRest: '', stderrTail: [] };
    let subprocess: MonitorProcess;
    try {
      subprocess = startProcess(this.#spec.tool, this.#spec.args);
    } catch (err) {
      const done = Promise.resolve(`could not start: ${err instanceof Error ? err.message : String(err)}`);
      const failed = { ...child, done };
      void done.then((reason) => this.#onExit(failed, reason));
      return failed;
    }
    const done = subprocess.then(
      (result) => result.signal !== undefined ? `killed by ${result.signal}`
        : result.exitCode !== undefined ? `exited (${result.exitCode})` : `failed: ${result.shortMessage ?? 'unknown error'}`,
      (err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`,
    );
    const running: Child = { ...child, process: subprocess, done };
    subprocess.stdout.setEncoding('utf8');
    subprocess.stderr.setEncoding('utf8');
    subprocess.stdout.on('data', (chunk: string) => this.#onStdout(running, chunk));
    subprocess.stderr.on('data', (chunk: string) => this.#onStderr(running, chunk));
    subprocess.stdout.on('error', () => undefined); // the exit reports it
    subprocess.stderr.on('error', () => undefined);
    void done.then((reason) => this.#onExit(running, reason));
    return running;
  }

  async #waitSubscribed(child: Child): Promise<'subscribed' | 'timeout'> {
    const pid = child.process?.pid;
    const deadline = Date.now() + this.#spec.settings.subscribeTimeoutMs;
    while (Date.now() < deadline && !this.#stopped && this.#child === child) {
      if (pid !== undefined && (await isSubscribed(pid))) return 'subscribed';
      await sleep(5);
    }
    return 'timeout';
  }

  #onStdout(child: Child, chunk: string): void {
    const lines = splitLines(child, 'stdoutRest', chunk);
    const changes: C[] = [];
    for (const line of lines) {
      const change = this.#spec.parse(line);
      if (change !== undefined && this.#spec.keep(change)) changes.push(change);
    }
    this.#spec.deliver(changes); // even from a child being replaced: what it read is still news
  }

  #onStderr(child: Child, chunk: string): void {
    let lost: LostChange | undefined;
    for (const line of splitLines(child, 'stderrRest', chunk)) {
      const overflow = parseMonitorStderr(line);
      if (overflow !== undefined) lost ??= { kind: 'lost', reason: `${this.#spec.tool} monitor: ${overflow.reason}` };
      else if (line.trim() !== '') child.stderrTail = [...child.stderrTail.slice(-2), line.trim()];
    }
    if (lost !== undefined) this.#spec.deliver([lost]);
  }

  #onExit(child: Child, how: string): void {
    if (this.#stopped || child !== this.#child) return;
    this.#child = undefined;
    const stderr = [...child.stderrTail, child.stderrRest.trim()].filter((l) => l !== '').join(' | ');
    this.#pendingLost = `${this.#spec.tool} monitor ${how}${stderr === '' ? '' : `: ${stderr}`}; restarted`;
    if (Date.now() - child.startedAt >= this.#spec.settings.maxDelay) this.#delay = this.#spec.settings.firstDelay;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, this.#spec.settings.maxDelay);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.launch();
    }, delay);
  }
}

function lostChange(reason: string): LostChange {
  return { kind: 'lost', reason };
}

/** Appends `chunk` to what was left of the last line and returns the complete lines. */
function splitLines(child: Child, rest: 'stdoutRest' | 'stderrRest', chunk: string): string[] {
  const text = child[rest] + chunk;
  const end = text.lastIndexOf('\n');
  if (end < 0) {
    child[rest] = text.length > MAX_PARTIAL_LINE ? '' : text;
    return [];
  }
  child[rest] = text.slice(end + 1);
  return text.slice(0, end).split('\n');
}
