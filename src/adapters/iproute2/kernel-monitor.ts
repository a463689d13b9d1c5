/**
 * KernelMonitor on top of two long-lived iproute2 children:
 * `ip -4 -o -N monitor label link route neigh` and `bridge monitor fdb`
 * (`ip -6 …` and IPv6 FDB remotes for the IPv6 device: `family: 6`).
 *
 * Why children and not a netlink socket in this process: the only Node
 * netlink binding (npm `netlink` 0.3.0) aborts the whole process when a
 * subscription socket overflows, even with an `error` listener. Here an
 * overflow is a line on the child's stderr (libnetlink's `netlink receive
 * error No buffer space available`, after which it keeps listening) and a
 * crash is a child exit: both become a `lost` change, never an exception in
 * weftd. iproute2 stays the only thing that speaks netlink.
 *
 * Output is read as it comes, split into lines and parsed
 * (core/monitor-lines.ts); everything one chunk of a child's stdout held is
 * delivered as one batch, so a storm of events costs one callback per chunk.
 * A child that exits is started again after a backoff (200 ms doubling to
 * 10 s, back to 200 ms after a child that lived 10 s), and once the new one
 * is subscribed a `lost` change tells the caller to read the kernel again.
 */
import type { KernelChange } from '../../core/kernel-change.js';
import { parseFdbLine, parseFdbLine6, parseIpMonitorLine, parseIpMonitorLine6 } from '../../core/monitor-lines.js';
import { ChangeDelivery, type KernelChangeHandler, type KernelMonitor } from '../kernel-monitor.js';
import { type Family, type Tool, fdbMonitorArgv, ipMonitorArgv, withNetns } from './argv.js';
import { MonitorSource, type MonitorSettings } from './monitor-source.js';

export interface IpRoute2MonitorOptions {
  /** Listen inside this named network namespace (`ip -n`, `bridge -n`), e.g. in tests. */
  readonly netns?: string | undefined;
  /**
   * weft's device: neighbour and FDB changes of other devices are dropped
   * before they are delivered. Route and link changes always pass: a route
   * replace can move weft's destination onto another device (reported only
   * as the new route), and a renamed device reports under its new name.
   */
  readonly device?: string | undefined;
  /**
   * The family of the device's entries (default 4). With 6, routes and
   * neighbours are IPv6 (`ip -6 monitor`) and FDB remotes are read as IPv6;
   * link changes arrive the same in both.
   */
  readonly family?: Family;
  /** First and longest restart delay (default 200 ms and 10 s). */
  readonly restartDelayMs?: { readonly first: number; readonly max: number };
  /** How long to wait for a child to join its netlink groups (default 5 s). */
  readonly subscribeTimeoutMs?: number;
}

export class IpRoute2Monitor implements KernelMonitor {
  readonly #delivery = new ChangeDelivery();
  readonly #sources: ReadonlyMap<Tool, MonitorSource>;
  #state: 'new' | 'running' | 'stopped' = 'new';

  constructor(options: IpRoute2MonitorOptions = {}) {
    const settings: MonitorSettings = {
      firstDelay: options.restartDelayMs?.first ?? 200,
      maxDelay: options.restartDelayMs?.max ?? 10_000,
      subscribeTimeoutMs: options.subscribeTimeoutMs ?? 5000,
    };
    const device = options.device;
    const family = options.family ?? 4;
    const ipLine = family === 4 ? parseIpMonitorLine : parseIpMonitorLine6;
    const fdbLine = family === 4 ? parseFdbLine : parseFdbLine6;
    // A cheap test before parsing: a neighbour or FDB line of weft's device names it.
    const parseIp = (line: string): KernelChange | undefined =>
      device !== undefined && line.startsWith('[NEIGH]') && !line.includes(device) ? undefined : ipLine(line);
    const parseBridge = (line: string): KernelChange | undefined =>
      device !== undefined && !line.includes(device) ? undefined : fdbLine(line);
    const keep = (change: KernelChange): boolean =>
      device === undefined || (change.kind !== 'neighbor' && change.kind !== 'fdb') || change.device === device;
    const deliver = (changes: readonly KernelChange[]): void => this.#delivery.deliver(changes);
    this.#sources = new Map<Tool, MonitorSource>([
      ['ip', new MonitorSource({ tool: 'ip', args: withNetns(options.netns, ipMonitorArgv(family)), parse: parseIp, keep, deliver, settings })],
      ['bridge', new MonitorSource({ tool: 'bridge', args: withNetns(options.netns, fdbMonitorArgv()), parse: parseBridge, keep, deliver, settings })],
    ]);
  }

  /**
   * Starts both children and resolves once each has joined its netlink
   * groups, has failed (its recovery is reported as `lost`), or was not seen
   * subscribed within the timeout (reported as `lost` right away). Read the
   * kernel after this resolves, never before. Throws only when called twice.
   */
  async start(onChanges: KernelChangeHandler): Promise<void> {
    if (this.#state !== 'new') throw new Error(`IpRoute2Monitor.start called when ${this.#state}`);
    this.#state = 'running';
    this.#delivery.handler = onChanges;
    await Promise.all([...this.#sources.values()].map((source) => source.launch()));
  }

  /** Ends the children through their own handles (SIGTERM, SIGKILL after 2 s) and waits for them. Idempotent. */
  async stop(): Promise<void> {
    this.#state = 'stopped';
    this.#delivery.handler = undefined;
    await Promise.all([...this.#sources.values()].map((source) => source.stop()));
  }

  /** The PID of the running `ip` or `bridge` child (for tests that kill one). */
  pid(tool: Tool): number | undefined {
    return this.#sources.get(tool)?.pid;
  }
}
