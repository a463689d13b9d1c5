/** The kernel adapter weftctl reads the IPv6 device `weft-v6.<VNI>` with (`ip -6`). */
import { IpRoute2 } from '../adapters/iproute2/iproute2.js';
import type { Kernel } from '../adapters/kernel.js';

/** An iproute2 adapter for the IPv6 device: entries and addresses of family 6. */
export function ipv6Kernel(): Kernel {
  return new IpRoute2({ family: 6 });
}
