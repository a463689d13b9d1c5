/**
 * iptables through its command-line tools: read one chain with
 * `iptables -w 5 -t T -S CHAIN`, write with `iptables-restore -w 5 --noflush`
 * fed on stdin (each `*table … COMMIT` block is one atomic transaction).
 * Argument arrays only; `netns` runs the tools inside a named network
 * namespace (`ip netns exec`), which tests use. `family: 'ipv6'` runs
 * ip6tables, ip6tables-save and ip6tables-restore instead (same options,
 * same output format).
 */
import { type IpFamily, type IptablesTable, tableListingsFromSave } from '../core/masq-rules.js';
import { KernelCommandError } from '../core/errors.js';
import { type CommandRunner, execaRunner } from './iproute2/runner.js';

/** What weft needs from iptables. */
export interface Iptables {
  /** `iptables -S` output for one chain, or undefined when the chain does not exist. */
  listChain(table: IptablesTable, chain: string): Promise<string | undefined>;
  /** Every chain of every table as `listChain` gives it (table → chain → listing), read at once (one process); optional. */
  listTables?(): Promise<ReadonlyMap<string, ReadonlyMap<string, string>>>;
  /** Applies an `iptables-restore --noflush` payload; rejects (with stderr) when it fails, then nothing changed. */
  restore(payload: string): Promise<void>;
}

export interface IptablesCliOptions {
  readonly runner?: CommandRunner;
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  /** Seconds to wait for the xtables lock (legacy backend; nf_tables ignores it). */
  readonly waitSeconds?: number;
  /** Which tables: iptables (default) or ip6tables. */
  readonly family?: IpFamily;
}

/** iptables 1.8 nf_tables says "incompatible" for a chain that does not exist; legacy says "No chain…". */
const MISSING_CHAIN = /No chain\/target\/match by that name|does not exist|is incompatible/;

export class IptablesCli implements Iptables {
  readonly #run: CommandRunner;
  readonly #netns: string | undefined;
  readonly #wait: string;
  readonly #tool: 'iptables' | 'ip6tables';

  constructor(options: IptablesCliOptions = {}) {
    this.#run = options.runner ?? execaRunner();
    this.#netns = options.netns;
    this.#wait = String(options.waitSeconds ?? 5);
    this.#tool = options.family === 'ipv6' ? 'ip6tables' : 'iptables';
  }

  async listChain(table: IptablesTable, chain: string): Promise<string | undefined> {
    const [file, args] = this.#command(this.#tool, ['-w', this.#wait, '-t', table, '-S', chain]);
    const result = await this.#run(file, args, { allowFailure: true });
    if (result.exitCode === 0) return result.stdout;
    if (result.exitCode === 1 && MISSING_CHAIN.test(result.stderr)) return undefined;
    throw new KernelCommandError(`${[file, ...args].join(' ')} failed (exit ${result.exitCode}): ${result.stderr.trim() || '(no message)'}`, [file, ...args], result.stderr);
  }

  async listTables(): Promise<ReadonlyMap<string, ReadonlyMap<string, string>>> {
    const [file, args] = this.#command(`${this.#tool}-save`, []);
    const result = await this.#run(file, args);
    return tableListingsFromSave(result.stdout);
  }

  async restore(payload: string): Promise<void> {
    const [file, args] = this.#command(`${this.#tool}-restore`, ['-w', this.#wait, '--noflush']);
    await this.#run(file, args, { input: payload });
  }

  #command(tool: string, args: readonly string[]): [string, string[]] {
    return this.#netns === undefined ? [tool, [...args]] : ['ip', ['netns', 'exec', this.#netns, tool, ...args]];
  }
}
