/**
 * weft's iptables rules for `--ip-masq`, as data: flannel's masquerade and
 * forward rules (pkg/trafficmngr/iptables) in weft's own chains, the
 * comparison with what `iptables -S` prints, and the `iptables-restore
 * --noflush` payload that repairs or removes them.
 *
 * Rules are kept as the exact lines `iptables -S` prints, so "in sync" is line
 * equality and the same strings go into the restore payload. A repair
 * re-declares the chain (`:CHAIN - [0:0]`), which flushes and refills it inside
 * one restore transaction: the kernel never sees the chain empty. A chain that
 * already matches is never written, so a restart leaves rules and counters alone.
 *
 * IPv6 (flannel's masqIP6Rules and the IPv6 forwardRules): the same chains,
 * names and rules in ip6tables' tables, with the IPv6 network and subnet and
 * the multicast block ff00::/8 instead of 224.0.0.0/4. Which family a scope is
 * follows from its addresses, so the two cannot be mixed up.
 */
import type { Cidr } from './cidr.js';
import type { Cidr6 } from './cidr6.js';

export const MASQ_CHAIN = 'WEFT-POSTRTG';
export const FORWARD_CHAIN = 'WEFT-FWD';
export const MASQ_COMMENT = 'weft masq';
export const FORWARD_COMMENT = 'weft forward';
/** kube-proxy's masquerade mark: those packets are masqueraded by kube-proxy, not here. */
const KUBE_MASQ_MARK = '0x4000/0x4000';
const MULTICAST = '224.0.0.0/4';
const MULTICAST6 = 'ff00::/8';

export type IptablesTable = 'nat' | 'filter';

/** Where one of weft's chains lives and which built-in chain jumps to it. */
export interface ChainLocation {
  readonly table: IptablesTable;
  readonly chain: string;
  readonly hook: 'POSTROUTING' | 'FORWARD';
}

/** One of weft's chains as it should be: its rules and the jump to it, as `iptables -S` prints them. */
export interface OwnedChain extends ChainLocation {
  /** `-A <hook> … -j <chain>`, appended once to the hook chain. */
  readonly jump: string;
  /** `-A <chain> …`, in order. */
  readonly rules: readonly string[];
}

/** The overlay network and this host's subnet. */
export interface TrafficScope {
  readonly network: Cidr;
  readonly subnet: Cidr;
}

/** The IPv6 network and this host's IPv6 subnet (dual stack), for ip6tables. */
export interface TrafficScope6 {
  readonly network: Cidr6;
  readonly subnet: Cidr6;
}

export type IpFamily = 'ipv4' | 'ipv6';

/** The family of a scope (an IPv6 network has a ':'). */
export function scopeFamily(scope: TrafficScope | TrafficScope6): IpFamily {
  return scope.network.includes(':') ? 'ipv6' : 'ipv4';
}

export const OWNED_CHAINS: readonly ChainLocation[] = [
  { table: 'nat', chain: MASQ_CHAIN, hook: 'POSTROUTING' },
  { table: 'filter', chain: FORWARD_CHAIN, hook: 'FORWARD' },
];

const comment = (text: string): string => `-m comment --comment "${text}"`;

/**
 * flannel's masqRules: nothing inside the network is masqueraded, traffic from
 * the network to the outside is (except multicast), and so is traffic from
 * outside to a remote subnet of the network.
 */
export function masqChain(scope: TrafficScope | TrafficScope6): OwnedChain {
  const { network, subnet } = scope;
  const multicast = scopeFamily(scope) === 'ipv6' ? MULTICAST6 : MULTICAST;
  const c = comment(MASQ_COMMENT);
  const rule = (spec: string): string => `-A ${MASQ_CHAIN} ${spec}`;
  return {
    table: 'nat', chain: MASQ_CHAIN, hook: 'POSTROUTING',
    jump: `-A POSTROUTING ${c} -j ${MASQ_CHAIN}`,
    rules: [
      rule(`-m mark --mark ${KUBE_MASQ_MARK} ${c} -j RETURN`),
      rule(`-s ${subnet} -d ${network} ${c} -j RETURN`),
      rule(`-s ${network} -d ${subnet} ${c} -j RETURN`),
      rule(`! -s ${network} -d ${subnet} ${c} -j RETURN`),
      rule(`-s ${network} ! -d ${multicast} ${c} -j MASQUERADE --random-fully`),
      rule(`! -s ${network} -d ${network} ${c} -j MASQUERADE --random-fully`),
    ],
  };
}

/** flannel's forwardRules: accept forwarding to and from the network whatever FORWARD's policy is. */
export function forwardChain(network: Cidr | Cidr6): OwnedChain {
  const c = comment(FORWARD_COMMENT);
  return {
    table: 'filter', chain: FORWARD_CHAIN, hook: 'FORWARD',
    jump: `-A FORWARD ${c} -j ${FORWARD_CHAIN}`,
    rules: [`-A ${FORWARD_CHAIN} -s ${network} ${c} -j ACCEPT`, `-A ${FORWARD_CHAIN} -d ${network} ${c} -j ACCEPT`],
  };
}

/** Everything `--ip-masq` installs in one family's tables, nat first. */
export function desiredTrafficRules(scope: TrafficScope | TrafficScope6): readonly OwnedChain[] {
  return [masqChain(scope), forwardChain(scope.network)];
}

/** What `iptables -S` printed: the owned chain (undefined when it does not exist) and its hook chain. */
export interface ChainListing {
  readonly chain: string | undefined;
  readonly hook: string;
}

/** The `-A <chain> …` lines of an `iptables -S <chain>` listing, in order (drops `-N`, `-P`, warnings). */
export function parseRuleListing(text: string, chain: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`-A ${chain} `));
}

/** True when an `-S` line's target is `chain` (`-j chain` or `-g chain`). */
export function jumpsTo(line: string, chain: string): boolean {
  const words = line.split(/\s+/);
  return words.some((w, i) => w === chain && (words[i - 1] === '-j' || words[i - 1] === '-g'));
}

/** What a repair of one chain does, for the restore payload and the log. */
export interface ChainRepair extends ChainLocation {
  /** The rules to write into the chain (flush and refill), or undefined to leave it alone. */
  readonly rewrite: readonly string[] | undefined;
  /** Hook-chain lines to delete: duplicate or non-canonical jumps to the chain. */
  readonly deleteJumps: readonly string[];
  /** The jump to append, when the hook chain has none. */
  readonly appendJump: string | undefined;
  /** Why, for the log: e.g. `chain missing`, `2 rules missing, 1 unexpected`, `jump missing`. */
  readonly reasons: readonly string[];
}

/** Compares one chain with the listing; undefined means in sync (nothing to write). */
export function planChainRepair(desired: OwnedChain, listing: ChainListing): ChainRepair | undefined {
  const reasons: string[] = [];
  const actual = listing.chain === undefined ? undefined : parseRuleListing(listing.chain, desired.chain);
  const rewrite = actual === undefined || !sameLines(actual, desired.rules);
  if (actual === undefined) reasons.push('chain missing');
  else if (rewrite) reasons.push(describeDifference(desired.rules, actual));
  const jumps = parseRuleListing(listing.hook, desired.hook).filter((l) => jumpsTo(l, desired.chain));
  const keep = jumps.indexOf(desired.jump);
  const deleteJumps = jumps.filter((_, i) => i !== keep);
  const appendJump = keep === -1 ? desired.jump : undefined;
  if (appendJump) reasons.push('jump missing');
  if (deleteJumps.length > 0) reasons.push(`${deleteJumps.length} extra jump${deleteJumps.length === 1 ? '' : 's'}`);
  if (!rewrite && deleteJumps.length === 0 && !appendJump) return undefined;
  return { table: desired.table, chain: desired.chain, hook: desired.hook, rewrite: rewrite ? desired.rules : undefined, deleteJumps, appendJump, reasons };
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

function describeDifference(desired: readonly string[], actual: readonly string[]): string {
  const missing = desired.filter((l) => !actual.includes(l)).length;
  const unexpected = actual.filter((l) => !desired.includes(l)).length;
  if (missing === 0 && unexpected === 0) return 'rules out of order or repeated';
  return [missing > 0 ? `${missing} rule${missing === 1 ? '' : 's'} missing` : '', unexpected > 0 ? `${unexpected} unexpected` : '']
    .filter(Boolean).join(', ');
}

/** The restore payload for some repairs: one `*table … COMMIT` block per table, each atomic. */
export function renderRepairPayload(repairs: readonly ChainRepair[]): string {
  return renderTables(repairs, (r) => [
    ...(r.rewrite ? [`:${r.chain} - [0:0]`, ...r.rewrite] : []),
    ...r.deleteJumps.map(toDelete),
    ...(r.appendJump ? [r.appendJump] : []),
  ]);
}

/** What removing one of weft's chains does. */
export interface ChainRemoval extends ChainLocation {
  /** Every hook-chain line that jumps to the chain. */
  readonly deleteJumps: readonly string[];
  /** The chain exists and is flushed and deleted; `rules` is how many rules it held. */
  readonly deleteChain: boolean;
  readonly rules: number;
}

/** Plans removing one chain and every jump to it; undefined when neither exists. */
export function planChainRemoval(location: ChainLocation, listing: ChainListing): ChainRemoval | undefined {
  const deleteJumps = parseRuleListing(listing.hook, location.hook).filter((l) => jumpsTo(l, location.chain));
  const deleteChain = listing.chain !== undefined;
  if (!deleteChain && deleteJumps.length === 0) return undefined;
  const rules = listing.chain === undefined ? 0 : parseRuleListing(listing.chain, location.chain).length;
  return { table: location.table, chain: location.chain, hook: location.hook, deleteJumps, deleteChain, rules };
}

/** The restore payload for removals: jumps first, then flush and delete the chain, in one transaction per table. */
export function renderRemovalPayload(removals: readonly ChainRemoval[]): string {
  return renderTables(removals, (r) => [
    ...(r.deleteChain ? [`:${r.chain} - [0:0]`] : []),
    ...r.deleteJumps.map(toDelete),
    ...(r.deleteChain ? [`-X ${r.chain}`] : []),
  ]);
}

function toDelete(line: string): string {
  return `-D${line.slice(2)}`;
}

function renderTables<T extends ChainLocation>(items: readonly T[], lines: (item: T) => string[]): string {
  const tables = [...new Set(items.map((i) => i.table))];
  return tables.map((table) => [
    `*${table}`, ...items.filter((i) => i.table === table).flatMap(lines), 'COMMIT', '',
  ].join('\n')).join('');
}

/**
 * `iptables-save -t <table>` output as `iptables -S <chain>` would print each
 * chain: `-P <chain> <policy>` or `-N <chain>`, then its `-A` rules in order.
 * One save reads every chain of a table in one process, where `-S` needs a
 * process per chain. A chain the save does not declare is absent.
 */
export function chainListingsFromSave(save: string): Map<string, string> {
  return tableListingsFromSave(save).get(save.match(/^\*(\S+)/m)?.[1] ?? '') ?? new Map();
}

/** A whole `iptables-save` (every table) as `chainListingsFromSave` reads each table of it. */
export function tableListingsFromSave(save: string): Map<string, Map<string, string>> {
  const tables = new Map<string, Map<string, string[]>>();
  let chains = new Map<string, string[]>();
  for (const raw of save.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      chains = new Map();
      tables.set(line.slice(1), chains);
    } else if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ');
      if (name) chains.set(name, [policy === undefined || policy === '-' ? `-N ${name}` : `-P ${name} ${policy}`]);
    } else if (line.startsWith('-A ')) {
      const name = line.split(' ')[1] ?? '';
      chains.get(name)?.push(line);
    }
  }
  return new Map([...tables].map(([table, listed]) => [table, new Map([...listed].map(([name, lines]) => [name, `${lines.join('\n')}\n`]))]));
}
