/**
 * weftctl: the operator's CLI. Same etcd flags as weftd (and WEFTCTL_* env).
 *   weftctl config get | set      network config (set validates before writing)
 *   weftctl leases [--json]       every lease with its TTL, or "reservation"
 *   weftctl reserve SUBNET        pin a subnet (no TTL) to a host
 *   weftctl release SUBNET        remove a reservation (or, with --force, any lease)
 */
import yargs, { type Argv } from 'yargs';
import { UsageError, WeftError, errorMessage } from '../core/errors.js';
import { withEtcdFlags, etcdConnection, openRegistry, type EtcdFlagValues } from './etcd-flags.js';
import { configGet, configSet } from './weftctl-config.js';
import { leasesCommand, releaseCommand, reserveCommand } from './weftctl-leases.js';
import type { SubnetRegistry } from '../adapters/registry.js';

export interface CtlIo {
  out(text: string): void;
  err(text: string): void;
}

type Handler = (registry: SubnetRegistry, argv: Record<string, unknown> & EtcdFlagValues, io: CtlIo) => Promise<number>;

function build(io: CtlIo, run: (h: Handler, argv: Record<string, unknown> & EtcdFlagValues) => void): Argv {
  const y = withEtcdFlags(yargs()).scriptName('weftctl').env('WEFTCTL').parserConfiguration({ 'duplicate-arguments-array': false }).strict().demandCommand(1, 'a command is required').help().version(false).wrap(100);
  return y
    .command('config <action> [file]', 'show or set the network config', (c) => c
      .positional('action', { choices: ['get', 'set'] as const })
      .positional('file', { type: 'string', describe: 'JSON file for set ("-" for stdin)' })
      .option('network', { type: 'string' }).option('subnet-len', { type: 'number' })
      .option('subnet-min', { type: 'string' }).option('subnet-max', { type: 'string' })
      .option('vni', { type: 'number' }).option('port', { type: 'number' }).option('mtu', { type: 'number' })
      .option('effective', { type: 'boolean', default: false, describe: 'get: show the config with defaults applied' }),
    (argv) => run(argv['action'] === 'get' ? configGet : configSet, argv as never))
    .command('leases', 'list subnet leases and reservations', (c) => c.option('json', { type: 'boolean', default: false }),
      (argv) => run(leasesCommand, argv as never))
    .command('reserve <subnet>', 'make a subnet a reservation (no TTL) for a host', (c) => c
      .positional('subnet', { type: 'string', demandOption: true })
      .option('public-ip', { type: 'string', describe: 'the host\'s public IP (needed when the subnet is not leased yet)' })
      .option('node-name', { type: 'string', describe: 'the host\'s weftd --node-name' }),
    (argv) => run(reserveCommand, argv as never))
    .command('release <subnet>', 'delete a reservation', (c) => c
      .positional('subnet', { type: 'string', demandOption: true })
      .option('force', { type: 'boolean', default: false, describe: 'also delete a live lease (its host re-acquires a subnet)' }),
    (argv) => run(releaseCommand, argv as never));
}

export async function main(args: readonly string[], io: CtlIo = {
  out: (t) => process.stdout.write(`${t}\n`), err: (t) => process.stderr.write(`${t}\n`),
}): Promise<number> {
  let chosen: { handler: Handler; argv: Record<string, unknown> & EtcdFlagValues } | undefined;
  let failure: string | undefined;
  let output = '';
  const parser = build(io, (handler, argv) => { chosen = { handler, argv }; })
    .fail((msg, err) => { failure = msg || errorMessage(err); })
    .exitProcess(false);
  // yargs reads a bare "-" as a flag; it means stdin here.
  await parser.parseAsync(args.map((a) => (a === '-' ? '/dev/stdin' : a)), {}, (_e, _a, out) => { output = out; });
  if (failure) {
    io.err(`weftctl: ${failure}\n\n${await build(io, () => undefined).getHelp()}`);
    return 1;
  }
  if (!chosen) {
    if (output) io.out(output);
    return 0;
  }
  let registry: SubnetRegistry | undefined;
  try {
    registry = await openRegistry(etcdConnection(chosen.argv));
    return await chosen.handler(registry, chosen.argv, io);
  } catch (err) {
    io.err(`weftctl: ${err instanceof WeftError || err instanceof UsageError ? err.message : errorMessage(err)}`);
    return 1;
  } finally {
    registry?.close();
  }
}
