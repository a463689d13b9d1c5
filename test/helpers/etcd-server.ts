/**
 * Starts a real etcd (Debian's etcd-server) for a test: free loopback ports
 * (or an address inside a network namespace), a temporary data dir, and a
 * stop() that kills exactly the process it started. Optional TLS and
 * multi-member clusters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

export interface EtcdTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  process: ChildProcess | undefined;
  readonly args: readonly string[];
}

export interface EtcdCluster {
  readonly endpoints: string[];
  readonly members: EtcdMember[];
  /** etcdctl with the right endpoints (and TLS/auth flags when set). */
  etcdctl(args: readonly string[], options?: { input?: string }): Promise<string>;
  stopMember(index: number, signal?: NodeJS.Signals): Promise<void>;
  startMember(index: number): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface StartEtcdOptions {
  /** Number of members (default 1). */
  readonly members?: number;
  readonly tls?: EtcdTls;
  /** Run inside this network namespace (via `ip netns exec`). */
  readonly netns?: string;
  /** Address to listen on for clients (default 127.0.0.1). */
  readonly host?: string;
  /** Fixed client port for single-member clusters (default: a free port). */
  readonly clientPort?: number;
  /** Extra flags for every member, e.g. ['--auto-compaction-retention', '1']. */
  readonly extraArgs?: readonly string[];
}

export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const count = options.members ?? 1;
  const host = options.host ?? '127.0.0.1';
  const scheme = options.tls ? 'https' : 'http';
  const base = await mkdtemp(join(tmpdir(), 'weft-etcd-'));
  const ports: { client: number; peer: number }[] = [];
  for (let i = 0; i < count; i++) {
    const client = options.clientPort && count === 1 ? options.clientPort : options.netns ? 2379 + 10 * i : await freePort();
    const peer = options.netns ? 2380 + 10 * i : await freePort();
    ports.push({ client, peer });
  }
  const token = `weft-${process.pid}-${Date.now()}`;
  const initial = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(',');
  const members: EtcdMember[] = ports.map((p, i) => {
    const clientUrl = `${scheme}://${host}:${p.client}`;
    const peerUrl = `http://127.0.0.1:${p.peer}`;
    const dataDir = join(base, `m${i}`);
    const args = [
      '--name', `m${i}`, '--data-dir', dataDir,
      '--listen-client-urls', host === '127.0.0.1' ? clientUrl : `${clientUrl},${scheme}://127.0.0.1:${p.client}`,
      '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', token,
      '--heartbeat-interval', '50', '--election-timeout', '500',
      '--log-level', 'warn', '--logger', 'zap',
      ...(options.tls ? ['--cert-file', options.tls.certFile, '--key-file', options.tls.keyFile,
        '--trusted-ca-file', options.tls.caFile, '--client-cert-auth'] : []),
      ...(options.extraArgs ?? []),
    ];
    return { name: `m${i}`, clientUrl, peerUrl, dataDir, process: undefined, args };
  });

  const launch = (m: EtcdMember): void => {
    const cmd = options.netns ? 'ip' : 'etcd';
    const argv = options.netns ? ['netns', 'exec', options.netns, 'etcd', ...m.args] : [...m.args];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
    child.on('exit', (code, sig) => {
      if (m.process === child) m.process = undefined;
      if (code && code !== 0 && !sig) process.stderr.write(`etcd ${m.name} exited ${code}: ${err}\n`);
    });
    m.process = child;
  };

  const tlsFlags = options.tls ? ['--cacert', options.tls.caFile, '--cert', options.tls.certFile, '--key', options.tls.keyFile] : [];
  const endpoints = members.map((m) => m.clientUrl);
  const etcdctl = async (args: readonly string[], opts: { input?: string } = {}): Promise<string> => {
    const argv = ['--endpoints', endpoints.join(','), '--command-timeout', '5s', ...tlsFlags, ...args];
    const full = options.netns ? ['ip', ['netns', 'exec', options.netns, 'etcdctl', ...argv]] as const : ['etcdctl', argv] as const;
    const r = await execa(full[0], [...full[1]], { env: { ETCDCTL_API: '3' }, ...(opts.input === undefined ? {} : { input: opts.input }) });
    return r.stdout;
  };

  const waitHealthy = async (m: EtcdMember): Promise<void> => {
    const deadline = Date.now() + 20000;
    for (;;) {
      try {
        const argv = ['--endpoints', m.clientUrl, '--command-timeout', '1s', ...tlsFlags, 'endpoint', 'health'];
        const full = options.netns ? ['ip', ['netns', 'exec', options.netns, 'etcdctl', ...argv]] as const : ['etcdctl', argv] as const;
        await execa(full[0], [...full[1]], { env: { ETCDCTL_API: '3' } });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`etcd ${m.name} did not become healthy at ${m.clientUrl}`, { cause: err });
        await sleep(100);
      }
    }
  };

  const stopMember = async (index: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const m = members[index];
    const child = m?.process;
    if (!m || !child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
    m.process = undefined;
  };

  for (const m of members) launch(m);
  try {
    await Promise.all(members.map(waitHealthy));
  } catch (err) {
    for (let i = 0; i < members.length; i++) await stopMember(i, 'SIGKILL');
    await rm(base, { recursive: true, force: true });
    throw err;
  }

  return {
    endpoints,
    members,
    etcdctl,
    stopMember,
    async startMember(index: number) {
      const m = members[index];
      if (!m || m.process) return;
      launch(m);
      await waitHealthy(m);
    },
    async stop() {
      for (let i = 0; i < members.length; i++) await stopMember(i, 'SIGKILL');
      await rm(base, { recursive: true, force: true });
    },
  };
}
