/**
 * The wireguard backend (flannel's pkg/backend/wireguard, weft's rules): one
 * device `weft-wg` whose peers are the accepted wireguard leases, kept
 * level-triggered. Every pass checks the device (wireguard-go alive and
 * answering, key and port, MTU, link up, `<subnet .0>/32`, the one network
 * route with weft's protocol) and converges the peer set by read-back
 * (adapters/wireguard/peer-sync.ts): a peer whose key left the leases is
 * removed, a changed key replaces its old entry.
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
import { UsageError, WeftError, errorMessage } from '../../core/errors.js';
import { type AcceptedPeer, isWireguardPeer } from '../../core/peer-acceptance.js';
import type { WireguardBackend } from '../../core/wireguard/backend-config.js';
import { DEFAULT_RUN_DIR, WIREGUARD_DEVICE, hasNetworkRoute, type WireguardDeviceSpec, wireguardDeviceSpec } from '../../core/wireguard/device.js';
import type { SecretKey, WgPublicKey } from '../../core/wireguard/keys.js';
import { wantedPeers } from '../../core/wireguard/peer-plan.js';
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
}

interface Ready {
  readonly backend: WireguardBackend;
  readonly network: Cidr;
  readonly privateKey: SecretKey;
  readonly publicKey: WgPublicKey;
  readonly publicIp: Ipv4;
  readonly underlayMtu: number;
}

export class WireguardDataPlane implements DataPlanePort {
  readonly #kernel: Kernel;
  readonly #link: DeviceRoutes;
  readonly #log: Logger;
  readonly #keyFile: string;
  readonly #client: WireguardControl;
  readonly #process: WireguardDeviceProcess;
  #ready: Ready | undefined;

  constructor(options: WireguardDataPlaneOptions) {
    this.#kernel = options.kernel;
    this.#link = options.routes ?? new WireguardLink(options.runner);
    this.#log = options.log.child({ backend: 'wireguard' });
    this.#keyFile = options.keyFile;
    const uapi = new UapiClient({ device: WIREGUARD_DEVICE, ...(options.socketDir ? { socketDir: options.socketDir } : {}) });
    this.#client = options.control ?? uapi;
    this.#process = options.process
      ?? new WireguardGoProcess({ device: WIREGUARD_DEVICE, socketDir: options.socketDir, runDir: options.runDir ?? DEFAULT_RUN_DIR }, uapi);
  }

  /**
   * The key (created on first start), the underlay address, and the device:
   * adopted when a wireguard-go of ours answers for it, else started; then
   * its key, port and MTU. Throws when there is no device to advertise.
   */
  async prepare(input: PrepareInput): Promise<Prepared> {
    const backend = input.config.backend;
    if (backend.type !== 'wireguard') throw new UsageError(`the wireguard data plane got a ${backend.type} network`);
    const ext = await this.#kernel.externalInterface({ iface: input.iface, publicIp: input.publicIp });
    const publicIp = input.publicIp ?? ext.address;
    const key = await loadOrCreatePrivateKey(this.#keyFile);
    for (const warning of key.warnings) this.#log.warn({ path: this.#keyFile }, warning);
    this.#log.info({ path: this.#keyFile, publicKey: key.publicKey, created: key.created }, key.created ? 'created the WireGuard key' : 'WireGuard key loaded');
    this.#ready = { backend, network: input.config.network, privateKey: key.privateKey, publicKey: key.publicKey, publicIp, underlayMtu: ext.mtu };
    const mtu = wireguardDeviceSpec(backend, input.config.network, input.config.network, ext.mtu).mtu;
    const changes: string[] = [];
    await this.#ensureDevice(this.#ready, mtu, changes);
    this.#log.info({ device: WIREGUARD_DEVICE, parent: ext.name, publicIp, listenPort: backend.listenPort, mtu, changes }, 'wireguard device ready');
    return {
      publicIp, mtu, device: WIREGUARD_DEVICE, parent: ext.name,
      advert: { backendType: 'wireguard', vni: undefined, vtepMac: undefined, wireguard: { publicKey: key.publicKey, port: backend.listenPort } },
    };
  }

  /** wireguard-go answering (adopted or started), key and listen port, MTU, link up. */
  async #ensureDevice(ready: Ready, mtu: number, changes: string[]): Promise<void> {
    const started = await this.#process.ensure();
    if (started !== undefined) changes.push(started);
    if (await ensureDeviceSettings(this.#client, { privateKey: ready.privateKey, listenPort: ready.backend.listenPort })) changes.push('set key and listen port');
    const link = await this.#kernel.readDevice(WIREGUARD_DEVICE);
    if (!link) throw new WeftError('wireguard-device', `${WIREGUARD_DEVICE} answers on its socket but has no link in this network namespace`, { retryable: true });
    if (link.mtu !== mtu) {
      await this.#kernel.setMtu(WIREGUARD_DEVICE, mtu);
      changes.push(`mtu ${link.mtu} -> ${mtu}`);
    }
    if (!link.up) {
      await this.#kernel.setUp(WIREGUARD_DEVICE);
      changes.push('link up');
    }
  }

  /** The device, its address and route, then the peers, all read back. */
  async reconcile(selfSubnet: Cidr, leases: readonly AcceptedPeer[]): Promise<PassResult> {
    const ready = this.#ready;
    if (!ready) throw new Error('WireguardDataPlane.reconcile called before prepare');
    const spec = wireguardDeviceSpec(ready.backend, ready.network, selfSubnet, ready.underlayMtu);
    const changes: string[] = [];
    try {
      await this.#ensureDevice(ready, spec.mtu, changes);
      await this.#ensureAddressAndRoute(spec, ready.network, changes);
    } catch (err) {
      if (!(err instanceof WeftError)) throw err;
      this.#log.warn({ err: errorMessage(err), device: WIREGUARD_DEVICE, changes }, 'wireguard device not ready; retrying');
      return { ok: false, applied: changes.length, failed: 1, changes: changes.length + 1, programmed: 0, error: errorMessage(err) };
    }
    const wanted = wantedPeers(ready.backend, leases.filter(isWireguardPeer), ready.publicKey);
    for (const r of wanted.refused) this.#log.warn({ lease: r.name, reason: r.reason }, 'wireguard peer not programmed');
    const report = await syncPeers(this.#client, wanted.peers);
    if (changes.length > 0 || report.sent.length > 0) {
      this.#log.info({ changes, sent: report.sent.map((op) => `${op.kind} ${op.publicKey}`), remaining: report.remaining.length }, 'wireguard pass applied changes');
    }
    if (report.setError) this.#log.warn({ err: report.setError.message, remaining: report.remaining.length }, 'wireguard set partly refused; the next pass retries');
    const unconverged = new Set(report.remaining.map((op) => op.publicKey));
    const ok = report.remaining.length === 0;
    return {
      ok, applied: changes.length + report.sent.length - report.remaining.length, failed: report.remaining.length,
      changes: changes.length + report.sent.length,
      programmed: wanted.peers.filter((p) => !unconverged.has(p.publicKey)).length,
      tunnels: report.state.peers.map((p): TunnelPeer => ({
        publicKey: p.publicKey, endpoint: p.endpoint, allowedIps: p.allowedIps, lastHandshakeMs: p.lastHandshakeMs, rxBytes: p.rxBytes, txBytes: p.txBytes,
      })),
    };
  }

  async #ensureAddressAndRoute(spec: WireguardDeviceSpec, network: Cidr, changes: string[]): Promise<void> {
    const address = await this.#kernel.ensureAddress(spec.name, spec.address, network);
    if (address.added) changes.push(`address ${spec.address}/32`);
    for (const removed of address.removed) changes.push(`removed address ${removed}`);
    if (!hasNetworkRoute(await this.#link.routes(spec.name), spec.route)) {
      await this.#link.replaceRoute(spec.name, spec.route);
      changes.push(`route ${spec.route} dev ${spec.name} proto 87`);
    }
  }

  /** Every pass is a full one (see the file comment). */
  async reconcileChanged(): Promise<PassResult | undefined> {
    return undefined;
  }
}
