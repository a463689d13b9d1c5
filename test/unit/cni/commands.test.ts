import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError } from '../../../src/cni/errors.js';
import { makeNode } from './harness.js';

t.test('ADD saves the delegate config (0600) before running it and prints its result unchanged', async (t) => {
  const node = makeNode(t.testdir());
  let savedDuringAdd = '';
  node.invoker.handlers.ADD = (call) => {
    savedDuringAdd = readFileSync(join(node.dataDir, 'c1'), 'utf8');
    return `{"cniVersion":"1.0.0","ips":[{"address":"10.5.34.2/24"}], "odd spacing kept": true}`;
  };
  const out = await node.cni('ADD', node.netconf({ delegate: { hairpinMode: true } }));
  t.equal(out.code, 0);
  t.equal(out.stdout, '{"cniVersion":"1.0.0","ips":[{"address":"10.5.34.2/24"}], "odd spacing kept": true}', 'byte for byte');
  t.same(node.invoker.summary(), ['bridge ADD']);
  const sent = node.invoker.calls[0]?.stdin ?? '';
  t.equal(savedDuringAdd, sent, 'the file holds exactly what the delegate got');
  t.equal(sent, '{"cniVersion":"1.0.0","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.5.34.0/24"}]],'
    + '"routes":[{"dst":"10.5.0.0/16","gw":"10.5.34.1"}],"type":"host-local"},"isGateway":true,"mtu":1450,"name":"weftnet","type":"bridge"}');
  t.equal(statSync(join(node.dataDir, 'c1')).mode & 0o777, 0o600);
  t.equal(statSync(node.dataDir).mode & 0o777, 0o700);
  t.same(readdirSync(node.dataDir), ['c1'], 'no temp file left');
});

t.test('a failed delegate ADD passes its error through and leaves no saved config', async (t) => {
  const node = makeNode(t.testdir());
  node.invoker.handlers.ADD = () => new CniError(7, 'failed to set bridge addr', { details: 'from bridge' });
  const out = await node.cni('ADD', node.netconf());
  t.equal(out.code, 1);
  t.same(out.json, { cniVersion: '1.0.0', code: 7, msg: 'failed to set bridge addr', details: 'from bridge' });
  t.same(readdirSync(node.dataDir), []);
});

t.test('a failed repeated ADD keeps the config of the earlier successful ADD, so DEL still cleans up', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  const first = readFileSync(join(node.dataDir, 'c1'), 'utf8');
  node.invoker.handlers.ADD = () => new CniError(999, 'container veth name provided (eth0) already exists');
  const retry = await node.cni('ADD', node.netconf({ delegate: { hairpinMode: true } }));
  t.equal(retry.json?.['code'], 999);
  t.equal(readFileSync(join(node.dataDir, 'c1'), 'utf8'), first);
  t.equal((await node.cni('DEL', node.netconf())).code, 0);
  t.equal(node.invoker.calls.at(-1)?.stdin, first, 'DEL replays the first ADD');
});

t.test('missing or invalid subnet.env: ADD says 11 and where the file was expected; nothing saved or run', async (t) => {
  for (const [label, text] of [['missing', null], ['empty', ''], ['no MTU', 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_IPMASQ=true\n']] as const) {
    const node = makeNode(t.testdir(), text);
    const out = await node.cni('ADD', node.netconf());
    t.equal(out.json?.['code'], 11, label);
    t.match(out.json?.['msg'], /weftd daemon is not ready on this host/, label);
    t.ok(String(out.json?.['msg']).includes(node.subnetFile), `${label}: names the file`);
    t.same(node.invoker.calls, [], label);
    t.notOk(existsSync(node.dataDir), `${label}: no dataDir`);
  }
});

t.test('DEL replays the saved config, removes it after success, and is idempotent', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  const saved = readFileSync(join(node.dataDir, 'c1'), 'utf8');
  writeFileSync(node.subnetFile, ''); // the daemon is gone: DEL must not care
  const del = await node.cni('DEL', node.netconf({ delegate: { hairpinMode: true } }), 'c1', { CNI_NETNS: '' });
  t.same([del.code, del.stdout], [0, '']);
  t.equal(node.invoker.calls.at(-1)?.stdin, saved, 'saved bytes replayed verbatim, current netconf ignored');
  t.notOk(existsSync(join(node.dataDir, 'c1')));
  const again = await node.cni('DEL', node.netconf());
  t.same([again.code, again.stdout], [0, '']);
  t.same(node.invoker.summary(), ['bridge ADD', 'bridge DEL'], 'second DEL does not call the delegate');
  const never = await node.cni('DEL', node.netconf(), 'never-added');
  t.equal(never.code, 0);
});

t.test('a failed delegate DEL keeps the saved config for the retry', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  node.invoker.handlers.DEL = () => new CniError(999, 'iptables is locked');
  const out = await node.cni('DEL', node.netconf());
  t.same(out.json, { cniVersion: '1.0.0', code: 999, msg: 'iptables is locked' });
  t.ok(existsSync(join(node.dataDir, 'c1')));
  delete node.invoker.handlers.DEL;
  t.equal((await node.cni('DEL', node.netconf())).code, 0);
  t.notOk(existsSync(join(node.dataDir, 'c1')));
});

t.test('an unreadable saved config does not block DEL forever', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  writeFileSync(join(node.dataDir, 'c1'), '{"truncat');
  const out = await node.cni('DEL', node.netconf());
  t.equal(out.code, 0);
  t.match(out.stderr, /unreadable/);
  t.notOk(existsSync(join(node.dataDir, 'c1')));
});

t.test('CHECK: saved config + prevResult to the delegate; unknown container is 3; old versions are 1', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  const prevResult = { cniVersion: '1.0.0', ips: [{ address: '10.5.34.2/24' }] };
  const ok = await node.cni('CHECK', node.netconf({ prevResult }));
  t.same([ok.code, ok.stdout], [0, '']);
  const sent = node.invoker.calls.at(-1);
  t.equal(sent?.command, 'CHECK');
  t.same(sent?.conf?.['prevResult'], prevResult);
  t.equal(sent?.conf?.['mtu'], 1450);
  t.equal((await node.cni('CHECK', node.netconf({ prevResult }), 'other')).json?.['code'], 3);
  t.equal((await node.cni('CHECK', node.netconf({ cniVersion: '0.3.1' }))).json?.['code'], 1);
  node.invoker.handlers.CHECK = () => new CniError(999, 'Expected Route not found');
  t.same((await node.cni('CHECK', node.netconf({ prevResult }))).json?.['msg'], 'Expected Route not found');
});

t.test('CHECK notices that weftd is gone or that the host subnet changed', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  writeFileSync(node.subnetFile, 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.99.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  const moved = await node.cni('CHECK', node.netconf());
  t.match(moved.json?.['msg'], /subnet changed from 10\.5\.34\.0\/24 to 10\.5\.99\.0\/24/);
  writeFileSync(node.subnetFile, 'garbage');
  t.equal((await node.cni('CHECK', node.netconf())).json?.['code'], 11);
  t.same(node.invoker.summary(), ['bridge ADD'], 'the delegate was not asked');
});

t.test('cniVersion 1.1.0 with a 1.0.0-only delegate: delegate gets 1.0.0, runtime gets a 1.1.0 result', async (t) => {
  const node = makeNode(t.testdir());
  const add = await node.cni('ADD', node.netconf({ cniVersion: '1.1.0' }));
  t.equal(add.code, 0);
  t.equal(add.json?.['cniVersion'], '1.1.0');
  t.same(node.invoker.calls.map((c) => `${c.command} ${String(c.conf?.['cniVersion'])}`), ['VERSION 1.1.0', 'ADD 1.0.0']);
  t.match(readFileSync(join(node.dataDir, 'c1'), 'utf8'), /"cniVersion":"1.0.0"/);
  const check = await node.cni('CHECK', node.netconf({ cniVersion: '1.1.0', prevResult: add.json }));
  t.equal(check.code, 0);
  t.equal((node.invoker.calls.at(-1)?.conf?.['prevResult'] as Record<string, unknown>)['cniVersion'], '1.0.0');
  node.invoker.supportedVersions = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'];
  await node.cni('ADD', node.netconf({ cniVersion: '1.1.0' }), 'c2');
  t.equal(node.invoker.calls.at(-1)?.conf?.['cniVersion'], '1.1.0', 'a 1.1.0 delegate gets 1.1.0');
  node.invoker.supportedVersions = ['0.1.0', '0.2.0'];
  t.equal((await node.cni('ADD', node.netconf({ cniVersion: '1.1.0' }), 'c3')).json?.['code'], 1);
  t.same(node.invoker.calls.filter((c) => c.command === 'ADD').length, 2, 'no ADD without a common version');
});

t.test('versions up to 1.0.0 do not cost a VERSION call', async (t) => {
  const node = makeNode(t.testdir());
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0']) await node.cni('ADD', node.netconf({ cniVersion: v }), `c-${v.replaceAll('.', '')}`);
  t.same(node.invoker.calls.map((c) => c.command), ['ADD', 'ADD', 'ADD', 'ADD']);
});
