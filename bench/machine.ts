/**
 * The machine line of docs/benchmarks.md's generated section: cores, a speed
 * reference (`node -e 0`, median of 11 runs, NODE_EXTRA_CA_CERTS unset like
 * every process the bench starts), kernel, iproute2, Node, and the load
 * average (the machine is shared: a high load explains a noisy run).
 * Usage: node dist/bench/machine.js
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, release } from 'node:os';
import { childEnv } from '../test/helpers/weftd-process.js';
import { median } from './stats.js';

function nodeStartMs(): number {
  const runs: number[] = [];
  for (let i = 0; i < 11; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['-e', '0'], { env: childEnv(), stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`node -e 0 exited ${r.status}`);
    runs.push(performance.now() - t0);
  }
  return median(runs);
}

const iproute2 = (spawnSync('ip', ['-V'], { encoding: 'utf8' }).stdout.match(/iproute2-[\w.]+/) ?? ['unknown'])[0];
const nproc = spawnSync('nproc', [], { encoding: 'utf8' }).stdout.trim();
process.stdout.write(`Machine: ${nproc} cores (${cpus()[0]?.model ?? 'unknown CPU'}), \`node -e 0\` ${nodeStartMs().toFixed(1)} ms (median of 11), `
  + `kernel ${release()}, ${iproute2}, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} at the start.\n`);
