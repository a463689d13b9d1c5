/**
 * An in-memory Kernel with the semantics the daemon relies on: devices are
 * created down, deleting a device drops its entries, `replace` creates or
 * overwrites, `delete` of a missing entry fails, a unicast MAC has one FDB
 * remote. Every mutating call is recorded so tests can check order and count.
 */
import { type Cidr, type Ipv4, containsCidr, containsIp, parseCidr } from '../../src/core/cidr.js';
import { type Cidr6, type Ipv6, containsCidr6, containsIp6, parseCidr6 } from '../../src/core/cidr6.js';
import { KernelCommandError } from '../../src/core/errors.js';
import { type InterfaceAddresses, type InterfaceAddresses6, selectExternalAddress6, selectExternalInterface } from '../../src/core/external-interface.js';
import type { UnderlayRoute } from '../../src/core/direct-routing.js';
import type { FdbEntry, KernelOp, KernelState, Neighbor, Route } from '../../src/core/kernel-state.js';
import type { Mac } from '../../src/core/mac.js';
import type { ForeignRoute } from '../../src/core/peer-acceptance.js';
import type { ExternalInterface, ExternalInterface6, VxlanDeviceSpec, VxlanLinkInfo } from '../../src/core/vxlan-device.js';
import type { AddressChange, ApplyReport, InterfaceSelector, Kernel, OpFailure } from '../../src/adapters/kernel.js';

export interface MemoryDevice {
  info: VxlanLinkInfo;
  readonly routes: Map<Cidr, Route>;
  readonly neighbors: Map<Ipv4, Neighbor>;
  readonly fdb: Map<Mac, FdbEntry>;
}

export class MemoryKernel implements Kernel {
  interfaces: InterfaceAddresses[] = [
    { name: 'eth0', index: 2, mtu: 1500, addresses: [{ ip: '192.0.2.11' as Ipv4, prefixLength: 24, scope: 'global' }] },
  ];
  /** The interfaces' IPv6 addresses (externalInterface6). */
  interfaces6: InterfaceAddresses6[] = [
    { name: 'eth0', index: 2, mtu: 1500, addresses: [
      { ip: 'fd00:99::11' as Ipv6, prefixLength: 64, scope: 'global', deprecated: false, tentative: false, dadfailed: false, temporary: false },
      { ip: 'fe80::1' as Ipv6, prefixLength: 64, scope: 'link', deprecated: false, tentative: false, dadfailed: false, temporary: false },
    ] },
  ];
  defaultRouteDevice: string | undefined = 'eth0';
  readonly devices = new Map<string, MemoryDevice>();
  /** Every mutating call, e.g. `createDevice weft.1`, `apply replace route 10.5.2.0/24 via 10.5.2.0`. */
  readonly calls: string[] = [];
  /** Every operation passed to apply, in order (failed ones included). */
  readonly ops: KernelOp[] = [];
  /**
   * Main-table routes that are not weft's (on other devices, other protocols).
   * As in the kernel, a route replace with the same destination overwrites one.
   */
  foreignRoutes: ForeignRoute[] = [];
  /**
   * weft's direct routes (DirectRouting), on external interfaces: in the
   * kernel's one main table, so deleting weft's device leaves them, and a
   * route replace moves a destination between weft's device and these.
   */
  readonly directRoutes = new Map<Cidr, Route>();
  /** The main table as `ip route show table main` lists it (DirectRouting's underlay read). */
  underlayRoutes: UnderlayRoute[] = [
    { dst: '192.0.2.0/24', gateway: false, device: 'eth0', type: 'unicast' },
    { dst: 'default', gateway: true, device: 'eth0', type: 'unicast' },
  ];
  /** Return an error message to make that operation fail. */
  failOp: ((op: KernelOp) => string | undefined) | undefined;

  async externalInterface(sel: InterfaceSelector): Promise<ExternalInterface> {
    const choice = selectExternalInterface(this.interfaces, this.defaultRouteDevice, sel);
    if (!choice.ok) throw new KernelCommandError(`cannot select the external interface: ${choice.reason}`, ['memory'], '');
    return choice.ext;
  }

  async externalInterface6(iface: string, publicIpv6?: Ipv6): Promise<ExternalInterface6> {
    const choice = selectExternalAddress6(this.interfaces6.find((i) => i.name === iface), iface, publicIpv6);
    if (!choice.ok) throw new KernelCommandError(`cannot select the external IPv6 address: ${choice.reason}`, ['memory'], '');
    return choice.ext;
  }

  async readDevice(name: string): Promise<VxlanLinkInfo | undefined> {
    return this.devices.get(name)?.info;
  }

  async createDevice(spec: VxlanDeviceSpec): Promise<void> {
    this.calls.push(`createDevice ${spec.name}`);
    if (this.devices.has(spec.name)) throw fail(`RTNETLINK answers: File exists (${spec.name})`);
    if (!this.interfaces.some((i) => i.name === spec.parent)) throw fail(`Cannot find device "${spec.parent}"`);
    this.devices.set(spec.name, {
      info: { name: spec.name, kind: 'vxlan', vni: spec.vni, port: spec.port, local: spec.local, parent: spec.parent,
        learning: false, gbp: spec.gbp, mac: spec.mac, mtu: spec.mtu, up: false, addresses: [] },
      routes: new Map(), neighbors: new Map(), fdb: new Map(),
    });
  }

  async deleteDevice(name: string): Promise<void> {
    this.calls.push(`deleteDevice ${name}`);
    this.devices.delete(name);
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    this.calls.push(`setMtu ${name} ${mtu}`);
    const dev = this.#device(name);
    dev.info = { ...dev.info, mtu };
  }

  async setUp(name: string): Promise<void> {
    this.calls.push(`setUp ${name}`);
    const dev = this.#device(name);
    dev.info = { ...dev.info, up: true };
  }

  /** An IPv6 `ip` gets a /128 and removes the other addresses inside the IPv6 `network`, as the IPv6 adapter does. */
  async ensureAddress(name: string, ip: Ipv4 | Ipv6, network: Cidr | Cidr6): Promise<AddressChange> {
    this.calls.push(`ensureAddress ${name} ${ip}`);
    const dev = this.#device(name);
    const v6 = ip.includes(':');
    const wanted = `${ip}/${v6 ? 128 : 32}`;
    const added = !dev.info.addresses.includes(wanted);
    const removed = dev.info.addresses.filter((a) => {
      if (a === wanted) return false;
      if (v6) {
        const parsed = parseCidr6(a, false);
        return parsed.ok && containsIp6(network as Cidr6, parsed.ip);
      }
      const parsed = parseCidr(a, false);
      return parsed.ok && containsIp(network as Cidr, parsed.ip);
    });
    dev.info = { ...dev.info, addresses: [...dev.info.addresses.filter((a) => !removed.includes(a) && a !== wanted), wanted] };
    return { added, removed };
  }

  async readUnderlayRoutes(): Promise<UnderlayRoute[]> {
    return [...this.underlayRoutes];
  }

  async readState(device: string, network?: Cidr | Cidr6, directDevice?: string): Promise<KernelState> {
    const dev = this.#device(device);
    const direct = [...this.directRoutes.values()].filter((r) => r.dev === directDevice);
    const state = { routes: [...dev.routes.values(), ...direct], neighbors: [...dev.neighbors.values()], fdb: [...dev.fdb.values()] };
    if (network === undefined) return state;
    const inside = (dst: string): boolean => network.includes(':')
      ? dst.includes(':') && containsCidr6(network as Cidr6, dst as Cidr6)
      : !dst.includes(':') && containsCidr(network as Cidr, dst as Cidr);
    return { ...state, foreign: this.foreignRoutes.filter((r) => inside(r.dst)) };
  }

  async apply(device: string, ops: readonly KernelOp[]): Promise<ApplyReport> {
    const dev = this.#device(device);
    const failed: OpFailure[] = [];
    for (const op of ops) {
      this.ops.push(op);
      this.calls.push(`apply ${op.action} ${op.kind}`);
      const error = this.failOp?.(op) ?? this.#applyOne(dev, op);
      if (error !== undefined) failed.push({ op, error });
    }
    return { applied: ops.length - failed.length, failed };
  }

  /** The entries on a device, for assertions. */
  state(device: string): KernelState {
    const dev = this.#device(device);
    return { routes: [...dev.routes.values()], neighbors: [...dev.neighbors.values()], fdb: [...dev.fdb.values()] };
  }

  #applyOne(dev: MemoryDevice, op: KernelOp): string | undefined {
    const direct = op.kind === 'route' && op.entry.dev !== undefined;
    const table: Map<string, unknown> = op.kind === 'fdb' ? dev.fdb : op.kind === 'neighbor' ? dev.neighbors : direct ? this.directRoutes : dev.routes;
    const key = op.kind === 'fdb' ? op.entry.mac : op.kind === 'neighbor' ? op.entry.ip : op.entry.dst;
    // The main table is one: a route on weft's device and a direct one with the same destination are the same slot.
    const otherRoutes: Map<string, unknown> | undefined = op.kind !== 'route' ? undefined : direct ? dev.routes : this.directRoutes;
    if (op.action === 'add') {
      // As in the kernel: EEXIST only against a route with the same destination and metric (weft's routes have none).
      if (table.has(key) || otherRoutes?.has(key) || this.foreignRoutes.some((r) => r.dst === key && (r.metric ?? 0) === 0)) return 'RTNETLINK answers: File exists';
      table.set(key, op.entry);
      return undefined;
    }
    if (op.action === 'replace') {
      if (op.kind === 'route') this.foreignRoutes = this.foreignRoutes.filter((r) => r.dst !== op.entry.dst);
      otherRoutes?.delete(key);
      table.set(key, op.entry);
      return undefined;
    }
    return table.delete(key) ? undefined : 'RTNETLINK answers: No such file or directory';
  }

  #device(name: string): MemoryDevice {
    const dev = this.devices.get(name);
    if (!dev) throw fail(`Device "${name}" does not exist.`);
    return dev;
  }
}

function fail(message: string): KernelCommandError {
  return new KernelCommandError(message, ['memory'], message);
}
