/**
 * The one rule for `Backend.MTU` against the external interface: it is the
 * underlay MTU (the device gets it minus the VXLAN overhead), so it may not
 * be larger than the MTU of the interface the encapsulated packets leave
 * by. A larger value would give pods an MTU the underlay cannot carry:
 * packets dropped or fragmented on every host (field-failures §1.12).
 * weftd refuses to start with it; doctor FAILs it. Pure.
 */
import { VXLAN_OVERHEAD } from './network-config.js';

export interface UnderlayMtuProblem {
  readonly detail: string;
  readonly fix: string;
}

/** Why `Backend.MTU` cannot be used on this interface, or undefined when it fits (or is not set). */
export function underlayMtuProblem(backendMtu: number | undefined, iface: { readonly name: string; readonly mtu: number }): UnderlayMtuProblem | undefined {
  if (backendMtu === undefined || backendMtu <= iface.mtu) return undefined;
  return {
    detail: `Backend.MTU ${backendMtu} is larger than the MTU ${iface.mtu} of the external interface ${iface.name} `
      + `(Backend.MTU is the underlay MTU: the device would get ${backendMtu - VXLAN_OVERHEAD}, and pods would send packets ${iface.name} cannot carry)`,
    fix: `set Backend.MTU to at most ${iface.mtu} with weftctl config set (it is the underlay MTU; weft subtracts ${VXLAN_OVERHEAD}), `
      + `or leave it out to use ${iface.name}'s MTU, or raise ${iface.name}'s MTU; then restart weftd`,
  };
}
