/**
 * What differs between the IPv4 and the IPv6 VXLAN data path: which network
 * and public address the device serves, how its device is specified, and
 * its host address on the device (`/32`, `/128`). Everything else (reconcile,
 * kernel cache, drift repair) is one DataPlane class, run once per family.
 */
import { type Cidr, cidrIp, containsIp, parseCidr } from '../core/cidr.js';
import type { NetworkConfig } from '../core/network-config.js';
import { type ExternalInterface, type VxlanDeviceSpec, deviceSpec } from '../core/vxlan-device.js';
import type { PrepareInput } from './data-plane-port.js';

export interface AddressFamily {
  readonly name: 'IPv4' | 'IPv6';
  /** The overlay network of this family, undefined when the config does not enable it. */
  network(config: NetworkConfig): Cidr | undefined;
  /** The public address asked for on the command line, if any. */
  publicIp(input: PrepareInput): string | undefined;
  deviceSpec(config: NetworkConfig, ext: ExternalInterface, nodeName: string, local: string): VxlanDeviceSpec;
  /** The device's own address for this host's subnet (flannel: `<subnet address>/32`, `/128`). */
  hostAddress(selfSubnet: Cidr): string;
  /** True when `address` (`ip/len`, as read from the device) lies in the overlay network. */
  inNetwork(address: string, network: Cidr): boolean;
}

export const IPV4: AddressFamily = {
  name: 'IPv4',
  network: (config) => config.network,
  publicIp: (input) => input.publicIp,
  deviceSpec: (config, ext, nodeName, local) => deviceSpec(config, ext, nodeName, local as never),
  hostAddress: (selfSubnet) => `${cidrIp(selfSubnet)}/32`,
  inNetwork: (address, network) => {
    const parsed = parseCidr(address, false);
    return parsed.ok && containsIp(network, parsed.ip);
  },
};
