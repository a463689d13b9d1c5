/**
 * Picks the WireGuard implementation for weftd at prepare
 * (core/wireguard/implementation.ts says how) and clears the way for it: an
 * existing `weft-wg` of the other kind is removed (its wireguard-go stopped by
 * weft's PID file first), only when the flag forces the other kind.
 *
 * The kernel probe runs only when the existing device does not decide.
 */
import { randomBytes } from 'node:crypto';
import { type WireguardChoice, type WireguardImplementationFlag, type WireguardProbe, chooseImplementation } from '../../core/wireguard/implementation.js';
import type { CommandRunner } from '../iproute2/runner.js';
import { addWireguardLinkArgs, readLinkKind } from './kernel-device.js';
import { stopWireguardGo } from './wireguard-go-daemon.js';
import { detectWireguard } from './wireguard-go.js';

export interface SelectOptions {
  readonly flag: WireguardImplementationFlag;
  readonly device: string;
  readonly runner: CommandRunner;
  /** weftd's run dir (wireguard-go's PID file). */
  readonly runDir: string;
  /** Default probeKernelWireguard. */
  readonly probe?: () => Promise<WireguardProbe>;
}

/** The choice, with the other kind's device already removed when the choice replaces it. */
export async function selectWireguardImplementation(options: SelectOptions): Promise<WireguardChoice & { readonly existingKind: string | undefined }> {
  const existingKind = await readLinkKind(options.runner, options.device);
  let choice = chooseImplementation(options.flag, options.device, existingKind, undefined);
  if (choice === 'probe') {
    const probe = await (options.probe ?? (() => probeKernelWireguard(options.runner)))();
    choice = chooseImplementation(options.flag, options.device, existingKind, probe);
  }
  if (choice === 'probe') throw new Error('unreachable: chooseImplementation asked for a probe it was given');
  if (choice.replaceExisting) {
    await stopWireguardGo(options.runDir, options.device);
    if (await readLinkKind(options.runner, options.device) !== undefined) await options.runner('ip', ['link', 'del', 'dev', options.device]);
  }
  return { ...choice, existingKind };
}

/**
 * detectWireguard (a loaded module, or a wireguard link in a throw-away
 * network namespace). That probe needs CAP_SYS_ADMIN for `unshare --net`,
 * which weftd's unit does not grant; when unshare itself is refused, a link
 * with a random probe name is tried in weftd's own namespace and deleted at
 * once (CAP_NET_ADMIN suffices).
 */
export async function probeKernelWireguard(runner: CommandRunner, sysModuleDir?: string): Promise<WireguardProbe> {
  const found = await detectWireguard(runner, sysModuleDir);
  if (found.kind === 'kernel' || !/unshare/i.test(found.reason)) return found;
  const name = `weftwgp${randomBytes(3).toString('hex')}`;
  const added = await runner('ip', addWireguardLinkArgs(name), { allowFailure: true });
  if (added.exitCode !== 0) {
    return { kind: 'userspace', reason: `the kernel cannot create a wireguard link (${added.stderr.trim().split('\n').at(-1) ?? `exit ${added.exitCode}`})` };
  }
  await runner('ip', ['link', 'del', 'dev', name], { allowFailure: true });
  return { kind: 'kernel' };
}
