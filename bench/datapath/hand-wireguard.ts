/**
 * The reference for weft's wireguard backend in the data-path bench: the same
 * two rig hosts joined by a WireGuard tunnel made by hand with wireguard-go
 * and `wg` (keys from `wg genkey`, `wg set … peer … endpoint … allowed-ips`),
 * device `hwg` on UDP 51821, the same MTU as weft-wg, and one plain route per
 * host to the other's hand-made pod subnet (10.99.<j>.0/24 dev hwg). Each
 * host's wireguard-go and `wg` see their own socket directory as
 * /run/wireguard (next-anchors §3.4). Nothing of weft's configures it.
 *
 * Its wireguard-go processes are started the way weftd starts its own:
 * detached, in a session of their own (startDetachedWireguardGo). That is a
 * setting of the comparison, not a detail: with the kernel's scheduler
 * autogroups (/proc/sys/kernel/sched_autogroup_enabled, on here) a process
 * in its own session gets a CPU share of its own, and on this 2-core machine
 * a wireguard-go kept in the bench's session moved ~25 % more than a detached
 * one (measured both ways: 0.29 vs 0.23 Gbit/s in every one of 10 pairs;
 * 1.0× once both were detached). Under systemd each unit's cgroup decides
 * instead.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { startDetachedWireguardGo, stopWireguardGo } from '../../src/adapters/wireguard/wireguard-go-daemon.js';
import { ip } from '../../test/rig/netns.js';
import type { Rig } from '../../test/rig/rig.js';

export const HAND_WG_DEVICE = 'hwg';
const HAND_WG_PORT = 51821;
/** Fixed text; $1 = socket directory, then wg's arguments. */
const WG_WITH_SOCKET_DIR = 'mkdir -p /run/wireguard && mount --bind "$1" /run/wireguard && shift && exec wg "$@"';

export interface HandWireguard {
  /** wireguard-go's PIDs, host 1 then host 2. */
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

async function wg(netns: string, socketDir: string, args: readonly string[], input?: string): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', netns, 'sh', '-c', WG_WITH_SOCKET_DIR, 'wg', socketDir, ...args], input === undefined ? {} : { input });
  return r.stdout.trim();
}

/** Builds the tunnel on hosts 1 and 2 and routes the hand-made pods' subnets (10.99.<i>.0/24) through it. */
export async function buildHandWireguard(rig: Rig, options: { mtu: number }): Promise<HandWireguard> {
  const pids: number[] = [];
  const runDirs: string[] = [];
  const stop = async (): Promise<void> => { await Promise.all(runDirs.map((dir) => stopWireguardGo(dir, HAND_WG_DEVICE))); };
  const keys: { socketDir: string; privateFile: string; publicKey: string }[] = [];
  try {
    for (const i of [1, 2]) {
      const netns = rig.host(i).netns;
      const socketDir = join(rig.stateDir, `hand-wg${i}`);
      mkdirSync(socketDir, { recursive: true });
      const runDir = join(socketDir, 'run');
      runDirs.push(runDir);
      pids.push(await startDetachedWireguardGo({ device: HAND_WG_DEVICE, netns, socketDir, runDir }));
      const privateKey = await wg(netns, socketDir, ['genkey']);
      const privateFile = join(socketDir, 'private.key');
      await execa('sh', ['-c', 'umask 077 && cat > "$1"', 'sh', privateFile], { input: privateKey });
      keys.push({ socketDir, privateFile, publicKey: await wg(netns, socketDir, ['pubkey'], privateKey) });
    }
    for (const [i, j] of [[1, 2], [2, 1]] as const) {
      const netns = rig.host(i).netns;
      const self = keys[i - 1]!;
      const peer = keys[j - 1]!;
      await wg(netns, self.socketDir, ['set', HAND_WG_DEVICE, 'private-key', self.privateFile, 'listen-port', String(HAND_WG_PORT),
        'peer', peer.publicKey, 'endpoint', `${rig.host(j).address}:${HAND_WG_PORT}`, 'allowed-ips', `10.99.${j}.0/24`]);
      await ip(['-n', netns, 'link', 'set', HAND_WG_DEVICE, 'mtu', String(options.mtu), 'up']);
      await ip(['-n', netns, 'route', 'replace', `10.99.${j}.0/24`, 'dev', HAND_WG_DEVICE]);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { pids, stop };
}
