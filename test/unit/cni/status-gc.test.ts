import t from 'tap';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
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

t.test('GC removes saved configs of containers not listed, only for this network', async (t) => {
  const node = makeNode(t.testdir());
  for (const id of ['keep', 'stale1', 'stale2']) await node.cni('ADD', node.netconf(), id);
  await node.cni('ADD', node.netconf({ name: 'othernet' }), 'other-net');
  writeFileSync(join(node.dataDir, 'not-json'), 'x');
  writeFileSync(join(node.dataDir, '.tmp-inflight-1'), 'x');
  const out = await node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' },
    node.netconf({ ...V11, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }));
  t.same([out.code, out.stdout], [0, '']);
  t.same(readdirSync(node.dataDir).sort(), ['.tmp-inflight-1', 'keep', 'not-json', 'other-net']);
  t.notOk(node.invoker.summary().includes('bridge GC'), 'a 1.0.0-only delegate is not asked for GC');
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
  t.notOk(existsSync(join(node.dataDir, 'stale')));
  const refused = await node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' }, node.netconf(V11));
  t.equal(refused.json?.['code'], 7);
});
