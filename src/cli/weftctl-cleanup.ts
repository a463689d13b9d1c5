/**
 * `weftctl cleanup`: removes weft's `--ip-masq` iptables chains (nat
 * WEFT-POSTRTG, filter WEFT-FWD) and every jump to them from this host, in one
 * `iptables-restore --noflush` transaction per table; the same for the IPv6
 * chains in ip6tables. Then the wireguard backend's tunnel: the wireguard-go
 * weftd started (stopped by the PID it recorded in `--wireguard-run-dir`) and
 * the `weft-wg` device. weftd never removes any of these itself (a restart or
 * a stop must not open a window without rules or tunnels). Idempotent: a
 * second run finds nothing. Runs on the host (inside its network namespace)
 * and opens no etcd connection. Stop weftd first, or its next pass puts the
 * rules and the tunnel back.
 */
import type { ChainRemoval } from '../core/masq-rules.js';
import { DEFAULT_RUN_DIR } from '../core/wireguard/device.js';
import { type Iptables, IptablesCli } from '../adapters/iptables.js';
import { removeTrafficRules } from '../daemon/traffic-rules.js';
import type { CtlIo } from './ctl-io.js';
import { type WireguardRemoval, removeWireguardTunnel } from './backend-switch.js';

/** weftd's --wireguard-run-dir default (one place: core/wireguard/device.ts). */
export const DEFAULT_WIREGUARD_RUN_DIR = DEFAULT_RUN_DIR;

/** What cleanup prints for the wireguard tunnel; nothing when there was none. */
export function describeWireguardRemoval(r: WireguardRemoval): string[] {
  return [
    ...(r.stoppedPid !== undefined ? [`stopped wireguard-go (PID ${r.stoppedPid}); weft-wg, its address and route went with it`] : []),
    ...(r.deletedDevice ? ['deleted device weft-wg'] : []),
  ];
}

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
export async function cleanupCommand(argv: Record<string, unknown>, io: CtlIo, iptables: Iptables = new IptablesCli(),
  ip6tables: Iptables = new IptablesCli({ family: 'ipv6' }),
  removeWireguard: (runDir: string) => Promise<WireguardRemoval> = removeWireguardTunnel): Promise<number> {
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
  const runDir = typeof argv['wireguard-run-dir'] === 'string' ? argv['wireguard-run-dir'] : DEFAULT_WIREGUARD_RUN_DIR;
  try {
    const lines = describeWireguardRemoval(await removeWireguard(runDir));
    for (const line of lines) io.out(line);
    removedAny ||= lines.length > 0;
  } catch (err) {
    io.err(`cannot remove the wireguard tunnel (weft-wg, wireguard-go of ${runDir}): ${(err as Error).message}`);
    failed = true;
  }
  if (!removedAny && !failed) io.out('nothing to remove: no weft iptables chains or jumps, no weft-wg tunnel on this host');
  return failed ? 1 : 0;
}
