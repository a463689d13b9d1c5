/**
 * Builds the real kernel data plane for weftd. The network config (read by
 * runDaemon, after this is built) names the backend, so the choice is made in
 * prepare(): `SelectedBackend` creates the vxlan data plane (IPv4 DataPlane
 * and, on a dual-stack network, a second one for `weft-v6.<VNI>`) or the
 * wireguard one, removes what the other backend left on this host (a
 * backend switch: config change + restart), and forwards every call to the
 * chosen one. The reconcile loop sees one DataPlanePort either way.
 */
import type { Logger } from 'pino';
import type { Cidr } from '../core/cidr.js';
import type { LeaseSubnets } from '../core/lease.js';
import { type AcceptedPeer, isVxlanPeer, isWireguardPeer } from '../core/peer-acceptance.js';
import type { DataPlanePort, PassResult, PrepareInput, Prepared, ReconcileOptions } from '../backend/data-plane-port.js';
import { DEFAULT_RUN_DIR, WIREGUARD_DEVICE, WIREGUARD_DEVICE_V6 } from '../core/wireguard/device.js';
import type { WireguardImplementationFlag } from '../core/wireguard/implementation.js';
import { removeOtherBackend } from './backend-switch.js';

export interface KernelDataPlaneOptions {
  /** The WireGuard private key file (flag, $WIREGUARD_KEY_FILE, or the default). */
  readonly wireguardKeyFile: string;
  readonly wireguardSocketDir?: string | undefined;
  readonly wireguardRunDir?: string | undefined;
  /** `--wireguard-implementation`: auto (default), kernel or userspace (wireguard-go). */
  readonly wireguardImplementation?: WireguardImplementationFlag | undefined;
}

export async function createKernelDataPlane(log: Logger, options: KernelDataPlaneOptions): Promise<DataPlanePort> {
  return new SelectedBackend(log.child({ component: 'dataplane' }), options);
}

async function vxlanDataPlane(log: Logger): Promise<DataPlanePort> {
  const [{ DataPlane }, { IpRoute2 }, { IpRoute2Monitor }, { Ethtool }, { DualStackDataPlane }, { IPV6 }] = await Promise.all([
    import('../backend/vxlan/data-plane.js'),
    import('../adapters/iproute2/iproute2.js'),
    import('../adapters/iproute2/kernel-monitor.js'),
    import('../adapters/ethtool.js'),
    import('../backend/vxlan/dual-stack-data-plane.js'),
    import('../backend/vxlan/address-family.js'),
  ]);
  const offload = new Ethtool();
  const v4 = new DataPlane({ kernel: new IpRoute2(), log, monitor: (device) => new IpRoute2Monitor({ device }), offload });
  const v6 = new DataPlane({
    kernel: new IpRoute2({ family: 6 }), log, family: IPV6, offload,
    monitor: (device) => new IpRoute2Monitor({ device, family: 6 }),
  });
  return new DualStackDataPlane({ v4, v6, log });
}

async function wireguardDataPlane(log: Logger, options: KernelDataPlaneOptions): Promise<DataPlanePort> {
  const [{ WireguardDataPlane }, { IpRoute2 }, { execaRunner }, { selectWireguardImplementation }, { KernelWireguardDevice }, { WgCliControl }] = await Promise.all([
    import('../backend/wireguard/data-plane.js'),
    import('../adapters/iproute2/iproute2.js'),
    import('../adapters/iproute2/runner.js'),
    import('../adapters/wireguard/implementation-select.js'),
    import('../adapters/wireguard/kernel-device.js'),
    import('../adapters/wireguard/wg-cli-control.js'),
  ]);
  const runner = execaRunner();
  const runDir = options.wireguardRunDir ?? DEFAULT_RUN_DIR;
  // Kernel WireGuard when the kernel has it (or weft-wg already is one), else wireguard-go: core/wireguard/implementation.ts.
  const choice = await selectWireguardImplementation({ flag: options.wireguardImplementation ?? 'auto', device: WIREGUARD_DEVICE, runner, runDir });
  log.info({ device: WIREGUARD_DEVICE, implementation: choice.kind, reason: choice.reason, existingKind: choice.existingKind },
    `wireguard implementation: ${choice.kind === 'kernel' ? 'kernel' : 'wireguard-go'}`);
  const kernelParts = choice.kind === 'kernel'
    ? {
      control: new WgCliControl({ device: WIREGUARD_DEVICE, runner, secretDir: runDir }), process: new KernelWireguardDevice({ device: WIREGUARD_DEVICE, runner }),
      // weft-wg-v6 (Mode separate on a dual-stack network) is the same kind of device as weft-wg.
      controlV6: new WgCliControl({ device: WIREGUARD_DEVICE_V6, runner, secretDir: runDir }), processV6: new KernelWireguardDevice({ device: WIREGUARD_DEVICE_V6, runner }),
    }
    : {};
  return new WireguardDataPlane({
    kernel: new IpRoute2(), kernel6: new IpRoute2({ family: 6 }), runner, log, keyFile: options.wireguardKeyFile,
    socketDir: options.wireguardSocketDir, runDir: options.wireguardRunDir, ...kernelParts,
  });
}

/** The backend the network config names, chosen at prepare(); peers of the other kind never reach it. */
class SelectedBackend implements DataPlanePort {
  readonly #log: Logger;
  readonly #options: KernelDataPlaneOptions;
  #plane: DataPlanePort | undefined;
  #accepts: (peer: AcceptedPeer) => boolean = () => false;
  #onDrift: (() => void) | undefined;

  constructor(log: Logger, options: KernelDataPlaneOptions) {
    this.#log = log;
    this.#options = options;
  }

  async prepare(input: PrepareInput): Promise<Prepared> {
    const type = input.config.backend.type;
    await removeOtherBackend(type, this.#log, this.#options.wireguardRunDir);
    this.#plane = type === 'wireguard' ? await wireguardDataPlane(this.#log, this.#options) : await vxlanDataPlane(this.#log);
    this.#accepts = type === 'wireguard' ? isWireguardPeer : isVxlanPeer;
    if (this.#onDrift) this.#plane.onDrift?.(this.#onDrift);
    return this.#plane.prepare(input);
  }

  #chosen(): DataPlanePort {
    if (!this.#plane) throw new Error('data plane used before prepare');
    return this.#plane;
  }

  readAhead(selfSubnet: Cidr): void {
    this.#plane?.readAhead?.(selfSubnet);
  }

  reconcile(selfSubnet: Cidr, leases: readonly AcceptedPeer[], options?: ReconcileOptions): Promise<PassResult> {
    return this.#chosen().reconcile(selfSubnet, leases.filter(this.#accepts), options);
  }

  reconcileChanged(selfSubnet: Cidr, changed: ReadonlySet<Cidr>, peerOf: (subnet: Cidr) => AcceptedPeer | undefined,
    all?: () => readonly AcceptedPeer[]): Promise<PassResult | undefined> {
    const accepted = (subnet: Cidr): AcceptedPeer | undefined => {
      const peer = peerOf(subnet);
      return peer && this.#accepts(peer) ? peer : undefined;
    };
    return this.#chosen().reconcileChanged(selfSubnet, changed, accepted, all && (() => all().filter(this.#accepts)));
  }

  leased(subnets: LeaseSubnets): void {
    this.#plane?.leased?.(subnets);
  }

  onDrift(listener: () => void): void {
    this.#onDrift = listener;
    this.#plane?.onDrift?.(listener);
  }

  close(): void {
    this.#plane?.close?.();
  }
}
