/**
 * What the plugin reads and changes on the bridge (cni0) in its own network
 * namespace, through iproute2 with argument arrays. Behind a small interface
 * so the stale-address logic (bridge-address.ts) is tested with a fake.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CniCode, CniError } from './errors.js';

export interface BridgeLink {
  /** The link's MAC address. */
  readonly mac: string;
  /** IPv4 addresses as `a.b.c.d/len`. */
  readonly addresses: readonly string[];
  /** Global IPv6 addresses as `<ipv6>/len` (link-local ones left out: every link has one); absent means none. */
  readonly addresses6?: readonly string[];
}

export interface BridgeProbe {
  /** The bridge, or undefined when there is no link of that name. */
  read(name: string): Promise<BridgeLink | undefined>;
  /** Names of the links enslaved to the bridge (the containers' host-side veths); read only when needed (one more process). */
  ports(name: string): Promise<string[]>;
  /** Deletes the link; one that is already gone is fine. */
  remove(name: string): Promise<void>;
}

const IP_CANDIDATES = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];

function ipBinary(): string {
  return IP_CANDIDATES.find((p) => existsSync(p)) ?? 'ip';
}

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: readonly string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(ipBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

function failed(args: readonly string[], r: Ran): CniError {
  return new CniError(CniCode.Internal, `ip ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
}

export function createIpBridgeProbe(): BridgeProbe {
  return {
    async read(name) {
      const addrArgs = ['-j', 'addr', 'show', 'dev', name]; // not -4: a link without IPv4 addresses would not be listed at all
      const addr = await run(addrArgs);
      if (addr.code !== 0) {
        if (/does not exist/i.test(addr.stderr)) return undefined;
        throw failed(addrArgs, addr);
      }
      return { mac: parseMac(addr.stdout), addresses: parseAddresses(addr.stdout), addresses6: parseAddresses6(addr.stdout) };
    },
    async ports(name) {
      const args = ['-j', 'link', 'show', 'master', name];
      const r = await run(args);
      if (r.code !== 0) throw failed(args, r);
      return parseLinkNames(r.stdout);
    },
    async remove(name) {
      const args = ['link', 'del', 'dev', name];
      const r = await run(args);
      if (r.code !== 0 && !/does not exist|Cannot find device/i.test(r.stderr)) throw failed(args, r);
    },
  };
}

/** `ip -j addr show dev X` → `a.b.c.d/len` for every IPv4 address. */
export function parseAddresses(json: string): string[] {
  return addrInfo(json).filter((a) => a['family'] === 'inet').map((a) => `${String(a['local'])}/${String(a['prefixlen'])}`);
}

/** `ip -j addr show dev X` → `<ipv6>/len` for every IPv6 address that is not link-local (the bridge's own fe80:: one). */
export function parseAddresses6(json: string): string[] {
  return addrInfo(json).filter((a) => a['family'] === 'inet6' && a['scope'] !== 'link')
    .map((a) => `${String(a['local'])}/${String(a['prefixlen'])}`);
}

function addrInfo(json: string): Array<Record<string, unknown>> {
  return parseJsonList(json).flatMap((l) => (Array.isArray(l['addr_info']) ? (l['addr_info'] as Array<Record<string, unknown>>) : []))
    .filter((a) => typeof a['local'] === 'string' && typeof a['prefixlen'] === 'number');
}

/** The first link's MAC in `ip -j addr show` output ('' when absent). */
export function parseMac(json: string): string {
  const address = parseJsonList(json)[0]?.['address'];
  return typeof address === 'string' ? address : '';
}

/** `ip -j link show master X` → link names. */
export function parseLinkNames(json: string): string[] {
  return parseJsonList(json).flatMap((l) => (typeof l['ifname'] === 'string' ? [l['ifname']] : []));
}

function parseJsonList(json: string): Array<Record<string, unknown>> {
  if (json.trim() === '') return [];
  const value: unknown = JSON.parse(json);
  return Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null) : [];
}
