/**
 * Row 5 of issue 9: one lease put in etcd → its route in the kernel. For
 * each event a new peer's lease is put (the clock starts just before the etcd
 * call) and the sample ends when the monitor's line for its route arrives.
 * Events are spaced 30–80 ms apart (seeded), so each is a single event.
 */
import { seededRandom } from '../../test/helpers/prng.js';
import { type BenchContext, ownSubnet, sleep, weftRouteAdded } from '../bench-context.js';
import { leaseValue, peer } from '../peers.js';

export interface EventSamples {
  /** put → route line, ms; Infinity for a timeout. */
  readonly latencies: number[];
  /** put call → its promise resolved (etcd round trip seen by the bench), ms. */
  readonly putMs: number[];
  readonly timeoutMs: number;
}

/**
 * `count` events, peers from n+1 up (their leases stay until the bench clears
 * the prefix), skipping the subnet weftd holds itself: weftd picks its subnet
 * at random and a put there would overwrite its own lease.
 */
export async function eventLatencies(ctx: BenchContext, count: number, timeoutMs: number): Promise<EventSamples> {
  const random = seededRandom(9);
  const latencies: number[] = [];
  const putMs: number[] = [];
  const own = ownSubnet(ctx);
  for (let i = ctx.peers + 1; latencies.length < count; i++) {
    ctx.monitor.assertAlive();
    const p = peer(i);
    if (p.subnet === own) continue;
    const arrived = ctx.monitor.waitFor((ev) => weftRouteAdded(ctx, ev) === p.subnet, timeoutMs);
    const t0 = performance.now();
    await ctx.etcd.put(`${ctx.prefix}/subnets/${p.key}`).value(leaseValue(p, i));
    putMs.push(performance.now() - t0);
    const ev = await arrived;
    latencies.push(ev ? ev.at - t0 : Infinity);
    await sleep(30 + random() * 50);
  }
  return { latencies, putMs, timeoutMs };
}
