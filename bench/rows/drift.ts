/**
 * Row 6 of issue 9: an entry weftd owns is deleted by hand in the host's
 * namespace (`ip route del`, `ip neigh del`, `bridge fdb del`), and the
 * sample is the time from the monitor's line for the deletion to its line
 * for the entry back. Deletions rotate through the three kinds, each on a
 * different peer, 0.7–1.3 s apart (seeded): single events for a weftd that
 * reacts at once, and spread over the resync period for one that waits for
 * it. Each sample gives up after `timeoutMs` and is then reported as a timeout.
 */
import { execa } from 'execa';
import { seededRandom } from '../../test/helpers/prng.js';
import { type BenchContext, sleep } from '../bench-context.js';
import type { KernelEvent } from '../kernel-monitor.js';
import { type Peer, peer } from '../peers.js';

export const DRIFT_KINDS = ['route', 'neigh', 'fdb'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

export interface DriftSamples {
  /** Per kind: deletion → back, ms; Infinity for a timeout. */
  readonly samples: Record<DriftKind, number[]>;
  readonly timeoutMs: number;
}

/** The command that deletes peer p's entry of this kind. */
function deletion(ctx: BenchContext, kind: DriftKind, p: Peer): [string, string[]] {
  switch (kind) {
    case 'route': return ['ip', ['route', 'del', p.subnet, 'dev', ctx.device]];
    case 'neigh': return ['ip', ['neigh', 'del', p.vtep, 'dev', ctx.device]];
    case 'fdb': return ['bridge', ['fdb', 'del', p.mac, 'dev', ctx.device, 'dst', p.publicIp, 'self']];
  }
}

/**
 * Whether a monitor event is about peer p's entry of this kind: 'gone',
 * 'present', or undefined for other events. A deleted permanent neighbour is
 * first reported FAILED without its lladdr: gone too.
 */
function entryState(ctx: BenchContext, kind: DriftKind, p: Peer, e: KernelEvent): 'gone' | 'present' | undefined {
  const c = e.change;
  if (c === undefined || c.device !== ctx.device) return undefined;
  if (kind === 'route' && c.kind === 'route' && c.dst === p.subnet) return c.deleted ? 'gone' : 'present';
  if (kind === 'neigh' && c.kind === 'neighbor' && c.ip === p.vtep) return c.deleted || c.mac === undefined ? 'gone' : 'present';
  if (kind === 'fdb' && c.kind === 'fdb' && c.mac === p.mac && c.dst === p.publicIp) return c.deleted ? 'gone' : 'present';
  return undefined;
}

/** Deletes one entry; resolves with deletion → back in ms (Infinity on timeout). */
async function oneDrift(ctx: BenchContext, kind: DriftKind, p: Peer, timeoutMs: number): Promise<number> {
  const argv = deletion(ctx, kind, p);
  let goneAt: number | undefined;
  const back = new Promise<number>((resolve) => {
    const timer = setTimeout(() => { off(); resolve(Infinity); }, timeoutMs);
    const off = ctx.monitor.on((e) => {
      const state = entryState(ctx, kind, p, e);
      if (state === 'gone') goneAt ??= e.at;
      else if (state === 'present' && goneAt !== undefined) { clearTimeout(timer); off(); resolve(e.at - goneAt); }
    });
  });
  await execa(argv[0], argv[1]);
  return back;
}

/** `perKind` deletions of each kind on peers spread over 1..n; all samples, by kind. */
export async function driftRepairs(ctx: BenchContext, perKind: number, timeoutMs: number): Promise<DriftSamples> {
  const random = seededRandom(6);
  const samples: Record<DriftKind, number[]> = { route: [], neigh: [], fdb: [] };
  const pending: Promise<void>[] = [];
  const total = perKind * DRIFT_KINDS.length;
  for (let k = 0; k < total; k++) {
    ctx.monitor.assertAlive();
    const kind = DRIFT_KINDS[k % DRIFT_KINDS.length] ?? 'route';
    const p = peer(1 + ((k * 7919) % ctx.peers));
    const issued = performance.now();
    pending.push(oneDrift(ctx, kind, p, timeoutMs).then((ms) => { samples[kind].push(ms); }));
    await sleep(Math.max(0, 700 + random() * 600 - (performance.now() - issued)));
  }
  await Promise.all(pending);
  return { samples, timeoutMs };
}
