/**
 * Does the filter table's FORWARD chain let overlay traffic through? Reads
 * `iptables -S` (the whole filter table) the way a packet walks it: FORWARD's
 * rules in order, into user chains they jump to (WEFT-FWD, FLANNEL-FWD,
 * DOCKER-USER…), until an unconditional DROP/REJECT or the end, where the
 * policy applies. An ACCEPT counts for the network when its only conditions
 * are `-s` (or `-d`) with a block that holds the whole network; rules with
 * other conditions (interfaces, conntrack, marks) are not counted. This is a
 * doctor's approximation, not a packet simulator. Pure.
 */
import { type Cidr, containsCidr, parseCidr } from './cidr.js';
import { type Cidr6, containsCidr6, parseCidr6 } from './cidr6.js';

export interface ForwardAnalysis {
  /** `-P FORWARD <policy>`, or undefined when the listing has none. */
  readonly policy: string | undefined;
  /** The unconditional DROP/REJECT rule that ends the walk, if any (e.g. `-A FORWARD -j REJECT …`). */
  readonly catchAll: string | undefined;
  /** What happens to a packet no counted rule accepted: the catch-all's target or the policy. */
  readonly fallThrough: 'ACCEPT' | 'DROP';
  /** Chains holding an ACCEPT for traffic from the network, and for traffic to it (empty: none). */
  readonly acceptsFrom: readonly string[];
  readonly acceptsTo: readonly string[];
}

const TERMINAL_DROP = new Set(['DROP', 'REJECT']);
const MAX_DEPTH = 8;

interface Rule { readonly chain: string; readonly words: readonly string[]; readonly line: string }

function parseListing(text: string): { policies: Map<string, string>; rules: Map<string, Rule[]> } {
  const policies = new Map<string, string>();
  const rules = new Map<string, Rule[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    // Quoted comments may hold spaces: drop them before splitting.
    const words = line.replace(/-m comment --comment ("[^"]*"|\S+)/g, '').split(/\s+/).filter((w) => w !== '');
    const [flag, chain, ...rest] = words;
    if (chain === undefined) continue;
    if (flag === '-P' && rest[0] !== undefined) policies.set(chain, rest[0]);
    else if (flag === '-N') rules.set(chain, rules.get(chain) ?? []);
    else if (flag === '-A') rules.set(chain, [...(rules.get(chain) ?? []), { chain, words: rest, line }]);
  }
  return { policies, rules };
}

/** `-j X`/`-g X` and the conditions before it. */
function splitRule(words: readonly string[]): { target: string | undefined; conditions: readonly string[] } {
  const at = words.findIndex((w) => w === '-j' || w === '-g');
  if (at < 0) return { target: undefined, conditions: words };
  return { target: words[at + 1], conditions: words.slice(0, at) };
}

/** True when the `-s`/`-d` value (a block, or one address) holds the whole network, in the network's family. */
function holdsNetwork(value: string, network: Cidr | Cidr6): boolean {
  if (network.includes(':')) {
    const parsed = parseCidr6(value.includes('/') ? value : `${value}/128`);
    return parsed.ok && containsCidr6(parsed.cidr, network as Cidr6);
  }
  const parsed = parseCidr(value.includes('/') ? value : `${value}/32`);
  return parsed.ok && containsCidr(parsed.cidr, network as Cidr);
}

/** Which way an unconditional-but-for-one-address ACCEPT covers the network. */
function acceptScope(conditions: readonly string[], network: Cidr | Cidr6): 'all' | 'from' | 'to' | undefined {
  if (conditions.length === 0) return 'all';
  const [flag, value, ...more] = conditions;
  if (more.length > 0 || value === undefined || (flag !== '-s' && flag !== '-d')) return undefined;
  if (!holdsNetwork(value, network)) return undefined;
  return flag === '-s' ? 'from' : 'to';
}

/** `listing`: `iptables -S` for an IPv4 network, `ip6tables -S` for an IPv6 one (dual stack). */
export function analyzeForward(listing: string, network: Cidr | Cidr6): ForwardAnalysis {
  const { policies, rules } = parseListing(listing);
  const from = new Set<string>();
  const to = new Set<string>();
  let catchAll: Rule | undefined;
  /** Walks a chain: `end` when a rule decided every packet (a catch-all or an unconditional ACCEPT). */
  const walk = (chain: string, depth: number, stack: readonly string[]): 'end' | 'continue' => {
    for (const rule of rules.get(chain) ?? []) {
      const { target, conditions } = splitRule(rule.words);
      if (target === undefined) continue;
      if (target === 'ACCEPT') {
        const scope = acceptScope(conditions, network);
        if (scope === 'all' || scope === 'from') from.add(chain);
        if (scope === 'all' || scope === 'to') to.add(chain);
        if (scope === 'all') return 'end';
      } else if (TERMINAL_DROP.has(target) && conditions.length === 0) {
        catchAll = rule;
        return 'end';
      } else if (target === 'RETURN' && conditions.length === 0 && depth > 0) {
        return 'continue';
      } else if (rules.has(target) && depth < MAX_DEPTH && !stack.includes(target)) {
        if (walk(target, depth + 1, [...stack, target]) === 'end') return 'end';
      }
    }
    return 'continue';
  };
  walk('FORWARD', 0, ['FORWARD']);
  const policy = policies.get('FORWARD');
  const fallThrough = catchAll !== undefined || (policy !== undefined && TERMINAL_DROP.has(policy)) ? 'DROP' : 'ACCEPT';
  return { policy, catchAll: catchAll?.line, fallThrough, acceptsFrom: [...from], acceptsTo: [...to] };
}
