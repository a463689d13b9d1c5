/**
 * The one place that sees the raw network configuration from stdin: it turns
 * it into a checked, fully defaulted NetConf or throws a CniError (6 not JSON,
 * 7 invalid, 1 unsupported version).
 */
import { DEFAULT_SUBNET_FILE } from '../core/subnet-env.js';
import { isValidIdentifier } from './args.js';
import { CniCode, CniError } from './errors.js';
import { SUPPORTED_VERSIONS, isSupportedVersion } from './version.js';

export type Json = null | boolean | number | string | readonly Json[] | JsonObject;
export type JsonObject = { readonly [key: string]: Json };

export { DEFAULT_SUBNET_FILE } from '../core/subnet-env.js';
export const DEFAULT_DATA_DIR = '/var/lib/cni/weft';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One entry of `cni.dev/valid-attachments` (GC). */
export interface Attachment {
  readonly containerID: string;
  readonly ifname: string | undefined;
}

export interface NetConf {
  readonly cniVersion: string;
  readonly name: string;
  readonly subnetFile: string;
  readonly dataDir: string;
  readonly delegate: JsonObject | undefined;
  readonly ipam: JsonObject | undefined;
  readonly runtimeConfig: JsonObject | undefined;
  /** The netconf's `args` (spec "Network configuration": data for plugins), passed to the delegate. */
  readonly args: JsonObject | undefined;
  readonly prevResult: JsonObject | undefined;
  /** GC only: the attachments the runtime still knows; undefined when absent. */
  readonly validAttachments: readonly Attachment[] | undefined;
  readonly logFile: string | undefined;
  readonly logLevel: LogLevel;
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): CniError {
  return new CniError(CniCode.InvalidNetworkConfig, message);
}

/** Parses stdin. Field problems are reported together in one error 7. */
export function parseNetConf(stdin: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    const why = stdin.trim() === '' ? 'stdin is empty' : (err as Error).message;
    throw new CniError(CniCode.DecodingFailure, `network configuration on stdin is not valid JSON: ${why}`);
  }
  if (!isJsonObject(raw)) throw invalid('network configuration must be a JSON object');
  const cniVersion = parseVersion(raw['cniVersion']);
  const problems: string[] = [];
  const name = raw['name'];
  if (typeof name !== 'string' || name === '') problems.push('"name" is missing');
  else if (!isValidIdentifier(name)) problems.push(`"name" "${name}" has invalid characters (letters, digits, '_', '.', '-' only)`);
  if (raw['type'] !== undefined && typeof raw['type'] !== 'string') problems.push('"type" must be a string');
  const conf: NetConf = {
    cniVersion,
    name: typeof name === 'string' ? name : '',
    subnetFile: absolutePath(raw, 'subnetFile', DEFAULT_SUBNET_FILE, problems),
    dataDir: absolutePath(raw, 'dataDir', DEFAULT_DATA_DIR, problems),
    delegate: checkDelegate(optionalObject(raw, 'delegate', problems), problems),
    ipam: checkIpam(optionalObject(raw, 'ipam', problems), problems),
    runtimeConfig: optionalObject(raw, 'runtimeConfig', problems),
    args: optionalObject(raw, 'args', problems),
    prevResult: optionalObject(raw, 'prevResult', problems),
    validAttachments: attachments(raw, problems),
    logFile: raw['logFile'] === undefined ? undefined : absolutePath(raw, 'logFile', '', problems),
    logLevel: logLevel(raw['logLevel'], problems),
  };
  if (problems.length > 0) throw invalid(`invalid network configuration: ${problems.join('; ')}`);
  return conf;
}

function parseVersion(value: Json | undefined): string {
  const supported = `weft supports ${SUPPORTED_VERSIONS.join(', ')}`;
  if (value === undefined || value === '') {
    throw new CniError(CniCode.IncompatibleVersion, 'incompatible CNI versions: "cniVersion" is missing (which means 0.1.0)', { details: supported });
  }
  if (typeof value !== 'string') throw invalid('invalid network configuration: "cniVersion" must be a string');
  if (!isSupportedVersion(value)) {
    throw new CniError(CniCode.IncompatibleVersion, `incompatible CNI versions: config is "${value}"`, { details: supported });
  }
  return value;
}

function optionalObject(raw: JsonObject, key: string, problems: string[]): JsonObject | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) {
    problems.push(`"${key}" must be an object`);
    return undefined;
  }
  return value;
}

function absolutePath(raw: JsonObject, key: string, fallback: string, problems: string[]): string {
  const value = raw[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/')) {
    problems.push(`"${key}" must be an absolute path`);
    return fallback;
  }
  return value;
}

function checkDelegate(delegate: JsonObject | undefined, problems: string[]): JsonObject | undefined {
  if (delegate === undefined) return undefined;
  if (delegate['type'] !== undefined && (typeof delegate['type'] !== 'string' || delegate['type'] === '')) {
    problems.push('"delegate.type", if present, must be a plugin name');
  }
  if (delegate['name'] !== undefined) problems.push('"delegate" must not have "name": weft sets it to the network name');
  if (delegate['ipam'] !== undefined) problems.push('"delegate" must not have "ipam": weft builds it from subnet.env (put extra IPAM fields in the top-level "ipam")');
  return delegate;
}

function checkIpam(ipam: JsonObject | undefined, problems: string[]): JsonObject | undefined {
  if (ipam === undefined) return undefined;
  if (ipam['type'] !== undefined && (typeof ipam['type'] !== 'string' || ipam['type'] === '')) {
    problems.push('"ipam.type", if present, must be a plugin name');
  }
  const routes = ipam['routes'];
  if (routes !== undefined) {
    const ok = Array.isArray(routes) && routes.every((r: Json) => isJsonObject(r) && typeof r['dst'] === 'string'
      && (r['gw'] === undefined || typeof r['gw'] === 'string'));
    if (!ok) problems.push('"ipam.routes" must be a list of {"dst": "<cidr>", "gw"?: "<ip>"}');
  }
  return ipam;
}

function attachments(raw: JsonObject, problems: string[]): readonly Attachment[] | undefined {
  // libcni sends both spellings (the older one was a spec typo).
  const value = raw['cni.dev/valid-attachments'] ?? raw['cni.dev/attachments'];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((a: Json) => isJsonObject(a) && typeof a['containerID'] === 'string')) {
    problems.push('"cni.dev/valid-attachments" must be a list of {"containerID": "...", "ifname": "..."}');
    return undefined;
  }
  return (value as readonly JsonObject[]).map((a) => ({
    containerID: a['containerID'] as string,
    ifname: typeof a['ifname'] === 'string' ? a['ifname'] : undefined,
  }));
}

function logLevel(value: Json | undefined, problems: string[]): LogLevel {
  if (value === undefined) return 'warn';
  if (typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  problems.push(`"logLevel" must be one of ${LOG_LEVELS.join(', ')}`);
  return 'warn';
}
