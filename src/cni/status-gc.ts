/**
 * STATUS and GC (CNI spec 1.1.0). STATUS says whether an ADD could succeed
 * now; GC drops saved configs of containers the runtime no longer knows.
 * Both pass the request on to a delegate that speaks 1.1.0 and skip it
 * (logged) for an older delegate, which would answer with a misleading error.
 */
import type { Command, CommandContext } from './commands.js';
import { parseSavedConf } from './commands.js';
import { buildDelegateConf, renderCanonicalJson } from './delegate.js';
import { CniCode, CniError } from './errors.js';
import { delegateSupports } from './negotiate.js';
import { listSavedContainerIds, readDelegateConf, removeDelegateConf } from './scratch.js';
import { readSubnetFile } from './subnet-file.js';
import { compareVersions } from './version.js';

const GC_VERSION = '1.1.0';

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

export const cmdGc: Command = async (ctx) => {
  requireVersion(ctx, 'GC');
  const { netconf, log } = ctx;
  if (netconf.validAttachments === undefined) {
    throw new CniError(CniCode.InvalidNetworkConfig, 'GC needs "cni.dev/valid-attachments" (an empty list means: no container is valid)');
  }
  const valid = new Set(netconf.validAttachments.map((a) => a.containerID));
  const removed: string[] = [];
  for (const id of listSavedContainerIds(netconf.dataDir)) {
    if (valid.has(id)) continue;
    const saved = readDelegateConf(netconf.dataDir, id);
    // dataDir may be shared by several weft networks: only collect this network's configs.
    if (saved === undefined || parseSavedConf(saved)?.['name'] !== netconf.name) continue;
    removeDelegateConf(netconf.dataDir, id);
    removed.push(id);
  }
  if (removed.length > 0) log.info('removed stale saved configs', { containers: removed });
  await forwardGc(ctx);
  return undefined;
};

async function forwardGc(ctx: CommandContext): Promise<void> {
  const subnet = readSubnetFile(ctx.netconf.subnetFile);
  if (!subnet.ok) {
    ctx.log.warn('subnet.env unavailable: GC not passed on to the delegate', { reason: subnet.reason });
    return;
  }
  const conf = buildDelegateConf(ctx.netconf, subnet.env);
  const type = conf['type'] as string;
  if (!(await delegateSupports(ctx.invoker, type, GC_VERSION))) {
    ctx.log.info('delegate predates GC; not asked', { delegate: type });
    return;
  }
  const attachments = (ctx.netconf.validAttachments ?? []).map((a) => (a.ifname === undefined ? { containerID: a.containerID } : { containerID: a.containerID, ifname: a.ifname }));
  await ctx.invoker.exec(type, 'GC', renderCanonicalJson({ ...conf, 'cni.dev/valid-attachments': attachments }));
}
