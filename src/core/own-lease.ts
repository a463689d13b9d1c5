/**
 * Is the value now stored under this host's lease key still ours? Pure:
 * the watcher reports the answer, the own-lease guard acts on it. Another
 * node name (or, for a flannel-written value, another PublicIP) means the key
 * was taken over; same node name with other attributes, or an unreadable
 * value, means it drifted and we write our true value back.
 */
import { type LeaseAttrs, decodeLeaseValue } from './lease.js';

export type OwnValueVerdict =
  | { readonly kind: 'ours' }
  | { readonly kind: 'drifted'; readonly reason: string }
  | { readonly kind: 'taken'; readonly by: string; readonly publicIp: string };

export function classifyOwnValue(value: string, ours: LeaseAttrs): OwnValueVerdict {
  const decoded = decodeLeaseValue(value);
  if (!decoded.ok) return { kind: 'drifted', reason: `unreadable value: ${decoded.reason}` };
  const found = decoded.attrs;
  if (found.nodeName !== undefined ? found.nodeName !== ours.nodeName : found.publicIp !== ours.publicIp) {
    return { kind: 'taken', by: found.nodeName ?? '(flannel)', publicIp: found.publicIp };
  }
  const diffs: string[] = [];
  const field = (name: string, got: unknown, want: unknown): void => {
    if (got !== want) diffs.push(`${name} ${String(got)} (ours ${String(want)})`);
  };
  field('PublicIP', found.publicIp, ours.publicIp);
  field('BackendType', found.backendType, ours.backendType);
  field('VNI', found.vni, ours.vni);
  field('VtepMAC', found.vtepMac, ours.vtepMac);
  field('NodeName', found.nodeName, ours.nodeName);
  field('BackendData.PublicKey', found.wireguard?.publicKey, ours.wireguard?.publicKey);
  field('BackendData.Port', found.wireguard?.port, ours.wireguard?.port);
  return diffs.length === 0 ? { kind: 'ours' } : { kind: 'drifted', reason: diffs.join(', ') };
}
