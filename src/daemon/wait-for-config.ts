/**
 * Reads the network config, waiting (without flooding the log) while it does
 * not exist yet or etcd is unreachable. An invalid config is fatal: every
 * problem is reported at once and weftd exits 1.
 */
import type { Logger } from 'pino';
import { ConfigError, errorMessage } from '../core/errors.js';
import { type NetworkConfig, parseNetworkConfigText } from '../core/network-config.js';
import type { Clock } from '../adapters/clock.js';
import type { SubnetRegistry } from '../adapters/registry.js';
import { jittered } from './jitter.js';
import { ThrottledLog } from './throttled-log.js';

export interface WaitForConfigInput {
  readonly registry: SubnetRegistry;
  readonly clock: Clock;
  readonly log: Logger;
  readonly configKey: string;
  readonly pollMs?: number;
  /** Jitter for the poll interval (default Math.random). */
  readonly random?: () => number;
}

export async function waitForConfig(input: WaitForConfigInput, signal: AbortSignal): Promise<{ config: NetworkConfig; text: string }> {
  const throttled = new ThrottledLog(input.log, 60_000, () => input.clock.now());
  for (;;) {
    signal.throwIfAborted();
    let text: string | undefined;
    let reachable = true;
    try {
      text = await input.registry.getConfig();
    } catch (err) {
      reachable = false;
      throttled.warn('etcd', { err: errorMessage(err) }, 'cannot read the network config from etcd; retrying');
    }
    if (text !== undefined) {
      const parsed = parseNetworkConfigText(text);
      if (!parsed.ok) {
        throw new ConfigError(`invalid network config at ${input.configKey}:\n  - ${parsed.errors.join('\n  - ')}`, parsed.errors);
      }
      for (const w of parsed.warnings) input.log.warn({ key: input.configKey }, w);
      return { config: parsed.config, text };
    }
    // Only claim the key is missing when etcd actually answered.
    if (reachable) {
      throttled.warn('missing', { key: input.configKey },
        'network config not found in etcd; waiting for it (create it with `weftctl config set`)');
    }
    await input.clock.sleep(jittered(input.pollMs ?? 1000, input.random ?? Math.random), signal);
  }
}
