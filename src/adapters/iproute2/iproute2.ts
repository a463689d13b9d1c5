/**
 * The Kernel interface on top of the `ip` and `bridge` tools (iproute2 6.x).
 * Reads use `-j` JSON; entry changes go through `-force -batch -`, by
 * default one long-lived child per tool fed through stdin (batch-session.ts:
 * an event costs no process start), never one process per entry (~5 ms each).
 */
import { type Cidr, type Ipv4, containsIp, isIpv4 } from '../../core/cidr.js';
import { type Cidr6, type Ipv6, containsIp6, parseIpv6 } from '../../core/cidr6.js';
import { KernelCommandError } from '../../core/errors.js';
import { selectExternalAddress6, selectExternalInterface } from '../../core/external-interface.js';
import type { UnderlayRoute } from '../../core/direct-routing.js';
import { type KernelOp, type KernelState, isSatisfied } from '../../core/kernel-state.js';
import type { ExternalInterface, ExternalInterface6, VxlanDeviceSpec, VxlanLinkInfo } from '../../core/vxlan-device.js';
import type { AddressChange, ApplyReport, InterfaceSelector, Kernel, OpFailure } from '../kernel.js';
import * as argv from './argv.js';
import { type BatchOutcome, parseBatchErrors } from './batch.js';
import { BatchSession } from './batch-session.js';
import * as parse from './parse.js';
import { type CommandResult, type CommandRunner, type RunOptions, execaRunner } from './runner.js';

export interface IpRoute2Options {
  /** Default: `execaRunner()`. */
  readonly runner?: CommandRunner;
  /** Operate inside this named network namespace (`ip -n`), e.g. in tests. */
  readonly netns?: string | undefined;
  /**
   * Apply through long-lived batch children (default: true unless a runner
   * is given, whose one-shot calls then carry the batches).
   */
  readonly persistentBatches?: boolean;
  /**
   * The address family of the device this adapter programs (default 4).
   * With 6 (`weft-v6.<VNI>`) every entry read and write is IPv6 (`ip -6`),
   * entries read carry IPv6 text (see parse.ts), `ensureAddress` puts a
   * `/128` and `readDevice` lists IPv6 addresses. `externalInterface`,
   * `externalInterface6` and the device calls work the same in both.
   */
  readonly family?: argv.Family;
}

const MISSING_LINK = /does not exist|Cannot find device/;

export class IpRoute2 implements Kernel {
  readonly #runner: CommandRunner;
  readonly #netns: string | undefined;
  readonly #family: argv.Family;
  readonly #sessions: Readonly<Record<argv.Tool, BatchSession>> | undefined;

  constructor(options: IpRoute2Options = {}) {
    this.#runner = options.runner ?? execaRunner();
    this.#netns = options.netns;
    this.#family = options.family ?? 4;
    if (options.persistentBatches ?? options.runner === undefined) {
      const session = (tool: argv.Tool): BatchSession =>
        new BatchSession({ file: tool, args: argv.withNetns(this.#netns, argv.batchArgv(tool, this.#family)) });
      this.#sessions = { ip: session('ip'), bridge: session('bridge') };
    }
  }

  /** Ends the long-lived batch children (weftd's shutdown). */
  close(): void {
    this.#sessions?.ip.close();
    this.#sessions?.bridge.close();
  }

  /** New batch children for the next apply: the tools cache device indexes, which a created, deleted or failing device makes stale. */
  #freshBatches(): void {
    this.#sessions?.ip.restart();
    this.#sessions?.bridge.restart();
  }

  async externalInterface(sel: InterfaceSelector): Promise<ExternalInterface> {
    const needDefault = (sel.iface === undefined || sel.iface === '') && sel.publicIp === undefined;
    const [addrs, routes] = await Promise.all([
      this.#json('ip', argv.addrShowAllArgv()),
      needDefault ? this.#json('ip', argv.defaultRouteArgv()) : Promise.resolve([]),
    ]);
    const choice = selectExternalInterface(parse.parseInterfaces(addrs), parse.parseDefaultRouteDevice(routes), sel);
    if (!choice.ok) throw new KernelCommandError(`cannot select the external interface: ${choice.reason}`, ['ip', ...argv.addrShowAllArgv()], '');
    return choice.ext;
  }

  async externalInterface6(iface: string, publicIpv6?: Ipv6): Promise<ExternalInterface6> {
    const args = argv.addr6ShowArgv(iface);
    const result = await this.#run('ip', args, { allowFailure: true });
    if (result.exitCode !== 0 && !MISSING_LINK.test(result.stderr)) throw this.#failure('ip', args, result);
    const found = result.exitCode === 0 ? parse.parseInterfaces6(decode(result.stdout, ['ip', ...args]))[0] : undefined;
    const choice = selectExternalAddress6(found, iface, publicIpv6);
    if (!choice.ok) throw new KernelCommandError(`cannot select the external IPv6 address: ${choice.reason}`, ['ip', ...args], result.stderr);
    return choice.ext;
  }

  async readDevice(name: string): Promise<VxlanLinkInfo | undefined> {
    const result = await this.#run('ip', argv.linkShowArgv(name), { allowFailure: true });
    if (result.exitCode !== 0) {
      if (MISSING_LINK.test(result.stderr)) return undefined;
      throw this.#failure('ip', argv.linkShowArgv(name), result);
    }
    return parse.parseLinkInfo(decode(result.stdout, ['ip', ...argv.linkShowArgv(name)]), this.#family);
  }

  /**
   * With an IPv6 `local`, also turns off router advertisements on the new
   * device (flannel does; like flannel, a failure there is ignored: the
   * device works without it, and a host with IPv6 disabled fails louder
   * at the address).
   */
  async createDevice(spec: VxlanDeviceSpec): Promise<void> {
    this.#freshBatches();
    await this.#run('ip', argv.linkAddVxlanArgv(spec));
    if (spec.local.includes(':')) {
      const { file, args } = argv.acceptRaOffArgv(this.#netns, spec.name);
      await this.#runner(file, args, { allowFailure: true }).catch(() => undefined);
    }
  }

  async deleteDevice(name: string): Promise<void> {
    this.#freshBatches();
    const result = await this.#run('ip', argv.linkDeleteArgv(name), { allowFailure: true });
    if (result.exitCode !== 0 && !MISSING_LINK.test(result.stderr)) throw this.#failure('ip', argv.linkDeleteArgv(name), result);
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    await this.#run('ip', argv.linkSetMtuArgv(name, mtu));
  }

  async setUp(name: string): Promise<void> {
    await this.#run('ip', argv.linkSetUpArgv(name));
  }

  async ensureAddress(name: string, ip: Ipv4 | Ipv6, network: Cidr | Cidr6, current?: readonly string[]): Promise<AddressChange> {
    const addresses = current ?? (await this.readDevice(name))?.addresses;
    if (!addresses) throw new KernelCommandError(`device ${name} does not exist`, ['ip', ...argv.linkShowArgv(name)], '');
    const v6 = this.#family === 6;
    const wanted = `${ip}/${v6 ? 128 : 32}`;
    const added = !addresses.includes(wanted);
    // Add before removing so the host always has a source address for the overlay.
    if (added) await this.#run('ip', argv.addrReplaceArgv(name, wanted, v6));
    const removed = addresses.filter((a) => a !== wanted && (v6 ? inNetwork6(a, network as Cidr6) : inNetwork(a, network as Cidr)));
    for (const address of removed) await this.#run('ip', argv.addrDeleteArgv(name, address));
    return { added, removed };
  }

  async readState(device: string, network?: Cidr | Cidr6, directDevice?: string): Promise<KernelState> {
    const [[neighbors, routes, direct], fdb] = await Promise.all([this.#readNeighborsAndRoutes(device, network, directDevice),
      this.#json('bridge', argv.fdbShowArgv(device))]);
    const family = this.#family;
    const { ours, foreign } = parse.parseRoutes(routes, device, family, directDevice);
    // The third listing (no network read): weft's direct routes on the external interface, which `route show dev` names no device in.
    const directRoutes = direct === undefined || directDevice === undefined ? []
      : parse.parseRoutes(direct, directDevice, family, directDevice).ours.filter((r) => r.dev !== undefined);
    return { neighbors: parse.parseNeighbors(neighbors, family), routes: directRoutes.length > 0 ? [...ours, ...directRoutes] : ours,
      fdb: parse.parseFdb(fdb, family), ...(network === undefined ? {} : { foreign }) };
  }

  async readUnderlayRoutes(): Promise<UnderlayRoute[]> {
    return parse.parseUnderlayRoutes(await this.#json('ip', argv.underlayRoutesArgv(this.#family)));
  }

  /**
   * Applies `ops`: the FDB operations through one `bridge` batch process and
   * the neighbour and route operations through one `ip` batch process, each
   * in the given order, the two processes side by side (one after the other
   * when a route moves paths: see movesTraffic). The two tools write
   * disjoint tables, and the order that matters (a neighbour before the route
   * through it, the route gone before its neighbour) is within `ip`'s batch;
   * across the tools the worst case is a packet dropped in the millisecond an
   * FDB entry of an arriving or departing peer is not yet or no longer there.
   * An operation counts as failed only when its effect is not in place
   * afterwards: deleting an entry that is already gone is success.
   */
  async apply(device: string, ops: readonly KernelOp[]): Promise<ApplyReport> {
    let failed: OpFailure[] = [];
    if (movesTraffic(ops)) {
      // A route that carries traffic changes its path (a DirectRouting move, a peer's new MAC): the FDB entries it
      // needs go in before it, the ones it stops needing only after it, so no packet meets a route without its FDB entry.
      const fdb = ops.filter((op) => op.kind === 'fdb');
      const [before, after] = [fdb.filter((op) => op.action !== 'delete'), fdb.filter((op) => op.action === 'delete')];
      for (const stream of [before, ops.filter((op) => argv.toolFor(op) === 'ip'), after]) {
        if (stream.length > 0) await this.#applyBatch(device, stream, failed);
      }
    } else {
      // ip first: its batch (neighbours and routes, the kernel's slow part) is always the longer one.
      const streams = (['ip', 'bridge'] as const).map((tool) => ops.filter((op) => argv.toolFor(op) === tool));
      await Promise.all(streams.map((stream) => (stream.length > 0 ? this.#applyBatch(device, stream, failed) : undefined)));
    }
    if (this.#family === 6 && failed.some(isIpv6PathMove)) failed = await this.#movePaths6(device, failed);
    if (failed.length > 0) {
      this.#freshBatches(); // a device recreated by someone else shows as failures: the next apply starts clean
      const state = await this.readState(device, undefined, directDeviceOf(ops));
      failed = failed.filter((f) => !isSatisfied(f.op, state));
    }
    return { applied: ops.length - failed.length, failed };
  }

  /**
   * One batch process for `ops`. When the tool stops early (ip neigh exits on
   * a kernel error without saying which line), the kernel's state tells how
   * far it got: every line before the one that stopped it took effect. The
   * first operation not in effect either stopped the tool or was never
   * reached; running it alone tells which. The rest runs as a new batch.
   */
  async #applyBatch(device: string, ops: readonly KernelOp[], failed: OpFailure[]): Promise<void> {
    let remaining = ops;
    while (remaining.length > 0) {
      const outcome = await this.#runBatch(device, remaining, failed);
      if (outcome.finished) return;
      const state = await this.readState(device, undefined, directDeviceOf(ops));
      const [head, ...rest] = remaining.slice(outcome.lastReportedLine).filter((op) => !isSatisfied(op, state));
      if (!head) return;
      const alone = await this.#runBatch(device, [head], failed);
      if (!alone.finished) failed.push({ op: head, error: alone.trailing });
      remaining = rest;
    }
  }

  /** Runs one batch, records the failures it reports, and says whether the tool got to the end. */
  async #runBatch(device: string, ops: readonly KernelOp[], failed: OpFailure[]): Promise<{ finished: boolean; lastReportedLine: number; trailing: string }> {
    const tool = argv.toolFor(ops[0] as KernelOp);
    const input = argv.batchInput(ops, device);
    const outcome = this.#sessions ? await this.#sessions[tool].run(input) : await this.#oneShotBatch(tool, input);
    for (const [line, error] of outcome.failedLines) {
      const op = ops[line - 1];
      if (op) failed.push({ op, error });
    }
    return outcome;
  }

  async #oneShotBatch(tool: argv.Tool, input: string): Promise<BatchOutcome> {
    const result = await this.#run(tool, argv.batchArgv(tool, this.#family), { input, allowFailure: true });
    const errors = parseBatchErrors(result.stderr);
    const finished = result.exitCode === 0 || (result.exitCode === 1 && errors.trailing === '');
    return { ...errors, finished, trailing: errors.trailing || `${tool} stopped with exit code ${result.exitCode}` };
  }

  /**
   * IPv6 only: a peer moving from its direct route (DirectRouting) back to
   * VXLAN cannot be one route replace. The kernel checks an onlink gateway
   * against the table (ip6_route_check_nh_onlink), and the gateway (the
   * peer's subnet address) is still routed by the direct route on another
   * device: "Nexthop has invalid gateway or device mismatch". So that route
   * is deleted and added instead (a gap of one `ip` call, for this peer, only
   * in this rare move); IPv4 replaces in place.
   */
  async #movePaths6(device: string, failed: readonly OpFailure[]): Promise<OpFailure[]> {
    const still: OpFailure[] = [];
    for (const failure of failed) {
      if (!isIpv6PathMove(failure) || failure.op.kind !== 'route') {
        still.push(failure);
        continue;
      }
      const { dst } = failure.op.entry;
      const del = await this.#run('ip', argv.routeDeleteMarkedArgv(dst), { allowFailure: true });
      const add = await this.#run('ip', argv.routeArgv(failure.op, device), { allowFailure: true });
      if (add.exitCode !== 0) still.push({ op: failure.op, error: `${add.stderr.trim() || del.stderr.trim()} (after deleting the direct route)` });
    }
    return still;
  }

  /** Neighbours and routes from one `ip` process (a JSON array per line; a third for direct routes, see entryReadInput). */
  async #readNeighborsAndRoutes(device: string, network: Cidr | Cidr6 | undefined, directDevice: string | undefined): Promise<[unknown, unknown, unknown]> {
    const args = argv.entryReadArgv(this.#family);
    const input = argv.entryReadInput(device, network, directDevice);
    const reads = input.split('\n').filter((line) => line !== '').length;
    const result = await this.#run('ip', args, { input });
    const lines = result.stdout.split('\n').filter((line) => line.trim() !== '');
    if (lines.length !== reads) {
      const command = ['ip', ...argv.withNetns(this.#netns, args)];
      throw new KernelCommandError(`${command.join(' ')} printed ${lines.length} JSON lines for ${reads} reads`, command, result.stderr);
    }
    return [decode(lines[0] ?? '', ['ip', ...args]), decode(lines[1] ?? '', ['ip', ...args]),
      reads > 2 ? decode(lines[2] ?? '', ['ip', ...args]) : undefined];
  }

  async #json(tool: argv.Tool, args: readonly string[]): Promise<unknown> {
    const result = await this.#run(tool, args);
    return decode(result.stdout, [tool, ...args]);
  }

  #run(tool: argv.Tool, args: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return this.#runner(tool, argv.withNetns(this.#netns, args), options);
  }

  #failure(tool: argv.Tool, args: readonly string[], result: CommandResult): KernelCommandError {
    const command = [tool, ...argv.withNetns(this.#netns, args)];
    return new KernelCommandError(`${command.join(' ')} failed (exit ${result.exitCode}): ${result.stderr.trim()}`, command, result.stderr);
  }
}

function decode(stdout: string, command: readonly string[]): unknown {
  if (stdout.trim() === '') return [];
  try {
    return JSON.parse(stdout);
  } catch (err) {
    throw new KernelCommandError(`${command.join(' ')} printed invalid JSON`, command, '', { cause: err });
  }
}

/**
 * The operations change the path of a route that exists (a `replace`, or a
 * direct route), with FDB changes beside it: then the two tools run one after
 * the other (see apply). A new peer's entries (`add`) and a departing peer's
 * deletes carry no traffic yet or any more, and keep running side by side.
 */
function movesTraffic(ops: readonly KernelOp[]): boolean {
  let route = false;
  let fdb = false;
  for (const op of ops) {
    if (op.kind === 'route' && (op.action === 'replace' || op.entry.dev !== undefined)) route = true;
    else if (op.kind === 'fdb') fdb = true;
  }
  return route && fdb;
}

/** A route replace onto weft's device refused because the gateway is still routed elsewhere (IPv6 direct → VXLAN). */
function isIpv6PathMove(f: OpFailure): boolean {
  return f.op.kind === 'route' && f.op.action !== 'delete' && f.op.entry.dev === undefined && /invalid gateway or device mismatch/.test(f.error);
}

/** The external interface a batch's direct routes go on (DirectRouting), to read them back after a failure. */
function directDeviceOf(ops: readonly KernelOp[]): string | undefined {
  for (const op of ops) if (op.kind === 'route' && op.entry.dev !== undefined) return op.entry.dev;
  return undefined;
}

function inNetwork(address: string, network: Cidr): boolean {
  const ip = address.slice(0, address.indexOf('/'));
  return isIpv4(ip) && containsIp(network, ip);
}

/** Link-local addresses (fe80::/10) are never inside an overlay network: they are never removed. */
function inNetwork6(address: string, network: Cidr6): boolean {
  const ip = parseIpv6(address.slice(0, address.indexOf('/')));
  return ip !== undefined && containsIp6(network, ip);
}
