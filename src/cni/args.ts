/**
 * Reads and checks the CNI_* environment variables for one command (CNI spec
 * "Parameters"). Every problem is an error 4 naming the variable. VERSION
 * never comes here: it must not look at any other variable.
 */
import { CniCode, CniError } from './errors.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC';

/** The checked CNI_* parameters; absent optional ones are empty strings. */
export interface CniArgs {
  readonly command: CniCommand;
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  readonly args: string;
  /** CNI_PATH split on ':' with empty entries dropped. */
  readonly path: readonly string[];
}

type Env = Readonly<Record<string, string | undefined>>;

const REQUIRED: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  STATUS: ['CNI_PATH'],
  GC: ['CNI_PATH'],
};

/** Same rule as the spec and libcni: alphanumeric first, then [A-Za-z0-9_.-]. */
const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function isCniCommand(text: string): text is CniCommand {
  return Object.hasOwn(REQUIRED, text);
}

/** Parses the environment for `command` (already known not to be VERSION). */
export function parseCniArgs(command: string, env: Env): CniArgs {
  if (!isCniCommand(command)) {
    throw new CniError(CniCode.InvalidEnvironment, `unknown CNI_COMMAND "${command}"`, {
      details: 'expected one of ADD, DEL, CHECK, STATUS, GC, VERSION',
    });
  }
  const missing = REQUIRED[command].filter((name) => (env[name] ?? '') === '');
  if (missing.length > 0) {
    throw new CniError(CniCode.InvalidEnvironment, `required environment variables missing: ${missing.join(', ')}`);
  }
  const containerId = env['CNI_CONTAINERID'] ?? '';
  if (containerId !== '' && !ID_PATTERN.test(containerId)) {
    throw new CniError(CniCode.InvalidEnvironment,
      `CNI_CONTAINERID "${containerId}" is invalid: it must start with a letter or digit and contain only letters, digits, '_', '.' and '-'`);
  }
  const ifname = env['CNI_IFNAME'] ?? '';
  const ifnameProblem = ifname === '' ? undefined : interfaceNameProblem(ifname);
  if (ifnameProblem !== undefined) {
    throw new CniError(CniCode.InvalidEnvironment, `CNI_IFNAME "${ifname}" is invalid: ${ifnameProblem}`);
  }
  return {
    command,
    containerId,
    netns: env['CNI_NETNS'] ?? '',
    ifname,
    args: env['CNI_ARGS'] ?? '',
    path: (env['CNI_PATH'] ?? '').split(':').filter((dir) => dir !== ''),
  };
}

/** Linux interface name rules from the spec; undefined when the name is fine. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length > 15) return 'longer than 15 characters';
  if (name === '.' || name === '..') return 'must not be "." or ".."';
  if (/[/:\s]/.test(name)) return "must not contain '/', ':' or whitespace";
  return undefined;
}

/** True when `text` is a valid container ID or network name. */
export function isValidIdentifier(text: string): boolean {
  return ID_PATTERN.test(text);
}
