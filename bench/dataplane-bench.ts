/**
 * Data-plane benchmark. Runs INSIDE a rig host namespace (scripts/bench.sh
 * does that), next to etcd on the rig's underlay. For N peers it measures:
 *  - floor: the same 3N entries applied by one `ip -batch` + one `bridge -batch`;
 *  - cold start: weftd start → all 3N entries programmed (its first full pass);
 *  - restart with nothing changed: time to converge, and it must change nothing;
 *  - (largest N) one lease added → its route in the kernel, p50/p99 over many events;
 *  - (largest N) weftd RSS.
 * Prints a markdown table with ratios against the floor.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { execa } from 'execa';
import { type LogLine, WEFTD_BIN, childEnv, startWeftd, type WeftdProcess } from '../test/helpers/weftd-process.js';

const { values } = parseArgs({ options: {
  etcd: { type: 'string', default: 'http://192.0.2.1:2379' }, sizes: { type: 'string', default: '1000,5000' },
  events: { type: 'string', default: '100' }, reps: { type: 'string', default: '3' },
} });
const sizes = (values.sizes ?? '').split(',').map(Number);
const EVENTS = Number(values.events);
const REPS = Number(values.reps);
const PREFIX = '/weft/network';
const etcd = new Etcd3({ hosts: values.etcd ?? '' });
void WEFTD_BIN;

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)] ?? NaN; };
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN; };
const ms = (x: number): string => `${x.toFixed(1)} ms`;

function peer(i: number): { key: string; subnet: string; vtep: string; mac: string; ip: string } {
  const a = 1 + (i >> 8), b = i & 255;
  const mac = `02:be:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;
  return { key: `10.${a}.${b}.0-24`, subnet: `10.${a}.${b}.0/24`, vtep: `10.${a}.${b}.0`, mac, ip: `198.18.${(i >> 8) & 255}.${i & 255}` };
}

function leaseValue(p: ReturnType<typeof peer>, i: number): string {
  return JSON.stringify({ PublicIP: p.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: p.mac }, NodeName: `peer${i}` });
}

async function writePeers(from: number, to: number): Promise<void> {
  for (let start = from; start <= to; start += 100) {
    const ops = [];
    for (let i = start; i <= Math.min(to, start + 99); i++) { const p = peer(i); ops.push(etcd.put(`${PREFIX}/subnets/${p.key}`).value(leaseValue(p, i))); }
    await etcd.if(`${PREFIX}/config`, 'Create', '>', 0).then(...ops).commit();
  }
}

async function counts(dev: string): Promise<[number, number, number]> {
  const j = async (cmd: string, args: string[]) => (JSON.parse((await execa(cmd, ['-j', ...args])).stdout || '[]') as unknown[]).length;
  return [await j('ip', ['route', 'show', 'dev', dev]), await j('ip', ['neigh', 'show', 'dev', dev]), await j('bridge', ['fdb', 'show', 'dev', dev])];
}

async function floor(n: number, local: string): Promise<number> {
  const dev = 'weftfloor';
  await execa('ip', ['link', 'del', dev]).catch(() => undefined);
  await execa('ip', ['link', 'add', dev, 'type', 'vxlan', 'id', '99', 'dev', 'eth0', 'local', local, 'dstport', '8499', 'nolearning']);
  await execa('ip', ['link', 'set', dev, 'up']);
  let ipText = '', brText = '';
  for (let i = 1; i <= n; i++) {
    const p = peer(i);
    brText += `fdb replace ${p.mac} dev ${dev} dst ${p.ip} self permanent\n`;
    ipText += `neigh replace ${p.vtep} lladdr ${p.mac} dev ${dev} nud permanent\nroute replace ${p.subnet} via ${p.vtep} dev ${dev} onlink\n`;
  }
  const t0 = performance.now();
  await execa('bridge', ['-force', '-batch', '-'], { input: brText });
  await execa('ip', ['-force', '-batch', '-'], { input: ipText });
  const took = performance.now() - t0;
  const c = await counts(dev);
  await execa('ip', ['link', 'del', dev]);
  if (c.some((x) => x !== n)) throw new Error(`floor programmed ${c.join('/')} instead of ${n}`);
  return took;
}

function weftd(subnetFile: string): WeftdProcess {
  return startWeftd(['--etcd-endpoints', values.etcd ?? '', '--node-name', 'benchhost', '--iface', 'eth0', '--subnet-file', subnetFile, '--resync-interval', '30s']);
}

const ready = (p: WeftdProcess): Promise<LogLine> => p.waitForLog((l) => l.msg === 'first reconcile pass done; ready', 120_000, 'first pass');

async function main(): Promise<void> {
  const local = JSON.parse((await execa('ip', ['-j', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout)[0].addr_info[0].local as string;
  const subnetFile = join(tmpdir(), `weft-bench-${process.pid}.env`);
  const rows: string[] = [];
  const notes: string[] = [];
  for (const n of sizes) {
    await etcd.delete().prefix(`${PREFIX}/`);
    await execa('ip', ['link', 'del', 'weft.1']).catch(() => undefined);
    rmSync(subnetFile, { force: true });
    await etcd.put(`${PREFIX}/config`).value('{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}');
    await writePeers(1, n);
    const floors: number[] = [];
    for (let r = 0; r < REPS; r++) floors.push(await floor(n, local));
    const f = median(floors);

    const t0 = performance.now();
    let d = weftd(subnetFile);
    const first = await ready(d);
    const coldWall = performance.now() - t0;
    const c = await counts('weft.1');
    if (c.some((x) => x !== n)) throw new Error(`weftd programmed ${c.join('/')} entries, wanted ${n} each`);
    await d.stop();
    const restarts: { pass: number; wall: number; changes: number }[] = [];
    for (let r = 0; r < REPS; r++) {
      const s0 = performance.now();
      d = weftd(subnetFile);
      const again = await ready(d);
      restarts.push({ pass: Number(again.passMs), wall: performance.now() - s0, changes: Number(again.changes) });
      if (r < REPS - 1) await d.stop();
    }
    const restartPass = median(restarts.map((x) => x.pass));
    const changed = Math.max(...restarts.map((x) => x.changes));
    rows.push(`| ${n} | ${ms(f)} | ${ms(Number(first.passMs))} | ${(Number(first.passMs) / f).toFixed(2)}× | ${ms(coldWall)} | ${ms(restartPass)} | ${ms(median(restarts.map((x) => x.wall)))} | ${changed} |`);

    if (n === Math.max(...sizes)) {
      const lat = await eventLatencies(n);
      const status = readFileSync(`/proc/${d.child.pid}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024;
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024;
      notes.push(`One lease added → its route in the kernel, ${lat.length} events with ${n} peers present: `
        + `p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}, max ${ms(Math.max(...lat))}.`);
      notes.push(`weftd memory with ${n + lat.length} peers: RSS ${rss.toFixed(1)} MB (peak ${hwm.toFixed(1)} MB).`);
    }
    await d.stop();
  }
  await execa('ip', ['link', 'del', 'weft.1']).catch(() => undefined);
  await etcd.delete().prefix(`${PREFIX}/`);
  etcd.close();
  rmSync(subnetFile, { force: true });
  process.stdout.write([
    '| peers | floor: ip+bridge -batch | weftd first pass | ratio | weftd start→ready (wall) | restart, no change: pass | restart: start→ready (wall) | changes on restart |',
    '|---|---|---|---|---|---|---|---|', ...rows, '', ...notes.map((x) => `- ${x}`), ''].join('\n'));
}

/** Adds EVENTS new leases one at a time and times each until `ip monitor` reports its route. */
async function eventLatencies(n: number): Promise<number[]> {
  const mon = spawn('ip', ['monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'], env: childEnv() });
  const seen = new Map<string, number>();
  let buf = '';
  mon.stdout.on('data', (d: Buffer) => {
    const now = performance.now();
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) { const m = /^(10\.\d+\.\d+\.0\/24) via/.exec(line); if (m?.[1] && !seen.has(m[1])) seen.set(m[1], now); }
  });
  await new Promise((r) => setTimeout(r, 300));
  const out: number[] = [];
  for (let e = 1; e <= EVENTS; e++) {
    const i = n + e;
    const p = peer(i);
    const t0 = performance.now();
    await etcd.put(`${PREFIX}/subnets/${p.key}`).value(leaseValue(p, i));
    for (let k = 0; k < 2000 && !seen.has(p.subnet); k++) await new Promise((r) => setTimeout(r, 1));
    const t1 = seen.get(p.subnet);
    if (t1 === undefined) throw new Error(`route for ${p.subnet} never appeared`);
    out.push(t1 - t0);
    await new Promise((r) => setTimeout(r, 20));
  }
  mon.kill();
  return out;
}

main().catch((err: unknown) => { process.stderr.write(`dataplane-bench: ${err instanceof Error ? err.stack : String(err)}\n`); process.exitCode = 1; });
