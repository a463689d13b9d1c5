/**
 * Keeps our etcd lease alive well before it expires: a keepalive every third
 * of the TTL (server-side TTL, so the local clock never decides expiry).
 * etcd being unreachable is logged (throttled) and retried; etcd answering
 * that the lease no longer exists means it expired and the key is gone.
 * A keepalive can never overwrite another host's key: it writes no key.
 * Intervals and retries are jittered, so hosts do not renew in lockstep.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { Clock } from '../adapters/clock.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import { jittered } from './jitter.js';
import { ThrottledLog } from './throttled-log.js';

export interface LeaseKeeperInput {
  readonly registry: SubnetRegistry;
  readonly leaseId: string;
  readonly ttlSeconds: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onLost: (reason: string) => void;
  /** Reports the TTL left after each successful renewal (for metrics/status). */
  readonly onRenewed?: (ttlSeconds: number) => void;
  /** Counts failed keepalive requests (for metrics). */
  readonly onError?: (err: unknown) => void;
  /** Jitter (default Math.random). */
  readonly random?: () => number;
}

/** Runs until the signal aborts or the lease is lost. Reservations ('0') need nothing. */
export async function keepLeaseAlive(input: LeaseKeeperInput, signal: AbortSignal): Promise<void> {
  if (input.leaseId === '0') return;
  const throttled = new ThrottledLog(input.log, 60_000, () => input.clock.now());
  const random = input.random ?? Math.random;
  const interval = Math.max(1000, Math.floor((input.ttlSeconds * 1000) / 3));
  let delay = jittered(interval, random, 0.2);
  while (!signal.aborted) {
    try {
      await input.clock.sleep(delay, signal);
    } catch {
      return;
    }
    try {
      const ttl = await input.registry.keepAlive(input.leaseId);
      if (ttl <= 0) {
        input.onLost(`etcd lease ${input.leaseId} expired (etcd was unreachable for longer than the TTL, or it was revoked)`);
        return;
      }
      throttled.clear('keepalive', { ttl }, 'lease renewed again');
      input.onRenewed?.(ttl);
      delay = jittered(interval, random, 0.2);
    } catch (err) {
      input.onError?.(err);
      throttled.warn('keepalive', { err: errorMessage(err) }, 'cannot renew lease; etcd unreachable, retrying');
      delay = jittered(Math.min(interval, 1000), random);
    }
  }
}
