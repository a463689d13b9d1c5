/**
 * yargs turns any boolean value that is not the string `true` into false, so
 * `WEFTD_IP_MASQ=yes` or `--ip-masq=1` would start with masquerading off. This
 * check runs before yargs: a boolean flag takes exactly `--flag`, `--no-flag`,
 * `--flag=true|false` or `--flag true|false`, and its variable exactly `true`
 * or `false`; anything else is a UsageError naming the flag or variable.
 */
import { UsageError } from '../core/errors.js';

export const BOOLEAN_VALUES = ['true', 'false'] as const;

/** `ip-masq` → `WEFTD_IP_MASQ`. */
export function envName(prefix: string, flag: string): string {
  return `${prefix}_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** Throws UsageError for a boolean flag or variable spelled any other way than documented. */
export function checkBooleanSpellings(args: readonly string[], env: Readonly<Record<string, string | undefined>>, envPrefix: string | undefined, flags: readonly string[]): void {
  for (const arg of args) {
    if (arg === '--') break;
    const m = /^--(?:no-)?([^=]+)=(.*)$/s.exec(arg);
    if (m && flags.includes(m[1] ?? '') && !(BOOLEAN_VALUES as readonly string[]).includes(m[2] ?? '')) {
      throw new UsageError(`${arg}: --${m[1]} is true or false (--${m[1]}, --${m[1]}=false, --no-${m[1]})`);
    }
  }
  if (envPrefix === undefined) return;
  for (const flag of flags) {
    const name = envName(envPrefix, flag);
    const value = env[name];
    if (value !== undefined && !(BOOLEAN_VALUES as readonly string[]).includes(value)) {
      throw new UsageError(`${name}="${value}": must be true or false (it sets --${flag})`);
    }
  }
}
