/** tshark inside a test namespace, for tests that check what is on the wire. */
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

export interface CaptureOptions {
  readonly netns: string;
  /** Default `eth0`. */
  readonly iface?: string;
  /** A capture (BPF) filter, e.g. `udp port 8472`. */
  readonly filter: string;
  /** Stop after this many packets (or after 20 s). */
  readonly packets: number;
  /** Fields printed per packet, tab-separated, e.g. ['ip.src', 'ip.dst']. */
  readonly fields: readonly string[];
  /** tshark `-d` rules, e.g. ['udp.port==8472,vxlan'] (8472 is not decoded as VXLAN by default). */
  readonly decodeAs?: readonly string[];
}

/**
 * Starts tshark and resolves about 1 s after it reports "Capturing on" (the
 * first packets can be missed before that). `done` resolves with its field
 * lines once `packets` were seen, or stops it after `graceMs` when fewer came.
 */
export async function startCapture(o: CaptureOptions): Promise<{ done: (graceMs?: number) => Promise<string[]> }> {
  const args = ['netns', 'exec', o.netns, 'tshark', '-n', '-i', o.iface ?? 'eth0', '-f', o.filter,
    ...(o.decodeAs ?? []).flatMap((d) => ['-d', d]), '-l', '-c', String(o.packets), '-a', 'duration:20',
    '-T', 'fields', ...o.fields.flatMap((f) => ['-e', f])];
  const child = execa('ip', args, { reject: false, buffer: { stdout: true, stderr: false } });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tshark did not start capturing within 15 s in ${o.netns}: ${stderr.slice(-500)}`)), 15_000);
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); if (stderr.includes('Capturing on')) { clearTimeout(timer); resolve(); } });
  });
  await sleep(1000);
  const result = child.then((r) => String(r.stdout).split('\n').filter((l) => l !== ''));
  return {
    done: async (graceMs = 3000) => {
      const timer = setTimeout(() => child.kill('SIGINT'), graceMs);
      try { return await result; } finally { clearTimeout(timer); }
    },
  };
}

/** The VXLAN view used by the overlay tests: VNI, outer+inner source, outer+inner destination, ICMP type. */
export function captureVxlan(netns: string, packets: number): ReturnType<typeof startCapture> {
  return startCapture({ netns, filter: 'udp port 8472', packets, decodeAs: ['udp.port==8472,vxlan'],
    fields: ['vxlan.vni', 'ip.src', 'ip.dst', 'icmp.type'] });
}

/** One VXLAN-over-IPv6 packet as captureVxlan6 reports it. */
export interface Vxlan6Packet {
  readonly vni: number;
  /** The underlay (outer) IPv6 addresses. */
  readonly outerSrc: string;
  readonly outerDst: string;
  /** The overlay (inner) addresses: IPv6 for the IPv6 device. */
  readonly innerSrc: string | undefined;
  readonly innerDst: string | undefined;
  /** The inner ICMPv6 type (128 echo request, 129 reply), when it is one. */
  readonly icmpv6Type: number | undefined;
}

/**
 * VXLAN over an IPv6 underlay (the `weft-v6.<VNI>` device): `ip6 and udp
 * port 8472`, decoded as VXLAN. tshark prints both IPv6 headers of a packet
 * in one field, outer first (`fd00:99::11,fd00:10:0:1::2`): split here.
 */
export async function captureVxlan6(netns: string, packets: number, iface = 'eth0'): Promise<{ done: (graceMs?: number) => Promise<Vxlan6Packet[]> }> {
  const capture = await startCapture({ netns, iface, filter: 'ip6 and udp port 8472', packets, decodeAs: ['udp.port==8472,vxlan'],
    fields: ['vxlan.vni', 'ipv6.src', 'ipv6.dst', 'icmpv6.type'] });
  return { done: async (graceMs) => (await capture.done(graceMs)).map(parseVxlan6Fields) };
}

/** One field line of captureVxlan6's capture: `vni \t outer,inner src \t outer,inner dst \t icmpv6 type`. */
export function parseVxlan6Fields(line: string): Vxlan6Packet {
  const [vni = '', src = '', dst = '', icmp = ''] = line.split('\t');
  const [outerSrc = '', innerSrc] = src.split(',');
  const [outerDst = '', innerDst] = dst.split(',');
  return { vni: Number(vni), outerSrc, outerDst, innerSrc, innerDst, icmpv6Type: icmp === '' ? undefined : Number(icmp.split(',')[0]) };
}
