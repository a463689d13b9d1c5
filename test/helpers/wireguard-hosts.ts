/**
 * Two WireGuard test hosts without weftd: namespaces `<prefix>-a` and
 * `<prefix>-b` joined by a veth pair as the underlay (198.51.100.1 and .2),
 * each with a private key and a socket directory of its own in a fresh
 * folder (wireguard-go's socket directory is shared by every namespace,
 * next-anchors.md §3.4). Tests start wireguard-go themselves and set `proc`;
 * the namespaces, those processes and the folder go at the end of the test,
 * also when the process exits early.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecretKey, WgPublicKey } from '../../src/core/wireguard/keys.js';
import { loadOrCreatePrivateKey } from '../../src/adapters/wireguard/key-store.js';
import type { WireguardGoProcess } from '../../src/adapters/wireguard/wireguard-go.js';
import { addNetns, ip } from '../rig/netns.js';
import { teardownPrefixSync } from '../rig/teardown.js';

export interface WireguardTestHost {
  readonly name: 'a' | 'b';
  readonly ns: string;
  readonly underlay: string;
  /** This host's pod subnet, `<subnetBase>.<1 or 2>.0/24`. */
  readonly subnet: string;
  readonly socketDir: string;
  privateKey: SecretKey;
  publicKey: WgPublicKey;
  proc?: WireguardGoProcess;
}

export async function twoWireguardHosts(t: { teardown(fn: () => void): unknown }, options: { prefix: string; subnetBase: string }):
Promise<{ work: string; hosts: [WireguardTestHost, WireguardTestHost] }> {
  const work = mkdtempSync(join(tmpdir(), `weft-${options.prefix}-`));
  const hosts: WireguardTestHost[] = [];
  const cleanup = (): void => {
    teardownPrefixSync(options.prefix, hosts.flatMap((h) => (h.proc?.running ? [h.proc.pid] : [])));
    rmSync(work, { recursive: true, force: true });
  };
  t.teardown(cleanup);
  process.once('exit', cleanup);
  for (const [name, octet] of [['a', 1], ['b', 2]] as const) {
    const key = await loadOrCreatePrivateKey(join(work, name, 'key', 'private.key'));
    hosts.push({ name, ns: `${options.prefix}-${name}`, underlay: `198.51.100.${octet}`, subnet: `${options.subnetBase}.${octet}.0/24`,
      socketDir: join(work, name, 'run'), privateKey: key.privateKey, publicKey: key.publicKey });
  }
  const [a, b] = hosts as [WireguardTestHost, WireguardTestHost];
  await addNetns(a.ns);
  await addNetns(b.ns);
  await ip(['-n', a.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.ns]);
  for (const host of hosts) {
    await ip(['-n', host.ns, 'addr', 'add', `${host.underlay}/24`, 'dev', 'eth0']);
    await ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
  }
  return { work, hosts: [a, b] };
}
