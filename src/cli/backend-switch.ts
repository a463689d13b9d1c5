/**
 * A host switched from one backend to the other (network config changed,
 * weftd restarted): what the old backend left is removed before the new one
 * starts, so no stale device keeps routes into the overlay.
 * - to wireguard: every VXLAN device of weft's (`weft.<VNI>`, `weft-v6.<VNI>`);
 *   their routes, neighbours and FDB entries go with them; and every route
 *   with weft's protocol that is not on `weft-wg`: DirectRouting's routes on
 *   the external interface do not go with a device, and left in place they
 *   would carry pod traffic to those peers in clear text, around the tunnel;
 * - to vxlan: `weft-wg` and `weft-wg-v6` (removeWireguardTunnel).
 * Only devices with weft's names are touched, in this network namespace.
 */
import { readdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import { DEFAULT_RUN_DIR, WIREGUARD_DEVICE, WIREGUARD_DEVICE_V6 } from '../core/wireguard/device.js';
import { WEFT_ROUTE_PROTOCOL } from '../core/kernel-state.js';
import { IpRoute2 } from '../adapters/iproute2/iproute2.js';
import { execaRunner } from '../adapters/iproute2/runner.js';
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
  // weft-wg-v6 (Mode "separate" on a dual-stack network) first, the same way; weft-wg's result is what is reported.
  await stopWireguardGo(runDir, WIREGUARD_DEVICE_V6);
  if ((await links()).includes(WIREGUARD_DEVICE_V6)) await new IpRoute2({ persistentBatches: false }).deleteDevice(WIREGUARD_DEVICE_V6);
  const stoppedPid = await stopWireguardGo(runDir, WIREGUARD_DEVICE);
  if (!(await links()).includes(WIREGUARD_DEVICE)) return { stoppedPid, deletedDevice: false };
  await new IpRoute2({ persistentBatches: false }).deleteDevice(WIREGUARD_DEVICE);
  return { stoppedPid, deletedDevice: true };
}

export async function removeOtherBackend(type: 'vxlan' | 'wireguard', log: Logger, wireguardRunDir = DEFAULT_RUN_DIR): Promise<void> {
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
  await removeWeftRoutesOffTunnel(log);
  for (const name of (await links()).filter((n) => VXLAN_DEVICE.test(n))) {
    try {
      await kernel.deleteDevice(name);
      log.info({ device: name, backend: type }, `backend is ${type} now: removed the other backend's device`);
    } catch (err) {
      log.warn({ device: name, err: errorMessage(err) }, 'cannot remove the other backend\'s device');
    }
  }
}

/** Deletes every route with weft's protocol (both families) whose device is not weft-wg or weft-wg-v6. */
async function removeWeftRoutesOffTunnel(log: Logger): Promise<void> {
  const run = execaRunner();
  for (const family of ['-4', '-6'] as const) {
    const listed = await run('ip', [family, '-j', 'route', 'show', 'proto', String(WEFT_ROUTE_PROTOCOL)], { allowFailure: true });
    let routes: { dst?: string; dev?: string }[] = [];
    try {
      routes = JSON.parse(listed.stdout || '[]') as { dst?: string; dev?: string }[];
    } catch {
      log.warn({ family, stdout: listed.stdout.slice(0, 200) }, 'cannot read weft\'s routes');
    }
    for (const route of routes) {
      if (route.dst === undefined || route.dev === undefined || route.dev === WIREGUARD_DEVICE || route.dev === WIREGUARD_DEVICE_V6) continue;
      const deleted = await run('ip', [family, 'route', 'del', route.dst, 'dev', route.dev, 'proto', String(WEFT_ROUTE_PROTOCOL)], { allowFailure: true });
      if (deleted.exitCode === 0) log.info({ route: route.dst, device: route.dev }, 'backend is wireguard now: removed a route of weft\'s outside the tunnel (DirectRouting)');
      else log.warn({ route: route.dst, device: route.dev, err: deleted.stderr.trim() }, 'cannot remove a route of weft\'s outside the tunnel');
    }
  }
}
