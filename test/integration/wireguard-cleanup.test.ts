/**
 * `weftctl cleanup` and the wireguard backend's tunnel, against real
 * wireguard-go in a network namespace this test creates: the wireguard-go
 * whose PID weftd recorded is stopped (device, address and UAPI socket go
 * with it) and the PID file removed; a `weft-wg` without a PID file of ours
 * is deleted; a PID file naming a process that is not wireguard-go kills
 * nothing; a second run finds nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { wireguardGoCommand } from '../../src/adapters/wireguard/wireguard-go.js';
import { UapiClient } from '../../src/adapters/wireguard/uapi-client.js';
import { requirePrerequisites } from '../helpers/require.js';
import { runWeftctl } from '../helpers/weftd-process.js';
import { addNetns, inNetns, isAlive, uniquePrefix } from '../rig/netns.js';
import { teardownPrefixSync } from '../rig/teardown.js';

const DEV = 'weft-wg';
const prefix = uniquePrefix('wgc');

if (requirePrerequisites(t, ['ip', 'wireguard-go', 'unshare', 'iptables'], true)) {
  const work = mkdtempSync(join(tmpdir(), 'weft-wg-cleanup-'));
  const ns = `${prefix}-h1`;
  const socketDir = join(work, 'sock');
  const runDir = join(work, 'run');
  mkdirSync(runDir);
  const pids: number[] = [];
  const cleanup = (): void => {
    teardownPrefixSync(prefix, pids.filter(isAlive));
    rmSync(work, { recursive: true, force: true });
  };
  t.teardown(cleanup);
  process.once('exit', cleanup);
  await addNetns(ns);
  const client = new UapiClient({ device: DEV, socketDir });

  /** A wireguard-go in the namespace, as weftd starts it (detached); its PID recorded when `record`. */
  const startTunnel = async (record: boolean): Promise<number> => {
    const command = wireguardGoCommand({ device: DEV, socketDir, netns: ns });
    mkdirSync(socketDir, { recursive: true });
    const child = spawn(command.file, [...command.args], { detached: true, stdio: 'ignore', env: { ...process.env, ...command.env } });
    child.unref();
    const pid = child.pid ?? 0;
    pids.push(pid);
    for (let i = 0; i < 200 && !(await client.isLive()); i++) await new Promise((r) => setTimeout(r, 50));
    if (!(await client.isLive())) throw new Error('wireguard-go did not answer');
    await inNetns(ns, 'ip', ['addr', 'add', '10.42.7.0/32', 'dev', DEV]);
    await inNetns(ns, 'ip', ['link', 'set', DEV, 'up']);
    if (record) writeFileSync(join(runDir, `${DEV}.pid`), `${pid}\n`);
    return pid;
  };
  const cleanupCmd = () => runWeftctl(['cleanup', '--wireguard-run-dir', runDir, '--config-file', join(work, 'none.env')], { netns: ns });
  const hasDevice = async () => (await inNetns(ns, 'ip', ['-o', 'link', 'show'])).includes(`${DEV}:`);

  t.test('the recorded wireguard-go is stopped and weft-wg goes with it; then nothing to remove', async (t) => {
    const pid = await startTunnel(true);
    t.ok(await hasDevice(), 'weft-wg exists before');
    const r = await cleanupCmd();
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, `stopped wireguard-go (PID ${pid}); weft-wg, its address and route went with it`);
    t.notOk(isAlive(pid), 'wireguard-go is gone');
    t.notOk(await hasDevice(), 'weft-wg is gone');
    t.notOk(existsSync(join(runDir, `${DEV}.pid`)), 'the PID file is removed');
    t.notOk(existsSync(join(socketDir, `${DEV}.sock`)), 'the UAPI socket is removed');
    const again = await cleanupCmd();
    t.same([again.code, again.stdout], [0, 'nothing to remove: no weft iptables chains or jumps, no weft-wg tunnel on this host']);
  });

  t.test('a weft-wg without a PID file of ours is deleted (its wireguard-go exits with it)', async (t) => {
    const pid = await startTunnel(false);
    const r = await cleanupCmd();
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'deleted device weft-wg');
    t.notOk(await hasDevice());
    for (let i = 0; i < 60 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    t.notOk(isAlive(pid), 'wireguard-go exits when its device is deleted');
  });

  t.test('a PID file naming another process (a reused PID) kills nothing', async (t) => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    const pid = sleeper.pid ?? 0;
    pids.push(pid);
    writeFileSync(join(runDir, `${DEV}.pid`), `${pid}\n`);
    const r = await cleanupCmd();
    t.same([r.code, r.stdout], [0, 'nothing to remove: no weft iptables chains or jumps, no weft-wg tunnel on this host']);
    t.ok(isAlive(pid), 'the process the stale PID file names is untouched');
    sleeper.kill();
  });
}
