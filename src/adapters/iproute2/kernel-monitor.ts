/**
 * KernelMonitor on top of two long-lived iproute2 children:
 * `ip -4 -o -N monitor label link route neigh` and `bridge monitor fdb`.
 *
 * Why children and not a netlink socket in this process: the only Node
 * netlink binding (npm `netlink` 0.3.0) aborts the whole process when a
 * subscription socket overflows, even with an `error` listener. Here an
 * overflow is a line on the child's stderr (libnetlink's `netlink receive
 * error No buffer space available`, after which it keeps listening) and a
 * crash is a child exit: both become a `lost` change, never an exception in
 * weftd. iproute2 stays the only thing that speaks netlink.
 *
 * Output is read as it comes, split into lines and parsed
 * (core/kernel-change.ts); everything one chunk of a child's stdout held is
 * delivered as one batch, so a storm of events costs one callback per chunk.
 * A child that exits is started again after a backoff (200 ms doubling to
 * 10 s, back to 200 ms after a child that lived 10 s), and once the new one
 * is subscribed a `lost` change tells the caller to read the kernel again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import {
  type KernelChange, type LostChange, parseFdbLine, parseIpMonitorLine, parseMonitorStderr,
} from '../../core/kernel-change.js';
import { ChangeDelivery, type KernelChangeHandler, type KernelMonitor } from '../kernel-monitor.js';
import { type Tool, fdbMonitorArgv, ipMonitorArgv, withNetns } from './argv.js';
import { isSubscribed } from './netlink-subscription.js';

export interface IpRoute2MonitorOptions {
  /** Listen inside this named network namespace (`ip -n`, `bridge -n`), e.g. in tests. */
  readonly netns?: string | undefined;
  /**
   * weft's device: neighbour and FDB changes of other devices are dropped
   * before they are delivered. Route and link changes always pass: a route
   * replace can move weft's destination onto another device (reported only
   * as the new route), and a renamed device reports under its new name.
   */
  readonly device?: string | undefined;
  /** First and longest restart delay (default 200 ms and 10 s). */
  readonly restartDelayMs?: { readonly first: number; readonly max: number };
  /** How long to wait for a child to join its netlink groups (default 5 s). */
  readonly subscribeTimeoutMs?: number;
}

interface Settings {
  readonly firstDelay: number;
  readonly maxDelay: number;
  readonly subscribeTimeoutMs: number;
}

export class IpRoute2Monitor implements KernelMonitor {
  readonly #delivery = new ChangeDelivery();
  readonly #sources: ReadonlyMap<Tool, MonitorSource>;
  #state: 'new' | 'running' | 'stopped' = 'new';

  constructor(options: IpRoute2MonitorOptions = {}) {
    const settings: Settings = {
      firstDelay: options.restartDelayMs?.first ?? 200,
      maxDelay: options.restartDelayMs?.max ?? 10_000,
      subscribeTimeoutMs: options.subscribeTimeoutMs ?? 5000,
    };
    const device = options.device;
    // A cheap test before parsing: a neighbour or FDB line of weft's device names it.
    const parseIp = (line: string): KernelChange | undefined =>
      device !== undefined && line.startsWith('[NEIGH]') && !line.includes(device) ? undefined : parseIpMonitorLine(line);
    const parseBridge = (line: string): KernelChange | undefined =>
      device !== undefined && !line.includes(device) ? undefined : parseFdbLine(line);
    const keep = (change: KernelChange): boolean =>
      device === undefined || (change.kind !== 'neighbor' && change.kind !== 'fdb') || change.device === device;
    const deliver = (changes: readonly KernelChange[]): void => this.#delivery.deliver(changes);
    this.#sources = new Map<Tool, MonitorSource>([
      ['ip', new MonitorSource({ tool: 'ip', args: withNetns(options.netns, ipMonitorArgv()), parse: parseIp, keep, deliver, settings })],
      ['bridge', new MonitorSource({ tool: 'bridge', args: withNetns(options.netns, fdbMonitorArgv()), parse: parseBridge, keep, deliver, settings })],
    ]);
  }

  /**
   * Starts both children and resolves once each has joined its netlink
   * groups, has failed (its recovery is reported as `lost`), or was not seen
   * subscribed within the timeout (reported as `lost` right away). Read the
   * kernel after this resolves, never before. Throws only when called twice.
   */
  async start(onChanges: KernelChangeHandler): Promise<void> {
    if (this.#state !== 'new') throw new Error(`IpRoute2Monitor.start called when ${this.#state}`);
    this.#state = 'running';
    this.#delivery.handler = onChanges;
    await Promise.all([...this.#sources.values()].map((source) => source.launch()));
  }

  /** Ends the children through their own handles (SIGTERM, SIGKILL after 2 s) and waits for them. Idempotent. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    this.#delivery.handler = undefined;
    await Promise.all([...this.#sources.values()].map((source) => source.stop()));
  }

  /** The PID of the running `ip` or `bridge` child (for tests that kill one). */
  pid(tool: Tool): number | undefined {
    return this.#sources.get(tool)?.pid;
  }
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

/** What one MonitorSource runs and where its changes go. */
interface SourceSpec {
  readonly tool: Tool;
  readonly args: readonly string[];
  readonly parse: (line: string) => KernelChange | undefined;
  /** False for a change to drop (another device's). */
  readonly keep: (change: KernelChange) => boolean;
  readonly deliver: (changes: readonly KernelChange[]) => void;
  readonly settings: Settings;
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
class MonitorSource {
  #child: Child | undefined;
  #timer: NodeJS.Timeout | undefined;
  #delay: number;
  #stopped = false;
  /** Why notifications may have been missed before the next child: reported as `lost` once it listens. */
  #pendingLost: string | undefined;

  readonly #spec: SourceSpec;

  constructor(spec: SourceSpec) {
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
    const changes: KernelChange[] = [];
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
