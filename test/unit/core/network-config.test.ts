import t from 'tap';
import {
  type ConfigParse, type NetworkConfig, DEFAULT_PORT, DEFAULT_VNI, parseNetworkConfig, parseNetworkConfigText,
  renderNetworkConfig, requireVxlan, subnetCapacity,
} from '../../../src/core/network-config.js';

const vx = requireVxlan;

function ok(r: ConfigParse): NetworkConfig {
  if (!r.ok) throw new Error(`expected a valid config, got: ${r.errors.join('; ')}`);
  return r.config;
}

function errorsOf(r: ConfigParse): readonly string[] {
  return r.ok ? [] : r.errors;
}

t.test("flannel's TestConfigDefaults vector", async (t) => {
  const c = ok(parseNetworkConfigText('{"network":"10.3.0.0/16"}'));
  t.equal(c.network, '10.3.0.0/16');
  t.equal(c.subnetMin, '10.3.1.0', 'the first subnet is skipped');
  t.equal(c.subnetMax, '10.3.255.0');
  t.equal(c.subnetLen, 24);
  t.equal(subnetCapacity(c), 255);
  t.ok(Object.isFrozen(c));
});

t.test('a missing Backend defaults to vxlan with VNI 1 and port 8472', async (t) => {
  const c = ok(parseNetworkConfig({ Network: '10.3.0.0/16' }));
  t.same(c.backend, { type: 'vxlan', vni: 1, port: 8472, mtu: undefined, gbp: false, directRouting: false, checksumOffload: 'off' });
  t.equal(DEFAULT_VNI, 1);
  t.equal(DEFAULT_PORT, 8472);
});

t.test('default SubnetLen by network prefix', async (t) => {
  const table: [string, number][] = [
    ['10.0.0.0/8', 24], ['10.3.0.0/16', 24], ['10.3.0.0/22', 24],
    ['10.3.0.0/23', 25], ['10.3.0.0/24', 26], ['10.3.0.0/25', 27], ['10.3.0.0/26', 28], ['10.3.0.0/27', 29], ['10.3.0.0/28', 30],
  ];
  for (const [network, len] of table) {
    const c = ok(parseNetworkConfig({ Network: network }));
    t.equal(c.subnetLen, len, network);
    t.equal(subnetCapacity(c), 2 ** (len - Number(network.split('/')[1])) - 1, `${network}: every subnet but the first`);
  }
  for (const network of ['10.3.0.0/29', '10.3.0.0/30', '10.3.0.0/32']) {
    const errors = errorsOf(parseNetworkConfig({ Network: network }));
    t.equal(errors.length, 1, network);
    t.match(errors[0], /too small.*\/28/, network);
  }
});

t.test('explicit SubnetLen', async (t) => {
  t.equal(ok(parseNetworkConfig({ Network: '10.3.0.0/16', SubnetLen: 20 })).subnetLen, 20);
  t.equal(ok(parseNetworkConfig({ Network: '10.3.0.0/16', SubnetLen: 18 })).subnetLen, 18, 'prefix + 2 is allowed');
  t.equal(ok(parseNetworkConfig({ Network: '10.3.0.0/16', SubnetLen: 0 })).subnetLen, 24, '0 means default');
  const bad: [unknown, RegExp][] = [
    [31, /SubnetLen 31 is invalid: SubnetLen must be less than \/31/],
    [32, /SubnetLen 32 is invalid/],
    [17, /SubnetLen 17 is invalid: .*at least four subnets \(SubnetLen >= 18\)/],
    [8, /SubnetLen 8 is invalid/],
    [24.5, /SubnetLen must be a whole number, got 24\.5/],
    ['24', /SubnetLen must be a whole number, got "24"/],
    [-1, /SubnetLen must be a whole number/],
  ];
  for (const [value, message] of bad) {
    const errors = errorsOf(parseNetworkConfig({ Network: '10.3.0.0/16', SubnetLen: value }));
    t.equal(errors.length, 1, JSON.stringify(value));
    t.match(errors[0], message, JSON.stringify(value));
  }
});

t.test('SubnetMin and SubnetMax', async (t) => {
  const c = ok(parseNetworkConfig({ Network: '10.3.0.0/16', SubnetMin: '10.3.10.0', SubnetMax: '10.3.19.0' }));
  t.equal(c.subnetMin, '10.3.10.0');
  t.equal(c.subnetMax, '10.3.19.0');
  t.equal(subnetCapacity(c), 10);
  const aligned = ok(parseNetworkConfig({ Network: '10.3.0.0/16', SubnetLen: 26, SubnetMin: '10.3.0.64' }));
  t.equal(aligned.subnetMin, '10.3.0.64', 'alignment is to SubnetLen, not /24');

  const bad: [Record<string, unknown>, RegExp][] = [
    [{ SubnetMin: '10.4.0.0' }, /SubnetMin 10\.4\.0\.0 is not inside Network 10\.3\.0\.0\/16/],
    [{ SubnetMax: '10.2.255.0' }, /SubnetMax 10\.2\.255\.0 is not inside Network 10\.3\.0\.0\/16/],
    [{ SubnetMin: '10.3.1.128' }, /SubnetMin 10\.3\.1\.128 is not aligned to SubnetLen \/24/],
    [{ SubnetMax: '10.3.9.1' }, /SubnetMax 10\.3\.9\.1 is not aligned to SubnetLen \/24/],
    [{ SubnetMin: 'banana' }, /SubnetMin must be an IPv4 address.*"banana"/],
    [{ SubnetMax: 167968512 }, /SubnetMax must be an IPv4 address.*167968512/],
    [{ SubnetMin: '10.3.20.0', SubnetMax: '10.3.10.0' }, /SubnetMin 10\.3\.20\.0 is above SubnetMax 10\.3\.10\.0/],
  ];
  for (const [fields, message] of bad) {
    const errors = errorsOf(parseNetworkConfig({ Network: '10.3.0.0/16', ...fields }));
    t.equal(errors.length, 1, JSON.stringify(fields));
    t.match(errors[0], message, JSON.stringify(fields));
  }
});

t.test('keys are case-insensitive at every level; unknown keys are ignored', async (t) => {
  const c = ok(parseNetworkConfigText(
    '{"NETWORK":"10.3.0.0/16","subnetlen":26,"subnetMIN":"10.3.0.64","Backend":{"TYPE":"VXLAN","vni":4,"PORT":4789,"Mtu":9000,"gbp":true},"Whatever":1}'));
  t.equal(c.network, '10.3.0.0/16');
  t.equal(c.subnetLen, 26);
  t.equal(c.subnetMin, '10.3.0.64');
  t.same(c.backend, { type: 'vxlan', vni: 4, port: 4789, mtu: 9000, gbp: true, directRouting: false, checksumOffload: 'off' });
});

t.test('Network problems', async (t) => {
  const table: [unknown, RegExp][] = [
    [undefined, /Network is missing/],
    ['', /Network is missing/],
    [42, /Network must be a string.*got 42/],
    ['10.3.0.0', /Network "10\.3\.0\.0" is invalid: .*a\.b\.c\.d\/n/],
    ['10.3.0.1/16', /Network "10\.3\.0\.1\/16" is invalid: .*host bits/],
    ['fc00::/48', /Network "fc00::\/48" is invalid/],
  ];
  for (const [network, message] of table) {
    const errors = errorsOf(parseNetworkConfig(network === undefined ? {} : { Network: network }));
    t.equal(errors.length, 1, String(network));
    t.match(errors[0], message, String(network));
  }
});

t.test('Backend', async (t) => {
  const backendOf = (b: unknown): ConfigParse => parseNetworkConfig({ Network: '10.3.0.0/16', Backend: b });
  t.equal(vx(ok(backendOf({ Type: 'vxlan', VNI: 0, Port: 0, MTU: 0 }))).vni, 1, 'VNI 0 means default');
  t.equal(vx(ok(backendOf({ Type: 'vxlan', Port: 0 }))).port, 8472, 'Port 0 means the kernel default');
  t.equal(vx(ok(backendOf({ Type: 'vxlan', MTU: 0 }))).mtu, undefined, 'MTU 0 means the interface MTU');
  t.equal(vx(ok(backendOf(null))).type, 'vxlan', 'null is like absent');

  const bad: [unknown, RegExp][] = [
    [{ Type: 'udp' }, /Backend\.Type "udp" is not supported/],
    [{ Type: 'host-gw' }, /Backend\.Type "host-gw" is not supported/],
    [{}, /Backend\.Type is missing/],
    [{ Type: '' }, /Backend\.Type is missing/],
    ['vxlan', /Backend must be an object/],
    [{ Type: 'vxlan', VNI: 16777216 }, /Backend\.VNI must be a whole number from 0 to 16777215, got 16777216/],
    [{ Type: 'vxlan', VNI: '1' }, /Backend\.VNI must be a whole number/],
    [{ Type: 'vxlan', Port: 65536 }, /Backend\.Port must be a whole number from 0 to 65535/],
    [{ Type: 'vxlan', MTU: 117 }, /Backend\.MTU 117 is too small: .*at least 118/],
    [{ Type: 'vxlan', GBP: 'yes' }, /Backend\.GBP must be true or false, got "yes"/],
    [{ Type: 'vxlan', DirectRouting: 1 }, /Backend\.DirectRouting must be true or false/],
    [{ Type: 'vxlan', ChecksumOffload: true }, /Backend\.ChecksumOffload must be "auto", "on" or "off", got true/],
    [{ Type: 'vxlan', ChecksumOffload: 'disabled' }, /Backend\.ChecksumOffload must be "auto", "on" or "off", got "disabled"/],
  ];
  for (const [backend, message] of bad) {
    const errors = errorsOf(backendOf(backend));
    t.equal(errors.length, 1, JSON.stringify(backend));
    t.match(errors[0], message, JSON.stringify(backend));
  }
  t.equal(vx(ok(backendOf({ Type: 'vxlan', MTU: 118 }))).mtu, 118, 'the smallest usable underlay MTU');
});

t.test('Backend.ChecksumOffload: auto, on or off (any case, any key case), default off', async (t) => {
  const backendOf = (b: unknown): ConfigParse => parseNetworkConfig({ Network: '10.3.0.0/16', Backend: b });
  t.equal(vx(ok(backendOf({ Type: 'vxlan' }))).checksumOffload, 'off', 'absent: off (docs/design.md)');
  t.equal(vx(ok(backendOf(null))).checksumOffload, 'off', 'no Backend: off');
  t.equal(vx(ok(backendOf({ Type: 'vxlan', ChecksumOffload: '' }))).checksumOffload, 'off', 'empty is absent');
  for (const [value, want] of [['auto', 'auto'], ['on', 'on'], ['off', 'off'], ['ON', 'on'], ['Auto', 'auto']] as const) {
    t.equal(vx(ok(backendOf({ Type: 'vxlan', checksumoffload: value }))).checksumOffload, want, value);
  }
  const errors = errorsOf(parseNetworkConfig({ Network: '10.3.0.0/16', Backend: { Type: 'vxlan', VNI: -1, ChecksumOffload: 1 } }));
  t.match(errors, [/Backend\.VNI/, /Backend\.ChecksumOffload must be "auto", "on" or "off", got 1/], 'reported with the other problems');
});

t.test('IPv4-only and unsupported switches', async (t) => {
  t.match(errorsOf(parseNetworkConfig({ Network: '10.3.0.0/16', EnableIPv6: true })), [/IPv6Network is missing: EnableIPv6 is true/]);
  t.match(errorsOf(parseNetworkConfig({ Network: '10.3.0.0/16', enableIPv4: false })), [/EnableIPv4: false \(an IPv6-only network\) is not supported/]);
  t.equal(parseNetworkConfig({ Network: '10.3.0.0/16', EnableIPv6: false }).ok, true, 'EnableIPv6: false is fine');

  const r = parseNetworkConfig({
    Network: '10.3.0.0/16', EnableNFTables: true, Backend: { Type: 'vxlan', DirectRouting: true, Learning: true },
  });
  t.equal(r.ok, true);
  if (r.ok) {
    t.equal(r.warnings.length, 2, 'DirectRouting is implemented: no warning for it');
    t.match(r.warnings, [/EnableNFTables is ignored/, /Learning is ignored/]);
    t.equal(vx(r.config).directRouting, true);
  }
  const plain = parseNetworkConfig({ Network: '10.3.0.0/16' });
  t.same(plain.ok && plain.warnings, [], 'no warnings for a plain config');
});

t.test('every problem is reported at once', async (t) => {
  const errors = errorsOf(parseNetworkConfig({
    Network: '10.3.0.0/16', SubnetMin: '10.4.0.0', EnableIPv6: true, Backend: { Type: 'udp' },
  }));
  t.equal(errors.length, 3);
  t.match(errors, [/SubnetMin 10\.4\.0\.0/, /Backend\.Type "udp"/, /IPv6Network is missing/]);
  const more = errorsOf(parseNetworkConfig({ Network: '10.3.0.0/16', SubnetMin: 'x', SubnetMax: 'y', Backend: { Type: 'udp', VNI: -1, GBP: 2 } }));
  t.equal(more.length, 5, 'SubnetMin, SubnetMax, Type, VNI and GBP');
});

t.test('input that is not a JSON object', async (t) => {
  const notJson = errorsOf(parseNetworkConfigText('{"Network": '));
  t.equal(notJson.length, 1);
  t.match(notJson[0], /^config is not valid JSON: /);
  for (const text of ['[]', '"10.3.0.0/16"', 'null', '42']) {
    t.same(errorsOf(parseNetworkConfigText(text)), ['config must be a JSON object'], text);
  }
});

t.test('renderNetworkConfig round-trips through the parser', async (t) => {
  const configs = [
    ok(parseNetworkConfig({ Network: '10.3.0.0/16' })),
    ok(parseNetworkConfig({ Network: '172.16.0.0/12', SubnetLen: 26, SubnetMin: '172.16.4.0', SubnetMax: '172.31.0.0',
      Backend: { Type: 'vxlan', VNI: 42, Port: 4789, MTU: 9000, GBP: true, DirectRouting: true, ChecksumOffload: 'auto' } })),
  ];
  for (const config of configs) {
    const text = renderNetworkConfig(config);
    t.same(ok(parseNetworkConfigText(text)), config, text);
  }
  t.equal(renderNetworkConfig(configs[0]!),
    '{"Network":"10.3.0.0/16","SubnetLen":24,"SubnetMin":"10.3.1.0","SubnetMax":"10.3.255.0","Backend":{"Type":"vxlan","VNI":1,"Port":8472,"ChecksumOffload":"off"}}');
});
