/**
 * Starting weftd the way an operator does (`node bin/weftd …`, through
 * test/helpers/weftd-process.ts, NODE_EXTRA_CA_CERTS unset) and watching it
 * only from outside: the launch instant, /readyz on its health port, /proc.
 */
import { Agent, get } from 'node:http';
import { connect, createServer } from 'node:net';
import { execa } from 'execa';
import { WEFTD_BIN, childEnv, startWeftd, type WeftdProcess } from '../test/helpers/weftd-process.js';

export interface Launched {
  readonly weftd: WeftdProcess;
  readonly pid: number;
  /** performance.now() and Date.now() just before the spawn. */
  readonly at: number;
  readonly epochMs: number;
}

export function launchWeftd(args: readonly string[]): Launched {
  const epochMs = Date.now();
  const at = performance.now();
  const weftd = startWeftd(args);
  if (weftd.child.pid === undefined) throw new Error('weftd did not start (no pid)');
  return { weftd, pid: weftd.child.pid, at, epochMs };
}

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** True when 127.0.0.1:<port> accepts a TCP connection (closed at once). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** One kept-alive connection for the polls: a request on it costs weftd and the bench little. */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });

/** GET http://127.0.0.1:<port>/readyz → status code, or 0 when nothing answers. */
function readyzStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/readyz', agent: keepAlive, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

/** Before the health port accepts connections, it is probed this often (a refused connect is not free on a loaded 2-core VM). */
const PORT_PROBE_MS = 20;

/**
 * Resolves with performance.now() of the first 200 from /readyz: the port is
 * probed every PORT_PROBE_MS until it accepts, then /readyz is asked every
 * `everyMs` on one kept-alive connection. Rejects if weftd exits or after
 * `timeoutMs` from the launch.
 */
export async function waitReady(launched: Launched, port: number, everyMs: number, timeoutMs: number): Promise<number> {
  let exited = false;
  void launched.weftd.exited.then(() => { exited = true; });
  const deadline = launched.at + timeoutMs;
  let open = false;
  for (;;) {
    const asked = performance.now();
    open ||= await accepts(port);
    if (open && (await readyzStatus(port)) === 200) return performance.now();
    if (exited) throw new Error(`weftd exited before /readyz answered 200; stderr: ${launched.weftd.stderr().slice(-1000)}`);
    if (performance.now() > deadline) throw new Error(`/readyz not 200 within ${timeoutMs} ms of the launch`);
    await new Promise((r) => setTimeout(r, Math.max(0, (open ? everyMs : PORT_PROBE_MS) - (performance.now() - asked))));
  }
}

/** Epoch ms of weftd's first log line (pino's `time`), if it logged one. */
export function firstLogEpoch(launched: Launched): number | undefined {
  const time = launched.weftd.logs.find((l) => typeof l['time'] === 'number')?.['time'];
  return typeof time === 'number' ? time : undefined;
}

/** `work`, or a rejection naming `what` if weftd exits before it settles. */
export function whileRunning<T>(launched: Launched, work: Promise<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let settled = false;
    work.then((v) => { settled = true; resolve(v); }, (err: unknown) => { settled = true; reject(err); });
    void launched.weftd.exited.then((code) => {
      if (!settled) reject(new Error(`weftd exited (${code}) during ${what}; stderr: ${launched.weftd.stderr().slice(-1000)}`));
    });
  });
}

/** weftd's log as `+ms msg` lines relative to the launch (for BENCH_TRACE=1 runs: where the time went). */
export function logTimeline(launched: Launched, limit = 40): string {
  return launched.weftd.logs.slice(0, limit).map((l) => {
    const time = typeof l['time'] === 'number' ? `+${(l['time'] - launched.epochMs).toFixed(0)} ms` : '?';
    const extra = Object.entries(l).filter(([k]) => !['time', 'msg', 'level', 'pid', 'hostname', 'name'].includes(k)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
    return `  ${time} ${l.msg ?? ''} ${extra.slice(0, 160)}`;
  }).join('\n');
}

/** weftd's default --resync-interval as its --help states it, in ms; undefined if it does not say. */
export async function defaultResyncMs(): Promise<number | undefined> {
  const help = await execa(process.execPath, [WEFTD_BIN, '--help'], { env: childEnv(), extendEnv: false, reject: false });
  const text = /--resync-interval[\s\S]*?\[default: "([^"]+)"\]/.exec(help.stdout)?.[1];
  // Single-unit durations only (`10s`, `500ms`, `5m`); anything else leaves the window as requested.
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text ?? '');
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return m ? Number(m[1]) * (unitMs[m[2] ?? 's'] ?? 1000) : undefined;
}

/**
 * The idle window: the smallest whole number of resync periods that is at
 * least `requestedMs` (so every window holds the same number of resyncs),
 * unless that is over twice the request or the period is unknown.
 */
export function idleWindowMs(requestedMs: number, resyncMs: number | undefined): number {
  if (resyncMs === undefined || resyncMs <= 0) return requestedMs;
  const whole = resyncMs * Math.max(1, Math.ceil(requestedMs / resyncMs));
  return whole <= 2 * requestedMs ? whole : requestedMs;
}
