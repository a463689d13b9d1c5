/**
 * A real runtime drives the weft plugin: podman 4.3 (CNI backend, runc) runs
 * two busybox containers on a weft network (weft + portmap) inside a node
 * namespace, with a hand-written subnet.env. Podman runs under
 * `nsenter --net` (not `ip netns exec`, which hides the cgroup mount), with a
 * private containers.conf, storage, and network config dir; see
 * docs/cni.md and the reference recipe for why each setting is needed.
 */
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, rmdirSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, CniPluginNode, mustRun, PLUGINS_DIR, runProgram, type Run } from '../helpers/cni-plugin-node.js';
import { requirePrerequisites } from '../helpers/require.js';
import { childEnv } from '../helpers/weftd-process.js';

const SUBNET_ENV = 'FLANNEL_NETWORK=10.78.0.0/16\nFLANNEL_SUBNET=10.78.9.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const LIBCNI_CACHE = '/var/lib/cni';

/** podman with everything private to this test, run with only its network namespace switched. */
class Podman {
  readonly rootfs: string;
  private readonly conf: string;
  private readonly dirs: { store: string; run: string; tmp: string; netd: string };

  constructor(private readonly node: CniPluginNode) {
    this.rootfs = join(node.dir, 'rootfs');
    this.conf = join(node.dir, 'containers.conf');
    this.dirs = { store: join(node.dir, 'store'), run: join(node.dir, 'run'), tmp: join(node.dir, 'tmp'), netd: join(node.dir, 'net.d') };
  }

  configure(): void {
    for (const dir of Object.values(this.dirs)) mkdirSync(dir, { recursive: true });
    this.buildRootfs();
    // runc (crun fails on this host's hybrid cgroups); rlimits within our hard limits (no CAP_SYS_RESOURCE).
    writeFileSync(this.conf, [
      '[containers]', 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
      '[engine]', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', 'runtime = "runc"',
      '[network]', 'network_backend = "cni"', `cni_plugin_dirs = ["${this.node.cniBin}", "${PLUGINS_DIR}"]`, `network_config_dir = "${this.dirs.netd}"`, '',
    ].join('\n'));
    writeFileSync(join(this.dirs.netd, `${this.node.network}.conflist`), JSON.stringify({
      cniVersion: '1.0.0', name: this.node.network, plugins: [
        { type: 'weft', subnetFile: this.node.subnetFile, dataDir: this.node.dataDir,
          delegate: { bridge: this.node.bridge, hairpinMode: true }, ipam: { dataDir: this.node.ipamDir } },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    }, null, 2));
  }

  cmd(...args: string[]): Promise<Run> {
    // Podman passes its environment to the plugins: no tap loader hooks, no NODE_EXTRA_CA_CERTS.
    const env = childEnv({ CONTAINERS_CONF: this.conf });
    return runProgram('nsenter', [`--net=/run/netns/${this.node.nodeNs}`, 'podman',
      '--root', this.dirs.store, '--runroot', this.dirs.run, '--tmpdir', this.dirs.tmp, ...args], { env });
  }

  async address(name: string): Promise<string> {
    return (await this.cmd('inspect', name, '--format', `{{.NetworkSettings.Networks.${this.node.network}.IPAddress}}`)).stdout.trim();
  }

  async removeAll(): Promise<void> {
    if (existsSync(this.conf)) await this.cmd('rm', '--all', '--force', '--time', '0');
  }

  /** busybox-static with relative applet links, and a page for httpd. */
  private buildRootfs(): void {
    for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp', 'var/www']) mkdirSync(join(this.rootfs, d), { recursive: true });
    copyFileSync('/bin/busybox', join(this.rootfs, 'bin', 'busybox'));
    for (const applet of ['sh', 'sleep', 'ip', 'ping', 'wget', 'httpd', 'cat']) symlinkSync('busybox', join(this.rootfs, 'bin', applet));
    writeFileSync(join(this.rootfs, 'var/www/index.html'), 'hello-from-weft-pod\n');
  }
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

if (requirePrerequisites(t, ['podman', 'runc', 'nsenter', 'busybox', 'curl', `${PLUGINS_DIR}/portmap`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else t.test('podman 4.3 runs two containers on a weft network', async (t) => {
    const cacheExisted = existsSync(LIBCNI_CACHE);
    const node = new CniPluginNode();
    let podman: Podman | undefined;
    t.teardown(async () => {
      await podman?.removeAll();
      await node.cleanup();
      if (!cacheExisted) removeEmptyDirs([join(LIBCNI_CACHE, 'results'), LIBCNI_CACHE]);
    });
    await node.start(SUBNET_ENV);
    podman = new Podman(node);
    podman.configure();

    const c1 = `${node.tag}-c1`;
    const c2 = `${node.tag}-c2`;
    const started = Date.now();
    const run1 = await podman.cmd('run', '-d', '--name', c1, '--network', node.network, '--rootfs', podman.rootfs, 'sh', '-c', 'sleep 600');
    const firstRunMs = Date.now() - started;
    t.equal(run1.code, 0, run1.stderr);
    const run2 = await podman.cmd('run', '-d', '--name', c2, '--network', node.network, '-p', '18090:8080', '--rootfs', podman.rootfs,
      'httpd', '-f', '-p', '8080', '-h', '/var/www');
    t.equal(run2.code, 0, run2.stderr);
    t.comment(`podman run -d (first container, weft + portmap): ${firstRunMs} ms`);

    const ip1 = await podman.address(c1);
    const ip2 = await podman.address(c2);
    t.match(ip1, /^10\.78\.9\.\d+$/);
    t.match(ip2, /^10\.78\.9\.\d+$/);
    t.not(ip1, ip2);
    t.same(node.leasedAddresses(), [ip1, ip2].sort());
    t.same(node.savedConfigs().length, 2, 'one saved delegate config per container');

    const routes = await podman.cmd('exec', c1, 'ip', 'route');
    t.match(routes.stdout, /10\.78\.0\.0\/16 via 10\.78\.9\.1 dev eth0/);
    const ping = await podman.cmd('exec', c1, 'ping', '-c', '2', '-W', '2', ip2);
    t.equal(ping.code, 0, ping.stdout + ping.stderr);
    t.match(ping.stdout, /2 packets received/);
    const web = await podman.cmd('exec', c1, 'wget', '-qO-', `http://${ip2}:8080/`);
    t.equal(web.stdout.trim(), 'hello-from-weft-pod');
    const viaPortmap = await runProgram('ip', ['netns', 'exec', node.nodeNs, 'curl', '-s', '-m', '5', 'http://10.78.9.1:18090/']);
    t.equal(viaPortmap.stdout.trim(), 'hello-from-weft-pod', 'portmap, chained after weft, got our result');

    const rm = await podman.cmd('rm', '-f', '-t', '0', c1, c2);
    t.equal(rm.code, 0, rm.stderr);
    t.same(node.leasedAddresses(), [], 'podman rm released both addresses (host-local dir empty)');
    t.same(node.savedConfigs(), [], 'and weft forgot both containers');
    t.equal(readdirSync(join(node.ipamDir, node.network)).filter((f) => /^\d/.test(f)).length, 0);
    const cacheLeft = existsSync(join(LIBCNI_CACHE, 'results'))
      ? readdirSync(join(LIBCNI_CACHE, 'results')).filter((f) => f.startsWith(`${node.network}-`)) : [];
    t.same(cacheLeft, [], 'libcni cache entries removed');
    t.equal((await mustRun('cat', ['/proc/sys/net/ipv4/ip_forward'])).trim(), '0', 'root ip_forward still 0');
  });
}
