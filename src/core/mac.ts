/** MAC addresses as canonical lower-case colon strings, and the stable VTEP MAC. */
import { createHash } from 'node:crypto';

export type Mac = string & { readonly __brand: 'Mac' };

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Parses `aa:bb:cc:dd:ee:ff` (any case); undefined if it is not a unicast MAC. */
export function parseMac(text: string): Mac | undefined {
  if (!MAC_RE.test(text)) return undefined;
  if ((parseInt(text.charAt(1), 16) & 1) === 1) return undefined; // multicast / broadcast: low bit of the first octet
  // Already lower case (as the kernel tools print it): no copy, for the ~10 000 MACs of a kernel read.
  const lower = /[A-F]/.test(text) ? text.toLowerCase() : text;
  if (lower === '00:00:00:00:00:00') return undefined;
  return lower as Mac;
}

/**
 * The VTEP MAC for a node: derived from the node name and VNI, locally
 * administered and unicast, so a restart or a reboot (or a recreated device)
 * keeps the same MAC and peers never hold stale FDB/neighbour entries. The
 * IPv6 device (`family` 6) gets its own MAC, as in flannel; the IPv4 one is
 * the MAC weft always derived.
 */
export function vtepMacFor(nodeName: string, vni: number, family: 4 | 6 = 4): Mac {
  const tag = family === 4 ? 'weft-vtep' : 'weft-vtep6';
  const digest = createHash('sha256').update(`${tag}\0${nodeName}\0${vni}`).digest();
  const bytes = [...digest.subarray(0, 6)];
  bytes[0] = ((bytes[0] ?? 0) & 0xfe) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':') as Mac;
}
