import { rm, writeFile } from 'node:fs/promises';
import t from 'tap';
import { type Cidr } from '../../../src/core/cidr.js';
import { UsageError } from '../../../src/core/errors.js';
import { collectStatus, renderStatus, statusCommand } from '../../../src/cli/weftctl-status.js';
import { MemoryRegistry } from '../../fakes/memory-registry.js';
import { hostFixture } from '../../helpers/host-fixture.js';

const io = (): { out: string[]; err: string[]; io: { out(s: string): void; err(s: string): void } } => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s) => out.push(s), err: (s) => err.push(s) } };
};

t.test('a host as weftd leaves it: in sync, exit 0, text and JSON', async (t) => {
  const h = await hostFixture(t.testdir());
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile);
  t.match(r, { ok: true, problems: [], lease: { subnet: '10.5.1.0/24', publicIp: '192.0.2.11', reservation: false }, subnetFile: { state: 'ok' } });
  t.ok((r.lease?.ttlSeconds ?? 0) > 0);
  t.same(r.drift?.peers.map((p) => [p.subnet, p.node, p.inSync]), [['10.5.2.0/24', 'host2', true], ['10.5.3.0/24', 'host3', true]]);
  const text = renderStatus(r);
  t.match(text, /^lease {7}10\.5\.1\.0\/24, public IP 192\.0\.2\.11, VTEP MAC [0-9a-f:]{17}, TTL 1h/m);
  t.match(text, /^device {6}weft\.1 up, vxlan id 1 dstport 8472 local 192\.0\.2\.11 dev eth0, mtu 1450, mac /m);
  t.match(text, /^10\.5\.2\.0\/24 +host2 +192\.0\.2\.12 +\S+ +vxlan +ok +ok +ok$/m);
  t.match(text, /\nin sync: 2 peers$/);
  const c = io();
  t.equal(await statusCommand(h.registry, { 'node-name': 'host1', 'subnet-file': h.subnetFile, json: true }, c.io, h.kernel), 0);
  t.match(JSON.parse(c.out.join('')), { ok: true, node: 'host1', drift: { inSync: true } });
});

t.test('drift: a missing route and an unwanted entry, exit 1', async (t) => {
  const h = await hostFixture(t.testdir());
  await h.kernel.apply('weft.1', [
    { action: 'delete', kind: 'route', entry: { dst: '10.5.3.0/24' as Cidr, via: '10.5.3.0' as never } },
    { action: 'replace', kind: 'route', entry: { dst: '10.5.9.0/24' as Cidr, via: '10.5.9.0' as never } },
  ]);
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile);
  t.equal(r.ok, false);
  t.same(r.problems, ['1 of 2 peers drifted, 1 unwanted entries']);
  const text = renderStatus(r);
  t.match(text, /^10\.5\.3\.0\/24 +host3 .* missing +ok +ok$/m);
  t.match(text, 'unwanted on the device: route 10.5.9.0/24 via 10.5.9.0');
  t.match(text, 'NOT in sync:\n  - 1 of 2 peers drifted');
  t.equal(await statusCommand(h.registry, { 'node-name': 'host1', 'subnet-file': h.subnetFile }, io().io, h.kernel), 1);
});

t.test('no lease for this node, no device, no subnet.env: each named', async (t) => {
  const h = await hostFixture(t.testdir());
  t.match((await collectStatus(h.registry, h.kernel, 'host7', h.subnetFile)).problems, [/no lease in etcd names node host7/]);
  await h.kernel.deleteDevice('weft.1');
  await rm(h.subnetFile);
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile);
  t.same(r.problems, ['device weft.1 does not exist', `subnet.env ${h.subnetFile}: ${h.subnetFile} does not exist`]);
  t.equal(r.drift, null);
  t.match(renderStatus(r), /^device {6}missing$/m);
});

t.test('subnet.env for another subnet; device settings that differ from the lease', async (t) => {
  const h = await hostFixture(t.testdir());
  await writeFile(h.subnetFile, 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.8.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  const dev = h.kernel.devices.get('weft.1');
  if (dev) dev.info = { ...dev.info, up: false, mtu: 1400 };
  const r = await collectStatus(h.registry, h.kernel, 'host1', h.subnetFile);
  t.same(r.problems, ['weft.1: link is down', `subnet.env ${h.subnetFile}: says subnet 10.5.8.0/24, the lease is 10.5.1.0/24`]);
  t.match(renderStatus(r), /weft\.1 DOWN, .* — link is down/);
});

t.test('no config in etcd: a usage error, not a report', async (t) => {
  await t.rejects(collectStatus(new MemoryRegistry(), (await hostFixture(t.testdir())).kernel, 'host1', '/nonexistent'), UsageError);
});
