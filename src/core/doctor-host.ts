/**
 * The doctor's checks of the host around weft: forwarding sysctls, reverse
 * path filtering, MTUs and the FORWARD chain. Pure, like doctor.ts.
 */
import { type Cidr, cidrPrefix, nthAddress } from './cidr.js';
import { type CheckResult, fail, ok, warn } from './check-result.js';
import type { SubnetFileState } from './device-check.js';
import { analyzeForward } from './forward-chain.js';
import { type NetworkConfig, VXLAN6_OVERHEAD, VXLAN_OVERHEAD } from './network-config.js';
import { underlayMtuProblem } from './underlay-mtu.js';
import type { VxlanLinkInfo } from './vxlan-device.js';

/** Values read from /proc/sys; undefined when the file does not exist. */
export interface Sysctls {
  readonly ipForward: number | undefined;
  readonly bridgeNfCallIptables: number | undefined;
  readonly rpFilterAll: number | undefined;
  readonly rpFilterDevice: number | undefined;
}

const PERSIST = 'and persist it in /etc/sysctl.d/90-weft.conf';

export function checkIpForward(s: Sysctls): CheckResult {
  if (s.ipForward === 1) return ok('ip_forward', 'net.ipv4.ip_forward = 1');
  if (s.ipForward === undefined) return warn('ip_forward', 'cannot read /proc/sys/net/ipv4/ip_forward', 'run doctor as root on the host');
  return fail('ip_forward', `net.ipv4.ip_forward = ${s.ipForward}: this host does not forward between pods and the overlay`,
    `sysctl -w net.ipv4.ip_forward=1 ${PERSIST}`);
}

/** On a dual-stack network: without IPv6 forwarding pods get IPv6 addresses but no IPv6 traffic leaves the host. */
export function checkIpv6Forward(forwarding: number | undefined): CheckResult {
  const name = 'ipv6 forwarding';
  if (forwarding === 1) return ok(name, 'net.ipv6.conf.all.forwarding = 1');
  if (forwarding === undefined) return warn(name, 'cannot read /proc/sys/net/ipv6/conf/all/forwarding (IPv6 disabled on this host?)', 'run doctor as root on the host; a dual-stack network needs IPv6 on every host');
  return fail(name, `net.ipv6.conf.all.forwarding = ${forwarding}: this host does not forward IPv6 between pods and the overlay`,
    `sysctl -w net.ipv6.conf.all.forwarding=1 ${PERSIST}`);
}

/**
 * The IPv6 device's MTU: the kernel caps a VXLAN device over an IPv6
 * underlay at underlay − 70 (flannel asks for − 50 and is clamped silently).
 */
export function checkMtuV6(f: MtuFacts, config: NetworkConfig): CheckResult {
  const d = f.device;
  if (!d) return warn('ipv6 mtu', 'not checked: no IPv6 device', 'fix the IPv6 device first');
  if (f.parentMtu === undefined) return warn('ipv6 mtu', `cannot read the MTU of ${d.name}'s parent ${String(d.parent)}`, 'check `ip -d link show` on the host');
  const underlay = config.backend.mtu ?? f.parentMtu;
  const source = config.backend.mtu !== undefined ? `Backend.MTU ${underlay}` : `${String(d.parent)} MTU ${f.parentMtu}`;
  if (d.mtu === underlay - VXLAN6_OVERHEAD) return ok('ipv6 mtu', `${d.name} ${d.mtu} = ${source} − ${VXLAN6_OVERHEAD} (IPv6 underlay)`);
  return fail('ipv6 mtu', `${d.name} MTU is ${d.mtu}, want ${underlay - VXLAN6_OVERHEAD} (${source} − ${VXLAN6_OVERHEAD}: the outer IPv6 header is 20 bytes larger)`,
    'weftd sets the device MTU on each pass from the MTU it found at start: restart weftd after changing the underlay MTU');
}

/**
 * Only needed when something filters bridged pod traffic with iptables
 * (kube-proxy Services between pods on one host); the overlay itself
 * does not use it, so this never FAILs.
 */
export function checkBridgeNetfilter(s: Sysctls): CheckResult {
  const name = 'bridge-nf-call-iptables';
  if (s.bridgeNfCallIptables === 1) return ok(name, 'net.bridge.bridge-nf-call-iptables = 1');
  if (s.bridgeNfCallIptables === undefined) {
    return warn(name, '/proc/sys/net/bridge does not exist: br_netfilter is not loaded (or not visible in this network namespace); '
      + 'iptables does not see traffic between pods on the same bridge', 'if kube-proxy or NetworkPolicy must see it: modprobe br_netfilter; '
      + `sysctl -w net.bridge.bridge-nf-call-iptables=1 ${PERSIST} (and br_netfilter in /etc/modules-load.d/)`);
  }
  return warn(name, `net.bridge.bridge-nf-call-iptables = ${s.bridgeNfCallIptables}: iptables does not see traffic between pods on the same bridge`,
    `if kube-proxy or NetworkPolicy must see it: sysctl -w net.bridge.bridge-nf-call-iptables=1 ${PERSIST}`);
}

/** The kernel applies max(conf.all.rp_filter, conf.<dev>.rp_filter); 1 (strict) drops overlay traffic with unexpected sources. */
export function checkRpFilter(s: Sysctls, deviceName: string | undefined, device: VxlanLinkInfo | undefined): CheckResult {
  if (!deviceName || !device) return warn('rp_filter', 'not checked: no device', 'fix the device first');
  if (s.rpFilterAll === undefined || s.rpFilterDevice === undefined) return warn('rp_filter', `cannot read rp_filter for ${deviceName}`, 'run doctor as root on the host');
  const effective = Math.max(s.rpFilterAll, s.rpFilterDevice);
  const values = `all = ${s.rpFilterAll}, ${deviceName} = ${s.rpFilterDevice}, effective ${effective}`;
  if (effective !== 1) return ok('rp_filter', `${values} (${effective === 2 ? 'loose' : 'off'})`);
  return fail('rp_filter', `${values}: strict reverse-path filtering drops packets arriving on ${deviceName} whose source is not routed back through it`,
    `sysctl -w net/ipv4/conf/${deviceName}/rp_filter=2 (loose: the kernel uses the larger of "all" and the device, so 2 on the device is enough), `
    + `and net.ipv4.conf.default.rp_filter=2 so a device weftd recreates gets it too; persist both in /etc/sysctl.d/90-weft.conf`);
}

export interface MtuFacts {
  readonly deviceName: string | undefined;
  readonly device: VxlanLinkInfo | undefined;
  readonly parentMtu: number | undefined;
  readonly cni0Mtu: number | undefined;
}

export function checkMtu(f: MtuFacts, config: NetworkConfig | undefined): CheckResult {
  const d = f.device;
  if (!d) return warn('mtu', 'not checked: no device', 'fix the device first');
  if (f.parentMtu === undefined) return warn('mtu', `cannot read the MTU of ${d.name}'s parent ${String(d.parent)}`, 'check `ip -d link show` on the host');
  const underlay = config?.backend.mtu ?? f.parentMtu;
  const source = config?.backend.mtu !== undefined ? `Backend.MTU ${underlay}` : `${String(d.parent)} MTU ${f.parentMtu}`;
  const problems: string[] = [];
  const fixes: string[] = [];
  const tooLarge = underlayMtuProblem(config?.backend.mtu, { name: String(d.parent), mtu: f.parentMtu });
  if (tooLarge) {
    problems.push(tooLarge.detail);
    fixes.push(tooLarge.fix);
  }
  if (d.mtu !== underlay - VXLAN_OVERHEAD) {
    problems.push(`${d.name} MTU is ${d.mtu}, want ${underlay - VXLAN_OVERHEAD} (${source} − ${VXLAN_OVERHEAD})`);
    fixes.push('weftd sets the device MTU on each pass from the MTU it found at start: restart weftd after changing the underlay MTU');
  }
  if (f.cni0Mtu !== undefined && f.cni0Mtu > d.mtu) {
    problems.push(`cni0 MTU ${f.cni0Mtu} is larger than ${d.name} MTU ${d.mtu}: pods send packets the overlay cannot carry`);
    fixes.push(`ip link set cni0 mtu ${d.mtu}, and recreate pods made before subnet.env had FLANNEL_MTU=${d.mtu} (their veths keep the old MTU)`);
  }
  const cni0 = f.cni0Mtu === undefined ? 'no cni0' : `cni0 ${f.cni0Mtu}`;
  if (problems.length === 0) return ok('mtu', `${d.name} ${d.mtu} = ${source} − ${VXLAN_OVERHEAD}; ${cni0}`);
  return fail('mtu', problems.join('; '), fixes.join('; '));
}

export function checkForward(iptables: { ok: true; rules: string } | { ok: false; error: string }, network: Cidr | undefined): CheckResult {
  if (!iptables.ok) return warn('FORWARD', `cannot read the filter table: ${iptables.error}`, 'run doctor as root; check `iptables -S FORWARD` (or `nft list ruleset`) by hand');
  const a = analyzeForward(iptables.rules, network ?? ('0.0.0.0/0' as Cidr));
  const policy = `policy ${a.policy ?? 'unknown'}${a.catchAll ? `, and ${a.catchAll}` : ''}`;
  if (a.fallThrough === 'ACCEPT') return ok('FORWARD', policy);
  if (!network) return warn('FORWARD', `${policy}: cannot tell whether overlay traffic is accepted without the network config`, 'fix etcd first');
  if (a.acceptsFrom.length > 0 && a.acceptsTo.length > 0) {
    return ok('FORWARD', `${policy}, but rules in ${[...new Set([...a.acceptsFrom, ...a.acceptsTo])].join(', ')} accept ${network} both ways`);
  }
  const missing = [...(a.acceptsFrom.length === 0 ? [`from ${network}`] : []), ...(a.acceptsTo.length === 0 ? [`to ${network}`] : [])];
  return fail('FORWARD', `${policy} and no rule accepts traffic ${missing.join(' or ')}: pods cannot reach pods on other hosts`,
    `run weftd with --ip-masq (its WEFT-FWD chain accepts ${network} both ways, as flannel's FLANNEL-FWD does), `
    + `or iptables -I FORWARD -s ${network} -j ACCEPT; iptables -I FORWARD -d ${network} -j ACCEPT (Docker sets the policy to DROP)`);
}

/**
 * cni0's IPv4 addresses against this host's subnet (flannel's most reported
 * CNI error): after the subnet changed, the bridge plugin refuses every ADD
 * with `"cni0" already has an IP address different from …`. The weft CNI
 * plugin re-addresses cni0 itself once no pod is attached to it.
 */
export function checkCni0Address(addresses: readonly string[], file: SubnetFileState): CheckResult {
  const name = 'cni0 address';
  if (!file.ok) return warn(name, 'not checked: subnet.env is not readable', 'fix subnet.env first');
  const { subnet } = file.env;
  const gateway = `${nthAddress(subnet, 1)}/${cidrPrefix(subnet)}`;
  const stale = addresses.filter((a) => a !== gateway);
  if (stale.length === 0) return ok(name, addresses.length === 0 ? `none yet (the next CNI ADD gives it ${gateway})` : `${gateway}, the gateway of ${subnet}`);
  return fail(name, `cni0 has ${stale.join(', ')}, but this host's subnet is ${subnet} (gateway ${gateway}): every CNI ADD fails `
    + `("cni0" already has an IP address different from ${gateway}) while pods from the old subnet are attached`,
  'remove or recreate the pods still attached to cni0 (`ip link show master cni0` lists their veths); the weft CNI plugin '
    + 're-addresses cni0 on the next ADD once none is attached (by hand, with nothing attached: ip link del cni0)');
}
