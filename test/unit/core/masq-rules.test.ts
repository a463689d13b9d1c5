import t from 'tap';
import type { Cidr } from '../../../src/core/cidr.js';
import type { Cidr6 } from '../../../src/core/cidr6.js';
import {
  tableListingsFromSave,
  chainListingsFromSave,
  FORWARD_CHAIN, MASQ_CHAIN, OWNED_CHAINS, desiredTrafficRules, forwardChain, jumpsTo, masqChain, parseRuleListing,
  planChainRemoval, planChainRepair, renderRemovalPayload, renderRepairPayload, scopeFamily,
} from '../../../src/core/masq-rules.js';

const scope = { network: '10.5.0.0/16' as Cidr, subnet: '10.5.1.0/24' as Cidr };

// Captured from iptables v1.8.9 (nf_tables) after restoring the payload below:
// `iptables -t nat -S WEFT-POSTRTG`, `-t nat -S POSTROUTING`, `-t filter -S WEFT-FWD`, `-t filter -S FORWARD`.
const NAT_CHAIN_S = `-N WEFT-POSTRTG
-A WEFT-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s 10.5.1.0/24 -d 10.5.0.0/16 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s 10.5.0.0/16 -d 10.5.1.0/24 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG ! -s 10.5.0.0/16 -d 10.5.1.0/24 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s 10.5.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "weft masq" -j MASQUERADE --random-fully
-A WEFT-POSTRTG ! -s 10.5.0.0/16 -d 10.5.0.0/16 -m comment --comment "weft masq" -j MASQUERADE --random-fully
`;
const POSTROUTING_S = `-P POSTROUTING ACCEPT
-A POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG
`;
const FWD_CHAIN_S = `-N WEFT-FWD
-A WEFT-FWD -s 10.5.0.0/16 -m comment --comment "weft forward" -j ACCEPT
-A WEFT-FWD -d 10.5.0.0/16 -m comment --comment "weft forward" -j ACCEPT
`;
const FORWARD_S = `-P FORWARD ACCEPT
-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD
`;

const FULL_PAYLOAD = `*nat
:WEFT-POSTRTG - [0:0]
-A WEFT-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s 10.5.1.0/24 -d 10.5.0.0/16 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s 10.5.0.0/16 -d 10.5.1.0/24 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG ! -s 10.5.0.0/16 -d 10.5.1.0/24 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s 10.5.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "weft masq" -j MASQUERADE --random-fully
-A WEFT-POSTRTG ! -s 10.5.0.0/16 -d 10.5.0.0/16 -m comment --comment "weft masq" -j MASQUERADE --random-fully
-A POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG
COMMIT
*filter
:WEFT-FWD - [0:0]
-A WEFT-FWD -s 10.5.0.0/16 -m comment --comment "weft forward" -j ACCEPT
-A WEFT-FWD -d 10.5.0.0/16 -m comment --comment "weft forward" -j ACCEPT
-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD
COMMIT
`;

const [nat, filter] = desiredTrafficRules(scope);
if (!nat || !filter) throw new Error('two chains expected');
const empty = { chain: undefined, hook: '-P POSTROUTING ACCEPT\n' };

t.test('desired rules are flannel\'s (e2e/rules.go) with weft\'s chain names, as iptables -S prints them', async (t) => {
  t.same(nat, masqChain(scope));
  t.same(filter, forwardChain(scope.network));
  t.same(nat.rules, parseRuleListing(NAT_CHAIN_S, MASQ_CHAIN));
  t.same([nat.jump], parseRuleListing(POSTROUTING_S, 'POSTROUTING'));
  t.same(filter.rules, parseRuleListing(FWD_CHAIN_S, FORWARD_CHAIN));
  t.same([filter.jump], parseRuleListing(FORWARD_S, 'FORWARD'));
  t.same(OWNED_CHAINS.map((c) => `${c.table}/${c.chain}/${c.hook}`), ['nat/WEFT-POSTRTG/POSTROUTING', 'filter/WEFT-FWD/FORWARD']);
});

t.test('from nothing: both chains and both jumps in one payload, one transaction per table', async (t) => {
  const repairs = [planChainRepair(nat, empty), planChainRepair(filter, { chain: undefined, hook: '-P FORWARD ACCEPT\n' })];
  t.same(repairs.map((r) => r?.reasons), [['chain missing', 'jump missing'], ['chain missing', 'jump missing']]);
  t.equal(renderRepairPayload(repairs.filter((r) => r !== undefined)), FULL_PAYLOAD);
});

t.test('in sync: what iptables printed after the restore needs nothing, whatever else the hook chain holds', async (t) => {
  t.equal(planChainRepair(nat, { chain: NAT_CHAIN_S, hook: POSTROUTING_S }), undefined);
  t.equal(planChainRepair(filter, { chain: FWD_CHAIN_S, hook: FORWARD_S }), undefined);
  const busy = `# Warning: iptables-legacy tables present, use iptables-legacy to see them\n-P POSTROUTING ACCEPT
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
${POSTROUTING_S.split('\n')[1]}
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
`;
  t.equal(planChainRepair(nat, { chain: NAT_CHAIN_S, hook: busy }), undefined);
});

t.test('a deleted, added or reordered rule rewrites the chain (flush and refill in one commit) and leaves the jump', async (t) => {
  const lines = NAT_CHAIN_S.split('\n');
  const deleted = lines.filter((_, i) => i !== 2).join('\n');
  const repair = planChainRepair(nat, { chain: deleted, hook: POSTROUTING_S });
  t.same(repair, { table: 'nat', chain: MASQ_CHAIN, hook: 'POSTROUTING', rewrite: nat.rules, deleteJumps: [], appendJump: undefined, reasons: ['1 rule missing'] });
  t.equal(renderRepairPayload(repair ? [repair] : []), `*nat\n:WEFT-POSTRTG - [0:0]\n${nat.rules.join('\n')}\nCOMMIT\n`);

  const added = `${NAT_CHAIN_S}-A WEFT-POSTRTG -s 10.9.0.0/16 -j RETURN\n`;
  t.same(planChainRepair(nat, { chain: added, hook: POSTROUTING_S })?.reasons, ['1 unexpected']);
  const both = [lines[0], `-A WEFT-POSTRTG -s 10.9.0.0/16 -j RETURN`, ...lines.slice(3)].join('\n');
  t.same(planChainRepair(nat, { chain: both, hook: POSTROUTING_S })?.reasons, ['2 rules missing, 1 unexpected']);
  const swapped = [lines[0], lines[2], lines[1], ...lines.slice(3)].join('\n');
  t.same(planChainRepair(nat, { chain: swapped, hook: POSTROUTING_S })?.reasons, ['rules out of order or repeated']);
  t.same(planChainRepair(nat, { chain: '-N WEFT-POSTRTG\n', hook: POSTROUTING_S })?.reasons, ['6 rules missing'], 'an empty chain');
});

t.test('the old subnet\'s rules are replaced when the subnet changes', async (t) => {
  const moved = masqChain({ ...scope, subnet: '10.5.7.0/24' as Cidr });
  const repair = planChainRepair(moved, { chain: NAT_CHAIN_S, hook: POSTROUTING_S });
  t.same(repair?.rewrite, moved.rules);
  t.same(repair?.reasons, ['3 rules missing, 3 unexpected']);
});

t.test('jumps: one is kept, duplicates and foreign forms are deleted, a missing one is appended', async (t) => {
  const jump = nat.jump;
  const twice = planChainRepair(nat, { chain: NAT_CHAIN_S, hook: `-P POSTROUTING ACCEPT\n${jump}\n-A POSTROUTING -j KUBE-POSTROUTING\n${jump}\n` });
  t.same(twice, { table: 'nat', chain: MASQ_CHAIN, hook: 'POSTROUTING', rewrite: undefined, deleteJumps: [jump], appendJump: undefined, reasons: ['1 extra jump'] });
  t.equal(renderRepairPayload(twice ? [twice] : []), `*nat\n-D POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG\nCOMMIT\n`);

  const foreign = planChainRepair(nat, { chain: NAT_CHAIN_S, hook: '-P POSTROUTING ACCEPT\n-A POSTROUTING -o eth0 -j WEFT-POSTRTG\n' });
  t.same(foreign?.deleteJumps, ['-A POSTROUTING -o eth0 -j WEFT-POSTRTG']);
  t.equal(foreign?.appendJump, jump);
  t.same(foreign?.reasons, ['jump missing', '1 extra jump']);
  t.equal(renderRepairPayload(foreign ? [foreign] : []),
    `*nat\n-D POSTROUTING -o eth0 -j WEFT-POSTRTG\n${jump}\nCOMMIT\n`, 'delete and append in the same commit');

  const noJump = planChainRepair(filter, { chain: FWD_CHAIN_S, hook: '-P FORWARD DROP\n' });
  t.same(noJump?.reasons, ['jump missing']);
  t.equal(renderRepairPayload(noJump ? [noJump] : []), `*filter\n${filter.jump}\nCOMMIT\n`, 'the chain is not rewritten');
});

t.test('jumpsTo and parseRuleListing match whole words only', async (t) => {
  t.ok(jumpsTo('-A POSTROUTING -j WEFT-POSTRTG', MASQ_CHAIN));
  t.ok(jumpsTo('-A POSTROUTING -g WEFT-POSTRTG', MASQ_CHAIN));
  t.notOk(jumpsTo('-A POSTROUTING -j WEFT-POSTRTG2', MASQ_CHAIN));
  t.notOk(jumpsTo('-A POSTROUTING -m comment --comment WEFT-POSTRTG -j RETURN', MASQ_CHAIN));
  t.same(parseRuleListing('-N WEFT-FWD2\n-A WEFT-FWD2 -j ACCEPT\n-A WEFT-FWD -j DROP\n', FORWARD_CHAIN), ['-A WEFT-FWD -j DROP']);
  t.same(parseRuleListing('', FORWARD_CHAIN), []);
});

t.test('removal: every jump, then flush and delete the chain, per table; nothing when neither exists', async (t) => {
  const [natAt, filterAt] = OWNED_CHAINS;
  if (!natAt || !filterAt) throw new Error('two chains expected');
  const jumps = `${POSTROUTING_S}-A POSTROUTING -o eth0 -j WEFT-POSTRTG\n`;
  const natRemoval = planChainRemoval(natAt, { chain: NAT_CHAIN_S, hook: jumps });
  t.same(natRemoval, { table: 'nat', chain: MASQ_CHAIN, hook: 'POSTROUTING', deleteJumps: [nat.jump, '-A POSTROUTING -o eth0 -j WEFT-POSTRTG'], deleteChain: true, rules: 6 });
  const filterRemoval = planChainRemoval(filterAt, { chain: '-N WEFT-FWD\n', hook: '-P FORWARD ACCEPT\n' });
  t.same(filterRemoval, { table: 'filter', chain: FORWARD_CHAIN, hook: 'FORWARD', deleteJumps: [], deleteChain: true, rules: 0 });
  t.equal(renderRemovalPayload([natRemoval, filterRemoval].filter((r) => r !== undefined)), `*nat
:WEFT-POSTRTG - [0:0]
-D POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG
-D POSTROUTING -o eth0 -j WEFT-POSTRTG
-X WEFT-POSTRTG
COMMIT
*filter
:WEFT-FWD - [0:0]
-X WEFT-FWD
COMMIT
`);
  t.equal(planChainRemoval(natAt, { chain: undefined, hook: '-P POSTROUTING ACCEPT\n-A POSTROUTING -j MASQUERADE\n' }), undefined);
  t.equal(renderRemovalPayload([]), '');
});

t.test('chainListingsFromSave: each chain as iptables -S prints it', async (t) => {
  const save = ['# Generated by iptables-save v1.8.9 (nf_tables)', '*nat', ':PREROUTING ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':WEFT-X - [0:0]',
    '-A POSTROUTING -s 10.0.0.0/8 -j WEFT-X', '-A WEFT-X -d 224.0.0.0/4 -m comment --comment "a b" -j RETURN', 'COMMIT', '# Completed'].join('\n');
  const chains = chainListingsFromSave(save);
  // What `iptables -t nat -S POSTROUTING` and `-S WEFT-X` printed for the same rules (iptables 1.8.9, nf_tables).
  t.equal(chains.get('POSTROUTING'), '-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.0.0.0/8 -j WEFT-X\n');
  t.equal(chains.get('WEFT-X'), '-N WEFT-X\n-A WEFT-X -d 224.0.0.0/4 -m comment --comment "a b" -j RETURN\n');
  t.equal(chains.get('PREROUTING'), '-P PREROUTING ACCEPT\n');
  t.equal(chains.get('WEFT-Y'), undefined, 'a chain the save does not declare');
});

t.test('tableListingsFromSave: every table of a whole save', async (t) => {
  const save = ['*nat', ':POSTROUTING ACCEPT [0:0]', ':WEFT-X - [0:0]', '-A POSTROUTING -j WEFT-X', 'COMMIT',
    '*filter', ':FORWARD DROP [0:0]', '-A FORWARD -j WEFT-F', 'COMMIT'].join('\n');
  const tables = tableListingsFromSave(save);
  t.equal(tables.get('nat')?.get('WEFT-X'), '-N WEFT-X\n');
  t.equal(tables.get('nat')?.get('POSTROUTING'), '-P POSTROUTING ACCEPT\n-A POSTROUTING -j WEFT-X\n');
  t.equal(tables.get('filter')?.get('FORWARD'), '-P FORWARD DROP\n-A FORWARD -j WEFT-F\n');
  t.equal(tables.get('filter')?.get('WEFT-X'), undefined, 'chains are per table');
});

// Captured from ip6tables v1.8.9 (nf_tables) after restoring FULL_PAYLOAD6 in a test namespace
// (`ip6tables-save`; `ip6tables -t nat -S WEFT-POSTRTG` prints the same lines).
const scope6 = { network: 'fd00:5::/48' as Cidr6, subnet: 'fd00:5:0:34::/64' as Cidr6 };
const NAT_CHAIN6_S = `-N WEFT-POSTRTG
-A WEFT-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s fd00:5:0:34::/64 -d fd00:5::/48 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s fd00:5::/48 -d fd00:5:0:34::/64 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG ! -s fd00:5::/48 -d fd00:5:0:34::/64 -m comment --comment "weft masq" -j RETURN
-A WEFT-POSTRTG -s fd00:5::/48 ! -d ff00::/8 -m comment --comment "weft masq" -j MASQUERADE --random-fully
-A WEFT-POSTRTG ! -s fd00:5::/48 -d fd00:5::/48 -m comment --comment "weft masq" -j MASQUERADE --random-fully
`;
const FWD_CHAIN6_S = `-N WEFT-FWD
-A WEFT-FWD -s fd00:5::/48 -m comment --comment "weft forward" -j ACCEPT
-A WEFT-FWD -d fd00:5::/48 -m comment --comment "weft forward" -j ACCEPT
`;
const FULL_PAYLOAD6 = `*nat
:WEFT-POSTRTG - [0:0]
${NAT_CHAIN6_S.split('\n').slice(1, -1).join('\n')}
-A POSTROUTING -m comment --comment "weft masq" -j WEFT-POSTRTG
COMMIT
*filter
:WEFT-FWD - [0:0]
${FWD_CHAIN6_S.split('\n').slice(1, -1).join('\n')}
-A FORWARD -m comment --comment "weft forward" -j WEFT-FWD
COMMIT
`;

t.test('IPv6: flannel\'s masqIP6Rules and IPv6 forwardRules (next-anchors §2.3) in the same chains, ff00::/8 for multicast', async (t) => {
  t.equal(scopeFamily(scope6), 'ipv6');
  t.equal(scopeFamily(scope), 'ipv4');
  const [nat6, filter6] = desiredTrafficRules(scope6);
  if (!nat6 || !filter6) throw new Error('two chains expected');
  t.same(nat6.rules, parseRuleListing(NAT_CHAIN6_S, MASQ_CHAIN));
  t.same(filter6.rules, parseRuleListing(FWD_CHAIN6_S, FORWARD_CHAIN));
  t.same([nat6.jump, filter6.jump], [nat.jump, filter.jump], 'the jumps are the IPv4 ones');
  t.notMatch(nat6.rules.join('\n'), /224\.0\.0\.0/);
  t.equal(planChainRepair(nat6, { chain: NAT_CHAIN6_S, hook: POSTROUTING_S }), undefined, 'in sync as ip6tables prints it');
  const repairs = [planChainRepair(nat6, empty), planChainRepair(filter6, { chain: undefined, hook: '-P FORWARD ACCEPT\n' })];
  t.equal(renderRepairPayload(repairs.filter((r) => r !== undefined)), FULL_PAYLOAD6);
});
