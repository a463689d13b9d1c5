/**
 * The rig from the command line (for scripts/demo.sh and for poking around):
 *
 *   node dist/test/rig/rig-cli.js up --prefix P --hosts 3 [--pods 1] [--no-etcd] [--ipv6]   → JSON description
 *   node dist/test/rig/rig-cli.js attach --prefix P --host 1 --subnet-file F        → JSON list of pods
 *   node dist/test/rig/rig-cli.js attach --prefix P --host 1 --subnet 10.5.3.0/24 --mtu 1450
 *   node dist/test/rig/rig-cli.js down --prefix P                                   → JSON teardown report
 *
 * `--ipv6` gives the underlay IPv6 too (fd00:99::/64, host N at fd00:99::<10+N>; rig.ts).
 * `up` leaves the rig (and a detached etcd) running after it exits; `down`
 * stops every process in the prefix's namespaces and deletes them.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Cidr, parseCidr } from '../../src/core/cidr.js';
import { parseSubnetEnv } from '../../src/core/subnet-env.js';
import { assertPrefix } from './netns.js';
import { type RigPod, attachPods } from './pods.js';
import { Rig, type RigDescription, rigStateDir } from './rig.js';
import { teardownPrefixSync } from './teardown.js';

const USAGE = 'usage: rig-cli (up --prefix P --hosts N [--pods M] [--no-etcd] [--ipv6] | attach --prefix P --host N '
  + '(--subnet-file F | --subnet CIDR --mtu MTU) | down --prefix P)';

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      prefix: { type: 'string' }, hosts: { type: 'string' }, pods: { type: 'string' }, 'no-etcd': { type: 'boolean' }, ipv6: { type: 'boolean' },
      host: { type: 'string' }, 'subnet-file': { type: 'string' }, subnet: { type: 'string' }, mtu: { type: 'string' },
    },
  });
  const prefix = assertPrefix(values.prefix ?? '');
  switch (positionals[0]) {
    case 'up': {
      const rig = await Rig.up({ prefix, hosts: count(values.hosts, 'hosts'), pods: count(values.pods ?? '1', 'pods'),
        etcd: values['no-etcd'] ? 'none' : 'detached', keepOnExit: true, ipv6: values.ipv6 ?? false });
      print(rig.describe());
      return 0;
    }
    case 'attach': {
      const stateFile = join(rigStateDir(prefix), 'rig.json');
      const desc = JSON.parse(readFileSync(stateFile, 'utf8')) as RigDescription;
      const index = count(values.host, 'host');
      const host = desc.hosts[index - 1];
      if (!host) throw new Error(`rig ${prefix} has no host ${index}`);
      const pods = values['subnet-file'] !== undefined
        ? await attachFromFile(values['subnet-file'], host.netns, index, desc.podsPerHost)
        : await attachPods(host.netns, index, cidr(values.subnet), count(values.mtu, 'mtu'), desc.podsPerHost);
      host.pods = pods;
      writeFileSync(stateFile, `${JSON.stringify(desc, null, 2)}\n`);
      print(pods);
      return 0;
    }
    case 'down': {
      const report = teardownPrefixSync(prefix);
      rmSync(rigStateDir(prefix), { recursive: true, force: true });
      print(report);
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

async function attachFromFile(path: string, netns: string, index: number, pods: number): Promise<RigPod[]> {
  const parsed = parseSubnetEnv(readFileSync(path, 'utf8'));
  if (!parsed.ok) throw new Error(`${path}: ${parsed.errors.join('; ')}`);
  return attachPods(netns, index, parsed.env.subnet, parsed.env.mtu, pods);
}

function count(text: string | undefined, name: string): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < 1) throw new Error(`--${name} must be a positive whole number`);
  return Number(text);
}

function cidr(text: string | undefined): Cidr {
  const parsed = parseCidr(text ?? '');
  if (!parsed.ok) throw new Error(`--subnet: ${parsed.reason}`);
  return parsed.cidr;
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`rig-cli: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
