/**
 * 20 hosts claim subnets at the same moment from one small network, against
 * a real etcd: every round ends with 20 distinct subnets and 20 keys, each
 * naming its own holder. (flannel exits on a lost race; weft retries.)
 */
import t from 'tap';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { EtcdRegistry, etcdClientOptions } from '../../src/adapters/etcd-registry.js';
import { systemClock } from '../../src/adapters/clock.js';
import type { Ipv4 } from '../../src/core/cidr.js';
import { vtepMacFor } from '../../src/core/mac.js';
import { parseNetworkConfig } from '../../src/core/network-config.js';
import { decodeLeaseValue } from '../../src/core/lease.js';
import { acquireLease } from '../../src/daemon/acquire-lease.js';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { requirePrerequisites } from '../helpers/require.js';

if (requirePrerequisites(t, ['etcd', 'etcdctl'])) {
  let etcd: EtcdCluster;
  t.before(async () => { etcd = await startEtcd(); });
  t.teardown(async () => { await etcd?.stop(); });

  const parsed = parseNetworkConfig({ Network: '10.30.0.0/19' }); // 31 usable /24s
  if (!parsed.ok) throw new Error('bad test config');
  const config = parsed.config;
  const log = pino({ level: 'silent' });

  for (let round = 1; round <= 5; round++) {
    t.test(`round ${round}: 20 concurrent hosts`, async (t) => {
      const prefix = `/race-${round}/network`;
      const registries = Array.from({ length: 20 }, () =>
        new EtcdRegistry(new Etcd3(etcdClientOptions({ endpoints: etcd.endpoints, prefix }, {})), prefix));
      try {
        await Promise.all(registries.map((r) => r.listLeases())); // connect all clients first
        const held = await Promise.all(registries.map((registry, i) => acquireLease({
          registry, config, previous: undefined, ttlSeconds: 600, random: Math.random, clock: systemClock, log,
          signal: new AbortController().signal,
          attrs: { publicIp: `198.51.100.${i + 1}` as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: vtepMacFor(`h${i}`, 1), nodeName: `h${i}` },
        })));
        const subnets = held.map((h) => h.subnet);
        t.equal(new Set(subnets).size, 20, 'no duplicate subnet');
        const listing = await registries[0]!.listLeases();
        t.equal(listing.entries.length, 20, 'exactly 20 keys in etcd');
        for (const entry of listing.entries) {
          const value = decodeLeaseValue(entry.value);
          const owner = value.ok ? Number(value.attrs.nodeName?.slice(1)) : -1;
          t.equal(held[owner]?.subnet.replace('/', '-'), entry.key, `${entry.key} names the host that holds it`);
        }
      } finally {
        for (const r of registries) r.close();
      }
    });
  }
}
