/**
 * Rows 1, 3 and 4 of issue 9, one run: a host that never ran weftd starts it
 * with n peer leases in etcd.
 *  - start → all peers programmed: launch → the monitor has seen a weft route
 *    (proto 87 on the device) for every peer subnet (and, as a detail, the
 *    last of all 3n entries);
 *  - then /readyz (polled slowly: it is not what is timed here), a settle
 *    (the device quiet for 2 s, at least 3 s after ready), and RSS/HWM of
 *    weftd and its descendants;
 *  - idle CPU over `idleMs` with the default resync: ticks of the whole tree.
 */
import { type BenchContext, assertNothingLost, countDeviceChanges, forgetHost, onDevice, sleep, weftRouteAdded, weftdArgs } from '../bench-context.js';
import { entryCounts } from '../floor.js';
import { peer } from '../peers.js';
import { type TreeMemory, treeCpuTicks, treeMemory } from '../proc.js';
import { type Launched, firstLogEpoch, launchWeftd, waitReady, whileRunning } from '../weftd-launch.js';

export interface ColdStartRun {
  readonly toAllRoutesMs: number;
  /** Launch → the last of all 3n entries (routes, neighbours, FDB) seen. */
  readonly toAllEntriesMs: number;
  readonly toReadyMs: number;
  /** weftd's first log line after the launch (its own clock), if any. */
  readonly firstLogMs: number | undefined;
  readonly memory: TreeMemory;
  /** The same at the end of the idle window (after its resyncs): growth here is memory kept per pass. */
  readonly memoryAfterIdle: TreeMemory;
  readonly idleCpuPercent: number;
  readonly idleMs: number;
  /** Kernel changes on the device during the idle window (expected 0). */
  readonly idleChanges: number;
}

const START_TIMEOUT_MS = 120_000;

/**
 * Resolves when the monitor has shown every peer's route (the row's figure:
 * weft programs a peer's route last) and every peer's neighbour and FDB entry
 * too (a detail, so a changed order would show): arrival times of the last of each.
 */
function programmedSeen(ctx: BenchContext): Promise<{ routesAt: number; allAt: number }> {
  const routes = new Set<string>();
  const others = new Set<string>();
  for (let i = 1; i <= ctx.peers; i++) {
    const p = peer(i);
    routes.add(p.subnet);
    others.add(`neighbor ${p.vtep}`).add(`fdb ${p.mac} ${p.publicIp}`);
  }
  let routesAt: number | undefined;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`${routes.size} routes and ${others.size} neighbours/FDB entries of ${ctx.peers} peers not seen within ${START_TIMEOUT_MS} ms`)); }, START_TIMEOUT_MS);
    const off = ctx.monitor.on((e) => {
      const dst = weftRouteAdded(ctx, e);
      if (dst !== undefined && routes.delete(dst) && routes.size === 0) routesAt = e.at;
      const c = e.change;
      if (c?.kind === 'neighbor' && !c.deleted && c.mac !== undefined && c.device === ctx.device) others.delete(`neighbor ${c.ip}`);
      if (c?.kind === 'fdb' && !c.deleted && c.device === ctx.device) others.delete(`fdb ${c.mac} ${c.dst}`);
      if (routesAt === undefined || others.size > 0) return;
      clearTimeout(timer);
      off();
      resolve({ routesAt, allAt: Math.max(routesAt, e.at) });
    });
  });
}

/** Waits until the device has been quiet for `quietMs` (at most `maxMs`). */
async function settle(ctx: BenchContext, quietMs: number, maxMs: number): Promise<void> {
  let last = performance.now();
  const off = ctx.monitor.on((e) => { if (onDevice(ctx, e)) last = e.at; });
  const deadline = performance.now() + maxMs;
  while (performance.now() - last < quietMs && performance.now() < deadline) await sleep(100);
  off();
}

async function idleCpu(ctx: BenchContext, pid: number, idleMs: number): Promise<{ percent: number; changes: number }> {
  const changes = countDeviceChanges(ctx);
  const t0 = performance.now();
  const ticks0 = treeCpuTicks(pid);
  await sleep(idleMs);
  const ticks1 = treeCpuTicks(pid);
  const wallS = (performance.now() - t0) / 1000;
  return { percent: ((ticks1 - ticks0) / ctx.clockTicks / wallS) * 100, changes: changes().count };
}

/** One cold start; returns the figures and the running weftd (the caller stops it). */
export async function coldStart(ctx: BenchContext, idleMs: number): Promise<{ run: ColdStartRun; launched: Launched }> {
  await forgetHost(ctx);
  const programmed = programmedSeen(ctx);
  const launched = launchWeftd(weftdArgs(ctx));
  try {
    const seen = await whileRunning(launched, programmed, 'the cold start').catch(async (err: unknown) => {
      assertNothingLost(ctx, launched.at, 'the cold start');
      const c = await entryCounts(ctx.device).catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}; the kernel holds ${c ? `${c.routes}/${c.neighbours}/${c.fdb} routes/neighbours/FDB entries` : 'no device'}`);
    });
    assertNothingLost(ctx, launched.at, 'the cold start');
    const readyAt = await waitReady(launched, ctx.healthPort, 20, START_TIMEOUT_MS);
    const c = await entryCounts(ctx.device);
    if (c.routes !== ctx.peers || c.neighbours !== ctx.peers || c.fdb !== ctx.peers) {
      throw new Error(`weftd programmed ${c.routes}/${c.neighbours}/${c.fdb} routes/neighbours/fdb, wanted ${ctx.peers} each`);
    }
    await sleep(Math.max(0, 3000 - (performance.now() - readyAt)));
    await settle(ctx, 2000, 20_000);
    const memory = treeMemory(launched.pid);
    const idle = await idleCpu(ctx, launched.pid, idleMs);
    assertNothingLost(ctx, launched.at, 'the cold start and its idle window');
    const memoryAfterIdle = treeMemory(launched.pid);
    const firstLog = firstLogEpoch(launched);
    return {
      launched,
      run: { toAllRoutesMs: seen.routesAt - launched.at, toAllEntriesMs: seen.allAt - launched.at, toReadyMs: readyAt - launched.at, firstLogMs: firstLog === undefined ? undefined : firstLog - launched.epochMs,
        memory, memoryAfterIdle, idleCpuPercent: idle.percent, idleMs, idleChanges: idle.changes },
    };
  } catch (err) {
    await launched.weftd.stop();
    throw err;
  }
}
