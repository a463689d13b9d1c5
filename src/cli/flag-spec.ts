/**
 * Command-line flags as data, so one definition serves yargs (weftctl, and
 * weftd's --help and errors) and weftd's start-up parser (daemon-flags.ts),
 * which reads flags without loading yargs.
 */
import type { Argv, Options } from 'yargs';

export interface FlagSpec {
  /** Absent for a flag with `choices` (its values are strings; --help shows only the choices). */
  readonly type?: 'string' | 'boolean' | 'number';
  readonly describe: string;
  readonly default?: string | number | boolean;
  readonly choices?: readonly string[];
  readonly hidden?: boolean;
}

/** `[name, spec]`, in the order --help lists them. */
export type FlagEntry = readonly [string, FlagSpec];

/** Adds the flags to a yargs instance, in order. */
export function withFlags<T>(y: Argv<T>, flags: readonly FlagEntry[]): Argv<T> {
  let out = y;
  for (const [name, spec] of flags) out = out.option(name, { ...spec, ...(spec.choices ? { choices: [...spec.choices] } : {}) } as Options);
  return out;
}
