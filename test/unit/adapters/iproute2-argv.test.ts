import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import type { KernelOp } from '../../../src/core/kernel-state.js';
import type { Mac } from '../../../src/core/mac.js';
import type { VxlanDeviceSpec } from '../../../src/core/vxlan-device.js';
import * as argv from '../../../src/adapters/iproute2/argv.js';
import { parseBatchErrors } from '../../../src/adapters/iproute2/batch.js';

const spec: VxlanDeviceSpec = {
  name: 'weft.1', vni: 1, port: 8472, local: '192.0.2.11' as Ipv4, parent: 'eth0', mtu: 1450, mac: '0a:11:22:33:44:55' as Mac, gbp: false,
};
const mac = '0a:00:00:00:00:02' as Mac;
const fdb = { mac, dst: '192.0.2.12' as Ipv4 };
const neighbor = { ip: '10.5.2.0' as Ipv4, mac };
const route = { dst: '10.5.2.0/24' as Cidr, via: '10.5.2.0' as Ipv4 };

t.test('device commands', async (t) => {
  t.same(argv.linkAddVxlanArgv(spec), ['link', 'add', 'weft.1', 'address', '0a:11:22:33:44:55', 'mtu', '1450', 'type', 'vxlan',
    'id', '1', 'dev', 'eth0', 'local', '192.0.2.11', 'dstport', '8472', 'nolearning']);
  t.same(argv.linkAddVxlanArgv({ ...spec, gbp: true }).slice(-2), ['nolearning', 'gbp']);
  t.same(argv.linkDeleteArgv('weft.1'), ['link', 'del', 'dev', 'weft.1']);
  t.same(argv.linkSetMtuArgv('weft.1', 1400), ['link', 'set', 'dev', 'weft.1', 'mtu', '1400']);
  t.same(argv.linkSetUpArgv('weft.1'), ['link', 'set', 'dev', 'weft.1', 'up']);
  t.same(argv.addrReplaceArgv('weft.1', '10.5.1.0/32'), ['addr', 'replace', '10.5.1.0/32', 'dev', 'weft.1']);
  t.same(argv.addrDeleteArgv('weft.1', '10.5.7.0/32'), ['addr', 'del', '10.5.7.0/32', 'dev', 'weft.1']);
});

t.test('read commands are JSON and scoped to the device', async (t) => {
  t.same(argv.linkShowArgv('weft.1'), ['-j', '-d', 'addr', 'show', 'dev', 'weft.1']);
  // Neighbours and routes: one `ip -N -j -4` batch process, a line each.
  t.same(argv.entryReadArgv(), ['-N', '-j', '-4', '-batch', '-']);
  t.equal(argv.entryReadInput('weft.1'), 'neigh show dev weft.1\nroute show dev weft.1\n');
  t.equal(argv.entryReadInput('weft.1', '10.5.0.0/16'), 'neigh show dev weft.1\nroute show root 10.5.0.0/16\n');
  t.same(argv.fdbShowArgv('weft.1'), ['-j', 'fdb', 'show', 'dev', 'weft.1']);
  t.same(argv.addrShowAllArgv(), ['-j', 'addr', 'show']);
  t.same(argv.defaultRouteArgv(), ['-j', '-4', 'route', 'show', 'default']);
});

t.test('netns prefix and batch mode', async (t) => {
  t.same(argv.withNetns(undefined, ['link']), ['link']);
  t.same(argv.withNetns('wt1-h1', ['link']), ['-n', 'wt1-h1', 'link']);
  t.same(argv.batchArgv(), ['-force', '-batch', '-']);
});

t.test('batch lines: flannel-identical entries', async (t) => {
  const ops: KernelOp[] = [
    { action: 'replace', kind: 'fdb', entry: fdb }, { action: 'replace', kind: 'neighbor', entry: neighbor },
    { action: 'replace', kind: 'route', entry: route }, { action: 'delete', kind: 'route', entry: route },
    { action: 'delete', kind: 'neighbor', entry: neighbor }, { action: 'delete', kind: 'fdb', entry: fdb },
  ];
  t.same(ops.map((op) => argv.batchLine(op, 'weft.1')), [
    'fdb replace 0a:00:00:00:00:02 dev weft.1 dst 192.0.2.12 self permanent',
    'neigh replace 10.5.2.0 lladdr 0a:00:00:00:00:02 dev weft.1 nud permanent',
    'route replace 10.5.2.0/24 via 10.5.2.0 dev weft.1 onlink proto 87',
    'route del 10.5.2.0/24 via 10.5.2.0 dev weft.1 proto 87',
    'neigh del 10.5.2.0 dev weft.1',
    'fdb del 0a:00:00:00:00:02 dev weft.1 dst 192.0.2.12 self',
  ]);
  t.same(ops.map(argv.toolFor), ['bridge', 'ip', 'ip', 'ip', 'ip', 'bridge']);
  t.equal(argv.batchInput(ops.slice(1, 3), 'weft.1'),
    'neigh replace 10.5.2.0 lladdr 0a:00:00:00:00:02 dev weft.1 nud permanent\nroute replace 10.5.2.0/24 via 10.5.2.0 dev weft.1 onlink proto 87\n');
  t.equal(argv.batchInput([], 'weft.1'), '');
  t.equal(argv.batchLine({ action: 'delete', kind: 'route', entry: { ...route, legacy: true } }, 'weft.1'),
    'route del 10.5.2.0/24 via 10.5.2.0 dev weft.1', 'an unmarked route of an older weft is deleted without the protocol filter');
});

t.test('tokens that could be mis-split in a batch line are refused', async (t) => {
  for (const bad of ['', 'a b', 'x#y', '"q"', "it's", 'a\nb', '-n']) t.throws(() => argv.assertToken(bad), bad);
  t.throws(() => argv.batchLine({ action: 'replace', kind: 'route', entry: route }, 'weft 1'));
  t.throws(() => argv.withNetns('ns x', []));
  t.equal(argv.assertToken('weft.1'), 'weft.1');
});

t.test('batch stderr: failed lines with their messages', async (t) => {
  const stderr = 'Cannot find device "nosuchdev"\nCommand failed -:1\nRTNETLINK answers: No such process\nCommand failed -:2\n';
  const errors = parseBatchErrors(stderr);
  t.same([...errors.failedLines], [[1, 'Cannot find device "nosuchdev"'], [2, 'RTNETLINK answers: No such process']]);
  t.equal(errors.lastReportedLine, 2);
  t.equal(errors.trailing, '');
});

t.test('batch stderr: an ip neigh error stops the tool with no line number', async (t) => {
  const errors = parseBatchErrors('RTNETLINK answers: No such process\nCommand failed -:2\nRTNETLINK answers: No such file or directory\n');
  t.same([...errors.failedLines.keys()], [2]);
  t.equal(errors.trailing, 'RTNETLINK answers: No such file or directory');
  t.same(parseBatchErrors(''), { failedLines: new Map(), lastReportedLine: 0, trailing: '' });
  t.equal(parseBatchErrors('Command failed -:4\n').failedLines.get(4), 'failed');
});
