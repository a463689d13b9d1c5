/**
 * What `weftctl status` and `weftctl doctor` read of one VXLAN device (IPv4 or
 * IPv6): weft's entries on it and, with DirectRouting, which peers the
 * underlay's routes send direct. weftd's direct routes sit on the device's
 * parent and are read as weft's even with DirectRouting off (weftd replaces
 * those a host left with VXLAN routes: they are not foreign).
 */
import type { Cidr } from '../core/cidr.js';
import type { Cidr6 } from '../core/cidr6.js';
import { type DirectPaths, type UnderlayRoute, configuredPaths } from '../core/direct-routing.js';
import type { KernelState } from '../core/kernel-state.js';
import type { Kernel, VxlanLinkInfo } from '../adapters/kernel.js';

export interface VxlanView {
  /** undefined when the device is missing or not VXLAN. */
  readonly state: KernelState | undefined;
  /** undefined with DirectRouting off (every peer VXLAN). */
  readonly paths: DirectPaths | undefined;
  /** The main table's routes the paths were decided from (doctor's facts); undefined with DirectRouting off. */
  readonly underlayRoutes: readonly UnderlayRoute[] | undefined;
}

export const NO_VXLAN_VIEW: VxlanView = Object.freeze({ state: undefined, paths: undefined, underlayRoutes: undefined });

export async function readVxlanView(kernel: Pick<Kernel, 'readState' | 'readUnderlayRoutes'>, name: string, link: VxlanLinkInfo | undefined,
  network: Cidr | Cidr6 | undefined, directRouting: boolean, family: 4 | 6): Promise<VxlanView> {
  if (link?.kind !== 'vxlan') return NO_VXLAN_VIEW;
  const directDevice = link.parent ?? undefined;
  const [state, underlayRoutes] = await Promise.all([
    kernel.readState(name, network, directDevice),
    directRouting && directDevice !== undefined ? kernel.readUnderlayRoutes() : undefined,
  ]);
  return { state, paths: configuredPaths(directRouting, directDevice, underlayRoutes, family), underlayRoutes };
}
