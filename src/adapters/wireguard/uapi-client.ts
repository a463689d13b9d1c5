/**
 * Talks to one WireGuard device over its UAPI socket `<dir>/<ifname>.sock`
 * (wireguard-go; the kernel module has no socket, `wg` uses genetlink there).
 * One connection per request, as wg(8) does: the device answers and the
 * request ends with the empty line. Every failure is a WireguardControlError
 * naming the device, the socket and the operation; a device errno is kept as
 * a number. The request text is never put in an error or log (it may carry
 * the private key or the PSK).
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { errnoName, WireguardControlError } from '../../core/wireguard/errors.js';
import { DEFAULT_SOCKET_DIR } from '../../core/wireguard/device.js';
import { type DeviceState, type SetRequest, parseErrno, parseGetReply, renderSetRequest } from '../../core/wireguard/uapi-codec.js';

/** The control surface of one WireGuard device (the UAPI client, or a fake in tests). */
export interface WireguardControl {
  readonly device: string;
  /** Reads the device (its private key only as the derived public key). */
  get(): Promise<DeviceState>;
  /**
   * Sends a set request. Rejects with WireguardControlError (with `errno`) when
   * the device refused a line: the lines before it are applied, so read back.
   */
  set(request: SetRequest): Promise<void>;
}

export { DEFAULT_SOCKET_DIR };

export interface UapiClientOptions {
  readonly device: string;
  /** Default DEFAULT_SOCKET_DIR; tests give each host its own. */
  readonly socketDir?: string;
  /** Per request (default 5 s): a wedged device must not wedge the reconcile loop. */
  readonly timeoutMs?: number;
}

/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export function uapiSocketPath(socketDir: string, device: string): string {
  return join(socketDir, `${device}.sock`);
}

export class UapiClient implements WireguardControl {
  readonly device: string;
  readonly socketPath: string;
  readonly #timeoutMs: number;

  constructor(options: UapiClientOptions) {
    this.device = options.device;
    this.socketPath = uapiSocketPath(options.socketDir ?? DEFAULT_SOCKET_DIR, options.device);
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  async get(): Promise<DeviceState> {
    const reply = await this.exchange('get', 'get=1\n\n');
    const parsed = parseGetReply(reply);
    if (!parsed.ok) throw this.error('get', `get on ${this.device} returned an unreadable reply: ${parsed.reason}`, parseErrno(reply));
    return parsed.value;
  }

  async set(request: SetRequest): Promise<void> {
    await this.setRaw(renderSetRequest(request));
  }

  /** Sends a rendered set request as is (tests use it to send a broken one). */
  async setRaw(text: string): Promise<void> {
    const reply = await this.exchange('set', text);
    const errno = parseErrno(reply);
    if (errno === undefined) throw this.error('set', `set on ${this.device} got no errno in its reply (${reply.length} bytes)`);
    if (errno !== 0) throw this.error('set', `set on ${this.device} failed: errno=${errno} (${errnoName(errno)}); earlier lines may be applied`, errno);
  }

  /** Resolves when a device answers on the socket (a live wireguard-go), false otherwise. */
  async isLive(): Promise<boolean> {
    try {
      await this.get();
      return true;
    } catch {
      return false;
    }
  }

  private error(operation: 'get' | 'set', message: string, errno?: number, cause?: unknown): WireguardControlError {
    return new WireguardControlError(message, {
      device: this.device, socketPath: this.socketPath, operation,
      ...(errno === undefined ? {} : { errno }), ...(cause === undefined ? {} : { cause }),
    });
  }

  /** Writes the request and reads until the reply's terminating empty line (or the device closes). */
  private exchange(operation: 'get' | 'set', request: string): Promise<string> {
    // libuv would silently cut a longer path and talk to (or create) another socket.
    const length = Buffer.byteLength(this.socketPath);
    if (length > MAX_SOCKET_PATH) {
      return Promise.reject(this.error(operation, `socket path ${this.socketPath} is ${length} bytes; a UNIX socket path has at most ${MAX_SOCKET_PATH}`));
    }
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      let reply = '';
      let done = false;
      const finish = (err: Error | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(reply);
      };
      const timer = setTimeout(() => {
        finish(this.error(operation, `${operation} on ${this.device} timed out after ${this.#timeoutMs} ms (${this.socketPath})`));
      }, this.#timeoutMs);
      socket.setEncoding('utf8');
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: string) => {
        reply += chunk;
        if (/(?:^|\n)errno=-?\d+\n\n$/.test(reply)) finish(undefined);
      });
      socket.on('end', () => finish(undefined));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'ENOENT' ? 'no such socket (is the device running?)' : err.code === 'ECONNREFUSED' ? 'nothing listens on it (a stale socket)' : err.message;
        finish(this.error(operation, `${operation} on ${this.device} cannot use ${this.socketPath}: ${why}`, undefined, err));
      });
    });
  }
}
