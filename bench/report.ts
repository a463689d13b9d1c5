/**
 * The data-plane part of docs/benchmarks.md's generated section: issue 9's
 * table with the figure, its spread, the floor and ratio, the issue's target
 * and pass/fail, then the per-run figures that explain it. A row with several
 * runs passes when its median meets the target; the range is shown next to it.
 */
import type { ColdStartRun } from './rows/cold-start.js';
import { DRIFT_KINDS, type DriftSamples } from './rows/drift.js';
import type { EventSamples } from './rows/events.js';
import type { RestartRun } from './rows/restart.js';
import { formatMs, maximum, median, percentile, spread } from './stats.js';

export interface DataPlaneResults {
  readonly peers: number;
  readonly floorsMs: readonly number[];
  readonly cold: readonly ColdStartRun[];
  readonly restarts: readonly RestartRun[];
  readonly events: EventSamples;
  readonly drift: DriftSamples;
  readonly readyzPollMs: number;
  /** weftd's default --resync-interval (from its --help), if it states one. */
  readonly resyncMs: number | undefined;
  /** For every monitor line: when the bench read it minus when the monitor received it, ms. */
  readonly monitorLagMs: readonly number[];
  /** Runs repeated because the monitor dropped notifications during them. */
  readonly repeats: readonly string[];
  /** Drops the monitor reported during the event and drift samples (those samples may show as timeouts). */
  readonly samplesLost: readonly string[];
}

const status = (ok: boolean): string => (ok ? '**pass**' : '**FAIL**');
const mib = (kb: number): string => `${(kb / 1024).toFixed(1)} MiB`;
const pctText = (x: number): string => `${x.toFixed(2)} %`;
const times = (x: number): string => `${x.toFixed(2)}×`;
const list = (xs: readonly number[], f: (x: number) => string): string => xs.map(f).join(', ');
const timeouts = (xs: readonly number[]): number => xs.filter((x) => x === Infinity).length;
/** A sample figure; a timed-out sample (Infinity) shows as "> timeout". */
const sample = (timeoutMs: number) => (x: number): string => (x === Infinity ? `> ${formatMs(timeoutMs)}` : formatMs(x));

function rows(r: DataPlaneResults): string[] {
  const cold = r.cold.map((c) => c.toAllRoutesMs);
  // Each cold start against the floor measured just before it.
  const ratios = cold.map((c, i) => c / (r.floorsMs[i] ?? NaN));
  const ready = r.restarts.map((x) => x.toReadyMs);
  const changes = r.restarts.map((x) => x.changes);
  const total = r.cold.map((c) => c.memory.rssKb + c.memory.childrenRssKb);
  const idle = r.cold.map((c) => c.idleCpuPercent);
  const ev = r.events.latencies;
  const evMs = sample(r.events.timeoutMs);
  const driftMs = sample(r.drift.timeoutMs);
  const out = [
    `| floor: one \`bridge -force -batch -\` + one \`ip -force -batch -\`, ${r.peers * 3} entries, fresh device | ${spread(r.floorsMs, formatMs)} | (the reference) | |`,
    `| start → all ${r.peers} peers programmed | ${spread(cold, formatMs)}; ${spread(ratios, times)} the floor measured just before it | ≤ 1.5× the floor | ${status(median(ratios) <= 1.5)} |`,
    `| restart with nothing changed → ready (/readyz) | ${spread(ready, formatMs)}, ${maximum(changes)} kernel changes (per run: ${changes.join(', ')}) | ≤ 0.4 s, 0 kernel changes | ${status(median(ready) <= 400 && maximum(changes) === 0)} |`,
    `| RSS with ${r.peers} peers, weftd + descendants | ${spread(total, mib)} | ≤ 75 MB (read as MiB, like the issue's figures) | ${status(median(total) <= 75 * 1024)} |`,
    `| idle CPU with ${r.peers} peers, default resync | ${spread(idle, pctText)} of one core | ≤ 0.5 % | ${status(median(idle) <= 0.5)} |`,
    `| one lease put in etcd → its route in the kernel | p50 ${evMs(percentile(ev, 50))}, p99 ${evMs(percentile(ev, 99))}, max ${evMs(maximum(ev))} (${ev.length} events${timeouts(ev) ? `, ${timeouts(ev)} timeouts` : ''}) | p99 ≤ 8 ms | ${status(percentile(ev, 99) <= 8)} |`,
  ];
  for (const kind of DRIFT_KINDS) {
    const s = r.drift.samples[kind];
    const what = { route: 'a route', neigh: 'a neighbour', fdb: 'an FDB entry' }[kind];
    out.push(`| ${what} deleted by hand → back | p50 ${driftMs(percentile(s, 50))}, max ${driftMs(maximum(s))} (${s.length} deletions${timeouts(s) ? `, ${timeouts(s)} timeouts of ${formatMs(r.drift.timeoutMs)}` : ''}) | p50 ≤ 250 ms, max ≤ 1 s | ${status(percentile(s, 50) <= 250 && maximum(s) <= 1000)} |`);
  }
  return out;
}

function details(r: DataPlaneResults): string[] {
  const firstLogs = (xs: readonly (number | undefined)[]): string => list(xs.map((x) => x ?? NaN), formatMs);
  const ev = r.events;
  const driftMs = sample(r.drift.timeoutMs);
  const drift = DRIFT_KINDS.map((k) => `${k} p50 ${driftMs(percentile(r.drift.samples[k], 50))}, p90 ${driftMs(percentile(r.drift.samples[k], 90))}, max ${driftMs(maximum(r.drift.samples[k]))}`);
  return [
    `- Floor per run / the cold start after it / ratio: ${r.floorsMs.map((f, i) => `${formatMs(f)} / ${formatMs(r.cold[i]?.toAllRoutesMs ?? NaN)} / ${times((r.cold[i]?.toAllRoutesMs ?? NaN) / f)}`).join('; ')}.`,
    `- Cold start per run (launch → last peer route seen / → last of all ${r.peers * 3} entries seen / → /readyz 200 / → weftd's first log line): ${r.cold.map((c) => `${formatMs(c.toAllRoutesMs)} / ${formatMs(c.toAllEntriesMs)} / ${formatMs(c.toReadyMs)} / ${formatMs(c.firstLogMs ?? NaN)}`).join('; ')}.`,
    `- Restart per run (launch → /readyz 200, asked every ${r.readyzPollMs} ms once the port accepts / → weftd's first log line): ${r.restarts.map((x, i) => `${formatMs(x.toReadyMs)} / ${firstLogs([r.restarts[i]?.firstLogMs])}`).join('; ')}.`
      + (r.restarts.some((x) => x.changes > 0) ? ` Changes seen: ${r.restarts.flatMap((x) => x.examples).slice(0, 3).map((t) => `\`${t}\``).join(', ')}.` : ''),
    `- Memory per run after the first pass settled (weftd VmRSS / VmHWM / descendants' VmRSS / private memory (USS) of weftd and descendants): ${r.cold.map((c) => `${mib(c.memory.rssKb)} / ${mib(c.memory.hwmKb)} / ${mib(c.memory.childrenRssKb)} / ${mib(c.memory.treePrivateKb)}`).join('; ')}.`,
    `- Descendants in the last run: ${r.cold.at(-1)?.memory.children.map((c) => `\`${c.command}\` ${mib(c.rssKb)}`).join(', ') || 'none'}.`,
    `- After the idle window (its resyncs): weftd VmRSS / descendants' VmRSS per run: ${r.cold.map((c) => `${mib(c.memoryAfterIdle.rssKb)} / ${mib(c.memoryAfterIdle.childrenRssKb)}`).join('; ')}.`,
    `- Idle CPU per run (${formatMs(r.cold[0]?.idleMs ?? NaN)} windows, default resync ${r.resyncMs === undefined ? 'unknown' : formatMs(r.resyncMs)}; utime+stime+cutime+cstime of weftd and its descendants): ${list(r.cold.map((c) => c.idleCpuPercent), pctText)}; kernel changes on the device during the windows: ${r.cold.map((c) => c.idleChanges).join(', ')}.`,
    `- Events: the bench's etcd put round trip p50 ${formatMs(percentile(ev.putMs, 50))}, p99 ${formatMs(percentile(ev.putMs, 99))} (inside the put → route figure); timeout per event ${formatMs(ev.timeoutMs)}.`,
    `- Drift by kind: ${drift.join('; ')}; timeout per sample ${formatMs(r.drift.timeoutMs)}.`,
    `- Kernel changes are timed by the monitors' own timestamps (\`ip -ts\`, \`bridge -timestamp\`); the bench read them later by p50 ${formatMs(percentile(r.monitorLagMs, 50))}, `
      + `p99 ${formatMs(percentile(r.monitorLagMs, 99))}, max ${formatMs(maximum(r.monitorLagMs))} (${r.monitorLagMs.length} lines; not part of any figure).`,
    `- Monitor drops (ENOBUFS): ${r.repeats.length === 0 ? 'no run repeated' : `repeated ${r.repeats.join(', ')}`}; `
      + `${r.samplesLost.length === 0 ? 'none during the event and drift samples' : `during the event and drift samples: ${r.samplesLost.join('; ')}`}.`,
  ];
}

export function renderDataPlane(r: DataPlaneResults): string {
  return [
    `| what (issue 9, ${r.peers} peer leases in etcd) | measured: median (min–max, runs) | target | status |`,
    '|---|---|---|---|',
    ...rows(r),
    '',
    ...details(r),
    '',
  ].join('\n');
}
