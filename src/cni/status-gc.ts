/**
 * STATUS and GC (CNI spec 1.1.0). STATUS says whether an ADD could succeed
 * now; GC releases the attachments the runtime no longer knows.
 * Both pass the request on to a delegate that speaks 1.1.0 and skip it
 * (logged) for an older delegate, which would answer with a misleading error.
 */
import { adoptLegacy, type AttachmentKey, describeKey, listAttachments, listLegacy, parseConf, removeAttachment } from './attachments.js';
import type { Command, CommandContext } from './commands.js';
import { buildDelegateConf, renderCanonicalJson } from './delegate.js';
import { CniCode, CniError } from './errors.js';
import { delegateSupports } from './negotiate.js';
import type { Attachment } from './netconf.js';
import { readSubnetFile } from './subnet-file.js';
import { compareVersions } from './version.js';

const GC_VERSION = '1.1.0';
/** The interface name an old-layout file of a stale container is released as (it did not record one). */
const LEGACY_IFNAME = 'eth0';

function requireVersion(ctx: CommandContext, command: string): void {
  if (compareVersions(ctx.netconf.cniVersion, GC_VERSION) < 0) {
    throw new CniError(CniCode.IncompatibleVersion, `config version does not allow ${command}`,
      { details: `config is ${ctx.netconf.cniVersion}; ${command} needs ${GC_VERSION} or later` });
  }
}

export const cmdStatus: Command = async (ctx) => {
  requireVersion(ctx, 'STATUS');
  const subnet = readSubnetFile(ctx.netconf.subnetFile);
  if (!subnet.ok) throw new CniError(CniCode.PluginNotAvailable, subnet.reason);
  const conf = buildDelegateConf(ctx.netconf, subnet.env);
  const type = conf['type'] as string;
  let supported: boolean;
  try {
    supported = await delegateSupports(ctx.invoker, type, GC_VERSION);
  } catch (err) {
    throw new CniError(CniCode.PluginNotAvailable, `delegate ${type} is not usable: ${(err as Error).message}`, { cause: err });
  }
  if (supported) await ctx.invoker.exec(type, 'STATUS', renderCanonicalJson(conf));
  else ctx.log.debug('delegate predates STATUS; not asked', { delegate: type });
  return undefined;
};

/**
 * GC: every record of this network whose attachment is not in
 * `cni.dev/valid-attachments` is released with the delegate's DEL and its
 * saved config (that frees host-local's address and the bridge's chains even
 * when the delegate has no GC of its own), and dropped only when that DEL
 * succeeded; a failed one is kept for the next GC. Old-layout files of this
 * network are adopted first (as the listed interfaces of a valid container,
 * as eth0 of a stale one). Then GC goes to a delegate that speaks 1.1.0.
 * Errors do not stop the sweep; they are reported together at the end.
 */
export const cmdGc: Command = async (ctx) => {
  requireVersion(ctx, 'GC');
  const { netconf, log } = ctx;
  const validList = netconf.validAttachments;
  if (validList === undefined) {
    throw new CniError(CniCode.InvalidNetworkConfig, 'GC needs "cni.dev/valid-attachments" (an empty list means: no container is valid)');
  }
  adoptLegacyFiles(ctx, validList);
  const isValid = (key: AttachmentKey): boolean => validList.some((a) => a.containerID === key.containerId && (a.ifname === undefined || a.ifname === key.ifname));
  const released: string[] = [];
  const failures: string[] = [];
  for (const { key, record } of listAttachments(netconf.dataDir, netconf.name)) {
    if (isValid(key)) continue;
    const conf = record === undefined ? undefined : parseConf(record.conf);
    if (record === undefined || conf === undefined) {
      log.warn('unreadable attachment record of a stale attachment: removed without a delegate DEL', { attachment: describeKey(key) });
      removeAttachment(netconf.dataDir, key);
      continue;
    }
    try {
      await ctx.invoker.exec(conf['type'] as string, 'DEL', record.conf,
        { CNI_CONTAINERID: key.containerId, CNI_IFNAME: key.ifname, CNI_NETNS: record.netns, CNI_ARGS: '' });
      removeAttachment(netconf.dataDir, key);
      released.push(describeKey(key));
    } catch (err) {
      failures.push(`${describeKey(key)}: ${(err as Error).message}`);
    }
  }
  if (released.length > 0) log.info('released stale attachments', { attachments: released });
  if (failures.length > 0) log.warn('could not release stale attachments; kept for the next GC', { failures });
  try {
    await forwardGc(ctx);
  } catch (err) {
    if (failures.length === 0) throw err; // the delegate's own error, with its code
    failures.push(`delegate GC: ${(err as Error).message}`);
  }
  if (failures.length > 0) {
    throw new CniError(CniCode.Internal, `GC could not release ${failures.length} item(s): ${failures.join('; ')}`);
  }
  return undefined;
};

function adoptLegacyFiles(ctx: CommandContext, valid: readonly Attachment[]): void {
  const { netconf, log } = ctx;
  for (const containerId of listLegacy(netconf.dataDir)) {
    const listed = valid.filter((a) => a.containerID === containerId);
    const ifnames = listed.length === 0 ? [LEGACY_IFNAME] : listed.map((a) => a.ifname ?? LEGACY_IFNAME);
    const key = { network: netconf.name, containerId, ifname: ifnames[0] ?? LEGACY_IFNAME };
    if (adoptLegacy(netconf.dataDir, key, '', ifnames) !== undefined) log.info('adopted the record of the old layout', { containerId, ifnames });
  }
}

async function forwardGc(ctx: CommandContext): Promise<void> {
  const subnet = readSubnetFile(ctx.netconf.subnetFile);
  if (!subnet.ok) {
    ctx.log.warn('subnet.env unavailable: GC not passed on to the delegate', { reason: subnet.reason });
    return;
  }
  const conf = buildDelegateConf(ctx.netconf, subnet.env);
  const type = conf['type'] as string;
  if (!(await delegateSupports(ctx.invoker, type, GC_VERSION))) {
    ctx.log.info('delegate predates GC; not asked (the stale attachments were released with its DEL)', { delegate: type });
    return;
  }
  const attachments = (ctx.netconf.validAttachments ?? []).map((a) => (a.ifname === undefined ? { containerID: a.containerID } : { containerID: a.containerID, ifname: a.ifname }));
  await ctx.invoker.exec(type, 'GC', renderCanonicalJson({ ...conf, cniVersion: GC_VERSION, 'cni.dev/valid-attachments': attachments }));
}
