/**
 * The kernel half of weftd: owns the VXLAN device and keeps the per-peer
 * neighbour/FDB/route entries equal to what the leases want. Level-triggered:
 * a resync pass reads the kernel, plans the difference and applies it, so a
 * failed operation, a hand edit or a deleted device is repaired by the next
 * resync with no compensation logic here. Passes between resyncs (peer
 * events) plan against what the last successful pass left (docs/design.md).
 */
import type { Logger } from 'pino';
import { type Cidr, type Ipv4, cidrIp, containsIp, parseCidr } from '../core/cidr.js';
import { UsageError, WeftError } from '../core/errors.js';
import { KernelCache } from '../core/kernel-cache.js';
import { type KernelOp, type KernelState, desiredState, describeOp, planKernel, summarizeOps } from '../core/kernel-state.js';
import { type ForeignRoute, type Peer, withoutCollisions } from '../core/peer-acceptance.js';
import { type VxlanDeviceSpec, type VxlanLinkInfo, deviceMismatch, deviceSpec, vxlanLocal } from '../core/vxlan-device.js';
import type { ApplyReport, Kernel } from '../adapters/kernel.js';
import type { DataPlanePort, PassResult, PrepareInput, Prepared, ReconcileOptions } from './data-plane-port.js';

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
  /** What the last fully successful pass left in the kernel, for that device spec (a new prepare() drops it) and own subnet. */
  #known: { readonly spec: VxlanDeviceSpec; readonly selfSubnet: Cidr; readonly kernel: KernelCache } | undefined;
  /** Main-table routes inside the network that weft does not own, as the last resync read them (the route-collision rule between resyncs). */
  #foreign: readonly ForeignRoute[] = [];
  /** The device as prepare() checked it, for readAhead(): at start the device is read once, not twice. */
  #preparedLink: VxlanLinkInfo | undefined;
  /** The next read pass's kernel read, started early by readAhead(). */
  #ahead: { readonly spec: VxlanDeviceSpec; readonly selfSubnet: Cidr; readonly read: Promise<{ state: KernelState; changes: string[] }> } | undefined;

  constructor(options: DataPlaneOptions) {
    this.#kernel = options.kernel;
    this.#log = options.log;
  }

  /**
   * Selects the external interface and makes sure the device exists with the
   * right settings: reused when compatible (MTU fixed in place), recreated
   * when VNI, port, local address, parent, MAC or GBP differ. The device's
   * local address is the public IP (default: the interface's address); a
   * `--public-ip` the interface does not hold is a UsageError. Throws on
   * failure: without a device there is nothing to advertise.
   */
  async prepare(input: PrepareInput): Promise<PreparedDevice> {
    const ext = await this.#kernel.externalInterface({ iface: input.iface, publicIp: input.publicIp });
    const local = vxlanLocal(ext, input.publicIp);
    if (!local.ok) throw new UsageError(local.reason);
    const spec = deviceSpec(input.config, ext, input.nodeName, local.local);
    this.#preparedLink = await this.#ensureDevice(spec, []);
    this.#ahead = undefined;
    this.#spec = spec;
    this.#network = input.config.network;
    const publicIp: Ipv4 = local.local;
    this.#log.info({ device: spec.name, parent: spec.parent, local: spec.local, publicIp, vni: spec.vni,
      port: spec.port, mtu: spec.mtu, mac: spec.mac }, 'vxlan device ready');
    return { publicIp, vtepMac: spec.mac, mtu: spec.mtu, device: spec.name, parent: spec.parent };
  }

  /**
   * Starts the kernel read of the next pass that reads (weftd: the first
   * pass, once the lease is acquired, while the peers are still being
   * listed), so that pass does not wait for it. It is the same read and check
   * as the pass's own, except that the device is not read again right after
   * prepare() checked it; if it has changed since, the full check runs.
   */
  readAhead(selfSubnet: Cidr): void {
    const spec = this.#spec;
    const network = this.#network;
    if (!spec || !network) return;
    const link = this.#preparedLink;
    this.#preparedLink = undefined;
    const attempt = async (checked?: VxlanLinkInfo): Promise<{ state: KernelState; changes: string[] }> => {
      const changes: string[] = [];
      return { state: await this.#readKernel(spec, network, selfSubnet, changes, checked), changes };
    };
    const read = link ? attempt(link).catch(() => attempt()) : attempt();
    read.catch(() => undefined); // the pass that takes it awaits it and reports a failure
    this.#ahead = { spec, selfSubnet, read };
  }

  /**
   * One pass. A resync (the default) re-ensures the device (recreating it if
   * it vanished), its `<subnet .0>/32` address and link state, reads the peer
   * entries and converges them. Otherwise, when the last pass succeeded on
   * the same device and own subnet, it plans against the state that pass left
   * and touches the kernel only to apply the difference: an event costs one
   * `ip` and one `bridge` process instead of four reads first. Hand edits are
   * then repaired by the next resync (the loop asks for one every resync
   * interval). Kernel failures are reported in the result and logged, never
   * thrown; any failure drops the known state, so the next pass reads.
   */
  async reconcile(selfSubnet: Cidr, leases: readonly Peer[], options: ReconcileOptions = {}): Promise<PassResult> {
    const spec = this.#spec;
    const network = this.#network;
    if (!spec || !network) throw new Error('DataPlane.reconcile called before prepare');
    const known = this.#known;
    this.#known = undefined; // trusted again only once this pass has fully succeeded
    const cached = options.resync === false && known?.spec === spec && known.selfSubnet === selfSubnet ? known.kernel : undefined;
    let next = cached; // what the kernel holds once every operation of this pass has succeeded
    const deviceChanges: string[] = [];
    let ops: KernelOp[] = [];
    let report: ApplyReport = { applied: 0, failed: [] };
    let peers = leases;
    let refused: { subnet: Cidr; reason: string }[] = [];
    try {
      if (cached) {
        ({ peers, refused } = collisionsOf(selfSubnet, leases, this.#foreign));
        ops = cached.plan(selfSubnet, peers);
      } else {
        const actual = await this.#takeAhead(spec, selfSubnet, deviceChanges) ?? await this.#readKernel(spec, network, selfSubnet, deviceChanges);
        this.#foreign = actual.foreign ?? [];
        ({ peers, refused } = collisionsOf(selfSubnet, leases, this.#foreign));
        next = new KernelCache(actual);
        ops = next.holdsAll ? next.plan(selfSubnet, peers) : planKernel(desiredState(selfSubnet, peers), actual);
      }
      if (ops.length > 0) report = await this.#kernel.apply(spec.name, ops);
    } catch (err) {
      if (!(err instanceof WeftError)) throw err;
      this.#log.error({ err, device: spec.name, deviceChanges }, 'data plane pass failed');
      // What the kernel holds is unknown (the device could not be ensured or read): claim nothing.
      // The collisions are those of the last read, so a failed pass does not look like they ended.
      return { ok: false, applied: 0, failed: 0, changes: deviceChanges.length + ops.length, programmed: 0,
        ...refusedField(collisionsOf(selfSubnet, leases, this.#foreign).refused) };
    }
    this.#logPass(spec.name, cached ? 'cache' : 'kernel', deviceChanges, ops, report);
    const failed = report.failed.length;
    if (!next) return { ok: failed === 0, applied: report.applied, failed, changes: deviceChanges.length + ops.length, ...refusedField(refused) };
    const failedOps = new Set(report.failed.map((f) => f.op));
    next.record(failed === 0 ? ops : ops.filter((op) => !failedOps.has(op)));
    if (failed === 0) this.#known = { spec, selfSubnet, kernel: next };
    return {
      ok: failed === 0, applied: report.applied, failed, changes: deviceChanges.length + ops.length,
      programmed: next.countProgrammed(selfSubnet, peers), ...refusedField(refused),
    };
  }

  /** The read readAhead() started, when it was for this device and own subnet. */
  async #takeAhead(spec: VxlanDeviceSpec, selfSubnet: Cidr, deviceChanges: string[]): Promise<KernelState | undefined> {
    const ahead = this.#ahead;
    this.#ahead = undefined;
    if (!ahead || ahead.spec !== spec || ahead.selfSubnet !== selfSubnet) return undefined;
    const { state, changes } = await ahead.read;
    deviceChanges.push(...changes);
    return state;
  }

  /**
   * The resync half of a pass: the device, its address and link state
   * ensured, and its entries read. The entries are read while the device is
   * checked, and read again if the check changed the device (recreated it,
   * usually), so the common pass has no read waiting on another. `checked`:
   * the device as just checked by prepare() (not read again).
   */
  async #readKernel(spec: VxlanDeviceSpec, network: Cidr, selfSubnet: Cidr, deviceChanges: string[], checked?: VxlanLinkInfo): Promise<KernelState> {
    const early = this.#kernel.readState(spec.name, network).catch(() => undefined);
    const link = checked ?? await this.#ensureDevice(spec, deviceChanges);
    const reread = deviceChanges.length > 0;
    const [state] = await Promise.all([
      reread ? this.#kernel.readState(spec.name, network) : early.then((read) => read ?? this.#kernel.readState(spec.name, network)),
      this.#ensureLinkConfig(link, cidrIp(selfSubnet), network, deviceChanges),
    ]);
    return state;
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
    const needsAddress = !link.addresses.includes(wanted) || strays.length > 0;
    // Independent of each other: done side by side (a new device needs both on the first pass).
    const [change] = await Promise.all([
      needsAddress ? this.#kernel.ensureAddress(link.name, ip, network, link.addresses) : undefined,
      link.up ? undefined : this.#kernel.setUp(link.name),
    ]);
    if (change?.added) changes.push(`address ${wanted}`);
    for (const removed of change?.removed ?? []) changes.push(`removed address ${removed}`);
    if (!link.up) changes.push('link up');
  }

  #logPass(device: string, planned: 'kernel' | 'cache', deviceChanges: readonly string[], ops: readonly KernelOp[], report: ApplyReport): void {
    if (report.failed.length > 0) {
      const failures = report.failed.slice(0, FAILURES_LOGGED).map((f) => ({ op: describeOp(f.op), error: f.error }));
      this.#log.warn({ device, failed: report.failed.length, failures }, 'kernel operations failed; retrying next pass');
    }
    if (deviceChanges.length === 0 && ops.length === 0) {
      this.#log.debug({ device, planned }, 'data plane in sync');
      return;
    }
    this.#log.info({ device, planned, deviceChanges, ops: summarizeOps(ops), applied: report.applied, failed: report.failed.length },
      'data plane changed');
  }
}

function inNetwork(address: string, network: Cidr): boolean {
  const parsed = parseCidr(address, false);
  return parsed.ok && containsIp(network, parsed.ip);
}

/** The route-collision refusals of a pass, in PassResult's form. */
function collisionsOf(selfSubnet: Cidr, leases: readonly Peer[], foreign: readonly ForeignRoute[]): { peers: readonly Peer[]; refused: { subnet: Cidr; reason: string }[] } {
  const { peers, collisions } = withoutCollisions(selfSubnet, leases, foreign);
  return { peers, refused: [...collisions].map(([subnet, reason]) => ({ subnet, reason })) };
}

function refusedField(refused: readonly { subnet: Cidr; reason: string }[]): { refused?: readonly { subnet: Cidr; reason: string }[] } {
  return refused.length > 0 ? { refused } : {};
}
