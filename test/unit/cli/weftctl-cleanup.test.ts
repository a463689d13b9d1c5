import t from 'tap';
import type { Cidr } from '../../../src/core/cidr.js';
import type { Cidr6 } from '../../../src/core/cidr6.js';
import { FORWARD_CHAIN, MASQ_CHAIN, forwardChain, masqChain } from '../../../src/core/masq-rules.js';
import { cleanupCommand } from '../../../src/cli/weftctl-cleanup.js';
import type { WireguardRemoval } from '../../../src/cli/backend-switch.js';
import { MemoryIptables } from '../../fakes/memory-iptables.js';

// Only ever with the fakes: the real command would run iptables and remove weft-wg in this (root) namespace.
const noTunnel = async (): Promise<WireguardRemoval> => ({ stoppedPid: undefined, deletedDevice: false });

t.test('cleanup says what it removed, then that there is nothing left', async (t) => {
  const nat = masqChain({ network: '10.5.0.0/16' as Cidr, subnet: '10.5.1.0/24' as Cidr });
  const fwd = forwardChain('10.5.0.0/16' as Cidr);
  const ipt = new MemoryIptables();
  const ipt6 = new MemoryIptables();
  ipt.tables.nat.set(MASQ_CHAIN, [...nat.rules]);
  ipt.tables.nat.set('POSTROUTING', [nat.jump, nat.jump]);
  ipt.tables.filter.set(FORWARD_CHAIN, ['-A WEFT-FWD -s 10.5.0.0/16 -m comment --comment "weft forward" -j ACCEPT']);
  const out: string[] = [];
  const ctl = { out: (s: string) => { out.push(s); }, err: (s: string) => { out.push(`ERR ${s}`); } };
  t.equal(await cleanupCommand({}, ctl, ipt, ipt6, noTunnel), 0);
  t.same(out, [
    'removed from table nat: chain WEFT-POSTRTG (6 rules) and 2 jumps from POSTROUTING',
    'removed from table filter: chain WEFT-FWD (1 rule)',
  ]);
  t.same([ipt.rules('nat', MASQ_CHAIN), ipt.rules('nat', 'POSTROUTING'), ipt.rules('filter', FORWARD_CHAIN)], [undefined, [], undefined]);
  out.length = 0;
  ipt.tables.filter.set('FORWARD', [fwd.jump.replace('-j WEFT-FWD', '-j ACCEPT')]);
  t.equal(await cleanupCommand({}, ctl, ipt, ipt6, noTunnel), 0);
  t.same(out, ['nothing to remove: no weft iptables chains or jumps, no weft-wg tunnel on this host']);
});

t.test('cleanup removes the IPv6 chains from ip6tables too; a failing family is reported and does not stop the other', async (t) => {
  const nat6 = masqChain({ network: 'fd00:5::/48' as Cidr6, subnet: 'fd00:5:0:34::/64' as Cidr6 });
  const fwd6 = forwardChain('fd00:5::/48' as Cidr6);
  const fill = (ipt: MemoryIptables): MemoryIptables => {
    ipt.tables.nat.set(MASQ_CHAIN, [...nat6.rules]);
    ipt.tables.nat.set('POSTROUTING', [nat6.jump]);
    ipt.tables.filter.set(FORWARD_CHAIN, [...fwd6.rules]);
    ipt.tables.filter.set('FORWARD', [fwd6.jump]);
    return ipt;
  };
  const out: string[] = [];
  const ctl = { out: (s: string) => { out.push(s); }, err: (s: string) => { out.push(`ERR ${s}`); } };
  const ipt6 = fill(new MemoryIptables());
  t.equal(await cleanupCommand({}, ctl, new MemoryIptables(), ipt6, noTunnel), 0);
  t.same(out, [
    'ip6tables: removed from table nat: chain WEFT-POSTRTG (6 rules) and 1 jump from POSTROUTING',
    'ip6tables: removed from table filter: chain WEFT-FWD (2 rules) and 1 jump from FORWARD',
  ]);
  t.same([ipt6.rules('nat', MASQ_CHAIN), ipt6.rules('filter', FORWARD_CHAIN), ipt6.rules('nat', 'POSTROUTING')], [undefined, undefined, []]);

  out.length = 0;
  const broken = new MemoryIptables();
  broken.failWith = 'iptables: Permission denied';
  const other6 = fill(new MemoryIptables());
  t.equal(await cleanupCommand({}, ctl, broken, other6, noTunnel), 1);
  t.match(out, [/^ERR cannot remove weft's iptables chains: .*Permission denied/, /^ip6tables: removed from table nat/, /^ip6tables: removed from table filter/]);
  t.equal(other6.rules('nat', MASQ_CHAIN), undefined);
});

t.test('cleanup removes the wireguard tunnel from the run directory it is given, and says so', async (t) => {
  const out: string[] = [];
  const ctl = { out: (s: string) => { out.push(s); }, err: (s: string) => { out.push(`ERR ${s}`); } };
  const asked: string[] = [];
  const tunnel = (r: WireguardRemoval) => async (runDir: string): Promise<WireguardRemoval> => { asked.push(runDir); return r; };
  t.equal(await cleanupCommand({}, ctl, new MemoryIptables(), new MemoryIptables(), tunnel({ stoppedPid: 4242, deletedDevice: false })), 0);
  t.same(out, ['stopped wireguard-go (PID 4242); weft-wg, its address and route went with it']);
  t.same(asked, ['/run/weft'], 'weftd\'s default --wireguard-run-dir');
  out.length = 0;
  t.equal(await cleanupCommand({ 'wireguard-run-dir': '/srv/wg' }, ctl, new MemoryIptables(), new MemoryIptables(),
    tunnel({ stoppedPid: undefined, deletedDevice: true })), 0);
  t.same(out, ['deleted device weft-wg'], 'a device without a wireguard-go of ours (kernel WireGuard) is deleted');
  t.equal(asked[1], '/srv/wg');
  out.length = 0;
  const failing = async (): Promise<WireguardRemoval> => { throw new Error('RTNETLINK answers: Operation not permitted'); };
  t.equal(await cleanupCommand({}, ctl, new MemoryIptables(), new MemoryIptables(), failing), 1);
  t.match(out, [/^ERR cannot remove the wireguard tunnel \(weft-wg, wireguard-go of \/run\/weft\): RTNETLINK answers: Operation not permitted$/]);
});
