/**
 * The stale cni0 address (flannel's most reported CNI error): after this
 * host's subnet changed (lease lost and re-acquired, SubnetLen changed), the
 * bridge still has the old gateway address and the bridge plugin refuses
 * every ADD with `"cni0" already has an IP address different from …`.
 *
 * Before an ADD, weft compares the bridge's IPv4 addresses with the gateway
 * the delegate config asks for. When they differ and no link is attached to
 * the bridge, nothing can lose connectivity: weft deletes the bridge and the
 * bridge plugin recreates it with the right address. (Deleting, not just
 * removing the address: a bridge whose last port went away has the MAC
 * 00:00:00:00:00:00 on this kernel, and the bridge plugin then fails with
 * "could not set bridge's mac".) When containers are still attached, they
 * hold addresses of the old subnet; re-addressing would cut them off, so the
 * ADD fails with 11 (try again later), naming the stale address, the
 * containers and the fix. The check and the delete run under a lock, so two
 * parallel ADDs never delete a bridge the other one just attached to.
 *
 * Dual stack: the bridge also carries the IPv6 gateway (`<v6 subnet>::1`).
 * The bridge plugin allows several IPv6 addresses as long as their subnets do
 * not overlap, so an old IPv6 gateway does not make it refuse the ADD; but a
 * gateway of a subnet this host no longer holds makes the host route that
 * subnet, which is now another host's, to its own bridge. So an IPv6 address
 * is stale when it is not the gateway and lies in the IPv6 network or overlaps
 * the new subnet; other global addresses (put there by someone else) and the
 * link-local one are left alone, and an IPv4-only subnet.env checks no IPv6.
 *
 * A bridge with no ports and the MAC 00:00:00:00:00:00 is deleted too: it is
 * what a failed first ADD leaves once its veth is gone (the bridge plugin
 * made the bridge, then failed before giving it an address), and the bridge
 * plugin fails every later ADD on it with "could not set bridge's mac:
 * invalid argument". A bridge the plugin has just created has a random MAC,
 * so a concurrent ADD's new bridge is never mistaken for it.
 */
import { type Cidr, cidrPrefix, nthAddress } from '../core/cidr.js';
import { type Cidr6, cidr6Prefix, containsIp6, networkOf6, nthAddress6, overlaps6, parseCidr6 } from '../core/cidr6.js';
import type { SubnetEnv } from '../core/subnet-env.js';
import type { BridgeLink, BridgeProbe } from './bridge-probe.js';
import { CniCode, CniError } from './errors.js';
import type { Logger } from './log.js';
import type { JsonObject } from './netconf.js';

/** The bridge plugin's default bridge name. */
export const DEFAULT_BRIDGE = 'cni0';

export interface ExpectedBridge {
  readonly name: string;
  /** The gateway address the bridge plugin puts on the bridge, `a.b.c.d/len`. */
  readonly gateway: string;
  readonly subnet: Cidr;
  /** On a dual-stack host: the IPv6 gateway (`<ipv6>/len`), this host's IPv6 subnet and the IPv6 network. */
  readonly ipv6?: { readonly gateway: string; readonly subnet: Cidr6; readonly network: Cidr6 } | undefined;
}

/**
 * What the bridge should carry for this delegate config, or undefined when
 * weft does not check: not the bridge plugin, no gateway on the bridge
 * (isGateway false), or `forceAddress` (the bridge plugin then replaces the
 * address itself, as the user asked).
 */
export function expectedBridge(conf: JsonObject, env: Pick<SubnetEnv, 'subnet' | 'ipv6Network' | 'ipv6Subnet'>): ExpectedBridge | undefined {
  if (conf['type'] !== 'bridge' || conf['isGateway'] === false || conf['forceAddress'] === true) return undefined;
  const name = typeof conf['bridge'] === 'string' && conf['bridge'] !== '' ? conf['bridge'] : DEFAULT_BRIDGE;
  const { subnet, ipv6Network, ipv6Subnet } = env;
  const ipv6 = ipv6Network === undefined || ipv6Subnet === undefined ? undefined
    : { gateway: `${nthAddress6(ipv6Subnet, 1)}/${cidr6Prefix(ipv6Subnet)}`, subnet: ipv6Subnet, network: ipv6Network };
  return { name, gateway: `${nthAddress(subnet, 1)}/${cidrPrefix(subnet)}`, subnet, ...(ipv6 ? { ipv6 } : {}) };
}

const ZERO_MAC = '00:00:00:00:00:00';

/** A bridge left unusable by a failed first ADD once it has no ports (see above). */
export function hasZeroMac(link: BridgeLink): boolean {
  return link.mac === ZERO_MAC;
}

/** The addresses the bridge plugin would object to. */
export function staleAddresses(addresses: readonly string[], gateway: string): string[] {
  return addresses.filter((a) => a !== gateway);
}

/** The IPv6 addresses left from a subnet this host no longer holds, or clashing with the new one (see above). */
export function staleAddresses6(addresses6: readonly string[], ipv6: ExpectedBridge['ipv6']): string[] {
  if (ipv6 === undefined) return [];
  return addresses6.filter((a) => {
    if (a === ipv6.gateway) return false;
    const parsed = parseCidr6(a, false);
    return parsed.ok && (containsIp6(ipv6.network, parsed.ip) || overlaps6(networkOf6(parsed.ip, parsed.prefixLength), ipv6.subnet));
  });
}

/** Every stale address of the bridge, IPv4 first. */
export function bridgeStaleAddresses(link: BridgeLink, expected: ExpectedBridge): string[] {
  return [...staleAddresses(link.addresses, expected.gateway), ...staleAddresses6(link.addresses6 ?? [], expected.ipv6)];
}

export interface BridgeAddressDeps {
  readonly probe: BridgeProbe;
  /** Runs `fn` holding the lock for this bridge. */
  readonly withLock: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
  /** Names the containers behind the given bridge ports (unknown ports by their own name). */
  readonly describePorts: (ports: readonly string[]) => string[];
  readonly log: Logger;
}

export async function ensureBridgeAddress(expected: ExpectedBridge, deps: BridgeAddressDeps): Promise<void> {
  const needsWork = (link: BridgeLink | undefined): link is BridgeLink => link !== undefined
    && (bridgeStaleAddresses(link, expected).length > 0 || hasZeroMac(link));
  if (!needsWork(await deps.probe.read(expected.name))) return;
  await deps.withLock(expected.name, async () => {
    const link = await deps.probe.read(expected.name);
    if (!needsWork(link)) return;
    const stale = bridgeStaleAddresses(link, expected);
    const ports = await deps.probe.ports(expected.name);
    if (stale.length === 0) {
      if (ports.length > 0) return; // a zero MAC with ports cannot happen (the bridge takes a port's MAC); leave it to the delegate
      await deps.probe.remove(expected.name);
      deps.log.warn('bridge left without ports, address and MAC by an earlier failed ADD: deleted it, the delegate recreates it', { bridge: expected.name });
      return;
    }
    if (ports.length === 0) {
      await deps.probe.remove(expected.name);
      deps.log.warn('bridge had a stale address and nothing attached: deleted it, the delegate recreates it with the new one',
        { bridge: expected.name, stale, gateway: expected.gateway });
      return;
    }
    throw staleBridgeError(expected, stale, deps.describePorts(ports));
  });
}

export function staleBridgeError(expected: ExpectedBridge, stale: readonly string[], attached: readonly string[]): CniError {
  const { name, ipv6 } = expected;
  const now = `${expected.subnet} (gateway ${expected.gateway})${ipv6 ? ` and ${ipv6.subnet} (gateway ${ipv6.gateway})` : ''}`;
  return new CniError(CniCode.TryAgainLater,
    `bridge "${name}" has the stale address ${stale.join(', ')}, but this host's subnet is now ${now}, `
    + `so the bridge plugin would refuse the ADD; ${attached.length} container(s) still attached to ${name} use addresses of the old subnet: ${attached.join(', ')}`,
    { details: `fix: remove or recreate those containers (their DEL detaches them); the first ADD after the last one is gone re-addresses ${name} by itself. `
      + `If they are gone already and ports are left over, check \`ip link show master ${name}\` and, with nothing attached, \`ip link del ${name}\`.` });
}
