import t from 'tap';
import {
  isWireguardBackend, parseWireguardBackend, wireguardDualStackProblem, renderWireguardBackend, wireguardDeviceMtu,
} from '../../../../src/core/wireguard/backend-config.js';
import { PSK } from './vectors.js';

function parse(value: unknown): { backend: ReturnType<typeof parseWireguardBackend>; errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return { backend: parseWireguardBackend(value, errors, warnings), errors, warnings };
}

t.test("defaults: flannel's (ports 51820/51821, separate mode, no PSK, no keepalive)", async (t) => {
  const { backend, errors, warnings } = parse({ Type: 'wireguard' });
  t.same(errors, []);
  t.same(warnings, []);
  t.same(backend, { type: 'wireguard', listenPort: 51820, listenPortV6: 51821, mtu: undefined, psk: undefined, persistentKeepaliveInterval: 0, mode: 'separate' });
});

t.test("flannel's dist/wireguard sample, keys in any case", async (t) => {
  const { backend, errors } = parse({ Type: 'wireguard', ListenPort: 51820, PSK, PersistentKeepaliveInterval: 300 });
  t.same(errors, []);
  t.equal(backend?.persistentKeepaliveInterval, 300);
  t.equal(backend?.psk?.base64(), PSK);
  const lower = parse({ type: 'WireGuard', listenport: 4000, LISTENPORTV6: 4001, mtu: 9000, psk: PSK, persistentkeepaliveinterval: 25, mode: 'ipv4' });
  t.same(lower.errors, []);
  t.match(lower.backend, { listenPort: 4000, listenPortV6: 4001, mtu: 9000, persistentKeepaliveInterval: 25, mode: 'ipv4' });
  t.equal(wireguardDeviceMtu(9000), 8920);
  t.equal(wireguardDeviceMtu(1500), 1420, "flannel's FLANNEL_MTU for a 1500 underlay");
});

t.test('every problem at once, naming the field', async (t) => {
  const { backend, errors } = parse({
    Type: 'wireguard', ListenPort: 70000, ListenPortV6: 'x', MTU: 100, PSK: 'short', PersistentKeepaliveInterval: '25s', Mode: 'both',
  });
  t.equal(backend, undefined);
  t.match(errors, [
    /^Backend.ListenPort must be a whole number from 0 to 65535, got 70000$/,
    /^Backend.ListenPortV6 must be a whole number from 0 to 65535, got "x"$/,
    /^Backend.MTU 100 is too small: the underlay MTU must be at least 148/,
    /^Backend.PSK is 5 characters long; a base64 WireGuard key has 44/,
    /^Backend.PersistentKeepaliveInterval must be a number of seconds \(e.g. 25\), not a string: got "25s"/,
    /^Backend.Mode "both" is not a valid mode: use one of "separate", "auto", "ipv4", "ipv6"$/,
  ]);
  t.equal(errors.length, 6);
});

t.test('the PSK never appears in an error', async (t) => {
  const badPsk = `${PSK.slice(0, 43)}*`;
  const { errors } = parse({ Type: 'wireguard', PSK: badPsk });
  t.equal(errors.length, 1);
  t.notMatch(errors[0] ?? '', PSK.slice(0, 20));
  t.match(parse({ Type: 'wireguard', PSK: 42 }).errors, [/Backend.PSK must be a base64 string of 32 bytes/]);
  t.same(parse({ Type: 'wireguard', PSK: '' }).errors, [], 'empty = none, as flannel');
});

t.test('modes: case-sensitive as flannel; the two combinations with EnableIPv6 that cannot work', async (t) => {
  t.match(parse({ Type: 'wireguard', Mode: 'Separate' }).errors, [/modes are lower case: "separate"/]);
  t.match(parse({ Type: 'wireguard', Mode: '' }).errors, [/Backend.Mode "" is not a valid mode/], 'flannel: no valid Mode configured');
  const backendOf = (value: unknown) => {
    const { backend, errors } = parse(value);
    if (backend === undefined) throw new Error(errors.join('; '));
    return backend;
  };
  for (const mode of ['separate', 'auto', 'ipv4', 'ipv6'] as const) {
    t.equal(wireguardDualStackProblem(backendOf({ Type: 'wireguard', Mode: mode }), true), undefined, `${mode} on a dual-stack network`);
  }
  for (const mode of ['separate', 'auto', 'ipv4'] as const) {
    t.equal(wireguardDualStackProblem(backendOf({ Type: 'wireguard', Mode: mode }), false), undefined, `${mode} on an IPv4 network`);
  }
  t.match(wireguardDualStackProblem(backendOf({ Type: 'wireguard', Mode: 'ipv6' }), false), /Mode "ipv6" sends every tunnel over the IPv6 underlay.*set EnableIPv6/);
  const samePort = backendOf({ Type: 'wireguard', ListenPort: 51820, ListenPortV6: 51820 });
  t.match(wireguardDualStackProblem(samePort, true), /ListenPortV6 51820 is also ListenPort.*weft-wg and weft-wg-v6/);
  t.equal(wireguardDualStackProblem(samePort, false), undefined, 'one device without IPv6');
  t.equal(wireguardDualStackProblem({ ...samePort, mode: 'auto' }, true), undefined, 'one device in the single-device modes');
});

t.test('keepalive: a whole number of seconds 0..65535', async (t) => {
  t.match(parse({ Type: 'wireguard', PersistentKeepaliveInterval: 2.5 }).errors, [/whole number of seconds from 0 \(off\) to 65535, got 2.5/]);
  t.match(parse({ Type: 'wireguard', PersistentKeepaliveInterval: -1 }).errors, [/got -1/]);
  t.match(parse({ Type: 'wireguard', PersistentKeepaliveInterval: 65536 }).errors, [/got 65536/]);
  t.equal(parse({ Type: 'wireguard', PersistentKeepaliveInterval: 0 }).backend?.persistentKeepaliveInterval, 0);
});

t.test('ports 0 mean the default; vxlan keys are warned about', async (t) => {
  const { backend, warnings } = parse({ Type: 'wireguard', ListenPort: 0, ListenPortV6: 0, Port: 8472, VNI: 1 });
  t.match(backend, { listenPort: 51820, listenPortV6: 51821 });
  t.match(warnings, [/Backend.Port is a vxlan setting .* \(use ListenPort\)/, /Backend.VNI is a vxlan setting/]);
});

t.test('type checks', async (t) => {
  t.ok(isWireguardBackend({ type: 'WIREGUARD' }));
  t.notOk(isWireguardBackend({ Type: 'vxlan' }));
  t.notOk(isWireguardBackend('wireguard'));
  t.match(parse({ Type: 'vxlan' }).errors, [/Backend.Type "vxlan" is not "wireguard"/]);
  t.match(parse([]).errors, [/Backend must be an object/]);
});

t.test('render: flannel field names, parses back the same; PSK redacted on request', async (t) => {
  const { backend } = parse({ Type: 'wireguard', MTU: 1400, PSK, PersistentKeepaliveInterval: 25, Mode: 'ipv4' });
  if (backend === undefined) throw new Error('parse');
  const rendered = renderWireguardBackend(backend);
  t.same(rendered, { Type: 'wireguard', ListenPort: 51820, ListenPortV6: 51821, MTU: 1400, PSK, PersistentKeepaliveInterval: 25, Mode: 'ipv4' });
  const again = parse(JSON.parse(JSON.stringify(rendered)));
  t.same(renderWireguardBackend(again.backend ?? backend), rendered);
  t.ok(again.backend?.psk?.equals(backend.psk));
  t.equal(renderWireguardBackend(backend, { redactPsk: true })['PSK'], '[redacted]');
  t.notMatch(JSON.stringify(backend), PSK.slice(0, 20), 'the parsed config prints no PSK');
});
