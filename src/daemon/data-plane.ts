/**
 * The kernel half of weftd: owns the VXLAN device and keeps the per-peer
 * neighbour/FDB/route entries equal to what the leases want. Level-triggered:
 * every pass reads the kernel, plans the difference and applies it, so a
 * failed operation, a hand edit or a deleted device is repaired by the next
 * pass with no compensation logic here.
 */
import type { Logger } from 'pino';
import { type Cidr, type Ipv4, cidrIp, containsIp, parseCidr } from '../core/cidr.js';
import { WeftError } from '../core/errors.js';
import { type KernelOp, desiredState, describeOp, planKernel, summarizeOps } from '../core/kernel-state.js';
import type { Lease } from '../core/lease.js';
import { type VxlanDeviceSpec, type VxlanLinkInfo, deviceMismatch, deviceSpec } from '../core/vxlan-device.js';
import type { ApplyReport, Kernel } from '../adapters/kernel.js';
import type { DataPlanePort, PassResult, PrepareInput, Prepared } from './data-plane-port.js';

export interface DataPlaneOptions {
  readonly kernel: Kernel;
  readonly log: Logger;
}

export interface PreparedDevice extends Prepared {
  /** The external interface the device sits on. */
  readonly parent: string;
}

/** How many failed operations one warning lists (the rest are counted). */
const FAILURES_LOGGED = 10;

export class DataPlane implements DataPlanePort {
  readonly #kernel: Kernel;
  readonly #log: Logger;
  #spec: VxlanDeviceSpec | undefined;
  #network: Cidr | undefined;

  constructor(options: DataPlaneOptions) {
    this.#kernel = options.kernel;
    this.#log = options.log;
  }

  /**
   * Selects the external interface and makes sure the device exists with the
   * right settings: reused when compatible (MTU fixed in place), recreated
   * when VNI, port, local address, parent, MAC or GBP differ. Throws on
   * failure: without a device there is nothing to advertise.
   */
  async prepare(input: PrepareInput): Promise<PreparedDevice> {
    const ext = await this.#kernel.externalInterface({ iface: input.iface, publicIp: input.publicIp });
    const spec = deviceSpec(input.config, ext, input.nodeName);
    await this.#ensureDevice(spec, []);
    this.#spec = spec;
    this.#network = input.config.network;
    const publicIp: Ipv4 = input.publicIp ?? ext.address;
    this.#log.info({ device: spec.name, parent: spec.parent, local: spec.local, publicIp, vni: spec.vni,
      port: spec.port, mtu: spec.mtu, mac: spec.mac }, 'vxlan device ready');
    return { publicIp, vtepMac: spec.mac, mtu: spec.mtu, device: spec.name, parent: spec.parent };
  }

  /**
   * One pass: re-ensure the device (recreating it if it vanished), its
   * `<subnet .0>/32` address and link state, then converge the peer entries.
   * Kernel failures are reported in the result and logged, never thrown.
   */
  async reconcile(selfSubnet: Cidr, leases: readonly Lease[]): Promise<PassResult> {
    const spec = this.#spec;
    const network = this.#network;
    if (!spec || !network) throw new Error('DataPlane.reconcile called before prepare');
    const deviceChanges: string[] = [];
    let ops: KernelOp[] = [];
    let report: ApplyReport = { applied: 0, failed: [] };
    try {
      const link = await this.#ensureDevice(spec, deviceChanges);
      await this.#ensureLinkConfig(link, cidrIp(selfSubnet), network, deviceChanges);
      ops = planKernel(desiredState(selfSubnet, leases), await this.#kernel.readState(spec.name));
      if (ops.length > 0) report = await this.#kernel.apply(spec.name, ops);
    } catch (err) {
      if (!(err instanceof WeftError)) throw err;
      this.#log.error({ err, device: spec.name, deviceChanges }, 'data plane pass failed');
      return { ok: false, applied: 0, failed: 0, changes: deviceChanges.length + ops.length };
    }
    this.#logPass(spec.name, deviceChanges, ops, report);
    const failed = report.failed.length;
    return { ok: failed === 0, applied: report.applied, failed, changes: deviceChanges.length + ops.length };
  }

  async #ensureDevice(spec: VxlanDeviceSpec, changes: string[]): Promise<VxlanLinkInfo> {
    let link = await this.#kernel.readDevice(spec.name);
    if (link) {
      const reason = deviceMismatch(spec, link);
      if (reason !== undefined) {
        this.#log.warn({ device: spec.name, reason }, 'vxlan device incompatible, recreating');
        await this.#kernel.deleteDevice(spec.name);
        changes.push(`deleted incompatible device (${reason})`);
        link = undefined;
      }
    } else if (this.#spec) {
      this.#log.warn({ device: spec.name }, 'vxlan device missing, recreating');
    }
    if (!link) {
      await this.#kernel.createDevice(spec);
      changes.push('created device');
      link = await this.#kernel.readDevice(spec.name);
      if (!link) throw new WeftError('kernel', `device ${spec.name} is missing right after it was created`, { retryable: true });
    }
    if (link.mtu !== spec.mtu) {
      await this.#kernel.setMtu(spec.name, spec.mtu);
      changes.push(`mtu ${link.mtu} -> ${spec.mtu}`);
    }
    return link;
  }

  /** The /32 address (flannel's choice: no broadcast routes, a source for host→pod traffic) and link up. */
  async #ensureLinkConfig(link: VxlanLinkInfo, ip: Ipv4, network: Cidr, changes: string[]): Promise<void> {
    const wanted = `${ip}/32`;
    const strays = link.addresses.filter((a) => a !== wanted && inNetwork(a, network));
    if (!link.addresses.includes(wanted) || strays.length > 0) {
      const change = await this.#kernel.ensureAddress(link.name, ip, network);
      if (change.added) changes.push(`address ${wanted}`);
      for (const removed of change.removed) changes.push(`removed address ${removed}`);
    }
    if (!link.up) {
      await this.#kernel.setUp(link.name);
      changes.push('link up');
    }
  }

  #logPass(device: string, deviceChanges: readonly string[], ops: readonly KernelOp[], report: ApplyReport): void {
    if (report.failed.length > 0) {
      const failures = report.failed.slice(0, FAILURES_LOGGED).map((f) => ({ op: describeOp(f.op), error: f.error }));
      this.#log.warn({ device, failed: report.failed.length, failures }, 'kernel operations failed; retrying next pass');
    }
    if (deviceChanges.length === 0 && ops.length === 0) {
      this.#log.debug({ device }, 'data plane in sync');
      return;
    }
    this.#log.info({ device, deviceChanges, ops: summarizeOps(ops), applied: report.applied, failed: report.failed.length },
      'data plane changed');
  }
}

function inNetwork(address: string, network: Cidr): boolean {
  const parsed = parseCidr(address, false);
  return parsed.ok && containsIp(network, parsed.ip);
}
