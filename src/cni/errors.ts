/**
 * CNI errors as the spec defines them: a numeric code, a message and optional
 * details, printed as JSON on stdout with a non-zero exit. This file must stay
 * dependency-light: the VERSION fast path loads it.
 */
import { WeftError } from '../core/errors.js';

/** Well-known CNI error codes (spec 1.1.0 "Error" section) that weft emits. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  Internal: 999,
} as const;

/** One failure with its CNI code; a delegate's error keeps the delegate's code. */
export class CniError extends WeftError {
  readonly cniCode: number;
  readonly details: string | undefined;

  constructor(cniCode: number, message: string, options: { details?: string; cause?: unknown } = {}) {
    super(`cni-${cniCode}`, message, options.cause === undefined ? {} : { cause: options.cause });
    this.cniCode = cniCode;
    this.details = options.details;
  }
}

/** The JSON object printed on stdout for an error (spec "Error" result). */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/**
 * Renders any thrown value as a CNI error object: a CniError keeps its code,
 * anything else is an internal error (999) carrying only its message, never a
 * stack trace.
 */
export function toErrorJson(err: unknown, cniVersion: string): CniErrorJson {
  if (err instanceof CniError) {
    const out: CniErrorJson = { cniVersion, code: err.cniCode, msg: err.message };
    if (err.details !== undefined && err.details !== '') out.details = err.details;
    return out;
  }
  const msg = err instanceof Error ? err.message : String(err);
  return { cniVersion, code: CniCode.Internal, msg: msg === '' ? 'internal error' : msg };
}
