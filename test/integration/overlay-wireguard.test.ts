/**
 * The wireguard backend end to end: three hosts (network namespaces of this
 * test) run the real weftd with Backend.Type wireguard, real etcd and real
 * wireguard-go, each host with its own key file, socket directory (its
 * wireguard-go sees it as /run/wireguard) and run directory. Checks: every
 * pair pings across, the underlay carries only WireGuard UDP, weftd restarts
 * under ping without loss or a new device, a new key replaces the old one on
 * every host, hand-made drift is repaired, a removed lease removes its peer,
 * a flanneld-written lease is accepted, and the private key is never printed.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { publicKeyOf } from '../../src/core/wireguard/keys.js';
import { generatePrivateKey } from '../../src/adapters/wireguard/key-store.js';
import { UapiClient } from '../../src/adapters/wireguard/uapi-client.js';
import { missingPrerequisites } from '../helpers/require.js';
import { PREFIX, type WeftCluster, startWeftCluster, wireguardArgs, wireguardDirs } from '../helpers/weft-cluster.js';
import { startCapture } from '../helpers/tshark.js';
import { msgIs } from '../helpers/weftd-process.js';

const DEV = 'weft-wg';
const PORT = 51820;
const NETWORK = '10.42.0.0/16';
// SubnetMax: no host's own lease lands on 10.42.250.0/24, the flanneld peer a subtest writes.
const config = { Network: NETWORK, SubnetMax: '10.42.199.0', Backend: { Type: 'wireguard', ListenPort: PORT, PersistentKeepaliveInterval: 5 } };
const missing = missingPrerequisites(['ip', 'wireguard-go', 'unshare', 'ping', 'tshark', 'etcd', 'etcdctl'], true);
if (missing.length > 0) {
  t.fail(`missing prerequisites: ${missing.join(', ')} (integration tests do not skip)`);
} else {
  const c: WeftCluster = await startWeftCluster({
    hosts: 3, config, weftdArgs: ['--resync-interval', '1s'],
    hostArgs: wireguardArgs,
  });
  t.teardown(() => c.stop());
  const d = (i: number) => wireguardDirs(c.rig.stateDir, i);
  const client = (i: number) => new UapiClient({ device: DEV, socketDir: d(i).sockets });
  const overlayIp = (i: number) => c.subnet(i).replace(/\/\d+$/, '');
  const ping = (from: number, to: number, count = 3) =>
    c.sh(from, 'ping', ['-c', String(count), '-i', '0.2', '-W', '2', '-I', overlayIp(from), overlayIp(to)]);
  const keyOf = async (i: number) => (await client(i).get()).publicKey;
  const peerKeys = async (i: number) => (await client(i).get()).peers.map((p) => p.publicKey).sort();
  const ifindex = async (i: number) => Number((await c.sh(i, "cat", [`/sys/class/net/${DEV}/ifindex`])).trim());
  const pidOf = async (i: number) => Number(readFileSync(join(d(i).run, `${DEV}.pid`), 'utf8').trim());
  const converged = async () => {
    for (const i of [1, 2, 3]) {
      const others = [1, 2, 3].filter((j) => j !== i);
      const want = (await Promise.all(others.map(keyOf))).sort();
      if (JSON.stringify(await peerKeys(i)) !== JSON.stringify(want)) return false;
    }
    return true;
  };

  t.test('three hosts: each device has the two others as peers, and every pair pings across', async (t) => {
    await c.waitFor('every host has both other hosts as peers', converged, 20_000);
    for (const i of [1, 2, 3]) {
      const state = await client(i).get();
      t.equal(state.listenPort, PORT, `host${i} listens on ${PORT}`);
      for (const peer of state.peers) t.match(peer.endpoint, /^192\.0\.2\.1[1-3]:51820$/);
      t.match(await c.sh(i, 'ip', ['-N', 'route', 'show', 'dev', DEV]), new RegExp(`${NETWORK.replace(/\./g, '\\.')} proto 87 scope (?:link|253)`), `host${i}: one network route, proto 87`);
      t.match(await c.sh(i, 'ip', ['-o', 'addr', 'show', 'dev', DEV]), `${overlayIp(i)}/32`);
      t.match(await c.sh(i, 'ip', ['-o', 'link', 'show', DEV]), /mtu 1420/, 'MTU: underlay 1500 - 80');
      t.match(readFileSync(c.subnetFile(i), 'utf8'), /FLANNEL_MTU=1420/);
    }
    for (const [a, b] of [[1, 2], [2, 3], [3, 1], [2, 1], [3, 2], [1, 3]] as const) t.match(await ping(a, b), / 0% packet loss/, `host${a} → host${b}`);
  });

  t.test('the underlay carries only WireGuard UDP between hosts: no ICMP in clear', async (t) => {
    const capture = await startCapture({ netns: c.rig.host(1).netns, filter: 'ip and not host 192.0.2.1', packets: 6,
      fields: ['ip.src', 'ip.dst', 'ip.proto', 'udp.srcport', 'udp.dstport', 'icmp.type'] });
    await ping(1, 2);
    const lines = await capture.done();
    t.ok(lines.length >= 6, `${lines.length} packets`);
    for (const line of lines) {
      const [src, dst, proto, sport, dport, icmp] = line.split('\t');
      t.equal(proto, '17', `UDP: ${line}`);
      t.ok(sport === String(PORT) || dport === String(PORT), `to or from the listen port: ${src} → ${dst}`);
      t.equal(icmp ?? '', '', 'no ICMP visible');
    }
  });

  t.test('weftd restart under ping -i 0.05: nothing lost, same device, same wireguard-go', async (t) => {
    const before = { ifindex: await ifindex(2), pid: await pidOf(2) };
    const pinger = c.sh(1, 'ping', ['-c', '120', '-i', '0.05', '-W', '1', '-I', overlayIp(1), overlayIp(2)]);
    await sleep(1000);
    await c.daemons.get(2)?.stop('SIGTERM');
    const again = c.restart(2);
    await again.waitForLog(msgIs('first reconcile pass done; ready'), 20_000, 'host2 ready again');
    t.match(await pinger, / 0% packet loss/, 'no packet lost');
    t.equal(await ifindex(2), before.ifindex, 'the device was not re-created');
    t.equal(await pidOf(2), before.pid, 'the same wireguard-go kept running (adopted)');
    t.match(again.logs.find((l) => l.msg === 'wireguard device ready'), { changes: [`adopted wireguard-go (PID ${before.pid})`] });
    const repeated = again.logs.filter((l) => l.msg === 'wireguard pass applied changes');
    t.equal(repeated.length, 0, `a restart changes nothing: ${JSON.stringify(repeated.slice(0, 2))}`);
  });

  t.test('hand-made drift is repaired: a peer removed, the route deleted, the device deleted', async (t) => {
    const key2 = await keyOf(2);
    if (key2 === undefined) throw new Error('host2 has no key');
    await client(1).set({ peers: [{ kind: 'remove', publicKey: key2 }] }); // what `wg set weft-wg peer <key> remove` sends
    await c.waitFor('host1 re-adds host2', async () => (await peerKeys(1)).includes(key2));
    await c.sh(1, 'ip', ['route', 'del', NETWORK, 'dev', DEV]);
    await c.waitFor('host1 re-adds the network route', async () => (await c.sh(1, 'ip', ['-N', 'route', 'show', 'dev', DEV])).includes('proto 87'));
    const oldIndex = await ifindex(1);
    await c.sh(1, 'ip', ['link', 'del', DEV]);
    await c.waitFor('host1 re-creates its device with peers', async () => (await client(1).isLive()) && (await peerKeys(1)).length === 2, 20_000);
    t.not(await ifindex(1), oldIndex, 'a new device');
    await c.waitFor('route back on the new device', async () => (await c.sh(1, 'ip', ['-N', 'route', 'show', 'dev', DEV])).includes('proto 87'));
    t.match(await ping(1, 2), / 0% packet loss/);
    t.match(await ping(3, 1), / 0% packet loss/);
  });

  t.test('a host restarting with a new key: followed by every host, its old key gone', async (t) => {
    const oldKey = await keyOf(3);
    await c.daemons.get(3)?.stop('SIGTERM');
    rmSync(d(3).key);
    const again = c.restart(3);
    await again.waitForLog(msgIs('first reconcile pass done; ready'), 20_000, 'host3 ready again');
    const newKey = await keyOf(3);
    t.not(newKey, oldKey, 'host3 has a new key');
    await c.waitFor('hosts 1 and 2 hold only the new key', async () => {
      const [p1, p2] = [await peerKeys(1), await peerKeys(2)];
      return [p1, p2].every((p) => newKey !== undefined && p.includes(newKey) && oldKey !== undefined && !p.includes(oldKey) && p.length === 2);
    });
    t.match(await ping(1, 3), / 0% packet loss/);
    t.match(await ping(3, 2), / 0% packet loss/);
  });

  t.test('a lease written exactly as flanneld writes it is accepted; a removed lease removes its peer', async (t) => {
    const flannelKey = publicKeyOf(generatePrivateKey());
    const value = `{"PublicIP":"192.0.2.99","PublicIPv6":null,"BackendType":"wireguard","BackendData":{"PublicKey":"${flannelKey}","Port":51820}}`;
    await c.etcdctl(['put', `${PREFIX}/subnets/10.42.250.0-24`, value]);
    await c.waitFor('hosts see the flanneld peer', async () => (await peerKeys(1)).includes(flannelKey) && (await peerKeys(2)).includes(flannelKey));
    const peer = (await client(1).get()).peers.find((p) => p.publicKey === flannelKey);
    t.match(peer, { endpoint: '192.0.2.99:51820', allowedIps: ['10.42.250.0/24'] });
    await c.etcdctl(['del', `${PREFIX}/subnets/10.42.250.0-24`]);
    await c.waitFor('the peer is removed with its lease', async () => !(await peerKeys(1)).includes(flannelKey) && !(await peerKeys(2)).includes(flannelKey));
    t.pass('peer removed');
  });

  t.test('the private key never appears in logs, etcd or weftctl output', async (t) => {
    const secrets = [1, 2, 3].map((i) => readFileSync(d(i).key, 'utf8').trim());
    const status = await c.weftctl(1, 'status');
    const leases = await c.weftctl(1, 'leases', ['--json']);
    const etcd = await c.etcdctl(['get', '--prefix', PREFIX]);
    const logs = [...c.daemons.values()].map((p) => JSON.stringify(p.logs) + p.stderr()).join('\n');
    for (const text of [status.stdout + status.stderr, leases.stdout, etcd, logs]) {
      for (const secret of secrets) {
        t.notOk(text.includes(secret), 'no private key (base64)');
        t.notOk(text.includes(Buffer.from(secret, 'base64').toString('hex')), 'no private key (hex)');
      }
    }
    t.match(etcd, /"BackendType":"wireguard","BackendData":\{"PublicKey":"[A-Za-z0-9+/]{43}=","Port":51820\}/, 'the lease carries the public key');
  });
}
