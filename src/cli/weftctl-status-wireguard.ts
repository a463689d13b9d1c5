/**
 * `weftctl status` on a wireguard network: the device `weft-wg` (link,
 * listen port, MTU, public key, its address and the network route) and per
 * peer the tunnel as the device reports it (endpoint, allowed IPs, latest
 * handshake, bytes) against what the leases want (core/wireguard/
 * tunnel-check.ts). The device is read over its UAPI socket in the
 * directory weftd uses (`--wireguard-socket-dir`, default
 * DEFAULT_SOCKET_DIR). The private key is never read into the report: the
 * UAPI reader reduces it to the public key. On a dual-stack network in
 * Mode "separate", `weft-wg-v6` and its tunnels too (`v6`).
 */
import { existsSync } from 'node:fs';
import type { Cidr } from '../core/cidr.js';
import type { ListedLease } from '../core/allocate.js';
import { errorMessage } from '../core/errors.js';
import type { WireguardPeer } from '../core/peer-acceptance.js';
import { WIREGUARD_OVERHEAD, type WireguardBackend } from '../core/wireguard/backend-config.js';
import { DEFAULT_SOCKET_DIR, type DeviceRoute, WIREGUARD_DEVICE, WIREGUARD_DEVICE_V6, type WireguardDeviceSpec, wireguardDeviceSpec } from '../core/wireguard/device.js';
import type { WgPublicKey } from '../core/wireguard/keys.js';
import { type DesiredPeers, wantedTunnelPeers } from '../core/wireguard/peer-plan.js';
import { type TunnelReport, type WireguardDeviceFacts, compareTunnels, wireguardDeviceProblems } from '../core/wireguard/tunnel-check.js';
import type { DeviceState } from '../core/wireguard/uapi-codec.js';
import { formatDuration } from '../core/duration.js';
import type { Kernel } from '../adapters/kernel.js';
import { execaRunner } from '../adapters/iproute2/runner.js';
import { WireguardLink } from '../adapters/wireguard/device-link.js';
import { UapiClient, type WireguardControl, uapiSocketPath } from '../adapters/wireguard/uapi-client.js';
import { WgCliControl } from '../adapters/wireguard/wg-cli-control.js';
import { readLinkKind } from '../adapters/wireguard/kernel-device.js';
import { implementationOfKind, implementationWord } from '../core/wireguard/implementation.js';
import { renderTable } from './leases-table.js';

/** How weftctl reads the wireguard device: the UAPI socket or `wg`, and `ip route` (fakes in unit tests). */
export interface WireguardReaders {
  readonly socketDir: string;
  control(device: string): WireguardControl;
  routes(device: string): Promise<readonly DeviceRoute[]>;
  /** Which WireGuard the device is, by its link kind (undefined: no device, or not told). */
  implementation?(device: string): Promise<'kernel' | 'userspace' | undefined>;
}

export function hostWireguardReaders(socketDir: string = DEFAULT_SOCKET_DIR): WireguardReaders {
  const runner = execaRunner({ timeoutMs: 10_000 });
  const link = new WireguardLink(runner);
  return {
    socketDir,
    // wireguard-go answers on its socket; a kernel device has none and is read with `wg show dump`.
    control: (device) => (existsSync(uapiSocketPath(socketDir, device)) ? new UapiClient({ device, socketDir }) : new WgCliControl({ device, runner })),
    routes: (device) => link.routes(device),
    implementation: async (device) => implementationOfKind(await readLinkKind(runner, device)),
  };
}

/** The socket directory from weftctl's flags (weftd's `--wireguard-socket-dir`). */
export function socketDirOf(argv: Record<string, unknown>): string {
  const dir = argv['wireguard-socket-dir'];
  return typeof dir === 'string' && dir !== '' ? dir : DEFAULT_SOCKET_DIR;
}

export interface WireguardStatus {
  readonly deviceName: string;
  readonly socketDir: string;
  readonly up: boolean | null;
  /** `kernel` or `wireguard-go`, by the device's link kind; null when not known. */
  readonly implementation: string | null;
  readonly mtu: number | null;
  readonly addresses: readonly string[];
  readonly listenPort: number | null;
  readonly publicKey: WgPublicKey | null;
  readonly route: { readonly network: Cidr; readonly present: boolean | null };
  /** What is wrong with the device (also in the report's problems, prefixed with the device name). */
  readonly deviceProblems: readonly string[];
  /** null when the device cannot be read over its socket. */
  readonly tunnels: TunnelReport | null;
  /** `weft-wg-v6` (Mode "separate" on a dual-stack host); absent otherwise. */
  readonly v6?: WireguardStatusV6;
}

/** The IPv6 device of Mode "separate": its link, port and key, and its tunnels against the leases' IPv6 halves. */
export interface WireguardStatusV6 {
  readonly deviceName: string;
  readonly up: boolean | null;
  readonly mtu: number | null;
  readonly listenPort: number | null;
  readonly publicKey: WgPublicKey | null;
  readonly error?: string;
  readonly tunnels: TunnelReport | null;
}

export interface WireguardInput {
  readonly backend: WireguardBackend;
  readonly network: Cidr;
  readonly own: ListedLease | undefined;
  readonly peers: readonly WireguardPeer[];
  readonly kernel: Kernel;
  readonly readers: WireguardReaders;
  readonly nowMs: number;
}

/** Reads the device and compares; every failure to read is a fact in the report, not an exception. */
export interface WireguardCollected {
  readonly status: WireguardStatus;
  readonly facts: WireguardDeviceFacts;
  readonly state: DeviceState | undefined;
  /** What the device should be; undefined without this host's lease. */
  readonly spec: WireguardDeviceSpec | undefined;
  /** The MTU the device follows and where it came from; undefined when it cannot be told. */
  readonly underlay: { readonly mtu: number; readonly source: string } | undefined;
}

export async function collectWireguard(input: WireguardInput): Promise<WireguardCollected> {
  const { backend, network, own, kernel, readers } = input;
  const link = await kernel.readDevice(WIREGUARD_DEVICE);
  const kind = link ? await readers.implementation?.(WIREGUARD_DEVICE).catch(() => undefined) : undefined;
  let state: DeviceState | undefined;
  let uapi: WireguardDeviceFacts['uapi'];
  try {
    state = await readers.control(WIREGUARD_DEVICE).get();
    uapi = { ok: true, publicKey: state.publicKey, listenPort: state.listenPort };
  } catch (err) {
    uapi = { ok: false, error: errorMessage(err) };
  }
  const routes = link ? await readers.routes(WIREGUARD_DEVICE).catch(() => undefined) : undefined;
  const facts: WireguardDeviceFacts = { link: link ? { up: link.up, mtu: link.mtu, addresses: link.addresses } : undefined, uapi, routes };
  const underlay = backend.mtu !== undefined ? { mtu: backend.mtu, source: `Backend.MTU ${backend.mtu}` }
    : await kernel.externalInterface(own ? { publicIp: own.attrs.publicIp } : {}).then((e) => ({ mtu: e.mtu, source: `${e.name} MTU ${e.mtu}` }), () => undefined);
  // Without the underlay's MTU the device's own is taken as right (no MTU problem is made up).
  const spec = own ? wireguardDeviceSpec(backend, network, own.subnet, underlay?.mtu ?? (link ? link.mtu + WIREGUARD_OVERHEAD : 1500)) : undefined;
  const deviceProblems = wireguardDeviceProblems(facts, spec, backend.listenPort, own?.attrs.wireguard?.publicKey);
  const ipv6 = own?.subnetV6 !== undefined && own.attrs.wireguardV6 !== undefined;
  const wanted = wantedTunnelPeers(backend, input.peers, { publicKey: state?.publicKey ?? own?.attrs.wireguard?.publicKey, publicIp: own?.attrs.publicIp, publicIpv6: own?.attrs.publicIpv6, ipv6 });
  const tunnels = state ? compareTunnels(wanted.get(WIREGUARD_DEVICE) ?? NONE, input.peers, state.peers, input.nowMs) : null;
  const v6 = wanted.has(WIREGUARD_DEVICE_V6) ? await collectV6(input, wanted.get(WIREGUARD_DEVICE_V6) ?? NONE) : undefined;
  return {
    facts, state, spec, underlay,
    status: {
      deviceName: WIREGUARD_DEVICE, socketDir: readers.socketDir, up: link?.up ?? null,
      implementation: kind === undefined ? null : implementationWord(kind), mtu: link?.mtu ?? null, addresses: link?.addresses ?? [],
      listenPort: state?.listenPort ?? null, publicKey: state?.publicKey ?? null,
      route: { network, present: spec && routes ? !deviceProblems.some((p) => p.startsWith(`route ${spec.route}`)) : null },
      deviceProblems, tunnels, ...(v6 ? { v6 } : {}),
    },
  };
}

const NONE: DesiredPeers = { peers: [], refused: [] };

async function collectV6(input: WireguardInput, wanted: DesiredPeers): Promise<WireguardStatusV6> {
  const link = await input.kernel.readDevice(WIREGUARD_DEVICE_V6).catch(() => undefined);
  const base = { deviceName: WIREGUARD_DEVICE_V6, up: link?.up ?? null, mtu: link?.mtu ?? null };
  try {
    const state = await input.readers.control(WIREGUARD_DEVICE_V6).get();
    return { ...base, listenPort: state.listenPort ?? null, publicKey: state.publicKey ?? null,
      tunnels: compareTunnels(wanted, input.peers.map(asV6Lease), state.peers, input.nowMs) };
  } catch (err) {
    return { ...base, listenPort: null, publicKey: null, error: errorMessage(err), tunnels: null };
  }
}

/** A peer as its IPv6 half is keyed on weft-wg-v6 (by its BackendV6Data key). */
function asV6Lease(peer: WireguardPeer): WireguardPeer {
  return peer.attrs.wireguardV6 === undefined ? peer : { ...peer, attrs: { ...peer.attrs, wireguard: peer.attrs.wireguardV6 } };
}

/** The problems of the wireguard part, for the report's list. */
export function wireguardProblems(s: WireguardStatus): string[] {
  const problems = s.deviceProblems.map((p) => `${s.deviceName}: ${p}`);
  const t = s.tunnels;
  const v6 = s.v6;
  if (v6?.error !== undefined) problems.push(`${v6.deviceName}: cannot be read: ${v6.error}`);
  if (v6?.tunnels && !v6.tunnels.inSync) problems.push(`${v6.deviceName}: peers not as the leases' IPv6 halves say`);
  if (t && !t.inSync) {
    const wrong = t.peers.filter((p) => p.state !== 'ok');
    const unwanted = wrong.filter((p) => p.state === 'unwanted').length;
    const drifted = wrong.length - unwanted;
    problems.push(`${drifted} of ${t.peers.length - unwanted} peers not as the leases say${unwanted > 0 ? `, ${unwanted} unwanted peers` : ''}`);
  }
  return problems;
}

export function renderWireguardDevice(s: WireguardStatus): string {
  if (s.up === null && s.listenPort === null) return `${s.deviceName} missing${s.deviceProblems.length > 0 ? ` — ${s.deviceProblems.join('; ')}` : ''}`;
  const parts = [
    `${s.deviceName} ${s.up === null ? 'no link' : s.up ? 'up' : 'DOWN'}${s.implementation === null ? '' : ` (${s.implementation})`}`,
    `listen port ${s.listenPort ?? '-'}`, `mtu ${s.mtu ?? '-'}`, `public key ${s.publicKey ?? '-'}`,
    `address ${s.addresses.join(',') || '-'}`, `route ${s.route.network} ${s.route.present === null ? 'not read' : s.route.present ? 'ok' : 'MISSING'}`,
  ];
  return `${parts.join(', ')}${s.deviceProblems.length > 0 ? ` — ${s.deviceProblems.join('; ')}` : ''}`;
}

function handshake(age: number | null): string {
  return age === null ? 'never' : `${formatDuration(age * 1000)} ago`;
}

export function renderTunnels(t: TunnelReport): string[] {
  if (t.peers.length === 0) return ['no peers'];
  const lines = [renderTable(['PEER SUBNET', 'NODE', 'PUBLIC KEY', 'ENDPOINT', 'ALLOWED IPS', 'HANDSHAKE', 'RX', 'TX', 'STATE'],
    t.peers.map((p) => [p.subnet ?? '-', p.node ?? '-', p.publicKey, p.endpoint ?? '-', p.allowedIps.join(',') || '-',
      p.state === 'missing' ? '-' : handshake(p.handshakeAgeSeconds), String(p.rxBytes), String(p.txBytes),
      p.state === 'ok' ? 'ok' : p.state]))];
  for (const p of t.peers.filter((x) => x.problems.length > 0)) lines.push(`${p.subnet ?? p.publicKey}: ${p.problems.join('; ')}`);
  return lines;
}
