/**
 * The dispatcher (libcni skel's role): checks CNI_COMMAND and the CNI_*
 * variables, parses the netconf, runs the command, and prints either its
 * output or a spec error object on stdout. I/O is injected so tests drive it
 * without processes; `main` wires the real process.
 */
import { readSync, statSync, writeSync } from 'node:fs';
import { parseCniArgs, type CniArgs } from './args.js';
import { type BridgeProbe, createIpBridgeProbe } from './bridge-probe.js';
import { cmdAdd, cmdCheck, cmdDel, type Command } from './commands.js';
import { CniCode, CniError, toErrorJson } from './errors.js';
import { createExecInvoker, type PluginInvoker } from './invoke.js';
import { createLogger, type Logger } from './log.js';
import { parseNetConf } from './netconf.js';
import { cmdGc, cmdStatus } from './status-gc.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS, versionAnswer } from './version.js';

export interface Writer {
  write(text: string): unknown;
}

export interface CniIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Called at most once, and never for VERSION. */
  readonly readStdin: () => string;
  readonly stdout: Writer;
  readonly stderr: Writer;
}

export interface CniDeps {
  /** The delegate runner for this call; the real one execs plugins from CNI_PATH. */
  readonly invoker: (args: CniArgs, log: Logger) => PluginInvoker;
  /** Reads and changes the bridge (cni0) in the plugin's own network namespace. */
  readonly bridge: () => BridgeProbe;
  /** True when `path` is the network namespace this process runs in. */
  readonly isOwnNetns: (path: string) => boolean;
}

const COMMANDS: Record<CniArgs['command'], Command> = { ADD: cmdAdd, DEL: cmdDel, CHECK: cmdCheck, STATUS: cmdStatus, GC: cmdGc };

export const ABOUT = 'weft CNI plugin: attaches containers to this host\'s weft (flannel-compatible VXLAN) subnet';

/** Runs one CNI call; resolves with the process exit code. */
export async function runCni(io: CniIo, deps: CniDeps): Promise<number> {
  const command = io.env['CNI_COMMAND'] ?? '';
  if (command === 'VERSION') {
    io.stdout.write(versionAnswer() + '\n');
    return 0;
  }
  let stdin = '';
  let log: Logger | undefined;
  try {
    if (command === '') {
      io.stderr.write(`${ABOUT}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`);
      throw new CniError(CniCode.InvalidEnvironment, 'required environment variables missing: CNI_COMMAND');
    }
    // stdin first: every error after this point is labelled with the request's cniVersion.
    stdin = io.readStdin();
    const args = parseCniArgs(command, io.env);
    refuseOwnNetns(args, deps);
    const netconf = parseNetConf(stdin);
    log = createLogger({ level: netconf.logLevel, file: netconf.logFile, stderr: io.stderr,
      base: { cmd: args.command, ...(args.containerId === '' ? {} : { containerId: args.containerId, ifname: args.ifname }), network: netconf.name } });
    const out = await COMMANDS[args.command]({ args, netconf, invoker: deps.invoker(args, log), bridge: deps.bridge(), log });
    if (out !== undefined) io.stdout.write(out); // byte for byte: the delegate's result is passed on unchanged
    return 0;
  } catch (err) {
    const json = toErrorJson(err, peekVersion(stdin));
    (log ?? createLogger({ level: 'warn', file: undefined, stderr: io.stderr }))
      .warn('failed', { code: json.code, error: json.msg, ...(err instanceof CniError ? {} : { stack: (err as Error)?.stack }) });
    io.stdout.write(JSON.stringify(json) + '\n');
    return 1;
  }
}

/**
 * A CNI_NETNS that is the plugin's own namespace (the host's) is refused:
 * the delegate would create, or on DEL delete, CNI_IFNAME among the host's
 * own links.
 */
function refuseOwnNetns(args: CniArgs, deps: CniDeps): void {
  if (args.netns === '' || (args.command !== 'ADD' && args.command !== 'CHECK' && args.command !== 'DEL')) return;
  if (deps.isOwnNetns(args.netns)) {
    throw new CniError(CniCode.InvalidEnvironment,
      `CNI_NETNS ${args.netns} is the network namespace the plugin runs in (the host's), not a container's: refusing to ${args.command === 'DEL' ? 'delete' : args.command === 'ADD' ? 'create' : 'check'} ${args.ifname} there`);
  }
}

/** The request's cniVersion (any version-shaped string), for labelling an error. */
function peekVersion(stdin: string): string {
  try {
    const version: unknown = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof version === 'string' && /^\d+\.\d+\.\d+$/.test(version) ? version : CURRENT_VERSION;
  } catch {
    return CURRENT_VERSION;
  }
}

/** Compares device and inode, as the kernel identifies a namespace. */
export function isOwnNetns(path: string): boolean {
  try {
    const theirs = statSync(path);
    const ours = statSync('/proc/self/ns/net');
    return theirs.dev === ours.dev && theirs.ino === ours.ino;
  } catch {
    return false; // missing or unreadable: the delegate reports it
  }
}

/** Reads all of fd 0, also when it is a non-blocking pipe (EAGAIN) or closed. */
export function readAllStdin(): string {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(64 * 1024);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buffer, 0, buffer.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, 2);
        continue;
      }
      if (code === 'EOF' || code === 'EBADF') break;
      throw new CniError(CniCode.IoFailure, `cannot read stdin: ${(err as Error).message}`);
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buffer.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A writer on a file descriptor. Plain fs.writeSync instead of process.stdout:
 * creating the stdout/stderr streams costs ~5 ms per call.
 */
export function fdWriter(fd: number): Writer {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  return {
    write(text: string) {
      let data = Buffer.from(text, 'utf8');
      while (data.length > 0) {
        try {
          data = data.subarray(writeSync(fd, data));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          Atomics.wait(pause, 0, 0, 2);
        }
      }
      return true;
    },
  };
}

/** The real process: environment, fd 0/1/2, delegates from CNI_PATH. */
export async function main(): Promise<number> {
  const stderr = fdWriter(2);
  return runCni(
    { env: process.env, readStdin: readAllStdin, stdout: fdWriter(1), stderr },
    {
      invoker: (args, log) => createExecInvoker({
        path: args.path,
        env: process.env,
        onStderr: (type, text) => log.warn('delegate stderr', { delegate: type, stderr: text.trim() }),
      }),
      bridge: createIpBridgeProbe,
      isOwnNetns,
    },
  );
}
