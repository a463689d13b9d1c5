/**
 * Upgrade from the old state layout (`<dataDir>/<containerId>` holding the
 * delegate config, as the previous weft release and flannel's plugin wrote
 * it): containers added before the upgrade are released by DEL, checked by
 * CHECK and collected by GC as if they had been added by this release.
 */
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeNode } from './harness.js';

const V11 = { cniVersion: '1.1.0' };

/** What the previous release saved for an ADD on `network`. */
function oldConf(network: string): string {
  return `{"cniVersion":"1.0.0","ipMasq":false,"ipam":{"ranges":[[{"subnet":"10.5.34.0/24"}]],"routes":[{"dst":"10.5.0.0/16","gw":"10.5.34.1"}],"type":"host-local"},"isGateway":true,"mtu":1450,"name":"${network}","type":"bridge"}`;
}

function writeOld(dataDir: string, id: string, text: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dataDir, id), text, { mode: 0o600 });
}

t.test('DEL of a container added before the upgrade replays its old file and removes it', async (t) => {
  const node = makeNode(t.testdir());
  writeOld(node.dataDir, 'old1', oldConf('weftnet'));
  const out = await node.cni('DEL', node.netconf(), 'old1');
  t.same([out.code, out.stdout], [0, '']);
  t.same(node.invoker.calls.map((c) => [c.command, c.stdin]), [['DEL', oldConf('weftnet')]], 'the old config, byte for byte');
  t.notOk(existsSync(join(node.dataDir, 'old1')), 'old file gone');
  t.same(node.records(), [], 'and no new record left');
  t.equal((await node.cni('DEL', node.netconf(), 'old1')).code, 0, 'a second DEL is a no-op');
  t.equal(node.invoker.calls.length, 1);
});

t.test('an old file of another network is left for that network\'s DEL', async (t) => {
  const node = makeNode(t.testdir());
  writeOld(node.dataDir, 'old1', oldConf('othernet'));
  await node.cni('DEL', node.netconf(), 'old1');
  t.same(node.invoker.calls, [], 'weftnet\'s DEL does not replay othernet\'s config');
  t.ok(existsSync(join(node.dataDir, 'old1')));
  await node.cni('DEL', node.netconf({ name: 'othernet' }), 'old1');
  t.match(node.invoker.calls[0]?.conf, { name: 'othernet' });
  t.notOk(existsSync(join(node.dataDir, 'old1')));
});

t.test('CHECK adopts the old file as the record of its attachment; the later DEL uses the record', async (t) => {
  const node = makeNode(t.testdir());
  writeOld(node.dataDir, 'old1', oldConf('weftnet'));
  t.equal((await node.cni('CHECK', node.netconf(), 'old1')).code, 0);
  t.same(node.records(), ['old1:eth0']);
  t.equal(node.record('old1')?.['conf'], oldConf('weftnet'));
  t.same(readdirSync(node.dataDir), ['_attachments']);
  await node.cni('DEL', node.netconf(), 'old1');
  t.same(node.invoker.summary(), ['bridge CHECK', 'bridge DEL']);
  t.same(node.records(), []);
});

t.test('an unreadable old file does not block DEL forever', async (t) => {
  const node = makeNode(t.testdir());
  writeOld(node.dataDir, 'old1', '{"trunc');
  t.equal((await node.cni('DEL', node.netconf(), 'old1')).code, 0);
  t.notOk(existsSync(join(node.dataDir, 'old1')));
});

t.test('GC: old files of valid containers become records of the listed interfaces; stale ones are released as eth0', async (t) => {
  const node = makeNode(t.testdir());
  writeOld(node.dataDir, 'alive', oldConf('weftnet'));
  writeOld(node.dataDir, 'gone', oldConf('weftnet'));
  writeOld(node.dataDir, 'other', oldConf('othernet'));
  const out = await node.run({ CNI_COMMAND: 'GC', CNI_PATH: '/x' },
    node.netconf({ ...V11, 'cni.dev/valid-attachments': [{ containerID: 'alive', ifname: 'eth0' }, { containerID: 'alive', ifname: 'net1' }] }));
  t.same([out.code, out.stdout], [0, ''], out.stdout);
  t.same(node.records(), ['alive:eth0', 'alive:net1']);
  t.same(node.invoker.calls.filter((c) => c.command === 'DEL').map((c) => [c.env['CNI_CONTAINERID'], c.env['CNI_IFNAME'], c.stdin]),
    [['gone', 'eth0', oldConf('weftnet')]]);
  t.same(readdirSync(node.dataDir).sort(), ['_attachments', 'other'], 'othernet\'s old file stays');
});

t.test('ADD after the upgrade for a container that has an old file keeps it as the earlier ADD\'s record', async (t) => {
  const node = makeNode(t.testdir());
  writeOld(node.dataDir, 'c1', oldConf('weftnet'));
  t.equal((await node.cni('ADD', node.netconf())).code, 0);
  t.same(readdirSync(node.dataDir), ['_attachments']);
  t.same(node.records(), ['c1:eth0']);
});
