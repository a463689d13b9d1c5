/**
 * One wireguard host in memory, as weftd leaves it: the wireguard config and
 * three leases in a MemoryRegistry, `weft-wg` (a tun link, up, MTU 1420,
 * `10.42.1.0/32`) in a MemoryKernel, its UAPI side in a MemoryWireguard with
 * host1's key and both other hosts as peers, the network route in a route
 * list, subnet.env on disk. For `weftctl status` / `doctor` unit tests.
 */
import { join } from 'node:path';
import type { Cidr, Ipv4 } from '../../src/core/cidr.js';
import { encodeLeaseValue } from '../../src/core/lease.js';
import type { WireguardPeer } from '../../src/core/peer-acceptance.js';
import { parseNetworkConfig, type NetworkConfig } from '../../src/core/network-config.js';
import type { WireguardBackend } from '../../src/core/wireguard/backend-config.js';
import type { DeviceRoute } from '../../src/core/wireguard/device.js';
import { type SecretKey, type WgPublicKey, clampPrivateKey, publicKeyOf } from '../../src/core/wireguard/keys.js';
import { wantedPeers } from '../../src/core/wireguard/peer-plan.js';
import { syncPeers } from '../../src/adapters/wireguard/peer-sync.js';
import { writeSubnetFile } from '../../src/adapters/subnet-file.js';
import type { WireguardReaders } from '../../src/cli/weftctl-status-wireguard.js';
import { MemoryKernel } from '../fakes/memory-kernel.js';
import { MemoryRegistry } from '../fakes/memory-registry.js';
import { MemoryWireguard } from '../fakes/memory-wireguard.js';

export const WG_CONFIG_TEXT = '{"Network":"10.42.0.0/16","Backend":{"Type":"wireguard","ListenPort":51820,"PersistentKeepaliveInterval":5}}';

export const privateKeyOf = (i: number): SecretKey => clampPrivateKey(Buffer.alloc(32, i));
export const keyOf = (i: number): WgPublicKey => publicKeyOf(privateKeyOf(i));

export function wireguardLease(i: number, key: WgPublicKey = keyOf(i)): WireguardPeer {
  return {
    subnet: `10.42.${i}.0/24` as Cidr,
    attrs: { publicIp: `192.0.2.${10 + i}` as Ipv4, backendType: 'wireguard', vni: undefined, vtepMac: undefined, wireguard: { publicKey: key, port: 51820 }, nodeName: `host${i}` },
  };
}

export interface WireguardHostFixture {
  readonly config: NetworkConfig & { backend: WireguardBackend };
  readonly registry: MemoryRegistry;
  /** A new registry with the same content (doctor closes the one it opened). */
  openRegistry(): Promise<MemoryRegistry>;
  readonly kernel: MemoryKernel;
  readonly device: MemoryWireguard;
  /** The routes on weft-wg as `ip -j route show dev weft-wg` would list them. */
  routes: DeviceRoute[];
  readonly readers: WireguardReaders;
  readonly subnetFile: string;
  readonly leases: readonly WireguardPeer[];
}

export async function wireguardHostFixture(dir: string): Promise<WireguardHostFixture> {
  const parsed = parseNetworkConfig(JSON.parse(WG_CONFIG_TEXT));
  if (!parsed.ok || parsed.config.backend.type !== 'wireguard') throw new Error('fixture config');
  const config = parsed.config as NetworkConfig & { backend: WireguardBackend };
  const leases = [1, 2, 3].map((i) => wireguardLease(i));
  const openRegistry = async (): Promise<MemoryRegistry> => {
    const r = new MemoryRegistry();
    await r.putConfig(WG_CONFIG_TEXT);
    for (const l of leases) await r.claim(l, encodeLeaseValue(l.attrs), 3600);
    return r;
  };
  const registry = await openRegistry();
  const kernel = new MemoryKernel();
  kernel.devices.set('weft-wg', {
    info: { name: 'weft-wg', kind: 'tun', vni: undefined, port: undefined, local: undefined, parent: undefined, learning: false, gbp: false,
      mac: undefined, mtu: 1420, up: true, addresses: ['10.42.1.0/32'] },
    routes: new Map(), neighbors: new Map(), fdb: new Map(),
  });
  const device = new MemoryWireguard();
  await device.set({ privateKey: privateKeyOf(1), listenPort: 51820 });
  await syncPeers(device, wantedPeers(config.backend, leases, keyOf(1)).peers);
  const subnetFile = join(dir, 'subnet.env');
  await writeSubnetFile(subnetFile, { network: config.network, subnet: '10.42.1.0/24' as Cidr, mtu: 1420, ipMasq: false });
  const fixture: WireguardHostFixture = {
    config, registry, openRegistry, kernel, device, subnetFile, leases,
    routes: [{ dst: '10.42.0.0/16', protocol: '87', scope: 'link' }],
    readers: { socketDir: '/memory', control: () => device, routes: async () => fixture.routes },
  };
  return fixture;
}
