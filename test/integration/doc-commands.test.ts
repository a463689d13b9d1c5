/**
 * The docs are tested: every `console doctest` block in docs/operations.md
 * and docs/troubleshooting.md (test/helpers/doc-blocks.ts) runs in a rig of
 * three hosts with a real etcd and the real weftd (documented defaults: no
 * flags beyond etcd, node name, interface and subnet file), on host1, the way
 * an installed host runs them: weftctl and weftd find their settings in
 * WEFTD_* variables (as from /etc/weft/weftd.env), etcdctl in ETCDCTL_*.
 * `systemctl stop|start weftd` stops or starts host1's weftd. Hosts get the
 * subnets the docs show (10.5.34.0/24, 10.5.158.0/24, 10.5.182.0/24) from a
 * subnet.env left by a previous run. A weftctl/etcdctl/weftd command shown in
 * those files outside a doctest block fails the test, so sections added later
 * are covered too.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { type DocBlock, doctestBlocks, unmatchedLines, untestedCommands } from '../helpers/doc-blocks.js';
import { requirePrerequisites } from '../helpers/require.js';
import { REPO_ROOT, WEFTCTL_BIN, WEFTD_BIN, type WeftdProcess, childEnv, msgIs, nodeArgv, startWeftd } from '../helpers/weftd-process.js';
import { ETCD_ENDPOINT, Rig } from '../rig/rig.js';

// troubleshooting first: operations.md ends by releasing host1's subnet.
const DOCS = ['docs/troubleshooting.md', 'docs/operations.md'];
const SUBNETS = ['10.5.34.1/24', '10.5.158.1/24', '10.5.182.1/24'];
const TOOLS = new Set(['etcdctl', 'ip', 'bridge', 'iptables', 'cat', 'rm', 'sysctl']);

const texts = DOCS.map((f) => ({ file: f, text: readFileSync(join(REPO_ROOT, f), 'utf8') }));

t.test('every weftctl/etcdctl/weftd command shown in these docs is in a doctest block', async (t) => {
  for (const { file, text } of texts) t.same(untestedCommands(text), [], file);
  t.ok(texts.flatMap(({ file, text }) => doctestBlocks(file, text)).length >= 5, 'the docs have doctest blocks');
});

if (requirePrerequisites(t, ['ip', 'bridge', 'etcd', 'etcdctl', 'iptables', 'iptables-restore'], true)) {
  const rig = await Rig.up({ hosts: 3, pods: 0 });
  const daemons = new Map<number, WeftdProcess>();
  t.teardown(async () => {
    for (const d of daemons.values()) await d.stop('SIGKILL');
    await rig.down();
  });
  const subnetFile = (i: number): string => join(rig.stateDir, `host${i}-subnet.env`);
  const start = (i: number): WeftdProcess => {
    const d = startWeftd(['--node-name', `host${i}`, '--iface', 'eth0', '--subnet-file', subnetFile(i), '--config-file', join(rig.stateDir, 'none.env')],
      { netns: rig.host(i).netns, env: { WEFTD_ETCD_ENDPOINTS: ETCD_ENDPOINT } });
    daemons.set(i, d);
    return d;
  };
  await rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', '/weft/network/config', '{"Network":"10.5.0.0/16","Backend":{"Type":"vxlan"}}']);
  for (const i of [1, 2, 3]) {
    writeFileSync(subnetFile(i), `FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=${SUBNETS[i - 1]}\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`);
    await start(i).waitForLog(msgIs('first reconcile pass done; ready'), 30000, `host${i} ready`);
  }
  // What an installed host1 has in /etc/weft/weftd.env, and an operator's etcdctl environment.
  const hostEnv = {
    WEFTD_ETCD_ENDPOINTS: ETCD_ENDPOINT, WEFTD_NODE_NAME: 'host1', WEFTD_SUBNET_FILE: subnetFile(1),
    ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: ETCD_ENDPOINT,
  };
  const netns = rig.host(1).netns;
  const bindings = new Map<string, string>([['/run/weft/subnet.env', subnetFile(1)]]);

  const run = async (argv: readonly string[]): Promise<{ code: number; output: string }> => {
    const [tool = '', ...args] = argv.map((a) => bindings.get(a) ?? [...bindings].reduce((s, [k, v]) => s.replaceAll(k, v), a));
    if (tool === 'systemctl' && args[1] === 'weftd') {
      if (args[0] === 'stop' || args[0] === 'restart') await daemons.get(1)?.stop('SIGTERM');
      if (args[0] === 'start' || args[0] === 'restart') await start(1).waitForLog(msgIs('first reconcile pass done; ready'), 30000, 'host1 ready');
      return { code: 0, output: '' };
    }
    let file: string;
    let fileArgs: string[];
    if (tool === 'weftctl' || tool === 'weftd') [file, fileArgs] = nodeArgv(tool === 'weftctl' ? WEFTCTL_BIN : WEFTD_BIN, args, netns);
    else if (TOOLS.has(tool)) [file, fileArgs] = ['ip', ['netns', 'exec', netns, tool, ...args]];
    else throw new Error(`the doc test does not run ${tool}`);
    const r = await execa(file, fileArgs, { reject: false, all: true, timeout: 60_000, env: childEnv(hostEnv), extendEnv: false, stdin: 'ignore' });
    return { code: r.exitCode ?? -1, output: String(r.all ?? '') };
  };

  const blocks: DocBlock[] = texts.flatMap(({ file, text }) => doctestBlocks(file, text));
  for (const block of blocks) {
    t.test(`${block.file}:${block.line}`, async (t) => {
      for (const command of block.commands) {
        const where = `${block.file}:${command.line}: $ ${command.argv.join(' ')}`;
        const { code, output } = await run(command.argv);
        t.equal(code, command.expectedExit, `${where} exits ${command.expectedExit}\n${output}`);
        t.same(unmatchedLines(command.expected, output, bindings), [], `${where}: every line the docs show\n--- printed:\n${output}`);
      }
    });
  }
}
