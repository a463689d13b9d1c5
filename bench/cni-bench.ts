/**
 * Start-up and ADD cost of the weft CNI plugin (dist/weft-cni.cjs), measured
 * against floors taken in the same run:
 *   - VERSION through weft vs `node -e 0` (target: <= 1.2x);
 *   - ADD through weft vs ADD calling bridge directly with the very config weft
 *     hands it (target: weft adds <= 15 ms at the median); DEL likewise.
 * Creates a node namespace and two pod namespaces (unique names), re-runs
 * itself inside the node namespace so plugins are spawned directly, and
 * deletes everything at the end. NODE_EXTRA_CA_CERTS and NODE_OPTIONS are removed for children.
 * Usage (root): node dist/bench/cni-bench.js [--runs 30]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const BUNDLE = join(dirname(SELF), '..', 'weft-cni.cjs');
const BRIDGE = '/usr/lib/cni/bridge';

interface Setup {
  readonly dir: string;
  readonly podA: string;
  readonly podB: string;
  readonly runs: number;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_EXTRA_CA_CERTS']; // adds ~55 ms to every Node start on these machines
  delete env['NODE_OPTIONS']; // e.g. a test runner's loader hooks
  return env;
}

/** Wall time of one child process, in ms; throws when it fails. */
function timeOnce(file: string, args: readonly string[], env: NodeJS.ProcessEnv, input: string): { ms: number; stdout: string } {
  const start = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, input, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return { ms, stdout: r.stdout };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function pct(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

const fmt = (ms: number): string => ms.toFixed(1);

function cniEnv(command: string, setup: Setup, pod: string): NodeJS.ProcessEnv {
  return cleanEnv({ CNI_COMMAND: command, CNI_CONTAINERID: pod, CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: 'eth0', CNI_PATH: `${join(setup.dir, 'bin')}:/usr/lib/cni` });
}

/** Runs inside the node namespace: all measurements, then the report. */
function inner(setup: Setup): void {
  const weft = join(setup.dir, 'bin', 'weft');
  const netconf = readFileSync(join(setup.dir, 'netconf.json'), 'utf8');
  const samples: Record<string, number[]> = { nodeE0: [], weftVersion: [], bridgeVersion: [], weftAdd: [], bridgeAdd: [], weftDel: [], bridgeDel: [] };
  const versionEnv = cleanEnv({ CNI_COMMAND: 'VERSION', CNI_NETNS: 'dummy', CNI_PATH: 'dummy' });
  for (let i = 0; i < setup.runs + 5; i++) {
    const keep = i >= 5;
    const e0 = timeOnce(process.execPath, ['-e', '0'], cleanEnv(), '');
    const wv = timeOnce(weft, [], versionEnv, '{"cniVersion":"1.0.0"}');
    const bv = timeOnce(BRIDGE, [], versionEnv, '{"cniVersion":"1.0.0"}');
    if (keep) {
      samples['nodeE0']?.push(e0.ms);
      samples['weftVersion']?.push(wv.ms);
      samples['bridgeVersion']?.push(bv.ms);
    }
  }
  // Warm-up ADD creates the bridge; the delegate config weft saves is what bridge gets directly.
  timeOnce(weft, [], cniEnv('ADD', setup, setup.podA), netconf);
  const network = (JSON.parse(netconf) as { name: string }).name;
  const record = JSON.parse(readFileSync(join(setup.dir, 'data', '_attachments', network, `${setup.podA}:eth0`), 'utf8')) as { conf: string };
  const delegateConf = record.conf;
  timeOnce(weft, [], cniEnv('DEL', setup, setup.podA), netconf);
  for (let i = 0; i < setup.runs + 2; i++) {
    const keep = i >= 2;
    const wa = timeOnce(weft, [], cniEnv('ADD', setup, setup.podA), netconf);
    const wd = timeOnce(weft, [], cniEnv('DEL', setup, setup.podA), netconf);
    const ba = timeOnce(BRIDGE, [], cniEnv('ADD', setup, setup.podB), delegateConf);
    const bd = timeOnce(BRIDGE, [], cniEnv('DEL', setup, setup.podB), delegateConf);
    if (keep) {
      samples['weftAdd']?.push(wa.ms);
      samples['weftDel']?.push(wd.ms);
      samples['bridgeAdd']?.push(ba.ms);
      samples['bridgeDel']?.push(bd.ms);
    }
  }
  report(samples, setup.runs);
}

function report(s: Record<string, number[]>, runs: number): void {
  const m = (k: string): number => median(s[k] ?? []);
  const row = (label: string, key: string, floorKey: string): string => {
    const v = s[key] ?? [];
    return `| ${label} | ${fmt(m(key))} | ${fmt(pct(v, 0.1))} | ${fmt(pct(v, 0.9))} | ${fmt(m(floorKey))} | ${(m(key) / m(floorKey)).toFixed(2)}x | ${fmt(m(key) - m(floorKey))} |`;
  };
  const versionRatio = m('weftVersion') / m('nodeE0');
  const addOverhead = m('weftAdd') - m('bridgeAdd');
  console.log(`\n### weft CNI plugin start-up (${runs} runs each, interleaved; NODE_EXTRA_CA_CERTS unset; ms)\n`);
  console.log('| operation | median | p10 | p90 | floor (median) | ratio | added |');
  console.log('|---|---|---|---|---|---|---|');
  console.log(row('weft VERSION vs `node -e 0`', 'weftVersion', 'nodeE0'));
  console.log(row('bridge VERSION vs `node -e 0` (reference)', 'bridgeVersion', 'nodeE0'));
  console.log(row('weft ADD vs bridge ADD (same config)', 'weftAdd', 'bridgeAdd'));
  console.log(row('weft DEL vs bridge DEL (same config)', 'weftDel', 'bridgeDel'));
  console.log('');
  console.log(`VERSION ratio: ${versionRatio.toFixed(2)}x node -e 0 (target <= 1.20x): ${versionRatio <= 1.2 ? 'MET' : 'MISSED'}`);
  console.log(`ADD overhead: +${fmt(addOverhead)} ms over bridge ADD, ${(m('weftAdd') / m('bridgeAdd')).toFixed(2)}x (target <= 15 ms): ${addOverhead <= 15 ? 'MET' : 'MISSED'}`);
  console.log(`floor: node -e 0 = ${fmt(m('nodeE0'))} ms; a Node plugin cannot add less than that to a Go delegate's time`);
}

function run(file: string, args: readonly string[]): void {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr}`);
}

/** Creates namespaces and files, re-runs itself inside the node namespace, cleans up. */
function outer(runs: number): number {
  if (process.getuid?.() !== 0) throw new Error('cni-bench needs root (network namespaces)');
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  if (!existsSync(BRIDGE)) throw new Error(`${BRIDGE} is missing: apt-get install containernetworking-plugins`);
  const tag = `wcnib${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  const namespaces = [`${tag}-node`, `${tag}-a`, `${tag}-b`];
  const created: string[] = [];
  try {
    mkdirSync(join(dir, 'bin'));
    copyFileSync(BUNDLE, join(dir, 'bin', 'weft'));
    chmodSync(join(dir, 'bin', 'weft'), 0o755);
    writeFileSync(join(dir, 'subnet.env'), 'FLANNEL_NETWORK=10.79.0.0/16\nFLANNEL_SUBNET=10.79.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    writeFileSync(join(dir, 'netconf.json'), JSON.stringify({
      cniVersion: '1.0.0', name: `${tag}net`, type: 'weft', subnetFile: join(dir, 'subnet.env'), dataDir: join(dir, 'data'),
      delegate: { bridge: `${tag}br` }, ipam: { dataDir: join(dir, 'ipam') },
    }));
    for (const ns of namespaces) {
      run('ip', ['netns', 'add', ns]);
      created.push(ns);
    }
    const setup: Setup = { dir, podA: `${tag}-a`, podB: `${tag}-b`, runs };
    const r = spawnSync('ip', ['netns', 'exec', `${tag}-node`, process.execPath, SELF, '--inner', JSON.stringify(setup)], { stdio: 'inherit', env: cleanEnv() });
    return r.status ?? 1;
  } finally {
    for (const ns of created.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--inner') {
  inner(JSON.parse(args[1] ?? '{}') as Setup);
} else {
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 30;
  process.exitCode = outer(Number.isInteger(runs) && runs > 0 ? runs : 30);
}
