/**
 * Data-plane benchmark: every row of issue 9's table, measured from outside
 * weftd. Runs INSIDE a rig host namespace (scripts/bench.sh starts it with
 * `ip netns exec <prefix>-h1`), next to etcd on the rig's underlay, and
 * refuses to run in the root namespace (it creates and deletes devices).
 *
 * One run: n peer leases in etcd; REPS times the floor followed by a cold
 * start (which also gives RSS and an idle-CPU window); REPS restarts with nothing changed;
 * then, on the last weftd, the event and drift samples. The kernel monitor
 * (`ip monitor` + `bridge monitor`) runs from before the first launch to the end.
 * Prints the markdown for docs/benchmarks.md (report.ts).
 *
 * Usage: node dist/bench/dataplane-bench.js [--peers 5000] [--reps 3] [--events 200]
 *          [--drift 20] [--idle-seconds 30] [--etcd http://192.0.2.1:2379]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { execa } from 'execa';
import { type BenchContext, MonitorLostError } from './bench-context.js';
import { measureFloor } from './floor.js';
import { KernelMonitor } from './kernel-monitor.js';
import { writePeers } from './peers.js';
import { clockTicksPerSecond } from './proc.js';
import { renderDataPlane } from './report.js';
import { type ColdStartRun, coldStart } from './rows/cold-start.js';
import { driftRepairs } from './rows/drift.js';
import { eventLatencies } from './rows/events.js';
import { READYZ_POLL_MS, type RestartRun, restart } from './rows/restart.js';
import { defaultResyncMs, freePort, idleWindowMs, type Launched, logTimeline } from './weftd-launch.js';

const PREFIX = '/weft/network';

interface Options {
  readonly etcd: string;
  readonly peers: number;
  readonly reps: number;
  readonly events: number;
  readonly drift: number;
  readonly idleMs: number;
}

function options(): Options {
  const { values } = parseArgs({ options: {
    etcd: { type: 'string', default: 'http://192.0.2.1:2379' }, peers: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '3' }, events: { type: 'string', default: '200' }, drift: { type: 'string', default: '20' },
    'idle-seconds': { type: 'string', default: '30' },
  } });
  const whole = (name: string, text: string | undefined): number => {
    if (!/^\d+$/.test(text ?? '') || Number(text) < 1) throw new Error(`--${name} must be a positive whole number, got ${JSON.stringify(text)}`);
    return Number(text);
  };
  return { etcd: values.etcd ?? '', peers: whole('peers', values.peers), reps: whole('reps', values.reps), events: whole('events', values.events),
    drift: whole('drift', values.drift), idleMs: whole('idle-seconds', values['idle-seconds']) * 1000 };
}

/**
 * The bench deletes and creates devices: never in the machine's own namespace.
 * `ip netns identify` names the namespace we are in only if it is a named one
 * (`ip netns add`), which the root namespace is not.
 */
async function refuseRootNamespace(): Promise<void> {
  const name = (await execa('ip', ['netns', 'identify', String(process.pid)])).stdout.trim();
  if (name === '') throw new Error('dataplane-bench must run inside a rig host namespace (scripts/bench.sh does that), not in the root network namespace');
}

async function underlayAddress(): Promise<string> {
  const links = JSON.parse((await execa('ip', ['-j', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout) as { addr_info: { local: string }[] }[];
  const local = links[0]?.addr_info[0]?.local;
  if (!local) throw new Error('eth0 has no IPv4 address: not a rig host namespace?');
  return local;
}

const RETRIES = 2;

/** `attempt()`, again (up to RETRIES times) when the kernel monitor lost notifications during it; counts the repeats. */
async function unlessLost<T>(what: string, repeats: string[], attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof MonitorLostError) || n >= RETRIES) throw err;
      repeats.push(what);
      progress(`${what}: ${err.message}; repeating it`);
    }
  }
}

/**
 * REPS times: the floor, then a cold start (with RSS and idle CPU) right
 * after it, so each ratio compares runs a few seconds apart on a machine
 * whose load drifts; then REPS restarts. The last weftd is left running
 * (`keep` tracks it).
 */
async function startsAndRestarts(ctx: BenchContext, opts: Options, idleMs: number, keep: (l: Launched) => void, repeats: string[]): Promise<{ floorsMs: number[]; cold: ColdStartRun[]; restarts: RestartRun[] }> {
  const local = await underlayAddress();
  const floorsMs: number[] = [];
  const cold: ColdStartRun[] = [];
  const restarts: RestartRun[] = [];
  let running: Launched | undefined;
  for (let r = 0; r < opts.reps; r++) {
    await running?.weftd.stop();
    floorsMs.push(await measureFloor(opts.peers, local));
    const c = await unlessLost(`cold start ${r + 1}`, repeats, () => coldStart(ctx, idleMs));
    keep(running = c.launched);
    cold.push(c.run);
    trace(c.launched);
    progress(`floor ${r + 1}: ${floorsMs[r]?.toFixed(0)} ms; cold start ${r + 1}: all routes ${c.run.toAllRoutesMs.toFixed(0)} ms, RSS ${(c.run.memory.rssKb / 1024).toFixed(1)} MiB, idle ${c.run.idleCpuPercent.toFixed(2)} %`);
  }
  for (let r = 0; r < opts.reps && running; r++) {
    const before: Launched = running;
    const x = await unlessLost(`restart ${r + 1}`, repeats, () => restart(ctx, before));
    keep(running = x.launched);
    restarts.push(x.run);
    trace(x.launched);
    progress(`restart ${r + 1}: ready ${x.run.toReadyMs.toFixed(0)} ms, ${x.run.changes} kernel changes`);
  }
  return { floorsMs, cold, restarts };
}

async function measure(ctx: BenchContext, opts: Options): Promise<string> {
  const resyncMs = await defaultResyncMs();
  let running: Launched | undefined;
  try {
    const repeats: string[] = [];
    const { floorsMs, cold, restarts } = await startsAndRestarts(ctx, opts, idleWindowMs(opts.idleMs, resyncMs), (l) => { running = l; }, repeats);
    const samplesFrom = performance.now();
    const events = await eventLatencies(ctx, opts.events, 10_000);
    progress(`events: ${events.latencies.length} samples`);
    const drift = await driftRepairs(ctx, opts.drift, 15_000);
    progress('drift: done');
    ctx.monitor.assertAlive();
    return renderDataPlane({ peers: opts.peers, floorsMs, cold, restarts, events, drift, readyzPollMs: READYZ_POLL_MS, resyncMs,
      monitorLagMs: ctx.monitor.lagMs, repeats, samplesLost: ctx.monitor.lostSince(samplesFrom) });
  } finally {
    await (running as Launched | undefined)?.weftd.stop();
  }
}

function progress(text: string): void {
  process.stderr.write(`dataplane-bench: ${text}\n`);
}

/** BENCH_TRACE=1: weftd's own log timeline for each launch, on stderr (not in the report). */
function trace(launched: Launched): void {
  if (process.env['BENCH_TRACE'] === '1') process.stderr.write(`${logTimeline(launched)}\n`);
}

async function main(): Promise<void> {
  await refuseRootNamespace();
  const opts = options();
  const etcd = new Etcd3({ hosts: opts.etcd });
  const subnetFile = join(tmpdir(), `weft-bench-${process.pid}.env`);
  const monitorDir = mkdtempSync(join(tmpdir(), 'weft-bench-monitor-'));
  let monitor: KernelMonitor | undefined;
  try {
    await etcd.delete().prefix(`${PREFIX}/`);
    await etcd.put(`${PREFIX}/config`).value('{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}');
    await writePeers(etcd, PREFIX, 1, opts.peers);
    monitor = await KernelMonitor.start(monitorDir);
    const ctx: BenchContext = { etcd, etcdEndpoint: opts.etcd, prefix: PREFIX, peers: opts.peers, monitor, device: 'weft.1',
      nodeName: 'benchhost', subnetFile, healthPort: await freePort(), clockTicks: await clockTicksPerSecond() };
    process.stdout.write(await measure(ctx, opts));
  } finally {
    monitor?.stop();
    await execa('ip', ['link', 'del', 'weft.1']).catch(() => undefined);
    await etcd.delete().prefix(`${PREFIX}/`).catch(() => undefined);
    etcd.close();
    rmSync(subnetFile, { force: true });
    rmSync(monitorDir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`dataplane-bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
