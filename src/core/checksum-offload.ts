/**
 * TX checksum offload on weft's VXLAN device (`Backend.ChecksumOffload`):
 * what each setting asks of the device, and the doctor's verdict on what
 * the device has. Pure; src/adapters/ethtool.ts reads and sets the flag.
 *
 * - `off` (the default): `tx-checksum-ip-generic off`, so the kernel
 *   computes the inner checksum in software before encapsulating. This
 *   avoids the VXLAN checksum bug of field-failures §1.11 ("63-second
 *   delay", `bad udp cksum` on 8472), which is visible only on the
 *   receiving host and so cannot be detected locally.
 * - `on`: `tx-checksum-ip-generic on` (the kernel's default for a new
 *   VXLAN device), for operators who measured it safe on their kernels.
 * - `auto`: weft does not touch the flag: the device keeps what the kernel
 *   gives a new VXLAN device (on, on current kernels) or what a udev rule or
 *   an operator sets. There is no self-test behind it (docs/design.md says why).
 */
import { type CheckResult, fail, ok, warn } from './check-result.js';

export type ChecksumOffload = 'auto' | 'on' | 'off';

export const DEFAULT_CHECKSUM_OFFLOAD: ChecksumOffload = 'off';

const VALUES: readonly ChecksumOffload[] = ['auto', 'on', 'off'];

/** `Backend.ChecksumOffload` (case-insensitive string); absent is the default. */
export function parseChecksumOffload(value: unknown, errors: string[]): ChecksumOffload {
  if (value === undefined || value === null || value === '') return DEFAULT_CHECKSUM_OFFLOAD;
  const found = typeof value === 'string' ? VALUES.find((v) => v === value.toLowerCase()) : undefined;
  if (found === undefined) errors.push(`Backend.ChecksumOffload must be "auto", "on" or "off", got ${JSON.stringify(value)}`);
  return found ?? DEFAULT_CHECKSUM_OFFLOAD;
}

/** The flag the device should have: true (on), false (off), or undefined for `auto` (weft leaves it alone). */
export function wantedTxChecksum(setting: ChecksumOffload): boolean | undefined {
  if (setting === 'auto') return undefined;
  return setting === 'on';
}

/** What the device's `tx-checksum-ip-generic` was read as: on/off, or why it could not be read. */
export type TxChecksumFact = { readonly ok: true; readonly on: boolean } | { readonly ok: false; readonly error: string };

/** The doctor's check: the device's flag against the config (FAIL on a mismatch weftd should have fixed). */
export function checkChecksumOffload(device: string | undefined, setting: ChecksumOffload | undefined, fact: TxChecksumFact | undefined): CheckResult {
  const name = 'checksum offload';
  if (!device || !fact) return warn(name, 'not checked: no device', 'fix the device first');
  if (!fact.ok) return warn(name, `cannot read ${device}'s tx-checksum-ip-generic: ${fact.error}`, 'install ethtool and run doctor as root on the host');
  const state = `${device} tx-checksum-ip-generic ${fact.on ? 'on' : 'off'}`;
  if (setting === undefined) return warn(name, `${state}; not compared: the network config cannot be read`, 'fix etcd first');
  const wanted = wantedTxChecksum(setting);
  if (wanted === undefined) return ok(name, `${state} (Backend.ChecksumOffload auto: weft leaves the kernel's setting)`);
  if (wanted === fact.on) return ok(name, `${state}, as Backend.ChecksumOffload ${setting} asks`);
  return fail(name, `${state}, but Backend.ChecksumOffload is ${setting}`,
    `weftd sets it when it creates the device and on every resync that reads the kernel (about once a minute); if it stays wrong, read weftd's log `
    + `for "checksum offload" (is ethtool installed?); by hand: ethtool -K ${device} tx-checksum-ip-generic ${setting}`);
}
