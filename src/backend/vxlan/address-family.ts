/**
 * What differs between the IPv4 and the IPv6 VXLAN data path: which network
 * the device serves, how the external interface and the device's local
 * address are chosen and the device specified, and its host address on the
 * device (`/32`, `/128`). Everything else (reconcile, kernel cache, drift
 * repair) is one DataPlane class, run once per family.
 */
import { type Cidr, type Ipv4, cidrIp, containsIp, parseCidr } from '../../core/cidr.js';
import { type Cidr6, containsIp6, parseCidr6 } from '../../core/cidr6.js';
import { UsageError } from '../../core/errors.js';
import { asPlaneSubnet } from '../../core/family-view.js';
import type { NetworkConfig } from '../../core/network-config.js';
import { type VxlanDeviceSpec, deviceSpec, deviceSpec6, vxlanLocal } from '../../core/vxlan-device.js';
import type { Kernel } from '../../adapters/kernel.js';
import type { PrepareInput } from '../data-plane-port.js';

/** The chosen underlay and the device to make on it. */
export interface DeviceChoice {
  /** The external interface (its name and MTU: the underlay MTU rule looks at it). */
  readonly ext: { readonly name: string; readonly mtu: number };
  readonly spec: VxlanDeviceSpec;
  /** The address peers send this family's VXLAN traffic to (the device's `local`). */
  readonly publicIp: string;
}

export interface AddressFamily {
  readonly name: 'IPv4' | 'IPv6';
  /** Unmarked onlink routes on the device (an older weft's, proto boot) are weft's to take over: IPv4 only. */
  readonly legacyRoutes: boolean;
  /** The overlay network of this family, undefined when the config does not enable it. */
  network(config: NetworkConfig): Cidr | undefined;
  /** Picks the external interface and local address (a bad `--public-ip`/`--public-ipv6` is a UsageError) and specifies the device. */
  chooseDevice(kernel: Kernel, input: PrepareInput): Promise<DeviceChoice>;
  /** The device's own address for this host's subnet (flannel: `<subnet address>/32`, `/128`). */
  hostAddress(selfSubnet: Cidr): string;
  /** True when `address` (`ip/len`, as read from the device) lies in the overlay network. */
  inNetwork(address: string, network: Cidr): boolean;
}

export const IPV4: AddressFamily = {
  name: 'IPv4',
  legacyRoutes: true,
  network: (config) => config.network,
  async chooseDevice(kernel, input) {
    const ext = await kernel.externalInterface({ iface: input.iface, publicIp: input.publicIp });
    const local = vxlanLocal(ext, input.publicIp);
    if (!local.ok) throw new UsageError(local.reason);
    return { ext, spec: deviceSpec(input.config, ext, input.nodeName, local.local), publicIp: local.local };
  },
  hostAddress: (selfSubnet) => `${cidrIp(selfSubnet)}/32`,
  inNetwork: (address, network) => {
    const parsed = parseCidr(address, false);
    return parsed.ok && containsIp(network, parsed.ip);
  },
};

/**
 * The IPv6 device sits on the IPv4 device's external interface (flannel's
 * rule too: one underlay interface), named by `input.iface`; its local is
 * `--public-ipv6` or the interface's first global IPv6 address, never a
 * link-local one (the adapter refuses and says so).
 */
export const IPV6: AddressFamily = {
  name: 'IPv6',
  legacyRoutes: false,
  network: (config) => (config.ipv6 === undefined ? undefined : asPlaneSubnet(config.ipv6.network)),
  async chooseDevice(kernel, input) {
    const iface = input.iface ?? (await kernel.externalInterface({ publicIp: input.publicIp as Ipv4 | undefined })).name;
    const ext = await kernel.externalInterface6(iface, input.publicIpv6);
    return { ext, spec: deviceSpec6(input.config, ext, input.nodeName), publicIp: ext.address };
  },
  hostAddress: (selfSubnet) => `${cidrIp(selfSubnet)}/128`,
  inNetwork: (address, network) => {
    const parsed = parseCidr6(address, false);
    return parsed.ok && containsIp6(network as string as Cidr6, parsed.ip);
  },
};
