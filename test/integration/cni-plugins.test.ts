/**
 * The weft CNI plugin (the built bundle) with the real reference plugins from
 * /usr/lib/cni (bridge + host-local 1.1.1), inside a node namespace and pod
 * namespaces this test creates: the whole lifecycle, 20 parallel ADDs, and
 * bad inputs that must leave no state behind.
 */
import t, { type Test } from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE, CniPluginNode, mustRun, PLUGINS_DIR, runProgram } from '../helpers/cni-plugin-node.js';
import { requirePrerequisites } from '../helpers/require.js';

const SUBNET_ENV = 'FLANNEL_NETWORK=10.77.0.0/16\nFLANNEL_SUBNET=10.77.5.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';

if (requirePrerequisites(t, ['ip', 'ping', `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else t.test('weft with bridge + host-local 1.1.1 in a node namespace', lifecycle);
}

async function podAddress(ns: string): Promise<string> {
  return (await mustRun('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).split(/\s+/)[3] ?? '';
}

async function lifecycle(t: Test): Promise<void> {
  const node = new CniPluginNode();
  t.teardown(() => node.cleanup());
  await node.start(SUBNET_ENV);

  await t.test('VERSION ignores the placeholder values podman sends', async (t) => {
    const out = await node.weft('VERSION', '{"cniVersion":"1.0.0"}', { containerId: 'dummy', netns: 'dummy', ifname: 'dummy', env: { CNI_PATH: 'dummy' } });
    t.same([out.code, out.json], [0, { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] }]);
  });

  const pod1 = await node.addPod('p1');
  const pod2 = await node.addPod('p2');
  let result1: Record<string, unknown> = {};

  await t.test('ADD: bridge result unchanged, address and route in the pod, config saved', async (t) => {
    const out = await node.pod('ADD', pod1, node.netconf());
    t.equal(out.code, 0, out.stdout);
    result1 = out.json ?? {};
    t.match(result1, { cniVersion: '1.0.0', ips: [{ address: '10.77.5.2/24', gateway: '10.77.5.1' }], routes: [{ dst: '10.77.0.0/16', gw: '10.77.5.1' }] });
    t.equal(await podAddress(pod1), '10.77.5.2/24');
    t.match(await mustRun('ip', ['-n', pod1, 'route']), /10\.77\.0\.0\/16 via 10\.77\.5\.1 dev eth0/);
    t.match(await mustRun('ip', ['-n', pod1, 'link', 'show', 'eth0']), /mtu 1450/);
    t.same(node.savedConfigs(), [`${pod1}:eth0`]);
    const record = JSON.parse(readFileSync(join(node.dataDir, '_attachments', node.network, `${pod1}:eth0`), 'utf8')) as { conf: string };
    t.match(JSON.parse(record.conf), { type: 'bridge', ipMasq: false, isGateway: true, mtu: 1450 });
  });

  await t.test('CHECK passes with the real bridge (thanks to the explicit gw)', async (t) => {
    const out = await node.pod('CHECK', pod1, node.netconf({ prevResult: result1 }));
    t.same([out.code, out.stdout], [0, ''], out.stdout);
  });

  await t.test('a second pod gets the next address and the pods reach each other', async (t) => {
    const out = await node.pod('ADD', pod2, node.netconf());
    t.equal(out.code, 0, out.stdout);
    t.equal(await podAddress(pod2), '10.77.5.3/24');
    const ping = await runProgram('ip', ['netns', 'exec', pod2, 'ping', '-c', '1', '-W', '2', '10.77.5.2']);
    t.equal(ping.code, 0, ping.stdout + ping.stderr);
  });

  await t.test('STATUS (1.1.0): ready, then 50 while subnet.env is gone', async (t) => {
    const status = () => node.weft('STATUS', node.netconf({ cniVersion: '1.1.0' }));
    t.same((await status()).code, 0);
    rmSync(node.subnetFile);
    const down = await status();
    t.same([down.code, down.json?.['code']], [1, 50]);
    t.match(down.json?.['msg'], /weftd daemon is not ready/);
    const add = await node.weft('ADD', node.netconf(), { containerId: 'early', netns: `/run/netns/${pod2}`, ifname: 'eth1' });
    t.equal(add.json?.['code'], 11, 'ADD meanwhile: try again later');
    writeFileSync(node.subnetFile, SUBNET_ENV);
    t.same((await status()).code, 0);
  });

  await t.test('cniVersion 1.1.0 ADD works with the 1.0.0-only bridge', async (t) => {
    const ghost = await node.addPod('ghost');
    const out = await node.pod('ADD', ghost, node.netconf({ cniVersion: '1.1.0' }));
    t.equal(out.code, 0, out.stdout);
    t.equal(out.json?.['cniVersion'], '1.1.0');
    t.match(out.json, { ips: [{ address: /^10\.77\.5\.\d+\/24$/ }] });
  });

  await t.test('GC (1.1.0) releases forgotten containers with the 1.1.1 bridge\'s DEL (it has no GC of its own)', async (t) => {
    const ghost = `${node.tag}-ghost`;
    const before = node.leasedAddresses().length;
    const out = await node.weft('GC', node.netconf({ cniVersion: '1.1.0',
      'cni.dev/valid-attachments': [{ containerID: pod1, ifname: 'eth0' }, { containerID: pod2, ifname: 'eth0' }] }));
    t.same([out.code, out.stdout], [0, ''], out.stdout);
    t.same(node.savedConfigs(), [`${pod1}:eth0`, `${pod2}:eth0`].sort());
    t.equal(node.leasedAddresses().length, before - 1, 'the ghost\'s address is free again');
    const link = await runProgram('ip', ['-n', ghost, 'link', 'show', 'eth0']);
    t.not(link.code, 0, 'and its eth0 is gone');
    await node.deleteNamespace(ghost);
  });

  await t.test('DEL, DEL again, and DEL after the netns is gone all succeed and release the addresses', async (t) => {
    t.same((await node.pod('DEL', pod1, node.netconf({ prevResult: result1 }))).code, 0);
    t.same((await node.pod('DEL', pod1, node.netconf())).code, 0);
    await node.deleteNamespace(pod2);
    const gone = await node.weft('DEL', node.netconf(), { containerId: pod2, netns: `/run/netns/${pod2}`, ifname: 'eth0' });
    t.same([gone.code, gone.stdout], [0, ''], gone.stdout);
    t.same(node.savedConfigs(), []);
    t.notOk(node.leasedAddresses().includes('10.77.5.2') || node.leasedAddresses().includes('10.77.5.3'));
  });

  await t.test('20 parallel ADDs get 20 distinct addresses; 20 parallel DELs free them', async (t) => {
    const pods = await Promise.all(Array.from({ length: 20 }, (_, i) => node.addPod(`q${i}`)));
    const before = node.leasedAddresses();
    const adds = await Promise.all(pods.map((p) => node.pod('ADD', p, node.netconf())));
    t.same(adds.map((a) => a.code), pods.map(() => 0), adds.filter((a) => a.code !== 0).map((a) => a.stdout).join('\n'));
    const addresses = adds.map((a) => ((a.json?.['ips'] as Array<{ address: string }> | undefined)?.[0]?.address ?? ''));
    t.equal(new Set(addresses).size, 20, addresses.join(' '));
    t.equal(node.leasedAddresses().length, before.length + 20);
    const dels = await Promise.all(pods.map((p) => node.pod('DEL', p, node.netconf())));
    t.same(dels.map((d) => d.code), pods.map(() => 0));
    t.same(node.leasedAddresses(), before);
    t.same(node.savedConfigs(), []);
    for (const p of pods) await node.deleteNamespace(p);
  });

  await t.test('bad inputs get their codes and leave no saved config and no leased address', async (t) => {
    const pod = await node.addPod('bad');
    const before = node.leasedAddresses();
    const cases: Array<[string, string | Record<string, unknown>, Record<string, string>, number]> = [
      ['stdin not JSON', '{"cniVersion": "1.0.0", ', {}, 6],
      ['delegate with name', node.netconf({ delegate: { name: 'x' } }), {}, 7],
      ['delegate with ipam', node.netconf({ delegate: { ipam: {} } }), {}, 7],
      ['unsupported version', node.netconf({ cniVersion: '0.2.0' }), {}, 1],
      ['no CNI_NETNS', node.netconf(), { CNI_NETNS: '' }, 4],
      ['bad CNI_CONTAINERID', node.netconf(), { CNI_CONTAINERID: 'x/../../y' }, 4],
      ['bad CNI_IFNAME', node.netconf(), { CNI_IFNAME: 'a-very-long-ifname' }, 4],
      ['missing subnet.env', node.netconf({ subnetFile: join(node.dir, 'nope.env') }), {}, 11],
    ];
    for (const [label, stdin, env, code] of cases) {
      const out = await node.weft('ADD', stdin, { containerId: pod, netns: `/run/netns/${pod}`, ifname: 'eth0', env });
      t.same([out.code, out.json?.['code']], [1, code], `${label}: ${out.stdout}`);
    }
    const missingNs = await node.weft('ADD', node.netconf(), { containerId: 'nonetns', netns: `/run/netns/${node.tag}-absent`, ifname: 'eth0' });
    t.equal(missingNs.code, 1, 'a delegate failure (netns missing) fails the ADD');
    t.type(missingNs.json?.['code'], 'number');
    t.match(missingNs.json?.['msg'], /netns|namespace/i, String(missingNs.json?.['msg']));
    t.same(node.savedConfigs(), [], 'no saved config left');
    t.same(node.leasedAddresses(), before, 'no address leaked');
  });

  await t.test('root namespace untouched: ip_forward still 0', async (t) => {
    t.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '0');
  });
}
