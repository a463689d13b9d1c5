import t from 'tap';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError } from '../../../src/cni/errors.js';
import { makeNode } from './harness.js';

const DELEGATE = '{"cniVersion":"1.0.0","hairpinMode":true,"ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.5.34.0/24"}]],'
  + '"routes":[{"dst":"10.5.0.0/16","gw":"10.5.34.1"}],"type":"host-local"},"isGateway":true,"mtu":1450,"name":"weftnet","type":"bridge"}';

t.test('ADD saves the attachment record (0600) before running the delegate and prints its result unchanged', async (t) => {
  const node = makeNode(t.testdir());
  let savedDuringAdd: Record<string, unknown> | undefined;
  node.invoker.handlers.ADD = () => {
    savedDuringAdd = node.record();
    return `{"cniVersion":"1.0.0","ips":[{"address":"10.5.34.2/24"}], "odd spacing kept": true}`;
  };
  const out = await node.cni('ADD', node.netconf({ delegate: { hairpinMode: true } }));
  t.equal(out.code, 0);
  t.equal(out.stdout, '{"cniVersion":"1.0.0","ips":[{"address":"10.5.34.2/24"}], "odd spacing kept": true}', 'byte for byte');
  t.same(node.invoker.summary(), ['bridge ADD']);
  t.equal(node.invoker.calls[0]?.stdin, DELEGATE);
  t.same(savedDuringAdd, { network: 'weftnet', containerId: 'c1', ifname: 'eth0', netns: '/run/netns/c1', conf: DELEGATE },
    'the record holds the key, the netns and exactly what the delegate got');
  t.same(node.record()?.['result'], { cniVersion: '1.0.0', ips: [{ address: '10.5.34.2/24' }], 'odd spacing kept': true }, 'and then its result');
  const path = join(node.dataDir, '_attachments', 'weftnet', 'c1:eth0');
  t.equal(statSync(path).mode & 0o777, 0o600);
  t.equal(statSync(node.dataDir).mode & 0o777, 0o700);
  t.same(readdirSync(join(node.dataDir, '_attachments', 'weftnet')), ['c1:eth0'], 'no temp file left');
});

t.test('SPEC Add/Chained: a delegate that fails after it ran gets a DEL with the same config; its error is returned; no record left', async (t) => {
  const node = makeNode(t.testdir());
  node.invoker.handlers.ADD = () => new CniError(7, 'failed to set bridge addr', { details: 'from bridge' });
  const out = await node.cni('ADD', node.netconf());
  t.equal(out.code, 1);
  t.same(out.json, { cniVersion: '1.0.0', code: 7, msg: 'failed to set bridge addr', details: 'from bridge' });
  t.same(node.invoker.summary(), ['bridge ADD', 'bridge DEL']);
  t.equal(node.invoker.calls[1]?.stdin, node.invoker.calls[0]?.stdin, 'the DEL got the ADD\'s config');
  t.same(node.invoker.calls[1]?.env, {}, 'and the runtime\'s CNI_* variables');
  t.same(node.records(), []);
  t.equal((await node.cni('DEL', node.netconf())).code, 0, 'the runtime\'s DEL succeeds');
  delete node.invoker.handlers.ADD;
  t.equal((await node.cni('ADD', node.netconf())).code, 0, 'a retry ADD works');
});

t.test('issue 8.8: when the undoing DEL fails too, the record stays and the runtime\'s DEL releases it', async (t) => {
  const node = makeNode(t.testdir());
  node.invoker.handlers.ADD = () => new CniError(999, 'failed to allocate for range 0: requested IP address 10.5.34.9 is not available');
  node.invoker.handlers.DEL = () => new CniError(999, 'iptables is locked');
  const add = await node.cni('ADD', node.netconf());
  t.equal(add.json?.['code'], 999);
  t.match(add.json?.['msg'], /requested IP address/, 'the ADD error, not the DEL error');
  t.match(add.stderr, /DEL that should undo it failed too/);
  t.equal(node.record()?.['conf'], DELEGATE.replace('"hairpinMode":true,', ''), 'record kept');
  delete node.invoker.handlers.DEL;
  t.equal((await node.cni('DEL', node.netconf())).code, 0);
  t.same(node.invoker.summary(), ['bridge ADD', 'bridge DEL', 'bridge DEL']);
  t.same(node.records(), [], 'released and forgotten');
});

t.test('a delegate that could not run at all gets no DEL and leaves no record', async (t) => {
  const node = makeNode(t.testdir());
  node.invoker.missing.add('bridge');
  const out = await node.cni('ADD', node.netconf());
  t.match(out.json, { code: 999, msg: /failed to find delegate plugin "bridge"/ });
  t.same(node.invoker.calls, []);
  t.same(node.records(), []);
});

t.test('a failed repeated ADD keeps the record of the earlier successful ADD and does not undo it', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  const first = node.record();
  node.invoker.handlers.ADD = () => new CniError(999, 'container veth name provided (eth0) already exists');
  const retry = await node.cni('ADD', node.netconf({ delegate: { hairpinMode: true } }));
  t.equal(retry.json?.['code'], 999);
  t.same(node.record(), first);
  t.same(node.invoker.summary(), ['bridge ADD', 'bridge ADD'], 'no DEL of the working attachment');
  t.equal((await node.cni('DEL', node.netconf())).code, 0);
  t.equal(node.invoker.calls.at(-1)?.stdin, first?.['conf'], 'DEL replays the first ADD');
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
  const saved = node.record()?.['conf'];
  writeFileSync(node.subnetFile, ''); // the daemon is gone: DEL must not care
  const del = await node.cni('DEL', node.netconf({ delegate: { hairpinMode: true } }), 'c1', { CNI_NETNS: '' });
  t.same([del.code, del.stdout], [0, '']);
  t.equal(node.invoker.calls.at(-1)?.stdin, saved, 'saved bytes replayed verbatim, current netconf ignored');
  t.same(node.records(), []);
  const again = await node.cni('DEL', node.netconf());
  t.same([again.code, again.stdout], [0, '']);
  t.same(node.invoker.summary(), ['bridge ADD', 'bridge DEL'], 'second DEL does not call the delegate');
  t.equal((await node.cni('DEL', node.netconf(), 'never-added')).code, 0);
});

t.test('SPEC Attachments: one container, two interfaces on the network: each DEL releases exactly its own', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf(), 'c1', { CNI_IFNAME: 'eth0' });
  await node.cni('ADD', node.netconf(), 'c1', { CNI_IFNAME: 'net1' });
  t.same(node.records(), ['c1:eth0', 'c1:net1']);
  t.equal((await node.cni('DEL', node.netconf(), 'c1', { CNI_IFNAME: 'net1' })).code, 0);
  t.same(node.records(), ['c1:eth0'], 'eth0 is still known');
  t.equal((await node.cni('CHECK', node.netconf(), 'c1', { CNI_IFNAME: 'eth0' })).code, 0, 'CHECK of eth0 still works');
  t.equal((await node.cni('CHECK', node.netconf(), 'c1', { CNI_IFNAME: 'net1' })).json?.['code'], 3, 'net1 is unknown now');
  t.equal((await node.cni('DEL', node.netconf(), 'c1', { CNI_IFNAME: 'eth0' })).code, 0);
  t.same(node.invoker.summary(), ['bridge ADD', 'bridge ADD', 'bridge DEL', 'bridge CHECK', 'bridge DEL'], 'both DELs reached the delegate');
  t.same(node.records(), []);
});

t.test('SPEC Attachments: one container on two networks sharing dataDir: DEL replays its own network\'s config', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf({ name: 'neta' }));
  await node.cni('ADD', node.netconf({ name: 'netb', delegate: { bridge: 'br-b' } }), 'c1', { CNI_IFNAME: 'eth1' });
  await node.cni('DEL', node.netconf({ name: 'neta' }));
  t.match(node.invoker.calls.at(-1)?.conf, { name: 'neta' }, 'neta\'s config, not the later netb one');
  t.same([node.records('neta'), node.records('netb')], [[], ['c1:eth1']]);
  await node.cni('DEL', node.netconf({ name: 'netb' }), 'c1', { CNI_IFNAME: 'eth1' });
  t.match(node.invoker.calls.at(-1)?.conf, { name: 'netb', bridge: 'br-b' });
  t.same(node.records('netb'), []);
});

t.test('a failed delegate DEL keeps the record for the retry', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  node.invoker.handlers.DEL = () => new CniError(999, 'iptables is locked');
  const out = await node.cni('DEL', node.netconf());
  t.same(out.json, { cniVersion: '1.0.0', code: 999, msg: 'iptables is locked' });
  t.ok(node.record());
  delete node.invoker.handlers.DEL;
  t.equal((await node.cni('DEL', node.netconf())).code, 0);
  t.same(node.records(), []);
});

t.test('an unreadable record does not block DEL forever', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  writeFileSync(join(node.dataDir, '_attachments', 'weftnet', 'c1:eth0'), '{"truncat');
  const out = await node.cni('DEL', node.netconf());
  t.equal(out.code, 0);
  t.match(out.stderr, /unreadable/);
  t.same(node.records(), []);
});

t.test('CHECK: saved config + weft\'s part of prevResult to the delegate; unknown attachment is 3; old versions are 1', async (t) => {
  const node = makeNode(t.testdir());
  const add = await node.cni('ADD', node.netconf());
  const own = add.json as Record<string, unknown>;
  const prevResult = {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'lo0', sandbox: '/run/netns/c1' }, ...(own['interfaces'] as unknown[])],
    ips: [{ interface: 0, address: '192.168.9.9/32' }, { interface: 2, address: '10.5.34.2/24', gateway: '10.5.34.1' }],
    dns: {},
  };
  const ok = await node.cni('CHECK', node.netconf({ prevResult }));
  t.same([ok.code, ok.stdout], [0, '']);
  const sent = node.invoker.calls.at(-1);
  t.equal(sent?.command, 'CHECK');
  t.same(sent?.conf?.['prevResult'], { cniVersion: '1.0.0', interfaces: own['interfaces'], ips: [{ interface: 1, address: '10.5.34.2/24', gateway: '10.5.34.1' }], routes: [], dns: {} },
    'the other plugin\'s interface and address are left out, indices follow');
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

const DUAL = 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_IPV6_NETWORK=fd00:5::/48\n'
  + 'FLANNEL_IPV6_SUBNET=fd00:5:0:34::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

t.test('dual stack: ADD saves and sends both ranges; CHECK notices a changed or dropped IPv6 subnet', async (t) => {
  const node = makeNode(t.testdir(), DUAL);
  t.equal((await node.cni('ADD', node.netconf())).code, 0);
  const saved = JSON.parse(String(node.record()?.['conf'])) as { ipam: Record<string, unknown> };
  t.same(saved.ipam['ranges'], [[{ subnet: '10.5.34.0/24' }], [{ subnet: 'fd00:5:0:34::/64' }]]);
  t.equal(JSON.stringify(node.invoker.calls.find((c) => c.command === 'ADD')?.conf), String(node.record()?.['conf']), 'the delegate got the saved text');
  t.equal((await node.cni('CHECK', node.netconf())).code, 0, 'unchanged: CHECK reaches the delegate');
  writeFileSync(node.subnetFile, DUAL.replace('fd00:5:0:34::1/64', 'fd00:5:0:99::1/64'));
  t.match((await node.cni('CHECK', node.netconf())).json?.['msg'], /IPv6 subnet changed from fd00:5:0:34::\/64 to fd00:5:0:99::\/64/);
  writeFileSync(node.subnetFile, 'FLANNEL_NETWORK=10.5.0.0/16\nFLANNEL_SUBNET=10.5.34.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  t.match((await node.cni('CHECK', node.netconf())).json?.['msg'], /IPv6 subnet changed from fd00:5:0:34::\/64 to none/);
  t.same(node.invoker.summary(), ['bridge ADD', 'bridge CHECK']);
});

t.test('dual stack: a container added while the host was IPv4-only still CHECKs fine', async (t) => {
  const node = makeNode(t.testdir());
  await node.cni('ADD', node.netconf());
  writeFileSync(node.subnetFile, DUAL);
  t.equal((await node.cni('CHECK', node.netconf())).code, 0);
});

t.test('cniVersion 1.1.0 with a 1.0.0-only delegate: delegate gets 1.0.0, runtime gets a 1.1.0 result', async (t) => {
  const node = makeNode(t.testdir());
  const add = await node.cni('ADD', node.netconf({ cniVersion: '1.1.0' }));
  t.equal(add.code, 0);
  t.equal(add.json?.['cniVersion'], '1.1.0');
  t.same(node.invoker.calls.map((c) => `${c.command} ${String(c.conf?.['cniVersion'])}`), ['VERSION 1.1.0', 'ADD 1.0.0']);
  t.match(String(node.record()?.['conf']), /"cniVersion":"1.0.0"/);
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

t.test('SPEC Network configuration "args": passed to the delegate', async (t) => {
  const node = makeNode(t.testdir());
  const args = { cni: { ips: ['10.5.34.9'] }, labels: [{ key: 'app', value: 'web' }] };
  await node.cni('ADD', node.netconf({ args }));
  t.same(node.invoker.calls[0]?.conf?.['args'], args);
});

t.test('SPEC Add: prevResult from an earlier plugin is kept and weft\'s part appended, for every version', async (t) => {
  for (const version of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    const node = makeNode(t.testdir());
    const ip = (address: string, iface: number): Record<string, unknown> => ({ ...(version < '1.0.0' ? { version: '4' } : {}), interface: iface, address });
    node.invoker.handlers.ADD = (call) => JSON.stringify({
      cniVersion: call.conf?.['cniVersion'], interfaces: [{ name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/run/netns/c1' }],
      ips: [ip('10.5.34.2/24', 2)], routes: [{ dst: '10.5.0.0/16', gw: '10.5.34.1' }], dns: { nameservers: ['10.5.0.10'] },
    });
    const prevResult = { cniVersion: version, interfaces: [{ name: 'lo', sandbox: '/run/netns/c1' }], ips: [ip('127.0.0.1/8', 0)], dns: { nameservers: ['1.1.1.1'], domain: 'x.local' } };
    const out = await node.cni('ADD', node.netconf({ cniVersion: version, prevResult }));
    t.equal(out.code, 0, version);
    t.same(out.json, {
      cniVersion: version,
      interfaces: [{ name: 'lo', sandbox: '/run/netns/c1' }, { name: 'cni0' }, { name: 'veth1' }, { name: 'eth0', sandbox: '/run/netns/c1' }],
      ips: [ip('127.0.0.1/8', 0), ip('10.5.34.2/24', 3)],
      routes: [{ dst: '10.5.0.0/16', gw: '10.5.34.1' }],
      dns: { nameservers: ['1.1.1.1', '10.5.0.10'], domain: 'x.local' },
    }, `${version}: merged, indices shifted`);
    t.equal(node.invoker.calls.find((c) => c.command === 'ADD')?.conf?.['prevResult'], undefined, `${version}: the delegate makes its own interface; no prevResult`);
  }
});
