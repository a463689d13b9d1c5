/**
 * The storage port for network config, subnet leases and node presence keys
 * (`<prefix>/weft-nodes/<name>`, outside flannel's `subnets/`). Storage only, no
 * policy (the lease manager in src/daemon decides): the etcd implementation
 * is etcd-registry.ts, the in-memory fake is test/fakes/memory-registry.ts.
 */
import type { LeaseSubnets } from '../core/lease.js';
import type { PresenceEntry } from '../core/node-presence.js';
import type { RawLeaseKv } from '../core/peer-set.js';

/** A raw lease entry with the etcd bookkeeping the lease manager needs. */
export interface RegistryEntry extends RawLeaseKv {
  /** etcd lease id as a decimal string; '0' for a reservation. */
  readonly leaseId: string;
  readonly modRevision: string;
}

export interface LeaseListing {
  readonly entries: readonly RegistryEntry[];
  /** The store revision the listing was read at; watch from revision + 1. */
  readonly revision: string;
}

export type RegistryEvent =
  | { readonly type: 'put'; readonly entry: RegistryEntry }
  | { readonly type: 'delete'; readonly key: string };

export type ClaimResult = { ok: true; leaseId: string; modRevision: string } | { ok: false };

/** `changed`: the key is gone or changed since the revision; `lease-gone`: the etcd lease to keep no longer exists. */
export type RestoreResult = { ok: true; modRevision: string } | { ok: false; reason: 'changed' | 'lease-gone' };

export interface WatchHandlers {
  /** Events of one watch response, in order, and the revision they bring us to. */
  onEvents(events: readonly RegistryEvent[], revision: string): void;
  /** The watch ended (compaction, cancel by the server, or the stream broke). Re-list and re-watch. */
  onError(err: Error): void;
}

export interface SubnetRegistry {
  /** The config text, or undefined when the key does not exist. */
  getConfig(): Promise<string | undefined>;
  putConfig(text: string): Promise<void>;
  /** Every lease key at one revision (read in pages, so a listing over gRPC's message limit works). */
  listLeases(): Promise<LeaseListing>;
  /** One lease key, or undefined when it does not exist. */
  getLease(subnet: LeaseSubnets): Promise<RegistryEntry | undefined>;
  /**
   * Creates the lease key only if it does not exist. `ttlSeconds` 0 writes a
   * reservation (no etcd lease). `{ok: false}` means another host holds it.
   */
  claim(subnet: LeaseSubnets, value: string, ttlSeconds: number): Promise<ClaimResult>;
  /**
   * Re-writes an existing key only if nobody changed it since `modRevision`
   * (so this can never overwrite another host's lease).
   */
  replace(subnet: LeaseSubnets, value: string, modRevision: string, ttlSeconds: number): Promise<ClaimResult>;
  /**
   * Writes `value` to an existing key only if it is unchanged since `modRevision`,
   * keeping the given etcd lease ('0': none, for a reservation). Used to put our
   * own lease value back after someone changed it: `replace` would grant a new lease.
   */
  restore(subnet: LeaseSubnets, value: string, modRevision: string, leaseId: string): Promise<RestoreResult>;
  /** Deletes the key; with `modRevision`, only if it is unchanged. Returns whether it was deleted. */
  remove(subnet: LeaseSubnets, modRevision?: string): Promise<boolean>;
  /** Renews an etcd lease; returns the TTL left, 0 when the lease no longer exists. */
  keepAlive(leaseId: string): Promise<number>;
  /** Seconds left on an etcd lease, -1 when it has none or it expired. */
  timeToLive(leaseId: string): Promise<number>;
  revoke(leaseId: string): Promise<void>;
  /** The presence key of a node name, or undefined when nobody holds it. */
  getPresence(nodeName: string): Promise<PresenceEntry | undefined>;
  /** Creates the presence key on a new etcd lease of `ttlSeconds`, only if absent. */
  claimPresence(nodeName: string, value: string, ttlSeconds: number): Promise<ClaimResult>;
  /** Re-writes the presence key on a new etcd lease, only if unchanged since `modRevision`. */
  replacePresence(nodeName: string, value: string, modRevision: string, ttlSeconds: number): Promise<ClaimResult>;
  /** Watches the subnets prefix from `fromRevision`; returns a cancel function. */
  watch(fromRevision: string, handlers: WatchHandlers): () => void;
  close(): void;
}
