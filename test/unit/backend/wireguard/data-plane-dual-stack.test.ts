/**
 * WireguardDataPlane on a dual-stack network against honest fakes (a
 * MemoryWireguard per device, a MemoryKernel for links and addresses of both
 * families, a route list per device, a fake wireguard-go per device that
 * creates its link when there is none): Mode "separate" runs weft-wg and
 * weft-wg-v6 with one key, the lease gets BackendV6Data, each device gets its
 * peers, address and route, a failing weft-wg-v6 never stops weft-wg, and a
 * switch to a single-device mode removes weft-wg-v6. Real wireguard-go:
 * test/integration/overlay-wireguard-dual-stack.test.ts.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Cidr, Ipv4 } from '../../../../src/core/cidr.js';
import type { Cidr6, Ipv6 } from '../../../../src/core/cidr6.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../../src/core/network-config.js';
import type { WireguardPeer } from '../../../../src/core/peer-acceptance.js';
import type { DeviceRoute } from '../../../../src/core/wireguard/device.js';
import type { DeviceRoutes } from '../../../../src/adapters/wireguard/device-link.js';
import type { WireguardDeviceProcess } from '../../../../src/adapters/wireguard/wireguard-go-daemon.js';
import { WireguardDataPlane } from '../../../../src/backend/wireguard/data-plane.js';
import { MemoryKernel } from '../../../fakes/memory-kernel.js';
import { MemoryWireguard } from '../../../fakes/memory-wireguard.js';
import { memoryLogger } from '../../../helpers/log-sink.js';
import { keyOf } from '../../../helpers/wireguard-host-fixture.js';

function configOf(mode: string): NetworkConfig {
  const parsed = parseNetworkConfig({ Network: '10.42.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:42::/48', Backend: { Type: 'wireguard', Mode: mode } });
  if (!parsed.ok) throw new Error('bad test config');
  return parsed.config;
}
const self = '10.42.1.0/24' as Cidr;
const self6 = 'fd00:42:0:1::/64' as Cidr6;

class FakeWireguardGo implements WireguardDeviceProcess {
  starts = 0;
  stops = 0;
  broken = false;
  constructor(readonly kernel: MemoryKernel, readonly device: MemoryWireguard) {}
  async ensure(): Promise<string | undefined> {
    if (this.broken) throw Object.assign(new Error('wireguard-go exited'), {});
    if (this.kernel.devices.has(this.device.device)) return undefined;
    this.starts++;
    this.device.publicKey = undefined;
    this.device.listenPort = 0;
    this.device.peers.clear();
    this.kernel.devices.set(this.device.device, {
      info: { name: this.device.device, kind: 'tun', vni: undefined, port: undefined, local: undefined, parent: undefined, learning: false, gbp: false,
        mac: undefined, mtu: 1420, up: false, addresses: [] },
      routes: new Map(), neighbors: new Map(), fdb: new Map(),
    });
    return `started ${this.device.device}`;
  }
  async stop(): Promise<number | undefined> {
    this.stops++;
    this.kernel.devices.delete(this.device.device);
    return 4242;
  }
}

class MemoryRoutes implements DeviceRoutes {
  readonly byDevice = new Map<string, DeviceRoute[]>();
  async routes(name: string): Promise<DeviceRoute[]> { return [...(this.byDevice.get(name) ?? [])]; }
  async replaceRoute(name: string, network: string): Promise<void> {
    const list = (this.byDevice.get(name) ?? []).filter((r) => r.dst !== network);
    this.byDevice.set(name, [...list, { dst: network, protocol: '87', scope: network.includes(':') ? undefined : 'link' }]);
  }
}

function dualLease(i: number): WireguardPeer {
  const key = keyOf(i);
  return {
    subnet: `10.42.${i}.0/24` as Cidr, subnetV6: `fd00:42:0:${i}::/64` as Cidr6,
    attrs: { publicIp: `192.0.2.${10 + i}` as Ipv4, publicIpv6: `fd00:99::${10 + i}` as Ipv6, backendType: 'wireguard', vni: undefined, vtepMac: undefined,
      nodeName: `host${i}`, wireguard: { publicKey: key, port: 51820 }, wireguardV6: { publicKey: key, port: 51821 } },
  };
}

async function setup(t: Test, mode = 'separate', shared?: { kernel: MemoryKernel; v4: MemoryWireguard; v6: MemoryWireguard; routes: MemoryRoutes; keyFile: string }) {
  const kernel = shared?.kernel ?? new MemoryKernel();
  const v4 = shared?.v4 ?? new MemoryWireguard('weft-wg');
  const v6 = shared?.v6 ?? new MemoryWireguard('weft-wg-v6');
  const routes = shared?.routes ?? new MemoryRoutes();
  const keyFile = shared?.keyFile ?? join(t.testdir(), 'wg', 'private.key');
  const process4 = new FakeWireguardGo(kernel, v4);
  const process6 = new FakeWireguardGo(kernel, v6);
  const { log, records } = memoryLogger();
  const plane = new WireguardDataPlane({
    kernel, log, keyFile, control: v4, process: process4, controlV6: v6, processV6: process6, routes,
    runner: async () => { throw new Error('no commands in a unit test'); },
  });
  const prepared = await plane.prepare({ config: configOf(mode), nodeName: 'host1' });
  plane.leased({ subnet: self, subnetV6: self6 });
  return { kernel, v4, v6, routes, keyFile, process4, process6, plane, prepared, records };
}

t.test('separate: two devices, one key; the lease advertises both datas; each device gets its peers, address and route', async (t) => {
  const s = await setup(t);
  t.equal(s.v6.publicKey, s.v4.publicKey, 'one key for both devices, as flannel');
  t.equal(s.v4.listenPort, 51820);
  t.equal(s.v6.listenPort, 51821);
  t.match(s.prepared, { device: 'weft-wg', mtu: 1420, v6: { publicIp: 'fd00:99::11', device: 'weft-wg-v6', mtu: 1420 },
    advert: { wireguard: { publicKey: s.v4.publicKey, port: 51820 }, wireguardV6: { publicKey: s.v4.publicKey, port: 51821 } } });
  const result = await s.plane.reconcile(self, [dualLease(2), dualLease(3)]);
  t.match(result, { ok: true, failed: 0, ipv6: { ok: true } });
  t.match(s.v4.peers.get(keyOf(2)), { endpoint: '192.0.2.12:51820', allowedIps: ['10.42.2.0/24'] });
  t.match(s.v6.peers.get(keyOf(2)), { endpoint: '[fd00:99::12]:51821', allowedIps: ['fd00:42:0:2::/64'] });
  t.same(s.kernel.devices.get('weft-wg-v6')?.info.addresses, ['fd00:42:0:1::/128']);
  t.same(s.kernel.devices.get('weft-wg')?.info.addresses, ['10.42.1.0/32']);
  t.same(await s.routes.routes('weft-wg-v6'), [{ dst: 'fd00:42::/48', protocol: '87', scope: undefined }]);
  t.same(await s.routes.routes('weft-wg'), [{ dst: '10.42.0.0/16', protocol: '87', scope: 'link' }]);
  t.match(await s.plane.reconcile(self, [dualLease(2), dualLease(3)]), { ok: true, changes: 0 }, 'converged: nothing to do');
});

t.test('a failing weft-wg-v6 never stops weft-wg; it is repaired on a later pass', async (t) => {
  const s = await setup(t);
  s.kernel.devices.delete('weft-wg-v6');
  s.process6.broken = true;
  const failed = await s.plane.reconcile(self, [dualLease(2)]);
  t.match(failed, { ok: false, ipv6: { ok: false, error: /wireguard-go exited/ } }, 'the pass failed, so the loop retries soon');
  t.ok(s.v4.peers.has(keyOf(2)), 'weft-wg got its peer all the same');
  t.notOk(s.v6.peers.has(keyOf(2)));
  s.process6.broken = false;
  const result = await s.plane.reconcile(self, [dualLease(2)]);
  t.match(result, { ok: true, ipv6: { ok: true } });
  t.equal(s.process6.starts, 2, 'weft-wg-v6 started again');
  t.ok(s.v4.peers.has(keyOf(2)) && s.v6.peers.has(keyOf(2)), 'both devices have the peer');
});

t.test('single-device modes: IPv6 on weft-wg, one peer with both subnets; a switch from separate removes weft-wg-v6', async (t) => {
  const first = await setup(t);
  await first.plane.reconcile(self, [dualLease(2)]);
  t.ok(first.kernel.devices.has('weft-wg-v6'));
  const s = await setup(t, 'ipv6', first);
  t.notOk(s.kernel.devices.has('weft-wg-v6'), 'weft-wg-v6 removed at prepare');
  t.equal(s.process6.stops, 1);
  t.match(s.records.find((r) => r.msg === 'removed a wireguard device this Mode does not use'), { device: 'weft-wg-v6', pid: 4242 });
  t.match(s.prepared.advert, { wireguard: { port: 51820 }, wireguardV6: { port: 51820 } }, 'the one device\'s port in both datas');
  t.match(s.prepared.v6, { device: 'weft-wg' });
  const result = await s.plane.reconcile(self, [dualLease(2)]);
  t.match(result, { ok: true });
  t.equal(result.ipv6, undefined, 'one device: no separate IPv6 result');
  t.match(s.v4.peers.get(keyOf(2)), { endpoint: '[fd00:99::12]:51820', allowedIps: ['10.42.2.0/24', 'fd00:42:0:2::/64'] });
  t.same([...(s.kernel.devices.get('weft-wg')?.info.addresses ?? [])].sort(), ['10.42.1.0/32', 'fd00:42:0:1::/128']);
  t.same((await s.routes.routes('weft-wg')).map((r) => r.dst).sort(), ['10.42.0.0/16', 'fd00:42::/48'], 'one route per family');
});

t.test('no IPv6 underlay address: IPv4 only, the reason in every pass', async (t) => {
  const kernel = new MemoryKernel();
  kernel.interfaces6 = [];
  const v4 = new MemoryWireguard('weft-wg');
  const s = await setup(t, 'separate', { kernel, v4, v6: new MemoryWireguard('weft-wg-v6'), routes: new MemoryRoutes(), keyFile: join(t.testdir(), 'k') });
  t.equal(s.prepared.v6, undefined);
  t.equal(s.prepared.advert.wireguardV6, undefined, 'no BackendV6Data');
  t.notOk(kernel.devices.has('weft-wg-v6'));
  const result = await s.plane.reconcile(self, [dualLease(2)]);
  t.match(result, { ok: true, ipv6: { ok: false, error: /IPv6 not set up/ } });
  t.match(v4.peers.get(keyOf(2)), { allowedIps: ['10.42.2.0/24'] });
});
