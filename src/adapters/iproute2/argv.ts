/**
 * Pure builders for iproute2 argument arrays and `-batch` lines. Batch lines
 * are split on whitespace by iproute2 (with `#` and quotes special), so every
 * token is checked to be a plain word before it is joined into a line.
 */
import { type KernelOp, WEFT_ROUTE_PROTOCOL } from '../../core/kernel-state.js';
import type { VxlanDeviceSpec } from '../../core/vxlan-device.js';

export type Tool = 'ip' | 'bridge';

/**
 * The address family an adapter works in: 4 for `weft.<VNI>`, 6 for
 * `weft-v6.<VNI>`. `ip` takes it as `-4`/`-6`; `bridge` is family-agnostic
 * (its FDB entries are per device).
 */
export type Family = 4 | 6;

const SAFE_TOKEN = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;

/** Throws when a value could be mis-split or misread inside a batch line (a bug, never input-dependent for our types). */
export function assertToken(value: string): string {
  if (!SAFE_TOKEN.test(value)) throw new Error(`unsafe iproute2 token ${JSON.stringify(value)}`);
  return value;
}

/** Global options: run in a network namespace when one is given (`ip -n <ns>`, `bridge -n <ns>`). */
export function withNetns(netns: string | undefined, args: readonly string[]): string[] {
  return netns === undefined ? [...args] : ['-n', assertToken(netns), ...args];
}

/** `ip link add <name> address <mac> mtu <mtu> type vxlan id <vni> dev <parent> local <ip> dstport <port> nolearning [gbp]`. */
export function linkAddVxlanArgv(spec: VxlanDeviceSpec): string[] {
  return ['link', 'add', assertToken(spec.name), 'address', assertToken(spec.mac), 'mtu', String(spec.mtu),
    'type', 'vxlan', 'id', String(spec.vni), 'dev', assertToken(spec.parent), 'local', assertToken(spec.local),
    'dstport', String(spec.port), 'nolearning', ...(spec.gbp ? ['gbp'] : [])];
}

export function linkDeleteArgv(name: string): string[] {
  return ['link', 'del', 'dev', assertToken(name)];
}

export function linkSetMtuArgv(name: string, mtu: number): string[] {
  return ['link', 'set', 'dev', assertToken(name), 'mtu', String(mtu)];
}

export function linkSetUpArgv(name: string): string[] {
  return ['link', 'set', 'dev', assertToken(name), 'up'];
}

/**
 * Adds (or refreshes) `<address>` on the link; `address` is `a.b.c.d/len` or
 * `<ipv6>/len`. `nodad` for an IPv6 address: usable at once instead of
 * `tentative` for a second of duplicate address detection (the subnet's
 * address is unique by lease, and DAD cannot work on a device that has no
 * multicast remote anyway).
 */
export function addrReplaceArgv(name: string, address: string, nodad = false): string[] {
  return ['addr', 'replace', assertToken(address), 'dev', assertToken(name), ...(nodad ? ['nodad'] : [])];
}

export function addrDeleteArgv(name: string, address: string): string[] {
  return ['addr', 'del', assertToken(address), 'dev', assertToken(name)];
}

/** One link with details (`linkinfo`) and addresses. */
export function linkShowArgv(name: string): string[] {
  return ['-j', '-d', 'addr', 'show', 'dev', assertToken(name)];
}

export function addrShowAllArgv(): string[] {
  return ['-j', 'addr', 'show'];
}

/** One interface's IPv6 addresses with their flags (`tentative`, `deprecated`, `dadfailed`, `temporary`). */
export function addr6ShowArgv(name: string): string[] {
  return ['-j', '-6', 'addr', 'show', 'dev', assertToken(name)];
}

/**
 * `sysctl -qw net/ipv6/conf/<device>/accept_ra=0` (the slash form: device
 * names hold dots), in the namespace when one is given. flannel sets it on
 * its IPv6 device: router advertisements must not configure an overlay device.
 */
export function acceptRaOffArgv(netns: string | undefined, device: string): { file: string; args: string[] } {
  const sysctl = ['sysctl', '-qw', `net/ipv6/conf/${assertToken(device)}/accept_ra=0`];
  return netns === undefined ? { file: 'sysctl', args: sysctl.slice(1) } : { file: 'ip', args: ['netns', 'exec', assertToken(netns), ...sysctl] };
}

export function defaultRouteArgv(): string[] {
  return ['-j', '-4', 'route', 'show', 'default'];
}

/**
 * A resync's two `ip` reads in one `ip -N -j -4 -batch -` process (`-6` for
 * the IPv6 device; a process start costs more than either read); each line
 * prints one JSON array on a line of its own. `-N`: protocols as numbers, so
 * weft's mark reads 87 whatever name a local rt_protos file gives it (it
 * changes nothing in the neighbour output).
 */
export function entryReadArgv(family: Family = 4): string[] {
  return ['-N', '-j', `-${family}`, '-batch', '-'];
}

/**
 * The lines of that read: the device's neighbours, then the main-table
 * routes on the device, or with `network` every route inside it on any
 * device (`root`: prefixes at least as long as the network's). With
 * `directDevice` and no `network`, a third line lists the routes on the
 * external interface, where weft's marked ones are DirectRouting's (the
 * network read has them already).
 */
export function entryReadInput(device: string, network?: string, directDevice?: string): string {
  const route = network === undefined ? `route show dev ${assertToken(device)}` : `route show root ${assertToken(network)}`;
  // Not filtered by `proto`: a listing filtered by a field leaves that field out of its JSON (the mark would not show).
  const direct = network === undefined && directDevice !== undefined ? `route show dev ${assertToken(directDevice)}\n` : '';
  return `neigh show dev ${assertToken(device)}\n${route}\n${direct}`;
}

/** `ip -j -4 route show table main` (`-6`): the underlay routes DirectRouting decides with. */
export function underlayRoutesArgv(family: Family = 4): string[] {
  return ['-j', `-${family}`, 'route', 'show', 'table', 'main'];
}

/** `bridge -j fdb show dev <device>`. */
export function fdbShowArgv(device: string): string[] {
  return ['-j', 'fdb', 'show', 'dev', assertToken(device)];
}

/**
 * The change monitor for routes, neighbours and links: `-4` (`-6` for the
 * IPv6 device) keeps out the other family and the AF_BRIDGE FDB
 * notifications that `monitor neigh` would otherwise print as ambiguous
 * neighbour lines (link events still arrive), `-o` one line per event, `-N`
 * numeric protocols (87 whatever rt_protos says), `label` a
 * `[ROUTE]`/`[NEIGH]`/`[LINK]` prefix (a host route and a neighbour look
 * alike without it).
 */
export function ipMonitorArgv(family: Family = 4): string[] {
  return [`-${family}`, '-o', '-N', 'monitor', 'label', 'link', 'route', 'neigh'];
}

/** The FDB change monitor: `bridge monitor fdb`, one line per event. */
export function fdbMonitorArgv(): string[] {
  return ['monitor', 'fdb'];
}

/**
 * `-force` keeps going after a failed line and reports `Command failed
 * -:<line>` on stderr. `ip` of the IPv6 adapter runs as `ip -6`, as its
 * `neigh` and `route` commands are written for the IPv6 device.
 */
export function batchArgv(tool: Tool = 'ip', family: Family = 4): string[] {
  return [...(tool === 'ip' && family === 6 ? ['-6'] : []), '-force', '-batch', '-'];
}

/** Which tool programs this kind of entry. */
export function toolFor(op: KernelOp): Tool {
  return op.kind === 'fdb' ? 'bridge' : 'ip';
}

/** The `-batch` line for one operation (without the tool name). */
export function batchLine(op: KernelOp, device: string): string {
  const dev = assertToken(device);
  switch (op.kind) {
    case 'fdb': {
      const { mac, dst } = op.entry;
      return op.action === 'replace'
        ? `fdb replace ${assertToken(mac)} dev ${dev} dst ${assertToken(dst)} self permanent`
        : `fdb del ${assertToken(mac)} dev ${dev} dst ${assertToken(dst)} self`;
    }
    case 'neighbor': {
      const { ip, mac } = op.entry;
      return op.action === 'replace'
        ? `neigh replace ${assertToken(ip)} lladdr ${assertToken(mac)} dev ${dev} nud permanent`
        : `neigh del ${assertToken(ip)} dev ${dev}`;
    }
    case 'route': {
      const { dst, via } = op.entry;
      if (op.entry.dev !== undefined) {
        // DirectRouting: on the external interface, via the peer's public IP (on this segment: no onlink).
        const direct = `${assertToken(dst)} via ${assertToken(via)} dev ${assertToken(op.entry.dev)} proto ${WEFT_ROUTE_PROTOCOL}`;
        return op.action !== 'delete' ? `route ${op.action} ${direct}` : `route del ${direct}`;
      }
      // The mark goes on every route weft installs; a delete names the protocol
      // the route carries, so the kernel refuses to delete anything else.
      return op.action !== 'delete'
        ? `route ${op.action} ${assertToken(dst)} via ${assertToken(via)} dev ${dev} onlink proto ${WEFT_ROUTE_PROTOCOL}`
        : `route del ${assertToken(dst)} via ${assertToken(via)} dev ${dev}${op.entry.legacy ? '' : ` proto ${WEFT_ROUTE_PROTOCOL}`}`;
    }
  }
}

/** One route operation as a whole `ip` command line (`ip -6` for family 6 comes from the caller's adapter). */
export function routeArgv(op: KernelOp, device: string): string[] {
  return batchLine(op, device).split(' ');
}

/** `ip -6 route del <dst> proto 87`: weft's route to `dst`, whatever its device. */
export function routeDeleteMarkedArgv(dst: string): string[] {
  return ['-6', 'route', 'del', assertToken(dst), 'proto', String(WEFT_ROUTE_PROTOCOL)];
}

/** The stdin of one batch: one line per operation, newline-terminated. */
export function batchInput(ops: readonly KernelOp[], device: string): string {
  return ops.map((op) => `${batchLine(op, device)}\n`).join('');
}
