/**
 * `weftctl cleanup`: removes weft's `--ip-masq` iptables chains (nat
 * WEFT-POSTRTG, filter WEFT-FWD) and every jump to them from this host, in one
 * `iptables-restore --noflush` transaction per table; the same for the IPv6
 * chains in ip6tables. weftd never removes
 * them itself (a restart must not open a window without rules). Idempotent:
 * a second run finds nothing. Runs on the host (inside its network namespace)
 * and opens no etcd connection. Stop weftd first, or its next pass puts the
 * rules back.
 */
import type { ChainRemoval } from '../core/masq-rules.js';
import { type Iptables, IptablesCli } from '../adapters/iptables.js';
import { removeTrafficRules } from '../daemon/traffic-rules.js';
import type { CtlIo } from './ctl-io.js';

export function describeRemoval(r: ChainRemoval): string {
  const parts = [
    ...(r.deleteChain ? [`chain ${r.chain} (${r.rules} rule${r.rules === 1 ? '' : 's'})`] : []),
    ...(r.deleteJumps.length > 0 ? [`${r.deleteJumps.length} jump${r.deleteJumps.length === 1 ? '' : 's'} from ${r.hook}`] : []),
  ];
  return `removed from table ${r.table}: ${parts.join(' and ')}`;
}

/**
 * Both families: iptables, then ip6tables (weft's IPv6 chains, installed when
 * the network had IPv6 enabled). A family that cannot be read or written is
 * reported on stderr (exit 1) and does not stop the other.
 */
export async function cleanupCommand(_argv: Record<string, unknown>, io: CtlIo, iptables: Iptables = new IptablesCli(),
  ip6tables: Iptables = new IptablesCli({ family: 'ipv6' })): Promise<number> {
  let failed = false;
  let removedAny = false;
  for (const [tool, tables] of [['iptables', iptables], ['ip6tables', ip6tables]] as const) {
    let removed: readonly ChainRemoval[];
    try {
      removed = await removeTrafficRules(tables);
    } catch (err) {
      io.err(`cannot remove weft's ${tool} chains: ${(err as Error).message}`);
      failed = true;
      continue;
    }
    for (const r of removed) io.out(tool === 'iptables' ? describeRemoval(r) : `${tool}: ${describeRemoval(r)}`);
    removedAny ||= removed.length > 0;
  }
  if (!removedAny && !failed) io.out('nothing to remove: no weft iptables chains or jumps on this host');
  return failed ? 1 : 0;
}
