/**
 * Which WireGuard provides `weft-wg`: the kernel's (`ip link add … type
 * wireguard`, controlled with `wg`) or wireguard-go (a TUN device, controlled
 * over its UAPI socket). Chosen once, at prepare:
 *
 * 1. An existing `weft-wg` decides by its kind (a restart keeps the device and
 *    its tunnels): `wireguard` = kernel, `tun` = wireguard-go.
 * 2. Otherwise the kernel probe decides (kernel when it can create a
 *    wireguard link).
 * 3. `--wireguard-implementation kernel|userspace` overrides both; an existing
 *    device of the other kind is then replaced (tunnels blip once). `kernel`
 *    on a kernel without WireGuard is a usage error, never a silent fallback.
 */
import { UsageError } from '../errors.js';

export const WIREGUARD_IMPLEMENTATIONS = ['auto', 'kernel', 'userspace'] as const;
export type WireguardImplementationFlag = typeof WIREGUARD_IMPLEMENTATIONS[number];

/** What the kernel probe found (adapters/wireguard/wireguard-go.ts detectWireguard). */
export type WireguardProbe =
  | { readonly kind: 'kernel' }
  | { readonly kind: 'userspace'; readonly reason: string };

export interface WireguardChoice {
  readonly kind: 'kernel' | 'userspace';
  /** Why, for the log. */
  readonly reason: string;
  /** An existing `weft-wg` of the other kind must go first. */
  readonly replaceExisting: boolean;
}

/** The word `weftctl status` shows for an implementation. */
export function implementationWord(kind: 'kernel' | 'userspace'): string {
  return kind === 'kernel' ? 'kernel' : 'wireguard-go';
}

/** The implementation an existing device belongs to, by its link kind (`ip -d link` info_kind); undefined for none or a foreign kind. */
export function implementationOfKind(linkKind: string | undefined): 'kernel' | 'userspace' | undefined {
  if (linkKind === 'wireguard') return 'kernel';
  if (linkKind === 'tun') return 'userspace';
  return undefined;
}

/**
 * Decides without probing when it can; returns `'probe'` when the kernel probe
 * must answer first (call again with it).
 */
export function chooseImplementation(flag: WireguardImplementationFlag, device: string, existingKind: string | undefined,
  probe: WireguardProbe | undefined): WireguardChoice | 'probe' {
  const existing = implementationOfKind(existingKind);
  if (flag === 'userspace') {
    return { kind: 'userspace', reason: `--wireguard-implementation userspace${existing === 'kernel' ? `: replacing the kernel device ${device}` : ''}`,
      replaceExisting: existing === 'kernel' };
  }
  if (existing === 'kernel') return { kind: 'kernel', reason: `${device} exists as a kernel wireguard device: adopted`, replaceExisting: false };
  if (flag === 'auto' && existing === 'userspace') {
    return { kind: 'userspace', reason: `${device} exists as wireguard-go's tun device: adopted`, replaceExisting: false };
  }
  if (probe === undefined) return 'probe';
  if (probe.kind === 'kernel') {
    const why = flag === 'kernel' ? '--wireguard-implementation kernel' : 'the kernel has WireGuard';
    return { kind: 'kernel', reason: `${why}${existing === 'userspace' ? `: replacing wireguard-go's ${device}` : ''}`, replaceExisting: existing === 'userspace' };
  }
  if (flag === 'kernel') {
    throw new UsageError(`--wireguard-implementation kernel: this kernel has no WireGuard (${probe.reason}); `
      + 'load the wireguard module, or use --wireguard-implementation auto or userspace (wireguard-go)');
  }
  return { kind: 'userspace', reason: `${probe.reason}: using wireguard-go`, replaceExisting: false };
}
