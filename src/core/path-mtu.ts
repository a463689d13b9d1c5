/**
 * The doctor's DF probe through the overlay: does a packet of the device's
 * MTU, with Don't Fragment set, cross to a peer's VTEP address and back?
 * If not, the largest size that did (found by bisection). Pure: the search
 * plan and the verdict; src/cli/weftctl-doctor.ts sends the pings.
 */
import { type Cidr, cidrIp } from './cidr.js';
import { type CheckResult, fail, ok, warn } from './check-result.js';

/** The smallest IP packet a ping can send (20 IP + 8 ICMP bytes, no payload). */
export const MIN_PROBE_SIZE = 28;

export interface DfProbe {
  /** The size tried first: the device MTU. */
  readonly size: number;
  readonly passed: boolean;
  /** When the full size failed: the largest size that crossed (undefined: none did). */
  readonly largest?: number | undefined;
  /** ping's line for the full size (e.g. `message too long, mtu=1400`, or the loss summary). */
  readonly output: string;
}

/**
 * The largest size in [MIN_PROBE_SIZE, below) for which `passes` holds, by
 * bisection (passing is monotonic in the size); undefined when none does.
 */
export async function largestPassing(below: number, passes: (size: number) => Promise<boolean>): Promise<number | undefined> {
  let lo = MIN_PROBE_SIZE - 1; // the largest known to pass (MIN − 1: none yet)
  let hi = below; // the smallest known to fail
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await passes(mid)) lo = mid;
    else hi = mid;
  }
  return lo >= MIN_PROBE_SIZE ? lo : undefined;
}

export function checkPathMtu(subnet: Cidr, device: string, deviceMtu: number, df: DfProbe): CheckResult {
  const name = `df ${subnet}`;
  const vtep = cidrIp(subnet);
  if (df.passed) return ok(name, `a ${df.size}-byte packet with DF set (the ${device} MTU, the pods' MTU) crossed to ${vtep} and back`);
  if (df.largest === undefined) {
    return warn(name, `no DF-set packet crossed to ${vtep} (${df.output}), although a plain ping did`, 'check for a firewall dropping ICMP with DF set, or fragments, between the hosts');
  }
  return fail(name, `a ${df.size}-byte packet with DF set (the ${device} MTU ${deviceMtu}) did not cross to ${vtep} (${df.output}); the largest that did: ${df.largest} bytes`,
    `the path between the hosts carries less than ${deviceMtu + 50} bytes: lower Backend.MTU to ${df.largest + 50} (the underlay MTU; weft subtracts 50) with weftctl config set and restart weftd on every host, `
    + 'or fix the underlay (a tunnel, VPN or VLAN on the path with a smaller MTU)');
}
