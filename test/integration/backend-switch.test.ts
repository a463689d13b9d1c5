/**
 * Switching a host's backend (network config changed, weftd restarted), on
 * the real kernel with real etcd and real wireguard-go: two hosts start on
 * vxlan; switched to wireguard, `weft.1` is gone with its routes,
 * neighbours and FDB entries and `weft-wg` carries the traffic, and the
 * operator's view of it is right (`weftctl status` and `doctor` rows, the
 * /status JSON, no private key anywhere); switched back to vxlan, `weft-wg`
 * is gone, its wireguard-go stopped (the recorded PID no longer exists) and
 * `weft.1` carries the traffic again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { UapiClient } from '../../src/adapters/wireguard/uapi-client.js';
import { missingPrerequisites } from '../helpers/require.js';
import { HEALTHZ_PORT, PREFIX, type WeftCluster, startWeftCluster, wireguardArgs, wireguardDirs } from '../helpers/weft-cluster.js';
import { msgIs } from '../helpers/weftd-process.js';

const NETWORK = '10.42.0.0/16';
const VXLAN = { Network: NETWORK, Backend: { Type: 'vxlan' } };
const WIREGUARD = { Network: NETWORK, Backend: { Type: 'wireguard', ListenPort: 51820, PersistentKeepaliveInterval: 5 } };
const missing = missingPrerequisites(['ip', 'bridge', 'wireguard-go', 'unshare', 'ping', 'curl', 'etcd', 'etcdctl'], true);
if (missing.length > 0) {
  t.fail(`missing prerequisites: ${missing.join(', ')} (integration tests do not skip)`);
} else {
  const c: WeftCluster = await startWeftCluster({
    hosts: 2, config: VXLAN, weftdArgs: ['--resync-interval', '1s'],
    hostArgs: wireguardArgs,
  });
  t.teardown(() => c.stop());
  const d = (i: number) => wireguardDirs(c.rig.stateDir, i);
  const other = (i: number) => (i === 1 ? 2 : 1);
  const overlayIp = (i: number) => c.subnet(i).replace(/\/\d+$/, '');
  const ping = (from: number, to: number) => c.sh(from, 'ping', ['-n', '-c', '3', '-i', '0.2', '-W', '2', '-I', overlayIp(from), overlayIp(to)]);
  const hasLink = async (i: number, name: string) => (await c.sh(i, 'ip', ['-o', 'link', 'show'])).includes(`: ${name}:`);
  const peerKeys = async (i: number) => (await new UapiClient({ device: 'weft-wg', socketDir: d(i).sockets }).get()).peers.map((p) => p.publicKey);
  const switchTo = async (config: object): Promise<void> => {
    await c.etcdctl(['put', `${PREFIX}/config`, JSON.stringify(config)]);
    for (const i of [1, 2]) await c.daemons.get(i)?.stop('SIGTERM');
    await Promise.all([1, 2].map((i) => c.restart(i).waitForLog(msgIs('first reconcile pass done; ready'), 30_000, `host${i} ready`)));
  };
  const vxlanWorks = async (t: Test): Promise<void> => {
    for (const i of [1, 2]) {
      t.ok(await hasLink(i, 'weft.1'), `host${i} has weft.1`);
      await c.waitFor(`host${i}'s route to host${other(i)} on weft.1`,
        async () => (await c.sh(i, 'ip', ['route', 'show', c.subnet(other(i))])).includes('dev weft.1'));
    }
    t.match(await ping(1, 2), / 0% packet loss/, 'host1 → host2 over vxlan');
    t.match(await ping(2, 1), / 0% packet loss/, 'host2 → host1 over vxlan');
  };

  t.test('on vxlan: weft.1 carries the traffic', async (t) => {
    await vxlanWorks(t);
    t.match(await c.sh(1, 'bridge', ['fdb', 'show', 'dev', 'weft.1']), /dst 192\.0\.2\.12/, 'host1 has an FDB entry for host2');
  });

  t.test('switched to wireguard: weft.1 gone with its entries, weft-wg carries the traffic', async (t) => {
    await switchTo(WIREGUARD);
    for (const i of [1, 2]) {
      t.notOk(await hasLink(i, 'weft.1'), `host${i}: weft.1 removed`);
      t.notMatch(await c.sh(i, 'ip', ['route', 'show', 'table', 'main']), /weft\.1/, `host${i}: no route on weft.1 left`);
      t.notMatch(await c.sh(i, 'ip', ['neigh', 'show']), /weft\.1/, `host${i}: no neighbour on weft.1 left`);
      t.notMatch(await c.sh(i, 'bridge', ['fdb', 'show']), /weft\.1/, `host${i}: no FDB entry on weft.1 left`);
      t.ok(await hasLink(i, 'weft-wg'), `host${i} has weft-wg`);
    }
    await c.waitFor('each host has the other as its one peer', async () => (await peerKeys(1)).length === 1 && (await peerKeys(2)).length === 1, 20_000);
    t.match(await ping(1, 2), / 0% packet loss/, 'host1 → host2 through weft-wg');
    t.match(await ping(2, 1), / 0% packet loss/, 'host2 → host1 through weft-wg');
    t.match(await c.sh(1, 'ip', ['route', 'get', overlayIp(2)]), /dev weft-wg/, 'the route to host2 is weft-wg\'s');
  });

  t.test('the operator\'s view of wireguard: status, doctor and /status right, and no private key in any of them', async (t) => {
    const socket = ['--wireguard-socket-dir', d(1).sockets];
    const status = await c.weftctl(1, 'status', socket);
    t.equal(status.code, 0, `status exits 0:\n${status.stdout}${status.stderr}`);
    t.match(status.stdout, /^device {6}weft-wg up \(wireguard-go\), listen port 51820, mtu 1420, public key \S{44}, address 10\.42\.\d+\.0\/32, route 10\.42\.0\.0\/16 ok$/m);
    const row = new RegExp(`^${c.subnet(2).replace(/\./g, '\\.')} +host2 +\\S{44} +192\\.0\\.2\\.12:51820 +${c.subnet(2).replace(/\./g, '\\.')} +(\\S+) ago +\\d+ +\\d+ +ok$`, 'm');
    t.match(status.stdout, row, 'host2\'s tunnel row, with a handshake');
    const json = await c.weftctl(1, 'status', [...socket, '--json']);
    const report = JSON.parse(json.stdout) as { wireguard: { tunnels: { peers: { node: string; handshakeAgeSeconds: number | null; rxBytes: number }[] } } };
    t.match(report.wireguard.tunnels.peers, [{ node: 'host2' }]);
    t.ok((report.wireguard.tunnels.peers[0]?.handshakeAgeSeconds ?? 999) < 180, 'a handshake less than 3 minutes ago');
    t.ok((report.wireguard.tunnels.peers[0]?.rxBytes ?? 0) > 0, 'bytes received through the tunnel');

    const doctor = await c.weftctl(1, 'doctor', [...socket, '--healthz-port', String(HEALTHZ_PORT)]);
    t.equal(doctor.code, 0, `doctor exits 0:\n${doctor.stdout}${doctor.stderr}`);
    for (const check of ['weftd', 'device', 'mtu', 'route', `tunnel ${c.subnet(2)}`, `ping ${c.subnet(2)}`]) {
      t.match(doctor.stdout, new RegExp(`^ok {4}${check.replace(/[./]/g, '\\$&')} `, 'm'), `doctor: ${check} ok`);
    }
    t.notMatch(doctor.stdout, /checksum offload|peer entries|vxlan |VTEP|FDB/, 'no VXLAN-only rows');
    t.notMatch(doctor.stdout, /^FAIL/m, 'no FAIL');

    const body = await c.sh(1, 'curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${HEALTHZ_PORT}/status`]);
    const health = JSON.parse(body) as { tunnels: { publicKey: string; endpoint: string; handshakeAgeSeconds: number | null }[] };
    const key2 = (await new UapiClient({ device: 'weft-wg', socketDir: d(2).sockets }).get()).publicKey;
    t.match(health.tunnels, [{ publicKey: key2, endpoint: '192.0.2.12:51820' }], '/status lists host2\'s tunnel');

    const secrets = [1, 2].map((i) => readFileSync(d(i).key, 'utf8').trim());
    for (const [what, text] of [['status', status.stdout + status.stderr], ['status --json', json.stdout], ['doctor', doctor.stdout + doctor.stderr], ['/status', body]]) {
      for (const secret of secrets) {
        t.notOk(text?.includes(secret), `${what}: no private key (base64)`);
        t.notOk(text?.includes(Buffer.from(secret, 'base64').toString('hex')), `${what}: no private key (hex)`);
      }
    }
  });

  t.test('switched back to vxlan: weft-wg gone, its wireguard-go stopped by its PID, weft.1 back and carrying traffic', async (t) => {
    const pids = [1, 2].map((i) => Number(readFileSync(join(d(i).run, 'weft-wg.pid'), 'utf8').trim()));
    for (const pid of pids) t.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'wireguard-go', `PID ${pid} is a running wireguard-go`);
    await switchTo(VXLAN);
    for (const [n, i] of [1, 2].entries()) {
      t.notOk(await hasLink(i, 'weft-wg'), `host${i}: weft-wg removed`);
      t.notOk(existsSync(`/proc/${pids[n]}`), `host${i}: wireguard-go PID ${pids[n]} no longer exists`);
      t.notOk(existsSync(join(d(i).run, 'weft-wg.pid')), `host${i}: its PID file removed`);
      t.notMatch(await c.sh(i, 'ip', ['route', 'show', 'table', 'main']), /weft-wg/, `host${i}: no route on weft-wg left`);
    }
    await vxlanWorks(t);
  });
}
