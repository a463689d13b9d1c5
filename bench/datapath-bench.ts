/**
 * Data-path benchmark (issue 11): pod to pod across two rig hosts through
 * weft's VXLAN (the real weftd on each host) against the same two host
 * namespaces joined by a VXLAN pair made by hand with the same settings
 * (bench/datapath/hand-path.ts), with checksum offload off (weft's default)
 * and on; then with DirectRouting (weft's direct route against a plain route
 * made by hand between the same hosts); then the wireguard backend (weft-wg,
 * wireguard-go started by weftd) against a WireGuard tunnel made by hand with
 * wireguard-go and `wg` between the same hosts at the same MTU
 * (bench/datapath/hand-wireguard.ts). Every measurement alternates weft and hand-made runs, so machine
 * noise hits both alike. Runs in the root namespace and builds its own rig
 * (namespaces only; deleted on exit, also on failure). Prints the markdown
 * for docs/benchmarks.md (scripts/bench-datapath.sh puts it there).
 *
 * Usage: node dist/bench/datapath-bench.js [--runs 3] [--seconds 3] [--pings 200]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSubnetEnv } from '../src/core/subnet-env.js';
import { msgIs, startWeftd, type WeftdProcess } from '../test/helpers/weftd-process.js';
import { ETCD_ENDPOINT, Rig } from '../test/rig/rig.js';
import { HAND_DEVICE, buildHandPath } from './datapath/hand-path.js';
import { type HandWireguard, buildHandWireguard } from './datapath/hand-wireguard.js';
import { type PodRef, iperf, pingRtts } from './datapath/measure.js';
import { type Offload, type PathName, renderDatapath } from './datapath/report.js';

const PREFIX = '/weft/network';
const PORT = 8472;
const WG_PORT = 51820;
const STREAMS = [1, 4] as const;

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '3' }, pings: { type: 'string', default: '200' } } });
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const pings = Number(values.pings);
const PING_ROUNDS = 20;
const perBurst = Math.max(1, Math.ceil(pings / PING_ROUNDS));

const rig = await Rig.up({ hosts: 2, pods: 0 });
const daemons = new Map<number, WeftdProcess>();
let handWireguard: HandWireguard | undefined;
const log = (msg: string): void => { process.stderr.write(`datapath-bench: ${msg}\n`); };
try {
  const subnetFile = (i: number): string => join(rig.stateDir, `host${i}-subnet.env`);
  const putConfig = (offload: Offload): Promise<string> => rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', `${PREFIX}/config`,
    JSON.stringify({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan', Port: PORT, ChecksumOffload: offload } })]);
  const startDaemons = async (): Promise<void> => {
    for (const host of rig.hosts) {
      daemons.set(host.index, startWeftd(['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', subnetFile(host.index),
        '--node-name', host.nodeName, '--iface', 'eth0', '--ip-masq=false'], { netns: host.netns }));
    }
    // The offload is applied when the device is prepared; the data path outlives a restart.
    for (const [i, d] of daemons) await d.waitForLog(msgIs('vxlan device ready'), 30_000, `host${i}'s device`);
  };
  const txChecksum = async (i: number, device: string): Promise<string> =>
    /tx-checksum-ip-generic: (\S+)/.exec(await rig.exec(rig.host(i).netns, 'ethtool', ['-k', device]))?.[1] ?? '?';

  await putConfig('off');
  await startDaemons();
  for (const [i, d] of daemons) await d.waitForLog(msgIs('wrote subnet.env'), 30_000, `host${i}'s subnet.env`);
  const env = parseSubnetEnv(readFileSync(subnetFile(1), 'utf8'));
  if (!env.ok) throw new Error(env.errors.join('; '));
  const mtu = env.env.mtu;
  const weftPods: PodRef[] = [];
  for (const i of [1, 2]) weftPods.push(...await rig.attachPodsFromSubnetFile(i, subnetFile(i), 1));
  const handPods = await buildHandPath(rig, { port: PORT, mtu });
  const pods: Record<PathName, PodRef[]> = { weft: weftPods, hand: handPods };

  const throughput = new Map<string, number[]>();
  const rtt = new Map<string, number[]>();
  const push = <T>(m: Map<string, T[]>, key: string, ...xs: T[]): void => { m.set(key, [...(m.get(key) ?? []), ...xs]); };

  for (const offload of ['off', 'on'] as const) {
    if (offload === 'on') {
      // weft: through its config (a restart applies it); hand-made: by hand.
      for (const d of daemons.values()) await d.stop('SIGTERM');
      await putConfig('on');
      await startDaemons();
    }
    for (const i of [1, 2]) {
      await rig.exec(rig.host(i).netns, 'ethtool', ['-K', HAND_DEVICE, 'tx-checksum-ip-generic', offload]);
      for (const device of ['weft.1', HAND_DEVICE]) {
        const seen = await txChecksum(i, device);
        if (seen !== offload) throw new Error(`host${i} ${device}: tx-checksum-ip-generic is ${seen}, want ${offload}`);
      }
    }
    log(`checksum offload ${offload}: warm-up`);
    for (const path of ['weft', 'hand'] as const) await iperf(rig, pods[path][1]!, pods[path][0]!, 1, 1);
    for (let run = 1; run <= runs; run++) {
      for (const streams of STREAMS) {
        for (const path of (run % 2 === 1 ? ['weft', 'hand'] : ['hand', 'weft']) as PathName[]) {
          const r = await iperf(rig, pods[path][1]!, pods[path][0]!, streams, seconds);
          push(throughput, `${offload} ${streams} ${path}`, r.gbps);
          log(`offload ${offload} run ${run} ${streams} stream(s) ${path}: ${r.gbps.toFixed(2)} Gbit/s, ${r.retransmits} retransmits`);
        }
      }
    }
    // RTTs on this rig are bimodal (~0.02 ms when both ends stay on one CPU's softirq, ~0.15 ms after a
    // wake-up elsewhere) and the mode drifts: short alternating bursts give both paths the same drift.
    for (let round = 0; round < PING_ROUNDS; round++) {
      for (const [from, to, dir] of [[0, 1, '1→2'], [1, 0, '2→1']] as const) {
        const order = (round % 2 === 0 ? ['weft', 'hand'] : ['hand', 'weft']) as PathName[];
        for (const path of order) push(rtt, `${offload} ${path} ${dir}`, ...await pingRtts(pods[path][from]!, pods[path][to]!, perBurst, 0.005));
      }
    }
  }
  // DirectRouting: weft with Backend.DirectRouting (both hosts on one segment: a direct route), the hand-made
  // pods joined by plain routes to the peer's eth0 address instead of their VXLAN pair; offload off.
  for (const d of daemons.values()) await d.stop('SIGTERM');
  await rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', `${PREFIX}/config`,
    JSON.stringify({ Network: '10.5.0.0/16', Backend: { Type: 'vxlan', Port: PORT, ChecksumOffload: 'off', DirectRouting: true } })]);
  await startDaemons();
  const weftSubnet = (i: number): string => {
    const parsed = parseSubnetEnv(readFileSync(subnetFile(i), 'utf8'));
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    return parsed.env.subnet;
  };
  for (const [i, j] of [[1, 2], [2, 1]] as const) {
    const deadline = Date.now() + 20_000;
    while (!(await rig.exec(rig.host(i).netns, 'ip', ['route', 'show', weftSubnet(j)])).includes(`via ${rig.host(j).address} dev eth0`)) {
      if (Date.now() > deadline) throw new Error(`host${i}: no direct route to ${weftSubnet(j)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await rig.exec(rig.host(i).netns, 'ip', ['route', 'replace', `10.99.${j}.0/24`, 'via', rig.host(j).address, 'dev', 'eth0']);
  }
  log('DirectRouting: warm-up');
  for (const path of ['weft', 'hand'] as const) await iperf(rig, pods[path][1]!, pods[path][0]!, 1, 1);
  for (let run = 1; run <= runs; run++) {
    for (const streams of STREAMS) {
      for (const path of (run % 2 === 1 ? ['weft', 'hand'] : ['hand', 'weft']) as PathName[]) {
        const r = await iperf(rig, pods[path][1]!, pods[path][0]!, streams, seconds);
        push(throughput, `direct ${streams} ${path}`, r.gbps);
        log(`DirectRouting run ${run} ${streams} stream(s) ${path}: ${r.gbps.toFixed(2)} Gbit/s, ${r.retransmits} retransmits`);
      }
    }
  }
  for (let round = 0; round < PING_ROUNDS; round++) {
    for (const [from, to, dir] of [[0, 1, '1→2'], [1, 0, '2→1']] as const) {
      const order = (round % 2 === 0 ? ['weft', 'hand'] : ['hand', 'weft']) as PathName[];
      for (const path of order) push(rtt, `direct ${path} ${dir}`, ...await pingRtts(pods[path][from]!, pods[path][to]!, perBurst, 0.005));
    }
  }
  // WireGuard: the same hosts switched to the wireguard backend (config change + restart: weftd removes weft.1 and
  // starts wireguard-go for weft-wg), against a tunnel made by hand with wireguard-go and wg; both pod pairs at the
  // tunnel's MTU (what the CNI plugin would give them from the new subnet.env).
  const wgStarted = Date.now();
  for (const d of daemons.values()) await d.stop('SIGTERM');
  await rig.exec(rig.switchNetns, 'etcdctl', ['--endpoints', ETCD_ENDPOINT, 'put', `${PREFIX}/config`,
    JSON.stringify({ Network: '10.5.0.0/16', Backend: { Type: 'wireguard', ListenPort: WG_PORT } })]);
  for (const host of rig.hosts) {
    const dir = join(rig.stateDir, `host${host.index}-wg`);
    daemons.set(host.index, startWeftd(['--etcd-endpoints', ETCD_ENDPOINT, '--etcd-prefix', PREFIX, '--subnet-file', subnetFile(host.index),
      '--node-name', host.nodeName, '--iface', 'eth0', '--ip-masq=false', '--wireguard-key-file', join(dir, 'private.key'),
      '--wireguard-socket-dir', join(dir, 'sock'), '--wireguard-run-dir', join(dir, 'run')], { netns: host.netns }));
  }
  for (const [i, d] of daemons) await d.waitForLog(msgIs('first reconcile pass done; ready'), 30_000, `host${i}'s wireguard backend`);
  const wgEnv = parseSubnetEnv(readFileSync(subnetFile(1), 'utf8'));
  if (!wgEnv.ok) throw new Error(wgEnv.errors.join('; '));
  const wgMtu = wgEnv.env.mtu;
  for (const i of [1, 2]) {
    const n = rig.host(i).netns;
    for (const [port, bridge, pod] of [['vp1', 'cni0', pods.weft[i - 1]!.netns], ['vq1', 'hbr0', pods.hand[i - 1]!.netns]] as const) {
      await rig.exec(n, 'ip', ['link', 'set', port, 'mtu', String(wgMtu)]);
      await rig.exec(n, 'ip', ['link', 'set', bridge, 'mtu', String(wgMtu)]);
      await rig.exec(pod, 'ip', ['link', 'set', 'eth0', 'mtu', String(wgMtu)]);
    }
  }
  handWireguard = await buildHandWireguard(rig, { mtu: wgMtu });
  for (const i of [1, 2]) {
    // The pods' traffic must take the tunnels: no route of weft's (DirectRouting) or of the hand-made paths may remain on eth0.
    const stale = (await rig.exec(rig.host(i).netns, 'ip', ['route', 'show', 'dev', 'eth0'])).split('\n').filter((l) => /^10\.(5|99)\./.test(l));
    if (stale.length > 0) throw new Error(`host${i}: overlay routes left on eth0 after the switch to wireguard: ${stale.join('; ')}`);
  }
  for (const path of ['weft', 'hand'] as const) {
    const [a, b] = pods[path];
    const deadline = Date.now() + 20_000;
    while ((await pingRtts(a!, b!, 1, 0.2)).some((x) => !Number.isFinite(x))) {
      if (Date.now() > deadline) throw new Error(`WireGuard: ${path} pods do not reach each other`);
    }
  }
  log('WireGuard: warm-up');
  for (const path of ['weft', 'hand'] as const) await iperf(rig, pods[path][1]!, pods[path][0]!, 1, 1);
  for (let run = 1; run <= runs; run++) {
    for (const streams of STREAMS) {
      for (const path of (run % 2 === 1 ? ['weft', 'hand'] : ['hand', 'weft']) as PathName[]) {
        const r = await iperf(rig, pods[path][1]!, pods[path][0]!, streams, seconds);
        push(throughput, `wg ${streams} ${path}`, r.gbps);
        log(`WireGuard run ${run} ${streams} stream(s) ${path}: ${r.gbps.toFixed(2)} Gbit/s, ${r.retransmits} retransmits`);
      }
    }
  }
  for (let round = 0; round < PING_ROUNDS; round++) {
    for (const [from, to, dir] of [[0, 1, '1→2'], [1, 0, '2→1']] as const) {
      const order = (round % 2 === 0 ? ['weft', 'hand'] : ['hand', 'weft']) as PathName[];
      for (const path of order) push(rtt, `wg ${path} ${dir}`, ...await pingRtts(pods[path][from]!, pods[path][to]!, perBurst, 0.005));
    }
  }
  log(`WireGuard part took ${Math.round((Date.now() - wgStarted) / 1000)} s`);
  process.stdout.write(`Two rig hosts (namespaces, a veth pair each to the underlay bridge), pod MTU ${mtu}, UDP port ${PORT}, weftd with --ip-masq=false; `
    + `the hand-made pair is VNI 2 on the same port and hosts, own bridge and pod per host. Client on host1's pod, server on host2's.\n\n`);
  process.stdout.write(renderDatapath({ runs, seconds, pings: PING_ROUNDS * perBurst, mtu, wgMtu, throughput, rtt, streams: STREAMS }));
} finally {
  for (const d of daemons.values()) await d.stop('SIGKILL');
  await handWireguard?.stop();
  await rig.down();
}
