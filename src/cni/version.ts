/**
 * The CNI spec versions weft speaks, and the little version arithmetic the
 * commands need. Loaded by the VERSION fast path, so it imports nothing.
 */

/** Spec versions weft accepts in a netconf, oldest first. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** The version weft reports its VERSION answer in. */
export const CURRENT_VERSION = '1.1.0';

/** The VERSION answer, exactly as printed on stdout. */
export function versionAnswer(): string {
  return JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: SUPPORTED_VERSIONS });
}

export function isSupportedVersion(version: string): boolean {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(version);
}

/** Compares dotted versions numerically; returns <0, 0 or >0. Non-numbers sort lowest. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : -1));
  const pb = b.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : -1));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The highest of `ours` that the delegate also lists, no higher than `wanted`,
 * or undefined when there is none.
 */
export function negotiateVersion(wanted: string, delegateSupports: readonly string[]): string | undefined {
  const candidates = delegateSupports.filter((v) => isSupportedVersion(v) && compareVersions(v, wanted) <= 0);
  candidates.sort(compareVersions);
  return candidates[candidates.length - 1];
}
