/**
 * An in-memory bridge for the CNI plugin's stale-address logic: links with
 * their IPv4 addresses and ports, and a log of removals.
 */
import type { BridgeLink, BridgeProbe } from '../../src/cni/bridge-probe.js';

export class FakeBridgeProbe implements BridgeProbe {
  readonly links = new Map<string, BridgeLink>();
  readonly removed: string[] = [];
  /** Called on every read, so a test can change the bridge between the check and the locked re-check. */
  onRead: (name: string, reads: number) => void = () => {};
  #reads = 0;

  async read(name: string): Promise<BridgeLink | undefined> {
    this.#reads += 1;
    this.onRead(name, this.#reads);
    return this.links.get(name);
  }

  async remove(name: string): Promise<void> {
    this.removed.push(name);
    this.links.delete(name);
  }
}
