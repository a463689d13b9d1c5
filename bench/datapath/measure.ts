/**
 * The two measurements of the data-path bench, pod to pod across hosts:
 * iperf3 TCP throughput (a one-shot server bound to the pod address) and
 * ping round-trip times (every reply's own time). Commands run in the rig's
 * pod namespaces with argument arrays.
 */
import { execa } from 'execa';
import type { Rig } from '../../test/rig/rig.js';

const IPERF_PORT = 25201;

export interface PodRef {
  readonly netns: string;
  readonly address: string;
}

export interface Throughput {
  readonly gbps: number;
  readonly retransmits: number;
}

/** One iperf3 run from `client` to `server`: `streams` parallel TCP streams for `seconds`. */
export async function iperf(rig: Rig, server: PodRef, client: PodRef, streams: number, seconds: number): Promise<Throughput> {
  const child = rig.spawnIn(server.netns, 'iperf3', ['-s', '-1', '-B', server.address, '-p', String(IPERF_PORT)]);
  try {
    for (let k = 0; k < 100; k++) {
      const listening = await execa('ip', ['netns', 'exec', server.netns, 'ss', '-ltnH', `sport = :${IPERF_PORT}`], { reject: false });
      if (listening.stdout.trim() !== '') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const r = await execa('ip', ['netns', 'exec', client.netns, 'iperf3', '-c', server.address, '-p', String(IPERF_PORT),
      '-t', String(seconds), '-P', String(streams), '-J'], { timeout: (seconds + 20) * 1000 });
    const json = JSON.parse(r.stdout) as { end?: { sum_received?: { bits_per_second?: number }; sum_sent?: { retransmits?: number } } };
    const bps = json.end?.sum_received?.bits_per_second;
    if (bps === undefined) throw new Error(`iperf3 printed no result: ${r.stdout.slice(0, 300)}`);
    return { gbps: bps / 1e9, retransmits: json.end?.sum_sent?.retransmits ?? 0 };
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

/** `count` pings `interval` s apart; every reply's RTT in ms (a lost reply is Infinity). */
export async function pingRtts(from: PodRef, to: PodRef, count: number, interval: number): Promise<number[]> {
  const r = await execa('ip', ['netns', 'exec', from.netns, 'ping', '-n', '-c', String(count), '-i', String(interval), '-W', '1', to.address], { reject: false });
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return [...rtts, ...Array<number>(Math.max(0, count - rtts.length)).fill(Infinity)];
}
