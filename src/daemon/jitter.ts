/**
 * Randomised delays for every retry loop and periodic re-read, so a thousand
 * hosts that lost etcd at the same moment do not come back in the same
 * second. Jitter only ever shortens a delay (never past the nominal value),
 * so a timeout computed from the nominal value still holds. Randomness is
 * injected (a fixed function in unit tests).
 */

/** `ms` scaled into [ms·(1−spread), ms]. */
export function jittered(ms: number, random: () => number, spread = 0.5): number {
  return Math.max(0, Math.round(ms * (1 - spread * random())));
}

/** Capped exponential backoff with jitter: next() grows the nominal delay up to `maxMs`. */
export class Backoff {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #nominal: number;

  constructor(minMs: number, maxMs: number, random: () => number) {
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#random = random;
    this.#nominal = minMs;
  }

  /** The nominal (unjittered) delay the next call to next() is based on. */
  get nominal(): number {
    return this.#nominal;
  }

  /** The delay to wait now; doubles the nominal delay for the time after. */
  next(): number {
    const delay = jittered(this.#nominal, this.#random);
    this.#nominal = Math.min(this.#nominal * 2, this.#maxMs);
    return delay;
  }

  reset(): void {
    this.#nominal = this.#minMs;
  }
}
