/**
 * Typed failures of the WireGuard control path (the UAPI socket and the
 * wireguard-go process), with the context an operator needs: which device,
 * which socket, which request, which errno.
 */
import { WeftError } from '../errors.js';

/** POSIX names for the errnos wireguard-go sends back (negated in the reply). */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM', 2: 'ENOENT', 5: 'EIO', 12: 'ENOMEM', 13: 'EACCES', 22: 'EINVAL', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 71: 'EPROTO',
};

/** `-22` → `EINVAL`; unknown numbers stay numbers. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[Math.abs(errno)] ?? `errno ${errno}`;
}

/** A UAPI request could not be sent, timed out, or the device answered errno≠0. */
export class WireguardControlError extends WeftError {
  readonly device: string;
  readonly socketPath: string;
  readonly operation: 'get' | 'set';
  /** The device's errno (negative, as sent), or undefined when the socket itself failed. */
  readonly errno: number | undefined;

  constructor(message: string, context: { device: string; socketPath: string; operation: 'get' | 'set'; errno?: number; cause?: unknown }) {
    super('wireguard-control', message, { retryable: true, ...(context.cause === undefined ? {} : { cause: context.cause }) });
    this.device = context.device;
    this.socketPath = context.socketPath;
    this.operation = context.operation;
    this.errno = context.errno;
  }
}

/** wireguard-go could not be started, or its socket did not appear. */
export class WireguardProcessError extends WeftError {
  readonly device: string;
  /** What the process wrote to stderr before it failed (its log level `error`). */
  readonly stderr: string;

  constructor(message: string, context: { device: string; stderr?: string; cause?: unknown }) {
    super('wireguard-process', message, { retryable: true, ...(context.cause === undefined ? {} : { cause: context.cause }) });
    this.device = context.device;
    this.stderr = context.stderr ?? '';
  }
}
