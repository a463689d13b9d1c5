/**
 * IpRoute2 against the real kernel, in a namespace this test creates (a veth
 * pair stands in for the underlay: this kernel has no dummy driver).
 */
import { execa } from 'execa';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../src/core/cidr.js';
import { type KernelOp, type KernelState, EMPTY_STATE, describeOp, desiredState, isSatisfied, planKernel } from '../../src/core/kernel-state.js';
import type { Mac } from '../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig } from '../../src/core/network-config.js';
import { deviceMismatch, deviceSpec } from '../../src/core/vxlan-device.js';
import { IpRoute2 } from '../../src/adapters/iproute2/iproute2.js';
import { type CommandRunner, execaRunner } from '../../src/adapters/iproute2/runner.js';
import { requirePrerequisites } from '../helpers/require.js';
import { peerLease } from '../helpers/leases.js';
import { addNetns, ip, uniquePrefix } from '../rig/netns.js';
import { teardownPrefixSync } from '../rig/teardown.js';
import { childrenOf } from '../helpers/proc.js';

const prefix = uniquePrefix('wk');
const ns = `${prefix}-k`;
const self = '10.5.1.0/24' as Cidr;
const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan', VNI: 7 } });
if (!parsed.ok) throw new Error('bad config');
const config: NetworkConfig = parsed.config;

/** Kernel tables are sets: compare them sorted. */
function sorted(state: KernelState): KernelState {
  const by = <T>(key: (e: T) => string) => (a: T, b: T): number => key(a).localeCompare(key(b));
  return { routes: [...state.routes].sort(by((e) => e.dst)), neighbors: [...state.neighbors].sort(by((e) => e.ip)),
    fdb: [...state.fdb].sort(by((e) => e.mac)) };
}

/** Everything in a namespace except what is on the device, as JSON text. */
async function outside(netns: string | undefined, device: string): Promise<string> {
  const run = async (tool: string, args: string[]): Promise<unknown[]> => {
    const out = (await execa(tool, [...(netns ? ['-n', netns] : []), '-j', ...args])).stdout;
    return (out.trim() === '' ? [] : JSON.parse(out) as Record<string, unknown>[])
      .filter((e) => (e as Record<string, unknown>)['dev'] !== device && (e as Record<string, unknown>)['ifname'] !== device);
  };
  // IPv4 only: IPv6 DAD flips `tentative` flags by itself a second or two after a link comes up.
  const parts = await Promise.all([run('ip', ['-4', 'addr', 'show']), run('ip', ['-4', 'route', 'show', 'table', 'all']),
    run('ip', ['-4', 'neigh', 'show', 'nud', 'permanent']), run('bridge', ['fdb', 'show'])]);
  return JSON.stringify(parts);
}

if (requirePrerequisites(t, ['ip', 'bridge'], true)) {
  t.teardown(() => { teardownPrefixSync(prefix); });
  process.once('exit', () => { teardownPrefixSync(prefix); });

  await addNetns(ns);
  await ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
  await ip(['-n', ns, 'addr', 'add', '192.0.2.11/24', 'dev', 'eth0']);
  await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
  await ip(['-n', ns, 'link', 'set', 'eth1', 'up']);
  await ip(['-n', ns, 'route', 'add', 'default', 'via', '192.0.2.1']);

  const spawned: string[] = [];
  const base = execaRunner();
  const runner: CommandRunner = (file, args, options) => {
    spawned.push([file, ...args].join(' '));
    return base(file, args, options);
  };
  const kernel = new IpRoute2({ runner, netns: ns });
  const rootBefore = await outside(undefined, 'weft.7');

  const ext = await kernel.externalInterface({});
  const spec = deviceSpec(config, ext, 'host1');
  const dev = spec.name;

  t.test('external interface: default route, --iface by name or address, clear errors', async (t) => {
    t.match(ext, { name: 'eth0', address: '192.0.2.11', mtu: 1500 });
    t.match(await kernel.externalInterface({ iface: '192.0.2.11' }), { name: 'eth0' });
    t.match(await kernel.externalInterface({ publicIp: '192.0.2.11' as Ipv4 }), { name: 'eth0' });
    await t.rejects(kernel.externalInterface({ iface: 'eth1' }), { message: /eth1 \(--iface\) has no IPv4 address/ });
    await t.rejects(kernel.externalInterface({ iface: 'nope0' }), { message: /no interface named nope0/ });
    await t.rejects(kernel.externalInterface({ publicIp: '198.51.100.9' as Ipv4 }), { message: /--public-ip address 198.51.100.9/ });
  });

  t.test('device: created down with its MAC, then address, MTU and link up', async (t) => {
    t.equal(await kernel.readDevice(dev), undefined);
    await kernel.createDevice(spec);
    const created = await kernel.readDevice(dev);
    t.match(created, { kind: 'vxlan', vni: 7, port: 8472, local: '192.0.2.11', parent: 'eth0', mac: spec.mac, mtu: 1450, up: false, learning: false });
    t.equal(created && deviceMismatch(spec, created), undefined, 'what we create is what we want');
    await ip(['-n', ns, 'addr', 'add', '10.5.99.0/32', 'dev', dev]);
    await ip(['-n', ns, 'addr', 'add', '172.16.0.1/24', 'dev', dev]);
    t.same(await kernel.ensureAddress(dev, '10.5.1.0' as Ipv4, config.network), { added: true, removed: ['10.5.99.0/32'] });
    t.same(await kernel.ensureAddress(dev, '10.5.1.0' as Ipv4, config.network), { added: false, removed: [] });
    await kernel.setMtu(dev, 1400);
    await kernel.setUp(dev);
    const link = await kernel.readDevice(dev);
    t.match(link, { up: true, mtu: 1400 });
    t.same([...(link?.addresses ?? [])].sort(), ['10.5.1.0/32', '172.16.0.1/24'], 'the address outside the network stays');
    await kernel.setMtu(dev, spec.mtu);
  });

  const peers = Array.from({ length: 200 }, (_, i) => peerLease(i + 2));
  const desired = desiredState(self, peers);

  t.test('apply: 3N entries through the batch path, read back equal, then nothing to do', async (t) => {
    const ops = planKernel(desired, await kernel.readState(dev));
    t.equal(ops.length, 600);
    const before = spawned.length;
    const started = process.hrtime.bigint();
    const report = await kernel.apply(dev, ops);
    t.comment(`applied ${ops.length} entries in ${Number(process.hrtime.bigint() - started) / 1e6} ms`);
    t.same(report, { applied: 600, failed: [] });
    t.same(spawned.slice(before).map((c) => c.replace(/^(\S+).*/, '$1')), ['ip', 'bridge'], 'one ip and one bridge process');
    t.same(sorted(await kernel.readState(dev)), sorted(desired));
    t.same(planKernel(desired, await kernel.readState(dev)), []);
  });

  t.test('apply: failing operations (including one that makes ip exit) do not block the others', async (t) => {
    // `ip neigh` exits on a kernel error (here a 2-byte link address); a bad route gateway is reported per line.
    const badNeighbor: KernelOp = { action: 'replace', kind: 'neighbor', entry: { ip: '10.5.250.0' as Ipv4, mac: '0a:00' as Mac } };
    const badRoute: KernelOp = { action: 'replace', kind: 'route', entry: { dst: '10.5.251.0/24' as Cidr, via: '127.0.0.1' as Ipv4 } };
    const goneNeighbor: KernelOp = { action: 'delete', kind: 'neighbor', entry: { ip: '10.5.252.0' as Ipv4, mac: '0a:00:00:00:00:fc' as Mac } };
    const adds = planKernel(desiredState(self, [peerLease(230), peerLease(231), peerLease(232)]), EMPTY_STATE);
    const [fdb1, fdb2, fdb3, n1, n2, n3, ...routes] = adds;
    if (!fdb1 || !fdb2 || !fdb3 || !n1 || !n2 || !n3) throw new Error('plan too short');
    const ops: KernelOp[] = [fdb1, fdb2, fdb3, n1, badRoute, n2, badNeighbor, goneNeighbor, n3, ...routes];
    const report = await kernel.apply(dev, ops);
    t.same(report.failed.map((f) => describeOp(f.op)), [describeOp(badRoute), describeOp(badNeighbor)]);
    t.match(report.failed.map((f) => f.error), [/invalid gateway/, /Invalid link address/]);
    t.equal(report.applied, ops.length - 2, 'deleting a neighbour that is not there counts as done');
    const state = await kernel.readState(dev);
    for (const op of adds) t.ok(isSatisfied(op, state), describeOp(op));
  });

  t.test('long-lived batch children: one ip child serves many applies; per-line failures and a child that exits are handled', async (t) => {
    const persistent = new IpRoute2({ netns: ns });
    t.teardown(() => persistent.close());
    const children = (): string[] => childrenOf(process.pid).filter((c) => c.comm === 'ip').map((c) => String(c.pid));
    const [a, b] = [peerLease(233), peerLease(234)];
    const addA = planKernel(desiredState(self, [a]), EMPTY_STATE);
    t.same(await persistent.apply(dev, addA), { applied: 3, failed: [] });
    const first = children();
    t.equal(first.length, 1, 'one ip child stays');
    const addB = planKernel(desiredState(self, [b]), EMPTY_STATE);
    t.same(await persistent.apply(dev, addB), { applied: 3, failed: [] });
    t.same(children(), first, 'the same child applied the second batch');
    const state = await persistent.readState(dev);
    for (const op of [...addA, ...addB]) t.ok(isSatisfied(op, state), describeOp(op));
    // A bad route is reported by line; a bad neighbour makes ip exit: the rest still happens, through a new child.
    const badNeighbor: KernelOp = { action: 'replace', kind: 'neighbor', entry: { ip: '10.5.242.0' as Ipv4, mac: '0a:00' as Mac } };
    const badRoute: KernelOp = { action: 'replace', kind: 'route', entry: { dst: '10.5.243.0/24' as Cidr, via: '127.0.0.1' as Ipv4 } };
    const adds = planKernel(desiredState(self, [peerLease(235), peerLease(236)]), EMPTY_STATE);
    const [f1, f2, n1, n2, ...routes] = adds;
    if (!f1 || !f2 || !n1 || !n2) throw new Error('plan too short');
    const report = await persistent.apply(dev, [f1, f2, n1, badRoute, badNeighbor, n2, ...routes]);
    t.same(report.failed.map((f) => describeOp(f.op)), [describeOp(badRoute), describeOp(badNeighbor)]);
    t.match(report.failed.map((f) => f.error), [/invalid gateway/, /Invalid link address/]);
    const after = await persistent.readState(dev);
    for (const op of adds) t.ok(isSatisfied(op, after), describeOp(op));
    t.not(children(), first, 'the child that exited was replaced');
    const removeAll = [...addA, ...addB, ...adds].reverse().map((op) => ({ ...op, action: 'delete' }) as KernelOp);
    t.same((await persistent.apply(dev, removeAll)).failed, []);
    persistent.close();
  });

  t.test('a pass removes hand-added weft-shaped entries and leaves foreign ones alone', async (t) => {
    await ip(['-n', ns, 'neigh', 'add', '10.5.240.0', 'lladdr', '0a:00:00:00:00:f0', 'dev', dev, 'nud', 'permanent']);
    await ip(['-n', ns, 'route', 'add', '10.5.240.0/24', 'via', '10.5.240.0', 'dev', dev, 'onlink']);
    await execa('bridge', ['-n', ns, 'fdb', 'add', '0a:00:00:00:00:f0', 'dev', dev, 'dst', '192.0.2.240', 'self', 'permanent']);
    await execa('bridge', ['-n', ns, 'fdb', 'append', '00:00:00:00:00:00', 'dev', dev, 'dst', '192.0.2.241', 'self', 'permanent']);
    await ip(['-n', ns, 'route', 'add', '10.6.0.0/24', 'dev', dev]);
    const insideBefore = await outside(ns, dev);
    const ops = planKernel(desired, await kernel.readState(dev));
    t.ok(ops.some((op) => op.kind === 'fdb' && op.entry.mac === '0a:00:00:00:00:f0'));
    t.ok(ops.every((op) => op.action === 'delete'), 'only deletes: the peers are all in place');
    t.same((await kernel.apply(dev, ops)).failed, []);
    t.same(sorted(await kernel.readState(dev)), sorted(desired));
    t.match(await ip(['-n', ns, 'route', 'show', 'dev', dev, '10.6.0.0/24']), /10\.6\.0\.0\/24/, 'a scope-link route is not ours');
    const { stdout } = await execa('bridge', ['-n', ns, 'fdb', 'show', 'dev', dev]);
    t.match(stdout, /00:00:00:00:00:00 dst 192\.0\.2\.241/, 'the all-zero default remote is not ours');
    t.equal(await outside(ns, dev), insideBefore, 'nothing outside the device changed');
  });

  t.test('deleting the device drops every entry; missing device is not an error to delete', async (t) => {
    await kernel.deleteDevice(dev);
    t.equal(await kernel.readDevice(dev), undefined);
    await t.resolves(kernel.deleteDevice(dev));
    await t.rejects(kernel.readState(dev), { name: 'KernelCommandError' });
    t.equal(await outside(undefined, 'weft.7'), rootBefore, 'the root namespace is unchanged');
  });
}
