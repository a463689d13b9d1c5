/**
 * WireguardDataPlane's logic against honest fakes: the device's UAPI side in
 * a MemoryWireguard (a set applied op by op, stopping at a bad one), the
 * link and its address in a MemoryKernel, the network route in a route
 * list, and a fake wireguard-go that creates the link (MTU 1420, down, no
 * key, no peers) when there is none, as a fresh one does. The key file is a
 * real file. Real wireguard-go and kernel: test/integration/overlay-wireguard.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { Cidr } from '../../../../src/core/cidr.js';
import { type NetworkConfig, parseNetworkConfig } from '../../../../src/core/network-config.js';
import type { WireguardPeer } from '../../../../src/core/peer-acceptance.js';
import type { DeviceRoute } from '../../../../src/core/wireguard/device.js';
import { SecretKey, publicKeyOf } from '../../../../src/core/wireguard/keys.js';
import type { DeviceRoutes } from '../../../../src/adapters/wireguard/device-link.js';
import type { WireguardDeviceProcess } from '../../../../src/adapters/wireguard/wireguard-go-daemon.js';
import { WireguardDataPlane } from '../../../../src/backend/wireguard/data-plane.js';
import { MemoryKernel } from '../../../fakes/memory-kernel.js';
import { MemoryWireguard } from '../../../fakes/memory-wireguard.js';
import { memoryLogger } from '../../../helpers/log-sink.js';
import { keyOf, wireguardLease } from '../../../helpers/wireguard-host-fixture.js';

const parsed = parseNetworkConfig({ Network: '10.42.0.0/16', Backend: { Type: 'wireguard', ListenPort: 51820, PersistentKeepaliveInterval: 5 } });
if (!parsed.ok) throw new Error('bad test config');
const config: NetworkConfig = parsed.config;
const self = '10.42.1.0/24' as Cidr;

/** A wireguard-go that creates its TUN link when there is none, and then has no key, port or peers. */
class FakeWireguardGo implements WireguardDeviceProcess {
  starts = 0;
  constructor(readonly kernel: MemoryKernel, readonly device: MemoryWireguard, readonly routes: MemoryRoutes) {}
  async ensure(): Promise<string | undefined> {
    if (this.kernel.devices.has('weft-wg')) return undefined;
    this.starts++;
    this.device.publicKey = undefined;
    this.device.listenPort = 0;
    this.device.peers.clear();
    this.routes.list = [];
    this.kernel.devices.set('weft-wg', {
      info: { name: 'weft-wg', kind: 'tun', vni: undefined, port: undefined, local: undefined, parent: undefined, learning: false, gbp: false,
        mac: undefined, mtu: 1420, up: false, addresses: [] },
      routes: new Map(), neighbors: new Map(), fdb: new Map(),
    });
    return `started fake wireguard-go #${this.starts}`;
  }
}

class MemoryRoutes implements DeviceRoutes {
  list: DeviceRoute[] = [];
  async routes(): Promise<DeviceRoute[]> { return [...this.list]; }
  async replaceRoute(_name: string, network: Cidr): Promise<void> {
    this.list = [...this.list.filter((r) => r.dst !== network), { dst: network, protocol: '87', scope: 'link' }];
  }
}

async function setup(t: Test) {
  const dir = t.testdir();
  const kernel = new MemoryKernel();
  const device = new MemoryWireguard();
  const routes = new MemoryRoutes();
  const process = new FakeWireguardGo(kernel, device, routes);
  const { log, records } = memoryLogger();
  const keyFile = join(dir, 'wg', 'private.key');
  const plane = new WireguardDataPlane({
    kernel, log, keyFile, control: device, process, routes, runner: async () => { throw new Error('no commands in a unit test'); },
  });
  const prepared = await plane.prepare({ config, nodeName: 'host1' });
  return { kernel, device, routes, process, plane, prepared, records, keyFile };
}

const peerKeys = (device: MemoryWireguard): string[] => [...device.peers.keys()].sort();

t.test('prepare starts the device, sets the key from the key file and the port, MTU 1500 − 80, link up; advertises the public key', async (t) => {
  const s = await setup(t);
  const key = SecretKey.parseBase64(await readFile(s.keyFile, 'utf8'));
  if (!key.ok) throw new Error('key file');
  t.equal(s.process.starts, 1);
  t.equal(s.device.publicKey, publicKeyOf(key.key), 'the device has the key file\'s key');
  t.equal(s.device.listenPort, 51820);
  t.match(s.kernel.devices.get('weft-wg')?.info, { mtu: 1420, up: true });
  t.same(s.prepared, { publicIp: '192.0.2.11', mtu: 1420, device: 'weft-wg', parent: 'eth0',
    advert: { backendType: 'wireguard', vni: undefined, vtepMac: undefined, wireguard: { publicKey: publicKeyOf(key.key), port: 51820 } } });
  const logs = JSON.stringify(s.records);
  t.notOk(logs.includes(key.key.base64()) || logs.includes(key.key.hex()), 'the private key is in no log record');
});

t.test('a pass programs one peer per lease, the address and the network route; a second pass changes nothing', async (t) => {
  const s = await setup(t);
  const first = await s.plane.reconcile(self, [wireguardLease(2), wireguardLease(3)]);
  t.match(first, { ok: true, failed: 0, programmed: 2 });
  t.same(peerKeys(s.device), [keyOf(2), keyOf(3)].sort());
  t.match(s.device.peers.get(keyOf(2)), { endpoint: '192.0.2.12:51820', allowedIps: ['10.42.2.0/24'], persistentKeepaliveInterval: 5 });
  t.ok(s.kernel.devices.get('weft-wg')?.info.addresses.includes('10.42.1.0/32'));
  t.same(s.routes.list, [{ dst: '10.42.0.0/16', protocol: '87', scope: 'link' }]);
  t.same(first.tunnels?.map((p) => [p.publicKey, p.endpoint]).sort(), [[keyOf(2), '192.0.2.12:51820'], [keyOf(3), '192.0.2.13:51820']].sort());
  const requests = s.device.requests.length;
  const again = await s.plane.reconcile(self, [wireguardLease(2), wireguardLease(3)]);
  t.match(again, { ok: true, changes: 0, applied: 0 });
  t.equal(s.device.requests.length, requests, 'nothing sent when converged');
});

t.test('a peer whose key changed is replaced: the old key is gone, its allowed IPs on the new one', async (t) => {
  const s = await setup(t);
  await s.plane.reconcile(self, [wireguardLease(2), wireguardLease(3)]);
  const newKey = keyOf(12);
  const result = await s.plane.reconcile(self, [wireguardLease(2, newKey), wireguardLease(3)]);
  t.match(result, { ok: true, programmed: 2 });
  t.same(peerKeys(s.device), [newKey, keyOf(3)].sort(), 'no stale peer with the old key');
  t.same(s.device.peers.get(newKey)?.allowedIps, ['10.42.2.0/24']);
});

t.test('a removed lease removes its peer; a non-wireguard lease never becomes one', async (t) => {
  const s = await setup(t);
  await s.plane.reconcile(self, [wireguardLease(2), wireguardLease(3)]);
  const vxlanPeer = { subnet: '10.42.9.0/24', attrs: { publicIp: '192.0.2.19', backendType: 'vxlan', vni: 1, vtepMac: '0a:00:00:00:00:09' } };
  const result = await s.plane.reconcile(self, [wireguardLease(3), vxlanPeer as never]);
  t.match(result, { ok: true, programmed: 1 });
  t.same(peerKeys(s.device), [keyOf(3)]);
});

t.test('a set that stops halfway: the pass reports it (not ok), the next pass finishes it', async (t) => {
  const s = await setup(t);
  s.device.failAfterOps = 1;
  const leases: WireguardPeer[] = [wireguardLease(2), wireguardLease(3), wireguardLease(4)];
  const half = await s.plane.reconcile(self, leases);
  t.match(half, { ok: false, failed: 2, programmed: 1 });
  t.equal(s.device.peers.size, 1, 'the device applied the first operation only');
  const next = await s.plane.reconcile(self, leases);
  t.match(next, { ok: true, failed: 0, programmed: 3 });
  t.same(peerKeys(s.device), [keyOf(2), keyOf(3), keyOf(4)].sort());
});

t.test('drift: a missing route, a missing address, a link set down and another MTU are repaired on the next pass', async (t) => {
  const s = await setup(t);
  await s.plane.reconcile(self, [wireguardLease(2)]);
  s.routes.list = [{ dst: '10.42.0.0/16', protocol: 'boot', scope: 'link' }];
  const dev = s.kernel.devices.get('weft-wg');
  if (dev) dev.info = { ...dev.info, addresses: ['10.42.77.0/32'], up: false, mtu: 1500 };
  const result = await s.plane.reconcile(self, [wireguardLease(2)]);
  t.match(result, { ok: true });
  t.ok(result.changes >= 4, `changes counted: ${result.changes}`);
  t.same(s.routes.list, [{ dst: '10.42.0.0/16', protocol: '87', scope: 'link' }], 'the route replaced with weft\'s');
  t.same(s.kernel.devices.get('weft-wg')?.info.addresses, ['10.42.1.0/32'], 'its address back, the stray one inside the network removed');
  t.match(s.kernel.devices.get('weft-wg')?.info, { up: true, mtu: 1420 });
});

t.test('the device deleted (wireguard-go gone with it): started again, key, port, peers, address and route all back', async (t) => {
  const s = await setup(t);
  await s.plane.reconcile(self, [wireguardLease(2), wireguardLease(3)]);
  const publicKey = s.device.publicKey;
  s.kernel.devices.delete('weft-wg');
  const result = await s.plane.reconcile(self, [wireguardLease(2), wireguardLease(3)]);
  t.match(result, { ok: true, programmed: 2 });
  t.equal(s.process.starts, 2, 'a new wireguard-go');
  t.equal(s.device.publicKey, publicKey, 'the same key (from the key file)');
  t.equal(s.device.listenPort, 51820);
  t.same(peerKeys(s.device), [keyOf(2), keyOf(3)].sort());
  t.match(s.kernel.devices.get('weft-wg')?.info, { up: true, addresses: ['10.42.1.0/32'] });
  t.same(s.routes.list.map((r) => r.dst), ['10.42.0.0/16']);
});

t.test('a device that cannot take its port: the pass fails with the reason and the next pass retries', async (t) => {
  const s = await setup(t);
  const realSet = s.device.set.bind(s.device);
  s.kernel.devices.delete('weft-wg');
  s.device.set = async (request) => {
    // EADDRINUSE as wireguard-go answers: the key line is applied, the port is not.
    const { listenPort, ...rest } = request;
    await realSet(rest);
    if (listenPort !== undefined) throw Object.assign(new Error('busy'), { errno: -98 });
  };
  const failed = await s.plane.reconcile(self, [wireguardLease(2)]);
  t.match(failed, { ok: false, error: /could not set its key and listen port 51820/ });
  s.device.set = realSet;
  t.match(await s.plane.reconcile(self, [wireguardLease(2)]), { ok: true, programmed: 1 });
});
