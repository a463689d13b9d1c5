import t from 'tap';
import { parseMac, vtepMacFor } from '../../../src/core/mac.js';

const firstOctet = (mac: string): number => parseInt(mac.slice(0, 2), 16);

t.test('parseMac', async (t) => {
  const table: [string, string | undefined][] = [
    ['c6:d2:32:6f:8f:44', 'c6:d2:32:6f:8f:44'],
    ['C6:D2:32:6F:8F:44', 'c6:d2:32:6f:8f:44'],
    ['02:00:00:00:00:01', '02:00:00:00:00:01'],
    ['01:00:5e:00:00:01', undefined], // IPv4 multicast
    ['33:33:00:00:00:01', undefined], // IPv6 multicast
    ['ff:ff:ff:ff:ff:ff', undefined], // broadcast
    ['00:00:00:00:00:00', undefined],
    ['c6-d2-32-6f-8f-44', undefined],
    ['c6d2.326f.8f44', undefined],
    ['c6:d2:32:6f:8f', undefined],
    ['c6:d2:32:6f:8f:44:00', undefined],
    ['g6:d2:32:6f:8f:44', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of table) t.equal(parseMac(text), expected, JSON.stringify(text));
});

t.test('vtepMacFor is stable, distinct per node and VNI, unicast and locally administered', async (t) => {
  const nodes = ['n1', 'n2', 'worker-1.example.com', 'worker-2.example.com', ''];
  const seen = new Set<string>();
  for (const node of nodes) {
    for (const vni of [1, 2, 4096]) {
      const mac = vtepMacFor(node, vni);
      t.equal(vtepMacFor(node, vni), mac, `stable for ${node}/${vni}`);
      t.equal(parseMac(mac), mac, `${mac} is a canonical unicast MAC`);
      t.equal(firstOctet(mac) & 0x01, 0, `${mac} multicast bit clear`);
      t.equal(firstOctet(mac) & 0x02, 0x02, `${mac} locally administered bit set`);
      seen.add(mac);
    }
  }
  t.equal(seen.size, nodes.length * 3, 'every node/VNI pair gets its own MAC');
  t.not(vtepMacFor('n1', 1), vtepMacFor('n11', 1));
  t.not(vtepMacFor('n1', 11), vtepMacFor('n11', 1), 'name and VNI are separated, not concatenated');
});

t.test('the IPv6 device has its own stable MAC; the IPv4 one is unchanged', async (t) => {
  t.equal(vtepMacFor('n1', 1), vtepMacFor('n1', 1, 4), 'family 4 is the default');
  t.equal(vtepMacFor('host1', 7), 'be:b2:92:c1:f1:0d', 'the IPv4 MAC weft always derived (a changed derivation would churn every peer)');
  const v6 = vtepMacFor('n1', 1, 6);
  t.equal(vtepMacFor('n1', 1, 6), v6, 'stable');
  t.not(v6, vtepMacFor('n1', 1), 'differs from the IPv4 device');
  t.equal(parseMac(v6), v6);
  t.equal(firstOctet(v6) & 0x03, 0x02, 'unicast, locally administered');
  t.not(vtepMacFor('n2', 1, 6), v6, 'distinct per node');
});
