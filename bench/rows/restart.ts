/**
 * Row 2 of issue 9, one run: weftd stops (SIGTERM, by PID) and starts again
 * with nothing changed (same etcd, same subnet.env, the device and entries
 * as it left them). Wall clock from the new launch until /readyz answers 200,
 * polled every few ms; and every kernel change the monitor sees on the
 * device from the stop until 1 s after ready (must be 0). A monitor that
 * dropped notifications meanwhile invalidates the count (MonitorLostError).
 */
import { type BenchContext, assertNothingLost, countDeviceChanges, sleep, weftdArgs } from '../bench-context.js';
import { type Launched, firstLogEpoch, launchWeftd, waitReady } from '../weftd-launch.js';

export interface RestartRun {
  readonly toReadyMs: number;
  readonly firstLogMs: number | undefined;
  readonly changes: number;
  readonly examples: readonly string[];
}

export const READYZ_POLL_MS = 5;
const AFTER_READY_MS = 1000;

export async function restart(ctx: BenchContext, running: Launched): Promise<{ run: RestartRun; launched: Launched }> {
  const changes = countDeviceChanges(ctx);
  const stoppedAt = performance.now();
  await running.weftd.stop();
  const launched = launchWeftd(weftdArgs(ctx));
  try {
    const readyAt = await waitReady(launched, ctx.healthPort, READYZ_POLL_MS, 60_000);
    await sleep(AFTER_READY_MS);
    const seen = changes();
    assertNothingLost(ctx, stoppedAt, 'the restart');
    const firstLog = firstLogEpoch(launched);
    return {
      launched,
      run: { toReadyMs: readyAt - launched.at, firstLogMs: firstLog === undefined ? undefined : firstLog - launched.epochMs, changes: seen.count, examples: seen.examples },
    };
  } catch (err) {
    changes();
    await launched.weftd.stop();
    throw err;
  }
}
