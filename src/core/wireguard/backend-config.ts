/**
 * flannel's `wireguard` Backend object (pkg/backend/wireguard/wireguard.go,
 * next-anchors §1.1), parsed with the same conventions as the VXLAN backend in
 * network-config.ts: case-insensitive keys, unknown keys ignored, defaults
 * applied, every problem reported at once into the caller's `errors`.
 *
 * Decisions where flannel's behaviour is accidental:
 * - `ListenPort`/`ListenPortV6` 0 mean the default (flannel would let the
 *   kernel pick a random port and then advertise 0, which peers replace with
 *   their own port: a tunnel that never comes up).
 * - `Mode` is case-sensitive as in flannel (a "Separate" that weft accepted and
 *   flanneld refused would split a mixed cluster).
 * - The modes and the network's EnableIPv6 are checked together
 *   (`wireguardDualStackProblem`): flanneld accepts two combinations that
 *   cannot work and fails at runtime; weft says so when the config is set.
 */
import { SecretKey } from './keys.js';
import { type Fields, intField, isObject, lowerKeys } from '../config-fields.js';

export const WIREGUARD_MODES = ['separate', 'auto', 'ipv4', 'ipv6'] as const;
export type WireguardMode = (typeof WIREGUARD_MODES)[number];

export interface WireguardBackend {
  readonly type: 'wireguard';
  /** UDP port of the IPv4 device (`ListenPort`, default 51820), advertised as `BackendData.Port`. */
  readonly listenPort: number;
  /** UDP port of the IPv6 device in separate mode (`ListenPortV6`, default 51821), advertised as `BackendV6Data.Port`. */
  readonly listenPortV6: number;
  /** Underlay MTU override; the device gets `mtu - 80` (WIREGUARD_OVERHEAD). */
  readonly mtu: number | undefined;
  /** The cluster-wide pre-shared key (`PSK`), or undefined for none. Never printed. */
  readonly psk: SecretKey | undefined;
  /** Seconds between keepalives (`PersistentKeepaliveInterval`, a JSON number as in flannel); 0 = off. */
  readonly persistentKeepaliveInterval: number;
  readonly mode: WireguardMode;
}

export const DEFAULT_LISTEN_PORT = 51820;
export const DEFAULT_LISTEN_PORT_V6 = 51821;
/**
 * WireGuard's worst-case overhead, flannel's figure for both families: outer
 * IPv6 40 (IPv4 20), UDP 8, type 4, receiver index 4, counter 8, tag 16.
 */
export const WIREGUARD_OVERHEAD = 80;
/** The UAPI keeps the keepalive in a uint16. */
export const MAX_KEEPALIVE = 65535;

/** Device MTU for an underlay MTU. */
export function wireguardDeviceMtu(underlayMtu: number): number {
  return underlayMtu - WIREGUARD_OVERHEAD;
}

/**
 * True when `value` is a Backend object whose `Type` is wireguard (any case, as
 * flannel lower-cases the type), so parseBackend can hand it over.
 */
export function isWireguardBackend(value: unknown): boolean {
  if (!isObject(value)) return false;
  const type = lowerKeys(value).get('type');
  return typeof type === 'string' && type.toLowerCase() === 'wireguard';
}

/**
 * Parses a `{"Type":"wireguard", ...}` Backend object. Pushes every problem to
 * `errors` (prefixed `Backend.<Field>`) and notes to `warnings`; returns
 * undefined when there was a problem.
 */
export function parseWireguardBackend(value: unknown, errors: string[], warnings: string[]): WireguardBackend | undefined {
  if (!isObject(value)) {
    errors.push(`Backend must be an object like {"Type":"wireguard"}, got ${JSON.stringify(value)}`);
    return undefined;
  }
  const fields = lowerKeys(value);
  const before = errors.length;
  if (!isWireguardBackend(value)) errors.push(`Backend.Type ${JSON.stringify(fields.get('type'))} is not "wireguard"`);
  const listenPort = portField(fields, 'listenport', 'Backend.ListenPort', errors) ?? DEFAULT_LISTEN_PORT;
  const listenPortV6 = portField(fields, 'listenportv6', 'Backend.ListenPortV6', errors) ?? DEFAULT_LISTEN_PORT_V6;
  const mtu = intField(fields, 'mtu', 'Backend.MTU', 0, 65535, errors);
  if (mtu !== undefined && mtu !== 0 && mtu < 68 + WIREGUARD_OVERHEAD) {
    errors.push(`Backend.MTU ${mtu} is too small: the underlay MTU must be at least ${68 + WIREGUARD_OVERHEAD} (WireGuard adds ${WIREGUARD_OVERHEAD} bytes)`);
  }
  const psk = parsePsk(fields.get('psk'), errors);
  const keepalive = parseKeepalive(fields.get('persistentkeepaliveinterval'), errors);
  const mode = parseMode(fields.get('mode'), errors);
  for (const [key, name] of [['port', 'Port'], ['vni', 'VNI']] as const) {
    if (fields.has(key)) warnings.push(`Backend.${name} is a vxlan setting and is ignored by the wireguard backend${key === 'port' ? ' (use ListenPort)' : ''}`);
  }
  if (errors.length > before || mode === undefined) return undefined;
  return {
    type: 'wireguard', listenPort, listenPortV6, mtu: mtu === 0 ? undefined : mtu, psk, persistentKeepaliveInterval: keepalive, mode,
  };
}

/**
 * What flannel's modes cannot do on this network, or undefined. Every mode
 * runs on a dual-stack network (next-anchors §1.6); two combinations cannot
 * work, and flannel finds that out only at runtime:
 * - `ipv6` without EnableIPv6: every tunnel goes over the IPv6 underlay, and a
 *   host advertises its IPv6 address (`PublicIPv6`) only on a dual-stack
 *   network, so no peer would have an endpoint;
 * - `separate` with EnableIPv6 and `ListenPortV6` equal to `ListenPort`: the
 *   two devices would bind the same UDP port (flanneld's second device fails).
 */
export function wireguardDualStackProblem(backend: WireguardBackend, enableIpv6: boolean): string | undefined {
  if (backend.mode === 'ipv6' && !enableIpv6) {
    return 'Backend.Mode "ipv6" sends every tunnel over the IPv6 underlay, which hosts advertise (PublicIPv6) only on a dual-stack network: '
      + 'set EnableIPv6 and IPv6Network, or use Mode "separate", "auto" or "ipv4"';
  }
  if (backend.mode === 'separate' && enableIpv6 && backend.listenPort === backend.listenPortV6) {
    return `Backend.ListenPortV6 ${backend.listenPortV6} is also ListenPort: in Mode "separate" a dual-stack host runs two devices `
      + '(weft-wg and weft-wg-v6) that cannot share a UDP port; choose another ListenPortV6 (default 51821)';
  }
  return undefined;
}

/**
 * Renders the Backend object back in flannel's field names. The PSK is part of
 * the config's wire format (etcd); `redactPsk` replaces it for display.
 */
export function renderWireguardBackend(backend: WireguardBackend, options: { redactPsk?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { Type: 'wireguard', ListenPort: backend.listenPort, ListenPortV6: backend.listenPortV6 };
  if (backend.mtu !== undefined) out['MTU'] = backend.mtu;
  if (backend.psk !== undefined) out['PSK'] = options.redactPsk ? REDACTED : backend.psk.base64();
  if (backend.persistentKeepaliveInterval !== 0) out['PersistentKeepaliveInterval'] = backend.persistentKeepaliveInterval;
  out['Mode'] = backend.mode;
  return out;
}

/** The placeholder `weftctl config get` prints for a PSK without `--show-secrets`. */
export const REDACTED = '[redacted]';

/**
 * The stored config text with the value of every `"PSK"` key (any case)
 * replaced by REDACTED, the rest byte for byte as stored; also works on text
 * that is not valid JSON (an invalid config is printed too, and may hold one).
 */
export function redactPskText(text: string): string {
  return text.replace(/("psk"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, `$1"${REDACTED}"`);
}

function portField(fields: Fields, key: string, name: string, errors: string[]): number | undefined {
  const port = intField(fields, key, name, 0, 65535, errors);
  return port === 0 ? undefined : port;
}

function parsePsk(value: unknown, errors: string[]): SecretKey | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    errors.push('Backend.PSK must be a base64 string of 32 bytes (e.g. from `wg genpsk`), got a ' + (Array.isArray(value) ? 'list' : typeof value));
    return undefined;
  }
  const parsed = SecretKey.parseBase64(value);
  // The value itself is a secret: the message says what is wrong with it, never what it is.
  if (!parsed.ok) errors.push(`Backend.PSK ${parsed.reason}`);
  return parsed.ok ? parsed.key : undefined;
}

function parseKeepalive(value: unknown, errors: string[]): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'string') {
    errors.push(`Backend.PersistentKeepaliveInterval must be a number of seconds (e.g. 25), not a string: got ${JSON.stringify(value)} (flannel refuses it too)`);
    return 0;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_KEEPALIVE) {
    errors.push(`Backend.PersistentKeepaliveInterval must be a whole number of seconds from 0 (off) to ${MAX_KEEPALIVE}, got ${JSON.stringify(value)}`);
    return 0;
  }
  return value;
}

function parseMode(value: unknown, errors: string[]): WireguardMode | undefined {
  if (value === undefined || value === null) return 'separate';
  const mode = WIREGUARD_MODES.find((m) => m === value);
  if (mode !== undefined) return mode;
  const hint = typeof value === 'string' && WIREGUARD_MODES.some((m) => m === value.toLowerCase())
    ? ` (modes are lower case: "${value.toLowerCase()}")` : '';
  errors.push(`Backend.Mode ${JSON.stringify(value)} is not a valid mode: use one of ${WIREGUARD_MODES.map((m) => `"${m}"`).join(', ')}${hint}`);
  return undefined;
}
