/**
 * The floor: what the kernel plus iproute2 need to hold n peers, measured in
 * the same run as weftd. A fresh VXLAN device, then one `bridge -force -batch -`
 * (n FDB entries) and one `ip -force -batch -` (n neighbours, n routes), wall
 * clock from the first spawn until the second exits. The kernel monitors run
 * during it as they do during weftd's runs, so both pay for them.
 */
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { childEnv } from '../test/helpers/weftd-process.js';
import { batchInput } from './peers.js';

const FLOOR_DEV = 'weftfloor';

/** Runs `file args` with `input` on stdin; resolves when it exits 0. */
function runWithInput(file: string, args: readonly string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'ignore', 'pipe'], env: childEnv() });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`))));
    child.stdin?.end(input);
  });
}

/** Counts of routes, neighbours and FDB entries on `dev`, from `ip -j` / `bridge -j`. */
export async function entryCounts(dev: string): Promise<{ routes: number; neighbours: number; fdb: number }> {
  const count = async (file: string, args: string[]): Promise<number> => (JSON.parse((await execa(file, ['-j', ...args])).stdout || '[]') as unknown[]).length;
  return {
    routes: await count('ip', ['route', 'show', 'dev', dev]),
    neighbours: await count('ip', ['neigh', 'show', 'dev', dev]),
    fdb: await count('bridge', ['fdb', 'show', 'dev', dev]),
  };
}

/** One floor measurement for n peers, in ms; `local` is the underlay address (eth0's). */
export async function measureFloor(n: number, local: string): Promise<number> {
  const input = batchInput(n, FLOOR_DEV);
  await execa('ip', ['link', 'del', FLOOR_DEV]).catch(() => undefined);
  await execa('ip', ['link', 'add', FLOOR_DEV, 'type', 'vxlan', 'id', '99', 'dev', 'eth0', 'local', local, 'dstport', '8499', 'nolearning']);
  await execa('ip', ['link', 'set', FLOOR_DEV, 'up']);
  try {
    const started = performance.now();
    await runWithInput('bridge', ['-force', '-batch', '-'], input.bridge);
    await runWithInput('ip', ['-force', '-batch', '-'], input.ip);
    const took = performance.now() - started;
    const c = await entryCounts(FLOOR_DEV);
    if (c.routes !== n || c.neighbours !== n || c.fdb !== n) throw new Error(`floor programmed ${c.routes}/${c.neighbours}/${c.fdb} routes/neighbours/fdb instead of ${n} each`);
    return took;
  } finally {
    await execa('ip', ['link', 'del', FLOOR_DEV]);
  }
}
