/**
 * What every data-plane bench row shares: the etcd client and prefix, the
 * peer count, the kernel monitor, and how weftd is started (always the same
 * flags; the resync interval stays at weftd's default on purpose).
 */
import { readFileSync, rmSync } from 'node:fs';
import type { Etcd3 } from 'etcd3';
import { execa } from 'execa';
import { WEFT_ROUTE_PROTOCOL } from '../src/core/kernel-state.js';
import type { KernelEvent, KernelMonitor } from './kernel-monitor.js';

export interface BenchContext {
  readonly etcd: Etcd3;
  readonly etcdEndpoint: string;
  readonly prefix: string;
  readonly peers: number;
  readonly monitor: KernelMonitor;
  /** weftd's VXLAN device for VNI 1. */
  readonly device: string;
  readonly nodeName: string;
  readonly subnetFile: string;
  readonly healthPort: number;
  readonly clockTicks: number;
}

/** weftd's flags for every run: no --resync-interval (the default is part of what is measured). */
export function weftdArgs(ctx: BenchContext): string[] {
  return ['--etcd-endpoints', ctx.etcdEndpoint, '--node-name', ctx.nodeName, '--iface', 'eth0',
    '--subnet-file', ctx.subnetFile, '--healthz-port', String(ctx.healthPort)];
}

/**
 * True for a monitor line about weftd's device or anything on it (link,
 * address, route, neighbour, FDB entry), typed or not: the device's name as a
 * word (`dev weft.1`, `[LINK]4: weft.1:`, `[ADDR]4: weft.1    inet …`).
 */
export function onDevice(ctx: BenchContext, e: KernelEvent): boolean {
  const name = ctx.device.replace(/[.]/g, '\\.');
  return new RegExp(`(^|[\\s:\\]])${name}([\\s:@]|$)`).test(e.text);
}

/** One of weft's routes (proto 87, WEFT_ROUTE_PROTOCOL) present on the device; its destination, else undefined. */
export function weftRouteAdded(ctx: BenchContext, e: KernelEvent): string | undefined {
  const c = e.change;
  return c?.kind === 'route' && !c.deleted && c.device === ctx.device && c.protocol === WEFT_ROUTE_PROTOCOL ? c.dst : undefined;
}

/** A host that never ran weftd: no device, no subnet.env, no lease or node name of its own in etcd. */
export async function forgetHost(ctx: BenchContext): Promise<void> {
  await execa('ip', ['link', 'del', ctx.device]).catch(() => undefined);
  rmSync(ctx.subnetFile, { force: true });
  const leases = await ctx.etcd.getAll().prefix(`${ctx.prefix}/subnets/`).strings();
  for (const [key, value] of Object.entries(leases)) {
    if (leaseNodeName(value) === ctx.nodeName) await ctx.etcd.delete().key(key);
  }
  await ctx.etcd.delete().key(`${ctx.prefix}/weft-nodes/${ctx.nodeName}`);
}

function leaseNodeName(value: string): unknown {
  try { return (JSON.parse(value) as { NodeName?: unknown }).NodeName; } catch { return undefined; }
}

/** weftd's own subnet as `10.x.y.0/24`, from the subnet.env it wrote (FLANNEL_SUBNET=10.x.y.1/24). */
export function ownSubnet(ctx: BenchContext): string {
  const m = /^FLANNEL_SUBNET=(\d+\.\d+\.\d+)\.\d+\/(\d+)$/m.exec(readFileSync(ctx.subnetFile, 'utf8'));
  if (!m) throw new Error(`${ctx.subnetFile} has no FLANNEL_SUBNET line`);
  return `${m[1]}.0/${m[2]}`;
}

/** Counts the monitor's events on weftd's device until the returned function is called. */
export function countDeviceChanges(ctx: BenchContext): () => { count: number; examples: string[] } {
  let count = 0;
  const examples: string[] = [];
  const off = ctx.monitor.on((e) => {
    if (!onDevice(ctx, e)) return;
    count++;
    if (examples.length < 3) examples.push(e.text.slice(0, 120));
  });
  return () => { off(); return { count, examples }; };
}

/** The kernel monitor dropped notifications during a measurement: that sample says nothing; the run is repeated. */
export class MonitorLostError extends Error {
  constructor(what: string, reasons: readonly string[]) {
    super(`kernel monitor lost notifications during ${what}: ${reasons.join('; ')}`);
    this.name = 'MonitorLostError';
  }
}

/** Throws MonitorLostError if the monitor reported a loss since `since` (performance.now()). */
export function assertNothingLost(ctx: BenchContext, since: number, what: string): void {
  const reasons = ctx.monitor.lostSince(since);
  if (reasons.length > 0) throw new MonitorLostError(what, reasons);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
