/**
 * How this host's own lease, VXLAN device and subnet.env agree, shared by
 * `weftctl status` and `weftctl doctor`. Pure: the callers read etcd, the
 * kernel and the file.
 */
import { cidrIp } from './cidr.js';
import { cidr6Ip } from './cidr6.js';
import type { ListedLease } from './allocate.js';
import { type NetworkConfig, vxlanBackendOf } from './network-config.js';
import type { SubnetEnv } from './subnet-env.js';
import type { VxlanLinkInfo } from './vxlan-device.js';

/** subnet.env as read: parsed, or why not (`missing` when the file does not exist). */
export type SubnetFileState = { ok: true; env: SubnetEnv } | { ok: false; missing?: true; errors: readonly string[] };

export interface OwnLease {
  /** The lease naming this node; with several, the one matching subnet.env (else the first). */
  readonly lease: ListedLease | undefined;
  /** Every lease naming this node, when there is more than one. */
  readonly duplicates: readonly ListedLease[];
}

/** The lease weftd on this host holds: the one whose NodeName is `node`. */
export function findOwnLease(leases: readonly ListedLease[], node: string, file?: SubnetFileState): OwnLease {
  const named = leases.filter((l) => l.attrs.nodeName === node);
  const fromFile = file?.ok ? named.find((l) => l.subnet === file.env.subnet) : undefined;
  return { lease: fromFile ?? named[0], duplicates: named.length > 1 ? named : [] };
}

/** What is wrong with either family's device, whatever the lease: its kind, VNI, port, learning, link state. */
function vxlanProblems(link: VxlanLinkInfo, config: NetworkConfig): string[] {
  const problems: string[] = [];
  const backend = vxlanBackendOf(config);
  if (backend === undefined) return [`this network's backend is ${config.backend.type}, not vxlan`];
  if (link.kind !== 'vxlan') return [`${link.name} is a ${link.kind} device, not vxlan`];
  if (link.vni !== backend.vni) problems.push(`VNI ${String(link.vni)} instead of ${backend.vni}`);
  if (link.port !== backend.port) problems.push(`UDP port ${String(link.port)} instead of ${backend.port}`);
  if (link.learning) problems.push('learning is on (weft programs static entries; weftd recreates the device)');
  if (!link.up) problems.push('link is down');
  return problems;
}

/** What is wrong with the device for this config and lease (empty when nothing is). */
export function deviceProblems(link: VxlanLinkInfo, config: NetworkConfig, lease: ListedLease | undefined): string[] {
  const problems = vxlanProblems(link, config);
  if (link.kind !== 'vxlan') return problems;
  if (lease) {
    const address = `${cidrIp(lease.subnet)}/32`;
    if (link.mac !== lease.attrs.vtepMac) problems.push(`MAC ${String(link.mac)} but the lease says ${String(lease.attrs.vtepMac)}`);
    if (link.local !== lease.attrs.publicIp) problems.push(`local ${String(link.local)} but the lease's public IP is ${lease.attrs.publicIp}`);
    if (!link.addresses.includes(address)) problems.push(`address ${address} missing`);
  }
  return problems;
}

/**
 * What is wrong with the IPv6 device (`weft-v6.<VNI>`) for this config and
 * the IPv6 half of the lease (empty when nothing is): its MAC is the lease's
 * `BackendV6Data.VtepMAC`, its `local` the lease's `PublicIPv6`, and it holds
 * `<IPv6 subnet address>/128`. Read through an IPv6 kernel adapter (its
 * addresses are the IPv6 ones).
 */
export function deviceProblemsV6(link: VxlanLinkInfo, config: NetworkConfig, lease: ListedLease | undefined): string[] {
  const problems = vxlanProblems(link, config);
  if (link.kind !== 'vxlan' || !lease?.subnetV6) return problems;
  const { publicIpv6, backendV6 } = lease.attrs;
  if (backendV6 !== undefined && link.mac !== backendV6.vtepMac) problems.push(`MAC ${String(link.mac)} but the lease's BackendV6Data says ${backendV6.vtepMac}`);
  if (publicIpv6 !== undefined && String(link.local) !== publicIpv6) problems.push(`local ${String(link.local)} but the lease's PublicIPv6 is ${publicIpv6}`);
  const address = `${cidr6Ip(lease.subnetV6)}/128`;
  if (!link.addresses.includes(address)) problems.push(`address ${address} missing`);
  return problems;
}

/**
 * Why subnet.env does not describe this host's lease, network and MTU;
 * undefined when it does. `deviceMtu`: the MTU the file must carry, the
 * smaller of the two devices' on a dual-stack host (mtuForFile).
 */
export function subnetFileProblem(file: SubnetFileState, config: NetworkConfig | undefined, lease: ListedLease | undefined,
  deviceMtu: number | undefined): string | undefined {
  if (!file.ok) return file.errors.join('; ');
  if (lease && file.env.subnet !== lease.subnet) return `says subnet ${file.env.subnet}, the lease is ${lease.subnet}`;
  if (config && file.env.network !== config.network) return `says network ${file.env.network}, the config is ${config.network}`;
  const v6 = config === undefined ? undefined : ipv6FileProblem(file.env, config, lease);
  if (v6 !== undefined) return v6;
  if (deviceMtu !== undefined && file.env.mtu !== deviceMtu) return `says MTU ${file.env.mtu}, the device has ${deviceMtu}`;
  return undefined;
}

function ipv6FileProblem(env: SubnetEnv, config: NetworkConfig, lease: ListedLease | undefined): string | undefined {
  if (config.ipv6 === undefined) {
    return env.ipv6Network === undefined ? undefined : `has FLANNEL_IPV6_NETWORK ${env.ipv6Network}, but IPv6 is not enabled in the network config`;
  }
  if (env.ipv6Network === undefined) {
    return lease?.subnetV6 === undefined ? undefined : `has no FLANNEL_IPV6_NETWORK, but the lease has the IPv6 subnet ${lease.subnetV6}`;
  }
  if (env.ipv6Network !== config.ipv6.network) return `says IPv6 network ${env.ipv6Network}, the config is ${config.ipv6.network}`;
  if (lease && env.ipv6Subnet !== lease.subnetV6) return `says IPv6 subnet ${String(env.ipv6Subnet)}, the lease is ${lease.subnetV6 ?? 'IPv4 only'}`;
  return undefined;
}

/**
 * The MTU subnet.env must carry: the device's, and on a dual-stack network
 * the smaller of the two devices' (one MTU serves both families' pods);
 * undefined (not compared) when a device it depends on could not be read.
 */
export function mtuForFile(config: NetworkConfig | undefined, deviceMtu: number | undefined, deviceMtuV6: number | undefined): number | undefined {
  if (config?.ipv6 === undefined) return deviceMtu;
  return deviceMtu === undefined || deviceMtuV6 === undefined ? undefined : Math.min(deviceMtu, deviceMtuV6);
}
