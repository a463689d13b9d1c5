import { Validator } from 'ip-num';
import t from 'tap';
import {
  type Cidr, type Ipv4, blockSize, cidrIp, cidrPrefix, containsCidr, containsIp, intToIpv4, ipv4ToInt, isIpv4,
  compareCidr, makeCidr, networkOf, nthAddress, overlaps, parseCidr, parseIpv4, subnetStarts,
} from '../../../src/core/cidr.js';

const ip = (s: string): Ipv4 => s as Ipv4;
const cidr = (s: string): Cidr => s as Cidr;

t.test('isIpv4 accepts only canonical dotted quads', async (t) => {
  const table: [string, boolean][] = [
    ['10.5.72.1', true], ['0.0.0.0', true], ['255.255.255.255', true],
    ['256.1.1.1', false], ['01.2.3.4', false], ['1.2.3', false], ['1.2.3.4.5', false], ['1..2.3', false],
    [' 1.2.3.4', false], ['1.2.3.4 ', false], ['1.2.3.-1', false], ['a.b.c.d', false], ['', false], ['fd00::1', false],
  ];
  for (const [text, valid] of table) {
    t.equal(isIpv4(text), valid, JSON.stringify(text));
    t.equal(parseIpv4(text), valid ? text : undefined, `parseIpv4 ${JSON.stringify(text)}`);
  }
});

t.test('isIpv4 (one regex) agrees with ip-num plus the canonical round trip it replaced', async (t) => {
  const previous = (text: string): boolean => Validator.isValidIPv4String(text)[0] && text === intToIpv4(ipv4ToInt(text as Ipv4));
  const inputs = ['1.2.3.4/24', '1e2.1.1.1', '0x1.1.1.1', '１.2.3.4', '1.2.3.4\n', '\n1.2.3.4', '1.2.3.04', '00.0.0.0', '-0.1.2.3', '+1.2.3.4'];
  for (let octet = 0; octet < 1000; octet++) {
    for (const pad of ['', '0', '00']) inputs.push(`${pad}${octet}.1.2.3`, `1.2.3.${pad}${octet}`, `10.${pad}${octet}.0.1`);
  }
  let disagreements = 0;
  for (const text of inputs) if (isIpv4(text) !== previous(text)) { disagreements++; t.fail(JSON.stringify(text)); }
  t.equal(disagreements, 0, `${inputs.length} inputs`);
});

t.test('integer conversion round-trips and wraps modulo 2^32', async (t) => {
  const table: [string, number][] = [['0.0.0.0', 0], ['0.0.1.0', 256], ['10.5.72.1', 168118273], ['255.255.255.255', 4294967295]];
  for (const [text, value] of table) {
    t.equal(ipv4ToInt(ip(text)), value, text);
    t.equal(intToIpv4(value), text, String(value));
  }
  t.equal(intToIpv4(2 ** 32), '0.0.0.0');
  t.equal(intToIpv4(-1), '255.255.255.255');
});

t.test('parseCidr', async (t) => {
  const good: [string, string, number][] = [
    ['10.5.0.0/16', '10.5.0.0/16', 16], ['0.0.0.0/0', '0.0.0.0/0', 0], ['10.5.72.1/32', '10.5.72.1/32', 32],
  ];
  for (const [text, canonical, len] of good) {
    const r = parseCidr(text);
    t.same(r, { ok: true, cidr: canonical, ip: text.split('/')[0], prefixLength: len }, text);
  }
  const bad: [string, RegExp][] = [
    ['10.5.0.0', /not in a\.b\.c\.d\/n form/],
    ['10.5.0/16', /"10\.5\.0" is not a valid IPv4 address/],
    ['10.5.0.0/33', /"33" is not a prefix length/],
    ['10.5.0.0/', /"" is not a prefix length/],
    ['10.5.0.0/-1', /"-1" is not a prefix length/],
    ['10.5.0.0/1a', /"1a" is not a prefix length/],
    ['10.5.0.1/16', /host bits set \(the network address is 10\.5\.0\.0\/16\)/],
  ];
  for (const [text, reason] of bad) {
    const r = parseCidr(text);
    t.equal(r.ok, false, text);
    if (!r.ok) t.match(r.reason, reason, text);
  }
  t.same(parseCidr('10.5.0.1/16', false), { ok: true, cidr: '10.5.0.0/16', ip: '10.5.0.1', prefixLength: 16 },
    'requireAligned=false keeps the address and returns the network');
});

t.test('block arithmetic', async (t) => {
  t.equal(blockSize(24), 256);
  t.equal(blockSize(32), 1);
  t.equal(blockSize(0), 2 ** 32);
  t.equal(networkOf(ip('10.5.72.200'), 24), '10.5.72.0/24');
  t.equal(networkOf(ip('10.5.72.200'), 20), '10.5.64.0/20');
  t.equal(makeCidr(ip('10.5.72.0'), 24), '10.5.72.0/24');
  t.equal(cidrIp(cidr('10.5.72.0/24')), '10.5.72.0');
  t.equal(cidrPrefix(cidr('10.5.72.0/24')), 24);
  t.equal(nthAddress(cidr('10.5.72.0/24'), 0), '10.5.72.0');
  t.equal(nthAddress(cidr('10.5.72.0/24'), 1), '10.5.72.1');
  t.equal(nthAddress(cidr('10.5.72.0/24'), 256), '10.5.73.0');
});

t.test('containment and overlap', async (t) => {
  const contains: [string, string, boolean][] = [
    ['10.5.0.0/16', '10.5.72.0/24', true], ['10.5.0.0/16', '10.5.0.0/16', true], ['10.5.0.0/16', '10.6.0.0/24', false],
    ['10.5.0.0/16', '10.4.0.0/15', false], ['0.0.0.0/0', '192.168.0.0/16', true],
  ];
  for (const [outer, inner, expected] of contains) t.equal(containsCidr(cidr(outer), cidr(inner)), expected, `${outer} ⊇ ${inner}`);
  t.equal(containsIp(cidr('10.5.0.0/16'), ip('10.5.255.255')), true);
  t.equal(containsIp(cidr('10.5.0.0/16'), ip('10.6.0.0')), false);

  const overlap: [string, string, boolean][] = [
    ['10.5.1.0/24', '10.5.1.0/24', true], ['10.5.1.0/24', '10.5.2.0/24', false], ['10.5.0.0/22', '10.5.3.0/24', true],
    ['10.5.3.128/25', '10.5.3.0/24', true], ['10.5.4.0/22', '10.5.3.0/24', false], ['0.0.0.0/0', '10.5.3.0/24', true],
  ];
  for (const [a, b, expected] of overlap) {
    t.equal(overlaps(cidr(a), cidr(b)), expected, `${a} ∩ ${b}`);
    t.equal(overlaps(cidr(b), cidr(a)), expected, `${b} ∩ ${a} (symmetric)`);
  }
});

t.test('subnetStarts lists every aligned subnet from first to last inclusive', async (t) => {
  const starts = subnetStarts(ip('10.5.1.0'), ip('10.5.4.0'), 24);
  t.same(starts.map(intToIpv4), ['10.5.1.0', '10.5.2.0', '10.5.3.0', '10.5.4.0']);
  t.same(subnetStarts(ip('10.5.1.0'), ip('10.5.1.0'), 24).map(intToIpv4), ['10.5.1.0'], 'one subnet when first = last');
  t.same(subnetStarts(ip('10.5.2.0'), ip('10.5.1.0'), 24), [], 'empty when first > last');
  t.equal(subnetStarts(ip('10.0.1.0'), ip('10.255.255.0'), 24).length, 65535, 'a /8 of /24s, minus the first');
});

t.test('compareCidr orders by address numerically, then by prefix length', async (t) => {
  const sorted = ['10.5.155.0/24', '10.5.16.0/24', '9.0.0.0/8', '10.5.16.0/20', '10.5.2.0/24'].map(cidr).sort(compareCidr);
  t.same(sorted, ['9.0.0.0/8', '10.5.2.0/24', '10.5.16.0/20', '10.5.16.0/24', '10.5.155.0/24']);
});
