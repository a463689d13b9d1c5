/**
 * After an underlay change our lease's true value changes: the guard writes
 * it in place (same key, same etcd lease, compare-and-swap), and the watcher,
 * told first, takes our own write for ours, not for a drift or a takeover.
 */
import { pino } from 'pino';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { type LeaseAttrs, encodeLeaseValue, encodeSubnetKey } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../src/core/network-config.js';
import { PeerSet } from '../../../src/core/peer-set.js';
import { LeaseWatcher } from '../../../src/daemon/lease-watcher.js';
import { OwnLeaseGuard } from '../../../src/daemon/own-lease-guard.js';
import { ManualClock, settle } from '../../fakes/manual-clock.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const log = pino({ level: 'silent' });
const subnet = '10.5.7.0/24' as Cidr;
const key = encodeSubnetKey({ subnet });
const ours: LeaseAttrs = { publicIp: '198.51.100.1' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:00:01' as Mac, nodeName: 'me' };
const moved: LeaseAttrs = { ...ours, publicIp: '198.51.100.42' as Ipv4 };
const parsed = parseNetworkConfig({ Network: '10.5.0.0/16' });
if (!parsed.ok) throw new Error('bad test config');

function setup() {
  const clock = new ManualClock();
  const registry = new MemoryRegistry({ clock });
  const leaseId = registry.grant(3600);
  registry.putRaw(key, encodeLeaseValue(ours), leaseId);
  const lost: string[] = [];
  const drifts: string[] = [];
  let corrected = 0;
  const ac = new AbortController();
  const guard = new OwnLeaseGuard({
    registry, subnets: { subnet }, attrs: ours, leaseId: () => leaseId, clock, random: () => 0, log, onLost: (r) => lost.push(r),
    identityConflict: () => undefined, onCorrected: () => { corrected++; },
  }, ac.signal);
  const watcher = new LeaseWatcher({
    registry, peers: new PeerSet(parsed.ok ? parsed.config : ({} as never)), clock, log, random: () => 0,
    onChange: () => undefined, onLost: (r) => lost.push(r),
    onOwnDrift: (entry, reason) => { drifts.push(reason); guard.drifted(entry, reason); },
  });
  watcher.watchOwn({ subnet }, { nodeName: 'me', publicIp: ours.publicIp }, false, ours);
  const running = watcher.run(ac.signal);
  return { clock, registry, leaseId, lost, drifts, guard, watcher, corrected: () => corrected,
    stop: async () => { ac.abort(); await running; await guard.idle(); } };
}

t.test('the new value is written in place on the same etcd lease, and is not taken for drift', async (t) => {
  const s = setup();
  await s.watcher.ready;
  const before = s.registry.entry(key);
  s.watcher.updateOwn({ nodeName: 'me', publicIp: moved.publicIp }, moved);
  await s.guard.advertise(moved);
  await settle();
  const after = s.registry.entry(key);
  t.equal(after?.value, encodeLeaseValue(moved), 'the new PublicIP, in the one lease codec');
  t.equal(after?.leaseId, s.leaseId, 'same etcd lease: same TTL, renewed by the same keeper');
  t.equal(after?.createRevision, before?.createRevision, 'same key, not re-created');
  t.same(s.drifts, [], 'our own write is ours');
  t.same(s.lost, [], 'not a takeover');
  t.equal(s.corrected(), 0, 'not counted as a correction');
  t.equal(s.guard.attrs, moved);
  await s.stop();
});

t.test('from then on the old value is the drift, written back to the new one', async (t) => {
  const s = setup();
  await s.watcher.ready;
  s.watcher.updateOwn({ nodeName: 'me', publicIp: moved.publicIp }, moved);
  await s.guard.advertise(moved);
  s.registry.putRaw(key, encodeLeaseValue(ours), s.leaseId); // something writes the old address again
  await settle();
  await s.guard.idle();
  t.equal(s.drifts.length, 1);
  t.equal(s.registry.entry(key)?.value, encodeLeaseValue(moved));
  t.equal(s.corrected(), 1);
  await s.stop();
});

t.test('etcd unreachable: the update is retried until it lands', async (t) => {
  const s = setup();
  await s.watcher.ready;
  s.registry.setAvailable(false);
  const done = s.guard.advertise(moved);
  await settle();
  t.equal(s.registry.entry(key)?.value, encodeLeaseValue(ours), 'not written yet');
  s.registry.setAvailable(true);
  for (let i = 0; i < 20 && s.registry.entry(key)?.value !== encodeLeaseValue(moved); i++) {
    await s.clock.advance(5000);
    await settle();
  }
  await done;
  t.equal(s.registry.entry(key)?.value, encodeLeaseValue(moved));
  t.equal(s.registry.entry(key)?.leaseId, s.leaseId);
  await s.stop();
});

t.test('two moves in a row: the newest value is the one left', async (t) => {
  const s = setup();
  await s.watcher.ready;
  const again: LeaseAttrs = { ...ours, publicIp: '198.51.100.77' as Ipv4 };
  const first = s.guard.advertise(moved);
  const second = s.guard.advertise(again);
  await Promise.all([first, second]);
  t.equal(s.registry.entry(key)?.value, encodeLeaseValue(again));
  await s.stop();
});
