/**
 * Podman 4.3 (Debian, CNI backend) as a real CNI client for tests, with
 * everything private: containers.conf, storage, run and tmp dirs, and the
 * network config dir (so podman's own /etc/cni/net.d/87-podman-bridge.conflist,
 * which NATs out of the machine, is never read). Podman only ever runs as
 * `nsenter --net=/run/netns/<host> podman …`: just its network namespace is
 * switched (`ip netns exec` would remount /sys and hide the cgroup mounts
 * runc needs), so cni0, iptables and ip_forward stay inside that namespace.
 * runc, cgroupfs and capped rlimits: see real-components.md §0 and §4.
 *
 * Every container started through run() is tracked (its sandbox netns, its
 * PID and conmon's), so removeAll() can check that `podman rm` left nothing
 * behind and clean up, by exact name and PID, whatever it did leave.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BUNDLE, PLUGINS_DIR, runProgram, type Run } from './cni-plugin-node.js';
import { repoRoot } from './fixtures.js';
import { childEnv } from './weftd-process.js';

/** Where libcni (inside podman) caches ADD results; it cannot be moved with podman 4.3's CNI backend. */
export const LIBCNI_CACHE = '/var/lib/cni';
export const SAMPLE_CONFLIST = join(repoRoot(), 'examples', '10-weft.conflist');

export interface PodmanHostOptions {
  /** The rig host namespace podman runs in (a name under /run/netns). */
  readonly netns: string;
  /** A private directory for this podman's config, storage and CNI state. */
  readonly dir: string;
  readonly network: string;
  /** The subnet.env that weftd on this host writes. */
  readonly subnetFile: string;
  /** A directory holding the plugin as `weft`. */
  readonly cniBin: string;
  readonly rootfs: string;
}

interface Tracked {
  readonly sandbox: string;
  readonly pids: readonly { pid: number; start: string }[];
}

export interface Leftovers {
  readonly containers: string[];
  readonly sandboxes: string[];
  readonly pids: number[];
  readonly mounts: string[];
}

/** Installs the bundled plugin as `<dir>/weft`, like `make install`. */
export function installPlugin(dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(BUNDLE, join(dir, 'weft'));
  chmodSync(join(dir, 'weft'), 0o755);
  return dir;
}

/** busybox-static with relative applet links, and a page for httpd. */
export function buildBusyboxRootfs(rootfs: string, page: string): string {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp', 'var/www']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'sleep', 'ip', 'ping', 'wget', 'httpd', 'cat']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  writeFileSync(join(rootfs, 'var/www/index.html'), `${page}\n`);
  return rootfs;
}

/** Mount points at or below `dir` (from this process's mount table). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((mount) => mount === dir || mount.startsWith(`${dir}/`));
}

/** The kernel's start time of a process (field 22 of /proc/<pid>/stat), or undefined once it is gone or a zombie. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

export class PodmanHost {
  readonly netns: string;
  readonly network: string;
  readonly dataDir: string;
  readonly ipamDir: string;
  readonly #options: PodmanHostOptions;
  readonly #conf: string;
  readonly #dirs: { store: string; run: string; tmp: string; netd: string };
  readonly #tracked = new Map<string, Tracked>();

  constructor(options: PodmanHostOptions) {
    this.#options = options;
    this.netns = options.netns;
    this.network = options.network;
    this.dataDir = join(options.dir, 'cni-data');
    this.ipamDir = join(options.dir, 'ipam');
    this.#conf = join(options.dir, 'containers.conf');
    this.#dirs = { store: join(options.dir, 'store'), run: join(options.dir, 'run'), tmp: join(options.dir, 'tmp'), netd: join(options.dir, 'net.d') };
  }

  /** Writes containers.conf and the network's conflist. */
  configure(): this {
    this.#writeContainersConf();
    this.writeWeftNetwork(this.network, this.#options.subnetFile);
    return this;
  }

  /** Writes containers.conf only (the networks come from createWeftNetwork). */
  configureEngine(): this {
    this.#writeContainersConf();
    return this;
  }

  #writeContainersConf(): void {
    for (const dir of Object.values(this.#dirs)) mkdirSync(dir, { recursive: true });
    // runc (crun fails on this host's hybrid cgroups); rlimits within our hard limits (no CAP_SYS_RESOURCE).
    writeFileSync(this.#conf, [
      '[containers]', 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
      '[engine]', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', 'runtime = "runc"',
      '[network]', 'network_backend = "cni"', `cni_plugin_dirs = ["${this.#options.cniBin}", "${PLUGINS_DIR}"]`,
      `network_config_dir = "${this.#dirs.netd}"`, '',
    ].join('\n'));
  }

  /**
   * `<netd>/<name>.conflist`: the shipped sample (weft + portmap) with private
   * paths; every network shares this host's dataDir and host-local dir, as
   * networks on one host do by default. `delegate` is merged into weft's.
   */
  writeWeftNetwork(name: string, subnetFile: string, delegate: Record<string, unknown> = {}): void {
    // The shipped sample (examples/10-weft.conflist: weft with hairpinMode + isDefaultGateway, then portmap), with private paths.
    const sample = JSON.parse(readFileSync(SAMPLE_CONFLIST, 'utf8')) as { plugins: Record<string, unknown>[] };
    const [weft, portmap, ...rest] = sample.plugins;
    if (weft?.['type'] !== 'weft' || portmap?.['type'] !== 'portmap' || rest.length > 0) throw new Error(`${SAMPLE_CONFLIST}: expected [weft, portmap]`);
    writeFileSync(join(this.#dirs.netd, `${name}.conflist`), JSON.stringify({
      ...sample, name,
      plugins: [{ ...weft, subnetFile, dataDir: this.dataDir, ipam: { dataDir: this.ipamDir },
        delegate: { ...(weft['delegate'] as Record<string, unknown>), ...delegate } }, portmap],
    }, null, 2));
  }

  /**
   * `podman network create <name>`, then its conflist replaced by weft's:
   * podman 4.3's CNI backend only generates bridge, macvlan and ipvlan
   * configs, so this is how an operator gets a weft network podman knows.
   */
  async createWeftNetwork(name: string, subnetFile: string, delegate: Record<string, unknown> = {}): Promise<Run> {
    const r = await this.cmd('network', 'create', name);
    if (r.code === 0) this.writeWeftNetwork(name, subnetFile, delegate);
    return r;
  }

  #argv(args: readonly string[]): string[] {
    return [`--net=/run/netns/${this.netns}`, 'podman',
      '--root', this.#dirs.store, '--runroot', this.#dirs.run, '--tmpdir', this.#dirs.tmp, ...args];
  }

  /** Podman passes its environment to the plugins: no tap loader hooks, no NODE_EXTRA_CA_CERTS. */
  #env(): NodeJS.ProcessEnv {
    return childEnv({ CONTAINERS_CONF: this.#conf });
  }

  cmd(...args: string[]): Promise<Run> {
    return runProgram('nsenter', this.#argv(args), { env: this.#env() });
  }

  /** `podman run -d --name <name> --network <ours> [options] --rootfs <rootfs> command…` (timed), then tracks the container. */
  async run(name: string, options: readonly string[], command: readonly string[], network = this.network): Promise<Run & { ms: number }> {
    const started = Date.now();
    const r = await this.cmd('run', '-d', '--name', name, '--network', network, ...options, '--rootfs', this.#options.rootfs, ...command);
    const info = await this.cmd('inspect', name, '--format', '{{.NetworkSettings.SandboxKey}} {{.State.Pid}} {{.State.ConmonPid}}');
    const [sandbox = '', ...pids] = info.stdout.trim().split(/\s+/);
    this.#tracked.set(name, {
      sandbox,
      pids: pids.map(Number).filter((pid) => pid > 1).flatMap((pid) => {
        const start = startTime(pid);
        return start === undefined ? [] : [{ pid, start }];
      }),
    });
    return { ...r, ms: Date.now() - started };
  }

  async address(name: string, network = this.network): Promise<string> {
    return (await this.cmd('inspect', name, '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`)).stdout.trim();
  }

  /** The container's IPv6 address on a network (empty when it has none). */
  async address6(name: string, network = this.network): Promise<string> {
    return (await this.cmd('inspect', name, '--format', `{{(index .NetworkSettings.Networks "${network}").GlobalIPv6Address}}`)).stdout.trim();
  }

  sandbox(name: string): string | undefined {
    return this.#tracked.get(name)?.sandbox;
  }

  /** Addresses (IPv4 and IPv6) host-local holds for a network (default: this host's), from its lease files. */
  leasedAddresses(network = this.network): string[] {
    const dir = join(this.ipamDir, network);
    return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f) || /^[0-9a-f]*:[0-9a-f:]*$/.test(f)).sort() : [];
  }

  /** weft's attachment records for a network (default: this host's), as `<container id>:<ifname>`. */
  savedConfigs(network = this.network): string[] {
    const dir = join(this.dataDir, '_attachments', network);
    return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : [];
  }

  /** The delegate config weft saved for a container's eth0 (what it gave bridge + host-local). */
  async savedConfig(name: string, ifname = 'eth0', network = this.network): Promise<Record<string, unknown> | undefined> {
    const id = (await this.cmd('inspect', name, '--format', '{{.Id}}')).stdout.trim();
    const path = join(this.dataDir, '_attachments', network, `${id}:${ifname}`);
    if (id === '' || !existsSync(path)) return undefined;
    const record = JSON.parse(readFileSync(path, 'utf8')) as { conf: string };
    return JSON.parse(record.conf) as Record<string, unknown>;
  }

  /** What our containers left: podman's list, sandbox namespaces, live PIDs, mounts in our dir. */
  async leftovers(): Promise<Leftovers> {
    const ps = existsSync(this.#conf) ? await this.cmd('ps', '-a', '--format', '{{.Names}}') : undefined;
    return {
      containers: ps?.stdout.split('\n').map((s) => s.trim()).filter(Boolean) ?? [],
      ...this.#localLeftovers(),
    };
  }

  #localLeftovers(): Omit<Leftovers, 'containers'> {
    const tracked = [...this.#tracked.values()];
    return {
      sandboxes: tracked.map((c) => c.sandbox).filter((s) => s !== '' && existsSync(s)),
      pids: tracked.flatMap((c) => c.pids).filter((p) => startTime(p.pid) === p.start).map((p) => p.pid),
      mounts: mountsUnder(this.#options.dir),
    };
  }

  /** `podman rm --all --force --time 0` (CNI DEL runs in the host namespace), then removes whatever it left. */
  async removeAll(): Promise<Run | undefined> {
    if (!existsSync(this.#conf) || !existsSync(`/run/netns/${this.netns}`)) {
      this.#forceClean();
      return undefined;
    }
    const r = await this.cmd('rm', '--all', '--force', '--time', '0');
    this.#forceClean();
    return r;
  }

  /** The same, synchronously, for a process 'exit' or signal handler. */
  removeAllSync(): void {
    if (existsSync(this.#conf) && existsSync(`/run/netns/${this.netns}`)) {
      spawnSync('nsenter', this.#argv(['rm', '--all', '--force', '--time', '0']), { env: this.#env(), stdio: 'ignore', timeout: 30_000 });
    }
    this.#forceClean();
  }

  /** Kills our containers' processes (by PID, only if still the same process), drops their sandbox netns and unmounts our dirs. */
  #forceClean(): void {
    const left = this.#localLeftovers();
    for (const pid of left.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const sandbox of left.sandboxes) {
      const name = basename(sandbox);
      if (/^netns-[0-9a-f-]+$/.test(name)) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    }
    for (const mount of [...left.mounts].reverse()) spawnSync('umount', ['-l', mount], { stdio: 'ignore' });
  }
}

/**
 * Runs removeAllSync() for every host, then `after` (the test's own file
 * cleanup), before anything else when the process exits or is interrupted:
 * the rig's guard deletes the host namespaces podman needs for CNI DEL.
 * Returns the function that removes the guard.
 */
export function guardPodman(hosts: readonly PodmanHost[], after: () => void = () => {}): () => void {
  const clean = (): void => {
    for (const h of hosts) h.removeAllSync();
    after();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    clean();
    // If nobody else handles the signal any more, its default action ends the process.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.prependOnceListener('exit', clean);
  process.prependOnceListener('SIGINT', onSignal);
  process.prependOnceListener('SIGTERM', onSignal);
  return () => {
    process.off('exit', clean);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
