/**
 * A dual-stack host's data plane: the IPv4 DataPlane and a second one for
 * IPv6 (`weft-v6.<VNI>`), fed each peer's IPv6 half (core/family-view.ts).
 * Both run in every pass, side by side, and a failure in one (a kernel error,
 * a deleted device, a throw) never stops or hides the other: its result is
 * reported on its own (`PassResult.ipv6`) and the pass as a whole counts as
 * failed, so the loop retries soon. On an IPv4-only network it is the IPv4
 * DataPlane alone.
 *
 * The IPv6 device is set up at start like the IPv4 one; when that fails for a
 * reason of the host (no global IPv6 address on the interface, a kernel
 * error) weftd runs IPv4 only: the lease carries no IPv6 endpoint, so peers
 * program this host for IPv4 only, `subnet.env` has no IPv6 keys, and every
 * pass reports the reason (`weftctl status`, `weft_ipv6_pass_ok` 0) until
 * a restart after the fix. A `--public-ipv6` that is wrong is bad input: weftd
 * stops with the error.
 */
import type { Logger } from 'pino';
import type { Cidr } from '../../core/cidr.js';
import { UsageError, errorMessage } from '../../core/errors.js';
import { Ipv6Projection, asPlaneSubnet } from '../../core/family-view.js';
import type { LeaseSubnets } from '../../core/lease.js';
import type { Peer } from '../../core/peer-acceptance.js';
import type { DataPlanePort, PassResult, PrepareInput, Prepared, ReconcileOptions } from '../data-plane-port.js';

export class DualStackDataPlane implements DataPlanePort {
  readonly #v4: DataPlanePort;
  readonly #v6: DataPlanePort;
  readonly #log: Logger;
  readonly #projection = new Ipv6Projection();
  /** True once prepare() found IPv6 enabled and made the IPv6 device. */
  #dual = false;
  #self6: Cidr | undefined;
  /** Why the IPv6 device could not be set up at start (IPv4 runs alone). */
  #v6Down: string | undefined;

  constructor(options: { readonly v4: DataPlanePort; readonly v6: DataPlanePort; readonly log: Logger }) {
    this.#v4 = options.v4;
    this.#v6 = options.v6;
    this.#log = options.log;
  }

  async prepare(input: PrepareInput): Promise<Prepared> {
    const p4 = await this.#v4.prepare(input);
    if (input.config.ipv6 === undefined) return p4;
    let p6: Prepared;
    try {
      p6 = await this.#v6.prepare({ ...input, ...(p4.parent !== undefined ? { iface: p4.parent } : {}) });
    } catch (err) {
      if (err instanceof UsageError) throw err;
      this.#v6Down = `IPv6 device not set up: ${errorMessage(err)}`;
      this.#log.error({ family: 'IPv6', err: errorMessage(err) }, 'cannot set up the IPv6 device; running IPv4 only until weftd is restarted');
      return p4;
    }
    // A vxlan data plane always prepares a device with a MAC; the type allows other backends' Prepared.
    if (p6.vtepMac === undefined) throw new Error('the IPv6 vxlan data plane prepared no VTEP MAC');
    this.#dual = true;
    this.#v6Down = undefined; // prepared again (the underlay moved) and up now
    // One MTU for the pod's interface, which carries both families: the smaller device's.
    return { ...p4, mtu: Math.min(p4.mtu, p6.mtu), v6: { publicIp: p6.publicIp as string as never, vtepMac: p6.vtepMac, mtu: p6.mtu, device: p6.device } };
  }

  leased(subnets: LeaseSubnets): void {
    this.#v4.leased?.(subnets);
    this.#self6 = subnets.subnetV6 === undefined ? undefined : asPlaneSubnet(subnets.subnetV6);
  }

  readAhead(selfSubnet: Cidr): void {
    this.#v4.readAhead?.(selfSubnet);
    if (this.#active6()) this.#v6.readAhead?.(this.#self6 as Cidr);
  }

  onDrift(listener: () => void): void {
    this.#v4.onDrift?.(listener);
    this.#v6.onDrift?.(listener);
  }

  close(): void {
    this.#v4.close?.();
    this.#v6.close?.();
  }

  async reconcile(selfSubnet: Cidr, leases: readonly Peer[], options?: ReconcileOptions): Promise<PassResult> {
    if (!this.#active6()) return this.#down6(await this.#v4.reconcile(selfSubnet, leases, options));
    const [r4, r6] = await Promise.all([
      this.#v4.reconcile(selfSubnet, leases, options),
      this.#guard(() => this.#v6.reconcile(this.#self6 as Cidr, this.#projection.all(leases), options)),
    ]);
    return merge(r4, r6);
  }

  async reconcileChanged(selfSubnet: Cidr, changed: ReadonlySet<Cidr>, peerOf: (subnet: Cidr) => Peer | undefined,
    all?: () => readonly Peer[]): Promise<PassResult | undefined> {
    if (!this.#active6()) {
      const r4 = await this.#v4.reconcileChanged(selfSubnet, changed, peerOf, all);
      return r4 && this.#down6(r4);
    }
    if (all === undefined) return undefined; // without every peer a family that cannot plan alone could not fall back
    const self6 = this.#self6 as Cidr;
    const six = this.#projection.changed(changed, peerOf);
    const [r4, r6] = await Promise.all([
      this.#v4.reconcileChanged(selfSubnet, changed, peerOf).then((r) => r ?? this.#v4.reconcile(selfSubnet, all())),
      this.#guard(async () => await this.#v6.reconcileChanged(self6, six.changed, six.peerOf)
        ?? this.#v6.reconcile(self6, this.#projection.all(all()))),
    ]);
    return merge(r4, r6);
  }

  /** IPv4's result, with the reason IPv6 is not running beside it when it should. */
  #down6(r4: PassResult): PassResult {
    if (this.#v6Down === undefined) return r4;
    return { ...r4, ipv6: { ok: false, applied: 0, failed: 0, changes: 0, programmed: 0, error: this.#v6Down } };
  }

  #active6(): boolean {
    return this.#dual && this.#self6 !== undefined;
  }

  /** The IPv6 pass, with an unexpected throw turned into a failed result: IPv4 keeps its own. */
  async #guard(run: () => Promise<PassResult>): Promise<PassResult> {
    try {
      return await run();
    } catch (err) {
      this.#log.warn({ family: 'IPv6', err: errorMessage(err) }, 'IPv6 data plane pass failed; IPv4 goes on, retrying');
      return { ok: false, applied: 0, failed: 0, changes: 0, programmed: 0 };
    }
  }
}

/** One pass's result for both families: the IPv4 numbers and refusals, IPv6's beside them, ok only when both are. */
function merge(r4: PassResult, r6: PassResult): PassResult {
  const refused = [...(r4.refused ?? []), ...(r6.refused ?? [])];
  return {
    ok: r4.ok && r6.ok,
    applied: r4.applied + r6.applied,
    failed: r4.failed + r6.failed,
    changes: r4.changes + r6.changes,
    ...(r4.programmed !== undefined ? { programmed: r4.programmed } : {}),
    ...(r4.direct !== undefined ? { direct: r4.direct } : {}),
    ...(refused.length > 0 ? { refused } : {}),
    ipv6: r6,
  };
}
