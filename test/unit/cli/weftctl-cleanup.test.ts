import t from 'tap';
import type { Cidr } from '../../../src/core/cidr.js';
import { FORWARD_CHAIN, MASQ_CHAIN, forwardChain, masqChain } from '../../../src/core/masq-rules.js';
import { cleanupCommand } from '../../../src/cli/weftctl-cleanup.js';
import { MemoryIptables } from '../../fakes/memory-iptables.js';

// Only ever with the fake: the real command would run iptables in this (root) namespace.

t.test('cleanup says what it removed, then that there is nothing left', async (t) => {
  const nat = masqChain({ network: '10.5.0.0/16' as Cidr, subnet: '10.5.1.0/24' as Cidr });
  const fwd = forwardChain('10.5.0.0/16' as Cidr);
  const ipt = new MemoryIptables();
  ipt.tables.nat.set(MASQ_CHAIN, [...nat.rules]);
  ipt.tables.nat.set('POSTROUTING', [nat.jump, nat.jump]);
  ipt.tables.filter.set(FORWARD_CHAIN, ['-A WEFT-FWD -s 10.5.0.0/16 -m comment --comment "weft forward" -j ACCEPT']);
  const out: string[] = [];
  const ctl = { out: (s: string) => { out.push(s); }, err: (s: string) => { out.push(`ERR ${s}`); } };
  t.equal(await cleanupCommand({}, ctl, ipt), 0);
  t.same(out, [
    'removed from table nat: chain WEFT-POSTRTG (6 rules) and 2 jumps from POSTROUTING',
    'removed from table filter: chain WEFT-FWD (1 rule)',
  ]);
  t.same([ipt.rules('nat', MASQ_CHAIN), ipt.rules('nat', 'POSTROUTING'), ipt.rules('filter', FORWARD_CHAIN)], [undefined, [], undefined]);
  out.length = 0;
  ipt.tables.filter.set('FORWARD', [fwd.jump.replace('-j WEFT-FWD', '-j ACCEPT')]);
  t.equal(await cleanupCommand({}, ctl, ipt), 0);
  t.same(out, ['nothing to remove: no weft iptables chains or jumps on this host']);
});
