/**
 * Keeps weft's `--ip-masq` iptables rules (src/core/masq-rules.ts) in place:
 * once per reconcile pass, read weft's chains and their jumps, and when
 * anything differs rewrite only what differs in one `iptables-restore
 * --noflush` transaction per table. A pass that finds the rules right writes
 * nothing, so a restart never flushes them. Failures are logged (throttled)
 * and retried on the next pass; they never stop the daemon. With `--ip-masq`
 * off the same check makes sure they are absent (removeTrafficRules, which
 * `weftctl cleanup` also uses), so switching the flag converges every pod of
 * the host, existing ones included.
 */
import type { Logger } from 'pino';
import type { Cidr } from '../core/cidr.js';
import { errorMessage } from '../core/errors.js';
import {
  type ChainLocation, type ChainListing, type ChainRemoval, type ChainRepair, type OwnedChain, type TrafficScope, OWNED_CHAINS,
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

/** What the reconcile loop calls on resync passes: rules present (`--ip-masq`) or absent. Never throws. */
export interface TrafficRulesPort {
  ensure(network: Cidr, subnet: Cidr): Promise<TrafficRulesResult>;
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
export async function ensureTrafficRules(iptables: Iptables, scope: TrafficScope): Promise<EnsureOutcome> {
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

/** The reconcile loop's port: ensureTrafficRules with logging, throttled warnings and no exceptions. */
export class TrafficRules implements TrafficRulesPort {
  readonly #iptables: Iptables;
  readonly #log: Logger;
  readonly #throttled: ThrottledLog;
  readonly #enabled: boolean;
  #checked = false;

  /** `enabled` false (`--ip-masq=false`): keep weft's chains and jumps absent instead. */
  constructor(deps: { iptables: Iptables; log: Logger; now?: () => number; enabled?: boolean }) {
    this.#iptables = deps.iptables;
    this.#log = deps.log;
    this.#enabled = deps.enabled ?? true;
    this.#throttled = new ThrottledLog(deps.log, 60_000, deps.now ?? Date.now);
  }

  async ensure(network: Cidr, subnet: Cidr): Promise<TrafficRulesResult> {
    return this.#enabled ? this.#ensurePresent(network, subnet) : this.#ensureAbsent();
  }

  async #ensureAbsent(): Promise<TrafficRulesResult> {
    let removals: readonly ChainRemoval[];
    try {
      removals = await removeTrafficRules(this.#iptables);
    } catch (err) {
      this.#throttled.warn('iptables', { err: errorMessage(err) }, 'cannot check for traffic rules to remove (--ip-masq is off); retrying next pass');
      return { ok: false, changed: false };
    }
    this.#throttled.clear('iptables', {}, 'traffic rules can be checked again');
    if (removals.length > 0) {
      this.#log.info({ removed: removals.map((r) => ({ table: r.table, chain: r.chain, rules: r.rules, jumps: r.deleteJumps.length })) },
        'traffic rules removed (--ip-masq is off)');
    }
    this.#checked = true;
    return { ok: true, changed: removals.length > 0 };
  }

  async #ensurePresent(network: Cidr, subnet: Cidr): Promise<TrafficRulesResult> {
    let outcome: EnsureOutcome;
    try {
      outcome = await ensureTrafficRules(this.#iptables, { network, subnet });
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
 * Starts `rules.ensure(network, subnet)` now (weftd: once the lease is
 * acquired, while the peers are still being listed) and returns a port whose
 * first ensure with the same arguments is that call, so the first reconcile
 * pass does not wait for iptables after the data plane; later calls run
 * as usual.
 */
export function ensureAhead(rules: TrafficRulesPort, network: Cidr, subnet: Cidr): TrafficRulesPort {
  let early: Promise<TrafficRulesResult> | undefined = rules.ensure(network, subnet);
  return {
    ensure(n: Cidr, s: Cidr): Promise<TrafficRulesResult> {
      const first = early;
      early = undefined;
      return first && n === network && s === subnet ? first : rules.ensure(n, s);
    },
  };
}
