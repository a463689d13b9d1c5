/**
 * An in-memory bridge for the CNI plugin's stale-address logic: links with
 * their IPv4 (and global IPv6) addresses and ports, and a log of removals.
 */
import type { BridgeLink, BridgeProbe } from '../../src/cni/bridge-probe.js';

export interface FakeBridge extends BridgeLink {
  readonly ports: readonly string[];
}

export class FakeBridgeProbe implements BridgeProbe {
  readonly links = new Map<string, FakeBridge>();
  /** How many times ports() was asked (it costs a process on a real host). */
  portReads = 0;
  readonly removed: string[] = [];
  /** Called on every read, so a test can change the bridge between the check and the locked re-check. */
  onRead: (name: string, reads: number) => void = () => {};
  #reads = 0;

  async read(name: string): Promise<BridgeLink | undefined> {
    this.#reads += 1;
    this.onRead(name, this.#reads);
    const link = this.links.get(name);
    return link === undefined ? undefined : { mac: link.mac, addresses: link.addresses, ...(link.addresses6 ? { addresses6: link.addresses6 } : {}) };
  }

  async ports(name: string): Promise<string[]> {
    this.portReads += 1;
    return [...(this.links.get(name)?.ports ?? [])];
  }

  async remove(name: string): Promise<void> {
    this.removed.push(name);
    this.links.delete(name);
  }
}
