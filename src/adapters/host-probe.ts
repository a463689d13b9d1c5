/**
 * The doctor's reads of the host that are not iproute2: sysctls from
 * /proc/sys (the caller's network namespace's own values under
 * `ip netns exec`), weft's devices from /sys/class/net, the filter table
 * from `iptables -S`, pings through a VXLAN device of either family (plain
 * and DF-set), and weftd's /readyz.
 * Read-only: nothing here changes the host.
 */
import { readFile, readdir } from 'node:fs/promises';
import { errorMessage } from '../core/errors.js';
import { type CommandRunner, execaRunner } from './iproute2/runner.js';

export interface HostProbe {
  /** `net/ipv4/ip_forward` → 1; undefined when the file does not exist or is not a number. */
  readSysctl(path: string): Promise<number | undefined>;
  /** Names of links called `weft.<number>`. */
  weftDevices(): Promise<string[]>;
  /** `iptables -S` of the filter table. */
  filterRules(): Promise<{ ok: true; rules: string } | { ok: false; error: string }>;
  /** Pings `ip` through `device` (its own source address; `ping -6` for an IPv6 address); replied when any echo came back. */
  ping(device: string, ip: string): Promise<{ replied: boolean; output: string }>;
  /**
   * One ping of an IP packet of exactly `size` bytes (payload size − 28)
   * with DF set (`-M do`) through `device`; passed when the echo came back.
   * `output`: ping's summary or error line (`message too long, mtu=…`).
   */
  dfPing(device: string, ip: string, size: number): Promise<{ passed: boolean; output: string }>;
  /** GETs a URL with a short timeout. */
  httpGet(url: string): Promise<{ ok: true; status: number; body: string } | { ok: false; error: string }>;
}

export class LocalHostProbe implements HostProbe {
  readonly #run: CommandRunner;

  constructor(runner: CommandRunner = execaRunner({ timeoutMs: 10_000 })) {
    this.#run = runner;
  }

  async readSysctl(path: string): Promise<number | undefined> {
    try {
      const value = Number((await readFile(`/proc/sys/${path}`, 'utf8')).trim());
      return Number.isInteger(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  async weftDevices(): Promise<string[]> {
    try {
      return (await readdir('/sys/class/net')).filter((n) => /^weft\.\d+$/.test(n)).sort();
    } catch {
      return [];
    }
  }

  async filterRules(): Promise<{ ok: true; rules: string } | { ok: false; error: string }> {
    try {
      const result = await this.#run('iptables', ['-w', '5', '-t', 'filter', '-S'], { allowFailure: true });
      if (result.exitCode !== 0) return { ok: false, error: `iptables -S exited ${result.exitCode}: ${result.stderr.trim()}` };
      return { ok: true, rules: result.stdout };
    } catch (err) {
      return { ok: false, error: errorMessage(err) };
    }
  }

  async ping(device: string, ip: string): Promise<{ replied: boolean; output: string }> {
    const args = [...(ip.includes(':') ? ['-6'] : []), '-n', '-c', '2', '-i', '0.2', '-W', '1', '-I', device, ip];
    try {
      const r = await this.#run('ping', args, { allowFailure: true });
      const summary = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim())
        .find((l) => /packets transmitted|ping:/.test(l)) ?? `exit ${r.exitCode}`;
      return { replied: r.exitCode === 0, output: summary };
    } catch (err) {
      return { replied: false, output: errorMessage(err) };
    }
  }

  async dfPing(device: string, ip: string, size: number): Promise<{ passed: boolean; output: string }> {
    const args = ['-n', '-c', '1', '-W', '1', '-M', 'do', '-s', String(size - 28), '-I', device, ip];
    try {
      const r = await this.#run('ping', args, { allowFailure: true });
      const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim());
      const output = lines.find((l) => /message too long|Frag needed|ping:/i.test(l)) ?? lines.find((l) => /packets transmitted/.test(l)) ?? `exit ${r.exitCode}`;
      return { passed: r.exitCode === 0, output };
    } catch (err) {
      return { passed: false, output: errorMessage(err) };
    }
  }

  async httpGet(url: string): Promise<{ ok: true; status: number; body: string } | { ok: false; error: string }> {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      return { ok: true, status: res.status, body: (await res.text()).slice(0, 500) };
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      return { ok: false, error: cause instanceof Error ? cause.message : errorMessage(err) };
    }
  }
}
