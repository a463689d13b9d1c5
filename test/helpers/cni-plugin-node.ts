/**
 * A throw-away "node" network namespace for CNI plugin tests: the bundled weft
 * plugin in a private CNI bin dir, a hand-written subnet.env, private dataDir
 * and host-local dir, and pod namespaces on demand. Everything that turns on
 * forwarding or adds addresses happens inside namespaces this helper created
 * (per-run unique names); cleanup() deletes exactly those. No shell strings.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './fixtures.js';

export const PLUGINS_DIR = '/usr/lib/cni';
export const BUNDLE = join(repoRoot(), 'dist', 'weft-cni.cjs');

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly json: Record<string, unknown> | undefined;
}

/** Runs a program with an argument array; never rejects on a non-zero exit. */
export function runProgram(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() === '' ? undefined : JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, stderr, json });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** Like runProgram, but a non-zero exit is an error carrying stderr. */
export async function mustRun(file: string, args: readonly string[]): Promise<string> {
  const r = await runProgram(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface WeftCall {
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifname?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export class CniPluginNode {
  readonly tag = `wcni${randomBytes(2).toString('hex')}`;
  readonly nodeNs = `${this.tag}-node`;
  readonly dir = mkdtempSync(join(tmpdir(), `${this.tag}-`));
  readonly cniBin = join(this.dir, 'bin');
  readonly subnetFile = join(this.dir, 'subnet.env');
  readonly dataDir = join(this.dir, 'data');
  readonly ipamDir = join(this.dir, 'ipam');
  readonly network = `${this.tag}net`;
  readonly bridge = `${this.tag}br`;
  readonly cniPath = `${join(this.dir, 'bin')}:${PLUGINS_DIR}`;
  private readonly namespaces: string[] = [];

  /** Creates the node namespace and installs the bundle as `<bin>/weft`, like `make install`. */
  async start(subnetEnv: string): Promise<this> {
    mkdirSync(this.cniBin);
    copyFileSync(BUNDLE, join(this.cniBin, 'weft'));
    chmodSync(join(this.cniBin, 'weft'), 0o755);
    writeFileSync(this.subnetFile, subnetEnv);
    await this.addNamespace(this.nodeNs);
    await mustRun('ip', ['-n', this.nodeNs, 'link', 'set', 'lo', 'up']);
    return this;
  }

  async addNamespace(name: string): Promise<string> {
    await mustRun('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    return name;
  }

  async addPod(short: string): Promise<string> {
    return this.addNamespace(`${this.tag}-${short}`);
  }

  async deleteNamespace(name: string): Promise<void> {
    await runProgram('ip', ['netns', 'del', name]);
    this.namespaces.splice(this.namespaces.indexOf(name), 1);
  }

  /** The weft netconf for this node, with `extra` merged in. */
  netconf(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      cniVersion: '1.0.0', name: this.network, type: 'weft', subnetFile: this.subnetFile, dataDir: this.dataDir,
      delegate: { bridge: this.bridge, hairpinMode: true }, ipam: { dataDir: this.ipamDir }, ...extra,
    };
  }

  /** Runs the installed weft plugin inside the node namespace. */
  weft(command: string, stdin: string | Record<string, unknown>, call: WeftCall = {}): Promise<Run> {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_PATH: this.cniPath,
      ...(call.containerId === undefined ? {} : { CNI_CONTAINERID: call.containerId }),
      ...(call.netns === undefined ? {} : { CNI_NETNS: call.netns }),
      ...(call.ifname === undefined ? {} : { CNI_IFNAME: call.ifname }),
      ...call.env,
    };
    return runProgram('ip', ['netns', 'exec', this.nodeNs, join(this.cniBin, 'weft')],
      { env, input: typeof stdin === 'string' ? stdin : JSON.stringify(stdin) });
  }

  /** ADD/CHECK/DEL for a pod namespace created by addPod. */
  pod(command: string, podNs: string, stdin: Record<string, unknown>, env: Record<string, string> = {}): Promise<Run> {
    return this.weft(command, stdin, { containerId: podNs, netns: `/run/netns/${podNs}`, ifname: 'eth0', env });
  }

  /** Addresses host-local holds for a network (default: this node's), from its lease files. */
  leasedAddresses(network = this.network): string[] {
    const dir = join(this.ipamDir, network);
    return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort() : [];
  }

  /** weft's attachment records for a network (default: this node's), as `<container id>:<ifname>`. */
  savedConfigs(network = this.network): string[] {
    const dir = join(this.dataDir, '_attachments', network);
    return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).sort() : [];
  }

  /** Every file and directory under dataDir other than the records (old-layout files, leftovers). */
  otherDataFiles(): string[] {
    return existsSync(this.dataDir) ? readdirSync(this.dataDir).filter((f) => f !== '_attachments').sort() : [];
  }

  async cleanup(): Promise<void> {
    for (const ns of [...this.namespaces].reverse()) await runProgram('ip', ['netns', 'del', ns]);
    this.namespaces.length = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
