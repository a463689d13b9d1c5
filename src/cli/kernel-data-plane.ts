/** Builds the real kernel data plane (iproute2) for weftd. */
import type { Logger } from 'pino';
import type { DataPlanePort } from '../daemon/data-plane-port.js';

export async function createKernelDataPlane(log: Logger): Promise<DataPlanePort> {
  const [{ DataPlane }, { IpRoute2 }, { IpRoute2Monitor }, { Ethtool }] = await Promise.all([
    import('../daemon/data-plane.js'),
    import('../adapters/iproute2/iproute2.js'),
    import('../adapters/iproute2/kernel-monitor.js'),
    import('../adapters/ethtool.js'),
  ]);
  return new DataPlane({ kernel: new IpRoute2(), log: log.child({ component: 'dataplane' }), monitor: (device) => new IpRoute2Monitor({ device }),
    offload: new Ethtool() });
}
