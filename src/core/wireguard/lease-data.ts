/**
 * The wireguard backend's part of a lease value: `BackendData` and
 * `BackendV6Data`, each flannel's `wireguardLeaseAttrs {PublicKey string;
 * Port uint16}` (a Go struct without JSON tags, so the field names are
 * `PublicKey` and `Port`; next-anchors §1.2). Example written by flanneld:
 *
 *   {"PublicIP":"192.168.1.10","BackendType":"wireguard",
 *    "BackendData":{"PublicKey":"<base64>","Port":51820}}
 *
 * Reading follows Go's encoding/json: field names match case-insensitively,
 * unknown fields are ignored. `Port` was added in flannel v0.26.6; a lease
 * without it (or with 0) means "the same port as yours" (`peerPort`).
 */
import { isObject, lowerKeys } from '../config-fields.js';
import { type WgPublicKey, parsePublicKey } from './keys.js';

export const WIREGUARD_BACKEND_TYPE = 'wireguard';

export interface WireguardLeaseData {
  readonly publicKey: WgPublicKey;
  /** The peer's listen port; undefined when the lease has none (flannel before v0.26.6) or 0. */
  readonly port: number | undefined;
}

/** Both families of a wireguard lease. `v4` is absent only on an IPv6-only flannel host. */
export interface WireguardLeaseDatas {
  readonly v4: WireguardLeaseData | undefined;
  readonly v6: WireguardLeaseData | undefined;
}

export type DataDecode<T> = { ok: true; data: T } | { ok: false; reason: string };

/** `{"PublicKey":…,"Port":…}` in flanneld's field order. Port is always written, as flanneld ≥ v0.26.6 does. */
export function encodeWireguardData(data: { readonly publicKey: WgPublicKey; readonly port: number }): Record<string, unknown> {
  return { PublicKey: data.publicKey, Port: data.port };
}

/** Decodes one `BackendData`/`BackendV6Data` object; `field` names it in the reason. */
export function decodeWireguardData(raw: unknown, field: string): DataDecode<WireguardLeaseData> {
  if (!isObject(raw)) return { ok: false, reason: `${field} is not a JSON object` };
  const fields = lowerKeys(raw);
  const key = fields.get('publickey');
  if (typeof key !== 'string') return { ok: false, reason: `${field}.PublicKey is missing or not a string` };
  const parsed = parsePublicKey(key);
  if (!parsed.ok) return { ok: false, reason: `${field}.PublicKey ${JSON.stringify(key)} ${parsed.reason}` };
  const port = fields.get('port');
  if (port !== undefined && port !== null && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)) {
    return { ok: false, reason: `${field}.Port ${JSON.stringify(port)} is not a port number (0 to 65535)` };
  }
  return { ok: true, data: { publicKey: parsed.key, port: typeof port === 'number' && port !== 0 ? port : undefined } };
}

/**
 * Reads both datas from a parsed lease value object (the whole
 * `{"PublicIP":…,"BackendType":"wireguard",…}`). Refuses another backend
 * type with its name, and a wireguard lease that has neither data.
 */
export function decodeWireguardLease(value: Readonly<Record<string, unknown>>): DataDecode<WireguardLeaseDatas> {
  const type = value['BackendType'];
  if (type !== WIREGUARD_BACKEND_TYPE) {
    return { ok: false, reason: `BackendType is ${JSON.stringify(type ?? '')}, not "wireguard" (flannel ignores such peers too)` };
  }
  const sides: (WireguardLeaseData | undefined)[] = [];
  for (const field of ['BackendData', 'BackendV6Data']) {
    const raw = value[field];
    if (raw === undefined || raw === null) {
      sides.push(undefined);
      continue;
    }
    const decoded = decodeWireguardData(raw, field);
    if (!decoded.ok) return decoded;
    sides.push(decoded.data);
  }
  const [v4, v6] = sides;
  if (v4 === undefined && v6 === undefined) return { ok: false, reason: 'wireguard lease has neither BackendData nor BackendV6Data' };
  return { ok: true, data: { v4, v6 } };
}

/** The port to send to: the peer's, or ours when its lease has none (flannel's fallback for older peers). */
export function peerPort(data: WireguardLeaseData, ownPort: number): number {
  return data.port ?? ownPort;
}
