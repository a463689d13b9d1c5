/**
 * The bench's view of the kernel from outside weftd: two long-lived children
 * in the bench's (= the rig host's) network namespace, `ip -4 -o -N -ts
 * monitor label link address route neigh` and `bridge -timestamp monitor
 * fdb`, writing to files the bench polls (line-file.ts: a pipe the bench is
 * slow to drain makes the kernel drop notifications). Each change is timed
 * by the timestamp its monitor printed on receiving it (monitor-timestamps.ts),
 * put on the bench's performance.now() timeline; the bench's reading lag is
 * kept (lagMs) to show how busy it was. Lines are typed by weft's one codec
 * for these formats (core/monitor-lines.ts); the raw text is kept too, for
 * lines it has no type for (`[ADDR]`). A monitor that reports dropped
 * notifications on stderr is recorded in `losses`: figures from that window
 * are not trustworthy, and the rows check it.
 *
 * `-4` keeps the AF_BRIDGE neighbour messages (the FDB, printed again in a
 * different shape) out of `ip monitor`; `bridge monitor fdb` reports them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { execa } from 'execa';
import type { FdbChange, LinkChange, NeighborChange, RouteChange } from '../src/core/kernel-change.js';
import { parseFdbLine, parseIpMonitorLine, parseMonitorStderr } from '../src/core/monitor-lines.js';
import { childEnv } from '../test/helpers/weftd-process.js';
import { LineFile } from './line-file.js';
import { parseBridgeTimestamp, splitIpTimestamp } from './monitor-timestamps.js';

export type TypedChange = RouteChange | NeighborChange | FdbChange | LinkChange;

export interface KernelEvent {
  /** When the monitor received the change, on the performance.now() timeline. */
  readonly at: number;
  readonly text: string;
  /** The line typed, or undefined for one the codec has no type for (addresses, other tables). */
  readonly change: TypedChange | undefined;
}

export type KernelListener = (event: KernelEvent) => void;

/** One stdout line → a change with its monitor timestamp, or undefined for lines that are not one (blank, a timestamp line). */
type LineReader = (line: string) => { epochMs: number | undefined; text: string; change: TypedChange | undefined } | undefined;

function ipLines(): LineReader {
  return (line) => {
    if (line.trim() === '') return undefined;
    const { epochMs, rest } = splitIpTimestamp(line);
    return { epochMs, text: rest, change: parseIpMonitorLine(rest) };
  };
}

/** bridge prints each message's timestamp on a line of its own, before it. */
function bridgeLines(): LineReader {
  let pending: number | undefined;
  return (line) => {
    if (line.trim() === '') return undefined;
    const stamp = parseBridgeTimestamp(line);
    if (stamp !== undefined) { pending = stamp; return undefined; }
    const epochMs = pending;
    pending = undefined;
    return { epochMs, text: line, change: parseFdbLine(line) };
  };
}

const CANARY = 'wbcanary';
const POLL_MS = 10;

interface Source { readonly file: LineFile; readonly read: LineReader }

export class KernelMonitor {
  readonly #children: ChildProcess[] = [];
  readonly #sources: Source[] = [];
  readonly #listeners = new Set<KernelListener>();
  readonly #timer: NodeJS.Timeout;
  /** When the bench read each line minus when the monitor received it, ms. */
  readonly lagMs: number[] = [];
  /** Dropped notifications reported by a monitor (performance.now(), reason). */
  readonly losses: { at: number; reason: string }[] = [];
  #exited: string | undefined;

  private constructor() {
    this.#timer = setInterval(() => this.#drain(), POLL_MS);
  }

  /** Starts both monitors, writing to files in `dir`; returns once each has reported a canary change. */
  static async start(dir: string): Promise<KernelMonitor> {
    const monitor = new KernelMonitor();
    monitor.#spawn('ip', ['-4', '-o', '-N', '-ts', 'monitor', 'label', 'link', 'address', 'route', 'neigh'], `${dir}/ip-monitor.txt`, ipLines());
    monitor.#spawn('bridge', ['-timestamp', 'monitor', 'fdb'], `${dir}/bridge-monitor.txt`, bridgeLines());
    try {
      await monitor.#canary();
    } catch (err) {
      monitor.stop();
      throw err;
    }
    return monitor;
  }

  /** Calls `listener` for every later line; returns the unsubscribe function. */
  on(listener: KernelListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The first later event matching, or undefined after `timeoutMs`. */
  waitFor(match: (e: KernelEvent) => boolean, timeoutMs: number): Promise<KernelEvent | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { off(); resolve(undefined); }, timeoutMs);
      const off = this.on((e) => { if (match(e)) { clearTimeout(timer); off(); resolve(e); } });
    });
  }

  /** Reasons of the losses reported at or after `since` (performance.now()). */
  lostSince(since: number): string[] {
    return this.losses.filter((l) => l.at >= since).map((l) => l.reason);
  }

  /** Ends both children (by their PIDs) and the polling. */
  stop(): void {
    clearInterval(this.#timer);
    for (const child of this.#children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    for (const source of this.#sources) source.file.close();
  }

  /** Throws if a monitor died: every later figure would be wrong. */
  assertAlive(): void {
    if (this.#exited) throw new Error(`kernel monitor ${this.#exited} exited; measurements after that are invalid`);
  }

  #spawn(file: string, args: string[], path: string, read: LineReader): void {
    const out = new LineFile(path);
    const child = spawn(file, args, { stdio: ['ignore', out.writeFd, 'pipe'], env: childEnv({ TZ: 'UTC' }) });
    this.#children.push(child);
    this.#sources.push({ file: out, read });
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      for (const line of text.split('\n')) {
        const lost = parseMonitorStderr(line);
        if (lost) this.losses.push({ at: performance.now(), reason: `${file}: ${lost.reason}` });
      }
    });
    child.on('exit', (code, signal) => { this.#exited ??= `\`${file} ${args.join(' ')}\` (${signal ?? code})`; });
  }

  #drain(): void {
    for (const { file, read } of this.#sources) {
      const lines = file.readLines();
      if (lines.length === 0) continue;
      const arrivedAt = performance.now();
      for (const line of lines) {
        const parsed = read(line);
        if (parsed === undefined) continue;
        const at = parsed.epochMs === undefined ? arrivedAt : parsed.epochMs - performance.timeOrigin;
        this.lagMs.push(arrivedAt - at);
        const event: KernelEvent = { at, text: parsed.text, change: parsed.change };
        for (const listener of [...this.#listeners]) listener(event);
      }
    }
  }

  /** A neighbour and an FDB entry on a throwaway device: both monitors must see them. */
  async #canary(): Promise<void> {
    await execa('ip', ['link', 'del', CANARY]).catch(() => undefined);
    const seen = Promise.all([
      this.waitFor((e) => e.change?.kind === 'neighbor' && e.change.device === CANARY, 10_000),
      this.waitFor((e) => e.change?.kind === 'fdb' && e.change.device === CANARY, 10_000),
    ]);
    // The children need a moment to subscribe: repeat the canary until both saw one.
    const deadline = performance.now() + 10_000;
    await execa('ip', ['link', 'add', CANARY, 'type', 'vxlan', 'id', '98', 'dstport', '8498', 'nolearning']);
    let done = false;
    void seen.then(() => { done = true; });
    for (let i = 0; !done && performance.now() < deadline; i++) {
      const mac = `02:00:00:00:00:${(i % 256).toString(16).padStart(2, '0')}`;
      await execa('ip', ['neigh', 'replace', `198.51.100.${1 + (i % 250)}`, 'lladdr', mac, 'dev', CANARY, 'nud', 'permanent']);
      await execa('bridge', ['fdb', 'append', mac, 'dev', CANARY, 'dst', '198.51.100.254', 'self', 'permanent']);
      await new Promise((r) => setTimeout(r, 100));
    }
    await execa('ip', ['link', 'del', CANARY]);
    const [neigh, fdb] = await seen;
    if (!neigh || !fdb) throw new Error(`kernel monitor did not report its canary within 10 s (neigh: ${Boolean(neigh)}, fdb: ${Boolean(fdb)})`);
  }
}
