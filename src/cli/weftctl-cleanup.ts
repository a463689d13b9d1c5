/**
 * `weftctl cleanup`: removes weft's `--ip-masq` iptables chains (nat
 * WEFT-POSTRTG, filter WEFT-FWD) and every jump to them from this host, in one
 * `iptables-restore --noflush` transaction per table. weftd never removes
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

export async function cleanupCommand(_argv: Record<string, unknown>, io: CtlIo, iptables: Iptables = new IptablesCli()): Promise<number> {
  const removed = await removeTrafficRules(iptables);
  if (removed.length === 0) io.out('nothing to remove: no weft iptables chains or jumps on this host');
  for (const r of removed) io.out(describeRemoval(r));
  return 0;
}
