/**
 * A light periodic read of the config key: tells weftd (and its health
 * endpoint) whether etcd is reachable even when nothing else talks to it (a
 * quiet watch stream can take minutes to notice a dead server), and notices
 * a config change that needs a restart.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { Clock } from '../adapters/clock.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import type { DaemonStatus } from './status.js';
import { jittered } from './jitter.js';
import { ThrottledLog } from './throttled-log.js';

export interface EtcdProbeInput {
  readonly registry: SubnetRegistry;
  readonly clock: Clock;
  readonly log: Logger;
  readonly status: DaemonStatus;
  readonly intervalMs: number;
  /** The config text weftd started with. */
  readonly configText: string;
  /** Jitter for the interval (default Math.random). */
  readonly random?: () => number;
}

export async function probeEtcd(input: EtcdProbeInput, signal: AbortSignal): Promise<void> {
  const throttled = new ThrottledLog(input.log, 60_000, () => input.clock.now());
  let warnedChange = false;
  while (!signal.aborted) {
    try {
      await input.clock.sleep(jittered(input.intervalMs, input.random ?? Math.random, 0.2), signal);
    } catch {
      return;
    }
    try {
      const text = await input.registry.getConfig();
      input.status.etcdReachable();
      throttled.clear('etcd', {}, 'etcd reachable again');
      if (text !== undefined && text !== input.configText && !warnedChange) {
        warnedChange = true;
        input.log.warn({}, 'the network config in etcd changed; restart weftd to apply it');
      }
    } catch (err) {
      input.status.etcdUnreachable(errorMessage(err), input.clock.now());
      throttled.warn('etcd', { err: errorMessage(err) }, 'etcd unreachable; keeping the current lease and data path');
    }
  }
}
