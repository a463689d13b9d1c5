/** weftctl status shows the underlay interface the device sits on, and says when the lease's public IP is not on it. */
import t from 'tap';
import type { Ipv4 } from '../../../src/core/cidr.js';
import { collectStatus, renderStatus } from '../../../src/cli/weftctl-status.js';
import { hostFixture } from '../../helpers/host-fixture.js';

const eth0 = (addresses: readonly string[]) =>
  ({ name: 'eth0', index: 2, mtu: 1500, addresses: addresses.map((ip) => ({ ip: ip as Ipv4, prefixLength: 24, scope: 'global' })) });

t.test('in sync: the underlay line names the interface and its address', async (t) => {
  const h = await hostFixture(t.testdir());
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile);
  t.same(r.underlay, { iface: 'eth0', addresses: ['192.0.2.11'] });
  t.equal(r.ok, true);
  t.match(renderStatus(r), /^underlay {4}eth0: 192\.0\.2\.11$/m);
});

t.test('the lease\'s public IP gone from the interface is a problem that says what weftd does', async (t) => {
  const h = await hostFixture(t.testdir());
  h.kernel.interfaces = [eth0(['192.0.2.42'])];
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile);
  t.equal(r.ok, false);
  t.match(r.problems, [/the lease's public IP 192\.0\.2\.11 is not on eth0 \(it has 192\.0\.2\.42\): weftd follows a new address/]);
  t.match(renderStatus(r), /^underlay {4}eth0: 192\.0\.2\.42$/m);
});

t.test('the interface missing', async (t) => {
  const h = await hostFixture(t.testdir());
  h.kernel.interfaces = [];
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile);
  t.same(r.underlay, { iface: 'eth0', addresses: null });
  t.match(r.problems, [/the underlay interface eth0 is missing or has no IPv4 address: weftd waits for it/]);
  t.match(renderStatus(r), /^underlay {4}eth0: missing \(or no IPv4 address\)$/m);
});
