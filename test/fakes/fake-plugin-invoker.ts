/**
 * A scripted stand-in for the CNI plugin's delegate runner: records every call
 * and answers from per-command handlers (default: success, with a bridge-like
 * ADD result). VERSION answers `supportedVersions`.
 */
import { CniError } from '../../src/cni/errors.js';
import { type DelegateCommand, DelegateError, type PluginInvoker } from '../../src/cni/invoke.js';

export interface DelegateCall {
  readonly type: string;
  readonly command: DelegateCommand;
  readonly stdin: string;
  /** stdin parsed as JSON (undefined when it is not JSON). */
  readonly conf: Record<string, unknown> | undefined;
  /** The CNI_* overrides of this call. */
  readonly env: Readonly<Record<string, string>>;
}

export type Handler = (call: DelegateCall) => string | CniError;

/** The versions containernetworking-plugins 1.1.1 reports. */
export const PLUGINS_1_1_1_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'] as const;

export class FakePluginInvoker implements PluginInvoker {
  readonly calls: DelegateCall[] = [];
  supportedVersions: readonly string[] = PLUGINS_1_1_1_VERSIONS;
  readonly handlers: Partial<Record<DelegateCommand, Handler>> = {};
  /** Plugin types that are not in CNI_PATH: exec fails before anything runs (a plain CniError). */
  readonly missing = new Set<string>();

  async exec(type: string, command: DelegateCommand, stdin: string, env: Readonly<Record<string, string>> = {}): Promise<string> {
    if (this.missing.has(type)) throw new CniError(999, `failed to find delegate plugin "${type}" in CNI_PATH [/opt/cni/bin]`);
    let conf: Record<string, unknown> | undefined;
    try {
      conf = JSON.parse(stdin) as Record<string, unknown>;
    } catch {
      conf = undefined;
    }
    const call: DelegateCall = { type, command, stdin, conf, env };
    this.calls.push(call);
    const handler = this.handlers[command];
    const answer = handler !== undefined ? handler(call) : this.defaultAnswer(call);
    // The delegate ran and failed, as the real invoker reports it.
    if (answer instanceof CniError) throw new DelegateError(answer.cniCode, answer.message, answer.details === undefined ? {} : { details: answer.details });
    return answer;
  }

  /** The calls other than VERSION, as "TYPE COMMAND". */
  summary(): string[] {
    return this.calls.filter((c) => c.command !== 'VERSION').map((c) => `${c.type} ${c.command}`);
  }

  private defaultAnswer(call: DelegateCall): string {
    if (call.command === 'VERSION') return JSON.stringify({ cniVersion: '1.0.0', supportedVersions: this.supportedVersions });
    if (call.command !== 'ADD') return '';
    return JSON.stringify({
      cniVersion: call.conf?.['cniVersion'],
      interfaces: [{ name: 'cni0', mac: '0a:58:0a:05:22:01' }, { name: 'eth0', sandbox: '/run/netns/x' }],
      ips: [{ interface: 1, address: '10.5.34.2/24', gateway: '10.5.34.1' }],
      dns: {},
    });
  }
}
