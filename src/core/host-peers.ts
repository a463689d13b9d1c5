/**
 * The acceptance rule applied to one listing from one host's point of view,
 * for the one-shot readers (`weftctl status`, `doctor`): the peers weftd on
 * that host programs, every key's verdict, and the peers refused because a
 * route weft does not own already uses their subnet there. weftd itself
 * gets the same answers from its long-lived PeerSet and data plane.
 */
import type { Cidr } from './cidr.js';
import type { ListedLease } from './allocate.js';
import { type ForeignRoute, type SelfView, withoutCollisions } from './peer-acceptance.js';
import { type LeaseVerdict, type ListedPeer, PeerSet, type RawLeaseKv } from './peer-set.js';
import type { NetworkConfig } from './network-config.js';

export interface HostPeers {
  /** Accepted and not colliding: what weftd programs on this host. */
  readonly peers: readonly ListedPeer[];
  readonly verdicts: readonly LeaseVerdict[];
  /** Accepted peers refused on this host, with the colliding route. */
  readonly collisions: ReadonlyMap<Cidr, string>;
}

export function hostPeers(config: NetworkConfig, entries: readonly RawLeaseKv[], self: SelfView,
  foreign: readonly ForeignRoute[] = []): HostPeers {
  const set = new PeerSet(config, self);
  set.reset(entries);
  const { peers, collisions } = withoutCollisions(self.subnet, set.values(), foreign);
  return { peers, verdicts: set.verdicts(), collisions };
}

/** This host as the acceptance rule sees it: both families' subnet, address and VTEP MAC. */
export function selfView(own: ListedLease): SelfView {
  const { subnet, subnetV6, attrs } = own;
  const self = { subnet, publicIp: attrs.publicIp, vtepMac: attrs.vtepMac, subnetV6, publicIpv6: attrs.publicIpv6, vtepMacV6: attrs.backendV6?.vtepMac,
    wireguardKey: attrs.wireguard?.publicKey };
  return self;
}
