/**
 * `weftctl status` on a wireguard network, against an in-memory host
 * (test/helpers/wireguard-host-fixture.ts): the device and per-peer tunnel
 * rows, drift of each kind named, exit codes, JSON, and no private key.
 */
import t from 'tap';
import { collectStatus, renderStatus, statusCommand } from '../../../src/cli/weftctl-status.js';
import { WireguardControlError } from '../../../src/core/wireguard/errors.js';
import type { Endpoint } from '../../../src/core/wireguard/uapi-codec.js';
import { keyOf, privateKeyOf, wireguardHostFixture } from '../../helpers/wireguard-host-fixture.js';

const io = (): { out: string[]; io: { out(s: string): void; err(s: string): void } } => {
  const out: string[] = [];
  return { out, io: { out: (s) => out.push(s), err: (s) => out.push(s) } };
};

t.test('a host as weftd leaves it: device, route, two tunnels with handshake and bytes; exit 0; text and JSON', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  const peer2 = h.device.peers.get(keyOf(2));
  if (peer2) Object.assign(peer2, { lastHandshakeMs: Date.now() - 42_000, rxBytes: 1234, txBytes: 5678 });
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel, () => h.readers);
  t.same(r.problems, []);
  t.equal(r.ok, true);
  t.equal(r.device, null, 'no VXLAN device judged');
  t.match(r.wireguard, { deviceName: 'weft-wg', up: true, mtu: 1420, listenPort: 51820, publicKey: keyOf(1), route: { network: '10.42.0.0/16', present: true } });
  t.match(r.lease, { subnet: '10.42.1.0/24', publicKey: keyOf(1) });
  t.same(r.wireguard?.tunnels?.peers.map((p) => [p.subnet, p.node, p.publicKey, p.endpoint, p.allowedIps, p.state]), [
    ['10.42.2.0/24', 'host2', keyOf(2), '192.0.2.12:51820', ['10.42.2.0/24'], 'ok'],
    ['10.42.3.0/24', 'host3', keyOf(3), '192.0.2.13:51820', ['10.42.3.0/24'], 'ok'],
  ]);
  t.match(r.wireguard?.tunnels?.peers[0], { handshakeAgeSeconds: 42, rxBytes: 1234, txBytes: 5678 });
  t.match(r.wireguard?.tunnels?.peers[1], { handshakeAgeSeconds: null, latestHandshakeMs: null });
  const text = renderStatus(r);
  t.match(text, /^device {6}weft-wg up, listen port 51820, mtu 1420, public key \S{44}, address 10\.42\.1\.0\/32, route 10\.42\.0\.0\/16 ok$/m);
  t.match(text, new RegExp(`^10\\.42\\.2\\.0/24 +host2 +${keyOf(2).replace(/[+/]/g, '\\$&')} +192\\.0\\.2\\.12:51820 +10\\.42\\.2\\.0/24 +42s ago +1234 +5678 +ok$`, 'm'));
  t.match(text, /^10\.42\.3\.0\/24 +host3 .* never +0 +0 +ok$/m);
  t.match(text, /\nin sync: 2 peers$/);
  t.notMatch(text, /vxlan|VTEP|FDB/i, 'no VXLAN words');
  const c = io();
  t.equal(await statusCommand(h.registry, { 'node-name': 'host1', 'subnet-file': h.subnetFile, json: true }, c.io, h.kernel, h.kernel, () => h.readers), 0);
  const json = c.out.join('');
  t.match(JSON.parse(json), { ok: true, wireguard: { tunnels: { inSync: true, peers: [{ node: 'host2', handshakeAgeSeconds: 42 }, { node: 'host3' }] } } });
  for (const i of [1, 2, 3]) {
    t.notOk(json.includes(privateKeyOf(i).base64()) || json.includes(privateKeyOf(i).hex()), `no private key of host${i} in the JSON`);
    t.notOk(text.includes(privateKeyOf(i).base64()) || text.includes(privateKeyOf(i).hex()), `no private key of host${i} in the text`);
  }
});

t.test('tunnel drift of each kind: a missing peer, a wrong endpoint, a stale key; exit 1', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  await h.device.set({ peers: [
    { kind: 'remove', publicKey: keyOf(3) },
    { kind: 'upsert', publicKey: keyOf(2), updateOnly: true, endpoint: '192.0.2.99:51820' as Endpoint },
    { kind: 'upsert', publicKey: keyOf(7), endpoint: '192.0.2.17:51820' as Endpoint, allowedIps: [] },
  ] });
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel, () => h.readers);
  t.equal(r.ok, false);
  t.same(r.problems, ['2 of 2 peers not as the leases say, 1 unwanted peers']);
  t.same(r.wireguard?.tunnels?.peers.map((p) => [p.node, p.state]), [['host2', 'differs'], ['host3', 'missing'], [null, 'unwanted']]);
  const text = renderStatus(r);
  t.match(text, '10.42.2.0/24: endpoint 192.0.2.99:51820, the lease says 192.0.2.12:51820');
  t.match(text, '10.42.3.0/24: not on the device (the lease wants endpoint 192.0.2.13:51820, allowed IPs 10.42.3.0/24)');
  t.match(text, `${keyOf(7)}: no accepted lease has this key`);
  t.equal(await statusCommand(h.registry, { 'node-name': 'host1', 'subnet-file': h.subnetFile }, io().io, h.kernel, h.kernel, () => h.readers), 1);
});

t.test('the device itself: route missing, link down, wrong MTU, another key, wrong port', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  h.routes = [{ dst: '10.42.0.0/16', protocol: 'boot', scope: 'link' }];
  const dev = h.kernel.devices.get('weft-wg');
  if (dev) dev.info = { ...dev.info, up: false, mtu: 1500 };
  await h.device.set({ privateKey: privateKeyOf(9), listenPort: 51999 });
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel, () => h.readers);
  t.same(r.wireguard?.deviceProblems, [
    'link is down', 'MTU 1500, want 1420 (underlay − 80)', 'listen port 51999, the config says 51820',
    `public key ${keyOf(9)}, the lease advertises ${keyOf(1)}`, 'route 10.42.0.0/16 (scope link, proto 87) missing',
  ]);
  t.match(r.problems, ['weft-wg: link is down', /^weft-wg: MTU/, /^weft-wg: listen port/, /^weft-wg: public key/, /^weft-wg: route/,
    /^subnet\.env .*: says MTU 1420, the device has 1500$/]);
  t.match(renderStatus(r), /^device {6}weft-wg DOWN, .*route 10\.42\.0\.0\/16 MISSING — link is down; /m);
});

t.test('a device that does not answer on its socket: one problem, no tunnel table, still a report', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  h.device.get = async () => {
    throw new WireguardControlError('get on weft-wg cannot use /memory/weft-wg.sock: no such socket (is the device running?)',
      { device: 'weft-wg', socketPath: '/memory/weft-wg.sock', operation: 'get' });
  };
  h.kernel.devices.delete('weft-wg');
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel, () => h.readers);
  t.same(r.problems, ['weft-wg: the link does not exist',
    'weft-wg: its UAPI socket does not answer: get on weft-wg cannot use /memory/weft-wg.sock: no such socket (is the device running?)']);
  t.equal(r.wireguard?.tunnels, null);
  t.match(renderStatus(r), /^device {6}weft-wg missing — the link does not exist; its UAPI socket does not answer/m);
});

t.test('a vxlan lease on a wireguard network is listed as refused, not made a tunnel', async (t) => {
  const h = await wireguardHostFixture(t.testdir());
  await h.registry.claim({ subnet: '10.42.9.0/24' as never },
    '{"PublicIP":"192.0.2.19","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:00:00:00:00:09"},"NodeName":"host9"}', 3600);
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel, () => h.readers);
  t.equal(r.ok, true, r.problems.join('; '));
  t.match(r.refused, [{ key: '10.42.9.0-24', subnet: '10.42.9.0/24' }]);
  t.equal(r.wireguard?.tunnels?.peers.length, 2);
});

t.test('the implementation, one word on the device line, when the readers can tell it', async (t) => {
  const h = await wireguardHostFixture(t.testdir({}));
  for (const [kind, word] of [['kernel', 'kernel'], ['userspace', 'wireguard-go']] as const) {
    const readers = { ...h.readers, implementation: async () => kind };
    const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel, () => readers);
    t.equal(r.wireguard?.implementation, word);
    t.match(renderStatus(r), new RegExp(`^device {6}weft-wg up \\(${word}\\), listen port 51820, `, 'm'));
  }
  const unknown = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile, h.kernel, () => h.readers);
  t.equal(unknown.wireguard?.implementation, null, 'readers that cannot tell: no word');
});
