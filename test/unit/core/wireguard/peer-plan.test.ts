import t from 'tap';
import { SecretKey, type WgPublicKey, clampPrivateKey, publicKeyOf } from '../../../../src/core/wireguard/keys.js';
import {
  type DesiredPeer, type PeerSettings, type WireguardPeerLease, desiredPeers, peersConverged, planPeers,
} from '../../../../src/core/wireguard/peer-plan.js';
import type { Endpoint, PeerState } from '../../../../src/core/wireguard/uapi-codec.js';
import { applyPeerOps } from '../../../fakes/memory-wireguard.js';
import { seededRandom } from '../../../helpers/prng.js';
import { KEY_A, KEY_B, PSK } from './vectors.js';

const psk = ((): SecretKey => { const p = SecretKey.parseBase64(PSK); if (!p.ok) throw new Error('psk'); return p.key; })();
const settings: PeerSettings = { ownPort: 51820, ownPublicKey: KEY_A.public as WgPublicKey, presharedKey: psk, persistentKeepaliveInterval: 25 };
const keyB = KEY_B.public as WgPublicKey;

function keyOf(n: number): WgPublicKey {
  return publicKeyOf(clampPrivateKey(Buffer.alloc(32, n)));
}

/** `port: 'none'`: a lease without Port (flannel before v0.26.6). */
function lease(n: number, key = keyOf(n), port: number | 'none' = 51820): WireguardPeerLease {
  return { name: `10.5.${n}.0-24`, publicIp: `192.0.2.${n}`, data: { publicKey: key, port: port === 'none' ? undefined : port }, subnets: [`10.5.${n}.0/24`] };
}

/** The device's view of a desired peer (what a correct device reports). */
function asState(peer: DesiredPeer): PeerState {
  return { ...peer, allowedIps: [...peer.allowedIps], lastHandshakeMs: undefined, rxBytes: 0, txBytes: 0 };
}

t.test('one peer per lease: endpoint ip:port ([v6]:port), allowed IPs = its subnets, PSK and keepalive', async (t) => {
  const v6: WireguardPeerLease = { name: 'v6', publicIp: 'fd00::0:12', data: { publicKey: keyOf(12), port: 51821 }, subnets: ['fd00:5:0:12::/64'] };
  const { peers, refused } = desiredPeers([lease(2, keyB), lease(3, keyOf(3), 'none'), v6], settings);
  t.same(refused, []);
  t.match(peers, [
    { publicKey: keyB, endpoint: '192.0.2.2:51820', allowedIps: ['10.5.2.0/24'], persistentKeepaliveInterval: 25 },
    { publicKey: keyOf(3), endpoint: '192.0.2.3:51820', allowedIps: ['10.5.3.0/24'] },
    { publicKey: keyOf(12), endpoint: '[fd00::12]:51821', allowedIps: ['fd00:5:0:12::/64'] },
  ]);
  t.ok(peers[0]?.presharedKey?.equals(psk));
  t.equal(desiredPeers([lease(3, keyOf(3), 'none')], { ...settings, ownPort: 4000 }).peers[0]?.endpoint, '192.0.2.3:4000', 'no Port: our port');
});

t.test('refused leases: own key, a key two leases share, bad address or subnet', async (t) => {
  const { peers, refused } = desiredPeers([
    lease(2, KEY_A.public as WgPublicKey), lease(3, keyOf(9)), lease(4, keyOf(9)), lease(5),
    { ...lease(6), publicIp: 'nope' }, { ...lease(7), subnets: ['10.5.7.0'] }, { ...lease(8), subnets: [] },
  ], settings);
  t.same(peers.map((p) => p.publicKey), [keyOf(5)]);
  t.match(refused, [
    { name: '10.5.2.0-24', reason: /this host's own key/ },
    { name: '10.5.4.0-24', reason: /also the key of 10.5.3.0-24/ },
    { name: '10.5.6.0-24', reason: /public address "nope" is not an IP address/ },
    { name: '10.5.7.0-24', reason: /are not CIDRs/ },
    { name: '10.5.8.0-24', reason: /are not CIDRs/ },
    { name: '10.5.3.0-24', reason: /shared with another lease/ },
  ]);
});

t.test('plan: add, nothing to do, update only what changed, remove stale', async (t) => {
  const desired = desiredPeers([lease(2), lease(3)], settings).peers;
  const add = planPeers(desired, []);
  t.match(add, [
    { kind: 'upsert', publicKey: keyOf(2), endpoint: '192.0.2.2:51820', persistentKeepaliveInterval: 25, replaceAllowedIps: true, allowedIps: ['10.5.2.0/24'] },
    { kind: 'upsert', publicKey: keyOf(3) },
  ].sort((a, b) => a.publicKey.localeCompare(b.publicKey)));
  t.notOk(add.some((op) => op.kind === 'upsert' && op.updateOnly), 'adds create');
  const state = desired.map(asState);
  t.same(planPeers(desired, state), []);
  t.ok(peersConverged(desired, state));

  const moved = state.map((p) => (p.publicKey === keyOf(2) ? { ...p, endpoint: '192.0.2.99:51820' as Endpoint } : p));
  t.same(planPeers(desired, moved), [{ kind: 'upsert', publicKey: keyOf(2), updateOnly: true, endpoint: '192.0.2.2:51820' }]);

  const noPsk = state.map((p) => ({ ...p, presharedKey: undefined, persistentKeepaliveInterval: 0 }));
  const ops = planPeers(desired, noPsk);
  t.equal(ops.length, 2);
  t.match(ops[0], { kind: 'upsert', updateOnly: true, persistentKeepaliveInterval: 25 });
  t.notOk('endpoint' in (ops[0] ?? {}));
  t.same(planPeers(desiredPeers([lease(2)], { ...settings, presharedKey: undefined, persistentKeepaliveInterval: 25 }).peers,
    state.filter((p) => p.publicKey === keyOf(2))), [{ kind: 'upsert', publicKey: keyOf(2), updateOnly: true, presharedKey: null }], 'PSK removed = cleared');

  const extraIp = state.map((p) => ({ ...p, allowedIps: [...p.allowedIps, '10.9.0.0/16'] }));
  const replaced = planPeers(desired, extraIp);
  t.same(replaced.map((op) => op.kind === 'upsert' && op.replaceAllowedIps ? op.allowedIps?.join() : '?').sort(), ['10.5.2.0/24', '10.5.3.0/24']);
  t.same(planPeers(desired, [...state].reverse().map((p) => ({ ...p, allowedIps: [...p.allowedIps].reverse() }))), [], 'order does not matter');
});

t.test('a host that changed its key: the old entry is removed, not left with no allowed IPs (flannel #2073, k3s#5216)', async (t) => {
  const before = desiredPeers([lease(2), lease(3)], settings).peers;
  const after = desiredPeers([lease(2), lease(3, keyOf(33))], settings).peers;
  const ops = planPeers(after, before.map(asState));
  t.same(ops.map((op) => `${op.kind} ${op.publicKey === keyOf(3) ? 'old' : op.publicKey === keyOf(33) ? 'new' : '?'}`), ['remove old', 'upsert new']);
  const result = applyPeerOps(before.map(asState), ops);
  t.same(result.map((p) => p.publicKey).sort(), [keyOf(2), keyOf(33)].sort());
  t.ok(peersConverged(after, result));
});

/** Random desired sets and random device states; applying the plan with WireGuard's semantics gives the desired state. */
t.test('property: plan applied to any read state yields the desired state', async (t) => {
  const random = seededRandom(20261128);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const endpoints = ['192.0.2.1:51820', '192.0.2.2:51820', '[fd00::1]:51821'] as Endpoint[];
  const subnets = Array.from({ length: 12 }, (_, i) => `10.5.${i}.0/24`);
  const keys = Array.from({ length: 10 }, (_, i) => keyOf(100 + i));
  let cases = 0;
  for (let round = 0; round < 400; round++) {
    const desiredLeases: WireguardPeerLease[] = [];
    const freeSubnets = [...subnets];
    for (const key of keys) {
      if (random() < 0.5 || freeSubnets.length === 0) continue;
      const subnet = freeSubnets.splice(Math.floor(random() * freeSubnets.length), 1)[0] as string;
      desiredLeases.push({ name: key, publicIp: pick(['192.0.2.1', '192.0.2.2', 'fd00::1']), data: { publicKey: key, port: pick([51820, 51821, undefined]) }, subnets: [subnet] });
    }
    const peerSettings = { ...settings, presharedKey: random() < 0.5 ? psk : undefined, persistentKeepaliveInterval: pick([0, 25]) };
    const desired = desiredPeers(desiredLeases, peerSettings).peers;
    // A device state: any keys, overlapping-free allowed IPs (WireGuard keeps each CIDR on one peer), random fields.
    const owned = new Set<string>();
    const actual: PeerState[] = keys.filter(() => random() < 0.5).map((key) => ({
      publicKey: key, endpoint: random() < 0.2 ? undefined : pick(endpoints), persistentKeepaliveInterval: pick([0, 25, 10]),
      presharedKey: random() < 0.5 ? psk : undefined,
      allowedIps: subnets.filter((s) => random() < 0.2 && !owned.has(s) && owned.add(s) !== undefined),
      lastHandshakeMs: undefined, rxBytes: 0, txBytes: 0,
    }));
    const ops = planPeers(desired, actual);
    const result = applyPeerOps(actual, ops);
    if (!peersConverged(desired, result)) {
      t.fail(`round ${round}: not converged`, { ops, desired: desired.map(asState), result });
      break;
    }
    const untouched = actual.filter((p) => !ops.some((op) => op.publicKey === p.publicKey)).map((p) => p.publicKey);
    for (const key of untouched) t.ok(desired.some((d) => d.publicKey === key), 'only desired peers are left alone');
    t.ok(ops.length <= actual.length + desired.length, 'at most one operation per key');
    cases++;
  }
  t.equal(cases, 400);
});
