/**
 * The kernel adapter weftctl reads the IPv6 device with (`ip -6`), and that
 * device's name. Kept in one small place: the adapter's `family` option and
 * `deviceName6` are being added to the iproute2 adapter and vxlan-device.ts
 * by the issue-10 kernel work; once both are on main this file shrinks to
 * re-using them.
 */
import { IpRoute2 } from '../adapters/iproute2/iproute2.js';
import type { Kernel } from '../adapters/kernel.js';

/** An iproute2 adapter for the IPv6 device: entries and addresses of family 6. */
export function ipv6Kernel(): Kernel {
  // Not an object literal: compiles against the adapter with and without its `family` option.
  const options = { family: 6 as const, netns: undefined };
  return new IpRoute2(options);
}

/** `weft-v6.<VNI>` (flannel: `flannel-v6.<VNI>`). */
export function ipv6DeviceName(vni: number): string {
  return `weft-v6.${vni}`;
}
