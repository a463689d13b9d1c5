/**
 * The control path of kernel WireGuard, proven where the kernel has no
 * WireGuard module: `wg` (wireguard-tools) drives a real wireguard-go device
 * through WgCliControl. `wg` speaks to wireguard-go over its UAPI socket with
 * the same requests and prints the same dump as for a kernel device over
 * genetlink, so the parser, the argv, the key files and the read-back are the
 * ones a kernel device would get. Not proven here: `ip link add … type
 * wireguard` itself and genetlink (no module on this machine).
 *
 * Two hosts in network namespaces of this test (veth underlay); host a is
 * configured only with `wg` (each `wg` runs in a's namespace with a's socket
 * directory bind-mounted over /run/wireguard), host b over its UAPI socket.
 * Also: the implementation choice on this machine (auto picks wireguard-go,
 * an existing tun is adopted, a forced kernel fails clearly).
 */
import { join } from 'node:path';
import t from 'tap';
import { SecretKey, type WgPublicKey } from '../../src/core/wireguard/keys.js';
import { type PeerSettings, type WireguardPeerLease, desiredPeers } from '../../src/core/wireguard/peer-plan.js';
import { UsageError } from '../../src/core/errors.js';
import { generatePrivateKey } from '../../src/adapters/wireguard/key-store.js';
import { UapiClient } from '../../src/adapters/wireguard/uapi-client.js';
import { WgCliControl } from '../../src/adapters/wireguard/wg-cli-control.js';
import { ensureDeviceSettings, syncPeers } from '../../src/adapters/wireguard/peer-sync.js';
import { readLinkKind } from '../../src/adapters/wireguard/kernel-device.js';
import { selectWireguardImplementation } from '../../src/adapters/wireguard/implementation-select.js';
import { startWireguardGo } from '../../src/adapters/wireguard/wireguard-go.js';
import { type CommandRunner, execaRunner } from '../../src/adapters/iproute2/runner.js';
import { requirePrerequisites } from '../helpers/require.js';
import { type WireguardTestHost, twoWireguardHosts } from '../helpers/wireguard-hosts.js';
import { inNetns, ip, uniquePrefix } from '../rig/netns.js';

const prefix = uniquePrefix('wgc');
const DEV = 'weft-wg';
const PORT = 51820;
const psk = ((): SecretKey => { const p = SecretKey.parseBase64('zJqgFI4B+U/yMJszoka/W9cBOsTb6Hf+2FiRmjBnFks='); if (!p.ok) throw new Error('psk'); return p.key; })();

/** Fixed text; $1 = the host's socket directory, then the command. */
const WITH_SOCKET_DIR = 'mkdir -p /run/wireguard && mount --bind "$1" /run/wireguard && shift && exec "$@"';

type Host = WireguardTestHost;

if (requirePrerequisites(t, ['ip', 'wireguard-go', 'wg', 'unshare', 'ping'], true)) {
  const { work, hosts } = await twoWireguardHosts(t, { prefix, subnetBase: '10.60' });
  const [a, b] = hosts;

  const base = execaRunner({ timeoutMs: 10_000 });
  /** Every command host a's control runs, as run (argv checked for secrets). */
  const argvSeen: string[][] = [];
  /** Runs a command in host a's namespace, with a's socket directory as /run/wireguard. */
  const aRunner: CommandRunner = (file, args, options) => {
    argvSeen.push([file, ...args]);
    return base('ip', ['netns', 'exec', a.ns, 'unshare', '--mount', '--propagation', 'slave', 'sh', '-c', WITH_SOCKET_DIR, 'weft-wg-cli',
      a.socketDir, file, ...args], options);
  };
  /** Plain `ip netns exec` in host a's namespace (the selection's ip and probe). */
  const aNetns: CommandRunner = (file, args, options) => base('ip', ['netns', 'exec', a.ns, file, ...args], options);
  const control = new WgCliControl({ device: DEV, runner: aRunner, secretDir: join(work, 'a', 'secrets') });
  const bClient = new UapiClient({ device: DEV, socketDir: b.socketDir });
  const lease = (host: Host): WireguardPeerLease => ({ name: host.name, publicIp: host.underlay, data: { publicKey: host.publicKey, port: PORT }, subnets: [host.subnet] });
  const settings = (host: Host): PeerSettings => ({ ownPort: PORT, ownPublicKey: host.publicKey, presharedKey: psk, persistentKeepaliveInterval: 5 });
  // -w: until 3 answers or 10 s. With a keepalive, a sends its first handshake before b knows a; WireGuard retries after 5 s.
  const ping = (from: Host, to: Host): Promise<string> =>
    inNetns(from.ns, 'ping', ['-c', '3', '-i', '0.2', '-w', '10', '-I', from.subnet.replace('/24', ''), to.subnet.replace('/24', '')]);

  t.test('this machine: no kernel WireGuard; auto picks wireguard-go, a forced kernel fails clearly', async (t) => {
    const runDir = join(work, 'a', 'weft-run');
    const auto = await selectWireguardImplementation({ flag: 'auto', device: DEV, runner: aNetns, runDir });
    t.match(auto, { kind: 'userspace', existingKind: undefined, replaceExisting: false, reason: /cannot create a wireguard link.*using wireguard-go/ });
    t.comment(`auto: ${auto.reason}`);
    const err = await selectWireguardImplementation({ flag: 'kernel', device: DEV, runner: aNetns, runDir }).catch((e: unknown) => e);
    t.ok(err instanceof UsageError, 'a usage error, not a fallback');
    t.match((err as Error).message, /^--wireguard-implementation kernel: this kernel has no WireGuard \(the kernel cannot create a wireguard link \(.+\)\); load the wireguard module, or use --wireguard-implementation auto or userspace/);
    t.comment(`kernel: ${(err as Error).message}`);
    t.same((await inNetns(a.ns, 'ip', ['-o', 'link', 'show'])).split('\n').filter((l) => /wireguard|weftwgp/.test(l)), [], 'no probe link left behind');
  });

  t.test('wireguard-go devices; a\'s key and port set with wg (key through a 0600 file), read back with wg show dump', async (t) => {
    for (const host of hosts) host.proc = await startWireguardGo({ device: DEV, netns: host.ns, socketDir: host.socketDir });
    t.equal(await readLinkKind(aNetns, DEV), 'tun', 'wireguard-go\'s device is a tun link');
    t.match(await selectWireguardImplementation({ flag: 'auto', device: DEV, runner: aNetns, runDir: join(work, 'a', 'weft-run') }),
      { kind: 'userspace', reason: /exists as wireguard-go's tun device: adopted/, replaceExisting: false });
    const kernelErr = await selectWireguardImplementation({ flag: 'kernel', device: DEV, runner: aNetns, runDir: join(work, 'a', 'weft-run') }).catch((e: unknown) => e);
    t.ok(kernelErr instanceof UsageError);
    t.equal(await readLinkKind(aNetns, DEV), 'tun', 'a refused kernel choice leaves the running device');
    t.ok(await ensureDeviceSettings(control, { privateKey: a.privateKey, listenPort: PORT }), 'set through wg');
    t.notOk(await ensureDeviceSettings(control, { privateKey: a.privateKey, listenPort: PORT }), 'then nothing to do');
    t.match(await control.get(), { publicKey: a.publicKey, listenPort: PORT, peers: [] });
    t.match(await bClient.get(), { publicKey: undefined }, 'b untouched: a\'s wg reached a\'s socket only');
    t.ok(await ensureDeviceSettings(bClient, { privateKey: b.privateKey, listenPort: PORT }));
    for (const host of hosts) {
      await ip(['-n', host.ns, 'addr', 'add', `${host.subnet.replace('/24', '')}/32`, 'dev', DEV]);
      await ip(['-n', host.ns, 'link', 'set', DEV, 'up']);
      await ip(['-n', host.ns, 'route', 'replace', '10.60.0.0/16', 'dev', DEV, 'scope', 'link']);
    }
  });

  t.test('peers set with wg set (PSK through a file), read back; ping across', async (t) => {
    const report = await syncPeers(control, desiredPeers([lease(b)], settings(a)).peers);
    t.equal(report.sent.length, 1);
    t.equal(report.setError, undefined);
    t.same(report.remaining, [], 'a converged (read back with wg show dump)');
    t.same((await syncPeers(bClient, desiredPeers([lease(a)], settings(b)).peers)).remaining, []);
    t.match(await ping(a, b), / 3 received/);
    const state = await control.get();
    const peer = state.peers[0];
    t.match(peer, { publicKey: b.publicKey, endpoint: `${b.underlay}:${PORT}`, allowedIps: [b.subnet], persistentKeepaliveInterval: 5 });
    t.ok(peer?.presharedKey?.equals(psk), 'the PSK reached the device');
    t.ok((peer?.lastHandshakeMs ?? 0) > Date.now() - 60_000, 'a recent handshake (seconds in the dump)');
    t.ok((peer?.rxBytes ?? 0) > 0 && (peer?.txBytes ?? 0) > 0, `bytes both ways (${peer?.rxBytes}/${peer?.txBytes})`);
    const viaUapi = await new UapiClient({ device: DEV, socketDir: a.socketDir }).get();
    t.same({ ...viaUapi, peers: viaUapi.peers.map((p) => ({ ...p, lastHandshakeMs: Math.floor((p.lastHandshakeMs ?? 0) / 1000), rxBytes: 0, txBytes: 0 })) },
      { ...state, peers: state.peers.map((p) => ({ ...p, lastHandshakeMs: Math.floor((p.lastHandshakeMs ?? 0) / 1000), rxBytes: 0, txBytes: 0 })) },
      'wg show dump and the UAPI get read the same device state');
    t.same((await syncPeers(control, desiredPeers([lease(b)], settings(a)).peers)).sent, [], 'level: nothing to send again');
  });

  t.test('a peer that changes its key: wg removes the old entry, the new one carries traffic', async (t) => {
    const oldKey = b.publicKey;
    b.privateKey = generatePrivateKey();
    t.ok(await ensureDeviceSettings(bClient, { privateKey: b.privateKey, listenPort: PORT }));
    b.publicKey = (await bClient.get()).publicKey as WgPublicKey;
    const report = await syncPeers(control, desiredPeers([lease(b)], settings(a)).peers);
    t.same(report.sent.map((op) => `${op.kind} ${op.publicKey === oldKey ? 'old' : 'new'}`), ['remove old', 'upsert new']);
    t.same(report.remaining, []);
    t.same((await control.get()).peers.map((p) => p.publicKey), [b.publicKey], 'only the new key is left');
    t.match(await ping(a, b), / 3 received/);
  });

  t.test('drift by hand is seen and repaired; a lease gone removes its peer', async (t) => {
    await inNetns(a.ns, 'sh', ['-c', WITH_SOCKET_DIR, 'x', a.socketDir, 'wg', 'set', DEV, 'peer', b.publicKey, 'allowed-ips', '10.60.99.0/24']);
    const repaired = await syncPeers(control, desiredPeers([lease(b)], settings(a)).peers);
    t.match(repaired.sent, [{ kind: 'upsert', updateOnly: true, allowedIps: [b.subnet] }], 'the changed allowed IPs are planned back');
    t.same(repaired.remaining, []);
    const gone = await syncPeers(control, []);
    t.same(gone.sent.map((op) => op.kind), ['remove']);
    t.same(gone.state.peers, [], 'no peer left');
  });

  t.test('no secret ever on an argv', async (t) => {
    const wgCalls = argvSeen.filter((argv) => argv[0] === 'wg');
    t.ok(wgCalls.some((argv) => argv.includes('private-key')) && wgCalls.some((argv) => argv.includes('preshared-key')), 'keys were set through wg');
    const text = wgCalls.map((argv) => argv.join(' ')).join('\n');
    const keys = [a.privateKey, psk];
    for (const key of keys) t.notOk(text.includes(key.base64()) || text.includes(key.hex()), 'not in any wg argv');
  });

  t.test('stop by PID', async (t) => {
    for (const host of hosts) await host.proc?.stop();
    t.equal(await readLinkKind(aNetns, DEV), undefined, 'weft-wg gone with wireguard-go');
    await t.rejects(control.get(), /wg show weft-wg dump failed/);
  });
}
