import t from 'tap';
import type { Cidr } from '../../../src/core/cidr.js';
import type { Cidr6 } from '../../../src/core/cidr6.js';
import { analyzeForward } from '../../../src/core/forward-chain.js';

const net = '10.5.0.0/16' as Cidr;
const POLICIES = '-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n';

t.test('policy ACCEPT and no rules: everything falls through to ACCEPT', async (t) => {
  t.same(analyzeForward(`${POLICIES}-P FORWARD ACCEPT\n`, net), { policy: 'ACCEPT', catchAll: undefined, fallThrough: 'ACCEPT', acceptsFrom: [], acceptsTo: [] });
});

t.test('policy DROP with weft\'s WEFT-FWD chain (as iptables -S prints it): accepted both ways', async (t) => {
  // Captured from iptables v1.8.9 (nf_tables) in a rig host with weftd --ip-masq's chain.
  const listing = `-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N WEFT-FWD
-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD
-A WEFT-FWD -s 10.5.0.0/16 -m comment --comment "weft forward" -j ACCEPT
-A WEFT-FWD -d 10.5.0.0/16 -m comment --comment "weft forward" -j ACCEPT
`;
  t.same(analyzeForward(listing, net), { policy: 'DROP', catchAll: undefined, fallThrough: 'DROP', acceptsFrom: ['WEFT-FWD'], acceptsTo: ['WEFT-FWD'] });
});

t.test('policy DROP and only one direction accepted', async (t) => {
  const r = analyzeForward('-P FORWARD DROP\n-A FORWARD -s 10.5.0.0/16 -j ACCEPT\n', net);
  t.same([r.acceptsFrom, r.acceptsTo], [['FORWARD'], []]);
});

t.test('a block holding the whole network counts; a smaller block, a negation or extra conditions do not', async (t) => {
  t.same(analyzeForward('-P FORWARD DROP\n-A FORWARD -s 10.0.0.0/8 -j ACCEPT\n-A FORWARD -d 10.0.0.0/8 -j ACCEPT\n', net).acceptsTo, ['FORWARD']);
  const r = analyzeForward(`-P FORWARD DROP
-A FORWARD -s 10.5.1.0/24 -j ACCEPT
-A FORWARD ! -d 10.5.0.0/16 -j ACCEPT
-A FORWARD -s 10.5.0.0/16 -o eth0 -j ACCEPT
-A FORWARD -d 10.5.0.0/16 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -s not-an-ip -j ACCEPT
`, net);
  t.same([r.acceptsFrom, r.acceptsTo], [[], []]);
});

t.test('an unconditional REJECT at the end (firewalld style) drops whatever the policy says, unless accepted before it', async (t) => {
  const reject = '-A FORWARD -j REJECT --reject-with icmp-host-prohibited';
  const late = analyzeForward(`-P FORWARD ACCEPT\n${reject}\n-A FORWARD -s 10.5.0.0/16 -j ACCEPT\n-A FORWARD -d 10.5.0.0/16 -j ACCEPT\n`, net);
  t.same(late, { policy: 'ACCEPT', catchAll: reject, fallThrough: 'DROP', acceptsFrom: [], acceptsTo: [] });
  const early = analyzeForward(`-P FORWARD ACCEPT\n-A FORWARD -s 10.5.0.0/16 -j ACCEPT\n-A FORWARD -d 10.5.0.0/16 -j ACCEPT\n${reject}\n`, net);
  t.same([early.acceptsFrom, early.acceptsTo, early.fallThrough], [['FORWARD'], ['FORWARD'], 'DROP']);
});

t.test('user chains: followed to any depth, RETURN ends a chain, loops and missing chains are harmless', async (t) => {
  const r = analyzeForward(`-P FORWARD DROP
-N A
-N B
-N LOOP
-A FORWARD -j DOCKER-USER-MISSING
-A FORWARD -j LOOP
-A FORWARD -j A
-A LOOP -j LOOP
-A A -j B
-A A -d 10.5.0.0/16 -j ACCEPT
-A B -s 10.5.0.0/16 -j ACCEPT
-A B -j RETURN
-A B -d 10.5.0.0/16 -j ACCEPT
`, net);
  t.same([r.acceptsFrom, r.acceptsTo, r.catchAll], [['B'], ['A'], undefined]);
});

t.test('an unconditional ACCEPT decides every packet; a DROP inside a jumped-to chain ends the walk', async (t) => {
  const all = analyzeForward('-P FORWARD DROP\n-A FORWARD -j ACCEPT\n-A FORWARD -j DROP\n', net);
  t.same([all.acceptsFrom, all.acceptsTo, all.catchAll], [['FORWARD'], ['FORWARD'], undefined]);
  const dropped = analyzeForward('-P FORWARD ACCEPT\n-N X\n-A FORWARD -j X\n-A X -j DROP\n-A FORWARD -s 10.5.0.0/16 -j ACCEPT\n', net);
  t.same([dropped.catchAll, dropped.fallThrough, dropped.acceptsFrom], ['-A X -j DROP', 'DROP', []]);
});

t.test('a comment with spaces does not confuse the parser; no -P line leaves the policy unknown', async (t) => {
  const r = analyzeForward('-A FORWARD -s 10.5.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT\n-A FORWARD -d 10.5.0.0/16 -m comment --comment flannel -j ACCEPT\n', net);
  t.same(r, { policy: undefined, catchAll: undefined, fallThrough: 'ACCEPT', acceptsFrom: ['FORWARD'], acceptsTo: ['FORWARD'] });
});

t.test('IPv6: ip6tables -S with weft\'s IPv6 WEFT-FWD chain is read for the IPv6 network', async (t) => {
  const net6 = 'fd00:5::/48' as Cidr6;
  const listing = `-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N WEFT-FWD
-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD
-A WEFT-FWD -s fd00:5::/48 -m comment --comment "weft forward" -j ACCEPT
-A WEFT-FWD -d fd00:5::/48 -m comment --comment "weft forward" -j ACCEPT
`;
  t.same(analyzeForward(listing, net6), { policy: 'DROP', catchAll: undefined, fallThrough: 'DROP', acceptsFrom: ['WEFT-FWD'], acceptsTo: ['WEFT-FWD'] });
  const narrow = analyzeForward('-P FORWARD DROP\n-A FORWARD -s fd00:5:0:34::/64 -j ACCEPT\n-A FORWARD -d fd00::/16 -j ACCEPT\n', net6);
  t.same([narrow.acceptsFrom, narrow.acceptsTo], [[], ['FORWARD']], 'a /64 inside does not hold the /48; fd00::/16 does');
  t.same(analyzeForward(listing.replaceAll('fd00:5::/48', '10.5.0.0/16'), net6).acceptsFrom, [], 'IPv4 blocks never count for an IPv6 network');
});
