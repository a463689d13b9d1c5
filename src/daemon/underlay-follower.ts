/**
 * Follows the external interface while weftd runs (flannel #2247, #2433):
 * kernel notifications on the interface (and every resync, as a backstop)
 * make the reconcile loop call `check`, which reads the interface and acts
 * on the pure decision (core/underlay-change.ts):
 *
 * - the interface gone (or without a usable address): `waiting`, logged and
 *   retried; the loop skips its data-plane pass (nothing that still works is
 *   torn down) and the lease keeper goes on renewing the lease;
 * - a new address or a new ifindex: the data plane's `prepare` runs again on
 *   the same interface (the device is made again with the new `local`, on the
 *   new parent), and `onMoved` gets the result: weftd writes the lease's new
 *   PublicIP in place and runs a full pass, which re-programs every peer on
 *   the new device and rewrites subnet.env if the MTU changed.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import { type UnderlayBaseline, type UnderlayPins, decideUnderlay } from '../core/underlay-change.js';
import type { UnderlayPort, UnderlayWatch } from '../adapters/underlay.js';
import type { DataPlanePort, PrepareInput, Prepared } from '../backend/data-plane-port.js';
import type { DaemonStatus } from './status.js';

export interface UnderlayFollowerDeps {
  readonly underlay: UnderlayPort;
  readonly dataPlane: DataPlanePort;
  /** What prepare() got at start; the interface is then named by what it chose. */
  readonly prepareInput: PrepareInput;
  readonly pins: UnderlayPins;
  readonly log: Logger;
  readonly status: DaemonStatus;
  readonly now: () => number;
  /** The device(s) were made again for a new underlay: advertise `prepared`'s addresses. */
  readonly onMoved: (prepared: Prepared) => void;
}

/** What `check` found: carry on, skip the pass and retry soon, or run a full pass now. */
export type UnderlayCheck = 'ok' | 'waiting' | 'moved';

export class UnderlayFollower {
  readonly #deps: UnderlayFollowerDeps;
  readonly #iface: string;
  #prepared: Prepared;
  #baseline: UnderlayBaseline;
  #dirty = false;
  #watch: UnderlayWatch | undefined;
  #waiting: string | undefined;

  constructor(deps: UnderlayFollowerDeps, prepared: Prepared & { readonly parent: string }) {
    this.#deps = deps;
    this.#iface = prepared.parent;
    this.#prepared = prepared;
    this.#baseline = { iface: prepared.parent, index: undefined, publicIp: prepared.publicIp, publicIpv6: prepared.v6?.publicIp };
    deps.status.underlay = { iface: prepared.parent, publicIp: prepared.publicIp, publicIpv6: prepared.v6?.publicIp, changes: 0, waiting: undefined };
  }

  /** The device(s) as last made: at start, or after the last change followed. */
  get prepared(): Prepared {
    return this.#prepared;
  }

  /** True when a notification came since the last check (the loop then checks before its next pass). */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** While the underlay is gone: why (the loop retries soon, and checks first). */
  get waiting(): string | undefined {
    return this.#waiting;
  }

  /**
   * Subscribes to the interface's notifications (`wake` rings the loop), then
   * reads it once for the ifindex the device was built on. Never throws.
   */
  async start(wake: () => void): Promise<void> {
    this.#watch = await this.#deps.underlay.watch(this.#iface, (reason) => {
      this.#deps.log.debug({ iface: this.#iface, reason }, 'underlay interface changed; checking it');
      this.#dirty = true;
      wake();
    });
    try {
      const reading = await this.#deps.underlay.read(this.#iface);
      const decision = decideUnderlay(this.#baseline, reading, this.#deps.pins);
      if (decision.kind === 'none') this.#baseline = { ...this.#baseline, index: decision.index };
      else this.#dirty = true; // it moved between prepare() and now: the first pass checks
    } catch (err) {
      this.#deps.log.warn({ iface: this.#iface, err: errorMessage(err) }, 'cannot read the underlay interface; the next resync reads it again');
    }
  }

  async stop(): Promise<void> {
    await this.#watch?.stop();
    this.#watch = undefined;
  }

  /** Reads the interface and follows it (see the file comment). Never throws. */
  async check(): Promise<UnderlayCheck> {
    this.#dirty = false;
    const { log } = this.#deps;
    let decision;
    try {
      decision = decideUnderlay(this.#baseline, await this.#deps.underlay.read(this.#iface), this.#deps.pins);
    } catch (err) {
      // The read failed, not the interface: nothing is known to have moved.
      log.warn({ iface: this.#iface, err: errorMessage(err) }, 'cannot read the underlay interface; retrying on the next resync');
      return this.#waiting === undefined ? 'ok' : 'waiting';
    }
    switch (decision.kind) {
      case 'none':
        this.#baseline = { ...this.#baseline, index: decision.index };
        if (this.#waiting !== undefined) log.info({ iface: this.#iface, publicIp: this.#baseline.publicIp }, 'underlay interface usable again, unchanged');
        this.#setWaiting(undefined);
        return 'ok';
      case 'wait':
        if (this.#waiting !== decision.reason) {
          log.warn({ iface: this.#iface, reason: decision.reason, publicIp: this.#baseline.publicIp },
            'underlay interface not usable; keeping the lease and every kernel entry, retrying');
        }
        this.#setWaiting(decision.reason);
        return 'waiting';
      default: {
        log.info({ iface: this.#iface, change: decision.kind, reason: decision.reason }, 'underlay changed; making the vxlan device again');
        let prepared: Prepared;
        try {
          prepared = await this.#deps.dataPlane.prepare({ ...this.#deps.prepareInput, iface: this.#iface });
        } catch (err) {
          const reason = `cannot make the vxlan device again on ${this.#iface}: ${errorMessage(err)}`;
          log.warn({ iface: this.#iface, err: errorMessage(err) }, 'cannot follow the underlay change yet; retrying');
          this.#setWaiting(reason);
          return 'waiting';
        }
        // An IPv6 device that could not be made again keeps advertising the address it has.
        const next: Prepared = { ...prepared, v6: prepared.v6 ?? this.#prepared.v6 };
        this.#prepared = next;
        this.#baseline = { iface: this.#iface, index: decision.index, publicIp: next.publicIp, publicIpv6: next.v6?.publicIp };
        this.#setWaiting(undefined);
        const status = this.#deps.status;
        status.underlay = { iface: this.#iface, publicIp: next.publicIp, publicIpv6: next.v6?.publicIp,
          changes: (status.underlay?.changes ?? 0) + 1, waiting: undefined, lastChangeAt: this.#deps.now() };
        this.#deps.onMoved(next);
        return 'moved';
      }
    }
  }

  #setWaiting(reason: string | undefined): void {
    this.#waiting = reason;
    const status = this.#deps.status;
    if (status.underlay) status.underlay = { ...status.underlay, waiting: reason };
  }
}
