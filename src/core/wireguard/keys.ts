/**
 * WireGuard keys: Curve25519 keys of 32 bytes, written in base64 (44
 * characters, `wg genkey`, flannel's lease and key file) and in hex on the
 * UAPI socket. Public keys are plain branded strings (they are published in
 * etcd); private keys and the pre-shared key are `SecretKey` objects that
 * never print their value: not through `String()`, `JSON.stringify`, pino or
 * `util.inspect`. Only `base64()` and `hex()` reveal them, for the key file
 * and the UAPI request.
 *
 * Deriving a public key is deterministic and I/O-free (node:crypto's X25519);
 * generating a key needs randomness and lives in the adapters (key-store.ts).
 */
import { createPrivateKey, createPublicKey, timingSafeEqual } from 'node:crypto';

/** A WireGuard public key in standard base64 (44 characters, `=` padded). */
export type WgPublicKey = string & { readonly __brand: 'WgPublicKey' };

export const KEY_LENGTH = 32;
const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const HEX_KEY = /^[0-9a-f]{64}$/;
const REDACTED = '[redacted]';

export type KeyParse<T> = { ok: true; key: T } | { ok: false; reason: string };

/** A private key or pre-shared key: 32 bytes that are never printed. */
export class SecretKey {
  readonly #bytes: Buffer;

  private constructor(bytes: Buffer) {
    this.#bytes = Buffer.from(bytes);
  }

  /** Wraps 32 raw bytes (copied). */
  static fromBytes(bytes: Uint8Array): SecretKey {
    if (bytes.length !== KEY_LENGTH) throw new Error(`a WireGuard key has ${KEY_LENGTH} bytes, got ${bytes.length}`);
    return new SecretKey(Buffer.from(bytes));
  }

  /** Base64 as in `wg genkey` output and flannel's key file (surrounding whitespace allowed, as Go's decoder skips newlines). */
  static parseBase64(text: string): KeyParse<SecretKey> {
    const bytes = decodeBase64Key(text.trim());
    return typeof bytes === 'string' ? { ok: false, reason: bytes } : { ok: true, key: new SecretKey(bytes) };
  }

  /** Lower-case hex as the UAPI socket prints it. */
  static parseHex(text: string): KeyParse<SecretKey> {
    if (!HEX_KEY.test(text)) return { ok: false, reason: `is not ${KEY_LENGTH * 2} lower-case hex digits` };
    return { ok: true, key: new SecretKey(Buffer.from(text, 'hex')) };
  }

  base64(): string {
    return this.#bytes.toString('base64');
  }

  hex(): string {
    return this.#bytes.toString('hex');
  }

  /** All 32 bytes zero: what the UAPI reports for "no pre-shared key". */
  isZero(): boolean {
    return this.#bytes.every((b) => b === 0);
  }

  equals(other: SecretKey | undefined): boolean {
    return other !== undefined && timingSafeEqual(this.#bytes, other.#bytes);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecretKey(${REDACTED})`;
  }
}

/** Returns the 32 bytes, or the reason the text is not a base64 WireGuard key. */
function decodeBase64Key(text: string): Buffer | string {
  if (text.length !== 44) return `is ${text.length} characters long; a base64 WireGuard key has 44 (32 bytes, e.g. from \`wg genkey\`)`;
  if (!BASE64_KEY.test(text)) return 'is not standard base64 of 32 bytes (characters A-Z a-z 0-9 + / and one trailing =)';
  return Buffer.from(text, 'base64');
}

/** Validates a base64 public key (lease `PublicKey`). */
export function parsePublicKey(text: string): KeyParse<WgPublicKey> {
  const bytes = decodeBase64Key(text);
  return typeof bytes === 'string' ? { ok: false, reason: bytes } : { ok: true, key: text as WgPublicKey };
}

/** base64 → hex for the UAPI socket. */
export function publicKeyToHex(key: WgPublicKey): string {
  return Buffer.from(key, 'base64').toString('hex');
}

/** hex (UAPI) → base64; undefined when it is not 64 hex digits. */
export function publicKeyFromHex(hex: string): WgPublicKey | undefined {
  return HEX_KEY.test(hex) ? (Buffer.from(hex, 'hex').toString('base64') as WgPublicKey) : undefined;
}

/** PKCS#8 DER header of an X25519 private key (RFC 8410): the 32 key bytes follow. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The public key of a private key, as `wg pubkey` computes it (X25519 clamps the scalar itself). */
export function publicKeyOf(privateKey: SecretKey): WgPublicKey {
  const der = Buffer.concat([X25519_PKCS8_PREFIX, Buffer.from(privateKey.hex(), 'hex')]);
  const jwk = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('node:crypto returned an X25519 public key without x');
  return Buffer.from(jwk.x, 'base64url').toString('base64') as WgPublicKey;
}

/** Clamps 32 random bytes the way `wg genkey` does, so generated keys look like any other WireGuard key. */
export function clampPrivateKey(random: Uint8Array): SecretKey {
  const bytes = Buffer.from(random);
  if (bytes.length !== KEY_LENGTH) throw new Error(`a WireGuard key has ${KEY_LENGTH} bytes, got ${bytes.length}`);
  bytes[0] = (bytes[0] ?? 0) & 248;
  bytes[31] = ((bytes[31] ?? 0) & 127) | 64;
  return SecretKey.fromBytes(bytes);
}
