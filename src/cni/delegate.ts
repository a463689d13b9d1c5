/**
 * Builds the delegate's network configuration from the netconf and this
 * host's subnet.env, with flannel's CNI plugin rules (flannel-io/cni-plugin
 * doCmdAdd / getDelegateIPAM) and two deliberate differences: the route to the
 * overlay network carries an explicit `gw`, because the bridge plugin's CHECK
 * (containernetworking/plugins 1.1.1, upstream #886) fails without one; and
 * `ipMasq` defaults to false whatever FLANNEL_IPMASQ says (see delegateIpMasq).
 * A dual-stack subnet.env gives both families' ranges and routes (buildIpam).
 * Pure: no I/O.
 */
import { nthAddress } from '../core/cidr.js';
import { type Cidr6, type Ipv6, nthAddress6 } from '../core/cidr6.js';
import type { SubnetEnv } from '../core/subnet-env.js';
import type { Json, JsonObject, NetConf } from './netconf.js';

/** The delegate plugin used when the netconf's `delegate` names no type. */
export const DEFAULT_DELEGATE_TYPE = 'bridge';
export const DEFAULT_IPAM_TYPE = 'host-local';

/** The delegate config, ready to save and to pipe into the delegate. */
export function buildDelegateConf(netconf: NetConf, env: SubnetEnv): JsonObject {
  const conf: Record<string, Json> = { ...netconf.delegate };
  if (netconf.runtimeConfig !== undefined) conf['runtimeConfig'] = netconf.runtimeConfig;
  if (netconf.args !== undefined) conf['args'] = netconf.args;
  conf['name'] = netconf.name;
  const type = typeof conf['type'] === 'string' ? conf['type'] : DEFAULT_DELEGATE_TYPE;
  conf['type'] = type;
  if (conf['ipMasq'] === undefined) conf['ipMasq'] = delegateIpMasq(env);
  if (conf['mtu'] === undefined) conf['mtu'] = env.mtu;
  if (conf['isGateway'] === undefined && type === 'bridge') conf['isGateway'] = true;
  conf['cniVersion'] = netconf.cniVersion;
  conf['ipam'] = buildIpam(netconf.ipam, env);
  return conf;
}

/**
 * The delegate's `ipMasq` when the netconf does not set it: always false.
 * flannel's plugin uses `!FLANNEL_IPMASQ`, so without `--ip-masq` the bridge
 * masquerades every pod's traffic that leaves the pod subnet, pod-to-pod across
 * hosts included, in a per-pod chain that outlives a later `--ip-masq`. In
 * weft, masquerading is weftd's job alone (`--ip-masq`, on by default): its
 * rules match the network and the subnet, not a pod, so switching the flag
 * changes the traffic of existing pods too (docs/masquerade.md).
 */
export function delegateIpMasq(_env: SubnetEnv): boolean {
  return false;
}

/**
 * host-local wants the range in network form (it rejects `10.5.34.1/24`), so
 * the subnet comes from the codec's network form; the gateway is its first
 * host (`.1`, `::1`), which is also host-local's default range gateway that
 * the bridge takes.
 *
 * Dual stack (subnet.env has the IPv6 keys): flannel's two range sets, IPv4
 * first, `[[{"subnet":v4}],[{"subnet":v6}]]`, so host-local hands out one
 * address of each family, and a route per network, IPv4 first; each route's
 * `gw` is its own family's gateway. Without the keys the ipam is the IPv4 one.
 */
export function buildIpam(ipam: JsonObject | undefined, env: SubnetEnv): JsonObject {
  const userRoutes = Array.isArray(ipam?.['routes']) ? (ipam['routes'] as readonly Json[]) : [];
  const v6 = dualStackPart(env);
  return {
    ...ipam,
    type: typeof ipam?.['type'] === 'string' ? ipam['type'] : DEFAULT_IPAM_TYPE,
    ranges: [[{ subnet: env.subnet }], ...(v6 ? [[{ subnet: v6.subnet }]] : [])],
    routes: [...userRoutes, { dst: env.network, gw: nthAddress(env.subnet, 1) }, ...(v6 ? [{ dst: v6.network, gw: v6.gateway }] : [])],
  };
}

/** The IPv6 network, subnet (network form) and gateway of a dual-stack subnet.env; undefined on an IPv4-only one. */
export function dualStackPart(env: SubnetEnv): { network: Cidr6; subnet: Cidr6; gateway: Ipv6 } | undefined {
  if (env.ipv6Network === undefined || env.ipv6Subnet === undefined) return undefined;
  return { network: env.ipv6Network, subnet: env.ipv6Subnet, gateway: nthAddress6(env.ipv6Subnet, 1) };
}

/** JSON with object keys sorted at every level (what flannel's Go maps produce). */
export function renderCanonicalJson(value: Json): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return (value as readonly Json[]).map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, Json> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as JsonObject)[key] as Json);
  return out;
}
