/**
 * etcd for the rig CLI: started detached inside the switch namespace so it
 * outlives `rig-cli up`, with its data and log under the rig's state dir.
 * `down` finds it among the namespace's processes. (Tests use the in-process
 * helper test/helpers/etcd-server.ts instead, which stops with the test.)
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { isAlive } from './netns.js';

export async function startDetachedEtcd(netns: string, host: string, stateDir: string): Promise<number> {
  const logFile = join(stateDir, 'etcd.log');
  const log = openSync(logFile, 'a');
  const client = `http://${host}:2379`;
  const peer = 'http://127.0.0.1:2380';
  const child = spawn('ip', ['netns', 'exec', netns, 'etcd', '--name', 'rig', '--data-dir', join(stateDir, 'etcd'),
    '--listen-client-urls', `${client},http://127.0.0.1:2379`, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `rig=${peer}`,
    '--log-level', 'warn', '--logger', 'zap'], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('etcd did not start');
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await execa('ip', ['netns', 'exec', netns, 'etcdctl', '--endpoints', client, '--command-timeout', '1s', 'endpoint', 'health'],
        { env: { ETCDCTL_API: '3' } });
      return pid;
    } catch (err) {
      if (!isAlive(pid) || Date.now() > deadline) {
        throw new Error(`etcd in ${netns} did not become healthy: ${readFileSync(logFile, 'utf8').slice(-2000)}`, { cause: err });
      }
      await sleep(100);
    }
  }
}
