/**
 * The node presence key: `<prefix>/weft-nodes/<nodeName>`, outside flannel's
 * `subnets/` prefix, so flannel hosts never see it. It says which running
 * weftd instance owns a node name; it lives on its own short-TTL etcd lease,
 * so it disappears soon after its holder dies. This file holds its codec and
 * the pure decision "claim, take over, or wait" (docs/design.md, "Node
 * identity and own-lease integrity").
 */
import { type Ipv4, isIpv4 } from './cidr.js';
import { parseJsonObject } from './config-fields.js';

export interface NodePresence {
  /** Hash of the boot id and the network namespace: same for a restart on one host, different for a clone. */
  readonly instanceId: string;
  readonly publicIp: Ipv4;
  /** ISO time the holding weftd started. */
  readonly startedAt: string;
}

/** A presence key as stored, with the bookkeeping needed to replace it. */
export interface PresenceEntry {
  readonly value: string;
  readonly leaseId: string;
  readonly modRevision: string;
}

export function encodePresence(p: NodePresence): string {
  return JSON.stringify({ InstanceID: p.instanceId, PublicIP: p.publicIp, StartedAt: p.startedAt });
}

export type PresenceParse = { ok: true; presence: NodePresence } | { ok: false; reason: string };

export function decodePresence(text: string): PresenceParse {
  const parsed = parseJsonObject(text);
  if (!parsed.ok) return parsed;
  const v = parsed.value;
  const instanceId = v['InstanceID'];
  const publicIp = v['PublicIP'];
  const startedAt = v['StartedAt'];
  if (typeof instanceId !== 'string' || instanceId === '') return { ok: false, reason: 'InstanceID is not a non-empty string' };
  if (typeof publicIp !== 'string' || !isIpv4(publicIp)) return { ok: false, reason: `PublicIP ${JSON.stringify(publicIp)} is not an IPv4 address` };
  return { ok: true, presence: { instanceId, publicIp, startedAt: typeof startedAt === 'string' ? startedAt : '' } };
}

export type PresenceDecision =
  /** Nobody holds the name: create the key. */
  | { readonly kind: 'claim' }
  /** Our own instance holds it (a restart on the same host): replace it at this mod revision. */
  | { readonly kind: 'take-over'; readonly entry: PresenceEntry }
  /** Another instance holds it (undefined holder: the value is unreadable). */
  | { readonly kind: 'held'; readonly holder: NodePresence | undefined; readonly entry: PresenceEntry };

export function decidePresence(existing: PresenceEntry | undefined, instanceId: string): PresenceDecision {
  if (!existing) return { kind: 'claim' };
  const decoded = decodePresence(existing.value);
  if (decoded.ok && decoded.presence.instanceId === instanceId) return { kind: 'take-over', entry: existing };
  return { kind: 'held', holder: decoded.ok ? decoded.presence : undefined, entry: existing };
}

/** The operator-facing description of a conflict: the name, the other holder, the fix. */
export function describeNameConflict(nodeName: string, holder: NodePresence | undefined): string {
  const who = holder
    ? `another running host (public IP ${holder.publicIp}, weftd started ${holder.startedAt || 'at an unknown time'}, instance ${holder.instanceId.slice(0, 12)})`
    : 'a presence key whose value weft cannot read';
  return `node name "${nodeName}" is already in use by ${who}; two hosts must never share a node name. `
    + 'Fix: give each host a unique --node-name (or WEFTD_NODE_NAME); the default is the hostname, which cloned machines share';
}
