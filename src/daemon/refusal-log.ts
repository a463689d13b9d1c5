/**
 * Logs each peer refused by the data plane (its subnet collides with a route
 * weft does not own) once when it starts, and once when it ends, instead of
 * on every pass.
 */
import type { Logger } from 'pino';
import type { Cidr } from '../core/cidr.js';

export class RefusalLog {
  readonly #log: Logger;
  readonly #current = new Map<Cidr, string>();

  constructor(log: Logger) {
    this.#log = log;
  }

  report(refused: readonly { readonly subnet: Cidr; readonly reason: string }[]): void {
    const now = new Map(refused.map((r) => [r.subnet, r.reason]));
    for (const [subnet, reason] of now) {
      if (this.#current.get(subnet) === reason) continue;
      this.#current.set(subnet, reason);
      this.#log.warn({ subnet, code: 'route-collision', reason }, 'refusing peer lease');
    }
    for (const subnet of [...this.#current.keys()]) {
      if (now.has(subnet)) continue;
      this.#current.delete(subnet);
      this.#log.info({ subnet }, 'peer lease no longer collides with a foreign route; programming it');
    }
  }
}
