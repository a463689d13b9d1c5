import t from 'tap';
import type { Ipv4 } from '../../../src/core/cidr.js';
import { type LeaseAttrs, encodeLeaseValue } from '../../../src/core/lease.js';
import type { Mac } from '../../../src/core/mac.js';
import { classifyOwnValue } from '../../../src/core/own-lease.js';

const ours: LeaseAttrs = { publicIp: '198.51.100.1' as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:00:01' as Mac, nodeName: 'me' };
const value = (attrs: Partial<LeaseAttrs>) => encodeLeaseValue({ ...ours, ...attrs });

t.test('our own value, and the same value written differently, are ours', async (t) => {
  t.same(classifyOwnValue(value({}), ours), { kind: 'ours' });
  t.same(classifyOwnValue(JSON.stringify({ NodeName: 'me', BackendData: { VtepMAC: '02:00:00:00:00:01', VNI: 1 }, BackendType: 'vxlan', PublicIP: '198.51.100.1', Extra: 1 }), ours), { kind: 'ours' });
});

t.test('same node name with other attributes drifted, and says what differs', async (t) => {
  t.same(classifyOwnValue(value({ publicIp: '198.51.100.9' as Ipv4 }), ours), { kind: 'drifted', reason: 'PublicIP 198.51.100.9 (ours 198.51.100.1)' });
  t.same(classifyOwnValue(value({ vtepMac: '02:00:00:00:00:99' as Mac, vni: 7 }), ours), { kind: 'drifted', reason: 'VNI 7 (ours 1), VtepMAC 02:00:00:00:00:99 (ours 02:00:00:00:00:01)' });
  t.match(classifyOwnValue('{"NodeName":"me"', ours), { kind: 'drifted', reason: /^unreadable value: value is not JSON/ });
});

t.test('another node name, or a flannel value with another address, took the key', async (t) => {
  t.same(classifyOwnValue(value({ nodeName: 'intruder', publicIp: '198.51.100.9' as Ipv4 }), ours), { kind: 'taken', by: 'intruder', publicIp: '198.51.100.9' });
  t.same(classifyOwnValue(value({ nodeName: undefined, publicIp: '198.51.100.9' as Ipv4 }), ours), { kind: 'taken', by: '(flannel)', publicIp: '198.51.100.9' });
  t.same(classifyOwnValue(value({ nodeName: undefined }), ours), { kind: 'drifted', reason: 'NodeName undefined (ours me)' }, 'a flannel-style value with our address is ours, re-written');
});
