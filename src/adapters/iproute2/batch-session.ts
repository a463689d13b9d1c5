/**
 * A long-lived `ip -force -batch -` (or `bridge …`) child fed through stdin,
 * so that an event costs a write and a read, not a process start (~5 ms with
 * execa; perf-limits.md §1). iproute2 stays the only thing that speaks
 * netlink, and a child that dies cannot take weftd with it.
 *
 * How a request knows it is done: after its lines comes one marker line,
 * an object the tool does not know. With `-force` the tool reports every
 * failed line on stderr (unbuffered) as `Command failed -:<line>`, with line
 * numbers counted over the whole life of the child; the marker's own report
 * says every line before it was processed, and the reports between the
 * request's first line and the marker are its failures. When the child exits
 * first (`ip neigh` exits on a kernel error) or does not answer in time, the
 * request ends unfinished and the caller recovers the way it does for a
 * one-shot batch (IpRoute2.apply); the next request starts a new child.
 */
import { execa } from 'execa';
import type { BatchOutcome } from './batch.js';

/** Not a command of `ip` or `bridge`: the tool answers it with an error report naming its line. */
export const MARKER_LINE = 'weft-batch-mark';

const FAILED_RE = /^Command failed .*:(\d+)$/;

/** What a batch session needs from a child process (execa's in weftd; a scripted one in unit tests). */
export interface BatchChild {
  write(text: string): void;
  /** Ends stdin: the tool finishes what it has and exits. */
  end(): void;
  kill(): void;
  onStderr(listener: (chunk: string) => void): void;
  onExit(listener: (exitCode: number | undefined) => void): void;
}

export type BatchChildFactory = (file: string, args: readonly string[]) => BatchChild;

interface Pending {
  readonly first: number;
  readonly marker: number;
  readonly failedLines: Map<number, string>;
  lastReportedLine: number;
  readonly resolve: (outcome: BatchOutcome) => void;
  readonly timer: NodeJS.Timeout;
}

export interface BatchSessionOptions {
  readonly file: string;
  readonly args: readonly string[];
  readonly spawn?: BatchChildFactory;
  /** A request not answered in this time ends unfinished and the child is killed (default 30 s). */
  readonly timeoutMs?: number;
  /**
   * A child is replaced once it has run this many lines (default 1000):
   * `ip` and `bridge` keep memory for every command of a batch (measured:
   * ~40 MB and ~20 MB of RSS after the 15 000 lines of a 5000-peer sync),
   * so a long-lived child runs events, and a large request runs in a
   * child of its own that ends with it.
   */
  readonly maxLines?: number;
}

export class BatchSession {
  readonly #options: BatchSessionOptions;
  #child: BatchChild | undefined;
  /** Lines written to the current child so far. */
  #lines = 0;
  /** stderr text after the last complete line. */
  #partial = '';
  /** Message lines since the last `Command failed` report. */
  #messages: string[] = [];
  #pending: Pending | undefined;
  /** Requests run one at a time: line numbers are the child's. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: BatchSessionOptions) {
    this.#options = options;
  }

  /** Runs `input` (complete lines) through the child; resolves when the tool processed them or stopped. */
  run(input: string): Promise<BatchOutcome> {
    const result = this.#queue.then(() => this.#run(input));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Ends the child (stdin closed: it finishes what it has and exits); later requests start none. */
  close(): void {
    this.#closed = true;
    this.restart();
  }

  /**
   * Lets the current child finish and exit; the next request starts a new
   * one. Needed whenever a device is created or deleted: iproute2 caches a
   * device's name → index in a long-lived batch, and would address a
   * recreated device by its old index.
   */
  restart(): void {
    const child = this.#child;
    this.#child = undefined;
    child?.end();
  }

  async #run(input: string): Promise<BatchOutcome> {
    if (this.#closed) return { finished: false, failedLines: new Map(), lastReportedLine: 0, trailing: 'the batch session is closed' };
    const count = countLines(input);
    const maxLines = this.#options.maxLines ?? 1000;
    if (this.#child && this.#lines + count + 1 > maxLines) this.restart();
    const outcome = await this.#send(input, count);
    if (this.#lines > maxLines) this.restart(); // done with a large request: its memory goes with its child
    return outcome;
  }

  #send(input: string, count: number): Promise<BatchOutcome> {
    const child = this.#child ?? this.#start();
    const first = this.#lines + 1;
    const marker = this.#lines + count + 1;
    this.#lines = marker;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#finish(false, `${this.#options.file} did not answer within ${this.#options.timeoutMs ?? 30_000} ms`);
        this.#kill(child);
      }, this.#options.timeoutMs ?? 30_000);
      this.#pending = { first, marker, failedLines: new Map(), lastReportedLine: 0, resolve, timer };
      child.write(`${input}${MARKER_LINE}\n`);
    });
  }

  #start(): BatchChild {
    const spawn = this.#options.spawn ?? execaChild;
    const child = spawn(this.#options.file, this.#options.args);
    this.#child = child;
    this.#lines = 0;
    this.#partial = '';
    this.#messages = [];
    child.onStderr((chunk) => { if (this.#child === child) this.#stderr(chunk); });
    child.onExit((code) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      this.#finish(false, [...this.#messages, this.#partial.trim()].filter((m) => m !== '').join('; ')
        || `${this.#options.file} exited with code ${code ?? 'unknown'}`);
    });
    return child;
  }

  #kill(child: BatchChild): void {
    if (this.#child === child) this.#child = undefined;
    child.kill();
  }

  #stderr(chunk: string): void {
    const text = this.#partial + chunk;
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.trim();
      if (line === '') continue;
      const m = FAILED_RE.exec(line);
      if (!m) {
        this.#messages.push(line);
        continue;
      }
      const reported = Number(m[1]);
      const message = this.#messages.join('; ') || 'failed';
      this.#messages = [];
      const pending = this.#pending;
      if (!pending || reported < pending.first) continue; // a late report of an earlier, finished request
      if (reported >= pending.marker) {
        this.#finish(true, '');
        continue;
      }
      const line1 = reported - pending.first + 1;
      pending.failedLines.set(line1, message);
      pending.lastReportedLine = Math.max(pending.lastReportedLine, line1);
    }
  }

  #finish(finished: boolean, trailing: string): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    pending.resolve({ finished, failedLines: pending.failedLines, lastReportedLine: pending.lastReportedLine, trailing });
  }
}

function countLines(input: string): number {
  let n = 0;
  for (let i = input.indexOf('\n'); i !== -1; i = input.indexOf('\n', i + 1)) n++;
  return n;
}

/** The child through execa: argument array, no shell, `LC_ALL=C`, stdout ignored (the tools print nothing for changes). */
function execaChild(file: string, args: readonly string[]): BatchChild {
  const child = execa(file, [...args], {
    stdin: 'pipe', stdout: 'ignore', stderr: 'pipe', buffer: false, reject: false, env: { LC_ALL: 'C' }, encoding: 'utf8',
  });
  const exited: ((code: number | undefined) => void)[] = [];
  void child.then((result) => { for (const l of exited) l(result.exitCode); }, () => { for (const l of exited) l(undefined); });
  child.stdin?.on('error', () => undefined); // a child gone mid-write: its exit is reported
  return {
    write: (text) => { child.stdin?.write(text); },
    end: () => { child.stdin?.end(); },
    kill: () => { child.kill(); },
    onStderr: (listener) => { child.stderr?.setEncoding('utf8'); child.stderr?.on('data', (d: string) => listener(d)); },
    onExit: (listener) => { exited.push(listener); },
  };
}
