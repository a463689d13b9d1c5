/**
 * weftd's /status endpoint: the daemon's state as JSON, with a wireguard
 * host's tunnels (public key, endpoint, handshake age, bytes) and never a
 * secret, even when a tunnel object handed to the status carries one.
 */
import pino from 'pino';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { SecretKey } from '../../../src/core/wireguard/keys.js';
import { startHealthServer } from '../../../src/daemon/health-server.js';
import { DaemonStatus } from '../../../src/daemon/status.js';
import { statusJson } from '../../../src/daemon/status-json.js';

const KEY = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const PSK = SecretKey.fromBytes(Buffer.alloc(32, 7));

function wireguardStatus(now: number): DaemonStatus {
  const status = new DaemonStatus();
  status.lease = { subnet: '10.42.1.0/24' as Cidr, attrs: { publicIp: '192.0.2.11' as Ipv4, backendType: 'wireguard', vni: undefined, vtepMac: undefined, nodeName: 'host1' }, leaseId: '1f', reservation: false };
  status.identity = { nodeName: 'host1', instanceId: 'i-1' };
  status.markReady();
  const tunnel = { publicKey: KEY, endpoint: '192.0.2.12:51820', allowedIps: ['10.42.2.0/24'], lastHandshakeMs: now - 30_500, rxBytes: 10, txBytes: 20 };
  // What a careless caller might hand over (a device peer as read): the PSK must not reach the JSON.
  status.recordPass({ ok: true, applied: 0, failed: 0, changes: 0, programmed: 2,
    tunnels: [{ ...tunnel, presharedKey: PSK, presharedKeyText: PSK.base64() } as typeof tunnel,
      { publicKey: 'k2', endpoint: undefined, allowedIps: [], lastHandshakeMs: undefined, rxBytes: 0, txBytes: 0 }] }, 3, now - 1000, 2);
  return status;
}

t.test('statusJson: lease, last pass, tunnels with handshake age; nothing else from a tunnel', async (t) => {
  const now = Date.parse('2026-11-27T10:00:00.000Z');
  const json = statusJson(wireguardStatus(now), now);
  t.match(json, {
    ready: true, node: 'host1', lease: { subnet: '10.42.1.0/24', publicIp: '192.0.2.11', backendType: 'wireguard', subnetV6: null },
    lastPass: { at: '2026-11-27T09:59:59.000Z', ok: true, error: null, ms: 3 }, peersProgrammed: 2, etcd: { reachable: true },
  });
  t.same(json.tunnels, [
    { publicKey: KEY, endpoint: '192.0.2.12:51820', allowedIps: ['10.42.2.0/24'], latestHandshake: '2026-11-27T09:59:29.500Z', handshakeAgeSeconds: 30, rxBytes: 10, txBytes: 20 },
    { publicKey: 'k2', endpoint: null, allowedIps: [], latestHandshake: null, handshakeAgeSeconds: null, rxBytes: 0, txBytes: 0 },
  ]);
  t.equal(statusJson(new DaemonStatus(), now).tunnels, null, 'a vxlan host (no tunnels): null');
});

t.test('GET /status serves it as JSON; the PSK is in no form in the body', async (t) => {
  const status = wireguardStatus(Date.now());
  const server = await startHealthServer({ ip: '127.0.0.1', port: 0, status, log: pino({ level: 'silent' }) });
  t.teardown(() => server.close());
  t.ok(server.port > 0, `listening on ${server.port}`);
  const res = await fetch(`http://127.0.0.1:${server.port}/status`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), 'application/json');
  const body = await res.text();
  t.match(JSON.parse(body), { ready: true, tunnels: [{ publicKey: KEY, handshakeAgeSeconds: 30 }, { publicKey: 'k2' }] });
  t.notOk(body.includes(PSK.base64()) || body.includes(PSK.hex()) || /preshared/i.test(body), 'no PSK');
  t.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200, '/healthz still served');
});
