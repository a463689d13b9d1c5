/**
 * The one codec for `subnet.env`, used by weftd (writer, and reader of the
 * previous subnet), the CNI plugin and weftctl. The format is flanneld's:
 *
 *   FLANNEL_NETWORK=10.5.0.0/16
 *   FLANNEL_SUBNET=10.5.34.1/24      (the subnet's first host, with its prefix)
 *   FLANNEL_IPV6_NETWORK=fd00:10::/48        (only on a dual-stack network)
 *   FLANNEL_IPV6_SUBNET=fd00:10:0:5::1/64    (likewise: the first host)
 *   FLANNEL_MTU=1450
 *   FLANNEL_IPMASQ=false
 */
import { type Cidr, cidrPrefix, networkOf, nthAddress, parseCidr } from './cidr.js';
import { type Cidr6, cidr6Prefix, networkOf6, nthAddress6, parseCidr6 } from './cidr6.js';

/** Where weftd writes the file and the plugin and weftctl read it, unless told otherwise (flannel: /run/flannel/subnet.env). */
export const DEFAULT_SUBNET_FILE = '/run/weft/subnet.env';

export interface SubnetEnv {
  readonly network: Cidr;
  /** This host's subnet in network form, e.g. `10.5.34.0/24`. */
  readonly subnet: Cidr;
  readonly mtu: number;
  readonly ipMasq: boolean;
  /** Both present on a dual-stack host, both absent otherwise. */
  readonly ipv6Network?: Cidr6 | undefined;
  readonly ipv6Subnet?: Cidr6 | undefined;
}

export type SubnetEnvParse = { ok: true; env: SubnetEnv } | { ok: false; errors: readonly string[] };

export function renderSubnetEnv(env: SubnetEnv): string {
  return [
    `FLANNEL_NETWORK=${env.network}`,
    `FLANNEL_SUBNET=${nthAddress(env.subnet, 1)}/${cidrPrefix(env.subnet)}`,
    ...(env.ipv6Network !== undefined && env.ipv6Subnet !== undefined ? [
      `FLANNEL_IPV6_NETWORK=${env.ipv6Network}`,
      `FLANNEL_IPV6_SUBNET=${nthAddress6(env.ipv6Subnet, 1)}/${cidr6Prefix(env.ipv6Subnet)}`,
    ] : []),
    `FLANNEL_MTU=${env.mtu}`,
    `FLANNEL_IPMASQ=${env.ipMasq ? 'true' : 'false'}`,
    '',
  ].join('\n');
}

const KEYS = ['FLANNEL_NETWORK', 'FLANNEL_SUBNET', 'FLANNEL_MTU', 'FLANNEL_IPMASQ'] as const;

/**
 * Parses subnet.env text. Unknown keys (comments, blank lines) are ignored;
 * every missing or invalid key is reported at once. The IPv6 keys are
 * optional, but one without the other is an error.
 */
export function parseSubnetEnv(text: string): SubnetEnvParse {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.replace(/\r$/, '');
    const eq = trimmed.indexOf('=');
    if (eq <= 0) continue;
    values.set(trimmed.slice(0, eq).trim(), trimmed.slice(eq + 1).trim());
  }
  const errors: string[] = [];
  const missing = KEYS.filter((k) => !values.has(k) || values.get(k) === '');
  if (missing.length > 0) errors.push(`missing ${missing.join(', ')}`);

  const network = cidrValue(values.get('FLANNEL_NETWORK'), 'FLANNEL_NETWORK', true, errors);
  const subnet = cidrValue(values.get('FLANNEL_SUBNET'), 'FLANNEL_SUBNET', false, errors);
  const mtuText = values.get('FLANNEL_MTU');
  let mtu = 0;
  if (mtuText) {
    if (!/^\d+$/.test(mtuText) || Number(mtuText) < 68 || Number(mtuText) > 65535) {
      errors.push(`FLANNEL_MTU "${mtuText}" is not an MTU (68..65535)`);
    } else mtu = Number(mtuText);
  }
  const masqText = values.get('FLANNEL_IPMASQ');
  if (masqText && masqText !== 'true' && masqText !== 'false') {
    errors.push(`FLANNEL_IPMASQ "${masqText}" must be true or false`);
  }
  const ipv6Network = cidr6Value(values.get('FLANNEL_IPV6_NETWORK'), 'FLANNEL_IPV6_NETWORK', true, errors);
  const ipv6Subnet = cidr6Value(values.get('FLANNEL_IPV6_SUBNET'), 'FLANNEL_IPV6_SUBNET', false, errors);
  if (values.get('FLANNEL_IPV6_NETWORK') && !values.get('FLANNEL_IPV6_SUBNET')) errors.push('FLANNEL_IPV6_NETWORK is set but FLANNEL_IPV6_SUBNET is missing');
  if (values.get('FLANNEL_IPV6_SUBNET') && !values.get('FLANNEL_IPV6_NETWORK')) errors.push('FLANNEL_IPV6_SUBNET is set but FLANNEL_IPV6_NETWORK is missing');
  if (errors.length > 0 || !network || !subnet) return { ok: false, errors };
  return {
    ok: true,
    env: { network, subnet, mtu, ipMasq: masqText === 'true', ...(ipv6Network && ipv6Subnet ? { ipv6Network, ipv6Subnet } : {}) },
  };
}

function cidr6Value(text: string | undefined, key: string, aligned: boolean, errors: string[]): Cidr6 | undefined {
  if (!text) return undefined;
  const first = text.split(',')[0] ?? '';
  const parsed = parseCidr6(first, aligned);
  if (!parsed.ok) {
    errors.push(`${key} "${text}" is invalid: ${parsed.reason}`);
    return undefined;
  }
  return aligned ? parsed.cidr : networkOf6(parsed.ip, parsed.prefixLength);
}

function cidrValue(text: string | undefined, key: string, aligned: boolean, errors: string[]): Cidr | undefined {
  if (!text) return undefined;
  // flanneld may write a comma-separated list; weft is IPv4 single-network, so use the first entry.
  const first = text.split(',')[0] ?? '';
  const parsed = parseCidr(first, aligned);
  if (!parsed.ok) {
    errors.push(`${key} "${text}" is invalid: ${parsed.reason}`);
    return undefined;
  }
  return aligned ? parsed.cidr : networkOf(parsed.ip, parsed.prefixLength);
}
