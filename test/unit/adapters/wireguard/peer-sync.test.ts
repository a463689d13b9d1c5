import t from 'tap';
import { ensureDeviceSettings, syncPeers } from '../../../../src/adapters/wireguard/peer-sync.js';
import { SecretKey, type WgPublicKey, clampPrivateKey, publicKeyOf } from '../../../../src/core/wireguard/keys.js';
import { desiredPeers } from '../../../../src/core/wireguard/peer-plan.js';
import { WireguardControlError } from '../../../../src/core/wireguard/errors.js';
import { MemoryWireguard } from '../../../fakes/memory-wireguard.js';

const keyOf = (n: number): WgPublicKey => publicKeyOf(clampPrivateKey(Buffer.alloc(32, n)));
const settings = { ownPort: 51820, ownPublicKey: undefined, presharedKey: undefined, persistentKeepaliveInterval: 0 };
const lease = (n: number) => ({ name: `h${n}`, publicIp: `192.0.2.${n}`, data: { publicKey: keyOf(n), port: 51820 }, subnets: [`10.5.${n}.0/24`] });

t.test('sync: send the plan, judge by the read-back', async (t) => {
  const device = new MemoryWireguard();
  const desired = desiredPeers([lease(2), lease(3), lease(4)], settings).peers;
  const first = await syncPeers(device, desired);
  t.equal(first.sent.length, 3);
  t.same(first.remaining, []);
  t.equal(first.setError, undefined);
  const second = await syncPeers(device, desired);
  t.same(second.sent, []);
  t.equal(device.requests.length, 1, 'nothing sent when converged');
});

t.test('a set that stops halfway: reported, the rest planned from the read-back, done next pass', async (t) => {
  const device = new MemoryWireguard();
  const desired = desiredPeers([lease(2), lease(3), lease(4)], settings).peers;
  device.failAfterOps = 1;
  const half = await syncPeers(device, desired);
  t.ok(half.setError instanceof WireguardControlError);
  t.equal(half.setError?.errno, -22);
  t.equal(half.state.peers.length, 1);
  t.equal(half.remaining.length, 2, 'two peers still to add');
  const next = await syncPeers(device, desired);
  t.equal(next.sent.length, 2);
  t.same(next.remaining, []);
});

t.test('a device that cannot be read is thrown, not hidden', async (t) => {
  const device = new MemoryWireguard();
  device.get = async () => { throw new WireguardControlError('gone', { device: 'weft-wg', socketPath: 'x', operation: 'get' }); };
  await t.rejects(syncPeers(device, []), { message: 'gone' });
});

t.test('device settings: key and port set when they differ, then left alone', async (t) => {
  const device = new MemoryWireguard();
  const key = SecretKey.fromBytes(Buffer.alloc(32, 9));
  t.equal(await ensureDeviceSettings(device, { privateKey: key, listenPort: 51820 }), true);
  t.equal(device.publicKey, publicKeyOf(key));
  t.equal(await ensureDeviceSettings(device, { privateKey: key, listenPort: 51820 }), false);
  t.equal(await ensureDeviceSettings(device, { privateKey: key, listenPort: 4000 }), true);
  t.same(device.requests.at(-1), { listenPort: 4000 }, 'only the port');
  const busy = new MemoryWireguard();
  busy.set = async (request) => {
    if (request.privateKey) busy.publicKey = publicKeyOf(request.privateKey);
    throw new WireguardControlError('set on weft-wg failed: errno=-98 (EADDRINUSE)', { device: 'weft-wg', socketPath: 's', operation: 'set', errno: -98 });
  };
  await t.rejects(ensureDeviceSettings(busy, { privateKey: key, listenPort: 51820 }), { errno: -98, message: /could not set its key and listen port 51820: .*EADDRINUSE/ });
});
