/**
 * One container on two weft networks, driven by podman 4.3 (CNI backend,
 * runc) in a node namespace this test creates: `podman network create` twice
 * (their conflists then replaced by weft's, see PodmanHost.createWeftNetwork),
 * `podman run` on the first, `podman network connect` to the second (eth1),
 * then `podman rm`. Both networks share one dataDir and one host-local dir,
 * the default, which is where keying state by container ID alone mixed the
 * two up. Afterwards no address is reserved in either network, weft keeps no
 * record, and podman left nothing behind. No weftd is needed: each network's
 * subnet.env is written by hand.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLE, CniPluginNode, mustRun, PLUGINS_DIR } from '../helpers/cni-plugin-node.js';
import { buildBusyboxRootfs, guardPodman, installPlugin, LIBCNI_CACHE, mountsUnder, PodmanHost } from '../helpers/podman.js';
import { requirePrerequisites } from '../helpers/require.js';

const RESULTS = join(LIBCNI_CACHE, 'results');

if (requirePrerequisites(t, ['podman', 'runc', 'nsenter', 'busybox', 'ip', 'umount',
  `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`, `${PLUGINS_DIR}/portmap`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else t.test('podman: a container on two weft networks; podman rm releases both', async (t) => {
    const cacheExisted = existsSync(LIBCNI_CACHE);
    const resultsExisted = existsSync(RESULTS);
    const node = new CniPluginNode();
    await node.start('');
    const base = mkdtempSync(join(tmpdir(), `${node.tag}-podman-`));
    const [netA, netB] = [`${node.tag}a`, `${node.tag}b`];
    const ours = (f: string): boolean => f.startsWith(`${netA}-`) || f.startsWith(`${netB}-`);
    const removeFiles = (): void => {
      if (mountsUnder(base).length === 0) rmSync(base, { recursive: true, force: true });
      if (existsSync(RESULTS)) for (const f of readdirSync(RESULTS).filter(ours)) unlinkSync(join(RESULTS, f));
      for (const [dir, existed] of [[RESULTS, resultsExisted], [LIBCNI_CACHE, cacheExisted]] as const) {
        try {
          if (!existed) rmdirSync(dir);
        } catch {
          // not empty (someone else uses it) or gone
        }
      }
    };
    const hosts: PodmanHost[] = [];
    const unguard = guardPodman(hosts, removeFiles);
    t.teardown(async () => {
      for (const h of hosts) await h.removeAll();
      unguard();
      await node.cleanup();
      removeFiles();
    });
    const subnetA = join(base, 'a-subnet.env');
    const subnetB = join(base, 'b-subnet.env');
    writeFileSync(subnetA, 'FLANNEL_NETWORK=10.91.0.0/16\nFLANNEL_SUBNET=10.91.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    writeFileSync(subnetB, 'FLANNEL_NETWORK=10.92.0.0/16\nFLANNEL_SUBNET=10.92.4.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    const host = new PodmanHost({ netns: node.nodeNs, dir: join(base, 'host'), network: netA, subnetFile: subnetA,
      cniBin: installPlugin(join(base, 'cni-bin')), rootfs: buildBusyboxRootfs(join(base, 'rootfs'), 'two-networks') }).configureEngine();
    hosts.push(host);

    for (const [name, file, bridge] of [[netA, subnetA, `${node.tag}ba`], [netB, subnetB, `${node.tag}bb`]] as const) {
      const created = await host.createWeftNetwork(name, file, { bridge, isDefaultGateway: name === netA });
      t.equal(created.code, 0, `podman network create ${name}: ${created.stderr}`);
    }
    const listed = await host.cmd('network', 'ls', '--format', '{{.Name}}');
    t.ok([netA, netB].every((n) => listed.stdout.includes(n)), `podman lists both networks: ${listed.stdout.trim()}`);

    const c1 = `${node.tag}-c1`;
    const run = await host.run(c1, [], ['sh', '-c', 'sleep 600'], netA);
    t.equal(run.code, 0, `podman run on ${netA}: ${run.stderr}`);
    const connect = await host.cmd('network', 'connect', netB, c1);
    t.equal(connect.code, 0, `podman network connect ${netB}: ${connect.stderr}`);

    const [ipA, ipB] = [await host.address(c1, netA), await host.address(c1, netB)];
    t.match(ipA, /^10\.91\.3\.\d+$/, `address on ${netA}`);
    t.match(ipB, /^10\.92\.4\.\d+$/, `address on ${netB}`);
    const inside = await host.cmd('exec', c1, 'ip', '-4', '-o', 'addr');
    t.match(inside.stdout, new RegExp(`eth0 .*inet ${ipA.replace(/\./g, '\\.')}/24`), 'eth0 on the first network');
    t.match(inside.stdout, new RegExp(`eth1 .*inet ${ipB.replace(/\./g, '\\.')}/24`), 'eth1 on the second');
    t.same([host.leasedAddresses(netA), host.leasedAddresses(netB)], [[ipA], [ipB]], 'host-local holds one address in each network');
    const id = (await host.cmd('inspect', c1, '--format', '{{.Id}}')).stdout.trim();
    t.same([host.savedConfigs(netA), host.savedConfigs(netB)], [[`${id}:eth0`], [`${id}:eth1`]], 'one weft record per attachment, in one shared dataDir');
    t.match(await host.savedConfig(c1, 'eth1', netB), { name: netB, bridge: `${node.tag}bb` }, 'the second network\'s record has its own config');

    const rm = await host.cmd('rm', '-f', '-t', '0', c1);
    t.equal(rm.code, 0, `podman rm: ${rm.stderr}`);
    t.same([host.leasedAddresses(netA), host.leasedAddresses(netB)], [[], []], 'podman rm left no address reserved in either network');
    t.same([host.savedConfigs(netA), host.savedConfigs(netB)], [[], []], 'and no weft record');
    t.same(await host.leftovers(), { containers: [], sandboxes: [], pids: [], mounts: [] }, 'no container, netns, process or mount left');
    t.equal((await mustRun('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '0', 'root ip_forward still 0');
  });
}
