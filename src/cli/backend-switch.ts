/**
 * A host switched from one backend to the other (network config changed,
 * weftd restarted): what the old backend left is removed before the new one
 * starts, so no stale device keeps routes into the overlay.
 * - to wireguard: every VXLAN device of weft's (`weft.<VNI>`, `weft-v6.<VNI>`);
 *   their routes, neighbours and FDB entries go with them;
 * - to vxlan: `weft-wg` (removeWireguardTunnel).
 * Only devices with weft's names are touched, in this network namespace.
 */
import { readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import { WIREGUARD_DEVICE } from '../core/wireguard/device.js';
import { IpRoute2 } from '../adapters/iproute2/iproute2.js';
import { stopWireguardGo } from '../adapters/wireguard/wireguard-go-daemon.js';

const VXLAN_DEVICE = /^weft(?:-v6)?\.\d+$/;

async function links(): Promise<string[]> {
  return readdir('/sys/class/net').catch(() => []);
}

export interface WireguardRemoval {
  /** The wireguard-go that was stopped (by the PID weft recorded), if one ran. */
  readonly stoppedPid: number | undefined;
  /** True when `weft-wg` was still there after that and was deleted (a kernel WireGuard device, or a wireguard-go not of ours). */
  readonly deletedDevice: boolean;
}

/**
 * The wireguard backend's tunnel, gone: its wireguard-go stopped by the PID in
 * `<runDir>/weft-wg.pid` (only when that PID is a live wireguard-go; the device,
 * its address, route and UAPI socket go with the process), then `weft-wg`
 * deleted if it is still there. Idempotent. Used by a switch to vxlan and by
 * `weftctl cleanup`; weftd itself never does this on stop (KillMode=process).
 */
export async function removeWireguardTunnel(runDir: string): Promise<WireguardRemoval> {
  const stoppedPid = await stopWireguardGo(runDir, WIREGUARD_DEVICE);
  if (!(await links()).includes(WIREGUARD_DEVICE)) return { stoppedPid, deletedDevice: false };
  await new IpRoute2({ persistentBatches: false }).deleteDevice(WIREGUARD_DEVICE);
  return { stoppedPid, deletedDevice: true };
}

export async function removeOtherBackend(type: 'vxlan' | 'wireguard', log: Logger, wireguardRunDir = '/run/weft'): Promise<void> {
  if (type === 'vxlan') {
    try {
      const removed = await removeWireguardTunnel(wireguardRunDir);
      if (removed.stoppedPid !== undefined) log.info({ pid: removed.stoppedPid }, 'backend is vxlan now: stopped the wireguard backend\'s wireguard-go');
      if (removed.deletedDevice) log.info({ device: WIREGUARD_DEVICE, backend: type }, `backend is ${type} now: removed the other backend's device`);
    } catch (err) {
      log.warn({ device: WIREGUARD_DEVICE, err: errorMessage(err) }, 'cannot remove the wireguard backend\'s wireguard-go or device');
    }
    return;
  }
  const kernel = new IpRoute2({ persistentBatches: false });
  for (const name of (await links()).filter((n) => VXLAN_DEVICE.test(n))) {
    try {
      await kernel.deleteDevice(name);
      log.info({ device: name, backend: type }, `backend is ${type} now: removed the other backend's device`);
    } catch (err) {
      log.warn({ device: name, err: errorMessage(err) }, 'cannot remove the other backend\'s device');
    }
  }
}
