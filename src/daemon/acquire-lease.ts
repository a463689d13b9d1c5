/**
 * Acquires this host's subnet lease: list → decide (pure core) → claim with a
 * create-if-absent transaction, or re-write our own key only if nobody
 * changed it. A lost race is retried with a fresh listing (flannel exits
 * instead). The registry never lets us overwrite another host's key.
 *
 * A restart first reads only the key of its previous subnet (from
 * subnet.env): when the allocation rule, shown that key alone, decides to
 * reuse it (it is ours and fits the config), no listing is needed. Anything
 * else (gone, another host's, not fitting, a lost race) takes the listing path.
 * The listing the lease was decided on is returned, so the lease watcher can
 * start from it instead of listing again (docs/design.md, "One listing at start").
 */
import type { Logger } from 'pino';
import { type AllocationDecision, type Identity, decideAllocation } from '../core/allocate.js';
import type { Cidr } from '../core/cidr.js';
import type { Cidr6 } from '../core/cidr6.js';
import { SubnetExhaustedError, WeftError } from '../core/errors.js';
import { type LeaseAttrs, type LeaseSubnets, encodeLeaseValue, encodeSubnetKey, leaseSubnets } from '../core/lease.js';
import type { NetworkConfig } from '../core/network-config.js';
import { classifyListing } from '../core/peer-set.js';
import type { LeaseListing, RegistryEntry, SubnetRegistry } from '../adapters/registry.js';
import type { Clock } from '../adapters/clock.js';

/** The lease this host holds. */
export interface HeldLease extends LeaseSubnets {
  readonly attrs: LeaseAttrs;
  /** etcd lease id; '0' when the key is a reservation (no TTL, nothing to renew). */
  readonly leaseId: string;
  readonly reservation: boolean;
}

export interface AcquireInput {
  readonly registry: SubnetRegistry;
  readonly config: NetworkConfig;
  readonly attrs: LeaseAttrs & { nodeName: string };
  /** The subnets subnet.env named (a restart keeps both). */
  readonly previous: PreviousSubnets | undefined;
  readonly ttlSeconds: number;
  readonly random: () => number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly signal: AbortSignal;
  /** Awaited before the lease of `subnet` is written (weftd removes a subnet.env that names another subnet). */
  readonly beforeTake?: (subnets: LeaseSubnets) => Promise<void>;
}

export interface PreviousSubnets {
  readonly subnet?: Cidr | undefined;
  readonly subnetV6?: Cidr6 | undefined;
}

export interface AcquiredLease {
  readonly held: HeldLease;
  /** The listing the lease was decided on (undefined when it was found by key); its revision predates our write. */
  readonly listing: LeaseListing | undefined;
}

const MAX_ROUNDS = 50;

export async function acquireLease(input: AcquireInput): Promise<HeldLease> {
  return (await acquireLeaseWithListing(input)).held;
}

export async function acquireLeaseWithListing(input: AcquireInput): Promise<AcquiredLease> {
  const self: Identity = { nodeName: input.attrs.nodeName, publicIp: input.attrs.publicIp };
  input.signal.throwIfAborted();
  const byKey = await reusePrevious(input, self);
  if (byKey) return { held: byKey, listing: undefined };
  let previous = input.previous;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    input.signal.throwIfAborted();
    const listing = await input.registry.listLeases();
    const { leases, entries, occupied } = validLeases(listing.entries, input.config);
    const decision = decideAllocation(input.config, leases, self, previous, input.random, occupied);
    const held = await applyDecision(input, decision, entries, 'listing');
    if (held) return { held, listing };
    // A released own lease (e.g. IPv6 just enabled) hands its subnets on, so the IPv4 one is kept when it still fits.
    if (decision.kind === 'remove-incompatible') {
      previous = { subnet: previous?.subnet ?? decision.lease.subnet, subnetV6: previous?.subnetV6 ?? decision.lease.subnetV6 };
    }
    // Lost a race (or removed a stale lease): back off a little, with jitter, and look again.
    await input.clock.sleep(Math.floor(input.random() * 50 * Math.min(round, 10)), input.signal);
  }
  throw new WeftError('lease-race', `could not acquire a subnet in ${input.config.network} after ${MAX_ROUNDS} attempts: other hosts kept taking the free subnets`, { retryable: true });
}

/**
 * The previous subnet's key alone, judged by the same allocation rule: only a
 * 'reuse' is acted on, because reusing our own key needs nothing from the
 * other keys (claiming a subnet does). Undefined: take the listing path.
 */
async function reusePrevious(input: AcquireInput, self: Identity): Promise<HeldLease | undefined> {
  const subnet = input.previous?.subnet;
  if (subnet === undefined) return undefined;
  const entry = await input.registry.getLease({ subnet, subnetV6: input.previous?.subnetV6 });
  if (!entry) return undefined;
  const { leases, entries } = validLeases([entry], input.config);
  const decision = decideAllocation(input.config, leases, self, undefined, () => 0); // (a random pick is never acted on here)
  return decision.kind === 'reuse' ? applyDecision(input, decision, entries, 'previous subnet') : undefined;
}

function validLeases(entries: readonly RegistryEntry[], config: NetworkConfig) {
  const { valid, occupied } = classifyListing(entries, config);
  return { leases: valid.map((v) => v.lease), entries: new Map(valid.map((v) => [encodeSubnetKey(v.lease), v.entry])), occupied };
}

/** `found`: how our own key was found (logged), by reading the previous subnet's key or in a listing. */
async function applyDecision(input: AcquireInput, decision: AllocationDecision,
  entries: ReadonlyMap<string, RegistryEntry>, found: 'previous subnet' | 'listing'): Promise<HeldLease | undefined> {
  const { registry, log, config } = input;
  const value = encodeLeaseValue(input.attrs);
  switch (decision.kind) {
    case 'reuse': {
      const lease = decision.lease;
      const subnets = leaseSubnets(lease);
      const entry = entries.get(encodeSubnetKey(lease));
      if (!entry) return undefined;
      if (lease.reservation) {
        // A reservation naming this host: keep it a reservation (no TTL).
        await input.beforeTake?.(subnets);
        if (entry.value !== value) {
          const res = await registry.replace(lease, value, entry.modRevision, 0);
          if (!res.ok) return undefined;
        }
        log.info({ ...subnets, found }, 'using reserved subnet');
        return { ...subnets, attrs: input.attrs, leaseId: '0', reservation: true };
      }
      await input.beforeTake?.(subnets);
      const res = await registry.replace(lease, value, entry.modRevision, input.ttlSeconds);
      if (!res.ok) return undefined;
      if (entry.leaseId !== '0') await registry.revoke(entry.leaseId).catch(() => undefined);
      log.info({ ...subnets, leaseId: res.leaseId, found }, 'renewed own subnet lease');
      return { ...subnets, attrs: input.attrs, leaseId: res.leaseId, reservation: false };
    }
    case 'remove-incompatible': {
      const entry = entries.get(encodeSubnetKey(decision.lease));
      log.warn({ ...leaseSubnets(decision.lease), network: config.network, subnetLen: config.subnetLen, ipv6Network: config.ipv6?.network },
        'own lease does not fit the network config; releasing it');
      if (entry) await registry.remove(decision.lease, entry.modRevision);
      return undefined;
    }
    case 'claim': {
      const subnets = leaseSubnets(decision);
      await input.beforeTake?.(subnets);
      const res = await registry.claim(subnets, value, input.ttlSeconds);
      if (!res.ok) {
        log.debug(subnets, 'lost the race for a subnet; retrying');
        return undefined;
      }
      log.info({ ...subnets, source: decision.source, leaseId: res.leaseId }, 'acquired subnet lease');
      return { ...subnets, attrs: input.attrs, leaseId: res.leaseId, reservation: false };
    }
    case 'exhausted':
      if (decision.family === 'IPv6' && config.ipv6) {
        throw new SubnetExhaustedError(`no free IPv6 subnet in IPv6Network ${config.ipv6.network}: every /${config.ipv6.subnetLen} `
          + `between IPv6SubnetMin ${config.ipv6.subnetMin} and IPv6SubnetMax ${config.ipv6.subnetMax} is leased or reserved`);
      }
      throw new SubnetExhaustedError(
        `no free subnet in network ${config.network}: all ${decision.capacity} subnets of /${config.subnetLen} `
        + `between SubnetMin ${config.subnetMin} and SubnetMax ${config.subnetMax} are leased or reserved`);
  }
}
