/**
 * parseIpv6's fast path (text already canonical, as the kernel tools print
 * it) must agree with ip-num on every input: a text it accepts as canonical
 * is exactly what ip-num makes of it, and a non-canonical spelling still
 * comes out canonical.
 */
import { IPv6 } from 'ip-num';
import t from 'tap';
import { ipv6FromBigInt, isCanonicalIpv6, parseIpv6 } from '../../../src/core/cidr6.js';
import { seededRandom } from '../../helpers/prng.js';

const random = seededRandom(0x6c6);

/** Eight groups, most of them zero (where the compression rules bite). */
function randomGroups(): number[] {
  return Array.from({ length: 8 }, () => (random() < 0.55 ? 0 : random() < 0.3 ? Math.floor(random() * 16) : Math.floor(random() * 0x10000)));
}

/** ip-num's canonical form, never through the fast path. */
function slowCanonical(text: string): string {
  return ipv6FromBigInt(IPv6.fromString(text).getValue());
}

/** Other spellings of the same address: uncompressed, zero-padded, upper case, and `::` over every zero run. */
function spellings(groups: readonly number[]): string[] {
  const hex = groups.map((g) => g.toString(16));
  const out = [hex.join(':'), groups.map((g) => g.toString(16).padStart(4, '0')).join(':'), hex.join(':').toUpperCase()];
  for (let start = 0; start < 8; start++) {
    for (let end = start + 1; end <= 8; end++) {
      if (!groups.slice(start, end).every((g) => g === 0)) break;
      out.push(`${hex.slice(0, start).join(':')}::${hex.slice(end).join(':')}`);
    }
  }
  return out;
}

t.test('every spelling of random addresses parses to the canonical form ip-num gives', async (t) => {
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    const groups = randomGroups();
    const canonical = slowCanonical(groups.map((g) => g.toString(16)).join(':'));
    if (!isCanonicalIpv6(canonical)) t.fail(`${canonical} not recognised as canonical`);
    for (const text of spellings(groups)) {
      const parsed = parseIpv6(text);
      if (parsed !== canonical) t.fail(`${text} parsed as ${String(parsed)}, want ${canonical}`);
      checked++;
    }
  }
  t.ok(checked > 10_000, `${checked} spellings checked`);
});

t.test('the RFC 5952 cases', async (t) => {
  const table: [string, string | undefined][] = [
    ['::', '::'], ['::1', '::1'], ['1::', '1::'], ['fd00:10:0:2::', 'fd00:10:0:2::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longer run
    ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'], // the first of equal runs
    ['1:2:3:4:5:6::7', '1:2:3:4:5:6:0:7'], // a single zero group is not compressed
    ['1:0::2', '1::2'], ['fe80::1:0:0:1', 'fe80::1:0:0:1'], ['fd00:0:0:05::', 'fd00:0:0:5::'],
    ['1::2::3', undefined], [':1::', undefined], ['1:2:3:4:5:6:7:8:9', undefined], ['12345::', undefined], ['g::', undefined],
  ];
  for (const [text, want] of table) t.equal(parseIpv6(text), want, text);
});
