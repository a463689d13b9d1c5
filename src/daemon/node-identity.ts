/**
 * Node identity: before touching any subnet lease, weftd claims its node
 * name's presence key (core/node-presence.ts) and keeps it alive while it
 * runs. A key held by another instance is waited on for 1.5× its TTL (its
 * holder may be dead: a crashed host's key expires within one TTL); if it is
 * still held, start-up fails with NodeNameInUseError, and the other host's
 * lease is never touched. docs/design.md, "Node identity and own-lease integrity".
 */
import type { Logger } from 'pino';
import { NodeNameInUseError, errorMessage } from '../core/errors.js';
import { type NodePresence, decidePresence, describeNameConflict, encodePresence } from '../core/node-presence.js';
import type { Clock } from '../adapters/clock.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import { jittered } from './jitter.js';
import { ThrottledLog } from './throttled-log.js';

export interface IdentityInput {
  readonly registry: SubnetRegistry;
  readonly nodeName: string;
  readonly self: NodePresence;
  readonly ttlSeconds: number;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
}

/** How often a held key is looked at again while waiting for it. */
const WAIT_POLL_MS = 1000;

/** Claims the node name; resolves with the presence key's etcd lease id. Registry errors propagate (the caller retries). */
export async function claimIdentity(input: IdentityInput, signal: AbortSignal): Promise<string> {
  const { registry, nodeName, log } = input;
  const value = encodePresence(input.self);
  const waitMs = 1.5 * input.ttlSeconds * 1000;
  let waitingSince: number | undefined;
  for (;;) {
    signal.throwIfAborted();
    const decision = decidePresence(await registry.getPresence(nodeName), input.self.instanceId);
    if (decision.kind === 'claim') {
      const res = await registry.claimPresence(nodeName, value, input.ttlSeconds);
      if (res.ok) {
        log.info({ nodeName, instanceId: input.self.instanceId, leaseId: res.leaseId }, 'claimed node name');
        return res.leaseId;
      }
      continue; // somebody created it between our read and our write: look again
    }
    if (decision.kind === 'take-over') {
      const res = await registry.replacePresence(nodeName, value, decision.entry.modRevision, input.ttlSeconds);
      if (!res.ok) continue;
      if (decision.entry.leaseId !== '0') await registry.revoke(decision.entry.leaseId).catch(() => undefined);
      log.info({ nodeName, instanceId: input.self.instanceId, leaseId: res.leaseId }, 'took over our node name from our previous run on this host');
      return res.leaseId;
    }
    const now = input.clock.now();
    if (waitingSince === undefined) {
      waitingSince = now;
      log.warn({ nodeName, holderPublicIp: decision.holder?.publicIp, holderInstanceId: decision.holder?.instanceId, holderStartedAt: decision.holder?.startedAt, waitMs },
        'node name is held by another weftd instance; waiting to see whether it is gone (it expires one TTL after its holder died)');
    }
    if (now - waitingSince >= waitMs) throw new NodeNameInUseError(nodeName, describeNameConflict(nodeName, decision.holder));
    await input.clock.sleep(Math.min(jittered(WAIT_POLL_MS, input.random), Math.max(0, waitingSince + waitMs - now)), signal);
  }
}

export interface IdentityKeeperInput extends IdentityInput {
  readonly leaseId: string;
  /** Another instance holds our name after our key expired (undefined: resolved). */
  readonly onConflict: (conflict: string | undefined) => void;
  readonly onError?: (err: unknown) => void;
}

/**
 * Keeps the presence key alive (a keepalive every third of its TTL, with
 * jitter). If its etcd lease expired (etcd was unreachable longer than the
 * TTL), re-creates the key; if another instance holds it by then, reports a
 * conflict (logged as an error, shown in status) and keeps checking.
 * Resolves with the lease id held last (to revoke it on a clean stop).
 */
export async function keepIdentity(input: IdentityKeeperInput, signal: AbortSignal): Promise<string> {
  const throttled = new ThrottledLog(input.log, 60_000, () => input.clock.now());
  const interval = Math.max(500, Math.floor((input.ttlSeconds * 1000) / 3));
  let leaseId = input.leaseId;
  let delay = jittered(interval, input.random, 0.2);
  let conflict: string | undefined;
  while (!signal.aborted) {
    try {
      await input.clock.sleep(delay, signal);
    } catch {
      break;
    }
    delay = jittered(interval, input.random, 0.2);
    try {
      if (leaseId !== '' && (await input.registry.keepAlive(leaseId)) > 0) {
        throttled.clear('keepalive', { nodeName: input.nodeName }, 'node name presence renewed again');
        continue;
      }
      leaseId = '';
      const next = await reclaim(input);
      if (next.kind === 'held') {
        if (conflict !== next.conflict) {
          input.log.error({ nodeName: input.nodeName, conflict: next.conflict }, 'our node name presence expired and another weftd instance now holds it');
          conflict = next.conflict;
          input.onConflict(conflict);
        }
        continue;
      }
      leaseId = next.leaseId;
      if (leaseId === '') { delay = jittered(1000, input.random); continue; } // lost a race: look again soon
      if (conflict !== undefined) input.onConflict(undefined);
      conflict = undefined;
      input.log.warn({ nodeName: input.nodeName, leaseId }, 'node name presence had expired (etcd unreachable longer than its TTL); re-created it');
    } catch (err) {
      input.onError?.(err);
      throttled.warn('keepalive', { nodeName: input.nodeName, err: errorMessage(err) }, 'cannot renew node name presence; etcd unreachable, retrying');
      delay = jittered(Math.min(interval, 1000), input.random);
    }
  }
  return leaseId;
}

async function reclaim(input: IdentityInput): Promise<{ kind: 'ok'; leaseId: string } | { kind: 'held'; conflict: string }> {
  const value = encodePresence(input.self);
  const decision = decidePresence(await input.registry.getPresence(input.nodeName), input.self.instanceId);
  if (decision.kind === 'held') return { kind: 'held', conflict: describeNameConflict(input.nodeName, decision.holder) };
  const res = decision.kind === 'claim'
    ? await input.registry.claimPresence(input.nodeName, value, input.ttlSeconds)
    : await input.registry.replacePresence(input.nodeName, value, decision.entry.modRevision, input.ttlSeconds);
  // A lost race: the next round looks again (leaseId '' makes it skip the keepalive).
  return res.ok ? { kind: 'ok', leaseId: res.leaseId } : { kind: 'ok', leaseId: '' };
}
