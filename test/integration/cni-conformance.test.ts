/**
 * CNI conformance, table-driven: each case is a rule of the CNI spec
 * (SPEC.md 1.1.0 unless it says otherwise; "§2" is "Execution Protocol",
 * "§3" "Execution of Network Configurations", "§4" "Plugin Delegation",
 * "§5" "Result Types") or a field failure weft must not repeat, run against
 * the built plugin and Debian's containernetworking-plugins 1.1.1 (bridge,
 * host-local, loopback, portmap) in a node namespace and pod namespaces this
 * test creates. Every case gets its own node (namespace, dataDir, host-local
 * dir), so the cases cannot see each other's state.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installFakeDelegates } from '../helpers/cni-fake-delegates.js';
import { BUNDLE, CniPluginNode, mustRun, PLUGINS_DIR, runProgram, type Run } from '../helpers/cni-plugin-node.js';
import { requirePrerequisites } from '../helpers/require.js';

const SUBNET = 'FLANNEL_NETWORK=10.77.0.0/16\nFLANNEL_SUBNET=10.77.5.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const MOVED = 'FLANNEL_NETWORK=10.77.0.0/16\nFLANNEL_SUBNET=10.77.6.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** The IPv4 address on a pod's interface, or '' when the interface is not there. */
async function podAddress(ns: string, ifname = 'eth0'): Promise<string> {
  const r = await runProgram('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', ifname]);
  return r.code === 0 ? r.stdout.split(/\s+/)[3] ?? '' : '';
}

async function hasLink(ns: string, ifname: string): Promise<boolean> {
  return (await runProgram('ip', ['-n', ns, 'link', 'show', 'dev', ifname])).code === 0;
}

function firstAddress(run: Run): string {
  const ips = run.json?.['ips'] as Array<{ address: string }> | undefined;
  return ips?.[0]?.address ?? '';
}

interface Case {
  /** The rule, where the spec (or the field) states it. */
  readonly spec: string;
  readonly title: string;
  readonly run: (t: Test, node: CniPluginNode) => Promise<void>;
}

const CASES: Case[] = [
  ...VERSIONS.map((version): Case => ({
    spec: `§2 ADD/CHECK/DEL/STATUS/GC/VERSION, cniVersion ${version}`,
    title: 'the whole lifecycle, each command allowed or refused with 1 as the version says',
    async run(t, node) {
      const pod = await node.addPod('v');
      const conf = node.netconf({ cniVersion: version });
      const versionAnswer = await node.weft('VERSION', { cniVersion: version });
      t.ok((versionAnswer.json?.['supportedVersions'] as string[]).includes(version), 'VERSION lists it');
      const add = await node.pod('ADD', pod, conf);
      t.equal(add.code, 0, add.stdout);
      t.equal(add.json?.['cniVersion'], version, 'the result is in the request\'s version');
      t.equal(firstAddress(add), await podAddress(pod), 'the address in the result is on eth0');
      if (version < '1.0.0') t.match(add.json, { ips: [{ version: '4' }] }, 'pre-1.0 results carry ips[].version');
      const check = await node.pod('CHECK', pod, { ...conf, prevResult: add.json });
      if (version >= '0.4.0') t.same([check.code, check.stdout], [0, ''], `CHECK ${check.stdout}`);
      else t.same([check.json?.['code'], check.json?.['cniVersion']], [1, version], 'CHECK is 1 below 0.4.0');
      for (const command of ['STATUS', 'GC'] as const) {
        const extra = command === 'GC' ? { 'cni.dev/valid-attachments': [{ containerID: pod, ifname: 'eth0' }] } : {};
        const out = await node.weft(command, { ...conf, ...extra });
        if (version === '1.1.0') t.same([out.code, out.stdout], [0, ''], `${command} ${out.stdout}`);
        else t.same([out.json?.['code'], out.json?.['cniVersion']], [1, version], `${command} is 1 below 1.1.0`);
      }
      t.equal(node.leasedAddresses().length, 1, 'GC kept the valid attachment');
      const del = await node.pod('DEL', pod, { ...conf, prevResult: add.json });
      t.same([del.code, del.stdout], [0, ''], del.stdout);
      t.notOk(await hasLink(pod, 'eth0'), 'eth0 is gone');
      t.same([node.leasedAddresses(), node.savedConfigs()], [[], []], 'address released, record dropped');
    },
  })),
  {
    spec: '§2 DEL ("must not return an error" for missing resources)',
    title: 'DEL of an attachment weft never saw, and a second DEL, succeed',
    async run(t, node) {
      const pod = await node.addPod('d');
      t.same((await node.pod('DEL', pod, node.netconf())).code, 0);
      await node.pod('ADD', pod, node.netconf());
      t.same((await node.pod('DEL', pod, node.netconf())).code, 0);
      t.same((await node.pod('DEL', pod, node.netconf())).code, 0);
      t.same(node.leasedAddresses(), []);
    },
  },
  {
    spec: '§3 Attachment (network, CNI_CONTAINERID, CNI_IFNAME)',
    title: 'two interfaces of one container on the network: each DEL releases exactly its own',
    async run(t, node) {
      const pod = await node.addPod('two');
      const call = (command: string, ifname: string): Promise<Run> => node.weft(command, node.netconf(), { containerId: pod, netns: `/run/netns/${pod}`, ifname });
      const eth0 = await call('ADD', 'eth0');
      const net1 = await call('ADD', 'net1');
      t.same([eth0.code, net1.code], [0, 0], eth0.stdout + net1.stdout);
      t.not(firstAddress(eth0), firstAddress(net1));
      t.equal(node.leasedAddresses().length, 2);
      t.equal((await call('DEL', 'net1')).code, 0);
      t.notOk(await hasLink(pod, 'net1'), 'net1 gone');
      t.equal(await podAddress(pod, 'eth0'), firstAddress(eth0), 'eth0 untouched');
      t.same(node.leasedAddresses(), [firstAddress(eth0).split('/')[0]], 'only net1\'s address released');
      const check = await node.weft('CHECK', node.netconf({ prevResult: eth0.json }), { containerId: pod, netns: `/run/netns/${pod}`, ifname: 'eth0' });
      t.same([check.code, check.stdout], [0, ''], `CHECK eth0 still passes ${check.stdout}`);
      t.equal((await call('DEL', 'eth0')).code, 0);
      t.notOk(await hasLink(pod, 'eth0'));
      t.same([node.leasedAddresses(), node.savedConfigs()], [[], []]);
    },
  },
  {
    spec: '§3 Attachment (network name is part of the key)',
    title: 'one container on two weft networks sharing dataDir: DEL of one leaves the other',
    async run(t, node) {
      const pod = await node.addPod('nets');
      const subnetB = join(node.dir, 'subnet-b.env');
      writeFileSync(subnetB, 'FLANNEL_NETWORK=10.78.0.0/16\nFLANNEL_SUBNET=10.78.9.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
      const netA = node.netconf();
      const netB = node.netconf({ name: `${node.network}b`, subnetFile: subnetB, delegate: { bridge: `${node.tag}b` } });
      const onB = { containerId: pod, netns: `/run/netns/${pod}`, ifname: 'eth1' };
      t.equal((await node.pod('ADD', pod, netA)).code, 0);
      const b = await node.weft('ADD', netB, onB);
      t.equal(b.code, 0, b.stdout);
      t.match(firstAddress(b), /^10\.78\.9\.\d+\/24$/);
      t.equal((await node.pod('DEL', pod, netA)).code, 0);
      t.notOk(await hasLink(pod, 'eth0'));
      t.equal(await podAddress(pod, 'eth1'), firstAddress(b), 'the other network\'s interface stays');
      t.same([node.leasedAddresses(), node.leasedAddresses(`${node.network}b`).length], [[], 1]);
      t.equal((await node.weft('DEL', netB, onB)).code, 0);
      t.same([node.leasedAddresses(`${node.network}b`), node.savedConfigs(`${node.network}b`)], [[], []]);
    },
  },
  {
    spec: '§4 Delegated plugin execution ("If a plugin ... fails, the calling plugin should call DEL")',
    title: 'requested address already taken: ADD fails with the delegate\'s error, leaves nothing; DEL and a retry work',
    async run(t, node) {
      const [p1, p2] = [await node.addPod('r1'), await node.addPod('r2')];
      const first = await node.pod('ADD', p1, node.netconf());
      const taken = firstAddress(first).split('/')[0] ?? '';
      // The netconf's "args" reach host-local through the delegate (CONVENTIONS.md "args": cni.ips).
      const add = await node.pod('ADD', p2, node.netconf({ args: { cni: { ips: [taken] } } }));
      t.equal(add.code, 1);
      t.match(add.json?.['msg'], new RegExp(`requested IP address ${taken.replace(/\./g, '\\.')} is not available`), String(add.json?.['msg']));
      t.notOk(await hasLink(p2, 'eth0'), 'the veth the bridge made before host-local failed is gone');
      t.same(node.savedConfigs(), [`${p1}:eth0`]);
      t.equal((await node.pod('DEL', p2, node.netconf())).code, 0, 'the runtime\'s DEL succeeds');
      const retry = await node.pod('ADD', p2, node.netconf());
      t.equal(retry.code, 0, `a retry ADD works ${retry.stdout}`);
      t.equal(node.leasedAddresses().length, 2);
    },
  },
  {
    spec: '§4 Delegated plugin execution; issue 8 item 8',
    title: 'a delegate that fails after IPAM: weft\'s DEL releases the address and the veth at once',
    async run(t, node) {
      const pod = await node.addPod('fa');
      const conf = node.netconf({ delegate: { type: 'failafter', bridge: node.bridge } });
      const add = await node.pod('ADD', pod, conf);
      t.match(add.json, { code: 999, msg: /failing after the bridge ADD succeeded/ });
      t.same([node.leasedAddresses(), node.savedConfigs()], [[], []], 'no address reserved, no record');
      t.notOk(await hasLink(pod, 'eth0'));
      t.equal((await node.pod('DEL', pod, conf)).code, 0, 'the runtime\'s DEL succeeds');
    },
  },
  {
    spec: '§4 Delegated plugin execution; issue 8 item 8',
    title: 'a delegate that fails after IPAM and whose DEL fails too: the record stays, the runtime\'s DEL releases everything',
    async run(t, node) {
      const pod = await node.addPod('fd');
      const conf = node.netconf({ delegate: { type: 'failafter', bridge: node.bridge } });
      writeFileSync(join(node.cniBin, 'del-fails'), '');
      const add = await node.pod('ADD', pod, conf);
      t.match(add.json, { code: 999, msg: /failing after the bridge ADD succeeded/ }, 'the ADD\'s error, not the DEL\'s');
      t.equal(node.leasedAddresses().length, 1, 'the address is still reserved');
      t.same(node.savedConfigs(), [`${pod}:eth0`], 'and the record kept');
      t.equal((await node.pod('DEL', pod, conf)).code, 1, 'DEL fails while the delegate does');
      rmQuiet(join(node.cniBin, 'del-fails'));
      t.equal((await node.pod('DEL', pod, conf)).code, 0);
      t.same([node.leasedAddresses(), node.savedConfigs()], [[], []], 'released');
      t.notOk(await hasLink(pod, 'eth0'));
    },
  },
  {
    spec: '§4 Delegated plugin execution (delegate found through CNI_PATH)',
    title: 'host-local missing from CNI_PATH: ADD fails; once it is back the runtime\'s DEL cleans up and a retry works',
    async run(t, node) {
      const pod = await node.addPod('nh');
      const onlyBridge = join(node.dir, 'only-bridge');
      mkdirSync(onlyBridge);
      symlinkSync(join(PLUGINS_DIR, 'bridge'), join(onlyBridge, 'bridge'));
      const add = await node.pod('ADD', pod, node.netconf(), { CNI_PATH: `${node.cniBin}:${onlyBridge}` });
      t.equal(add.code, 1);
      t.match(add.json?.['msg'], /host-local/, String(add.json?.['msg']));
      t.same(node.savedConfigs(), [`${pod}:eth0`], 'the undoing DEL could not run host-local either: the record is kept');
      const del = await node.pod('DEL', pod, node.netconf());
      t.same([del.code, del.stdout], [0, ''], del.stdout);
      t.notOk(await hasLink(pod, 'eth0'), 'the veth left by the failed ADD is gone');
      t.same(node.savedConfigs(), []);
      const retry = await node.pod('ADD', pod, node.netconf());
      t.equal(retry.code, 0, `retry ${retry.stdout}`);
      t.equal(await podAddress(pod), firstAddress(retry));
    },
  },
  {
    spec: '§3 Adding an attachment / §5 (prevResult passed through or modified)',
    title: 'weft after another plugin (loopback): its result is kept and weft\'s appended; CHECK passes',
    async run(t, node) {
      const pod = await node.addPod('chain');
      const lo = await runProgram('ip', ['netns', 'exec', node.nodeNs, join(PLUGINS_DIR, 'loopback')], {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_COMMAND: 'ADD', CNI_CONTAINERID: pod, CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: 'lo', CNI_PATH: PLUGINS_DIR },
        input: JSON.stringify({ cniVersion: '1.0.0', name: node.network, type: 'loopback' }),
      });
      t.equal(lo.code, 0, lo.stdout);
      const add = await node.pod('ADD', pod, node.netconf({ prevResult: lo.json }));
      t.equal(add.code, 0, add.stdout);
      const interfaces = add.json?.['interfaces'] as Array<{ name: string; sandbox?: string }>;
      const loInterfaces = (lo.json?.['interfaces'] as unknown[] | undefined) ?? [];
      t.same(interfaces.slice(0, loInterfaces.length), loInterfaces, 'loopback\'s interfaces first, unchanged');
      const ips = add.json?.['ips'] as Array<{ interface: number; address: string }>;
      const loIps = (lo.json?.['ips'] as unknown[] | undefined) ?? [];
      t.ok(loIps.length > 0, 'loopback reported its addresses');
      t.same(ips.slice(0, loIps.length), loIps, 'loopback\'s addresses first, unchanged');
      const own = ips.find((ip) => ip.address.startsWith('10.77.5.'));
      t.equal(interfaces[own?.interface ?? -1]?.name, 'eth0', 'weft\'s address points at eth0 in the merged list');
      const check = await node.pod('CHECK', pod, node.netconf({ prevResult: add.json }));
      t.same([check.code, check.stdout], [0, ''], `CHECK with the whole chain's prevResult: ${check.stdout}`);
    },
  },
  {
    spec: '§3 Adding an attachment (prevResult to the next plugin)',
    title: 'portmap after weft: portmap takes weft\'s result and maps the port to weft\'s address',
    async run(t, node) {
      const pod = await node.addPod('pm');
      const add = await node.pod('ADD', pod, node.netconf());
      const address = firstAddress(add).split('/')[0] ?? '';
      const pmConf = { cniVersion: '1.0.0', name: node.network, type: 'portmap', capabilities: { portMappings: true },
        runtimeConfig: { portMappings: [{ hostPort: 18181, containerPort: 8080, protocol: 'tcp' }] }, prevResult: add.json };
      const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CNI_CONTAINERID: pod, CNI_NETNS: `/run/netns/${pod}`, CNI_IFNAME: 'eth0', CNI_PATH: PLUGINS_DIR };
      const portmap = (command: string): Promise<Run> => runProgram('ip', ['netns', 'exec', node.nodeNs, join(PLUGINS_DIR, 'portmap')], { env: { ...env, CNI_COMMAND: command }, input: JSON.stringify(pmConf) });
      const pm = await portmap('ADD');
      t.equal(pm.code, 0, pm.stdout);
      t.same(pm.json?.['ips'], add.json?.['ips'], 'portmap passes weft\'s result on');
      const nat = await mustRun('ip', ['netns', 'exec', node.nodeNs, 'iptables', '-t', 'nat', '-S']);
      t.match(nat, new RegExp(`--dport 18181 .*--to-destination ${address.replace(/\./g, '\\.')}:8080`), 'DNAT to weft\'s address');
      t.equal((await portmap('DEL')).code, 0);
      t.equal((await node.pod('DEL', pod, node.netconf())).code, 0);
    },
  },
  {
    spec: '§2 GC / §3 Garbage-collecting a network (delegate without GC: bridge 1.1.1)',
    title: 'GC releases stale attachments with the delegate\'s DEL and keeps valid ones',
    async run(t, node) {
      const [keep, stale] = [await node.addPod('gk'), await node.addPod('gs')];
      const added = await node.pod('ADD', keep, node.netconf());
      await node.pod('ADD', stale, node.netconf());
      const gc = await node.weft('GC', node.netconf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: keep, ifname: 'eth0' }] }));
      t.same([gc.code, gc.stdout], [0, ''], gc.stdout);
      t.same(node.leasedAddresses(), [firstAddress(added).split('/')[0]], 'only the valid attachment\'s address is reserved');
      t.notOk(await hasLink(stale, 'eth0'), 'the stale veth is gone (its netns still existed)');
      t.ok(await hasLink(keep, 'eth0'));
      t.same(node.savedConfigs(), [`${keep}:eth0`]);
    },
  },
  {
    spec: '§2 GC (delegate that supports GC)',
    title: 'GC releases stale attachments, then forwards GC with the valid list to a 1.1.0 delegate',
    async run(t, node) {
      const [keep, stale] = [await node.addPod('hk'), await node.addPod('hs')];
      const conf = node.netconf({ cniVersion: '1.1.0', delegate: { type: 'gcbridge', bridge: node.bridge } });
      const added = await node.pod('ADD', keep, conf);
      t.equal(added.code, 0, added.stdout);
      await node.pod('ADD', stale, conf);
      const valid = [{ containerID: keep, ifname: 'eth0' }];
      const gc = await node.weft('GC', { ...conf, 'cni.dev/valid-attachments': valid });
      t.same([gc.code, gc.stdout], [0, ''], gc.stdout);
      const log = readFileSync(join(node.cniBin, 'gc.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { cmd: string; conf: Record<string, unknown> });
      t.same(log.map((l) => l.cmd), ['GC'], 'the delegate got GC once');
      t.same(log[0]?.conf['cni.dev/valid-attachments'], valid);
      t.equal(log[0]?.conf['cniVersion'], '1.1.0');
      t.same(node.leasedAddresses(), [firstAddress(added).split('/')[0]], 'the stale attachment was released first');
    },
  },
  {
    spec: 'upgrade (issue 13: state migrated from the old layout)',
    title: 'a container whose state is an old-layout file <dataDir>/<id>: DEL releases its address and veth; GC adopts a stale one',
    async run(t, node) {
      const [kept, stale] = [await node.addPod('up1'), await node.addPod('up2')];
      for (const pod of [kept, stale]) {
        t.equal((await node.pod('ADD', pod, node.netconf())).code, 0);
        // What the previous release left: the delegate config alone, named by the container ID.
        const recordFile = join(node.dataDir, '_attachments', node.network, `${pod}:eth0`);
        const record = JSON.parse(readFileSync(recordFile, 'utf8')) as { conf: string };
        writeFileSync(join(node.dataDir, pod), record.conf, { mode: 0o600 });
        rmSync(recordFile);
      }
      t.same([node.savedConfigs(), node.otherDataFiles()], [[], [kept, stale].sort()], 'only old-layout files');
      const del = await node.pod('DEL', kept, node.netconf());
      t.same([del.code, del.stdout], [0, ''], del.stdout);
      t.notOk(await hasLink(kept, 'eth0'), 'the pre-upgrade container\'s veth is gone');
      t.equal(node.leasedAddresses().length, 1, 'and its address released');
      const gc = await node.weft('GC', node.netconf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }));
      t.same([gc.code, gc.stdout], [0, ''], gc.stdout);
      // The old layout did not record CNI_NETNS, so GC's DEL has none: the address is released, the veth
      // goes with the netns the runtime deletes (docs/cni.md).
      t.same([node.leasedAddresses(), node.savedConfigs(), node.otherDataFiles()], [[], [], []], 'GC released the other one\'s address');
    },
  },
  {
    spec: '§2 Parameters (CNI_NETNS is the container\'s namespace); §2 Errors code 4',
    title: 'CNI_NETNS naming the plugin\'s own namespace is refused: nothing is created on the host',
    async run(t, node) {
      const before = await mustRun('ip', ['-n', node.nodeNs, '-o', 'link']);
      const add = await node.weft('ADD', node.netconf({ cniVersion: '0.3.1' }), { containerId: 'own', netns: `/run/netns/${node.nodeNs}`, ifname: 'eth9' });
      t.same([add.json?.['code'], add.json?.['cniVersion']], [4, '0.3.1']);
      t.match(add.json?.['msg'], /is the network namespace the plugin runs in/);
      t.equal(await mustRun('ip', ['-n', node.nodeNs, '-o', 'link']), before, 'no eth9, no bridge');
      t.same(node.savedConfigs(), []);
    },
  },
  {
    spec: '§2 Errors (cniVersion of the request)',
    title: 'errors found before the netconf is parsed still carry the request\'s cniVersion',
    async run(t, node) {
      const out = await node.weft('ADD', node.netconf({ cniVersion: '0.3.1' }), { containerId: 'x', ifname: 'eth0' });
      t.same([out.json?.['code'], out.json?.['cniVersion']], [4, '0.3.1'], out.stdout);
    },
  },
  {
    spec: 'field-failures §1.10 (cni0 "already has an IP address different from")',
    title: 'stale cni0: 11 naming address, containers and fix while one is attached; re-addressed once none is',
    async run(t, node) {
      const [old, fresh] = [await node.addPod('old'), await node.addPod('new')];
      t.equal((await node.pod('ADD', old, node.netconf())).code, 0);
      writeFileSync(node.subnetFile, MOVED);
      const refused = await node.pod('ADD', fresh, node.netconf());
      t.equal(refused.json?.['code'], 11, refused.stdout);
      const text = `${String(refused.json?.['msg'])} ${String(refused.json?.['details'])}`;
      t.match(text, /stale address 10\.77\.5\.1\/24/);
      t.match(text, /10\.77\.6\.0\/24/);
      t.ok(text.includes(`container ${old} (${node.network}/eth0`), `names the attached container: ${text}`);
      t.match(text, /fix: remove or recreate those containers/);
      t.match(await mustRun('ip', ['-n', node.nodeNs, '-4', '-o', 'addr', 'show', 'dev', node.bridge]), /10\.77\.5\.1\/24/, 'the bridge was not touched');
      t.notOk(await hasLink(fresh, 'eth0'));
      t.equal((await node.pod('DEL', old, node.netconf())).code, 0, 'the old container goes');
      const add = await node.pod('ADD', fresh, node.netconf());
      t.equal(add.code, 0, add.stdout);
      t.match(firstAddress(add), /^10\.77\.6\.\d+\/24$/);
      const bridgeAddr = await mustRun('ip', ['-n', node.nodeNs, '-4', '-o', 'addr', 'show', 'dev', node.bridge]);
      t.match(bridgeAddr, /10\.77\.6\.1\/24/);
      t.notMatch(bridgeAddr, /10\.77\.5\.1/);
      const ping = await runProgram('ip', ['netns', 'exec', fresh, 'ping', '-c', '1', '-W', '2', '10.77.6.1']);
      t.equal(ping.code, 0, 'the new container reaches its gateway');
    },
  },
];

function rmQuiet(path: string): void {
  try {
    rmSync(path);
  } catch {
    // gone
  }
}

if (requirePrerequisites(t, ['ip', 'ping', 'iptables', `${PLUGINS_DIR}/bridge`, `${PLUGINS_DIR}/host-local`, `${PLUGINS_DIR}/loopback`, `${PLUGINS_DIR}/portmap`], true)) {
  if (!existsSync(BUNDLE)) t.fail(`${BUNDLE} is missing: run node scripts/bundle.mjs`);
  else {
    for (const c of CASES) {
      t.test(`SPEC ${c.spec}: ${c.title}`, async (t) => {
        const node = new CniPluginNode();
        t.teardown(() => node.cleanup());
        await node.start(SUBNET);
        installFakeDelegates(node.cniBin);
        await c.run(t, node);
      });
    }
    t.test('root namespace untouched: ip_forward still 0', async (t) => {
      t.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '0');
    });
  }
}
