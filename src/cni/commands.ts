/**
 * ADD, DEL and CHECK. Each reads what it needs, asks the delegate, and returns
 * the text for stdout (undefined for nothing). Errors are CniErrors.
 */
import type { CniArgs } from './args.js';
import { buildDelegateConf, renderCanonicalJson } from './delegate.js';
import { CniCode, CniError } from './errors.js';
import type { PluginInvoker } from './invoke.js';
import type { Logger } from './log.js';
import { chooseDelegateVersion } from './negotiate.js';
import { isJsonObject, type JsonObject, type NetConf } from './netconf.js';
import { readDelegateConf, removeDelegateConf, saveDelegateConf } from './scratch.js';
import { readSubnetFile } from './subnet-file.js';
import { compareVersions } from './version.js';

/** Everything a command needs; built once per process by the dispatcher. */
export interface CommandContext {
  readonly args: CniArgs;
  readonly netconf: NetConf;
  readonly invoker: PluginInvoker;
  readonly log: Logger;
}

export type Command = (ctx: CommandContext) => Promise<string | undefined>;

export const cmdAdd: Command = async ({ args, netconf, invoker, log }) => {
  const subnet = readSubnetFile(netconf.subnetFile);
  if (!subnet.ok) throw new CniError(CniCode.TryAgainLater, subnet.reason);
  const built = buildDelegateConf(netconf, subnet.env);
  const type = built['type'] as string;
  const version = await chooseDelegateVersion(invoker, type, netconf.cniVersion);
  const json = renderCanonicalJson({ ...built, cniVersion: version });
  // A repeated ADD (a runtime retry) must not lose the record of an earlier successful one.
  const previous = readDelegateConf(netconf.dataDir, args.containerId);
  saveDelegateConf(netconf.dataDir, args.containerId, json);
  log.debug('delegate config saved', { dataDir: netconf.dataDir, delegate: json });
  let result: string;
  try {
    result = await invoker.exec(type, 'ADD', json);
  } catch (err) {
    undoSave(netconf.dataDir, args.containerId, previous, log);
    throw err;
  }
  log.info('added', { delegate: type, subnet: subnet.env.subnet });
  return version === netconf.cniVersion ? result : relabelResult(result, netconf.cniVersion);
};

export const cmdDel: Command = async ({ args, netconf, invoker, log }) => {
  const saved = readDelegateConf(netconf.dataDir, args.containerId);
  if (saved === undefined) {
    log.info('no saved delegate config: nothing to delete');
    return undefined;
  }
  const conf = parseSavedConf(saved);
  if (conf === undefined) {
    // Cannot be replayed; keeping it would only make every later DEL fail.
    log.warn('saved delegate config is unreadable; removing it without a delegate DEL', { saved: saved.slice(0, 500) });
    removeDelegateConf(netconf.dataDir, args.containerId);
    return undefined;
  }
  await invoker.exec(conf['type'] as string, 'DEL', saved);
  removeDelegateConf(netconf.dataDir, args.containerId);
  log.info('deleted', { delegate: conf['type'] });
  return undefined;
};

export const cmdCheck: Command = async ({ args, netconf, invoker }) => {
  if (compareVersions(netconf.cniVersion, '0.4.0') < 0) {
    throw new CniError(CniCode.IncompatibleVersion, 'config version does not allow CHECK', { details: `config is ${netconf.cniVersion}; CHECK needs 0.4.0 or later` });
  }
  const saved = readDelegateConf(netconf.dataDir, args.containerId);
  const conf = saved === undefined ? undefined : parseSavedConf(saved);
  if (conf === undefined) {
    throw new CniError(CniCode.UnknownContainer, `weft has no ${saved === undefined ? '' : 'readable '}saved config for container ${args.containerId} in ${netconf.dataDir}`);
  }
  const subnet = readSubnetFile(netconf.subnetFile);
  if (!subnet.ok) throw new CniError(CniCode.TryAgainLater, subnet.reason);
  const savedSubnet = savedRangeSubnet(conf);
  if (savedSubnet !== undefined && savedSubnet !== subnet.env.subnet) {
    throw new CniError(CniCode.Internal, `this host's subnet changed from ${savedSubnet} to ${subnet.env.subnet} since the container was added: its address is no longer routed to this host; recreate the container`);
  }
  const withPrev = netconf.prevResult === undefined ? conf : { ...conf, prevResult: { ...netconf.prevResult, cniVersion: conf['cniVersion'] ?? netconf.cniVersion } };
  await invoker.exec(conf['type'] as string, 'CHECK', JSON.stringify(withPrev));
  return undefined;
};

/** A saved config as an object with a string `type`, or undefined when it is not one. */
export function parseSavedConf(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) && typeof value['type'] === 'string' && value['type'] !== '' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The host-local range a saved config was built with (`ipam.ranges[0][0].subnet`). */
function savedRangeSubnet(conf: JsonObject): string | undefined {
  const ipam = conf['ipam'];
  const ranges = isJsonObject(ipam) ? ipam['ranges'] : undefined;
  const first = Array.isArray(ranges) && Array.isArray(ranges[0]) ? (ranges[0] as unknown[])[0] : undefined;
  const subnet = isJsonObject(first) ? first['subnet'] : undefined;
  return typeof subnet === 'string' ? subnet : undefined;
}

/** A result obtained at a lower delegate version, labelled with the version the runtime asked for. */
function relabelResult(result: string, cniVersion: string): string {
  const parsed: unknown = JSON.parse(result);
  if (!isJsonObject(parsed)) throw new CniError(CniCode.Internal, 'the delegate ADD result is not a JSON object');
  return JSON.stringify({ ...parsed, cniVersion });
}

/** After a failed ADD: put back the config of an earlier ADD, or remove ours (no leak either way). */
function undoSave(dataDir: string, containerId: string, previous: string | undefined, log: Logger): void {
  try {
    if (previous === undefined) removeDelegateConf(dataDir, containerId);
    else saveDelegateConf(dataDir, containerId, previous);
  } catch (err) {
    log.error('cannot undo the saved config after a failed ADD', { err });
  }
}
