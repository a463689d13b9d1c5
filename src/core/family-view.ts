/**
 * The IPv6 data path is the IPv4 one again, on a second device: the same
 * reconcile, kernel cache, drift tracking and batch adapter. It programs
 * each peer's IPv6 half as a peer of its own, through this projection:
 * `subnet`, `attrs.publicIp` and `attrs.vtepMac` become the IPv6 subnet,
 * `PublicIPv6` and the IPv6 VTEP MAC. Below the data plane, kernel entries
 * are canonical address strings of either family (kernel-state.ts), so the
 * projected values travel under the IPv4 type brands; they never leave the
 * IPv6 data-plane instance. Pure.
 */
import type { Cidr, Ipv4 } from './cidr.js';
import type { Cidr6 } from './cidr6.js';
import { type Peer, peerV6 } from './peer-acceptance.js';

/** An IPv6 subnet as the family-agnostic data plane carries it. */
export function asPlaneSubnet(subnet: Cidr6): Cidr {
  return subnet as string as Cidr;
}

export class Ipv6Projection {
  /** Each peer object's projection, so an unchanged peer projects to the same object (the kernel cache compares identity). */
  #views = new WeakMap<Peer, Peer | null>();
  /** IPv4 subnet → IPv6 subnet of its peer as last projected, and back. */
  #v6Of = new Map<Cidr, Cidr>();
  #v4Of = new Map<Cidr, Cidr>();

  /** The peer's IPv6 half as a peer, or undefined when it has none (an IPv4-only peer). */
  view(peer: Peer): Peer | undefined {
    const cached = this.#views.get(peer);
    if (cached !== undefined) return cached ?? undefined;
    const half = peerV6(peer);
    const view: Peer | null = half === undefined ? null : {
      subnet: asPlaneSubnet(half.subnet),
      attrs: {
        publicIp: half.publicIp as string as Ipv4, backendType: peer.attrs.backendType, vni: peer.attrs.backendV6?.vni,
        vtepMac: half.vtepMac, nodeName: peer.attrs.nodeName,
      },
    };
    this.#views.set(peer, view);
    return view ?? undefined;
  }

  /** Every peer's IPv6 half (a whole-set pass); remembers the mapping for later event passes. */
  all(peers: readonly Peer[]): Peer[] {
    this.#v6Of.clear();
    this.#v4Of.clear();
    const out: Peer[] = [];
    for (const peer of peers) {
      const view = this.view(peer);
      if (!view) continue;
      out.push(view);
      this.#v6Of.set(peer.subnet, view.subnet);
      this.#v4Of.set(view.subnet, peer.subnet);
    }
    return out;
  }

  /**
   * The IPv6 subnets an event pass must plan for these changed IPv4 subnets
   * (the old IPv6 subnet of a peer that went or moved, and the new one), and
   * the peer each IPv6 subnet has now.
   */
  changed(changed: ReadonlySet<Cidr>, peerOf: (subnet: Cidr) => Peer | undefined): {
    changed: Set<Cidr>; peerOf: (subnet: Cidr) => Peer | undefined;
  } {
    const out = new Set<Cidr>();
    for (const subnet of changed) {
      const old = this.#v6Of.get(subnet);
      if (old !== undefined) {
        out.add(old);
        if (this.#v4Of.get(old) === subnet) this.#v4Of.delete(old);
        this.#v6Of.delete(subnet);
      }
      const peer = peerOf(subnet);
      const view = peer && this.view(peer);
      if (view) {
        out.add(view.subnet);
        this.#v6Of.set(subnet, view.subnet);
        this.#v4Of.set(view.subnet, subnet);
      }
    }
    return {
      changed: out,
      peerOf: (subnet6) => {
        const v4 = this.#v4Of.get(subnet6);
        const peer = v4 === undefined ? undefined : peerOf(v4);
        return peer && this.view(peer);
      },
    };
  }
}
