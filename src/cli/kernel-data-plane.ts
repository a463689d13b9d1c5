/**
 * Builds the real kernel data plane (iproute2) for weftd: the IPv4 VXLAN
 * DataPlane, and beside it a second instance for IPv6 (`weft-v6.<VNI>`), used
 * only when the network config enables IPv6 (its batch children and monitor
 * start only then).
 */
import type { Logger } from 'pino';
import type { DataPlanePort } from '../backend/data-plane-port.js';

export async function createKernelDataPlane(log: Logger): Promise<DataPlanePort> {
  const [{ DataPlane }, { IpRoute2 }, { IpRoute2Monitor }, { Ethtool }, { DualStackDataPlane }, { IPV6 }] = await Promise.all([
    import('../backend/vxlan/data-plane.js'),
    import('../adapters/iproute2/iproute2.js'),
    import('../adapters/iproute2/kernel-monitor.js'),
    import('../adapters/ethtool.js'),
    import('../backend/vxlan/dual-stack-data-plane.js'),
    import('../backend/vxlan/address-family.js'),
  ]);
  const child = log.child({ component: 'dataplane' });
  const offload = new Ethtool();
  const v4 = new DataPlane({ kernel: new IpRoute2(), log: child, monitor: (device) => new IpRoute2Monitor({ device }), offload });
  const v6 = new DataPlane({
    kernel: new IpRoute2({ family: 6 }), log: child, family: IPV6, offload,
    monitor: (device) => new IpRoute2Monitor({ device, family: 6 }),
  });
  return new DualStackDataPlane({ v4, v6, log: child });
}
