import t from 'tap';
import { parseCniArgs } from '../../../src/cni/args.js';
import { CniError } from '../../../src/cni/errors.js';
import { DEFAULT_DATA_DIR, DEFAULT_SUBNET_FILE, parseNetConf } from '../../../src/cni/netconf.js';

function codeOf(fn: () => unknown): number | string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return err instanceof CniError ? err.cniCode : `not a CniError: ${String(err)}`;
  }
}

t.test('defaults', async (t) => {
  const conf = parseNetConf('{"cniVersion":"1.0.0","name":"weftnet","type":"weft"}');
  t.same(conf, {
    cniVersion: '1.0.0', name: 'weftnet', subnetFile: DEFAULT_SUBNET_FILE, dataDir: DEFAULT_DATA_DIR,
    delegate: undefined, ipam: undefined, runtimeConfig: undefined, prevResult: undefined,
    validAttachments: undefined, logFile: undefined, logLevel: 'warn',
  });
  t.equal(DEFAULT_SUBNET_FILE, '/run/weft/subnet.env');
  t.equal(DEFAULT_DATA_DIR, '/var/lib/cni/weft');
});

t.test('every field read', async (t) => {
  const conf = parseNetConf(JSON.stringify({
    cniVersion: '1.1.0', name: 'n', type: 'weft', subnetFile: '/s', dataDir: '/d', logFile: '/l', logLevel: 'debug',
    delegate: { hairpinMode: true }, ipam: { dataDir: '/i' }, runtimeConfig: { a: 1 }, prevResult: { ips: [] },
    'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b' }],
  }));
  t.match(conf, { subnetFile: '/s', dataDir: '/d', logFile: '/l', logLevel: 'debug', delegate: { hairpinMode: true },
    ipam: { dataDir: '/i' }, runtimeConfig: { a: 1 }, prevResult: { ips: [] } });
  t.same(conf.validAttachments, [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'b', ifname: undefined }]);
  t.same(parseNetConf('{"cniVersion":"1.1.0","name":"n","cni.dev/attachments":[{"containerID":"x"}]}').validAttachments,
    [{ containerID: 'x', ifname: undefined }], 'the older spelling libcni also sends');
});

t.test('not JSON is 6', async (t) => {
  for (const stdin of ['', '   ', '{', 'cniVersion=1.0.0', '{"a":1}}']) t.equal(codeOf(() => parseNetConf(stdin)), 6, JSON.stringify(stdin));
});

t.test('unsupported or missing version is 1', async (t) => {
  for (const v of ['0.1.0', '0.2.0', '2.0.0', '1.0', 'latest']) {
    t.equal(codeOf(() => parseNetConf(JSON.stringify({ cniVersion: v, name: 'n' }))), 1, v);
  }
  t.equal(codeOf(() => parseNetConf('{"name":"n"}')), 1, 'missing means 0.1.0');
  for (const v of ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) t.equal(codeOf(() => parseNetConf(JSON.stringify({ cniVersion: v, name: 'n' }))), 'no error', v);
});

t.test('invalid netconf is 7, with every problem named', async (t) => {
  const bad: Array<[string, Record<string, unknown> | unknown[] | string]> = [
    ['array', [1]],
    ['string', '"x"'],
    ['version type', { cniVersion: 1, name: 'n' }],
    ['no name', { cniVersion: '1.0.0' }],
    ['name chars', { cniVersion: '1.0.0', name: 'a/b' }],
    ['type', { cniVersion: '1.0.0', name: 'n', type: 3 }],
    ['relative subnetFile', { cniVersion: '1.0.0', name: 'n', subnetFile: 'subnet.env' }],
    ['dataDir type', { cniVersion: '1.0.0', name: 'n', dataDir: 5 }],
    ['delegate not object', { cniVersion: '1.0.0', name: 'n', delegate: 'bridge' }],
    ['delegate name', { cniVersion: '1.0.0', name: 'n', delegate: { name: 'x' } }],
    ['delegate ipam', { cniVersion: '1.0.0', name: 'n', delegate: { ipam: {} } }],
    ['delegate type', { cniVersion: '1.0.0', name: 'n', delegate: { type: 7 } }],
    ['ipam not object', { cniVersion: '1.0.0', name: 'n', ipam: [] }],
    ['ipam routes', { cniVersion: '1.0.0', name: 'n', ipam: { routes: [{ gw: '1.2.3.4' }] } }],
    ['ipam type', { cniVersion: '1.0.0', name: 'n', ipam: { type: '' } }],
    ['runtimeConfig', { cniVersion: '1.0.0', name: 'n', runtimeConfig: 1 }],
    ['attachments', { cniVersion: '1.1.0', name: 'n', 'cni.dev/valid-attachments': [{ id: 'x' }] }],
    ['logLevel', { cniVersion: '1.0.0', name: 'n', logLevel: 'loud' }],
  ];
  for (const [label, conf] of bad) {
    t.equal(codeOf(() => parseNetConf(typeof conf === 'string' ? conf : JSON.stringify(conf))), 7, label);
  }
  try {
    parseNetConf(JSON.stringify({ cniVersion: '1.0.0', name: 'n', delegate: { name: 'x', ipam: {} } }));
  } catch (err) {
    t.match((err as Error).message, /"delegate" must not have "name".*; "delegate" must not have "ipam"/);
  }
});

t.test('CNI_* variables: missing or bad ones are 4', async (t) => {
  const good = { CNI_CONTAINERID: 'abc', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' };
  t.same(parseCniArgs('ADD', good).path, ['/opt/cni/bin', '/usr/lib/cni']);
  t.equal(codeOf(() => parseCniArgs('DEL', { ...good, CNI_NETNS: '' })), 'no error', 'DEL needs no netns');
  t.equal(codeOf(() => parseCniArgs('GC', { CNI_PATH: '/x' })), 'no error');
  t.equal(codeOf(() => parseCniArgs('STATUS', { CNI_PATH: '/x' })), 'no error');
  const cases: Array<[string, string, Record<string, string>]> = [
    ['unknown command', 'FOO', good],
    ['lowercase command', 'add', good],
    ['ADD no netns', 'ADD', { ...good, CNI_NETNS: '' }],
    ['ADD no container', 'ADD', { ...good, CNI_CONTAINERID: '' }],
    ['CHECK no ifname', 'CHECK', { ...good, CNI_IFNAME: '' }],
    ['DEL no path', 'DEL', { ...good, CNI_PATH: '' }],
    ['GC no path', 'GC', {}],
    ['id with slash', 'ADD', { ...good, CNI_CONTAINERID: '../etc' }],
    ['id starting with dot', 'DEL', { ...good, CNI_CONTAINERID: '.hidden' }],
    ['ifname too long', 'ADD', { ...good, CNI_IFNAME: 'eth0123456789012' }],
    ['ifname with colon', 'ADD', { ...good, CNI_IFNAME: 'eth0:1' }],
    ['ifname dot', 'ADD', { ...good, CNI_IFNAME: '.' }],
  ];
  for (const [label, command, env] of cases) t.equal(codeOf(() => parseCniArgs(command, env)), 4, label);
});
