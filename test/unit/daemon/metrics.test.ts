import t from 'tap';
import { createMetrics } from '../../../src/daemon/metrics.js';
import { DaemonStatus } from '../../../src/daemon/status.js';
import { metric } from '../../helpers/metrics.js';


t.test('lease verdicts, identity and programmed peers are exported as the status holds them', async (t) => {
  const status = new DaemonStatus();
  const registry = createMetrics(status, () => 0);
  let text = await registry.metrics();
  t.equal(metric(text, 'weft_leases_refused{reason="public-ip"}'), 0, 'every reason is exported, 0 when none');
  t.equal(metric(text, 'weft_node_name_conflict'), 0);
  t.equal(metric(text, 'weft_peers_programmed'), 0);
  status.leasesRefused = new Map([['public-ip', 3], ['subnet-length', 1]]);
  status.routeCollisions = 2;
  status.leasesPending = 1;
  status.peersKnown = 7;
  status.peersProgrammed = 5;
  status.identityConflict = 'node name host1 is held by another weftd at 192.0.2.99';
  status.ownLeaseCorrections = 4;
  text = await registry.metrics();
  t.equal(metric(text, 'weft_leases_refused{reason="public-ip"}'), 3);
  t.equal(metric(text, 'weft_leases_refused{reason="subnet-length"}'), 1);
  t.equal(metric(text, 'weft_leases_refused{reason="route-collision"}'), 2);
  t.equal(metric(text, 'weft_leases_pending'), 1);
  t.equal(metric(text, 'weft_peers_known'), 7);
  t.equal(metric(text, 'weft_peers_programmed'), 5);
  t.equal(metric(text, 'weft_node_name_conflict'), 1);
  t.equal(metric(text, 'weft_own_lease_corrections_total'), 4);
});
