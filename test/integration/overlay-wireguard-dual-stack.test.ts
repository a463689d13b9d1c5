/**
 * The wireguard backend on a dual-stack network, Mode "separate" (flannel's
 * default): three hosts (network namespaces of this test) on the rig's IPv4
 * and IPv6 underlay run the real weftd with real etcd and real wireguard-go,
 * each host with its own key file, socket directory and run directory. Checks:
 * both devices (weft-wg on 51820, weft-wg-v6 on 51821) with the same key,
 * weft-wg-v6's peers at [fd00:99::1N]:51821 with the peers' IPv6 subnets,
 * `<v6 subnet>/128` and one `ip -6` route proto 87 on it, subnet.env with both
 * families and the MTU, the lease with BackendV6Data; every pair pings over
 * IPv4 and IPv6 across; the IPv6 underlay carries UDP to 51821 and no ICMPv6
 * between overlay addresses in clear; weftctl status shows both devices.
 * Then the network switches to Mode "ipv6" (config change + restart): weft-wg-v6
 * is removed, weft-wg alone carries both families to [PublicIPv6]:51820.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { UapiClient } from '../../src/adapters/wireguard/uapi-client.js';
import { missingPrerequisites } from '../helpers/require.js';
import { PREFIX, type WeftCluster, startWeftCluster, wireguardArgs, wireguardDirs } from '../helpers/weft-cluster.js';
import { startCapture } from '../helpers/tshark.js';
import { msgIs } from '../helpers/weftd-process.js';

const NETWORK = '10.43.0.0/16';
const NETWORK6 = 'fd00:43::/48';
const config = { Network: NETWORK, EnableIPv6: true, IPv6Network: NETWORK6, Backend: { Type: 'wireguard', PersistentKeepaliveInterval: 5 } };
const missing = missingPrerequisites(['ip', 'wireguard-go', 'unshare', 'ping', 'tshark', 'etcd', 'etcdctl'], true);
if (missing.length > 0) {
  t.fail(`missing prerequisites: ${missing.join(', ')} (integration tests do not skip)`);
} else {
  const c: WeftCluster = await startWeftCluster({
    hosts: 3, config, ipv6: true, weftdArgs: ['--resync-interval', '1s'],
    hostArgs: wireguardArgs,
  });
  t.teardown(() => c.stop());
  const d = (i: number) => wireguardDirs(c.rig.stateDir, i);
  const client = (i: number, device: string) => new UapiClient({ device, socketDir: d(i).sockets });
  const env = (i: number): Record<string, string> => Object.fromEntries(readFileSync(c.subnetFile(i), 'utf8').trim().split('\n')
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const overlayIp = (i: number) => c.subnet(i).replace(/\/\d+$/, '');
  /** The IPv6 subnet's network address (subnet.env has the gateway form `…::1/64`). */
  const overlayIp6 = (i: number) => (env(i)['FLANNEL_IPV6_SUBNET'] ?? '').replace(/::1\/64$/, '::');
  const ping = (from: number, to: number) =>
    c.sh(from, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '-I', overlayIp(from), overlayIp(to)]);
  const ping6 = (from: number, to: number, count = 3) =>
    c.sh(from, 'ping', ['-6', '-c', String(count), '-i', '0.2', '-W', '2', '-I', overlayIp6(from), overlayIp6(to)]);
  const converged = async () => {
    for (const i of [1, 2, 3]) {
      for (const dev of ['weft-wg', 'weft-wg-v6']) {
        const state = await client(i, dev).get().catch(() => undefined);
        if (state === undefined || state.peers.length !== 2 || state.peers.some((p) => p.allowedIps.length === 0)) return false;
      }
    }
    return true;
  };

  t.test('separate: weft-wg and weft-wg-v6 with the same key; the IPv6 peers on [PublicIPv6]:51821', async (t) => {
    await c.waitFor('both devices of every host have both other hosts as peers', converged, 30_000);
    const keys = await Promise.all([1, 2, 3].map(async (i) => (await client(i, 'weft-wg').get()).publicKey));
    for (const i of [1, 2, 3]) {
      const v4 = await client(i, 'weft-wg').get();
      const v6 = await client(i, 'weft-wg-v6').get();
      t.equal(v4.listenPort, 51820, `host${i}: weft-wg on ListenPort`);
      t.equal(v6.listenPort, 51821, `host${i}: weft-wg-v6 on ListenPortV6`);
      t.equal(v6.publicKey, v4.publicKey, `host${i}: one key for both devices, as flannel`);
      const others = [1, 2, 3].filter((j) => j !== i);
      t.same(v6.peers.map((p) => p.publicKey).sort(), others.map((j) => keys[j - 1]).sort(), `host${i}: weft-wg-v6 has the other hosts' keys`);
      for (const peer of v6.peers) {
        const j = keys.indexOf(peer.publicKey) + 1;
        t.equal(peer.endpoint, `[fd00:99::${10 + j}]:51821`, `host${i} → host${j}: IPv6 endpoint`);
        t.same(peer.allowedIps, [`${overlayIp6(j)}/64`], `host${i} → host${j}: the peer's IPv6 subnet only`);
      }
      for (const peer of v4.peers) t.match(peer.allowedIps, [/^10\.43\.\d+\.0\/24$/], 'weft-wg carries IPv4 subnets only');
      t.match(await c.sh(i, 'ip', ['-o', '-6', 'addr', 'show', 'dev', 'weft-wg-v6']), `${overlayIp6(i)}/128`);
      const routes6 = await c.sh(i, 'ip', ['-6', '-N', 'route', 'show', 'dev', 'weft-wg-v6']);
      t.match(routes6, new RegExp(`^${NETWORK6.replace(/[.:/]/g, (ch) => `\\${ch}`)} proto 87`, 'm'), `host${i}: one IPv6 network route, proto 87`);
      t.equal(routes6.split('\n').filter((l) => l.includes('proto 87')).length, 1, 'exactly one');
      t.match(await c.sh(i, 'ip', ['-o', 'link', 'show', 'weft-wg-v6']), /mtu 1420/, 'MTU: underlay 1500 - 80');
      t.match(env(i), { FLANNEL_NETWORK: NETWORK, FLANNEL_IPV6_NETWORK: NETWORK6, FLANNEL_IPV6_SUBNET: /^fd00:43:0:[0-9a-f]+::1\/64$/, FLANNEL_MTU: '1420' });
    }
    const leases = await c.etcdctl(['get', '--prefix', `${PREFIX}/subnets/`, '--print-value-only']);
    for (const key of keys) {
      t.ok(leases.includes(`"BackendData":{"PublicKey":"${key}","Port":51820},"BackendV6Data":{"PublicKey":"${key}","Port":51821}`), 'the lease carries both datas as flanneld writes them');
    }
  });

  t.test('every pair pings over IPv4 and over IPv6', async (t) => {
    for (const [a, b] of [[1, 2], [2, 3], [3, 1], [2, 1], [3, 2], [1, 3]] as const) {
      t.match(await ping(a, b), / 0% packet loss/, `IPv4 host${a} → host${b}`);
      t.match(await ping6(a, b), / 0% packet loss/, `IPv6 host${a} → host${b}`);
    }
  });

  t.test('the IPv6 underlay carries WireGuard UDP to 51821, and no ICMPv6 between overlay addresses in clear', async (t) => {
    // 8 pings: 16 tunnel packets on host1's underlay, besides keepalives and the underlay's own neighbour discovery.
    const capture = await startCapture({ netns: c.rig.host(1).netns, filter: 'ip6', packets: 12,
      fields: ['ipv6.src', 'ipv6.dst', 'ipv6.nxt', 'udp.srcport', 'udp.dstport', 'icmpv6.type'] });
    await ping6(1, 2, 8);
    const lines = await capture.done();
    t.ok(lines.length >= 12, `${lines.length} packets`);
    let udp = 0;
    for (const line of lines) {
      const [src = '', dst = '', next, sport, dport, icmp = ''] = line.split('\t');
      t.notMatch(`${src} ${dst}`, /fd00:43:/, `no overlay address on the underlay: ${line}`);
      if (next === '17') {
        udp++;
        t.ok(sport === '51821' || dport === '51821', `UDP to or from ListenPortV6: ${line}`);
        t.equal(icmp, '', 'no ICMPv6 inside visible');
      } else {
        t.match(icmp, /^13[3-7]$/, `only the underlay's own neighbour discovery is ICMPv6 in clear: ${line}`);
      }
    }
    t.ok(udp >= 8, `${udp} WireGuard packets over IPv6`);
  });

  t.test('weftctl status and doctor show weft-wg-v6 and its peers', async (t) => {
    const r = await c.weftctl(1, 'status', ['--wireguard-socket-dir', d(1).sockets, '--json']);
    t.equal(r.code, 0, r.stderr);
    const status = JSON.parse(r.stdout) as { ok?: boolean; wireguard?: { v6?: { deviceName?: string; listenPort?: number; tunnels?: { inSync?: boolean; peers?: unknown[] } } } };
    t.match(status.wireguard?.v6, { deviceName: 'weft-wg-v6', listenPort: 51821, tunnels: { inSync: true } });
    t.equal(status.wireguard?.v6?.tunnels?.peers?.length, 2, 'two IPv6 peers');
    t.equal(status.ok, true, `no problems: ${r.stdout.slice(0, 2000)}`);
    const doctor = await c.weftctl(1, 'doctor', ['--wireguard-socket-dir', d(1).sockets, '--json']);
    const results = (JSON.parse(doctor.stdout) as { results: { check: string; verdict: string; detail: string }[] }).results;
    t.match(results.find((r) => r.check === 'device weft-wg-v6'), { verdict: 'ok', detail: /weft-wg-v6 up, listen port 51821, the same key as weft-wg/ }, 'doctor checks weft-wg-v6');
    t.equal(results.filter((r) => r.check.startsWith('tunnel ') && r.check.endsWith('(IPv6)') && r.verdict === 'ok').length, 2, 'and its two tunnels');
  });

  t.test('Mode "ipv6" (config change + restart): weft-wg-v6 removed, weft-wg carries both families over the IPv6 underlay', async (t) => {
    await c.etcdctl(['put', `${PREFIX}/config`, JSON.stringify({ ...config, Backend: { ...config.Backend, Mode: 'ipv6' } })]);
    for (const i of [1, 2, 3]) {
      await c.daemons.get(i)?.stop('SIGTERM');
      await c.restart(i).waitForLog(msgIs('first reconcile pass done; ready'), 30_000, `host${i} ready in Mode ipv6`);
    }
    const overIpv6 = async () => {
      for (const i of [1, 2, 3]) {
        const state = await client(i, 'weft-wg').get().catch(() => undefined);
        if (state === undefined || state.peers.length !== 2 || !state.peers.every((p) => p.endpoint?.startsWith('[fd00:99::') && p.allowedIps.length === 2)) return false;
      }
      return true;
    };
    await c.waitFor('every weft-wg has both peers at their IPv6 endpoints with both subnets', overIpv6, 30_000);
    const keys = await Promise.all([1, 2, 3].map(async (i) => (await client(i, 'weft-wg').get()).publicKey));
    for (const i of [1, 2, 3]) {
      t.notMatch(await c.sh(i, 'ip', ['-o', 'link', 'show']), /weft-wg-v6/, `host${i}: weft-wg-v6 removed`);
      const state = await client(i, 'weft-wg').get();
      for (const peer of state.peers) {
        const j = keys.indexOf(peer.publicKey) + 1;
        t.equal(peer.endpoint, `[fd00:99::${10 + j}]:51820`, `host${i} → host${j}: [PublicIPv6]:ListenPort`);
        t.same([...peer.allowedIps].sort(), [`${overlayIp6(j)}/64`, c.subnet(j)].sort(), 'both subnets on one peer');
      }
      t.match(await c.sh(i, 'ip', ['-o', '-6', 'addr', 'show', 'dev', 'weft-wg']), `${overlayIp6(i)}/128`);
      t.match(await c.sh(i, 'ip', ['-6', '-N', 'route', 'show', 'dev', 'weft-wg']), /proto 87/, 'the IPv6 network route on weft-wg');
    }
    const leases = await c.etcdctl(['get', '--prefix', `${PREFIX}/subnets/`, '--print-value-only']);
    for (const key of keys) t.ok(leases.includes(`"BackendV6Data":{"PublicKey":"${key}","Port":51820}`), 'BackendV6Data advertises the one device\'s port');
    const capture = await startCapture({ netns: c.rig.host(1).netns, filter: 'ip6 and udp', packets: 6,
      fields: ['ipv6.src', 'ipv6.dst', 'udp.srcport', 'udp.dstport'] });
    for (const [a, b] of [[1, 2], [2, 3], [3, 1]] as const) {
      t.match(await ping(a, b), / 0% packet loss/, `IPv4 host${a} → host${b}`);
      t.match(await ping6(a, b), / 0% packet loss/, `IPv6 host${a} → host${b}`);
    }
    const lines = await capture.done();
    t.ok(lines.length >= 6 && lines.every((l) => /^fd00:99::1[1-3]\tfd00:99::1[1-3]\t/.test(l) && l.split('\t').includes('51820')),
      `the tunnels run over the IPv6 underlay to 51820: ${lines.join(' | ')}`);
  });
}
