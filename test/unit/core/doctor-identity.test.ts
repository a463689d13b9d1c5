import t from 'tap';
import type { Ipv4 } from '../../../src/core/cidr.js';
import { checkNodeName } from '../../../src/core/doctor-identity.js';
import { encodePresence } from '../../../src/core/node-presence.js';

const held = (instanceId: string) => ({ value: encodePresence({ instanceId, publicIp: '198.51.100.5' as Ipv4, startedAt: 'T0' }), leaseId: '9', modRevision: '3' });

t.test('ours, nobody\'s, another host\'s', async (t) => {
  t.match(checkNodeName('h1', held('mine'), 'mine'), { verdict: 'ok', detail: /held by this host's weftd \(public IP 198\.51\.100\.5/ });
  t.match(checkNodeName('h1', undefined, 'mine'), { verdict: 'warn', detail: /no running weftd holds node name "h1"/ });
  const conflict = checkNodeName('h1', held('clone'), 'mine');
  t.match(conflict, { verdict: 'FAIL', detail: /node name "h1" is already in use by another running host \(public IP 198\.51\.100\.5/, fix: /unique --node-name/ });
  t.notMatch(conflict.detail, /Fix:/, 'the fix is in its own field');
  t.match(checkNodeName('h1', { value: 'junk', leaseId: '0', modRevision: '1' }, 'mine'), { verdict: 'FAIL' });
});
