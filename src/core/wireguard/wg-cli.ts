/**
 * The `wg` tool of wireguard-tools as a control path (kernel WireGuard has no
 * UAPI socket; `wg` talks genetlink to it, and the UAPI socket to
 * wireguard-go, with the same text either way):
 *
 * - `wg show <dev> dump` read into the DeviceState the UAPI `get=1` gives:
 *   one tab-separated line for the device (private-key, public-key,
 *   listen-port, fwmark), one per peer (public-key, preshared-key, endpoint,
 *   allowed-ips, latest-handshake, transfer-rx, transfer-tx,
 *   persistent-keepalive); `(none)` and `off` for unset. Keys are base64 here.
 *   The private-key column is never read: the device's public key comes from
 *   its own column, and no parse error quotes a line.
 * - a SetRequest turned into the argument array of `wg set`. Secrets (the
 *   private key, PSKs) are never on the argv (`ps` shows it to every user): the
 *   argv names files, and the caller writes them with mode 0600
 *   (`WgSetCommand.files`); a cleared PSK is `/dev/null` (wg: an empty file
 *   removes it).
 *
 * What `wg set` (wireguard-tools 1.0.20210914) cannot say: `replace_peers`
 * (only setconf/syncconf), adding allowed IPs without replacing them (its
 * `allowed-ips` always replaces), and `update_only` (newer tools have
 * `update-only`): a peer update may re-create a peer removed in between, with
 * only the changed fields; the read-back after every set sees it and the next
 * plan completes it. The first two are refused with an error.
 */
import { join } from 'node:path';
import { type WgPublicKey, SecretKey, parsePublicKey } from './keys.js';
import { type DeviceState, type PeerOp, type PeerState, type ReplyParse, type SetRequest, canonicalAllowedIp, parseEndpoint } from './uapi-codec.js';

const NONE = '(none)';

/** `wg show <dev> dump` as an argument array. */
export function wgDumpArgs(device: string): string[] {
  return ['show', device, 'dump'];
}

/** Parses the text of `wg show <dev> dump` (one device, no interface column). */
export function parseWgDump(text: string): ReplyParse<DeviceState> {
  const lines = text.split('\n').filter((l) => l !== '');
  const [device, ...peerLines] = lines;
  if (device === undefined) return { ok: false, reason: 'no device line (empty output)' };
  const fields = device.split('\t');
  if (fields.length !== 4) return { ok: false, reason: `line 1 (device): ${fields.length} fields, expected 4` };
  let publicKey: WgPublicKey | undefined;
  if (fields[1] !== NONE) {
    const pk = parsePublicKey(fields[1] ?? '');
    if (!pk.ok) return { ok: false, reason: `line 1 (device): public key ${pk.reason}` };
    publicKey = pk.key;
  }
  const listenPort = parseCount(fields[2]);
  if (listenPort === undefined) return { ok: false, reason: 'line 1 (device): listen port is not a number' };
  const fwmark = fields[3] === 'off' ? 0 : Number(fields[3]);
  if (!Number.isInteger(fwmark) || fwmark < 0) return { ok: false, reason: 'line 1 (device): fwmark is neither off nor a number' };
  const peers: PeerState[] = [];
  for (const [index, line] of peerLines.entries()) {
    const peer = parsePeerLine(line);
    if (!peer.ok) return { ok: false, reason: `line ${index + 2} (peer): ${peer.reason}` };
    peers.push(peer.value);
  }
  return { ok: true, value: { publicKey, listenPort, fwmark, peers } };
}

function parseCount(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

function parsePeerLine(line: string): ReplyParse<PeerState> {
  const f = line.split('\t');
  if (f.length !== 8) return { ok: false, reason: `${f.length} fields, expected 8` };
  const [key, psk, endpointText, allowed, handshake, rx, tx, keepalive] = f as [string, string, string, string, string, string, string, string];
  const publicKey = parsePublicKey(key);
  if (!publicKey.ok) return { ok: false, reason: `public key ${publicKey.reason}` };
  let presharedKey: SecretKey | undefined;
  if (psk !== NONE) {
    const parsed = SecretKey.parseBase64(psk);
    if (!parsed.ok) return { ok: false, reason: 'preshared key is not a base64 key' };
    presharedKey = parsed.key.isZero() ? undefined : parsed.key;
  }
  const endpoint = endpointText === NONE ? undefined : parseEndpoint(endpointText);
  if (endpointText !== NONE && endpoint === undefined) return { ok: false, reason: `not an endpoint: ${JSON.stringify(endpointText)}` };
  const allowedIps: string[] = [];
  for (const cidr of allowed === NONE ? [] : allowed.split(',')) {
    const canonical = canonicalAllowedIp(cidr);
    if (canonical === undefined) return { ok: false, reason: `not a CIDR: ${JSON.stringify(cidr)}` };
    allowedIps.push(canonical);
  }
  const handshakeSec = parseCount(handshake);
  const rxBytes = parseCount(rx);
  const txBytes = parseCount(tx);
  const interval = keepalive === 'off' ? 0 : parseCount(keepalive);
  if (handshakeSec === undefined || rxBytes === undefined || txBytes === undefined || interval === undefined) {
    return { ok: false, reason: 'latest-handshake, transfer or persistent-keepalive is not a number' };
  }
  return {
    ok: true,
    value: {
      publicKey: publicKey.key, presharedKey, endpoint, persistentKeepaliveInterval: interval, allowedIps,
      lastHandshakeMs: handshakeSec === 0 ? undefined : handshakeSec * 1000, rxBytes, txBytes,
    },
  };
}

/** A secret the caller writes (mode 0600) before running `wg`, and removes after. */
export interface SecretFile {
  readonly path: string;
  readonly key: SecretKey;
}

export interface WgSetCommand {
  /** The arguments after `wg`: no key material, only file paths. */
  readonly args: readonly string[];
  readonly files: readonly SecretFile[];
}

/** The file that clears a PSK (wg reads an empty key file as "none"). */
export const EMPTY_KEY_FILE = '/dev/null';

/**
 * `wg set <dev> …` for a set request; secrets go to files in `secretDir`
 * (a private directory the caller creates). Throws on what `wg set` cannot say.
 */
export function wgSetCommand(device: string, request: SetRequest, secretDir: string): WgSetCommand {
  if (request.replacePeers) throw new Error('wg set cannot replace all peers (replace_peers): send removals for the peers to drop');
  const args = ['set', device];
  const files: SecretFile[] = [];
  const fileFor = (key: SecretKey, name: string): string => {
    const path = join(secretDir, name);
    files.push({ path, key });
    return path;
  };
  if (request.listenPort !== undefined) args.push('listen-port', String(request.listenPort));
  if (request.fwmark !== undefined) args.push('fwmark', String(request.fwmark));
  if (request.privateKey !== undefined) args.push('private-key', fileFor(request.privateKey, 'private.key'));
  for (const [index, op] of (request.peers ?? []).entries()) args.push(...peerArgs(op, () => `psk-${index}.key`, fileFor));
  return { args, files };
}

function peerArgs(op: PeerOp, pskName: () => string, fileFor: (key: SecretKey, name: string) => string): string[] {
  const args = ['peer', op.publicKey];
  if (op.kind === 'remove') return [...args, 'remove'];
  if (op.presharedKey !== undefined) args.push('preshared-key', op.presharedKey === null ? EMPTY_KEY_FILE : fileFor(op.presharedKey, pskName()));
  if (op.endpoint !== undefined) args.push('endpoint', op.endpoint);
  if (op.persistentKeepaliveInterval !== undefined) args.push('persistent-keepalive', String(op.persistentKeepaliveInterval));
  if (op.allowedIps !== undefined) {
    if (!op.replaceAllowedIps) throw new Error(`wg set cannot add allowed IPs to peer ${op.publicKey} without replacing them`);
    args.push('allowed-ips', op.allowedIps.join(','));
  } else if (op.replaceAllowedIps) {
    args.push('allowed-ips', '');
  }
  return args;
}
