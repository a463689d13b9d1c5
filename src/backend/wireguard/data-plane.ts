/**
 * The wireguard backend (flannel's pkg/backend/wireguard, weft's rules): the
 * devices of core/wireguard/device.ts `wireguardTunnels` (`weft-wg`; on a
 * dual-stack network also `weft-wg-v6` in Mode "separate", else IPv6 on
 * `weft-wg`), whose peers are the accepted wireguard leases, kept
 * level-triggered. Every pass checks each device (wireguard-go alive and
 * answering, key and port, MTU, link up, `<subnet .0>/32` and
 * `<v6 subnet>/128`, one network route per family with weft's protocol) and
 * converges its peer set by read-back (adapters/wireguard/peer-sync.ts): a
 * peer whose key left the leases is removed, a changed key replaces its old
 * entry. Both devices carry the same key (flannel reads one key file for
 * both). A failure of one device never stops the other's pass.
 *
 * The IPv6 side needs the host's IPv6 underlay address (`--public-ipv6` or
 * the interface's global one): without it weftd runs IPv4 only, as the
 * vxlan backend does, and every pass says why.
 *
 * `reconcileChanged` returns undefined, so every pass is a full one. At the
 * sizes a WireGuard mesh runs at (every host a peer of every other, tens to a
 * few hundred hosts) a pass is one UAPI get (and a set and a get when
 * something differs) plus three small `ip` reads: milliseconds. An event pass
 * planned against remembered state would save little and could miss a device
 * changed behind weft's back, which this way is seen on the next event.
 *
 * A restart of weftd adopts the running wireguard-go and its device
 * (wireguard-go-daemon.ts): nothing is deleted or re-created, so tunnels keep
 * carrying traffic, unlike flannel, which deletes its device on shutdown.
 */
import type { Logger } from 'pino';
import type { Cidr, Ipv4 } from '../../core/cidr.js';
import type { Cidr6, Ipv6 } from '../../core/cidr6.js';
import { UsageError, WeftError, errorMessage } from '../../core/errors.js';
import { type AcceptedPeer, isWireguardPeer } from '../../core/peer-acceptance.js';
import type { WireguardBackend } from '../../core/wireguard/backend-config.js';
import { DEFAULT_RUN_DIR, type TunnelSpec, WIREGUARD_DEVICE, WIREGUARD_DEVICE_V6, advertisedPorts, hasNetworkRoute, wireguardTunnels } from '../../core/wireguard/device.js';
import type { SecretKey, WgPublicKey } from '../../core/wireguard/keys.js';
import { type DesiredPeers, wantedTunnelPeers } from '../../core/wireguard/peer-plan.js';
import type { LeaseSubnets } from '../../core/lease.js';
import type { Kernel } from '../../adapters/kernel.js';
import { type DeviceRoutes, WireguardLink } from '../../adapters/wireguard/device-link.js';
import { loadOrCreatePrivateKey } from '../../adapters/wireguard/key-store.js';
import { ensureDeviceSettings, syncPeers } from '../../adapters/wireguard/peer-sync.js';
import { UapiClient, type WireguardControl } from '../../adapters/wireguard/uapi-client.js';
import { type WireguardDeviceProcess, WireguardGoProcess } from '../../adapters/wireguard/wireguard-go-daemon.js';
import type { CommandRunner } from '../../adapters/iproute2/runner.js';
import type { DataPlanePort, PassResult, PrepareInput, Prepared, TunnelPeer } from '../data-plane-port.js';

export interface WireguardDataPlaneOptions {
  readonly kernel: Kernel;
  readonly runner: CommandRunner;
  readonly log: Logger;
  /** The private key file (key-store.ts keyFilePath: flag, $WIREGUARD_KEY_FILE, /var/lib/weft/wireguard/private.key). */
  readonly keyFile: string;
  /** wireguard-go's UAPI socket directory (default /run/wireguard). */
  readonly socketDir?: string | undefined;
  /** Where wireguard-go's PID file and log live (default /run/weft). */
  readonly runDir?: string | undefined;
  /** The device's control surface (default: its UAPI socket in `socketDir`); a MemoryWireguard in unit tests. */
  readonly control?: WireguardControl;
  /** What keeps a device answering (default: weftd's detached wireguard-go); a fake in unit tests. */
  readonly process?: WireguardDeviceProcess;
  /** The network route on the device (default: `ip route` through `runner`). */
  readonly routes?: DeviceRoutes;
  /** The IPv6 adapter (addresses of the IPv6 overlay, the IPv6 underlay address); default `kernel`. */
  readonly kernel6?: Kernel;
  /** `weft-wg-v6`'s control and process (Mode "separate" on a dual-stack network); default: its UAPI socket and wireguard-go. */
  readonly controlV6?: WireguardControl;
  readonly processV6?: WireguardDeviceProcess;
}

/** One device's handles: its control surface and what keeps it answering. */
interface Device {
  readonly control: WireguardControl;
  readonly process: WireguardDeviceProcess;
}

interface Ready {
  readonly backend: WireguardBackend;
  readonly network: Cidr;
  /** The IPv6 network, when this host runs IPv6 (its underlay address was found). */
  readonly network6: Cidr6 | undefined;
  readonly publicIpv6: Ipv6 | undefined;
  readonly privateKey: SecretKey;
  readonly publicKey: WgPublicKey;
  readonly publicIp: Ipv4;
  readonly underlayMtu: number;
}

export class WireguardDataPlane implements DataPlanePort {
  readonly #kernel: Kernel;
  readonly #kernel6: Kernel;
  readonly #link: DeviceRoutes;
  readonly #log: Logger;
  readonly #keyFile: string;
  readonly #devices: ReadonlyMap<string, Device>;
  #ready: Ready | undefined;
  #self6: Cidr6 | undefined;
  /** Why IPv6 is not running beside IPv4 on a dual-stack network (no IPv6 underlay address at start). */
  #v6Down: string | undefined;

  constructor(options: WireguardDataPlaneOptions) {
    this.#kernel = options.kernel;
    this.#kernel6 = options.kernel6 ?? options.kernel;
    this.#link = options.routes ?? new WireguardLink(options.runner);
    this.#log = options.log.child({ backend: 'wireguard' });
    this.#keyFile = options.keyFile;
    const device = (name: string, control: WireguardControl | undefined, process: WireguardDeviceProcess | undefined): Device => {
      const uapi = new UapiClient({ device: name, ...(options.socketDir ? { socketDir: options.socketDir } : {}) });
      return {
        control: control ?? uapi,
        process: process ?? new WireguardGoProcess({ device: name, socketDir: options.socketDir, runDir: options.runDir ?? DEFAULT_RUN_DIR }, uapi),
      };
    };
    this.#devices = new Map([
      [WIREGUARD_DEVICE, device(WIREGUARD_DEVICE, options.control, options.process)],
      [WIREGUARD_DEVICE_V6, device(WIREGUARD_DEVICE_V6, options.controlV6, options.processV6)],
    ]);
  }

  /**
   * The key (created on first start), the underlay addresses, and the
   * devices: each adopted when a wireguard-go of ours answers for it, else
   * started; then its key, port and MTU. Throws when there is no device to
   * advertise.
   */
  async prepare(input: PrepareInput): Promise<Prepared> {
    const backend = input.config.backend;
    if (backend.type !== 'wireguard') throw new UsageError(`the wireguard data plane got a ${backend.type} network`);
    const ext = await this.#kernel.externalInterface({ iface: input.iface, publicIp: input.publicIp });
    const publicIp = input.publicIp ?? ext.address;
    const publicIpv6 = input.config.ipv6 === undefined ? undefined : await this.#ipv6Underlay(ext.name, input.publicIpv6);
    const key = await loadOrCreatePrivateKey(this.#keyFile);
    for (const warning of key.warnings) this.#log.warn({ path: this.#keyFile }, warning);
    this.#log.info({ path: this.#keyFile, publicKey: key.publicKey, created: key.created }, key.created ? 'created the WireGuard key' : 'WireGuard key loaded');
    const network6 = publicIpv6 === undefined ? undefined : input.config.ipv6?.network;
    this.#ready = { backend, network: input.config.network, network6, publicIpv6, privateKey: key.privateKey, publicKey: key.publicKey, publicIp, underlayMtu: ext.mtu };
    const tunnels = this.#tunnels(this.#ready, input.config.network, network6);
    for (const tunnel of tunnels) {
      const changes: string[] = [];
      await this.#ensureDevice(this.#ready, tunnel, changes);
      this.#log.info({ device: tunnel.name, parent: ext.name, publicIp, listenPort: tunnel.listenPort, mtu: tunnel.mtu, changes }, 'wireguard device ready');
    }
    if (!tunnels.some((t) => t.name === WIREGUARD_DEVICE_V6)) await this.#retire(WIREGUARD_DEVICE_V6);
    const ports = advertisedPorts(backend);
    const main = tunnels[0] as TunnelSpec;
    const v6Device = tunnels.find((t) => t.overlays.some((o) => o.family === 6));
    return {
      publicIp, mtu: main.mtu, device: WIREGUARD_DEVICE, parent: ext.name,
      advert: {
        backendType: 'wireguard', vni: undefined, vtepMac: undefined, wireguard: { publicKey: key.publicKey, port: ports.v4 },
        ...(publicIpv6 !== undefined ? { wireguardV6: { publicKey: key.publicKey, port: ports.v6 } } : {}),
      },
      ...(publicIpv6 !== undefined && v6Device !== undefined ? { v6: { publicIp: publicIpv6, mtu: v6Device.mtu, device: v6Device.name } } : {}),
    };
  }

  /**
   * A device this host no longer runs (`weft-wg-v6` after a switch to a
   * single-device mode or to an IPv4 network): its wireguard-go stopped by the
   * recorded PID, then the link deleted if it is still there, so no stale
   * device keeps a route into the overlay.
   */
  async #retire(name: string): Promise<void> {
    if (!(await this.#kernel.readDevice(name))) return;
    const pid = await this.#device(name).process.stop?.();
    // wireguard-go takes its link with it as it exits: a delete that races it is fine when the link is gone.
    if (await this.#kernel.readDevice(name)) {
      await this.#kernel.deleteDevice(name).catch(async (err: unknown) => { if (await this.#kernel.readDevice(name)) throw err; });
    }
    this.#log.info({ device: name, ...(pid !== undefined ? { pid } : {}) }, 'removed a wireguard device this Mode does not use');
  }

  /** The host's IPv6 underlay address; undefined (IPv4 only, the reason kept) when it has none. A bad `--public-ipv6` is bad input. */
  async #ipv6Underlay(iface: string, pinned: Ipv6 | undefined): Promise<Ipv6 | undefined> {
    try {
      const ext6 = await this.#kernel6.externalInterface6(iface, pinned);
      this.#v6Down = undefined;
      return ext6.address;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      this.#v6Down = `IPv6 not set up: ${errorMessage(err)}`;
      this.#log.error({ family: 'IPv6', err: errorMessage(err) }, 'no IPv6 underlay address; the wireguard backend runs IPv4 only until weftd is restarted');
      return undefined;
    }
  }

  /** The devices for this host's overlay: IPv6 only with an IPv6 subnet (prepare(), before the lease, passes the networks). */
  #tunnels(ready: Ready, subnet: Cidr, subnet6: Cidr6 | undefined): TunnelSpec[] {
    const network6 = subnet6 === undefined ? undefined : ready.network6;
    return wireguardTunnels(ready.backend, { network: ready.network, subnet, network6, subnet6: network6 && subnet6 }, ready.underlayMtu);
  }

  #device(name: string): Device {
    const device = this.#devices.get(name);
    if (!device) throw new Error(`no wireguard device ${name}`);
    return device;
  }

  /** wireguard-go answering (adopted or started), key and listen port, MTU, link up. */
  async #ensureDevice(ready: Ready, tunnel: TunnelSpec, changes: string[]): Promise<void> {
    const { control, process } = this.#device(tunnel.name);
    const started = await process.ensure();
    if (started !== undefined) changes.push(started);
    if (await ensureDeviceSettings(control, { privateKey: ready.privateKey, listenPort: tunnel.listenPort })) changes.push('set key and listen port');
    const link = await this.#kernel.readDevice(tunnel.name);
    if (!link) throw new WeftError('wireguard-device', `${tunnel.name} answers on its socket but has no link in this network namespace`, { retryable: true });
    if (link.mtu !== tunnel.mtu) {
      await this.#kernel.setMtu(tunnel.name, tunnel.mtu);
      changes.push(`mtu ${link.mtu} -> ${tunnel.mtu}`);
    }
    if (!link.up) {
      await this.#kernel.setUp(tunnel.name);
      changes.push('link up');
    }
  }

  leased(subnets: LeaseSubnets): void {
    this.#self6 = subnets.subnetV6;
  }

  /** Every device: the device, its addresses and routes, then its peers, all read back; one device's failure never stops another's. */
  async reconcile(selfSubnet: Cidr, leases: readonly AcceptedPeer[]): Promise<PassResult> {
    const ready = this.#ready;
    if (!ready) throw new Error('WireguardDataPlane.reconcile called before prepare');
    const ipv6 = ready.network6 !== undefined && this.#self6 !== undefined;
    const tunnels = this.#tunnels(ready, selfSubnet, ipv6 ? this.#self6 : undefined);
    const wanted = wantedTunnelPeers(ready.backend, leases.filter(isWireguardPeer),
      { publicKey: ready.publicKey, publicIp: ready.publicIp, publicIpv6: ready.publicIpv6, ipv6 });
    const results = await Promise.all(tunnels.map((tunnel) => {
      const pass = this.#pass(ready, tunnel, wanted.get(tunnel.name) ?? { peers: [], refused: [] });
      return tunnel.name === WIREGUARD_DEVICE ? pass : this.#guard(tunnel.name, pass);
    }));
    const [r4, r6] = results;
    const main = r4 as PassResult;
    if (r6 === undefined) return this.#v6Down === undefined ? main : { ...main, ipv6: { ok: false, applied: 0, failed: 0, changes: 0, programmed: 0, error: this.#v6Down } };
    return {
      ok: main.ok && r6.ok, applied: main.applied + r6.applied, failed: main.failed + r6.failed, changes: main.changes + r6.changes,
      ...(main.programmed !== undefined ? { programmed: main.programmed } : {}),
      ...(main.error !== undefined ? { error: main.error } : {}),
      tunnels: [...(main.tunnels ?? []), ...(r6.tunnels ?? [])],
      ipv6: r6,
    };
  }

  /** weft-wg-v6's pass with an unexpected throw turned into a failed result: weft-wg keeps its own (as DualStackDataPlane). */
  async #guard(device: string, pass: Promise<PassResult>): Promise<PassResult> {
    try {
      return await pass;
    } catch (err) {
      this.#log.warn({ device, err: errorMessage(err) }, 'wireguard device pass failed; the other device goes on, retrying');
      return { ok: false, applied: 0, failed: 1, changes: 0, programmed: 0, error: errorMessage(err) };
    }
  }

  /** One device's pass. */
  async #pass(ready: Ready, tunnel: TunnelSpec, wanted: DesiredPeers): Promise<PassResult> {
    const changes: string[] = [];
    try {
      await this.#ensureDevice(ready, tunnel, changes);
      await this.#ensureAddressesAndRoutes(tunnel, changes);
    } catch (err) {
      if (!(err instanceof WeftError)) throw err;
      this.#log.warn({ err: errorMessage(err), device: tunnel.name, changes }, 'wireguard device not ready; retrying');
      return { ok: false, applied: changes.length, failed: 1, changes: changes.length + 1, programmed: 0, error: errorMessage(err) };
    }
    for (const r of wanted.refused) this.#log.warn({ device: tunnel.name, lease: r.name, reason: r.reason }, 'wireguard peer not programmed');
    const control = this.#device(tunnel.name).control;
    const report = await syncPeers(control, wanted.peers);
    if (changes.length > 0 || report.sent.length > 0) {
      this.#log.info({ device: tunnel.name, changes, sent: report.sent.map((op) => `${op.kind} ${op.publicKey}`), remaining: report.remaining.length }, 'wireguard pass applied changes');
    }
    if (report.setError) this.#log.warn({ device: tunnel.name, err: report.setError.message, remaining: report.remaining.length }, 'wireguard set partly refused; the next pass retries');
    const unconverged = new Set(report.remaining.map((op) => op.publicKey));
    return {
      ok: report.remaining.length === 0, applied: changes.length + report.sent.length - report.remaining.length, failed: report.remaining.length,
      changes: changes.length + report.sent.length,
      programmed: wanted.peers.filter((p) => !unconverged.has(p.publicKey)).length,
      tunnels: report.state.peers.map((p): TunnelPeer => ({
        device: tunnel.name, publicKey: p.publicKey, endpoint: p.endpoint, allowedIps: p.allowedIps, lastHandshakeMs: p.lastHandshakeMs, rxBytes: p.rxBytes, txBytes: p.txBytes,
      })),
    };
  }

  /** Per overlay family on the device: `/32` or `/128`, and the one network route with weft's protocol. */
  async #ensureAddressesAndRoutes(tunnel: TunnelSpec, changes: string[]): Promise<void> {
    for (const overlay of tunnel.overlays) {
      const kernel = overlay.family === 6 ? this.#kernel6 : this.#kernel;
      const address = await kernel.ensureAddress(tunnel.name, overlay.address, overlay.route);
      if (address.added) changes.push(`address ${overlay.address}/${overlay.family === 6 ? 128 : 32}`);
      for (const removed of address.removed) changes.push(`removed address ${removed}`);
      if (!hasNetworkRoute(await this.#link.routes(tunnel.name, overlay.family), overlay.route)) {
        await this.#link.replaceRoute(tunnel.name, overlay.route);
        changes.push(`route ${overlay.route} dev ${tunnel.name} proto 87`);
      }
    }
  }

  /** Every pass is a full one (see the file comment). */
  async reconcileChanged(): Promise<PassResult | undefined> {
    return undefined;
  }
}
