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
