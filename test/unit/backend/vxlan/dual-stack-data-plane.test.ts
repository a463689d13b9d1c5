/**
 * DualStackDataPlane: both families run in every pass, each peer's IPv6 half
 * reaches the IPv6 instance as a peer of its own, an event pass names the
 * right IPv6 subnets, and a failure (or a throw) in one family never stops
 * or hides the other.
 */
import pino from 'pino';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../../src/core/cidr.js';
import type { Cidr6, Ipv6 } from '../../../../src/core/cidr6.js';
import type { Mac } from '../../../../src/core/mac.js';
import { parseNetworkConfig } from '../../../../src/core/network-config.js';
import type { Peer } from '../../../../src/core/peer-acceptance.js';
import type { DataPlanePort, PassResult, PrepareInput, Prepared } from '../../../../src/backend/data-plane-port.js';
import { DualStackDataPlane } from '../../../../src/backend/vxlan/dual-stack-data-plane.js';

const log = pino({ level: 'silent' });
const ok = (n: number): PassResult => ({ ok: true, applied: n, failed: 0, changes: n, programmed: n });

/** Records what it is asked; answers what the test sets. */
class Recorder implements DataPlanePort {
  calls: { kind: string; self: Cidr; subnets: string[]; publicIps?: string[] }[] = [];
  result: PassResult | Error = ok(1);
  changedResult: PassResult | undefined | Error = ok(1);
  constructor(readonly prepared: Prepared) {}
  async prepare(_input: PrepareInput): Promise<Prepared> { return this.prepared; }
  async reconcile(self: Cidr, leases: readonly Peer[]): Promise<PassResult> {
    this.calls.push({ kind: 'full', self, subnets: leases.map((l) => l.subnet), publicIps: leases.map((l) => l.attrs.publicIp) });
    if (this.result instanceof Error) throw this.result;
    return this.result;
  }
  async reconcileChanged(self: Cidr, changed: ReadonlySet<Cidr>, peerOf: (s: Cidr) => Peer | undefined): Promise<PassResult | undefined> {
    this.calls.push({ kind: 'changed', self, subnets: [...changed].map((s) => `${s}=${peerOf(s)?.attrs.vtepMac ?? 'gone'}`) });
    if (this.changedResult instanceof Error) throw this.changedResult;
    return this.changedResult;
  }
}

const dualConfig = (() => { const p = parseNetworkConfig({ Network: '10.5.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:5::/48' }); if (!p.ok) throw new Error('x'); return p.config; })();
const v4Config = (() => { const p = parseNetworkConfig({ Network: '10.5.0.0/16' }); if (!p.ok) throw new Error('x'); return p.config; })();

function peer(n: number, v6 = true, mac6 = `02:00:00:00:06:0${n}`): Peer {
  return {
    subnet: `10.5.${n}.0/24` as Cidr,
    ...(v6 ? { subnetV6: `fd00:5:0:${n}::/64` as Cidr6 } : {}),
    attrs: {
      publicIp: `192.0.2.${n}` as Ipv4, backendType: 'vxlan', vni: 1, vtepMac: `02:00:00:00:04:0${n}` as Mac, nodeName: `n${n}`,
      ...(v6 ? { publicIpv6: `fd00:99::${n}` as Ipv6, backendV6: { vni: 1, vtepMac: mac6 as Mac } } : {}),
    },
  };
}

async function setup(config = dualConfig) {
  const v4 = new Recorder({ publicIp: '192.0.2.1' as Ipv4, vtepMac: '02:00:00:00:04:01' as Mac, advert: { backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:04:01' as Mac }, mtu: 1450, device: 'weft.1' });
  const v6 = new Recorder({ publicIp: 'fd00:99::1' as never, vtepMac: '02:00:00:00:06:01' as Mac, advert: { backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:06:01' as Mac }, mtu: 1430, device: 'weft-v6.1' });
  const plane = new DualStackDataPlane({ v4, v6, log });
  const prepared = await plane.prepare({ config, nodeName: 'n1' });
  plane.leased({ subnet: '10.5.1.0/24' as Cidr, ...(config.ipv6 ? { subnetV6: 'fd00:5:0:1::/64' as Cidr6 } : {}) });
  return { v4, v6, plane, prepared };
}

t.test('prepare: the IPv6 device too, and one pod MTU: the smaller one', async (t) => {
  const { prepared, v6 } = await setup();
  t.equal(prepared.mtu, 1430);
  t.same(prepared.v6, { publicIp: 'fd00:99::1', vtepMac: '02:00:00:00:06:01', mtu: 1430, device: 'weft-v6.1' });
  const single = await setup(v4Config);
  t.equal(single.prepared.mtu, 1450, 'IPv4-only: the IPv4 device alone');
  t.equal(single.prepared.v6, undefined);
  await single.plane.reconcile('10.5.1.0/24' as Cidr, [peer(2)]);
  t.same(single.v6.calls, [], 'the IPv6 instance is never used on an IPv4-only network');
  t.same(v6.calls, []);
});

t.test('a whole pass: every peer to IPv4, their IPv6 halves as peers to IPv6', async (t) => {
  const { plane, v4, v6 } = await setup();
  const r = await plane.reconcile('10.5.1.0/24' as Cidr, [peer(2), peer(3, false), peer(4)]);
  t.same(v4.calls[0]?.subnets, ['10.5.2.0/24', '10.5.3.0/24', '10.5.4.0/24']);
  t.same(v6.calls[0], { kind: 'full', self: 'fd00:5:0:1::/64', subnets: ['fd00:5:0:2::/64', 'fd00:5:0:4::/64'], publicIps: ['fd00:99::2', 'fd00:99::4'] },
    'the IPv4-only peer has no IPv6 entries');
  t.same(r, { ok: true, applied: 2, failed: 0, changes: 2, programmed: 1, ipv6: ok(1) });
});

t.test('an event pass names the old and the new IPv6 subnet of a changed peer', async (t) => {
  const { plane, v6 } = await setup();
  const peers = new Map([peer(2), peer(4)].map((p) => [p.subnet as string, p]));
  await plane.reconcile('10.5.1.0/24' as Cidr, [...peers.values()]);
  // Peer 2 moves to another IPv6 subnet (a new key), peer 4 goes, peer 5 comes.
  const moved: Peer = { ...peer(2), subnetV6: 'fd00:5:0:22::/64' as Cidr6 };
  peers.set('10.5.2.0/24', moved);
  peers.delete('10.5.4.0/24');
  peers.set('10.5.5.0/24', peer(5));
  const changed = new Set(['10.5.2.0/24', '10.5.4.0/24', '10.5.5.0/24'] as Cidr[]);
  await plane.reconcileChanged('10.5.1.0/24' as Cidr, changed, (s) => peers.get(s), () => [...peers.values()]);
  t.same(v6.calls[1]?.subnets.sort(), ['fd00:5:0:22::/64=02:00:00:00:06:02', 'fd00:5:0:2::/64=gone', 'fd00:5:0:4::/64=gone', 'fd00:5:0:5::/64=02:00:00:00:06:05'].sort());
});

t.test('a family that cannot plan the changes alone runs whole; the other still plans only the changes', async (t) => {
  const { plane, v4, v6 } = await setup();
  const peers = [peer(2)];
  await plane.reconcile('10.5.1.0/24' as Cidr, peers);
  v6.changedResult = undefined;
  const r = await plane.reconcileChanged('10.5.1.0/24' as Cidr, new Set(['10.5.2.0/24' as Cidr]), () => peers[0], () => peers);
  t.same(v4.calls.map((c) => c.kind), ['full', 'changed']);
  t.same(v6.calls.map((c) => c.kind), ['full', 'changed', 'full']);
  t.equal(r?.ok, true);
  t.equal(await plane.reconcileChanged('10.5.1.0/24' as Cidr, new Set(), () => undefined), undefined, 'without every peer: the caller runs a whole pass');
});

t.test('IPv6 failing or throwing never stops IPv4, and is reported on its own', async (t) => {
  const { plane, v4, v6 } = await setup();
  v6.result = new Error('netlink exploded');
  const r = await plane.reconcile('10.5.1.0/24' as Cidr, [peer(2)]);
  t.equal(v4.calls.length, 1, 'IPv4 ran');
  t.equal(r.ok, false, 'the pass as a whole failed, so the loop retries soon');
  t.same(r.ipv6, { ok: false, applied: 0, failed: 0, changes: 0, programmed: 0 });
  t.equal(r.programmed, 1, 'IPv4 peers programmed are still counted');
  v6.result = { ok: false, applied: 0, failed: 3, changes: 3 };
  const r2 = await plane.reconcile('10.5.1.0/24' as Cidr, [peer(2)]);
  t.match(r2, { ok: false, failed: 3, ipv6: { failed: 3 } });
  v6.result = ok(1);
  v4.result = { ok: false, applied: 0, failed: 2, changes: 2 };
  const r3 = await plane.reconcile('10.5.1.0/24' as Cidr, [peer(2)]);
  t.match(r3, { ok: false, failed: 2, ipv6: { ok: true } }, 'and IPv4 failing leaves IPv6 done');
});
