/**
 * Keeps weft's `--ip-masq` iptables rules (src/core/masq-rules.ts) in place:
 * once per reconcile pass, read weft's chains and their jumps, and when
 * anything differs rewrite only what differs in one `iptables-restore
 * --noflush` transaction per table. A pass that finds the rules right writes
 * nothing, so a restart never flushes them. Failures are logged (throttled)
 * and retried on the next pass; they never stop the daemon. With `--ip-masq`
 * off the same check makes sure they are absent (removeTrafficRules, which
 * `weftctl cleanup` also uses), so switching the flag converges every pod of
 * the host, existing ones included. The same holds for IPv6 with ip6tables
 * when the network has IPv6 enabled (see TrafficRules).
 */
import type { Logger } from 'pino';
import type { Cidr } from '../core/cidr.js';
import type { LeaseSubnets } from '../core/lease.js';
import type { NetworkConfig } from '../core/network-config.js';
import { errorMessage } from '../core/errors.js';
import {
  type ChainLocation, type ChainListing, type ChainRemoval, type ChainRepair, type OwnedChain, type TrafficScope, type TrafficScope6, OWNED_CHAINS,
  desiredTrafficRules, planChainRemoval, planChainRepair, renderRemovalPayload, renderRepairPayload,
} from '../core/masq-rules.js';
import type { Iptables } from '../adapters/iptables.js';
import { ThrottledLog } from './throttled-log.js';

export interface TrafficRulesResult {
  /** False when iptables could not be read or written (logged; retried next pass). */
  readonly ok: boolean;
  /** True when this pass wrote anything. */
  readonly changed: boolean;
}

/**
 * What the reconcile loop calls on resync passes: rules present (`--ip-masq`)
 * or absent. `ipv6`: the IPv6 network and this host's IPv6 subnet when the
 * network has IPv6 enabled, undefined otherwise (then no IPv6 rules exist).
 * Never throws.
 */
export interface TrafficRulesPort {
  ensure(network: Cidr, subnet: Cidr, ipv6?: TrafficScope6): Promise<TrafficRulesResult>;
}

export interface EnsureOutcome {
  /** What was written (empty: everything was in sync). */
  readonly repairs: readonly ChainRepair[];
  /** Chains that still differ when read back after the write (iptables prints them differently). */
  readonly unconverged: readonly ChainRepair[];
}

/** Reads chains, every table at once when the adapter can (one `iptables-save` instead of one `iptables -S` per chain). */
function chainReader(iptables: Iptables): (location: ChainLocation) => Promise<ChainListing> {
  let tables: Promise<ReadonlyMap<string, ReadonlyMap<string, string>>> | undefined;
  const list = async (table: ChainLocation['table'], chain: string): Promise<string | undefined> => {
    if (!iptables.listTables) return iptables.listChain(table, chain);
    tables ??= iptables.listTables();
    return (await tables).get(table)?.get(chain);
  };
  return async (location) => {
    const [chain, hook] = await Promise.all([list(location.table, location.chain), list(location.table, location.hook)]);
    return { chain, hook: hook ?? '' };
  };
}

async function planRepairs(iptables: Iptables, desired: readonly OwnedChain[]): Promise<ChainRepair[]> {
  const read = chainReader(iptables);
  const listings = await Promise.all(desired.map((chain) => read(chain)));
  const repairs: ChainRepair[] = [];
  desired.forEach((chain, i) => {
    const repair = planChainRepair(chain, listings[i] as ChainListing);
    if (repair) repairs.push(repair);
  });
  return repairs;
}

/** Checks the rules and repairs what differs in one restore, then reads back. Throws on iptables failures. */
export async function ensureTrafficRules(iptables: Iptables, scope: TrafficScope | TrafficScope6): Promise<EnsureOutcome> {
  const desired = desiredTrafficRules(scope);
  const repairs = await planRepairs(iptables, desired);
  if (repairs.length === 0) return { repairs, unconverged: [] };
  await iptables.restore(renderRepairPayload(repairs));
  return { repairs, unconverged: await planRepairs(iptables, desired) };
}

/** Removes weft's chains and every jump to them (both tables, one restore); returns what was removed. */
export async function removeTrafficRules(iptables: Iptables): Promise<readonly ChainRemoval[]> {
  const removals: ChainRemoval[] = [];
  const read = chainReader(iptables);
  for (const location of OWNED_CHAINS) {
    const removal = planChainRemoval(location, await read(location));
    if (removal) removals.push(removal);
  }
  if (removals.length > 0) await iptables.restore(renderRemovalPayload(removals));
  return removals;
}

const describe = (r: ChainRepair): Record<string, unknown> => ({ table: r.table, chain: r.chain, reasons: r.reasons });

/**
 * One family's rules (iptables or ip6tables): present or absent, logged with
 * throttled warnings, never throwing. Log lines carry `family`.
 */
class FamilyRules {
  readonly #iptables: Iptables;
  readonly #log: Logger;
  readonly #throttled: ThrottledLog;
  #checked = false;

  constructor(iptables: Iptables, log: Logger, now: () => number) {
    this.#iptables = iptables;
    this.#log = log;
    this.#throttled = new ThrottledLog(log, 60_000, now);
  }

  /** `quiet`: a failure is the caller's to report (nothing depends on these tables). */
  async ensureAbsent(why: string, quiet = false): Promise<TrafficRulesResult & { error?: string }> {
    let removals: readonly ChainRemoval[];
    try {
      removals = await removeTrafficRules(this.#iptables);
    } catch (err) {
      if (quiet) return { ok: false, changed: false, error: errorMessage(err) };
      this.#throttled.warn('iptables', { err: errorMessage(err) }, `cannot check for traffic rules to remove (${why}); retrying next pass`);
      return { ok: false, changed: false };
    }
    this.#throttled.clear('iptables', {}, 'traffic rules can be checked again');
    if (removals.length > 0) {
      this.#log.info({ removed: removals.map((r) => ({ table: r.table, chain: r.chain, rules: r.rules, jumps: r.deleteJumps.length })) },
        `traffic rules removed (${why})`);
    }
    this.#checked = true;
    return { ok: true, changed: removals.length > 0 };
  }

  async ensurePresent(scope: TrafficScope | TrafficScope6): Promise<TrafficRulesResult> {
    const { network, subnet } = scope;
    let outcome: EnsureOutcome;
    try {
      outcome = await ensureTrafficRules(this.#iptables, scope);
    } catch (err) {
      this.#throttled.warn('iptables', { err: errorMessage(err) }, 'cannot check or repair traffic rules; retrying next pass');
      return { ok: false, changed: false };
    }
    this.#throttled.clear('iptables', {}, 'traffic rules can be checked again');
    const { repairs, unconverged } = outcome;
    if (repairs.length > 0) {
      this.#log.info({ network, subnet, repairs: repairs.map(describe) }, this.#checked ? 'traffic rules repaired' : 'traffic rules installed');
    } else {
      this.#log[this.#checked ? 'debug' : 'info']({ network, subnet }, 'traffic rules in sync');
    }
    if (unconverged.length > 0) {
      this.#throttled.warn('readback', { differences: unconverged.map(describe) }, 'traffic rules do not read back as written; rewriting them every pass');
    } else {
      this.#throttled.clear('readback', {}, 'traffic rules read back as written again');
    }
    this.#checked = true;
    return { ok: true, changed: repairs.length > 0 };
  }
}

/**
 * The reconcile loop's port: ensureTrafficRules with logging, throttled
 * warnings and no exceptions, per family. IPv4 always (iptables). IPv6
 * (ip6tables) only when the network has IPv6 enabled, i.e. when `ensure` gets
 * the IPv6 scope: then it is kept present (or, `--ip-masq` off, absent) on
 * every pass like IPv4. Without the IPv6 scope nothing is ever installed in
 * ip6tables (flannel #1906 created them with IPv6 disabled); weft's chains
 * left there by an earlier dual-stack run are removed once, and ip6tables is
 * not run again until IPv6 is back (a failing ip6tables, e.g. a kernel booted
 * with ipv6.disable=1, is noted once at info level: nothing depends on it).
 * The families are checked side by side; a failure in one never stops the
 * other, and the result is ok only when both are.
 */
export class TrafficRules implements TrafficRulesPort {
  readonly #v4: FamilyRules;
  readonly #v6: FamilyRules | undefined;
  readonly #log: Logger;
  readonly #enabled: boolean;
  /** True once ip6tables was found free of weft's chains (or could not be read) while IPv6 is off. */
  #v6Settled = false;
  #v6Unavailable = false;

  /**
   * `enabled` false (`--ip-masq=false`): keep weft's chains and jumps absent instead.
   * `ip6tables`: the IPv6 tables; without it IPv6 rules are never touched (and a dual-stack ensure says so once).
   */
  constructor(deps: { iptables: Iptables; ip6tables?: Iptables | undefined; log: Logger; now?: () => number; enabled?: boolean }) {
    const now = deps.now ?? Date.now;
    this.#log = deps.log;
    this.#enabled = deps.enabled ?? true;
    this.#v4 = new FamilyRules(deps.iptables, deps.log, now);
    this.#v6 = deps.ip6tables && new FamilyRules(deps.ip6tables, deps.log.child({ family: 'ipv6' }), now);
  }

  async ensure(network: Cidr, subnet: Cidr, ipv6?: TrafficScope6): Promise<TrafficRulesResult> {
    const [v4, v6] = await Promise.all([
      this.#enabled ? this.#v4.ensurePresent({ network, subnet }) : this.#v4.ensureAbsent('--ip-masq is off'),
      this.#ensure6(ipv6),
    ]);
    return { ok: v4.ok && v6.ok, changed: v4.changed || v6.changed };
  }

  async #ensure6(scope: TrafficScope6 | undefined): Promise<TrafficRulesResult> {
    const rules = this.#v6;
    if (rules === undefined) {
      if (scope !== undefined && !this.#v6Unavailable) {
        this.#v6Unavailable = true;
        this.#log.warn({ network: scope.network }, 'IPv6 is enabled but weftd was started without ip6tables: no IPv6 traffic rules');
      }
      return { ok: true, changed: false };
    }
    if (scope !== undefined) {
      this.#v6Settled = false;
      return this.#enabled ? rules.ensurePresent(scope) : rules.ensureAbsent('--ip-masq is off');
    }
    if (this.#v6Settled) return { ok: true, changed: false };
    const result = await rules.ensureAbsent('IPv6 is not enabled on this network', true);
    if (!result.ok) {
      this.#log.info({ family: 'ipv6', err: result.error },
        'ip6tables cannot be read; IPv6 is not enabled on this network, so no weft rules are needed there and it is not run again');
    }
    this.#v6Settled = true;
    return { ok: true, changed: result.changed };
  }
}

/**
 * The IPv6 scope to pass to `ensure`: the IPv6 network and this host's IPv6
 * subnet when the network has IPv6 enabled and the lease holds an IPv6
 * subnet; undefined otherwise (no IPv6 rules).
 */
export function trafficScope6(config: Pick<NetworkConfig, 'ipv6'>, lease: LeaseSubnets): TrafficScope6 | undefined {
  return config.ipv6 !== undefined && lease.subnetV6 !== undefined ? { network: config.ipv6.network, subnet: lease.subnetV6 } : undefined;
}

const sameScope6 = (a: TrafficScope6 | undefined, b: TrafficScope6 | undefined): boolean =>
  a?.network === b?.network && a?.subnet === b?.subnet;

/**
 * Starts `rules.ensure(network, subnet, ipv6)` now (weftd: once the lease is
 * acquired, while the peers are still being listed) and returns a port whose
 * first ensure with the same arguments is that call, so the first reconcile
 * pass does not wait for iptables after the data plane; later calls run
 * as usual.
 */
export function ensureAhead(rules: TrafficRulesPort, network: Cidr, subnet: Cidr, ipv6?: TrafficScope6): TrafficRulesPort {
  let early: Promise<TrafficRulesResult> | undefined = rules.ensure(network, subnet, ipv6);
  return {
    ensure(n: Cidr, s: Cidr, v6?: TrafficScope6): Promise<TrafficRulesResult> {
      const first = early;
      early = undefined;
      return first && n === network && s === subnet && sameScope6(v6, ipv6) ? first : rules.ensure(n, s, v6);
    },
  };
}
