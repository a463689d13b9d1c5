/**
 * How this host's own lease, VXLAN device and subnet.env agree, shared by
 * `weftctl status` and `weftctl doctor`. Pure: the callers read etcd, the
 * kernel and the file.
 */
import { cidrIp } from './cidr.js';
import type { ListedLease } from './allocate.js';
import type { NetworkConfig } from './network-config.js';
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

/** What is wrong with the device for this config and lease (empty when nothing is). */
export function deviceProblems(link: VxlanLinkInfo, config: NetworkConfig, lease: ListedLease | undefined): string[] {
  const problems: string[] = [];
  if (link.kind !== 'vxlan') return [`${link.name} is a ${link.kind} device, not vxlan`];
  if (link.vni !== config.backend.vni) problems.push(`VNI ${String(link.vni)} instead of ${config.backend.vni}`);
  if (link.port !== config.backend.port) problems.push(`UDP port ${String(link.port)} instead of ${config.backend.port}`);
  if (link.learning) problems.push('learning is on (weft programs static entries; weftd recreates the device)');
  if (!link.up) problems.push('link is down');
  if (lease) {
    const address = `${cidrIp(lease.subnet)}/32`;
    if (link.mac !== lease.attrs.vtepMac) problems.push(`MAC ${String(link.mac)} but the lease says ${String(lease.attrs.vtepMac)}`);
    if (link.local !== lease.attrs.publicIp) problems.push(`local ${String(link.local)} but the lease's public IP is ${lease.attrs.publicIp}`);
    if (!link.addresses.includes(address)) problems.push(`address ${address} missing`);
  }
  return problems;
}

/** Why subnet.env does not describe this host's lease, network and device MTU; undefined when it does. */
export function subnetFileProblem(file: SubnetFileState, config: NetworkConfig | undefined, lease: ListedLease | undefined,
  deviceMtu: number | undefined): string | undefined {
  if (!file.ok) return file.errors.join('; ');
  if (lease && file.env.subnet !== lease.subnet) return `says subnet ${file.env.subnet}, the lease is ${lease.subnet}`;
  if (config && file.env.network !== config.network) return `says network ${file.env.network}, the config is ${config.network}`;
  if (deviceMtu !== undefined && file.env.mtu !== deviceMtu) return `says MTU ${file.env.mtu}, the device has ${deviceMtu}`;
  return undefined;
}
