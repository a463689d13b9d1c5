/**
 * A real runtime drives the weft plugin on a real overlay: a 2-host rig runs
 * weftd (with --ip-masq, so the delegate gets ipMasq:false) on both hosts,
 * and podman 4.3 (CNI backend, runc) runs busybox containers on a weft
 * network inside each host's namespace: the shipped sample conflist
 * (examples/10-weft.conflist: weft + portmap) with private paths and the
 * subnet.env that host's weftd wrote. Two containers on host1 reach each
 * other, a container on host2 over VXLAN, and the underlay (masqueraded by
 * weftd); portmap publishes a port to the other host; `podman rm` releases
 * every address and leaves nothing behind (no container, netns, process,
 * mount, or libcni cache entry). Podman runs under
 * `nsenter --net` with a private containers.conf, storage and network config
 * dir (test/helpers/podman.ts; docs/cni.md).
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cidr, containsIp, isIpv4, nthAddress } from '../../src/core/cidr.js';
import { parseSubnetEnv } from '../../src/core/subnet-env.js';
import { BUNDLE, mustRun, PLUGINS_DIR, runProgram } from '../helpers/cni-plugin-node.js';
import { buildBusyboxRootfs, guardPodman, installPlugin, LIBCNI_CACHE, mountsUnder, PodmanHost } from '../helpers/podman.js';
import { requirePrerequisites } from '../helpers/require.js';
import { startWeftCluster, type WeftCluster } from '../helpers/weft-cluster.js';
import { UNDERLAY_GATEWAY } from '../rig/rig.js';

const NETWORK = '10.5.0.0/16';
const PAGE = 'hello-from-weft-pod';
const DEVICE = 'weft.1';
const RESULTS = join(LIBCNI_CACHE, 'results');

/** libcni's cached results for one network (`<network>-<container id>-<ifname>`). */
function cacheEntries(network: string): string[] {
  return existsSync(RESULTS) ? readdirSync(RESULTS).filter((f) => f.startsWith(`${network}-`)) : [];
}

async function rootLinkNames(): Promise<string[]> {
  return (await mustRun('ip', ['-o', 'link', 'show'])).split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter(Boolean).sort();
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

if (requirePrerequisites(t, ['podman', 'runc', 'nsenter', 'busybox', 'curl', 'ip', 'etcd', 'etcdctl', 'umount',
  `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`, `${PLUGINS_DIR}/portmap`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else t.test('podman 4.3 on two rig hosts: containers on a weft network, on one host and over the overlay', async (t) => {
    const cacheExisted = existsSync(LIBCNI_CACHE);
    const resultsExisted = existsSync(RESULTS);
    const t0 = Date.now();
    const cluster: WeftCluster = await startWeftCluster({
      hosts: 2, config: { Network: NETWORK, Backend: { Type: 'vxlan' } }, weftdArgs: ['--ip-masq', '--resync-interval', '2s'],
    });
    const { rig } = cluster;
    const clusterMs = Date.now() - t0;
    const rootLinks = await rootLinkNames();
    const base = mkdtempSync(join(tmpdir(), `${rig.prefix}-podman-`));
    const network = `${rig.prefix}net`;
    const hosts: PodmanHost[] = [];
    /** Our private dir (once nothing is mounted in it) and what libcni left of ours. */
    const removeFiles = (): void => {
      if (mountsUnder(base).length === 0) rmSync(base, { recursive: true, force: true });
      for (const entry of cacheEntries(network)) unlinkSync(join(RESULTS, entry));
      if (!resultsExisted) removeEmptyDirs([RESULTS]);
      if (!cacheExisted) removeEmptyDirs([LIBCNI_CACHE]);
    };
    // On exit or SIGINT/SIGTERM: podman rm while the host namespaces still exist, before the rig's own guard.
    const unguard = guardPodman(hosts, removeFiles);
    t.teardown(async () => {
      for (const h of hosts) await h.removeAll();
      unguard();
      await cluster.stop();
      removeFiles();
    });
    const cniBin = installPlugin(join(base, 'cni-bin'));
    const rootfs = buildBusyboxRootfs(join(base, 'rootfs'), PAGE);
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
    t.equal(env1.ipMasq, true, 'weftd --ip-masq: FLANNEL_IPMASQ=true, so the delegate gets ipMasq:false');
    t.not(env1.subnet, env2.subnet, 'the hosts lease different subnets');
    const gw1 = nthAddress(env1.subnet, 1);

    const [c1, c2, c3] = [`${rig.prefix}-c1`, `${rig.prefix}-c2`, `${rig.prefix}-c3`];
    const run1 = await h1.run(c1, [], ['sh', '-c', 'sleep 600']);
    t.equal(run1.code, 0, `podman run c1 on host1 ${run1.stderr}`);
    const run2 = await h1.run(c2, ['-p', '18090:8080'], ['httpd', '-f', '-p', '8080', '-h', '/var/www']);
    t.equal(run2.code, 0, `podman run c2 -p 18090:8080 on host1 ${run2.stderr}`);
    const run3 = await h2.run(c3, [], ['httpd', '-f', '-p', '8080', '-h', '/var/www']);
    t.equal(run3.code, 0, `podman run c3 on host2 ${run3.stderr}`);
    t.comment(`rig + weftd on 2 hosts: ${clusterMs} ms; podman run -d on host1 (weft + portmap): first ${run1.ms} ms, second ${run2.ms} ms; on host2: ${run3.ms} ms`);

    const [ip1, ip2, ip3] = await Promise.all([h1.address(c1), h1.address(c2), h2.address(c3)]);
    const inSubnet = (ip: string, subnet: Cidr): boolean => isIpv4(ip) && containsIp(subnet, ip);
    t.ok(inSubnet(ip1, env1.subnet), `c1 ${ip1} is in host1's lease ${env1.subnet}`);
    t.ok(inSubnet(ip2, env1.subnet), `c2 ${ip2} is in host1's lease`);
    t.ok(inSubnet(ip3, env2.subnet), `c3 ${ip3} is in host2's lease ${env2.subnet}`);
    t.not(ip1, ip2, 'c1 and c2 have different addresses');
    t.ok(mountsUnder(base).length > 0, `podman's per-container mounts are in our private dir while they run: ${mountsUnder(base).map((m) => m.slice(base.length)).join(' ')}`);
    t.same(h1.leasedAddresses(), [ip1, ip2].sort(), 'host1 host-local holds c1 and c2');
    t.same(h2.leasedAddresses(), [ip3], 'host2 host-local holds c3');
    t.equal(h1.savedConfigs().length, 2, 'one saved delegate config per container on host1');
    t.equal(h2.savedConfigs().length, 1, 'and one on host2');
    t.equal(cacheEntries(network).length, 3, 'libcni cached one result per container');
    t.same(await rootLinkNames(), rootLinks, 'no link was added in the root namespace (cni0 and the veths are in the hosts)');
    const delegate = await h1.savedConfig(c1);
    t.match(delegate, { type: 'bridge', name: network, ipMasq: false, isGateway: true, isDefaultGateway: true, hairpinMode: true, mtu: env1.mtu,
      ipam: { type: 'host-local', ranges: [[{ subnet: env1.subnet }]], routes: [{ dst: NETWORK, gw: gw1 }] } },
    'the delegate weft gave bridge for c1: ipMasq false (weftd masquerades), the sample\'s isDefaultGateway, host1\'s lease');

    const routes = await h1.cmd('exec', c1, 'ip', 'route');
    t.ok(routes.stdout.includes(`${NETWORK} via ${gw1} dev eth0`), `route to the overlay via cni0: ${routes.stdout}`);
    t.ok(routes.stdout.includes(`default via ${gw1} dev eth0`), 'isDefaultGateway (the sample conflist): default route via cni0');
    const link = await h1.cmd('exec', c1, 'ip', 'link', 'show', 'eth0');
    t.match(link.stdout, new RegExp(`mtu ${env1.mtu} `), `eth0 MTU is FLANNEL_MTU (${env1.mtu})`);

    // Same host.
    const ping12 = await h1.cmd('exec', c1, 'ping', '-c', '2', '-W', '2', ip2);
    t.match(ping12.stdout, /2 packets received/, `c1 → c2: ${ping12.stdout}${ping12.stderr}`);
    const web12 = await h1.cmd('exec', c1, 'wget', '-qO-', `http://${ip2}:8080/`);
    t.equal(web12.stdout.trim(), PAGE, 'c1 → c2:8080');
    const viaGw = await runProgram('ip', ['netns', 'exec', h1.netns, 'curl', '-s', '-m', '5', `http://${gw1}:18090/`]);
    t.equal(viaGw.stdout.trim(), PAGE, 'host1 → its cni0 address :18090: portmap, chained after weft, got our result');
    const viaUnderlay = await runProgram('ip', ['netns', 'exec', h2.netns, 'curl', '-s', '-m', '5', `http://${rig.host(1).address}:18090/`]);
    t.equal(viaUnderlay.stdout.trim(), PAGE, 'host2 → host1 eth0:18090 reaches c2 through the published port');

    // Leaving the overlay: the switch has no route back to 10.5.0.0/16, so a reply proves weftd's --ip-masq rule.
    const egress = await h1.cmd('exec', c1, 'ping', '-c', '1', '-W', '2', UNDERLAY_GATEWAY);
    t.match(egress.stdout, /1 packets received/, `c1 → the underlay gateway ${UNDERLAY_GATEWAY}, masqueraded by weftd on host1`);

    // Over the overlay: each host routes the other's lease through weft.1.
    for (const [i, other] of [[1, env2.subnet], [2, env1.subnet]] as const) {
      await cluster.waitFor(`host${i} to route ${other} via ${DEVICE}`,
        async () => (await cluster.sh(i, 'ip', ['-4', 'route', 'show', 'dev', DEVICE])).includes(other));
    }
    const ping = async (host: PodmanHost, from: string, to: string): Promise<string> => {
      let last = '';
      for (let attempt = 0; attempt < 10; attempt++) {
        const r = await host.cmd('exec', from, 'ping', '-c', '2', '-i', '0.2', '-W', '1', to);
        last = r.stdout + r.stderr;
        if (r.code === 0) return last;
      }
      return last;
    };
    const ping13 = await ping(h1, c1, ip3);
    t.match(ping13, /2 packets received/, `c1 (host1) → c3 (host2) over the overlay: ${ping13}`);
    t.match(ping13, new RegExp(`from ${ip3.replace(/\./g, '\\.')}:`), 'the reply comes from c3 itself');
    const ping31 = await ping(h2, c3, ip1);
    t.match(ping31, /2 packets received/, `c3 (host2) → c1 (host1) over the overlay: ${ping31}`);
    const web13 = await h1.cmd('exec', c1, 'wget', '-qO-', `http://${ip3}:8080/`);
    t.equal(web13.stdout.trim(), PAGE, 'c1 → c3:8080 (TCP over VXLAN)');

    // podman rm runs CNI DEL (weft, then portmap) in each host namespace.
    const sandboxes = [h1.sandbox(c1), h1.sandbox(c2), h2.sandbox(c3)];
    t.ok(sandboxes.every((s) => s?.startsWith('/run/netns/netns-')), `podman made one netns per container: ${sandboxes.join(' ')}`);
    const rm1 = await h1.cmd('rm', '-f', '-t', '0', c1, c2);
    t.equal(rm1.code, 0, `podman rm on host1: ${rm1.stderr}`);
    const rm3 = await h2.cmd('rm', '-f', '-t', '0', c3);
    t.equal(rm3.code, 0, `podman rm on host2: ${rm3.stderr}`);
    for (const [i, h] of [[1, h1], [2, h2]] as const) {
      t.same(h.leasedAddresses(), [], `host${i}: podman rm released the addresses (host-local dir empty)`);
      t.same(h.savedConfigs(), [], `host${i}: weft forgot its containers (dataDir empty)`);
      t.same(await h.leftovers(), { containers: [], sandboxes: [], pids: [], mounts: [] },
        `host${i}: no container, sandbox netns, container process or mount left`);
    }
    t.same(cacheEntries(network), [], 'libcni cache entries removed');
    t.equal((await mustRun('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '0', 'root ip_forward still 0');
    t.comment(`whole test body: ${Date.now() - t0} ms`);
  });
}
