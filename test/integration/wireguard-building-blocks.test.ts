/**
 * The WireGuard building blocks against real wireguard-go: two hosts in two
 * network namespaces this test creates (a veth pair as the underlay), each
 * with its own view of /run/wireguard, configured only through weft's codec,
 * UAPI client and peer plan. Pings across the tunnel, reads handshakes and
 * bytes back, follows a key change, and repairs a half-applied set by read-back.
 */
import { join } from 'node:path';
import t from 'tap';
import { SecretKey, type WgPublicKey, publicKeyOf } from '../../src/core/wireguard/keys.js';
import { type PeerSettings, type WireguardPeerLease, desiredPeers, planPeers } from '../../src/core/wireguard/peer-plan.js';
import { renderSetRequest } from '../../src/core/wireguard/uapi-codec.js';
import { WireguardControlError } from '../../src/core/wireguard/errors.js';
import { generatePrivateKey } from '../../src/adapters/wireguard/key-store.js';
import { UapiClient } from '../../src/adapters/wireguard/uapi-client.js';
import { ensureDeviceSettings, syncPeers } from '../../src/adapters/wireguard/peer-sync.js';
import { detectWireguard, startWireguardGo } from '../../src/adapters/wireguard/wireguard-go.js';
import { execaRunner } from '../../src/adapters/iproute2/runner.js';
import { requirePrerequisites } from '../helpers/require.js';
import { type WireguardTestHost, twoWireguardHosts } from '../helpers/wireguard-hosts.js';
import { inNetns, ip, uniquePrefix } from '../rig/netns.js';

const prefix = uniquePrefix('wg');
const DEV = 'weft-wg';
const PORT = 51820;
const psk = ((): SecretKey => { const p = SecretKey.parseBase64('zJqgFI4B+U/yMJszoka/W9cBOsTb6Hf+2FiRmjBnFks='); if (!p.ok) throw new Error('psk'); return p.key; })();

interface Host extends WireguardTestHost {
  readonly client: UapiClient;
}

function leaseOf(host: Host): WireguardPeerLease {
  return { name: host.name, publicIp: host.underlay, data: { publicKey: host.publicKey, port: PORT }, subnets: [host.subnet] };
}

function settingsOf(host: Host): PeerSettings {
  return { ownPort: PORT, ownPublicKey: host.publicKey, presharedKey: psk, persistentKeepaliveInterval: 0 };
}

async function ping(from: Host, to: Host): Promise<string> {
  return inNetns(from.ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', from.subnet.replace('/24', ''), to.subnet.replace('/24', '')]);
}

if (requirePrerequisites(t, ['ip', 'wireguard-go', 'unshare', 'ping'], true)) {
  // The same objects the helper tears down by, each given its UAPI client.
  const hosts: Host[] = (await twoWireguardHosts(t, { prefix, subnetBase: '10.50' })).hosts
    .map((h) => Object.assign(h, { client: new UapiClient({ device: DEV, socketDir: h.socketDir }) }));
  const [a, b] = hosts as [Host, Host];

  t.test('implementation detection answers for this kernel', async (t) => {
    const found = await detectWireguard(execaRunner());
    t.comment(`WireGuard here: ${JSON.stringify(found)}`);
    if (found.kind === 'userspace') t.match(found.reason, /cannot create a wireguard link/);
    else t.pass('kernel WireGuard');
  });

  t.test('two wireguard-go devices, same name, each with its own socket directory', async (t) => {
    for (const host of hosts) {
      host.proc = await startWireguardGo({ device: DEV, netns: host.ns, socketDir: host.socketDir });
      t.equal(host.proc.socketPath, join(host.socketDir, `${DEV}.sock`));
    }
    for (const host of hosts) {
      t.ok(await ensureDeviceSettings(host.client, { privateKey: host.privateKey, listenPort: PORT }), 'key and port set');
      t.notOk(await ensureDeviceSettings(host.client, { privateKey: host.privateKey, listenPort: PORT }), 'then nothing to do');
      const state = await host.client.get();
      t.match(state, { publicKey: host.publicKey, listenPort: PORT, peers: [] }, `${host.name} reads back its own key`);
      await ip(['-n', host.ns, 'addr', 'add', `${host.subnet.replace('/24', '')}/32`, 'dev', DEV]);
      await ip(['-n', host.ns, 'link', 'set', DEV, 'up']);
      await ip(['-n', host.ns, 'route', 'replace', '10.50.0.0/16', 'dev', DEV, 'scope', 'link']);
    }
    t.not(a.publicKey, b.publicKey, 'two devices, two keys: neither socket reached the other');
  });

  t.test('peers from the plan: ping across, handshake and bytes read back', async (t) => {
    for (const [self, other] of [[a, b], [b, a]] as const) {
      const report = await syncPeers(self.client, desiredPeers([leaseOf(other)], settingsOf(self)).peers);
      t.equal(report.sent.length, 1);
      t.same(report.remaining, [], `${self.name} converged`);
      t.equal(report.setError, undefined);
    }
    t.match(await ping(a, b), / 0% packet loss/);
    const peer = (await a.client.get()).peers[0];
    t.equal(peer?.publicKey, b.publicKey);
    t.equal(peer?.endpoint, `${b.underlay}:${PORT}`);
    t.same(peer?.allowedIps, [b.subnet]);
    t.ok(peer?.presharedKey?.equals(psk), 'the PSK is set');
    t.ok((peer?.lastHandshakeMs ?? 0) > Date.now() - 60_000, 'a recent handshake');
    t.ok((peer?.rxBytes ?? 0) > 0 && (peer?.txBytes ?? 0) > 0, `bytes both ways (${peer?.rxBytes}/${peer?.txBytes})`);
    t.same((await syncPeers(a.client, desiredPeers([leaseOf(b)], settingsOf(a)).peers)).sent, [], 'level: nothing to send again');
  });

  t.test('a host that changes its key: the old peer is removed, traffic flows again', async (t) => {
    const oldKey = b.publicKey;
    b.privateKey = generatePrivateKey();
    t.ok(await ensureDeviceSettings(b.client, { privateKey: b.privateKey, listenPort: PORT }));
    b.publicKey = (await b.client.get()).publicKey as WgPublicKey;
    t.not(b.publicKey, oldKey);
    const report = await syncPeers(a.client, desiredPeers([leaseOf(b)], settingsOf(a)).peers);
    t.same(report.sent.map((op) => `${op.kind} ${op.publicKey === oldKey ? 'old' : 'new'}`), ['remove old', 'upsert new']);
    t.same(report.remaining, []);
    t.same((await a.client.get()).peers.map((p) => p.publicKey), [b.publicKey], 'only the new key is left');
    t.match(await ping(a, b), / 0% packet loss/);
  });

  t.test('a half-applied set is seen on read-back and finished by the next plan', async (t) => {
    const fake = (n: number): WireguardPeerLease => ({
      name: `fake${n}`, publicIp: `198.51.100.${n}`, data: { publicKey: publicKeyOf(generatePrivateKey()), port: PORT },
      subnets: [`10.50.${n}.0/24`],
    });
    const leases = [leaseOf(b), fake(3), fake(4)];
    const desired = desiredPeers(leases, settingsOf(a)).peers;
    const ops = planPeers(desired, (await a.client.get()).peers);
    t.equal(ops.length, 2);
    // The request as rendered, with its very last line (an allowed_ip of the second new peer) made invalid.
    const lines = renderSetRequest({ peers: ops }).trimEnd().split('\n');
    t.match(lines.at(-1), /^allowed_ip=/);
    lines[lines.length - 1] = 'allowed_ip=10.50.99.0/99';
    const err = await a.client.setRaw(`${lines.join('\n')}\n\n`).catch((e: unknown) => e);
    t.ok(err instanceof WireguardControlError, 'the device refused a line');
    t.ok(err instanceof WireguardControlError && (err.errno ?? 0) < 0, `errno ${err instanceof WireguardControlError ? err.errno : '?'}`);
    const half = await a.client.get();
    t.equal(half.peers.length, 3, 'both new peers exist (the lines before the bad one were applied)');
    const left = planPeers(desired, half.peers);
    t.equal(left.length, 1, 'read-back shows one peer short of its allowed IP');
    t.match(left[0], { kind: 'upsert', updateOnly: true, replaceAllowedIps: true });
    const report = await syncPeers(a.client, desired);
    t.same(report.remaining, [], 'the next pass converges');
    t.same((await syncPeers(a.client, desiredPeers([leaseOf(b)], settingsOf(a)).peers)).state.peers.map((p) => p.publicKey), [b.publicKey],
      'leases gone: their peers removed');
    t.match(await ping(a, b), / 0% packet loss/, 'the real peer kept working throughout');
  });

  t.test('stop by PID: wireguard-go exits, its device and socket go', async (t) => {
    for (const host of hosts) {
      const exit = await host.proc?.stop();
      t.equal(host.proc?.running, false);
      t.ok(exit !== undefined, `${host.name} exited (${JSON.stringify({ code: exit?.code, signal: exit?.signal })})`);
      await t.rejects(ip(['-n', host.ns, 'link', 'show', DEV]), `${host.name}: ${DEV} is gone`);
      t.equal(await host.client.isLive(), false, 'nothing answers on the socket');
    }
  });
}
