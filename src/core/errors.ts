/**
 * Typed errors shared by every layer. Expected outcomes (a lost claim race, a
 * config with problems) are values, not exceptions; these classes are for
 * failures that must carry context up to the CLI, which maps them to exit codes.
 */
export class WeftError extends Error {
  /** A stable machine-readable code, e.g. `config-invalid`. */
  readonly code: string;
  /** True when retrying the same operation later may succeed. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** The network config in etcd (or given to `weftctl config set`) is invalid. */
export class ConfigError extends WeftError {
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[]) {
    super('config-invalid', message);
    this.problems = problems;
  }
}

/** Command-line flags or environment variables are invalid. */
export class UsageError extends WeftError {
  constructor(message: string) {
    super('usage', message);
  }
}

/** This host's own lease was deleted, expired, or taken over by another host. */
export class LeaseLostError extends WeftError {
  constructor(message: string) {
    super('lease-lost', message);
  }
}

/** No free subnet is left in [SubnetMin, SubnetMax]. */
export class SubnetExhaustedError extends WeftError {
  constructor(message: string) {
    super('subnets-exhausted', message, { retryable: true });
  }
}

/** etcd could not be reached or answered with an error. */
export class RegistryError extends WeftError {
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super('registry', message, { retryable: options.retryable ?? true, ...(options.cause === undefined ? {} : { cause: options.cause }) });
  }
}

/** An iproute2 command (or another kernel operation) failed. */
export class KernelCommandError extends WeftError {
  readonly command: readonly string[];
  readonly stderr: string;
  constructor(message: string, command: readonly string[], stderr: string, options: { cause?: unknown } = {}) {
    super('kernel', message, { retryable: true, ...(options.cause === undefined ? {} : { cause: options.cause }) });
    this.command = command;
    this.stderr = stderr;
  }
}

/** Returns a short printable message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Another running host holds this host's node name (its presence key). */
export class NodeNameInUseError extends WeftError {
  readonly nodeName: string;
  constructor(nodeName: string, message: string) {
    super('node-name-in-use', message);
    this.nodeName = nodeName;
  }
}
