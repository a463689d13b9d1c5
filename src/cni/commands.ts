/**
 * ADD, DEL and CHECK. Each reads what it needs, asks the delegate, and returns
 * the text for stdout (undefined for nothing). Errors are CniErrors. State is
 * one record per attachment (attachments.ts).
 */
import type { CniArgs } from './args.js';
import {
  adoptLegacy, type AttachmentKey, type AttachmentRecord, describeKey, listAllAttachments, parseConf, readAttachment, readLegacy,
  removeAttachment, removeLegacy, saveAttachment,
} from './attachments.js';
import { ensureBridgeAddress, expectedBridge } from './bridge-address.js';
import type { BridgeProbe } from './bridge-probe.js';
import { buildDelegateConf, renderCanonicalJson } from './delegate.js';
import { CniCode, CniError } from './errors.js';
import { DelegateError, type PluginInvoker } from './invoke.js';
import { withDirLock } from './lock.js';
import type { Logger } from './log.js';
import { chooseDelegateVersion } from './negotiate.js';
import { isJsonObject, type JsonObject, type NetConf } from './netconf.js';
import { mergeResults, ownPart, parseResult } from './result.js';
import { readSubnetFile } from './subnet-file.js';
import { compareVersions } from './version.js';

/** Everything a command needs; built once per process by the dispatcher. */
export interface CommandContext {
  readonly args: CniArgs;
  readonly netconf: NetConf;
  readonly invoker: PluginInvoker;
  readonly bridge: BridgeProbe;
  readonly log: Logger;
}

export type Command = (ctx: CommandContext) => Promise<string | undefined>;

export function attachmentKey({ args, netconf }: CommandContext): AttachmentKey {
  return { network: netconf.name, containerId: args.containerId, ifname: args.ifname };
}

export const cmdAdd: Command = async (ctx) => {
  const { args, netconf, invoker, log } = ctx;
  const subnet = readSubnetFile(netconf.subnetFile);
  if (!subnet.ok) throw new CniError(CniCode.TryAgainLater, subnet.reason);
  const built = buildDelegateConf(netconf, subnet.env);
  const type = built['type'] as string;
  const version = await chooseDelegateVersion(invoker, type, netconf.cniVersion);
  const conf = renderCanonicalJson({ ...built, cniVersion: version });
  const expected = expectedBridge(built, subnet.env);
  if (expected !== undefined) await ensureBridgeAddress(expected, bridgeDeps(ctx));
  const key = attachmentKey(ctx);
  // A repeated ADD (a runtime retry) must not lose the record of an earlier successful one.
  const previous = findRecord(ctx, key);
  saveAttachment(netconf.dataDir, { ...key, netns: args.netns, conf });
  log.debug('attachment record saved', { dataDir: netconf.dataDir, delegate: conf });
  let output: string;
  try {
    output = await invoker.exec(type, 'ADD', conf);
  } catch (err) {
    await undoAdd(ctx, key, type, conf, previous === 'unreadable' ? undefined : previous, err);
    throw err;
  }
  const result = parseResult(output, `the delegate ${type}'s ADD result`);
  try {
    saveAttachment(netconf.dataDir, { ...key, netns: args.netns, conf, result });
  } catch (err) {
    log.warn('cannot add the ADD result to the attachment record (DEL still works without it)', { err });
  }
  log.info('added', { delegate: type, subnet: subnet.env.subnet, ...(subnet.env.ipv6Subnet ? { ipv6Subnet: subnet.env.ipv6Subnet } : {}) });
  if (netconf.prevResult !== undefined) return JSON.stringify(mergeResults(netconf.prevResult, result, netconf.cniVersion));
  return version === netconf.cniVersion ? output : JSON.stringify({ ...result, cniVersion: netconf.cniVersion });
};

/**
 * After a failed ADD. A repeated ADD puts the earlier record back: the
 * earlier attachment is still there for the runtime to DEL. Otherwise, if the
 * delegate ran (it may have made a veth and reserved an address before it
 * failed), its DEL with the same config undoes it (spec: an upper plugin
 * whose delegate fails on ADD calls DEL on it before returning the failure).
 * The record is dropped once nothing is left, and kept when that DEL failed
 * too, so the runtime's own DEL replays it.
 */
async function undoAdd(ctx: CommandContext, key: AttachmentKey, type: string, conf: string, previous: AttachmentRecord | undefined, err: unknown): Promise<void> {
  const { netconf, log } = ctx;
  try {
    if (previous !== undefined) {
      saveAttachment(netconf.dataDir, previous);
      return;
    }
    if (!(err instanceof DelegateError)) {
      removeAttachment(netconf.dataDir, key);
      return;
    }
    try {
      await ctx.invoker.exec(type, 'DEL', conf);
    } catch (delErr) {
      log.error('ADD failed and the delegate DEL that should undo it failed too; the record is kept for the runtime\'s DEL',
        { attachment: describeKey(key), addError: (err as Error).message, delError: (delErr as Error).message });
      return;
    }
    removeAttachment(netconf.dataDir, key);
    log.warn('ADD failed; the delegate\'s DEL undid what it had done', { attachment: describeKey(key), error: (err as Error).message });
  } catch (undoErr) {
    log.error('cannot update the attachment record after a failed ADD', { err: undoErr });
  }
}

export const cmdDel: Command = async (ctx) => {
  const { netconf, invoker, log } = ctx;
  const key = attachmentKey(ctx);
  const record = findRecord(ctx, key, true);
  if (record === undefined) {
    log.info('no attachment record: nothing to delete', { attachment: describeKey(key) });
    return undefined;
  }
  const conf = record === 'unreadable' ? undefined : parseConf(record.conf);
  if (record === 'unreadable' || conf === undefined) {
    // Cannot be replayed; keeping it would only make every later DEL fail.
    log.warn('attachment record is unreadable; removing it without a delegate DEL', { attachment: describeKey(key) });
    removeAttachment(netconf.dataDir, key);
    return undefined;
  }
  await invoker.exec(conf['type'] as string, 'DEL', record.conf);
  removeAttachment(netconf.dataDir, key);
  log.info('deleted', { delegate: conf['type'] });
  return undefined;
};

export const cmdCheck: Command = async (ctx) => {
  const { args, netconf, invoker } = ctx;
  if (compareVersions(netconf.cniVersion, '0.4.0') < 0) {
    throw new CniError(CniCode.IncompatibleVersion, 'config version does not allow CHECK', { details: `config is ${netconf.cniVersion}; CHECK needs 0.4.0 or later` });
  }
  const key = attachmentKey(ctx);
  const record = findRecord(ctx, key);
  const conf = record === undefined || record === 'unreadable' ? undefined : parseConf(record.conf);
  if (record === undefined || record === 'unreadable' || conf === undefined) {
    throw new CniError(CniCode.UnknownContainer, `weft has no ${record === undefined ? '' : 'readable '}record of container ${args.containerId} interface ${args.ifname} on network ${netconf.name} in ${netconf.dataDir}`);
  }
  const subnet = readSubnetFile(netconf.subnetFile);
  if (!subnet.ok) throw new CniError(CniCode.TryAgainLater, subnet.reason);
  const [savedSubnet, savedSubnet6] = savedRangeSubnets(conf);
  if (savedSubnet !== undefined && savedSubnet !== subnet.env.subnet) {
    throw new CniError(CniCode.Internal, `this host's subnet changed from ${savedSubnet} to ${subnet.env.subnet} since the container was added: its address is no longer routed to this host; recreate the container`);
  }
  // A container added before the host went dual-stack has no IPv6 range and keeps working over IPv4.
  if (savedSubnet6 !== undefined && savedSubnet6 !== subnet.env.ipv6Subnet) {
    const now = subnet.env.ipv6Subnet === undefined ? 'none (IPv6 is no longer enabled on this network)' : subnet.env.ipv6Subnet;
    throw new CniError(CniCode.Internal, `this host's IPv6 subnet changed from ${savedSubnet6} to ${now} since the container was added: its IPv6 address is no longer routed to this host; recreate the container`);
  }
  const prev = netconf.prevResult;
  const withPrev = prev === undefined ? conf : { ...conf, prevResult: { ...ownPart(prev, record.result), cniVersion: conf['cniVersion'] ?? netconf.cniVersion } };
  await invoker.exec(conf['type'] as string, 'CHECK', JSON.stringify(withPrev));
  return undefined;
};

/**
 * The record of this attachment, adopting a file of the old layout
 * (`<dataDir>/<containerId>`) written for this network. For DEL, an old file
 * that is not a config at all is removed (it cannot be replayed).
 */
function findRecord(ctx: CommandContext, key: AttachmentKey, forDel = false): AttachmentRecord | 'unreadable' | undefined {
  const { netconf, args, log } = ctx;
  const record = readAttachment(netconf.dataDir, key);
  if (record !== undefined) return record;
  const adopted = adoptLegacy(netconf.dataDir, key, args.netns);
  if (adopted !== undefined) {
    log.info('adopted the record of the old layout', { attachment: describeKey(key) });
    return adopted;
  }
  const legacy = forDel ? readLegacy(netconf.dataDir, key.containerId) : undefined;
  if (legacy !== undefined && legacy.network === undefined) {
    log.warn('old-layout file is unreadable; removing it without a delegate DEL', { containerId: key.containerId });
    removeLegacy(netconf.dataDir, key.containerId);
  }
  return undefined;
}

function bridgeDeps(ctx: CommandContext): Parameters<typeof ensureBridgeAddress>[1] {
  const { netconf, log } = ctx;
  return {
    probe: ctx.bridge,
    log,
    withLock: (name, fn) => withDirLock(`${netconf.dataDir}/.lock-bridge-${name}`, fn),
    describePorts: (ports) => {
      const owners = new Map<string, string>();
      for (const r of listAllAttachments(netconf.dataDir)) {
        for (const iface of hostInterfaces(r.result)) owners.set(iface, `container ${r.containerId} (${r.network}/${r.ifname}, port ${iface})`);
      }
      return ports.map((p) => owners.get(p) ?? `port ${p} (no weft record)`);
    },
  };
}

/** Host-side interface names in a delegate result (those without a sandbox). */
function hostInterfaces(result: JsonObject | undefined): string[] {
  const list = result?.['interfaces'];
  if (!Array.isArray(list)) return [];
  return (list as unknown[]).flatMap((i) => (isJsonObject(i) && typeof i['name'] === 'string' && i['sandbox'] === undefined ? [i['name']] : []));
}

/**
 * The host-local ranges a saved config was built with: the first range set's
 * subnet (IPv4) and, on a dual-stack config, the second's (IPv6).
 */
function savedRangeSubnets(conf: JsonObject): [string | undefined, string | undefined] {
  const ipam = conf['ipam'];
  const ranges = isJsonObject(ipam) ? ipam['ranges'] : undefined;
  const subnetOf = (set: unknown): string | undefined => {
    const first = Array.isArray(set) ? (set as unknown[])[0] : undefined;
    const subnet = isJsonObject(first) ? first['subnet'] : undefined;
    return typeof subnet === 'string' ? subnet : undefined;
  };
  return Array.isArray(ranges) ? [subnetOf(ranges[0]), subnetOf(ranges[1])] : [undefined, undefined];
}
