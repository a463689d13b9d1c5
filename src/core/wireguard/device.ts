/**
 * The wireguard backend's kernel objects, as flannel's `flannel-wg` and
 * `flannel-wg-v6` with weft's names: `weft-wg` with its `<subnet .0>/32`
 * address and one `scope link` route for the whole network on it, marked
 * with weft's route protocol; on a dual-stack network `<v6 subnet>/128` and
 * one route for the IPv6 network, on `weft-wg-v6` in Mode "separate" (its own
 * listen port, `ListenPortV6`) or on `weft-wg` in the single-device modes
 * (`auto`, `ipv4`, `ipv6`). Per-peer routing is WireGuard's own (allowed
 * IPs), so no per-peer route, neighbour or FDB entry exists.
 */
import { type Cidr, type Ipv4, cidrIp } from '../cidr.js';
import { type Cidr6, type Ipv6, cidr6Ip } from '../cidr6.js';
import { WEFT_ROUTE_PROTOCOL } from '../kernel-state.js';
import type { WireguardBackend } from './backend-config.js';
import { wireguardDeviceMtu } from './backend-config.js';

/** The IPv4 device, and the only one in the single-device modes (flannel: `flannel-wg`). */
export const WIREGUARD_DEVICE = 'weft-wg';
/** The IPv6 device in Mode "separate" on a dual-stack network (flannel: `flannel-wg-v6`). */
export const WIREGUARD_DEVICE_V6 = 'weft-wg-v6';

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

/** One overlay family on a device: its `/32` or `/128` address and its one network route. */
export interface TunnelOverlay {
  readonly family: 4 | 6;
  readonly address: Ipv4 | Ipv6;
  readonly route: Cidr | Cidr6;
}

/** A WireGuard device of this host: name, MTU, listen port, the overlay families it carries. */
export interface TunnelSpec {
  readonly name: string;
  readonly mtu: number;
  readonly listenPort: number;
  readonly overlays: readonly TunnelOverlay[];
}

/** This host's overlay: the IPv4 network and subnet, and on a dual-stack host the IPv6 ones. */
export interface OwnOverlay {
  readonly network: Cidr;
  readonly subnet: Cidr;
  readonly network6?: Cidr6 | undefined;
  readonly subnet6?: Cidr6 | undefined;
}

/**
 * The devices this host runs (flannel's RegisterNetwork): `weft-wg` for IPv4;
 * with IPv6, `weft-wg-v6` on `ListenPortV6` in Mode "separate", else IPv6 on
 * `weft-wg` too. Both devices have the same MTU (underlay − 80).
 */
export function wireguardTunnels(backend: WireguardBackend, own: OwnOverlay, underlayMtu: number): TunnelSpec[] {
  const mtu = wireguardDeviceMtu(backend.mtu ?? underlayMtu);
  const v4: TunnelOverlay = { family: 4, address: cidrIp(own.subnet), route: own.network };
  const v6: TunnelOverlay | undefined = own.network6 !== undefined && own.subnet6 !== undefined
    ? { family: 6, address: cidr6Ip(own.subnet6), route: own.network6 } : undefined;
  if (v6 === undefined) return [{ name: WIREGUARD_DEVICE, mtu, listenPort: backend.listenPort, overlays: [v4] }];
  if (backend.mode !== 'separate') return [{ name: WIREGUARD_DEVICE, mtu, listenPort: backend.listenPort, overlays: [v4, v6] }];
  return [
    { name: WIREGUARD_DEVICE, mtu, listenPort: backend.listenPort, overlays: [v4] },
    { name: WIREGUARD_DEVICE_V6, mtu, listenPort: backend.listenPortV6, overlays: [v6] },
  ];
}

/**
 * The ports this host advertises: `BackendData.Port` and `BackendV6Data.Port`.
 * Mode "separate": ListenPort and ListenPortV6, as flanneld. The single-device
 * modes: ListenPort in both, where the one device listens (flanneld writes
 * ListenPortV6 into BackendV6Data whatever the mode, so a flanneld ≥ v0.26.6
 * in Mode "ipv6" sends to a port where nothing listens; next-anchors §1.7).
 */
export function advertisedPorts(backend: WireguardBackend): { readonly v4: number; readonly v6: number } {
  return { v4: backend.listenPort, v6: backend.mode === 'separate' ? backend.listenPortV6 : backend.listenPort };
}

/** A route on the device as `ip -N -j route show dev` lists it (protocol and scope numeric or named). */
export interface DeviceRoute {
  readonly dst: string;
  readonly protocol: string | undefined;
  readonly scope: string | undefined;
}

/**
 * The network route as weft wants it is among the device's routes: weft's
 * protocol, scope link (IPv4; IPv6 routes have no scope).
 */
export function hasNetworkRoute(routes: readonly DeviceRoute[], network: Cidr | Cidr6): boolean {
  const v6 = network.includes(':');
  // `-N` prints the scope as a number too: link is 253.
  return routes.some((r) => r.dst === network && r.protocol === String(WEFT_ROUTE_PROTOCOL)
    && (v6 || r.scope === 'link' || r.scope === '253'));
}
