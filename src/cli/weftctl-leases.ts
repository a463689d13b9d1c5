/** `weftctl leases | reserve | release`. */
import { type Cidr, compareCidr, isIpv4, parseCidr } from '../core/cidr.js';
import { UsageError } from '../core/errors.js';
import { parseCidr6 } from '../core/cidr6.js';
import { type LeaseSubnets, decodeLeaseValue, decodeSubnetKey, encodeLeaseValue } from '../core/lease.js';
import { parseNetworkConfigText } from '../core/network-config.js';
import { type LeaseVerdict, PeerSet } from '../core/peer-set.js';
import type { RegistryEntry, SubnetRegistry } from '../adapters/registry.js';
import { type LeaseRow, type SkippedRow, leaseIdHex, renderLeases } from './leases-table.js';
import type { CtlIo } from './ctl-io.js';

export async function leasesCommand(registry: SubnetRegistry, argv: Record<string, unknown>, io: CtlIo): Promise<number> {
  const [listing, configText] = await Promise.all([registry.listLeases(), registry.getConfig()]);
  const parsedConfig = configText === undefined ? undefined : parseNetworkConfigText(configText);
  const dualStack = parsedConfig?.ok === true && parsedConfig.config.ipv6 !== undefined;
  const verdicts = new Map<string, LeaseVerdict>();
  if (parsedConfig?.ok) {
    const set = new PeerSet(parsedConfig.config);
    set.reset(listing.entries);
    for (const v of set.verdicts()) verdicts.set(v.key, v);
  }
  const rows: LeaseRow[] = [];
  const skipped: SkippedRow[] = [];
  await Promise.all(listing.entries.map(async (entry) => {
    const key = decodeSubnetKey(entry.key);
    const value = decodeLeaseValue(entry.value);
    const verdict = verdicts.get(entry.key);
    if (!key.ok || !value.ok) {
      // Unreadable keys are refused by the acceptance rule too; without a network config, say why here.
      skipped.push(verdict?.state === 'refused' ? { key: entry.key, code: verdict.code, reason: verdict.reason }
        : { key: entry.key, code: key.ok ? 'invalid-value' : 'invalid-key', reason: key.ok ? (value as { reason: string }).reason : key.reason });
      return;
    }
    const ttl = entry.reservation ? null : await registry.timeToLive(entry.leaseId);
    const judged = familyVerdict(verdict, dualStack);
    rows.push({
      subnet: key.subnet, node: value.attrs.nodeName ?? null, publicIp: value.attrs.publicIp,
      vtepMac: value.attrs.vtepMac ?? null, backendType: value.attrs.backendType, reservation: entry.reservation, ttlSeconds: ttl,
      state: verdict === undefined ? 'unknown' : verdict.state === 'self' ? 'peer' : verdict.state,
      reason: judged.reason,
      leaseId: entry.reservation ? null : leaseIdHex(entry.leaseId),
      subnetV6: key.subnetV6 ?? null, publicIpv6: value.attrs.publicIpv6 ?? null, vtepMacV6: value.attrs.backendV6?.vtepMac ?? null,
      families: judged.families,
    });
  }));
  skipped.sort((a, b) => a.key.localeCompare(b.key));
  rows.sort((a, b) => compareCidr(a.subnet as Cidr, b.subnet as Cidr));
  if (argv['json']) io.out(JSON.stringify({ leases: rows, skipped }, null, 2));
  else io.out(rows.length === 0 && skipped.length === 0 ? 'no leases' : renderLeases(rows, skipped, dualStack));
  return 0;
}

/**
 * The families a lease is programmed for, and the reason to show: a
 * refusal or pending reason, or for a peer of a dual-stack network that
 * is programmed for IPv4 only, why (the acceptance rule strips a refused
 * IPv6 half from the peer and gives the reason; a key with no IPv6 half is
 * an IPv4-only host).
 */
export function familyVerdict(verdict: LeaseVerdict | undefined, dualStack: boolean): Pick<LeaseRow, 'families' | 'reason'> {
  if (verdict === undefined) return { families: [], reason: null };
  if (verdict.state === 'refused' || verdict.state === 'pending') return { families: [], reason: verdict.reason ?? null };
  const { subnetV6, attrs } = verdict.lease;
  const v6 = dualStack && subnetV6 !== undefined && attrs.publicIpv6 !== undefined && attrs.backendV6 !== undefined;
  if (v6) return { families: ['ipv4', 'ipv6'], reason: null };
  if (verdict.reason !== undefined || !dualStack) return { families: ['ipv4'], reason: verdict.reason ?? null };
  return {
    families: ['ipv4'],
    reason: subnetV6 === undefined ? 'IPv4 only: its key names no IPv6 subnet (an IPv4-only host)'
      : `IPv4 only: its host wrote no ${attrs.publicIpv6 === undefined ? 'PublicIPv6' : 'BackendV6Data'}`,
  };
}

function subnetArg(text: unknown): Cidr {
  const parsed = parseCidr(String(text));
  if (!parsed.ok) throw new UsageError(`subnet "${String(text)}": ${parsed.reason}`);
  return parsed.cidr;
}

/** The key holding this IPv4 subnet (a dual-stack key names its IPv6 subnet too), with the subnets it names. */
async function findEntry(registry: SubnetRegistry, subnet: Cidr): Promise<{ entry: RegistryEntry; subnets: LeaseSubnets } | undefined> {
  for (const entry of (await registry.listLeases()).entries) {
    const key = decodeSubnetKey(entry.key);
    if (key.ok && key.subnet === subnet) return { entry, subnets: { subnet: key.subnet, subnetV6: key.subnetV6 } };
  }
  return undefined;
}

/** `--ipv6-subnet`, required exactly when the network is dual-stack. */
async function ipv6SubnetArg(registry: SubnetRegistry, text: unknown): Promise<LeaseSubnets['subnetV6']> {
  const configText = await registry.getConfig();
  const parsed = configText === undefined ? undefined : parseNetworkConfigText(configText);
  const dual = parsed?.ok === true && parsed.config.ipv6 !== undefined;
  if (text === undefined || text === '') {
    if (dual) throw new UsageError('this network is dual-stack (EnableIPv6): give the host\'s IPv6 subnet too with --ipv6-subnet');
    return undefined;
  }
  if (!dual) throw new UsageError('--ipv6-subnet is only for a dual-stack network (EnableIPv6 is not true in the network config)');
  const v6 = parseCidr6(String(text));
  if (!v6.ok) throw new UsageError(`--ipv6-subnet "${String(text)}": ${v6.reason}`);
  return v6.cidr;
}

export async function reserveCommand(registry: SubnetRegistry, argv: Record<string, unknown>, io: CtlIo): Promise<number> {
  const subnet = subnetArg(argv['subnet']);
  const found = await findEntry(registry, subnet);
  const entry = found?.entry;
  if (entry?.reservation) {
    io.out(`${subnet} is already a reservation`);
    return 0;
  }
  if (entry) {
    const holder = describeHolder(entry);
    if (!argv['force']) {
      throw new UsageError(`${subnet} is a live lease of ${holder}; with --force it becomes a reservation (no TTL): ${holder} keeps it, `
        + 'its weftd stops renewing it, and no other host can ever get it until weftctl release');
    }
    const res = await registry.replace(found.subnets, entry.value, entry.modRevision, 0);
    if (!res.ok) throw new UsageError(`${subnet} changed while reserving it; try again`);
    io.out(`${subnet} is now a reservation (no TTL) for ${holder}`);
    return 0;
  }
  const publicIp = argv['public-ip'];
  if (typeof publicIp !== 'string' || !isIpv4(publicIp)) {
    throw new UsageError(`${subnet} is not leased: give the host it is for with --public-ip (and --node-name for weft hosts)`);
  }
  const nodeName = typeof argv['node-name'] === 'string' && argv['node-name'] !== '' ? argv['node-name'] : undefined;
  const value = encodeLeaseValue({ publicIp, backendType: '', vni: undefined, vtepMac: undefined, nodeName });
  const subnetV6 = await ipv6SubnetArg(registry, argv['ipv6-subnet']);
  const res = await registry.claim({ subnet, subnetV6 }, value, 0);
  if (!res.ok) throw new UsageError(`${subnet} was leased by another host meanwhile; run weftctl leases and try again`);
  io.out(`${subnet} reserved for ${nodeName ?? publicIp}`);
  return 0;
}

function describeHolder(entry: RegistryEntry): string {
  const value = decodeLeaseValue(entry.value);
  return value.ok ? value.attrs.nodeName ?? value.attrs.publicIp : 'an unreadable lease';
}

export async function releaseCommand(registry: SubnetRegistry, argv: Record<string, unknown>, io: CtlIo): Promise<number> {
  const subnet = subnetArg(argv['subnet']);
  const found = await findEntry(registry, subnet);
  if (!found) {
    io.out(`${subnet} is not leased or reserved; nothing to do`);
    return 0;
  }
  const { entry, subnets } = found;
  const who = describeHolder(entry);
  if (!entry.reservation && !argv['force']) {
    throw new UsageError(`${subnet} is a live lease of ${who}, not a reservation; use --force to delete it (that host's weftd then exits and leases again)`);
  }
  const value = decodeLeaseValue(entry.value);
  if (entry.reservation && value.ok && value.attrs.vtepMac !== undefined && !argv['force']) {
    throw new UsageError(`${subnet} is reserved for ${who}, which has come up and holds it (its VTEP MAC is in the reservation); `
      + `use --force to release it: ${who}'s weftd then exits and leases a subnet again (its pods keep addresses from ${subnet} until recreated)`);
  }
  if (!(await registry.remove(subnets, entry.modRevision))) throw new UsageError(`${subnet} changed while releasing it; try again`);
  io.out(`${subnet} released`);
  return 0;
}
