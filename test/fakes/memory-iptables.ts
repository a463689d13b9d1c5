/**
 * An in-memory Iptables with the semantics weft relies on: `iptables -S`
 * output (`-P` for built-in chains, `-N` for user chains, then `-A` lines),
 * undefined for a missing chain, and `iptables-restore --noflush` where each
 * `*table … COMMIT` block applies atomically (a bad line leaves the table as
 * it was), `:CHAIN` creates or flushes a user chain, `-D` deletes the first
 * identical rule, `-X` needs an empty, unreferenced chain, and a jump needs
 * its target chain.
 */
import { KernelCommandError } from '../../src/core/errors.js';
import { type IptablesTable, jumpsTo } from '../../src/core/masq-rules.js';
import type { Iptables } from '../../src/adapters/iptables.js';

const BUILTIN: Record<IptablesTable, readonly string[]> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};
const TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'MASQUERADE', 'SNAT', 'DNAT', 'REJECT', 'MARK']);

type Tables = Record<IptablesTable, Map<string, string[]>>;

function emptyTables(): Tables {
  return {
    nat: new Map(BUILTIN.nat.map((c) => [c, []])),
    filter: new Map(BUILTIN.filter.map((c) => [c, []])),
  };
}

export class MemoryIptables implements Iptables {
  tables: Tables = emptyTables();
  /** Every restore payload, in order (failed ones included). */
  readonly restores: string[] = [];
  /** Number of listChain calls. */
  lists = 0;
  /** Set to make every call fail with this message. */
  failWith: string | undefined;
  /** Rewrites each `-A` line as printed, to mimic an iptables that prints rules differently. */
  printAs: ((line: string) => string) | undefined;

  async listChain(table: IptablesTable, chain: string): Promise<string | undefined> {
    this.lists++;
    if (this.failWith) throw new KernelCommandError(this.failWith, ['iptables', '-S'], this.failWith);
    const rules = this.tables[table].get(chain);
    if (rules === undefined) return undefined;
    const head = BUILTIN[table].includes(chain) ? `-P ${chain} ACCEPT` : `-N ${chain}`;
    return [head, ...rules.map((l) => this.printAs?.(l) ?? l)].join('\n') + '\n';
  }

  async restore(payload: string): Promise<void> {
    this.restores.push(payload);
    if (this.failWith) throw new KernelCommandError(this.failWith, ['iptables-restore'], this.failWith);
    let table: IptablesTable | undefined;
    let work: Map<string, string[]> | undefined;
    for (const [n, line] of payload.split('\n').entries()) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      const fail = (why: string): never => { throw new KernelCommandError(`line ${n + 1}: ${why}`, ['iptables-restore'], why); };
      if (line.startsWith('*')) {
        table = line.slice(1) as IptablesTable;
        if (!(table in this.tables)) fail(`unknown table ${table}`);
        work = new Map([...this.tables[table]].map(([c, r]) => [c, [...r]]));
      } else if (!table || !work) {
        fail('no table');
      } else if (line === 'COMMIT') {
        this.tables[table] = work;
        table = undefined;
        work = undefined;
      } else {
        applyLine(work, line, BUILTIN[table], fail);
      }
    }
    if (table) throw new KernelCommandError('missing COMMIT', ['iptables-restore'], '');
  }

  /** Test helper: the `-A` lines of one chain (undefined when missing). */
  rules(table: IptablesTable, chain: string): string[] | undefined {
    return this.tables[table].get(chain);
  }
}

function applyLine(work: Map<string, string[]>, line: string, builtin: readonly string[], fail: (why: string) => never): void {
  const [command = '', chain = ''] = line.split(' ');
  if (command.startsWith(':')) {
    const name = command.slice(1);
    if (!builtin.includes(name)) work.set(name, []);
    return;
  }
  const rules = work.get(chain) ?? fail(`no chain ${chain}`);
  const rule = `-A ${line.slice(3)}`;
  if (command === '-A') {
    const target = /(?:^| )-[jg] (\S+)/.exec(line)?.[1];
    if (target && !TARGETS.has(target) && !work.has(target)) fail(`Chain '${target}' does not exist`);
    rules.push(rule);
  } else if (command === '-D') {
    const at = rules.indexOf(rule);
    if (at === -1) fail(`no rule ${rule}`);
    rules.splice(at, 1);
  } else if (command === '-X') {
    if (rules.length > 0) fail(`chain ${chain} is not empty`);
    if ([...work.values()].some((r) => r.some((l) => jumpsTo(l, chain)))) fail(`chain ${chain} is referenced`);
    work.delete(chain);
  } else {
    fail(`unsupported ${command}`);
  }
}
