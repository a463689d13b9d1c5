import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError } from '../../../src/cni/errors.js';
import { makeNode, SUBNET_ENV } from './harness.js';

const V11 = { cniVersion: '1.1.0' };

t.test('STATUS: 50 while subnet.env is missing or invalid, success once it is there', async (t) => {
  const node = makeNode(t.testdir(), null);
  const env = { CNI_COMMAND: 'STATUS', CNI_PATH: '/opt/cni/bin' };
  const missing = await node.run(env, node.netconf(V11));
  t.equal(missing.code, 1);
  t.equal(missing.json?.['code'], 50);
  t.match(missing.json?.['msg'], /weftd daemon is not ready on this host: .*subnet\.env does not exist/);
  writeFileSync(node.subnetFile, 'FLANNEL_NETWORK=10.5.0.0/16\n');
  t.equal((await node.run(env, node.netconf(V11))).json?.['code'], 50);
  writeFileSync(node.subnetFile, SUBNET_ENV);
  const ready = await node.run(env, node.netconf(V11));
  t.same([ready.code, ready.stdout], [0, '']);
  t.same(node.invoker.summary(), [], 'a 1.0.0-only delegate is not asked for STATUS');
});

t.test('STATUS is passed to a 1.1.0 delegate, whose error comes back', async (t) => {
  const node = makeNode(t.testdir());
  node.invoker.supportedVersions = ['1.0.0', '1.1.0'];
  node.invoker.handlers.STATUS = () => new CniError(50, 'ipam pool exhausted');
  const out = await node.run({ CNI_COMMAND: 'STATUS', CNI_PATH: '/x' }, node.netconf(V11));
  t.same(out.json, { cniVersion: '1.1.0', code: 50, msg: 'ipam pool exhausted' });
  t.same(node.invoker.summary(), ['bridge STATUS']);
});

t.test('STATUS and GC need cniVersion 1.1.0', async (t) => {
  const node = makeNode(t.testdir());
  for (const command of ['STATUS', 'GC']) {
    const out = await node.run({ CNI_COMMAND: command, CNI_PATH: '/x' }, node.netconf({ 'cni.dev/valid-attachments': [] }));
    t.equal(out.json?.['code'], 1, command);
  }
});

t.test('SPEC GC: each stale attachment of this network is released with the delegate DEL, then its record dropped', async (t) => {
  const node = makeNode(t.testdir());
  for (const id of ['keep', 'stale1', 'stale2']) await node.cni('ADD', node.netconf(), id);
  await node.cni('ADD', node.netconf(), 'keep', { CNI_IFNAME: 'net1' });
  await node.cni('ADD', node.netconf({ name: 'othernet' }), 'other-net');
  writeFileSync(join(node.dataDir, '_attachments', 'weftnet', '.tmp-inflight-1'), 'x');
  const adds = node.invoker.calls.length;
  const out = await node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' },
    node.netconf({ ...V11, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }));
  t.same([out.code, out.stdout], [0, ''], out.stdout);
  const dels = node.invoker.calls.slice(adds).filter((c) => c.command === 'DEL');
  t.same(dels.map((c) => `${c.env['CNI_CONTAINERID']}/${c.env['CNI_IFNAME']} ${c.env['CNI_NETNS']}`).sort(),
    ['keep/net1 /run/netns/keep', 'stale1/eth0 /run/netns/stale1', 'stale2/eth0 /run/netns/stale2'], 'one DEL per stale attachment, with its own CNI_* values');
  t.ok(dels.every((c) => c.conf?.['name'] === 'weftnet' && c.conf?.['type'] === 'bridge'), 'with the saved config');
  t.same(node.records(), ['.tmp-inflight-1', 'keep:eth0']);
  t.same(node.records('othernet'), ['other-net:eth0'], 'another network\'s records are not touched');
  t.notOk(node.invoker.summary().includes('bridge GC'), 'a 1.0.0-only delegate is not asked for GC');
});

t.test('GC: a stale attachment whose DEL fails keeps its record; the others are released; GC reports the failure', async (t) => {
  const node = makeNode(t.testdir());
  for (const id of ['s1', 's2']) await node.cni('ADD', node.netconf(), id);
  node.invoker.handlers.DEL = (call) => (call.env['CNI_CONTAINERID'] === 's1' ? new CniError(999, 'iptables is locked') : '');
  const gc = (): Promise<Awaited<ReturnType<typeof node.run>>> => node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, node.netconf({ ...V11, 'cni.dev/valid-attachments': [] }));
  const out = await gc();
  t.equal(out.json?.['code'], 999);
  t.match(out.json?.['msg'], /weftnet\/s1\/eth0: iptables is locked/);
  t.same(node.records(), ['s1:eth0']);
  delete node.invoker.handlers.DEL;
  t.equal((await gc()).code, 0, 'the next GC releases it');
  t.same(node.records(), []);
});

t.test('GC is passed to a 1.1.0 delegate with the valid attachments', async (t) => {
  const node = makeNode(t.testdir());
  node.invoker.supportedVersions = ['1.0.0', '1.1.0'];
  const attachments = [{ containerID: 'a', ifname: 'eth0' }];
  const out = await node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, node.netconf({ ...V11, 'cni.dev/valid-attachments': attachments }));
  t.equal(out.code, 0);
  const gc = node.invoker.calls.at(-1);
  t.equal(gc?.command, 'GC');
  t.same(gc?.conf?.['cni.dev/valid-attachments'], attachments);
  t.equal(gc?.conf?.['cniVersion'], '1.1.0');
  node.invoker.handlers.GC = () => new CniError(5, 'cannot read ipam store');
  t.equal((await node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, node.netconf({ ...V11, 'cni.dev/valid-attachments': attachments }))).json?.['code'], 5);
});

t.test('GC without subnet.env still cleans up; without the attachment list it refuses', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf(), 'stale');
  writeFileSync(node.subnetFile, '');
  const out = await node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, node.netconf({ ...V11, 'cni.dev/valid-attachments': [] }));
  t.equal(out.code, 0);
  t.same(node.records(), []);
  t.same(node.invoker.summary(), ['bridge ADD', 'bridge DEL']);
  const refused = await node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, node.netconf(V11));
  t.equal(refused.json?.['code'], 7);
});
