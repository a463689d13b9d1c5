/**
 * The kernel half of weftd: owns the VXLAN device and keeps the per-peer
 * neighbour/FDB/route entries equal to what the leases want. Level-triggered:
 * a resync pass reads the kernel, plans the difference and applies it, so a
 * failed operation, a hand edit or a deleted device is repaired by the next
 * resync with no compensation logic here. Passes between resyncs (peer
 * events) plan against what the last successful pass left (docs/design.md).
 */
import type { Logger } from 'pino';
import { type Cidr, type Ipv4, cidrIp } from '../../core/cidr.js';
import { UsageError, WeftError } from '../../core/errors.js';
import { type DriftedKeys, KernelCache } from '../../core/kernel-cache.js';
import { type KernelOp, type KernelState, desiredState, describeOp, planKernel, summarizeOps } from '../../core/kernel-state.js';
import { type ForeignRoute, type Peer, routeCollisions, withoutCollisions } from '../../core/peer-acceptance.js';
import { type VxlanDeviceSpec, type VxlanLinkInfo, deviceMismatch } from '../../core/vxlan-device.js';
import type { ApplyReport, Kernel } from '../../adapters/kernel.js';
import type { ChecksumOffloadControl } from '../../adapters/ethtool.js';
import type { Mac } from '../../core/mac.js';
import { wantedTxChecksum } from '../../core/checksum-offload.js';
import { underlayMtuProblem } from '../../core/underlay-mtu.js';
import { requireVxlan } from '../../core/network-config.js';
import type { KernelChange, KernelMonitor } from '../../adapters/kernel-monitor.js';
import { DriftTracker } from '../../core/kernel-drift.js';
import { type DirectPaths, type UnderlayRoute, directPaths } from '../../core/direct-routing.js';
import type { DataPlanePort, PassResult, PrepareInput, Prepared, ReconcileOptions } from '../data-plane-port.js';
import { type AddressFamily, IPV4 } from './address-family.js';

export interface DataPlaneOptions {
  readonly kernel: Kernel;
  readonly log: Logger;
  /**
   * The kernel's change notifications for the device (started in prepare,
   * before the first read): an entry of weft's deleted or changed by hand is
   * put back by the next event pass, at once, instead of by the next resync.
   */
  readonly monitor?: ((device: string) => KernelMonitor) | undefined;
  /** The address family this instance programs (default IPv4; weftd runs a second instance for IPv6). */
  readonly family?: AddressFamily;
  /** Sets the device's TX checksum offload (Backend.ChecksumOffload); without it the flag is left alone. */
  readonly offload?: ChecksumOffloadControl | undefined;
}

/**
 * With kernel notifications working, a resync reads the device and its
 * entries back every this many resyncs (every minute at the default 10 s);
 * in between every peer is planned against the known state, which
 * notifications keep true, without a read (the loop still checks the
 * iptables rules, which send no notifications). Lost notifications, a
 * change of the device or any failure make the next pass read everything.
 */
export const ENTRY_READ_EVERY = 6;

/** Changes queued while a pass runs beyond this many are not replayed one by one: the next pass reads the kernel. */
const MAX_QUEUED_CHANGES = 50_000;

export interface PreparedDevice extends Prepared {
  readonly vtepMac: Mac;
  /** The external interface the device sits on. */
  readonly parent: string;
}

/** How many failed operations one warning lists (the rest are counted). */
const FAILURES_LOGGED = 10;

export class DataPlane implements DataPlanePort {
  readonly #kernel: Kernel;
  readonly #log: Logger;
  readonly #family: AddressFamily;
  #spec: VxlanDeviceSpec | undefined;
  #network: Cidr | undefined;
  /** What the last fully successful pass left in the kernel, for that device spec (a new prepare() drops it) and own subnet. */
  #known: { readonly spec: VxlanDeviceSpec; readonly selfSubnet: Cidr; readonly kernel: KernelCache } | undefined;
  /** Main-table routes inside the network that weft does not own, as the last resync read them (the route-collision rule between resyncs). */
  #foreign: readonly ForeignRoute[] = [];
  /** Peers refused for a route collision, as the last pass left them (an event pass updates only the subnets it plans). */
  #collisions = new Map<Cidr, string>();
  readonly #monitorFactory: ((device: string) => KernelMonitor) | undefined;
  readonly #offload: ChecksumOffloadControl | undefined;
  /** The device's tx-checksum-ip-generic as the config asks; undefined (`auto`): left alone. */
  #txChecksum: boolean | undefined;
  #monitor: KernelMonitor | undefined;
  #drift: DriftTracker | undefined;
  #onDrift: (() => void) | undefined;
  /** True while a pass runs: kernel changes wait in `#queued` and are held against the state the pass leaves. */
  #passing = false;
  #queued: KernelChange[] = [];
  /** Resyncs since the entries were last read (see ENTRY_READ_EVERY). */
  #resyncsWithoutRead = 0;
  /** The device as prepare() checked it, for readAhead(): at start the device is read once, not twice. */
  #preparedLink: VxlanLinkInfo | undefined;
  /**
   * DirectRouting: whether the config asks for it, the external interface
   * direct routes go on (read as weft's even when DirectRouting is off, so
   * the routes a host left when it had it on are taken over and replaced by
   * VXLAN ones instead of refusing their peers as collisions), and the path
   * decision from the last underlay read (every pass that reads the kernel
   * reads the underlay's routes too; a change of them or of the interface
   * makes the next pass read).
   */
  #directRouting = false;
  #directDevice: string | undefined;
  #paths: DirectPaths | undefined;
  /** The underlay routes `#paths` was decided from, in a comparable form. */
  #pathsKey: { readonly key: string; readonly paths: DirectPaths } | undefined;
  /** The next read pass's kernel read, started early by readAhead(). */
  #ahead: { readonly spec: VxlanDeviceSpec; readonly selfSubnet: Cidr; readonly read: Promise<{ state: KernelState; changes: string[] }> } | undefined;

  constructor(options: DataPlaneOptions) {
    this.#kernel = options.kernel;
    this.#family = options.family ?? IPV4;
    this.#log = options.family ? options.log.child({ family: options.family.name }) : options.log;
    this.#monitorFactory = options.monitor;
    this.#offload = options.offload;
  }

  onDrift(listener: () => void): void {
    this.#onDrift = listener;
  }

  close(): void {
    void this.#monitor?.stop();
    this.#kernel.close?.();
  }

  #changes(changes: readonly KernelChange[]): void {
    const drift = this.#drift;
    if (!drift) return;
    for (const change of changes) {
      if (change.kind === 'lost') this.#log.info({ reason: change.reason }, 'kernel notifications lost; the next pass reads the whole kernel state');
    }
    if (this.#passing) {
      if (this.#queued.length + changes.length > MAX_QUEUED_CHANGES) {
        this.#queued = [];
        drift.requireFull();
      } else {
        for (const change of changes) this.#queued.push(change);
      }
      return;
    }
    if (drift.note(changes, this.#known?.kernel)) {
      this.#log.debug({ changes: changes.length }, 'kernel changed behind weft; repairing');
      this.#onDrift?.();
    }
  }

  /** Runs a pass: kernel changes that arrive meanwhile wait, and are held against the state it leaves. */
  async #pass<T>(run: () => Promise<T>): Promise<T> {
    this.#passing = true;
    try {
      return await run();
    } finally {
      this.#passDone();
    }
  }

  /** A pass is over: the changes that came meanwhile are held against the state it left. */
  #passDone(): void {
    this.#passing = false;
    const queued = this.#queued;
    this.#queued = [];
    const drift = this.#drift;
    if (!drift) return;
    const relevant = queued.length > 0 && drift.note(queued, this.#known?.kernel);
    if (relevant || drift.pending) this.#onDrift?.();
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
    const family = this.#family;
    const network = family.network(input.config);
    if (network === undefined) throw new UsageError(`the network config does not enable ${family.name}`);
    const { ext, spec, publicIp } = await family.chooseDevice(this.#kernel, input);
    const tooLarge = underlayMtuProblem(input.config.backend.mtu, ext);
    if (tooLarge) throw new UsageError(`${tooLarge.detail}; weftd does not start with it (nothing was changed): ${tooLarge.fix}`);
    const backend = requireVxlan(input.config);
    this.#txChecksum = wantedTxChecksum(backend.checksumOffload);
    this.#directRouting = backend.directRouting;
    this.#directDevice = spec.parent;
    this.#paths = undefined;
    if (this.#monitorFactory && !this.#monitor) {
      // Subscribed before the first read, so no change between the read and the subscription goes unseen.
      const direct = !this.#directRouting ? undefined
        : { device: spec.parent, inOverlay: (dst: Cidr): boolean => family.inNetwork(dst, network) };
      this.#drift = new DriftTracker(spec.name, { legacyRoutes: family.legacyRoutes, direct });
      this.#monitor = this.#monitorFactory(spec.name);
      await this.#monitor.start((changes) => this.#changes(changes));
    }
    const prepareChanges: string[] = [];
    this.#preparedLink = await this.#ensureDevice(spec, prepareChanges);
    await this.#ensureOffload(spec.name, prepareChanges);
    this.#ahead = undefined;
    this.#spec = spec;
    this.#network = network;
    this.#log.info({ device: spec.name, parent: spec.parent, local: spec.local, publicIp, vni: spec.vni,
      port: spec.port, mtu: spec.mtu, mac: spec.mac, checksumOffload: backend.checksumOffload,
      directRouting: this.#directRouting, changes: prepareChanges }, 'vxlan device ready');
    return { publicIp: publicIp as Ipv4, vtepMac: spec.mac, advert: { backendType: 'vxlan', vni: spec.vni, vtepMac: spec.mac }, mtu: spec.mtu, device: spec.name, parent: spec.parent };
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
    // Kernel changes from now on wait for the pass that uses this read, and are held against what it leaves.
    this.#passing = true;
  }

  /**
   * One pass. A resync (the default) re-ensures the device (recreating it if
   * it vanished), its `<subnet .0>/32` address and link state, reads the peer
   * entries and converges them. Otherwise, when the last pass succeeded on
   * the same device and own subnet, it plans against the state that pass left
   * and touches the kernel only to apply the difference (event passes that
   * plan only what changed are `reconcileChanged`). Hand edits are repaired
   * at once when a kernel monitor reports them, else by the next resync.
   * Kernel failures are reported in the result and logged, never
   * thrown; any failure drops the known state, so the next pass reads.
   */
  reconcile(selfSubnet: Cidr, leases: readonly Peer[], options: ReconcileOptions = {}): Promise<PassResult> {
    return this.#pass(() => this.#reconcile(selfSubnet, leases, options));
  }

  async #reconcile(selfSubnet: Cidr, leases: readonly Peer[], options: ReconcileOptions): Promise<PassResult> {
    const spec = this.#spec;
    const network = this.#network;
    if (!spec || !network) throw new Error('DataPlane.reconcile called before prepare');
    const known = this.#known;
    this.#known = undefined; // trusted again only once this pass has fully succeeded
    // Drifted entries are already in the cache, and a whole-set plan covers them; a change it cannot see asks for a read.
    const drift = this.#drift?.take();
    const trusted = drift?.full !== true && known?.spec === spec && known.selfSubnet === selfSubnet ? known.kernel : undefined;
    // A resync with notifications working reads the entries only every ENTRY_READ_EVERY resyncs.
    const resync = options.resync !== false;
    const light = resync && trusted !== undefined && this.#monitor !== undefined && ++this.#resyncsWithoutRead < ENTRY_READ_EVERY;
    // Between entry reads a resync plans every peer against the known state, which notifications keep true (no read).
    const cached = resync && !light ? undefined : trusted;
    const deviceChanges: string[] = [];
    let ops: KernelOp[] = [];
    let report: ApplyReport = { applied: 0, failed: [] };
    let peers = leases;
    let refused: { subnet: Cidr; reason: string }[] = [];
    let next = cached; // what the kernel holds once every operation of this pass has succeeded
    try {
      if (!cached) this.#resyncsWithoutRead = 0;
      if (cached) {
        ({ peers, refused } = collisionsOf(selfSubnet, leases, this.#foreign));
        ops = cached.plan(selfSubnet, peers, this.#paths);
      } else {
        const actual = await this.#takeAhead(spec, selfSubnet, deviceChanges) ?? await this.#readKernel(spec, network, selfSubnet, deviceChanges);
        this.#foreign = actual.foreign ?? [];
        ({ peers, refused } = collisionsOf(selfSubnet, leases, this.#foreign));
        next = new KernelCache(actual);
        ops = next.holdsAll ? next.plan(selfSubnet, peers, this.#paths) : planKernel(desiredState(selfSubnet, peers, this.#paths), actual);
      }
      if (ops.length > 0) report = await this.#kernel.apply(spec.name, ops);
    } catch (err) {
      if (!(err instanceof WeftError)) throw err;
      this.#log.warn({ err, device: spec.name, deviceChanges }, 'data plane pass failed; retrying');
      // What the kernel holds is unknown (the device could not be ensured or read): claim nothing.
      // The collisions are those of the last read, so a failed pass does not look like they ended.
      return { ok: false, applied: 0, failed: 0, changes: deviceChanges.length + ops.length, programmed: 0,
        ...refusedField(collisionsOf(selfSubnet, leases, this.#foreign).refused) };
    }
    this.#collisions = new Map(refused.map((r) => [r.subnet, r.reason]));
    this.#logPass(spec.name, cached ? (light ? 'notifications' : 'cache') : 'kernel', deviceChanges, ops, report);
    const failed = report.failed.length;
    if (!next) return { ok: failed === 0, applied: report.applied, failed, changes: deviceChanges.length + ops.length, ...refusedField(refused) };
    next.record(tookEffect(ops, report));
    if (failed === 0) this.#known = { spec, selfSubnet, kernel: next };
    // A plan with nothing to do found every planned peer's entries in place: no need to count them again.
    const programmed = ops.length === 0 && next.plannedCount !== undefined ? next.plannedCount : next.countProgrammed(selfSubnet, peers, this.#paths);
    return {
      ok: failed === 0, applied: report.applied, failed, changes: deviceChanges.length + ops.length,
      programmed, ...refusedField(refused), ...this.#directField(selfSubnet, peers),
    };
  }

  reconcileChanged(selfSubnet: Cidr, changed: ReadonlySet<Cidr>, peerOf: (subnet: Cidr) => Peer | undefined): Promise<PassResult | undefined> {
    return this.#pass(() => this.#reconcileChanged(selfSubnet, changed, peerOf));
  }

  async #reconcileChanged(selfSubnet: Cidr, changed: ReadonlySet<Cidr>, peerOf: (subnet: Cidr) => Peer | undefined): Promise<PassResult | undefined> {
    const spec = this.#spec;
    const known = this.#known;
    if (!spec || !known || known.spec !== spec || known.selfSubnet !== selfSubnet) return undefined;
    let drifted: DriftedKeys | undefined;
    if (this.#drift?.pending) {
      // Peek: a change only a read can repair leaves the drift in place for the full pass, which reads.
      const drift = this.#drift.take();
      if (drift.full) {
        this.#drift.requireFull();
        return undefined;
      }
      drifted = drift;
    }
    this.#known = undefined; // trusted again once this pass has fully succeeded (a throw below leaves a full pass next)
    const candidates: Peer[] = [];
    for (const subnet of changed) {
      const peer = subnet === selfSubnet ? undefined : peerOf(subnet);
      if (peer) candidates.push(peer);
      this.#collisions.delete(subnet);
    }
    for (const [subnet, reason] of routeCollisions(candidates, this.#foreign)) this.#collisions.set(subnet, reason);
    const ops = known.kernel.planDelta(selfSubnet, changed, (subnet) => (this.#collisions.has(subnet) ? undefined : peerOf(subnet)), drifted, this.#paths);
    if (ops === undefined) return undefined;
    const refused = [...this.#collisions].map(([subnet, reason]) => ({ subnet, reason }));
    if (ops.length === 0) {
      this.#known = known;
      this.#logPass(spec.name, 'changes', [], ops, { applied: 0, failed: [] });
      return { ok: true, applied: 0, failed: 0, changes: 0, programmed: known.kernel.plannedCount ?? 0, ...refusedField(refused) };
    }
    let report: ApplyReport;
    try {
      report = await this.#kernel.apply(spec.name, ops);
    } catch (err) {
      if (!(err instanceof WeftError)) throw err;
      this.#log.warn({ err, device: spec.name }, 'data plane pass failed; retrying');
      return { ok: false, applied: 0, failed: 0, changes: ops.length, programmed: 0, ...refusedField(refused) };
    }
    this.#logPass(spec.name, 'changes', [], ops, report);
    const failed = report.failed.length;
    known.kernel.record(tookEffect(ops, report));
    if (failed > 0) return { ok: false, applied: report.applied, failed, changes: ops.length, ...refusedField(refused) };
    this.#known = known;
    return { ok: true, applied: report.applied, failed: 0, changes: ops.length, programmed: known.kernel.plannedCount ?? 0, ...refusedField(refused) };
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
    const directDevice = this.#directDevice;
    const underlay = this.#directRouting ? this.#kernel.readUnderlayRoutes() : undefined;
    underlay?.catch(() => undefined); // awaited below
    const early = this.#kernel.readState(spec.name, network, directDevice).catch(() => undefined);
    const link = checked ?? await this.#ensureDevice(spec, deviceChanges);
    const reread = deviceChanges.length > 0;
    // A device created in this pass is down: its offload is set before it comes up, so no packet leaves with the kernel's default.
    if (reread) await this.#ensureOffload(spec.name, deviceChanges);
    const [state] = await Promise.all([
      reread ? this.#kernel.readState(spec.name, network, directDevice) : early.then((read) => read ?? this.#kernel.readState(spec.name, network, directDevice)),
      this.#ensureLinkConfig(link, selfSubnet, network, deviceChanges),
      checked || reread ? undefined : this.#ensureOffload(spec.name, deviceChanges),
    ]);
    if (underlay && directDevice !== undefined) this.#paths = this.#decidePaths(directDevice, await underlay);
    return state;
  }

  /** A new path decision from the underlay's routes; the same object when nothing it decides with changed (the cache's event plans stay valid). */
  #decidePaths(device: string, routes: readonly UnderlayRoute[]): DirectPaths {
    const key = JSON.stringify(routes.map((r) => [r.dst, r.gateway, r.device, r.type]).sort());
    const last = this.#pathsKey;
    if (last !== undefined && last.key === key && last.paths.device === device) return last.paths;
    const paths = directPaths(device, routes, this.#family.name === 'IPv6' ? 6 : 4);
    if (last !== undefined) this.#log.info({ device }, 'underlay routes changed; DirectRouting decides every peer\'s path again');
    this.#pathsKey = { key, paths };
    return paths;
  }

  /** Which subnets this pass routes directly (DirectRouting), for status; nothing when it is off. */
  #directField(selfSubnet: Cidr, peers: readonly Peer[]): { direct?: readonly Cidr[] } {
    const paths = this.#paths;
    if (paths === undefined) return {};
    const direct: Cidr[] = [];
    for (const peer of peers) if (peer.subnet !== selfSubnet && paths.direct(peer.attrs.publicIp)) direct.push(peer.subnet);
    return { direct };
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

  /**
   * TX checksum offload as Backend.ChecksumOffload asks (`auto`: untouched),
   * checked when prepare() ensures the device and on every pass that reads
   * the kernel, so a recreated device (which comes back with the kernel's
   * default, on) or a hand change is put right. A failure (ethtool missing,
   * say) is logged, not thrown: the data path carries traffic either way,
   * the next reading pass retries, and `weftctl doctor` shows the flag.
   */
  async #ensureOffload(device: string, changes: string[]): Promise<void> {
    const wanted = this.#txChecksum;
    if (wanted === undefined || !this.#offload) return;
    try {
      if (await this.#offload.readTxChecksum(device) === wanted) return;
      await this.#offload.setTxChecksum(device, wanted);
      changes.push(`tx-checksum-ip-generic ${wanted ? 'on' : 'off'}`);
    } catch (err) {
      if (!(err instanceof WeftError)) throw err;
      this.#log.warn({ err, device, wanted: wanted ? 'on' : 'off' }, 'cannot set checksum offload; retrying on the next pass that reads the kernel');
    }
  }

  /** The /32 (/128) address (flannel's choice: no broadcast routes, a source for host→pod traffic) and link up. */
  async #ensureLinkConfig(link: VxlanLinkInfo, selfSubnet: Cidr, network: Cidr, changes: string[]): Promise<void> {
    const ip = cidrIp(selfSubnet);
    const wanted = this.#family.hostAddress(selfSubnet);
    const strays = link.addresses.filter((a) => a !== wanted && this.#family.inNetwork(a, network));
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

  #logPass(device: string, planned: 'kernel' | 'cache' | 'notifications' | 'changes', deviceChanges: readonly string[], ops: readonly KernelOp[], report: ApplyReport): void {
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

/** The operations of a pass that took effect (all but the failed ones), for the kernel cache. */
function tookEffect(ops: readonly KernelOp[], report: ApplyReport): readonly KernelOp[] {
  if (report.failed.length === 0) return ops;
  const failed = new Set(report.failed.map((f) => f.op));
  return ops.filter((op) => !failed.has(op));
}

/** The route-collision refusals of a pass, in PassResult's form. */
function collisionsOf(selfSubnet: Cidr, leases: readonly Peer[], foreign: readonly ForeignRoute[]): { peers: readonly Peer[]; refused: { subnet: Cidr; reason: string }[] } {
  const { peers, collisions } = withoutCollisions(selfSubnet, leases, foreign);
  return { peers, refused: [...collisions].map(([subnet, reason]) => ({ subnet, reason })) };
}

function refusedField(refused: readonly { subnet: Cidr; reason: string }[]): { refused?: readonly { subnet: Cidr; reason: string }[] } {
  return refused.length > 0 ? { refused } : {};
}
