import t from 'tap';
import type { Cidr } from '../../../src/core/cidr.js';
import type { Cidr6 } from '../../../src/core/cidr6.js';
import { FORWARD_CHAIN, MASQ_CHAIN, desiredTrafficRules, forwardChain, masqChain } from '../../../src/core/masq-rules.js';
import { TrafficRules, type TrafficRulesPort, ensureAhead, ensureTrafficRules, removeTrafficRules } from '../../../src/daemon/traffic-rules.js';
import { MemoryIptables } from '../../fakes/memory-iptables.js';
import { LEVEL, type LogRecord, memoryLogger } from '../../helpers/log-sink.js';

const network = '10.5.0.0/16' as Cidr;
const subnet = '10.5.1.0/24' as Cidr;
const nat = masqChain({ network, subnet });
const filter = forwardChain(network);
const KUBE = '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING';

function installed(ipt: MemoryIptables): void {
  ipt.tables.nat.set(MASQ_CHAIN, [...nat.rules]);
  ipt.tables.nat.set('KUBE-POSTROUTING', []);
  ipt.tables.nat.set('POSTROUTING', [KUBE, nat.jump]);
  ipt.tables.filter.set(FORWARD_CHAIN, [...filter.rules]);
  ipt.tables.filter.set('FORWARD', [filter.jump]);
}

t.test('first pass installs both chains and jumps in one restore; the next pass reads and writes nothing', async (t) => {
  const ipt = new MemoryIptables();
  ipt.tables.nat.set('KUBE-POSTROUTING', []);
  ipt.tables.nat.set('POSTROUTING', [KUBE]);
  const first = await ensureTrafficRules(ipt, { network, subnet });
  t.same(first.repairs.map((r) => `${r.table}/${r.chain}: ${r.reasons.join(', ')}`),
    ['nat/WEFT-POSTRTG: chain missing, jump missing', 'filter/WEFT-FWD: chain missing, jump missing']);
  t.same(first.unconverged, []);
  t.equal(ipt.restores.length, 1);
  t.same(ipt.rules('nat', MASQ_CHAIN), nat.rules);
  t.same(ipt.rules('nat', 'POSTROUTING'), [KUBE, nat.jump], 'appended after what was there');
  t.same(ipt.rules('filter', FORWARD_CHAIN), filter.rules);
  t.same(ipt.rules('filter', 'FORWARD'), [filter.jump]);

  const second = await ensureTrafficRules(ipt, { network, subnet });
  t.same(second, { repairs: [], unconverged: [] });
  t.equal(ipt.restores.length, 1, 'no write when in sync');
  t.equal(ipt.lists, 12, '4 reads per check (chain + hook per table), plus 4 to read back after the write');
});

t.test('a deleted rule rewrites only its table; the other table and foreign rules are not touched', async (t) => {
  const ipt = new MemoryIptables();
  installed(ipt);
  ipt.tables.nat.set(MASQ_CHAIN, nat.rules.filter((_, i) => i !== 4));
  const { repairs } = await ensureTrafficRules(ipt, { network, subnet });
  t.same(repairs.map((r) => r.reasons), [['1 rule missing']]);
  t.equal(ipt.restores[0], `*nat\n:${MASQ_CHAIN} - [0:0]\n${nat.rules.join('\n')}\nCOMMIT\n`);
  t.same(ipt.rules('nat', MASQ_CHAIN), nat.rules);
  t.same(ipt.rules('nat', 'POSTROUTING'), [KUBE, nat.jump]);
});

t.test('a missing jump is appended once; duplicates are removed', async (t) => {
  const ipt = new MemoryIptables();
  installed(ipt);
  ipt.tables.filter.set('FORWARD', []);
  ipt.tables.nat.set('POSTROUTING', [nat.jump, KUBE, nat.jump]);
  await ensureTrafficRules(ipt, { network, subnet });
  t.same(ipt.rules('filter', 'FORWARD'), [filter.jump]);
  t.same(ipt.rules('nat', 'POSTROUTING'), [KUBE, nat.jump]);
  t.same(ipt.rules('nat', MASQ_CHAIN), nat.rules, 'the chain itself was right and stays');
  t.notMatch(ipt.restores[0] ?? '', /:WEFT/, 'no chain was re-declared (flushed)');
  await ensureTrafficRules(ipt, { network, subnet });
  t.equal(ipt.restores.length, 1);
});

t.test('a new subnet replaces the previous subnet\'s rules', async (t) => {
  const ipt = new MemoryIptables();
  installed(ipt);
  const moved = '10.5.9.0/24' as Cidr;
  await ensureTrafficRules(ipt, { network, subnet: moved });
  t.same(ipt.rules('nat', MASQ_CHAIN), desiredTrafficRules({ network, subnet: moved })[0]?.rules);
  t.notMatch(ipt.rules('nat', MASQ_CHAIN)?.join('\n') ?? '', /10\.5\.1\.0/);
});

t.test('TrafficRules: logs installed / in sync / repaired, and says whether it changed anything', async (t) => {
  const ipt = new MemoryIptables();
  const { log, records } = memoryLogger();
  const rules = new TrafficRules({ iptables: ipt, log });
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  t.same(await rules.ensure(network, subnet), { ok: true, changed: false });
  ipt.tables.nat.get(MASQ_CHAIN)?.pop();
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  t.same(records.map((r) => [r.level, r.msg]), [
    [LEVEL.info, 'traffic rules installed'], [LEVEL.debug, 'traffic rules in sync'], [LEVEL.info, 'traffic rules repaired'],
  ]);
  t.match(records[2], { repairs: [{ table: 'nat', chain: MASQ_CHAIN, reasons: ['1 rule missing'] }] });
});

t.test('TrafficRules: a restart that finds the rules in place writes nothing and says so', async (t) => {
  const ipt = new MemoryIptables();
  installed(ipt);
  const { log, records } = memoryLogger();
  t.same(await new TrafficRules({ iptables: ipt, log }).ensure(network, subnet), { ok: true, changed: false });
  t.same(ipt.restores, []);
  t.same(records.map((r) => [r.level, r.msg]), [[LEVEL.info, 'traffic rules in sync']]);
});

t.test('TrafficRules: iptables failures are logged once per minute, never thrown, and retried', async (t) => {
  const ipt = new MemoryIptables();
  const { log, records } = memoryLogger();
  let now = 0;
  const rules = new TrafficRules({ iptables: ipt, log, now: () => now });
  ipt.failWith = 'iptables: Permission denied (you must be root)';
  for (let i = 0; i < 5; i++) {
    t.same(await rules.ensure(network, subnet), { ok: false, changed: false });
    now += 10_000;
  }
  now += 30_000;
  await rules.ensure(network, subnet);
  const warnings = records.filter((r) => r.level === LEVEL.warn);
  t.equal(warnings.length, 2, 'the first failure, then one a minute later');
  t.match(warnings[0], { msg: 'cannot check or repair traffic rules; retrying next pass', err: /Permission denied/ });
  t.match(warnings[1], { suppressedRepeats: 4 });
  ipt.failWith = undefined;
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  t.same(records.slice(-2).map((r) => r.msg), ['traffic rules can be checked again', 'traffic rules installed']);
});

t.test('TrafficRules: a failed restore changes nothing and the next pass retries', async (t) => {
  const ipt = new MemoryIptables();
  ipt.tables.nat.set(MASQ_CHAIN, []);
  const { log } = memoryLogger();
  const rules = new TrafficRules({ iptables: ipt, log });
  const original = ipt.restore.bind(ipt);
  let failures = 1;
  ipt.restore = async (payload) => {
    if (failures-- > 0) { ipt.restores.push(payload); throw new Error('iptables-restore: line 3 failed'); }
    return original(payload);
  };
  t.same(await rules.ensure(network, subnet), { ok: false, changed: false });
  t.same(ipt.rules('nat', MASQ_CHAIN), []);
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  t.same(ipt.rules('nat', MASQ_CHAIN), nat.rules);
  t.same(ipt.rules('nat', 'POSTROUTING'), [nat.jump]);
});

t.test('TrafficRules: rules that read back differently are reported (throttled), not looped on silently', async (t) => {
  const ipt = new MemoryIptables();
  ipt.printAs = (line) => line.replace(' --random-fully', '');
  const { log, records } = memoryLogger();
  const rules = new TrafficRules({ iptables: ipt, log });
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  const warnings = records.filter((r) => r.level === LEVEL.warn);
  t.equal(warnings.length, 1);
  t.match(warnings[0], { msg: 'traffic rules do not read back as written; rewriting them every pass', differences: [{ chain: MASQ_CHAIN, reasons: ['2 rules missing, 2 unexpected'] }] });
  ipt.printAs = undefined;
  await rules.ensure(network, subnet);
  t.equal(records.at(-1)?.msg, 'traffic rules read back as written again');
});

t.test('removeTrafficRules: removes chains and jumps in both tables, leaves the rest; a second run finds nothing', async (t) => {
  const ipt = new MemoryIptables();
  installed(ipt);
  ipt.tables.nat.get('POSTROUTING')?.push('-A POSTROUTING -o eth0 -j WEFT-POSTRTG');
  const removed = await removeTrafficRules(ipt);
  t.same(removed.map((r) => [r.table, r.chain, r.rules, r.deleteJumps.length, r.deleteChain]),
    [['nat', MASQ_CHAIN, 6, 2, true], ['filter', FORWARD_CHAIN, 2, 1, true]]);
  t.equal(ipt.restores.length, 1);
  t.equal(ipt.rules('nat', MASQ_CHAIN), undefined);
  t.equal(ipt.rules('filter', FORWARD_CHAIN), undefined);
  t.same(ipt.rules('nat', 'POSTROUTING'), [KUBE]);
  t.same(ipt.rules('filter', 'FORWARD'), []);
  t.same(await removeTrafficRules(ipt), []);
  t.equal(ipt.restores.length, 1, 'nothing to write the second time');
});

t.test('--ip-masq off: the same check removes weft\'s chains and jumps (once, logged) and leaves foreign rules', async (t) => {
  const ipt = new MemoryIptables();
  installed(ipt);
  const { log, records } = memoryLogger();
  const rules = new TrafficRules({ iptables: ipt, log, enabled: false });
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  t.equal(ipt.rules('nat', MASQ_CHAIN), undefined, 'nat chain gone');
  t.equal(ipt.rules('filter', FORWARD_CHAIN), undefined, 'filter chain gone');
  t.same(ipt.rules('nat', 'POSTROUTING'), [KUBE], 'kube-proxy\'s jump stays');
  t.same(ipt.rules('filter', 'FORWARD'), []);
  t.same(records.filter((r) => r.msg === 'traffic rules removed (--ip-masq is off)').length, 1);
  t.same(await rules.ensure(network, subnet), { ok: true, changed: false }, 'nothing left: nothing written');
  t.equal(ipt.restores.length, 1);
});

t.test('ensureAhead: the check starts at once; the first ensure with the same arguments is that check, later ones run anew', async (t) => {
  const calls: string[] = [];
  const port: TrafficRulesPort = { ensure: async (n, s) => { calls.push(`${n} ${s}`); return { ok: true, changed: calls.length === 1 }; } };
  const ahead = ensureAhead(port, network, subnet);
  t.same(calls, ['10.5.0.0/16 10.5.1.0/24'], 'started before anyone asked');
  t.same(await ahead.ensure(network, subnet), { ok: true, changed: true }, 'the first ensure gets the early result');
  t.equal(calls.length, 1, 'without a second check');
  t.same(await ahead.ensure(network, subnet), { ok: true, changed: false });
  t.equal(calls.length, 2, 'the next ensure checks again');
  const other = ensureAhead(port, network, subnet);
  await other.ensure(network, '10.5.9.0/24' as Cidr);
  t.same(calls.slice(-2), ['10.5.0.0/16 10.5.1.0/24', '10.5.0.0/16 10.5.9.0/24'], 'other arguments are never answered with the early check');
});

// ---- IPv6 (ip6tables), only when the network has IPv6 enabled ----

const v6 = { network: 'fd00:5::/48' as Cidr6, subnet: 'fd00:5:0:34::/64' as Cidr6 };
const nat6 = masqChain(v6);
const filter6 = forwardChain(v6.network);

function dualStack(options: { enabled?: boolean } = {}): { ipt: MemoryIptables; ipt6: MemoryIptables; rules: TrafficRules; records: LogRecord[] } {
  const ipt = new MemoryIptables();
  const ipt6 = new MemoryIptables();
  const { log, records } = memoryLogger();
  return { ipt, ipt6, records, rules: new TrafficRules({ iptables: ipt, ip6tables: ipt6, log, ...options }) };
}

t.test('IPv6 enabled: both families installed, each in its own tables, with its own addresses', async (t) => {
  const { ipt, ipt6, rules, records } = dualStack();
  t.same(await rules.ensure(network, subnet, v6), { ok: true, changed: true });
  t.same(ipt.rules('nat', MASQ_CHAIN), nat.rules);
  t.same(ipt6.rules('nat', MASQ_CHAIN), nat6.rules);
  t.same(ipt6.rules('nat', 'POSTROUTING'), [nat6.jump]);
  t.same(ipt6.rules('filter', FORWARD_CHAIN), filter6.rules);
  t.same(ipt6.rules('filter', 'FORWARD'), [filter6.jump]);
  t.match(ipt6.rules('nat', MASQ_CHAIN)?.join('\n'), /! -d ff00::\/8/);
  t.notMatch(ipt.restores.join('\n'), /fd00/, 'no IPv6 address in iptables');
  t.notMatch(ipt6.restores.join('\n'), /10\.5\./, 'no IPv4 address in ip6tables');
  t.same(records.filter((r) => r.msg === 'traffic rules installed').map((r) => r['family'] ?? 'ipv4').sort(), ['ipv4', 'ipv6']);
  t.same(await rules.ensure(network, subnet, v6), { ok: true, changed: false });
  t.same([ipt.restores.length, ipt6.restores.length], [1, 1], 'in sync: nothing written');
});

t.test('IPv6 enabled: a deleted IPv6 rule or jump is put back on the next pass, IPv4 untouched', async (t) => {
  const { ipt, ipt6, rules, records } = dualStack();
  await rules.ensure(network, subnet, v6);
  ipt6.tables.nat.get(MASQ_CHAIN)?.splice(4, 1);
  ipt6.tables.filter.set('FORWARD', []);
  t.same(await rules.ensure(network, subnet, v6), { ok: true, changed: true });
  t.same(ipt6.rules('nat', MASQ_CHAIN), nat6.rules);
  t.same(ipt6.rules('filter', 'FORWARD'), [filter6.jump]);
  t.equal(ipt.restores.length, 1, 'IPv4 was in sync and not written');
  t.match(records.at(-1), { family: 'ipv6', msg: 'traffic rules repaired' });
});

t.test('IPv6 not enabled: nothing is ever written to ip6tables, and it is read once only', async (t) => {
  const { ipt6, rules } = dualStack();
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  t.same(ipt6.restores, []);
  const reads = ipt6.lists;
  t.ok(reads > 0, 'the first pass looked for leftovers');
  await rules.ensure(network, subnet);
  await rules.ensure(network, subnet);
  t.equal(ipt6.lists, reads, 'later passes do not run ip6tables');
  t.same([ipt6.rules('nat', MASQ_CHAIN), ipt6.rules('filter', FORWARD_CHAIN)], [undefined, undefined]);
});

t.test('IPv6 switched off: weft\'s IPv6 chains are removed; switched on again: installed again', async (t) => {
  const { ipt, ipt6, rules, records } = dualStack();
  ipt6.tables.nat.set('POSTROUTING', ['-A POSTROUTING -s fd00:9::/64 -j MASQUERADE']);
  await rules.ensure(network, subnet, v6);
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  t.same([ipt6.rules('nat', MASQ_CHAIN), ipt6.rules('filter', FORWARD_CHAIN)], [undefined, undefined]);
  t.same(ipt6.rules('nat', 'POSTROUTING'), ['-A POSTROUTING -s fd00:9::/64 -j MASQUERADE'], 'foreign IPv6 rules stay');
  t.match(records.at(-1), { family: 'ipv6', msg: 'traffic rules removed (IPv6 is not enabled on this network)' });
  t.same(ipt.rules('nat', MASQ_CHAIN), nat.rules, 'IPv4 untouched');
  await rules.ensure(network, subnet, v6);
  t.same(ipt6.rules('nat', MASQ_CHAIN), nat6.rules);
});

t.test('--ip-masq off with IPv6 enabled: both families kept absent on every pass', async (t) => {
  const { ipt, ipt6, rules } = dualStack({ enabled: false });
  installed(ipt);
  ipt6.tables.nat.set(MASQ_CHAIN, [...nat6.rules]);
  ipt6.tables.nat.set('POSTROUTING', [nat6.jump]);
  t.same(await rules.ensure(network, subnet, v6), { ok: true, changed: true });
  t.same([ipt.rules('nat', MASQ_CHAIN), ipt6.rules('nat', MASQ_CHAIN), ipt6.rules('nat', 'POSTROUTING')], [undefined, undefined, []]);
  ipt6.tables.filter.set(FORWARD_CHAIN, [...filter6.rules]);
  t.same(await rules.ensure(network, subnet, v6), { ok: true, changed: true }, 'a chain that comes back is removed again');
  t.equal(ipt6.rules('filter', FORWARD_CHAIN), undefined);
});

t.test('a failing family never stops the other; the result is ok only when both are', async (t) => {
  const broken6 = dualStack();
  broken6.ipt6.failWith = 'ip6tables: Permission denied';
  t.same(await broken6.rules.ensure(network, subnet, v6), { ok: false, changed: true });
  t.same(broken6.ipt.rules('nat', MASQ_CHAIN), nat.rules, 'IPv4 installed');
  t.match(broken6.records.find((r) => r.level === LEVEL.warn), { family: 'ipv6', msg: 'cannot check or repair traffic rules; retrying next pass' });
  broken6.ipt6.failWith = undefined;
  t.same(await broken6.rules.ensure(network, subnet, v6), { ok: true, changed: true }, 'retried on the next pass');

  const broken4 = dualStack();
  broken4.ipt.failWith = 'iptables: Permission denied';
  t.same(await broken4.rules.ensure(network, subnet, v6), { ok: false, changed: true });
  t.same(broken4.ipt6.rules('nat', MASQ_CHAIN), nat6.rules, 'IPv6 installed');
});

t.test('IPv6 not enabled and ip6tables unusable (IPv6 off in the kernel): noted once at info, never retried, ok', async (t) => {
  const { ipt6, rules, records } = dualStack();
  ipt6.failWith = "ip6tables v1.8.9 (nf_tables): can't initialize ip6tables table `nat': Address family not supported by protocol";
  t.same(await rules.ensure(network, subnet), { ok: true, changed: true });
  const reads = ipt6.lists;
  t.same(await rules.ensure(network, subnet), { ok: true, changed: false });
  t.equal(ipt6.lists, reads, 'no second attempt');
  t.same(records.filter((r) => r.level >= LEVEL.warn), [], 'no warning');
  t.equal(records.filter((r) => /ip6tables cannot be read/.test(r.msg)).length, 1);
});

t.test('IPv6 enabled but no ip6tables given: said once, IPv4 unaffected', async (t) => {
  const ipt = new MemoryIptables();
  const { log, records } = memoryLogger();
  const rules = new TrafficRules({ iptables: ipt, log });
  t.same(await rules.ensure(network, subnet, v6), { ok: true, changed: true });
  await rules.ensure(network, subnet, v6);
  t.equal(records.filter((r) => /without ip6tables/.test(r.msg)).length, 1);
  t.same(ipt.rules('nat', MASQ_CHAIN), nat.rules);
});

t.test('ensureAhead with IPv6: the early check is used only for the same IPv6 scope', async (t) => {
  const calls: string[] = [];
  const port: TrafficRulesPort = { ensure: async (n, s, six) => { calls.push(`${n} ${s} ${six?.network ?? '-'} ${six?.subnet ?? '-'}`); return { ok: true, changed: false }; } };
  await ensureAhead(port, network, subnet, v6).ensure(network, subnet, { ...v6 });
  t.same(calls, ['10.5.0.0/16 10.5.1.0/24 fd00:5::/48 fd00:5:0:34::/64'], 'an equal scope (another object) reuses the early check');
  await ensureAhead(port, network, subnet, v6).ensure(network, subnet);
  t.same(calls.slice(-2), ['10.5.0.0/16 10.5.1.0/24 fd00:5::/48 fd00:5:0:34::/64', '10.5.0.0/16 10.5.1.0/24 - -']);
});
