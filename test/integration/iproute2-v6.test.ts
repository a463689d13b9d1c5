/**
 * The IPv6 kernel adapter (IpRoute2 { family: 6 }) and monitor against the
 * real kernel, in two namespaces this test creates, joined by a veth pair
 * that carries only an IPv6 underlay (fd00:99::/64). The proof that the
 * entries are right: ping6 between the two hosts' `/128`s through two
 * `weft-v6.1` devices programmed only through the adapter.
 *
 * What the kernel does with the MTU of an IPv6-underlay vxlan device with a
 * parent (measured here, kernel 6.x): the ceiling is the parent's MTU − 70;
 * a device created asking for more is created at the ceiling without a word,
 * and a later `ip link set mtu` above it fails with EINVAL.
 */
import { execa } from 'execa';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../src/core/cidr.js';
import type { Cidr6, Ipv6 } from '../../src/core/cidr6.js';
import { type KernelChange, describeChange } from '../../src/core/kernel-change.js';
import { type FdbEntry, type KernelState, type Neighbor, type Route, describeOp, isSatisfied, planKernel } from '../../src/core/kernel-state.js';
import { type Mac, vtepMacFor } from '../../src/core/mac.js';
import { type NetworkConfig, parseNetworkConfig } from '../../src/core/network-config.js';
import { deviceMismatch, deviceSpec6 } from '../../src/core/vxlan-device.js';
import { IpRoute2 } from '../../src/adapters/iproute2/iproute2.js';
import { IpRoute2Monitor } from '../../src/adapters/iproute2/kernel-monitor.js';
import { requirePrerequisites } from '../helpers/require.js';
import { addNetns, inNetns, ip, uniquePrefix } from '../rig/netns.js';
import { teardownPrefixSync } from '../rig/teardown.js';

const prefix = uniquePrefix('wk6');
interface Host { readonly ns: string; readonly node: string; readonly underlay: Ipv6; readonly subnet: Cidr6 }
const hosts: readonly [Host, Host] = [
  { ns: `${prefix}-a`, node: 'host-a', underlay: 'fd00:99::11' as Ipv6, subnet: 'fd00:10:0:1::/64' as Cidr6 },
  { ns: `${prefix}-b`, node: 'host-b', underlay: 'fd00:99::12' as Ipv6, subnet: 'fd00:10:0:2::/64' as Cidr6 },
];
const network6 = 'fd00:10::/48' as Cidr6;
const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: network6, Backend: { Type: 'vxlan', VNI: 1 } });
if (!parsed.ok) throw new Error(parsed.errors.join('; '));
const config: NetworkConfig = parsed.config;

/** IPv6 text in the entry types, as the IPv6 adapter reads and writes it. */
const v4ish = (text: string): Ipv4 => text as Ipv4;
const gateway = (subnet: Cidr6): Ipv6 => subnet.slice(0, subnet.indexOf('/')) as Ipv6;

/** The three entries a host holds for a peer (flannel's IPv6 path): neighbour, FDB entry, onlink route. */
function peerEntries(subnet: Cidr6, mac: Mac, publicIpv6: Ipv6): KernelState {
  const via = v4ish(gateway(subnet));
  const neighbor: Neighbor = { ip: via, mac };
  const fdb: FdbEntry = { mac, dst: v4ish(publicIpv6) };
  const route: Route = { dst: subnet as string as Cidr, via };
  return { neighbors: [neighbor], fdb: [fdb], routes: [route] };
}

function merge(...states: KernelState[]): KernelState {
  return { neighbors: states.flatMap((s) => s.neighbors), fdb: states.flatMap((s) => s.fdb), routes: states.flatMap((s) => s.routes) };
}

/** Kernel tables are sets: compare them sorted. */
function sorted(state: KernelState): KernelState {
  const by = <T>(key: (e: T) => string) => (a: T, b: T): number => key(a).localeCompare(key(b));
  return { routes: [...state.routes].sort(by((e) => e.dst)), neighbors: [...state.neighbors].sort(by((e) => e.ip)),
    fdb: [...state.fdb].sort(by((e) => e.mac)) };
}

/** The root namespace's links and addresses (without lifetimes and DAD flags), to show nothing there changed. */
async function rootSnapshot(): Promise<string> {
  const links = JSON.parse((await execa('ip', ['-j', 'addr', 'show'])).stdout) as { ifname: string; addr_info: { local: string; prefixlen: number }[] }[];
  const routes = (await execa('ip', ['-6', 'route', 'show'])).stdout;
  return JSON.stringify([links.map((l) => [l.ifname, l.addr_info.map((a) => `${a.local}/${a.prefixlen}`)]), routes]);
}

if (requirePrerequisites(t, ['ip', 'bridge', 'ping', 'sysctl'], true)) {
  t.teardown(() => { teardownPrefixSync(prefix); });
  process.once('exit', () => { teardownPrefixSync(prefix); });
  const rootBefore = await rootSnapshot();

  const [a, b] = hosts;
  for (const h of hosts) await addNetns(h.ns);
  await ip(['-n', a.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.ns]);
  for (const h of hosts) {
    await ip(['-n', h.ns, 'addr', 'add', `${h.underlay}/64`, 'dev', 'eth0', 'nodad']);
    await ip(['-n', h.ns, 'link', 'set', 'eth0', 'up']);
  }

  const kernels = hosts.map((h) => new IpRoute2({ netns: h.ns, family: 6 }));
  const [ka, kb] = kernels as [IpRoute2, IpRoute2];
  t.teardown(() => { for (const k of kernels) k.close(); });
  const specs = await Promise.all(hosts.map(async (h, i) => deviceSpec6(config, await (kernels[i] as IpRoute2).externalInterface6('eth0'), h.node)));
  const [specA, specB] = specs as [typeof specs[0], typeof specs[0]];
  const dev = specA.name;

  t.test('external IPv6 address: the global one, never link-local; a link-local-only interface is a clear error', async (t) => {
    t.match(specA, { name: 'weft-v6.1', local: 'fd00:99::11', parent: 'eth0', mtu: 1430, mac: vtepMacFor('host-a', 1, 6) });
    t.equal(specB.local, 'fd00:99::12');
    await ip(['-n', a.ns, 'link', 'add', 'll0', 'type', 'veth', 'peer', 'name', 'll1']);
    await ip(['-n', a.ns, 'link', 'set', 'll0', 'up']);
    await ip(['-n', a.ns, 'link', 'set', 'll1', 'up']);
    // The link-local address appears once the link is up (after DAD, which `ip` does not wait for).
    for (let i = 0; i < 100 && !/fe80::/.test(await ip(['-n', a.ns, '-6', 'addr', 'show', 'dev', 'll0'])); i++) await new Promise((r) => setTimeout(r, 50));
    await t.rejects(ka.externalInterface6('ll0'), { name: 'KernelCommandError', message: /ll0 has only a link-local IPv6 address \(fe80::.*give --public-ipv6 or add a global IPv6 address to ll0/ });
    await t.rejects(ka.externalInterface6('eth0', 'fd00:99::99' as Ipv6), { message: /--public-ipv6 fd00:99::99 is not a global address of the external interface eth0/ });
    t.match(await ka.externalInterface6('eth0', 'fd00:99::11' as Ipv6), { address: 'fd00:99::11' });
    await ip(['-n', a.ns, 'link', 'del', 'll0']);
  });

  t.test('device: weft-v6.1 over the IPv6 underlay at underlay MTU − 70; more is clamped at creation and refused later', async (t) => {
    for (const [i, k] of kernels.entries()) {
      const spec = specs[i];
      if (!spec) throw new Error('no spec');
      t.equal(await k.readDevice(spec.name), undefined);
      await k.createDevice(spec);
      const link = await k.readDevice(spec.name);
      t.match(link, { kind: 'vxlan', vni: 1, port: 8472, local: spec.local, parent: 'eth0', mac: spec.mac, mtu: 1430, up: false, learning: false });
      t.equal(link && deviceMismatch(spec, link), undefined, 'what we create is what we want (local6 read back)');
      t.equal((await inNetns(hosts[i]?.ns ?? '', 'sysctl', ['-n', `net/ipv6/conf/${spec.name}/accept_ra`])).trim(), '0', 'router advertisements off');
    }
    // flannel asks for underlay − 50 (1450): the kernel gives 1430 without an error ...
    const greedy = { ...specA, name: 'weft-v6.9', vni: 9, mtu: 1450, port: 4790 };
    await ka.createDevice(greedy);
    t.match(await ka.readDevice(greedy.name), { mtu: 1430 }, 'asked 1450, silently got 1430');
    // ... and refuses to raise it afterwards.
    await t.rejects(ka.setMtu(greedy.name, 1450), { name: 'KernelCommandError', message: /Invalid argument/ });
    await ka.setMtu(greedy.name, 1400);
    t.match(await ka.readDevice(greedy.name), { mtu: 1400 }, 'lowering works');
    await ka.deleteDevice(greedy.name);
    for (const [i, k] of kernels.entries()) await k.setUp(specs[i]?.name ?? '');
  });

  t.test('ensureAddress: the /128 goes on at once (nodad), other addresses in the IPv6 network go, link-local and outside ones stay', async (t) => {
    await ip(['-n', a.ns, 'addr', 'add', 'fd00:10:0:63::/128', 'dev', dev, 'nodad']);
    await ip(['-n', a.ns, 'addr', 'add', 'fd00:11::1/64', 'dev', dev, 'nodad']);
    for (let i = 0; i < 100 && !(await ka.readDevice(dev))?.addresses.some((x) => x.startsWith('fe80:')); i++) await new Promise((r) => setTimeout(r, 50));
    t.same(await ka.ensureAddress(dev, gateway(a.subnet), network6), { added: true, removed: ['fd00:10:0:63::/128'] });
    t.same(await ka.ensureAddress(dev, gateway(a.subnet), network6), { added: false, removed: [] });
    const addresses = (await ka.readDevice(dev))?.addresses ?? [];
    t.ok(addresses.includes('fd00:10:0:1::/128'));
    t.ok(addresses.includes('fd00:11::1/64'), 'an address outside the network stays');
    t.ok(addresses.some((x) => x.startsWith('fe80:')), `the link-local address stays (${addresses.join(', ')})`);
    t.notOk(/tentative/.test(await ip(['-n', a.ns, '-6', 'addr', 'show', 'dev', dev, 'to', 'fd00:10:0:1::/128'])), 'usable at once');
    await ip(['-n', a.ns, 'addr', 'del', 'fd00:11::1/64', 'dev', dev]);
    t.same(await kb.ensureAddress(dev, gateway(b.subnet), network6), { added: true, removed: [] });
    t.same((await new IpRoute2({ netns: a.ns, persistentBatches: false }).readDevice(dev))?.addresses, [], 'an IPv4 adapter lists no IPv6 address');
  });

  const onA = peerEntries(b.subnet, specB.mac, b.underlay);
  const onB = peerEntries(a.subnet, specA.mac, a.underlay);
  const ping = (from: Host, to: Host, size = 56): Promise<string> =>
    inNetns(from.ns, 'ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', String(size), '-I', gateway(from.subnet), gateway(to.subnet)]);

  t.test('apply: neighbour, FDB and onlink route per peer; read back exactly; ping6 across', async (t) => {
    await t.rejects(ping(a, b), 'no entries yet: no path');
    for (const [k, want] of [[ka, onA], [kb, onB]] as const) {
      const ops = planKernel(want, await k.readState(dev));
      t.same(ops.map(describeOp), [
        `replace fdb ${want.fdb[0]?.mac} dst ${want.fdb[0]?.dst}`, `replace neighbor ${want.neighbors[0]?.ip} lladdr ${want.neighbors[0]?.mac}`,
        `add route ${want.routes[0]?.dst} via ${want.routes[0]?.via}`]);
      t.same(await k.apply(dev, ops), { applied: 3, failed: [] });
      t.same(sorted(await k.readState(dev)), sorted(want));
      t.same(planKernel(want, await k.readState(dev)), [], 'nothing left to do');
    }
    t.match(await ping(a, b), /2 received/);
    t.match(await ping(b, a), /2 received/);
    // 1430 − 40 (IPv6) − 8 (ICMPv6) = 1382 bytes of payload fit the device exactly; one more does not.
    t.match(await ping(a, b, 1382), /2 received/, 'a packet of exactly the device MTU crosses');
    await t.rejects(ping(a, b, 1383), 'one byte more is refused locally (DF)');
    t.same(await new IpRoute2({ netns: a.ns, persistentBatches: false }).readState(dev), { neighbors: [], routes: [], fdb: [] },
      'an IPv4 adapter reads none of the IPv6 entries');
  });

  t.test('replace: a peer with a new underlay address and MAC is updated in place', async (t) => {
    const moved = peerEntries(b.subnet, '02:00:00:00:be:ef' as Mac, 'fd00:99::99' as Ipv6);
    const ops = planKernel(moved, await ka.readState(dev));
    t.same(ops.map((op) => `${op.action} ${op.kind}`), ['replace fdb', 'replace neighbor', 'delete fdb'], 'new FDB entry and neighbour, old FDB entry gone');
    t.same((await ka.apply(dev, ops)).failed, []);
    t.same(sorted(await ka.readState(dev)), sorted(moved));
    await t.rejects(ping(a, b), 'the peer is not at the new address');
    t.same((await ka.apply(dev, planKernel(onA, await ka.readState(dev)))).failed, []);
    t.match(await ping(a, b), /2 received/, 'back');
  });

  t.test('readState with the IPv6 network: foreign routes in it are reported, never taken as weft\'s', async (t) => {
    await ip(['-n', a.ns, '-6', 'route', 'add', 'fd00:10:0:5::/64', 'dev', 'eth0', 'proto', 'static', 'metric', '5']);
    await ip(['-n', a.ns, '-6', 'route', 'add', 'fd00:10:0:6::/64', 'via', 'fd00:10:0:6::', 'dev', dev, 'onlink']);
    await ip(['-n', a.ns, '-6', 'route', 'add', 'fd00:20::/64', 'dev', 'eth0']);
    const state = await ka.readState(dev, network6);
    t.same(sorted({ routes: state.routes, neighbors: state.neighbors, fdb: state.fdb }), sorted(onA), 'weft\'s entries only');
    t.same((state.foreign ?? []).map((r) => `${r.dst} ${r.description}`).sort(), [
      'fd00:10:0:1::/128 dev weft-v6.1 proto kernel metric 256',
      'fd00:10:0:5::/64 dev eth0 proto static metric 5',
      'fd00:10:0:6::/64 via fd00:10:0:6:: dev weft-v6.1 proto boot metric 1024',
    ], 'inside the network only; an unmarked route on weft\'s device is foreign too');
    for (const dst of ['fd00:10:0:5::/64', 'fd00:10:0:6::/64', 'fd00:20::/64']) await ip(['-n', a.ns, '-6', 'route', 'del', dst]);
  });

  t.test('many peers through the batch path, then all deleted', async (t) => {
    const many = merge(...Array.from({ length: 150 }, (_, i) => peerEntries(`fd00:10:0:${(i + 16).toString(16)}::/64` as Cidr6,
      `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}` as Mac, `fd00:99::1:${i.toString(16)}` as Ipv6)));
    const want = merge(onA, many);
    const ops = planKernel(want, await ka.readState(dev));
    t.equal(ops.length, 450);
    t.same(await ka.apply(dev, ops), { applied: 450, failed: [] });
    t.same(sorted(await ka.readState(dev)), sorted(want));
    const back = planKernel(onA, await ka.readState(dev));
    t.equal(back.filter((op) => op.action === 'delete').length, 450);
    t.same((await ka.apply(dev, back)).failed, []);
    t.same(sorted(await ka.readState(dev)), sorted(onA));
    t.match(await ping(a, b), /2 received/);
  });

  t.test('monitor: hand-deleted IPv6 neighbour, route and FDB entry are reported; apply repairs them', async (t) => {
    const monitor = new IpRoute2Monitor({ netns: a.ns, device: dev, family: 6 });
    const changes: KernelChange[] = [];
    t.teardown(() => monitor.stop());
    await monitor.start((batch) => { changes.push(...batch); });
    const route = onA.routes[0];
    const neighbor = onA.neighbors[0];
    const fdb = onA.fdb[0];
    if (!route || !neighbor || !fdb) throw new Error('no entries');
    await ip(['-n', a.ns, '-6', 'route', 'del', route.dst, 'via', route.via, 'dev', dev]);
    await ip(['-n', a.ns, '-6', 'neigh', 'del', neighbor.ip, 'dev', dev]);
    await execa('bridge', ['-n', a.ns, 'fdb', 'del', fdb.mac, 'dev', dev, 'dst', fdb.dst, 'self']);
    const deadline = Date.now() + 20_000;
    const deletions = (): string[] => changes.filter((c) => c.kind !== 'lost' && c.deleted).map(describeChange);
    while (deletions().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.same(deletions(), [
      `deleted route ${route.dst} via ${route.via} dev ${dev} proto 87 metric 1024 onlink`,
      `deleted neighbor ${neighbor.ip} dev ${dev} FAILED`,
      `deleted fdb ${fdb.mac} dev ${dev} dst ${fdb.dst} self permanent`,
    ]);
    await t.rejects(ping(a, b), 'the path is gone');
    const repair = planKernel(onA, await ka.readState(dev));
    t.same(repair.map((op) => `${op.action} ${op.kind}`), ['replace fdb', 'replace neighbor', 'add route']);
    const report = await ka.apply(dev, repair);
    t.same(report.failed, []);
    for (const op of repair) t.ok(isSatisfied(op, await ka.readState(dev)), describeOp(op));
    t.match(await ping(a, b), /2 received/, 'repaired');
    await monitor.stop();
  });

  t.test('deleting the devices; the root namespace is unchanged', async (t) => {
    for (const k of kernels) await k.deleteDevice(dev);
    t.equal(await ka.readDevice(dev), undefined);
    t.equal(await rootSnapshot(), rootBefore);
  });
}
