/**
 * The external (underlay) interface as weftd follows it while running: read
 * by name (both families' addresses at once, cheap enough for every resync)
 * and watched through the kernel's link and address notifications. A small
 * port so the follower's logic is tested with a fake (test/fakes/memory-underlay.ts);
 * the iproute2 implementation is iproute2/underlay.ts.
 */
import type { UnderlayReading } from '../core/underlay-change.js';

export type { UnderlayReading } from '../core/underlay-change.js';

/** A running watch; `stop` resolves when nothing of it is left running. */
export interface UnderlayWatch {
  stop(): Promise<void>;
}

export interface UnderlayPort {
  /** The interface with this name and its addresses; undefined when no interface has the name. Throws only when the read itself fails. */
  read(name: string): Promise<UnderlayReading | undefined>;
  /**
   * Calls `onChange` (with a short reason for the log) whenever the kernel
   * reports a link or address change of the interface with this name, or
   * may have dropped one (then the caller reads again all the same).
   * Resolves once subscribed; never rejects: a watch that cannot run is
   * reported through `onChange` and retried, and the resync backs it up.
   */
  watch(name: string, onChange: (reason: string) => void): Promise<UnderlayWatch>;
}
