/**
 * Own-lease integrity: when the watcher sees our lease key hold our node name
 * with other attributes (another PublicIP, MAC, VNI, backend data, or an
 * unreadable value), peers would send our traffic elsewhere. The guard writes
 * our true value back with a compare-and-swap on the revision it saw, keeping
 * our etcd lease (so the renewal keeps working), and logs a warning. A lost
 * CAS re-reads the key and tries again; etcd being unreachable is retried
 * with backoff. If our etcd lease is gone, or another instance holds our node
 * name, the lease is lost instead (we never fight over a key).
 *
 * Our true value changes when the underlay moves (underlay-follower.ts):
 * `advertise` makes the new attributes ours and writes them the same way
 * (same key, same etcd lease, compare-and-swap), so from then on the old
 * value is the drift and our own write is never taken for one.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import { type LeaseAttrs, type LeaseSubnets, encodeLeaseValue } from '../core/lease.js';
import { classifyOwnValue } from '../core/own-lease.js';
import type { Clock } from '../adapters/clock.js';
import type { RegistryEntry, SubnetRegistry } from '../adapters/registry.js';
import { Backoff } from './jitter.js';

export interface OwnLeaseGuardDeps {
  readonly registry: SubnetRegistry;
  readonly subnets: LeaseSubnets;
  readonly attrs: LeaseAttrs;
  /** Our etcd lease id now ('0' for a reservation, also one made while we run). */
  readonly leaseId: () => string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly onLost: (reason: string) => void;
  /** A conflict over our node name (another instance holds it), if any. */
  readonly identityConflict: () => string | undefined;
  readonly onCorrected?: () => void;
}

export class OwnLeaseGuard {
  readonly #deps: OwnLeaseGuardDeps;
  readonly #signal: AbortSignal;
  #running: Promise<void> | undefined;
  #latest: RegistryEntry | undefined;
  /** Our true value's attributes: the start's, until the underlay moves. */
  #attrs: LeaseAttrs;
  /** Set by advertise until the new value is written: the stored one is believed stale. */
  #advertising = false;

  constructor(deps: OwnLeaseGuardDeps, signal: AbortSignal) {
    this.#deps = deps;
    this.#signal = signal;
    this.#attrs = deps.attrs;
  }

  get attrs(): LeaseAttrs {
    return this.#attrs;
  }

  /**
   * Our lease's attributes are these from now on (a new PublicIP after an
   * underlay change): writes them into our key in place, retried until done
   * (or the lease is lost, or weftd stops). Resolves when written.
   */
  async advertise(attrs: LeaseAttrs): Promise<void> {
    this.#attrs = attrs;
    this.#advertising = true;
    this.#running ??= this.#correct().finally(() => { this.#running = undefined; });
    await this.idle();
  }

  /** The watcher saw our key with a value that is not ours (reason says how). */
  drifted(entry: RegistryEntry, reason: string): void {
    this.#latest = entry;
    this.#deps.log.warn({ key: entry.key, reason, modRevision: entry.modRevision }, 'our own lease value in etcd was changed; writing our true value back');
    this.#running ??= this.#correct().finally(() => { this.#running = undefined; });
  }

  /** Resolves when no correction is in flight (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #correct(): Promise<void> {
    const { registry, log } = this.#deps;
    const backoff = new Backoff(200, 5000, this.#deps.random);
    let entry = this.#latest;
    while (!this.#signal.aborted) {
      if (!entry) {
        if (!this.#advertising) return;
        // advertise(): read the key as it is now (it may already hold the new value).
        try {
          entry = await this.#reread();
        } catch (err) {
          log.warn({ err: errorMessage(err) }, 'cannot read our lease to update it; etcd unreachable, retrying');
          await this.#deps.clock.sleep(backoff.next(), this.#signal).catch(() => undefined);
          continue;
        }
        if (!entry) {
          this.#advertising = false;
          return;
        }
      }
      const seen: RegistryEntry = entry;
      const value = encodeLeaseValue(this.#attrs);
      const advertising = this.#advertising;
      const conflict = this.#deps.identityConflict();
      if (conflict) {
        this.#deps.onLost(`our lease ${seen.key} was changed while another weftd instance holds our node name: ${conflict}`);
        return;
      }
      try {
        const res = await registry.restore(this.#deps.subnets, value, seen.modRevision, this.#deps.leaseId());
        if (res.ok) {
          if (advertising) {
            log.info({ key: seen.key, publicIp: this.#attrs.publicIp, publicIpv6: this.#attrs.publicIpv6, modRevision: res.modRevision },
              'updated our lease in etcd for the new underlay address');
          } else {
            log.warn({ key: seen.key, found: seen.value, modRevision: res.modRevision }, 'wrote our true lease value back');
            this.#deps.onCorrected?.();
          }
          this.#latest = undefined;
          // Attributes changed again while this write was in flight: write the newest.
          if (value !== encodeLeaseValue(this.#attrs)) {
            entry = undefined;
            continue;
          }
          this.#advertising = false;
          return;
        }
        if (res.reason === 'lease-gone') {
          this.#deps.onLost(`our etcd lease ${this.#deps.leaseId()} no longer exists (expired or revoked) while correcting ${seen.key}`);
          return;
        }
        // Changed again since we looked: back off a little (someone may keep writing), re-read, retry.
        await this.#deps.clock.sleep(backoff.next(), this.#signal).catch(() => undefined);
        entry = await this.#reread();
      } catch (err) {
        log.warn({ key: seen.key, err: errorMessage(err) }, 'cannot write our lease value back; etcd unreachable, retrying');
        await this.#deps.clock.sleep(backoff.next(), this.#signal).catch(() => undefined);
        entry = await this.#reread().catch(() => seen);
      }
    }
  }

  /** The key's current entry if it still needs a correction; undefined when it is ours again, gone or taken (the watcher handles those). */
  async #reread(): Promise<RegistryEntry | undefined> {
    const current = await this.#deps.registry.getLease(this.#deps.subnets);
    if (!current) return undefined;
    return classifyOwnValue(current.value, this.#attrs).kind === 'drifted' ? current : undefined;
  }
}
