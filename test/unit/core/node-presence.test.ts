import t from 'tap';
import type { Ipv4 } from '../../../src/core/cidr.js';
import { decidePresence, decodePresence, describeNameConflict, encodePresence } from '../../../src/core/node-presence.js';

const me = { instanceId: 'aaaa1111', publicIp: '198.51.100.1' as Ipv4, startedAt: '2026-11-27T10:00:00.000Z' };
const other = { instanceId: 'bbbb2222', publicIp: '198.51.100.2' as Ipv4, startedAt: '2026-11-27T09:00:00.000Z' };
const entry = (value: string) => ({ value, leaseId: '77', modRevision: '12' });

t.test('codec round-trips and explains bad values', async (t) => {
  t.equal(encodePresence(me), '{"InstanceID":"aaaa1111","PublicIP":"198.51.100.1","StartedAt":"2026-11-27T10:00:00.000Z"}');
  t.same(decodePresence(encodePresence(me)), { ok: true, presence: me });
  t.same(decodePresence('nope'), { ok: false, reason: 'value is not JSON' });
  t.same(decodePresence('[]'), { ok: false, reason: 'value is not a JSON object' });
  t.same(decodePresence('{"PublicIP":"198.51.100.1"}'), { ok: false, reason: 'InstanceID is not a non-empty string' });
  t.same(decodePresence('{"InstanceID":"x","PublicIP":"300.1.1.1"}'), { ok: false, reason: 'PublicIP "300.1.1.1" is not an IPv4 address' });
  t.same(decodePresence('{"InstanceID":"x","PublicIP":"198.51.100.9"}'), { ok: true, presence: { instanceId: 'x', publicIp: '198.51.100.9', startedAt: '' } });
});

t.test('claim when absent, take over our own instance, wait for another', async (t) => {
  t.same(decidePresence(undefined, me.instanceId), { kind: 'claim' });
  t.same(decidePresence(entry(encodePresence(me)), me.instanceId), { kind: 'take-over', entry: entry(encodePresence(me)) });
  t.same(decidePresence(entry(encodePresence(other)), me.instanceId), { kind: 'held', holder: other, entry: entry(encodePresence(other)) });
  t.same(decidePresence(entry('garbage'), me.instanceId), { kind: 'held', holder: undefined, entry: entry('garbage') }, 'an unreadable key is never taken');
});

t.test('the conflict message names the name, the other host and the fix', async (t) => {
  const msg = describeNameConflict('web1', other);
  t.match(msg, /node name "web1" is already in use by another running host \(public IP 198\.51\.100\.2, weftd started 2026-11-27T09:00:00\.000Z, instance bbbb2222\)/);
  t.match(msg, /unique --node-name \(or WEFTD_NODE_NAME\)/);
  t.match(describeNameConflict('web1', undefined), /a presence key whose value weft cannot read/);
});
