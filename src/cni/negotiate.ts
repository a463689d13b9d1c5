/**
 * Which spec version to speak to the delegate. The Debian/Ubuntu reference
 * plugins (containernetworking-plugins 1.1.1) stop at 1.0.0 and answer a
 * 1.1.0 config with error 1, and answer GC or STATUS with an unrelated error
 * (3 "missing containerID"). So for a 1.1.0 netconf weft asks the delegate's
 * VERSION once and talks 1.0.0 to an older delegate (the 1.0.0 and 1.1.0
 * result formats are the same apart from optional fields), and skips GC and
 * STATUS forwarding when the delegate does not list 1.1.0.
 */
import { CniCode, CniError } from './errors.js';
import type { PluginInvoker } from './invoke.js';
import { compareVersions, negotiateVersion } from './version.js';

/** The highest version every plugin since 2021 speaks; no VERSION call needed up to here. */
const WIDELY_SUPPORTED = '1.0.0';

/** The delegate's VERSION answer, as a list of versions. */
export async function delegateVersions(invoker: PluginInvoker, type: string, cniVersion: string): Promise<readonly string[]> {
  const out = await invoker.exec(type, 'VERSION', JSON.stringify({ cniVersion }));
  try {
    const parsed: unknown = JSON.parse(out);
    const list = (parsed as { supportedVersions?: unknown }).supportedVersions;
    if (Array.isArray(list) && list.every((v) => typeof v === 'string')) return list as string[];
  } catch {
    // fall through
  }
  throw new CniError(CniCode.Internal, `delegate ${type} gave an unreadable VERSION answer: ${out.slice(0, 200)}`);
}

/** The version to put in the delegate's config for a netconf of `wanted`. */
export async function chooseDelegateVersion(invoker: PluginInvoker, type: string, wanted: string): Promise<string> {
  if (compareVersions(wanted, WIDELY_SUPPORTED) <= 0) return wanted;
  const supports = await delegateVersions(invoker, type, wanted);
  if (supports.includes(wanted)) return wanted;
  const chosen = negotiateVersion(wanted, supports);
  if (chosen === undefined) {
    throw new CniError(CniCode.IncompatibleVersion, `incompatible CNI versions: delegate ${type} supports none of weft's versions up to ${wanted}`,
      { details: `delegate supports ${supports.join(', ')}` });
  }
  return chosen;
}

/** True when the delegate knows `version` (used for GC and STATUS, which arrived in 1.1.0). */
export async function delegateSupports(invoker: PluginInvoker, type: string, version: string): Promise<boolean> {
  return (await delegateVersions(invoker, type, version)).includes(version);
}
