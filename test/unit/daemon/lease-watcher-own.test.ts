/** The watcher's check of our own key once it knows our full value: drift is reported, another node name is a loss. */
import { pino } from 'pino';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { type LeaseAttrs, encodeLeaseValue } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../src/core/network-config.js';
import { PeerSet } from '../../../src/core/peer-set.js';
import type { RegistryEntry } from '../../../src/adapters/registry.js';
import { LeaseWatcher } from '../../../src/daemon/lease-watcher.js';
import { ManualClock, settle } from '../../fakes/manual-clock.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';

const log = pino({ level: 'silent' });
const parsed = parseNetworkConfig({ Network: '10.5.0.0/16' });
if (!parsed.ok) throw new Error('bad test config');
const ours: LeaseAttrs = { publicIp: '198.51.100.1' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:00:01' as Mac, nodeName: 'me' };
const KEY = '10.5.7.0-24';

function start() {
  const clock = new ManualClock();
  const registry = new MemoryRegistry({ clock });
  registry.putRaw(KEY, encodeLeaseValue(ours), registry.grant(3600));
  const drifts: { entry: RegistryEntry; reason: string }[] = [];
  const lost: string[] = [];
  const events: string[] = [];
  const watcher = new LeaseWatcher({
    registry, peers: new PeerSet(parsed.ok ? parsed.config : ({} as never)), clock, log, random: () => 0,
    onChange: () => undefined, onLost: (r) => lost.push(r), onReserved: () => events.push('reserved'),
    onOwnDrift: (entry, reason) => { drifts.push({ entry, reason }); events.push('drift'); },
  });
  watcher.watchOwn({ subnet: '10.5.7.0/24' as Cidr }, { nodeName: 'me', publicIp: ours.publicIp }, false, ours);
  const ac = new AbortController();
  const running = watcher.run(ac.signal);
  return { registry, drifts, lost, events, watcher, stop: async () => { ac.abort(); await running; } };
}

t.test('our value rewritten with our name and another address is reported as drift, with the entry', async (t) => {
  const w = start();
  await w.watcher.ready;
  t.same(w.drifts, [], 'our own value is not drift');
  w.registry.putRaw(KEY, encodeLeaseValue({ ...ours, publicIp: '198.51.100.9' as Ipv4 }));
  await settle();
  t.equal(w.drifts.length, 1);
  t.equal(w.drifts[0]?.reason, 'PublicIP 198.51.100.9 (ours 198.51.100.1)');
  t.equal(w.drifts[0]?.entry.modRevision, String(w.registry.revision), 'the revision to compare-and-swap on');
  t.same(w.lost, []);
  await w.stop();
});

t.test('another node name in our key is a lost lease', async (t) => {
  const w = start();
  await w.watcher.ready;
  w.registry.putRaw(KEY, encodeLeaseValue({ ...ours, nodeName: 'intruder', publicIp: '198.51.100.9' as Ipv4 }));
  await settle();
  t.match(w.lost, [/taken over by node intruder with public IP 198\.51\.100\.9/]);
  t.same(w.drifts, []);
  await w.stop();
});

t.test('our value rewritten without an etcd lease: first a reservation, then the drift (so the write-back keeps it one)', async (t) => {
  const w = start();
  await w.watcher.ready;
  w.registry.putRaw(KEY, encodeLeaseValue({ ...ours, publicIp: '198.51.100.9' as Ipv4 }), '0');
  await settle();
  t.same(w.events, ['reserved', 'drift']);
  await w.stop();
});
