import t from 'tap';
import { existsSync } from 'node:fs';
import { runCni } from '../../../src/cni/run.js';
import { makeNode } from './harness.js';

t.test('VERSION reads neither stdin nor any other variable', async (t) => {
  let stdout = '';
  const touched: string[] = [];
  const env = new Proxy({ CNI_COMMAND: 'VERSION', CNI_NETNS: 'dummy', CNI_PATH: 'dummy' } as Record<string, string>, {
    get(target, key: string) {
      if (key !== 'CNI_COMMAND') touched.push(key);
      return target[key];
    },
  });
  const code = await runCni({
    env, readStdin: () => { throw new Error('stdin read'); },
    stdout: { write: (s: string) => { stdout += s; } }, stderr: { write: () => true },
  }, { invoker: () => { throw new Error('invoker built'); }, bridge: () => { throw new Error('bridge probe built'); }, isOwnNetns: () => { throw new Error('netns looked at'); } });
  t.equal(code, 0);
  t.same(JSON.parse(stdout), { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  t.same(touched, []);
});

t.test('no CNI_COMMAND: about text on stderr, error 4 on stdout', async (t) => {
  const node = makeNode(t.testdir());
  const out = await node.run({}, '');
  t.equal(out.code, 1);
  t.equal(out.json?.['code'], 4);
  t.match(out.stderr, /weft CNI plugin.*\nCNI protocol versions supported: 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/s);
});

t.test('every bad input gets its code, stdout carries exactly one JSON error, nothing is saved or run', async (t) => {
  const node = makeNode(t.testdir());
  const good = node.netconf();
  const cases: Array<[string, string, Record<string, string> | undefined, string | Record<string, unknown>, number]> = [
    ['stdin not JSON', 'ADD', undefined, '{"cniVersion":', 6],
    ['stdin empty', 'ADD', undefined, '', 6],
    ['netconf without name', 'ADD', undefined, { cniVersion: '1.0.0' }, 7],
    ['delegate with name', 'ADD', undefined, node.netconf({ delegate: { name: 'x' } }), 7],
    ['delegate with ipam', 'ADD', undefined, node.netconf({ delegate: { ipam: { type: 'dhcp' } } }), 7],
    ['unsupported version', 'ADD', undefined, node.netconf({ cniVersion: '0.2.0' }), 1],
    ['unknown command', 'FROB', undefined, good, 4],
    ['missing netns', 'ADD', { CNI_NETNS: '' }, good, 4],
    ['missing container id', 'ADD', { CNI_CONTAINERID: '' }, good, 4],
    ['bad container id', 'ADD', { CNI_CONTAINERID: '../../etc/passwd' }, good, 4],
    ['missing ifname', 'DEL', { CNI_IFNAME: '' }, good, 4],
    ['missing CNI_PATH', 'CHECK', { CNI_PATH: '' }, good, 4],
  ];
  for (const [label, command, env, stdin, code] of cases) {
    const out = await node.cni(command, stdin, 'c1', env);
    t.equal(out.code, 1, label);
    t.equal(out.json?.['code'], code, label);
    t.equal(out.stdout.trim().split('\n').length, 1, `${label}: one line on stdout`);
    t.type(out.json?.['msg'], 'string', label);
    t.notMatch(out.stdout, /\n\s+at /, `${label}: no stack trace`);
  }
  t.same(node.invoker.calls, []);
  t.notOk(existsSync(node.dataDir));
});

t.test('SPEC Error: errors carry the request\'s cniVersion whenever stdin could be read', async (t) => {
  const node = makeNode(t.testdir(), null);
  t.equal((await node.cni('ADD', node.netconf({ cniVersion: '0.4.0' }))).json?.['cniVersion'], '0.4.0');
  const env = await node.cni('ADD', node.netconf({ cniVersion: '0.3.1' }), 'c1', { CNI_NETNS: '' });
  t.same([env.json?.['code'], env.json?.['cniVersion']], [4, '0.3.1'], 'a missing CNI_NETNS, found before the netconf is parsed');
  const command = await node.run({ CNI_COMMAND: 'FROB', CNI_PATH: '/x' }, node.netconf({ cniVersion: '0.3.0' }));
  t.same([command.json?.['code'], command.json?.['cniVersion']], [4, '0.3.0'], 'an unknown command');
  t.same((await node.cni('ADD', node.netconf({ cniVersion: '0.2.0' }))).json, {
    cniVersion: '0.2.0', code: 1, msg: 'incompatible CNI versions: config is "0.2.0"', details: 'weft supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0' });
  t.equal((await node.cni('ADD', '{')).json?.['cniVersion'], '1.1.0', 'not JSON: weft\'s own version');
});

t.test('SPEC Parameters CNI_NETNS: the plugin\'s own network namespace is refused with 4 for ADD, CHECK and DEL', async (t) => {
  const node = makeNode(t.testdir());
  node.ownNetns.add('/proc/1/ns/net');
  for (const command of ['ADD', 'CHECK', 'DEL']) {
    const out = await node.cni(command, node.netconf(), 'c1', { CNI_NETNS: '/proc/1/ns/net' });
    t.equal(out.json?.['code'], 4, command);
    t.match(out.json?.['msg'], /CNI_NETNS \/proc\/1\/ns\/net is the network namespace the plugin runs in/, command);
  }
  t.same(node.invoker.calls, [], 'the delegate never ran');
  t.same(node.records(), []);
  t.equal((await node.cni('ADD', node.netconf())).code, 0, 'another netns is fine');
});

t.test('a bug inside a command is 999 with its message; the stack goes to stderr only', async (t) => {
  const node = makeNode(t.testdir());
  node.invoker.handlers.ADD = () => { throw new TypeError('boom'); };
  const out = await node.cni('ADD', node.netconf());
  t.same(out.json, { cniVersion: '1.0.0', code: 999, msg: 'boom' });
  t.match(out.stderr, /TypeError: boom/);
});

t.test('logs are JSON lines on stderr at the netconf level, or in logFile', async (t) => {
  const node = makeNode(t.testdir());
  const quiet = await node.cni('ADD', node.netconf());
  t.equal(quiet.stderr, '', 'default level warn: a successful ADD is silent');
  const loud = await node.cni('DEL', node.netconf({ logLevel: 'info' }));
  const line = JSON.parse(loud.stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  t.match(line, { level: 30, name: 'weft-cni', cmd: 'DEL', containerId: 'c1', network: 'weftnet', msg: 'deleted' });
  const logFile = `${node.dir}/weft.log`;
  const filed = await node.cni('ADD', node.netconf({ logLevel: 'debug', logFile }), 'c2');
  t.equal(filed.stderr, '');
  const { readFileSync } = await import('node:fs');
  t.match(readFileSync(logFile, 'utf8'), /"msg":"attachment record saved".*\n.*"msg":"added"/);
});
