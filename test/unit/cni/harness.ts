/**
 * Drives the CNI dispatcher in-process: a temp subnet.env and dataDir, the
 * CNI_* environment, stdin, and a fake delegate; returns what the runtime
 * would see (exit code, stdout, stderr).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCni } from '../../../src/cni/run.js';
import { FakeBridgeProbe } from '../../fakes/fake-bridge-probe.js';
import { FakePluginInvoker } from '../../fakes/fake-plugin-invoker.js';

export const SUBNET_ENV = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON, or undefined when stdout is empty. */
  readonly json: Record<string, unknown> | undefined;
}

export interface Node {
  readonly dir: string;
  readonly subnetFile: string;
  readonly dataDir: string;
  readonly invoker: FakePluginInvoker;
  readonly bridge: FakeBridgeProbe;
  /** CNI_NETNS paths that count as the plugin's own namespace. */
  readonly ownNetns: Set<string>;
  /** The parsed attachment record, or undefined when there is none. */
  record(id?: string, ifname?: string, network?: string): Record<string, unknown> | undefined;
  /** `<containerId>:<ifname>` of every record of a network (default weftnet). */
  records(network?: string): string[];
  /** A netconf for this node, with `extra` merged in. */
  netconf(extra?: Record<string, unknown>): Record<string, unknown>;
  run(env: Record<string, string>, stdin: string | Record<string, unknown>): Promise<Outcome>;
  /** Runs `command` with a complete, valid environment for container `id`. */
  cni(command: string, stdin: string | Record<string, unknown>, id?: string, extraEnv?: Record<string, string>): Promise<Outcome>;
}

export function makeNode(dir: string, subnetEnv: string | null = SUBNET_ENV): Node {
  const subnetFile = join(dir, 'subnet.env');
  const dataDir = join(dir, 'data');
  if (subnetEnv !== null) writeFileSync(subnetFile, subnetEnv);
  const invoker = new FakePluginInvoker();
  const bridge = new FakeBridgeProbe();
  const ownNetns = new Set<string>();
  const node: Node = {
    dir, subnetFile, dataDir, invoker, bridge, ownNetns,
    record(id = 'c1', ifname = 'eth0', network = 'weftnet') {
      const path = join(dataDir, '_attachments', network, `${id}:${ifname}`);
      return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown> : undefined;
    },
    records(network = 'weftnet') {
      const dir = join(dataDir, '_attachments', network);
      return existsSync(dir) ? readdirSync(dir).sort() : [];
    },
    netconf: (extra = {}) => ({ cniVersion: '1.0.0', name: 'weftnet', type: 'weft', subnetFile, dataDir, ...extra }),
    async run(env, stdin) {
      let stdout = '';
      let stderr = '';
      let reads = 0;
      const code = await runCni({
        env,
        readStdin: () => {
          reads += 1;
          if (reads > 1) throw new Error('stdin read twice');
          return typeof stdin === 'string' ? stdin : JSON.stringify(stdin);
        },
        stdout: { write: (text: string) => { stdout += text; } },
        stderr: { write: (text: string) => { stderr += text; } },
      }, { invoker: () => invoker, bridge: () => bridge, isOwnNetns: (path) => ownNetns.has(path) });
      return { code, stdout, stderr, json: stdout.trim() === '' ? undefined : JSON.parse(stdout) as Record<string, unknown> };
    },
    cni(command, stdin, id = 'c1', extraEnv = {}) {
      return node.run({
        CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: `/run/netns/${id}`, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin', ...extraEnv,
      }, stdin);
    },
  };
  return node;
}
