/**
 * A host switched from one backend to the other (network config changed,
 * weftd restarted): what the old backend left is removed before the new one
 * starts, so no stale device keeps routes into the overlay.
 * - to wireguard: every VXLAN device of weft's (`weft.<VNI>`, `weft-v6.<VNI>`);
 *   their routes, neighbours and FDB entries go with them;
 * - to vxlan: `weft-wg` (its wireguard-go stopped by the PID weft recorded;
 *   the device, its address and route go with it).
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

export async function removeOtherBackend(type: 'vxlan' | 'wireguard', log: Logger, wireguardRunDir = '/run/weft'): Promise<void> {
  const present = await links();
  const kernel = new IpRoute2({ persistentBatches: false });
  const stale = type === 'wireguard' ? present.filter((n) => VXLAN_DEVICE.test(n)) : present.filter((n) => n === WIREGUARD_DEVICE);
  if (type === 'vxlan') {
    const pid = await stopWireguardGo(wireguardRunDir, WIREGUARD_DEVICE).catch((err: unknown) => {
      log.warn({ err: errorMessage(err) }, 'cannot stop the wireguard-go of the wireguard backend');
      return undefined;
    });
    if (pid !== undefined) log.info({ pid }, 'backend is vxlan now: stopped the wireguard backend\'s wireguard-go');
  }
  for (const name of stale) {
    try {
      await kernel.deleteDevice(name);
      log.info({ device: name, backend: type }, `backend is ${type} now: removed the other backend's device`);
    } catch (err) {
      log.warn({ device: name, err: errorMessage(err) }, 'cannot remove the other backend\'s device');
    }
  }
}
