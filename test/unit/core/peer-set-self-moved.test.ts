/** This host's address moved (underlay change): the peer set judges its keys again against the new one. */
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { encodeLeaseValue } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../src/core/network-config.js';
import { PeerSet, type RawLeaseKv } from '../../../src/core/peer-set.js';

const parsed = parseNetworkConfig({ Network: '10.5.0.0/16' });
if (!parsed.ok) throw new Error('bad test config');
const kv = (key: string, publicIp: string, mac: string): RawLeaseKv =>
  ({ key, reservation: false, value: encodeLeaseValue({ publicIp: publicIp as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: mac as Mac, nodeName: key }) });
const self = { subnet: '10.5.1.0/24' as Cidr, publicIp: '192.0.2.12' as Ipv4, vtepMac: '02:00:00:00:00:01' as Mac };

t.test('the address this host left, taken by another host, is accepted after the move; one on the new address is refused, keeping what is programmed', async (t) => {
  const set = new PeerSet(parsed.config, self);
  set.reset([kv('10.5.2.0-24', '192.0.2.12', '02:00:00:00:00:02'), kv('10.5.3.0-24', '192.0.2.42', '02:00:00:00:00:03')]);
  t.same(set.values().map((p) => p.subnet), ['10.5.3.0/24']);
  t.match([...set.problems()], [['10.5.2.0-24', /public IP 192\.0\.2\.12 is this host's own address/]]);
  set.takeChanged();
  const version = set.version;
  const update = set.updateSelf({ publicIp: '192.0.2.42' as Ipv4 });
  t.equal(update.changed, true);
  t.ok(set.version > version);
  t.same(set.values().map((p) => p.subnet).sort(), ['10.5.2.0/24', '10.5.3.0/24'],
    'the host now at the old address is a peer; the one refused now keeps its last good value (the acceptance rule: a refusal never removes a peer)');
  t.same([...set.takeChanged()], ['10.5.2.0/24'], 'the new peer is planned by the next event pass');
  t.match([...set.problems()], [['10.5.3.0-24', /public IP 192\.0\.2\.42 is this host's own address/]], 'and the other key is reported');
  t.equal(set.updateSelf({ publicIp: '192.0.2.42' as Ipv4 }).changed, false, 'the same address again changes nothing');
});
