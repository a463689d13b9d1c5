/**
 * The wireguard backend's kernel objects, as flannel's `flannel-wg` with
 * weft's name: one device for IPv4 (`weft-wg`), its `<subnet .0>/32` address
 * and one `scope link` route for the whole network on it, marked with weft's
 * route protocol. Per-peer routing is WireGuard's own (allowed IPs), so no
 * per-peer route, neighbour or FDB entry exists.
 */
import { type Cidr, type Ipv4, cidrIp } from '../cidr.js';
import { WEFT_ROUTE_PROTOCOL } from '../kernel-state.js';
import type { WireguardBackend } from './backend-config.js';
import { wireguardDeviceMtu } from './backend-config.js';

/** The IPv4 device (flannel: `flannel-wg`). */
export const WIREGUARD_DEVICE = 'weft-wg';

/**
 * Where wireguard-go puts its UAPI sockets (compiled in; `/var/run` is a link
 * to `/run` on Debian): weftd's `--wireguard-socket-dir` default, and where
 * `weftctl status|doctor` look for the device unless told otherwise.
 */
export const DEFAULT_SOCKET_DIR = '/run/wireguard';

/** Where weftd keeps the PID file and log of the wireguard-go it started (`--wireguard-run-dir`). */
export const DEFAULT_RUN_DIR = '/run/weft';

/** What the device should look like on this host. */
export interface WireguardDeviceSpec {
  readonly name: string;
  readonly mtu: number;
  readonly listenPort: number;
  /** `<own subnet .0>/32`, as flannel and weft's VXLAN device. */
  readonly address: Ipv4;
  /** The one route on the device: the whole overlay network. */
  readonly route: Cidr;
}

export function wireguardDeviceSpec(backend: WireguardBackend, network: Cidr, selfSubnet: Cidr, underlayMtu: number): WireguardDeviceSpec {
  return {
    name: WIREGUARD_DEVICE, mtu: wireguardDeviceMtu(backend.mtu ?? underlayMtu), listenPort: backend.listenPort,
    address: cidrIp(selfSubnet), route: network,
  };
}

/** A route on the device as `ip -N -j route show dev` lists it (protocol and scope numeric or named). */
export interface DeviceRoute {
  readonly dst: string;
  readonly protocol: string | undefined;
  readonly scope: string | undefined;
}

/** The network route as weft wants it is among the device's routes: scope link, weft's protocol. */
export function hasNetworkRoute(routes: readonly DeviceRoute[], network: Cidr): boolean {
  // `-N` prints the scope as a number too: link is 253.
  return routes.some((r) => r.dst === network && r.protocol === String(WEFT_ROUTE_PROTOCOL) && (r.scope === 'link' || r.scope === '253'));
}
