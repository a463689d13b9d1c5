/**
 * The WireGuard cross-platform userspace API (UAPI, wireguard.com/xplatform;
 * wireguard-go device/uapi.go), the text protocol on `<dir>/<ifname>.sock`:
 *
 *   get=1\n\n  → key=value lines, then errno=0\n\n
 *   set=1\n<key=value lines>\n  → errno=N\n\n
 *
 * Keys are hex on this socket, not base64. A set is applied line by line, not
 * atomically: a bad line returns errno≠0 with the lines before it applied
 * (next-anchors §3.3). Callers therefore judge a set by reading the device
 * back, never by its errno alone.
 */
import { parseCidr, parseIpv4 } from '../cidr.js';
import { parseCidr6, parseIpv6 } from '../cidr6.js';
import { type WgPublicKey, SecretKey, publicKeyFromHex, publicKeyOf, publicKeyToHex } from './keys.js';

/** `ip:port`, `[ipv6]:port` with the IPv6 address in canonical form (the form wireguard-go prints). */
export type Endpoint = string & { readonly __brand: 'WgEndpoint' };

/** One peer change in a set request. */
export type PeerOp =
  | { readonly kind: 'remove'; readonly publicKey: WgPublicKey }
  | {
    readonly kind: 'upsert';
    readonly publicKey: WgPublicKey;
    /** Only change an existing peer; never create one (UAPI `update_only`). */
    readonly updateOnly?: boolean;
    /** A key to set, or `null` to clear it (all zeros); absent = unchanged. */
    readonly presharedKey?: SecretKey | null;
    readonly endpoint?: Endpoint;
    readonly persistentKeepaliveInterval?: number;
    /** Replace the peer's allowed IPs with `allowedIps` (otherwise they are added). */
    readonly replaceAllowedIps?: boolean;
    readonly allowedIps?: readonly string[];
  };

/** A `set=1` request: device settings (absent = unchanged), then peer changes in order. */
export interface SetRequest {
  readonly privateKey?: SecretKey;
  readonly listenPort?: number;
  readonly fwmark?: number;
  readonly replacePeers?: boolean;
  readonly peers?: readonly PeerOp[];
}

/** A peer as the device reports it. */
export interface PeerState {
  readonly publicKey: WgPublicKey;
  /** Undefined when none is set (the UAPI reports all zeros as "none"). */
  readonly presharedKey: SecretKey | undefined;
  readonly endpoint: Endpoint | undefined;
  readonly persistentKeepaliveInterval: number;
  /** Canonical CIDRs in the order the device lists them. */
  readonly allowedIps: readonly string[];
  /** Milliseconds since the epoch of the latest handshake; undefined for never. */
  readonly lastHandshakeMs: number | undefined;
  readonly rxBytes: number;
  readonly txBytes: number;
}

/** The device as `get=1` reports it. The private key is reduced to its public key: nothing secret is kept but PSKs (SecretKey). */
export interface DeviceState {
  readonly publicKey: WgPublicKey | undefined;
  readonly listenPort: number;
  readonly fwmark: number;
  readonly peers: readonly PeerState[];
}

export type ReplyParse<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Formats an endpoint; undefined when `ip` is neither an IPv4 nor an IPv6 address or the port is out of range. */
export function formatEndpoint(ip: string, port: number): Endpoint | undefined {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const v4 = parseIpv4(ip);
  if (v4 !== undefined) return `${v4}:${port}` as Endpoint;
  const v6 = parseIpv6(ip);
  return v6 === undefined ? undefined : (`[${v6}]:${port}` as Endpoint);
}

/** Parses `ip:port` or `[ipv6]:port` (also with a zone-less bracket form) into the canonical Endpoint. */
export function parseEndpoint(text: string): Endpoint | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  return formatEndpoint(m[1] ?? m[2] ?? '', Number(m[3]));
}

/** Canonical form of an allowed IP (`10.5.2.0/24`, `fd00:5::/64`); undefined when it is neither. */
export function canonicalAllowedIp(text: string): string | undefined {
  const v4 = parseCidr(text, false);
  if (v4.ok) return v4.cidr;
  const v6 = parseCidr6(text, false);
  return v6.ok ? v6.cidr : undefined;
}

const ZERO_KEY = SecretKey.fromBytes(new Uint8Array(32));

/** Renders a `set=1` request, ending with the empty line. */
export function renderSetRequest(request: SetRequest): string {
  const lines = ['set=1'];
  if (request.privateKey !== undefined) lines.push(`private_key=${request.privateKey.hex()}`);
  if (request.listenPort !== undefined) lines.push(`listen_port=${request.listenPort}`);
  if (request.fwmark !== undefined) lines.push(`fwmark=${request.fwmark}`);
  if (request.replacePeers) lines.push('replace_peers=true');
  for (const op of request.peers ?? []) lines.push(...renderPeerOp(op));
  return `${lines.join('\n')}\n\n`;
}

function renderPeerOp(op: PeerOp): string[] {
  const lines = [`public_key=${publicKeyToHex(op.publicKey)}`];
  if (op.kind === 'remove') return [...lines, 'remove=true'];
  if (op.updateOnly) lines.push('update_only=true');
  if (op.presharedKey !== undefined) lines.push(`preshared_key=${(op.presharedKey ?? ZERO_KEY).hex()}`);
  if (op.endpoint !== undefined) lines.push(`endpoint=${op.endpoint}`);
  if (op.persistentKeepaliveInterval !== undefined) lines.push(`persistent_keepalive_interval=${op.persistentKeepaliveInterval}`);
  if (op.replaceAllowedIps) lines.push('replace_allowed_ips=true');
  for (const cidr of op.allowedIps ?? []) lines.push(`allowed_ip=${cidr}`);
  return lines;
}

/** A printable summary of a request with every key shortened and no secret (for logs). */
export function describePeerOp(op: PeerOp): string {
  if (op.kind === 'remove') return `remove peer ${op.publicKey}`;
  const parts = [`${op.updateOnly ? 'update' : 'set'} peer ${op.publicKey}`];
  if (op.endpoint !== undefined) parts.push(`endpoint ${op.endpoint}`);
  if (op.allowedIps !== undefined) parts.push(`allowed-ips ${op.allowedIps.join(',') || '(none)'}`);
  if (op.persistentKeepaliveInterval !== undefined) parts.push(`keepalive ${op.persistentKeepaliveInterval}`);
  if (op.presharedKey !== undefined) parts.push(op.presharedKey === null ? 'psk cleared' : 'psk set');
  return parts.join(' ');
}

/**
 * The errno of a reply (`errno=N` on its last line): 0 is success, wireguard-go
 * sends negative POSIX numbers (e.g. -22 EINVAL, -98 EADDRINUSE). Undefined
 * when the reply has no errno line (a truncated reply).
 */
export function parseErrno(reply: string): number | undefined {
  const m = /(?:^|\n)errno=(-?\d+)\n*$/.exec(reply);
  return m ? Number(m[1]) : undefined;
}

/** Parses a complete `get=1` reply (ending `errno=0`). */
export function parseGetReply(reply: string): ReplyParse<DeviceState> {
  const errno = parseErrno(reply);
  if (errno === undefined) return { ok: false, reason: 'the reply has no errno line (truncated?)' };
  if (errno !== 0) return { ok: false, reason: `the device answered errno=${errno}` };
  let publicKey: WgPublicKey | undefined;
  let listenPort = 0;
  let fwmark = 0;
  const peers: PeerState[] = [];
  let peer: { -readonly [K in keyof PeerState]: PeerState[K] } | undefined;
  let handshakeSec = 0;
  let handshakeNsec = 0;
  const finishPeer = (): void => {
    if (peer === undefined) return;
    peer.lastHandshakeMs = handshakeSec === 0 && handshakeNsec === 0 ? undefined : handshakeSec * 1000 + Math.floor(handshakeNsec / 1e6);
    peer.allowedIps = [...peer.allowedIps];
    peers.push(Object.freeze(peer));
  };
  for (const [index, line] of reply.split('\n').entries()) {
    if (line === '' || line.startsWith('errno=')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    const value = eq < 0 ? '' : line.slice(eq + 1);
    const bad = (what: string): ReplyParse<DeviceState> => ({ ok: false, reason: `line ${index + 1} (${key}): ${what}` });
    if (key === 'public_key') {
      finishPeer();
      const pk = publicKeyFromHex(value);
      if (pk === undefined) return bad('not a hex key');
      peer = { publicKey: pk, presharedKey: undefined, endpoint: undefined, persistentKeepaliveInterval: 0, allowedIps: [],
        lastHandshakeMs: undefined, rxBytes: 0, txBytes: 0 };
      handshakeSec = 0;
      handshakeNsec = 0;
      continue;
    }
    if (peer === undefined) {
      if (key === 'private_key') {
        const sk = SecretKey.parseHex(value);
        if (!sk.ok) return bad('not a hex key');
        publicKey = sk.key.isZero() ? undefined : publicKeyOf(sk.key);
      } else if (key === 'listen_port') listenPort = Number(value);
      else if (key === 'fwmark') fwmark = Number(value);
      // Anything else at device level (e.g. a future key) is ignored, as wg(8) does.
      continue;
    }
    switch (key) {
      case 'preshared_key': {
        const psk = SecretKey.parseHex(value);
        if (!psk.ok) return bad('not a hex key');
        peer.presharedKey = psk.key.isZero() ? undefined : psk.key;
        break;
      }
      case 'endpoint': {
        const ep = parseEndpoint(value);
        if (ep === undefined) return bad(`not an endpoint: ${JSON.stringify(value)}`);
        peer.endpoint = ep;
        break;
      }
      case 'allowed_ip': {
        const cidr = canonicalAllowedIp(value);
        if (cidr === undefined) return bad(`not a CIDR: ${JSON.stringify(value)}`);
        (peer.allowedIps as string[]).push(cidr);
        break;
      }
      case 'persistent_keepalive_interval': peer.persistentKeepaliveInterval = Number(value); break;
      case 'last_handshake_time_sec': handshakeSec = Number(value); break;
      case 'last_handshake_time_nsec': handshakeNsec = Number(value); break;
      case 'rx_bytes': peer.rxBytes = Number(value); break;
      case 'tx_bytes': peer.txBytes = Number(value); break;
      default: break; // protocol_version and future keys
    }
  }
  finishPeer();
  return { ok: true, value: { publicKey, listenPort, fwmark, peers } };
}
