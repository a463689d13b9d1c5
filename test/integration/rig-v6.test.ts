/**
 * The rig's dual-stack underlay (`ipv6: true`) and dual-stack pods, used the
 * way the dual-stack overlay tests will: two hosts whose `weft-v6.1` devices
 * are programmed through the IPv6 kernel adapter, a pod on each pinging the
 * other over IPv6, and tshark on the underlay showing VXLAN over IPv6 with
 * the right VNI and outer/inner addresses. The root namespace is unchanged.
 */
import { execa } from 'execa';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../src/core/cidr.js';
import type { Cidr6, Ipv6 } from '../../src/core/cidr6.js';
import { type KernelState, planKernel } from '../../src/core/kernel-state.js';
import { parseNetworkConfig } from '../../src/core/network-config.js';
import { deviceSpec6 } from '../../src/core/vxlan-device.js';
import { IpRoute2 } from '../../src/adapters/iproute2/iproute2.js';
import { requirePrerequisites } from '../helpers/require.js';
import { captureVxlan6 } from '../helpers/tshark.js';
import { Rig, UNDERLAY6_GATEWAY } from '../rig/rig.js';

/** The root namespace's addresses, routes and forwarding switches: the rig must never change them. */
async function rootNetwork(): Promise<string> {
  const out = await Promise.all([
    execa('ip', ['-j', 'addr', 'show']).then((r) => (JSON.parse(r.stdout) as { ifname: string; addr_info: { local: string }[] }[])
      .map((l) => `${l.ifname}: ${l.addr_info.map((a) => a.local).join(' ')}`).join('\n')),
    execa('ip', ['-4', 'route', 'show', 'table', 'all']).then((r) => r.stdout),
    execa('ip', ['-6', 'route', 'show']).then((r) => r.stdout),
    execa('sysctl', ['-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']).then((r) => r.stdout),
  ]);
  return out.join('\n--\n');
}

if (requirePrerequisites(t, ['ip', 'bridge', 'ping', 'sysctl', 'tshark'], true)) {
  const rootBefore = await rootNetwork();

  t.test('dual-stack underlay and pods; IPv6 pods ping across two weft-v6 devices; tshark sees VXLAN over IPv6', async (t) => {
    const rig = await Rig.up({ hosts: 2, pods: 1, etcd: 'none', ipv6: true });
    t.teardown(() => rig.down());
    t.same(rig.hosts.map((h) => [h.address, h.address6]), [['192.0.2.11', 'fd00:99::11'], ['192.0.2.12', 'fd00:99::12']]);
    for (const host of rig.hosts) {
      t.equal(await rig.exec(host.netns, 'sysctl', ['-n', 'net.ipv6.conf.all.forwarding']), '1', `${host.nodeName}: IPv6 forwarding`);
      t.match(await rig.exec(host.netns, 'ping', ['-6', '-c1', '-W2', UNDERLAY6_GATEWAY]), /1 received/, `${host.nodeName} → the switch over IPv6`);
    }
    t.match(await rig.exec(rig.host(1).netns, 'ping', ['-6', '-c1', '-W2', 'fd00:99::12']), /1 received/, 'underlay host1 → host2 over IPv6');

    const parsed = parseNetworkConfig({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10::/48', Backend: { Type: 'vxlan', VNI: 1 } });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const subnets = [1, 2].map((i) => ({ v4: `10.5.${i}.0/24` as Cidr, v6: `fd00:10:0:${i}::/64` as Cidr6 }));
    const kernels = rig.hosts.map((h) => new IpRoute2({ netns: h.netns, family: 6, persistentBatches: false }));
    const specs = [];
    for (const [i, host] of rig.hosts.entries()) {
      const kernel = kernels[i] as IpRoute2;
      const spec = deviceSpec6(parsed.config, await kernel.externalInterface6('eth0'), host.nodeName);
      t.equal(spec.local, host.address6, `${host.nodeName}: the device's local is the IPv6 underlay address`);
      await kernel.createDevice(spec);
      await kernel.setUp(spec.name);
      const v6 = subnets[i]?.v6 as Cidr6;
      await kernel.ensureAddress(spec.name, v6.slice(0, v6.indexOf('/')) as Ipv6, parsed.config.ipv6?.network as Cidr6);
      specs.push(spec);
    }
    for (const [i, kernel] of kernels.entries()) {
      const peer = 1 - i;
      const spec = specs[peer];
      const v6 = subnets[peer]?.v6;
      if (!spec || !v6) throw new Error('no peer');
      const via = v6.slice(0, v6.indexOf('/')) as string as Ipv4;
      const want: KernelState = {
        neighbors: [{ ip: via, mac: spec.mac }], fdb: [{ mac: spec.mac, dst: spec.local as string as Ipv4 }], routes: [{ dst: v6 as string as Cidr, via }],
      };
      t.same((await kernel.apply(specs[i]?.name ?? '', planKernel(want, await kernel.readState(specs[i]?.name ?? '')))).failed, []);
    }

    const pods = [];
    for (const [i, s] of subnets.entries()) pods.push(...await rig.attachPods(i + 1, s.v4, 1450, 1, { subnet: s.v6, mtu: 1430 }));
    const [p1, p2] = pods;
    if (!p1 || !p2) throw new Error('no pods');
    t.match(p1, { address: '10.5.1.2', gateway: '10.5.1.1', address6: 'fd00:10:0:1::2', gateway6: 'fd00:10:0:1::1' });
    t.equal(await rig.exec(p1.netns, 'sysctl', ['-n', 'net.ipv6.conf.eth0.mtu']), '1430', 'the pod\'s IPv6 MTU fits the IPv6 device');
    t.match(await rig.exec(p1.netns, 'ping', ['-c1', '-W2', '10.5.1.1']), /1 received/, 'IPv4 to the pod\'s gateway still works');

    const capture = await captureVxlan6(rig.host(2).netns, 4);
    t.match(await rig.exec(p1.netns, 'ping', ['-6', '-c2', '-i', '0.2', '-W2', p2.address6 ?? '']), /2 received/, 'pod → pod over the IPv6 overlay');
    const packets = await capture.done();
    t.same(packets.slice(0, 2), [
      { vni: 1, outerSrc: 'fd00:99::11', outerDst: 'fd00:99::12', innerSrc: 'fd00:10:0:1::2', innerDst: 'fd00:10:0:2::2', icmpv6Type: 128 },
      { vni: 1, outerSrc: 'fd00:99::12', outerDst: 'fd00:99::11', innerSrc: 'fd00:10:0:2::2', innerDst: 'fd00:10:0:1::2', icmpv6Type: 129 },
    ], 'echo request and reply, VNI 1, host addresses outside, pod addresses inside');
    // 1430 − 40 − 8: the largest ICMPv6 payload the pod's IPv6 MTU sends unfragmented, and it crosses.
    t.match(await rig.exec(p1.netns, 'ping', ['-6', '-c1', '-W2', '-M', 'do', '-s', '1382', p2.address6 ?? '']), /1 received/);

    await rig.down();
    t.equal(await rootNetwork(), rootBefore, 'the root namespace is unchanged');
  });
}
