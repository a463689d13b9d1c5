/**
 * Dual stack through a real runtime: two rig hosts on the dual-stack underlay
 * (IPv4 192.0.2.0/24 and IPv6 fd00:99::/64, all in the rig's namespaces), the
 * real weftd on each with a dual-stack network config, and podman 4.3 (CNI
 * backend, runc) running a busybox container on each host through the
 * shipped sample conflist (weft + portmap; private paths, as in
 * cni-podman.test.ts). Each container gets an IPv4 address from its host's
 * lease and an IPv6 address from its host's IPv6 lease; the container on
 * host1 reaches the one on host2 over IPv6 (weft-v6.1) and IPv4 (weft.1), and
 * back; `podman rm` releases both addresses and leaves nothing behind.
 * A file of its own, so the IPv4 podman test keeps its speed.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containsIp, isIpv4 } from '../../src/core/cidr.js';
import { containsIp6, nthAddress6, parseIpv6 } from '../../src/core/cidr6.js';
import { parseSubnetEnv } from '../../src/core/subnet-env.js';
import { BUNDLE, mustRun, PLUGINS_DIR } from '../helpers/cni-plugin-node.js';
import { buildBusyboxRootfs, guardPodman, installPlugin, LIBCNI_CACHE, mountsUnder, PodmanHost } from '../helpers/podman.js';
import { requirePrerequisites } from '../helpers/require.js';
import { startWeftCluster, type WeftCluster } from '../helpers/weft-cluster.js';

const NETWORK = '10.5.0.0/16';
const NETWORK6 = 'fd00:5::/48';
const CONFIG = { Network: NETWORK, EnableIPv6: true, IPv6Network: NETWORK6, Backend: { Type: 'vxlan' } };
const V4 = 'weft.1';
const V6 = 'weft-v6.1';
const RESULTS = join(LIBCNI_CACHE, 'results');

function cacheEntries(network: string): string[] {
  return existsSync(RESULTS) ? readdirSync(RESULTS).filter((f) => f.startsWith(`${network}-`)) : [];
}

function removeEmptyDirs(dirs: readonly string[]): void {
  for (const dir of dirs) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty (someone else uses it) or already gone
    }
  }
}

if (requirePrerequisites(t, ['podman', 'runc', 'nsenter', 'busybox', 'ip', 'etcd', 'etcdctl', 'umount',
  `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`, `${PLUGINS_DIR}/portmap`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else t.test('podman 4.3 on two dual-stack rig hosts: a container reaches the other host\'s over IPv6 and IPv4', async (t) => {
    const cacheExisted = existsSync(LIBCNI_CACHE);
    const resultsExisted = existsSync(RESULTS);
    const t0 = Date.now();
    const cluster: WeftCluster = await startWeftCluster({ hosts: 2, ipv6: true, config: CONFIG, weftdArgs: ['--ip-masq', '--resync-interval', '2s'] });
    const { rig } = cluster;
    const base = mkdtempSync(join(tmpdir(), `${rig.prefix}-podman6-`));
    const network = `${rig.prefix}net6`;
    const hosts: PodmanHost[] = [];
    const removeFiles = (): void => {
      if (mountsUnder(base).length === 0) rmSync(base, { recursive: true, force: true });
      for (const entry of cacheEntries(network)) unlinkSync(join(RESULTS, entry));
      if (!resultsExisted) removeEmptyDirs([RESULTS]);
      if (!cacheExisted) removeEmptyDirs([LIBCNI_CACHE]);
    };
    const unguard = guardPodman(hosts, removeFiles);
    t.teardown(async () => {
      for (const h of hosts) await h.removeAll();
      unguard();
      await cluster.stop();
      removeFiles();
    });
    const cniBin = installPlugin(join(base, 'cni-bin'));
    const rootfs = buildBusyboxRootfs(join(base, 'rootfs'), 'dual-stack');
    for (const i of [1, 2]) {
      hosts.push(new PodmanHost({ netns: rig.host(i).netns, dir: join(base, `host${i}`), network, subnetFile: cluster.subnetFile(i), cniBin, rootfs }).configure());
    }
    const [h1, h2] = hosts as [PodmanHost, PodmanHost];

    const env = (i: number) => {
      const parsed = parseSubnetEnv(readFileSync(cluster.subnetFile(i), 'utf8'));
      if (!parsed.ok) throw new Error(`host${i} subnet.env: ${parsed.errors.join('; ')}`);
      return parsed.env;
    };
    const [env1, env2] = [env(1), env(2)];
    t.equal(env1.ipv6Network, NETWORK6, 'host1 subnet.env: FLANNEL_IPV6_NETWORK');
    t.ok(env1.ipv6Subnet !== undefined && env2.ipv6Subnet !== undefined, 'both hosts have FLANNEL_IPV6_SUBNET');
    if (env1.ipv6Subnet === undefined || env2.ipv6Subnet === undefined) return;
    t.not(env1.ipv6Subnet, env2.ipv6Subnet, 'the hosts lease different IPv6 subnets');

    const [c1, c2] = [`${rig.prefix}-c1`, `${rig.prefix}-c2`];
    const run1 = await h1.run(c1, [], ['sh', '-c', 'sleep 600']);
    t.equal(run1.code, 0, `podman run c1 on host1 ${run1.stderr}`);
    const run2 = await h2.run(c2, [], ['sh', '-c', 'sleep 600']);
    t.equal(run2.code, 0, `podman run c2 on host2 ${run2.stderr}`);
    t.comment(`podman run -d (weft + portmap, dual stack): host1 ${run1.ms} ms, host2 ${run2.ms} ms`);

    const [ip1, ip2, ip61, ip62] = await Promise.all([h1.address(c1), h2.address(c2), h1.address6(c1), h2.address6(c2)]);
    const in6 = (ip: string, subnet: typeof env1.ipv6Subnet): boolean => {
      const parsed = parseIpv6(ip);
      return parsed !== undefined && subnet !== undefined && containsIp6(subnet, parsed);
    };
    t.ok(isIpv4(ip1) && containsIp(env1.subnet, ip1), `c1 IPv4 ${ip1} is in host1's lease ${env1.subnet}`);
    t.ok(isIpv4(ip2) && containsIp(env2.subnet, ip2), `c2 IPv4 ${ip2} is in host2's lease ${env2.subnet}`);
    t.ok(in6(ip61, env1.ipv6Subnet), `c1 IPv6 ${ip61} is in host1's IPv6 lease ${env1.ipv6Subnet}`);
    t.ok(in6(ip62, env2.ipv6Subnet), `c2 IPv6 ${ip62} is in host2's IPv6 lease ${env2.ipv6Subnet}`);
    t.same(h1.leasedAddresses(), [ip1, ip61].sort(), 'host1 host-local holds c1\'s two addresses');
    t.same(h2.leasedAddresses(), [ip2, ip62].sort(), 'host2 host-local holds c2\'s two addresses');

    // Inside the container: the IPv6 address on eth0 and a route to the IPv6 network via the host's cni0.
    const gw61 = nthAddress6(env1.ipv6Subnet, 1);
    const addr = await h1.cmd('exec', c1, 'ip', '-6', 'addr', 'show', 'dev', 'eth0');
    t.match(addr.stdout, new RegExp(`inet6 ${ip61}/64 scope global`), `c1 eth0 carries ${ip61}/64: ${addr.stdout}`);
    const routes6 = await h1.cmd('exec', c1, 'ip', '-6', 'route');
    t.ok(routes6.stdout.includes(`${NETWORK6} via ${gw61} dev eth0`), `c1 routes ${NETWORK6} via ${gw61}: ${routes6.stdout}`);

    // Both hosts route each other's leases through the two VXLAN devices.
    for (const [i, other] of [[1, env2], [2, env1]] as const) {
      await cluster.waitFor(`host${i} to route ${other.subnet} via ${V4}`,
        async () => (await cluster.sh(i, 'ip', ['-4', 'route', 'show', 'dev', V4])).includes(other.subnet));
      await cluster.waitFor(`host${i} to route ${other.ipv6Subnet} via ${V6}`,
        async () => (await cluster.sh(i, 'ip', ['-6', 'route', 'show', 'dev', V6])).includes(other.ipv6Subnet ?? '?'));
    }
    // DAD on a container's new IPv6 address would drop the first packets: wait until no address is tentative.
    for (const [h, c] of [[h1, c1], [h2, c2]] as const) {
      await cluster.waitFor(`${c}'s IPv6 address to leave DAD`, async () => {
        const r = await h.cmd('exec', c, 'ip', '-6', 'addr', 'show', 'dev', 'eth0');
        return r.code === 0 && r.stdout.includes('inet6') && !r.stdout.includes('tentative');
      });
    }
    const ping = async (host: PodmanHost, from: string, to: string): Promise<string> => {
      let last = '';
      for (let attempt = 0; attempt < 10; attempt++) {
        const r = await host.cmd('exec', from, 'ping', ...(to.includes(':') ? ['-6'] : ['-4']), '-c', '2', '-i', '0.2', '-W', '1', to);
        last = r.stdout + r.stderr;
        if (r.code === 0) return last;
      }
      return last;
    };
    const escape = (ip: string): string => ip.replace(/[.]/g, '\\.');
    const ping6 = await ping(h1, c1, ip62);
    t.match(ping6, /2 packets received/, `c1 (host1) → c2 (host2) over IPv6: ${ping6}`);
    t.match(ping6, new RegExp(`from ${escape(ip62)}:`), 'the IPv6 reply comes from c2 itself');
    const ping6back = await ping(h2, c2, ip61);
    t.match(ping6back, /2 packets received/, `c2 (host2) → c1 (host1) over IPv6: ${ping6back}`);
    const ping4 = await ping(h1, c1, ip2);
    t.match(ping4, /2 packets received/, `c1 (host1) → c2 (host2) over IPv4: ${ping4}`);
    t.match(ping4, new RegExp(`from ${escape(ip2)}:`), 'the IPv4 reply comes from c2 itself');

    // The IPv6 echo really crossed weft-v6.1: its TX counter on host1 moved with a ping.
    const txPackets = async (): Promise<number> => {
      const [link] = JSON.parse(await cluster.sh(1, 'ip', ['-s', '-j', 'link', 'show', V6])) as Array<{ stats64: { tx: { packets: number } } }>;
      return link?.stats64.tx.packets ?? -1;
    };
    const before = await txPackets();
    await ping(h1, c1, ip62);
    t.ok((await txPackets()) >= before + 2, `${V6} on host1 sent the IPv6 echoes (tx ${before} → more)`);

    const rm1 = await h1.cmd('rm', '-f', '-t', '0', c1);
    t.equal(rm1.code, 0, `podman rm on host1: ${rm1.stderr}`);
    const rm2 = await h2.cmd('rm', '-f', '-t', '0', c2);
    t.equal(rm2.code, 0, `podman rm on host2: ${rm2.stderr}`);
    for (const [i, h] of [[1, h1], [2, h2]] as const) {
      t.same(h.leasedAddresses(), [], `host${i}: podman rm released both addresses`);
      t.same(h.savedConfigs(), [], `host${i}: weft forgot its container`);
      t.same(await h.leftovers(), { containers: [], sandboxes: [], pids: [], mounts: [] }, `host${i}: nothing left behind`);
    }
    t.same(cacheEntries(network), [], 'libcni cache entries removed');
    t.equal((await mustRun('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '0', 'root ip_forward still 0');
    t.comment(`whole test body: ${Date.now() - t0} ms`);
  });
}
