import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import { KernelCommandError } from '../../../src/core/errors.js';
import { type KernelOp, describeOp } from '../../../src/core/kernel-state.js';
import type { Mac } from '../../../src/core/mac.js';
import { IpRoute2 } from '../../../src/adapters/iproute2/iproute2.js';
import type { CommandResult, CommandRunner } from '../../../src/adapters/iproute2/runner.js';

interface Call { file: string; args: readonly string[]; input: string | undefined }

/** A runner that records calls and answers from a script (first matching rule wins). */
function scripted(rules: [RegExp, (call: Call) => Partial<CommandResult>][]): { runner: CommandRunner; calls: Call[] } {
  const calls: Call[] = [];
  const runner: CommandRunner = async (file, args, options = {}) => {
    if (args.includes('-j') && args.includes('-batch')) {
      // A read of several `show` lines in one process: each line answered by the rules as its own `ip -j …` call, a JSON line each.
      const lines = (options.input ?? '').split('\n').filter((l) => l !== '');
      const outs = await Promise.all(lines.map((l) => runner(file, ['-j', ...l.split(' ')])));
      return { stdout: `${outs.map((o) => o.stdout.trim() || '[]').join('\n')}\n`, stderr: '', exitCode: 0 };
    }
    const call = { file, args, input: options.input };
    calls.push(call);
    const line = [file, ...args].join(' ');
    const rule = rules.find(([re]) => re.test(line));
    const result = { stdout: '', stderr: '', exitCode: 0, ...(rule ? rule[1](call) : {}) };
    if (result.exitCode !== 0 && !options.allowFailure) throw new KernelCommandError(`${line} failed`, [file, ...args], result.stderr);
    return result;
  };
  return { runner, calls };
}

const mac = (n: number): Mac => `0a:00:00:00:00:0${n}` as Mac;
const neigh = (n: number, action: 'replace' | 'delete' = 'replace'): KernelOp =>
  ({ action, kind: 'neighbor', entry: { ip: `10.5.${n}.0` as Ipv4, mac: mac(n) } });
const route = (n: number, action: 'add' | 'replace' | 'delete' = 'replace'): KernelOp =>
  ({ action, kind: 'route', entry: { dst: `10.5.${n}.0/24` as Cidr, via: `10.5.${n}.0` as Ipv4 } });
const fdb = (n: number, action: 'replace' | 'delete' = 'replace'): KernelOp =>
  ({ action, kind: 'fdb', entry: { mac: mac(n), dst: `192.0.2.1${n}` as Ipv4 } });

t.test('apply: one bridge and one ip batch process, each in plan order, in the namespace', async (t) => {
  const { runner, calls } = scripted([]);
  const kernel = new IpRoute2({ runner, netns: 'wtx-h1' });
  // A peer arrives (its route is an `add`), another goes: nothing carries traffic across a path change.
  const ops = [fdb(2), neigh(2), route(2, 'add'), route(3, 'delete'), neigh(3, 'delete'), fdb(3, 'delete')];
  t.same(await kernel.apply('weft.1', ops), { applied: 6, failed: [] });
  t.same(calls.map((c) => [c.file, ...c.args].join(' ')), ['ip -n wtx-h1 -force -batch -', 'bridge -n wtx-h1 -force -batch -'],
    'ip first: its batch is the longer one');
  t.same(calls[1]?.input?.split('\n'), [
    'fdb replace 0a:00:00:00:00:02 dev weft.1 dst 192.0.2.12 self permanent', 'fdb del 0a:00:00:00:00:03 dev weft.1 dst 192.0.2.13 self', '']);
  t.same(calls[0]?.input?.split('\n'), [
    'neigh replace 10.5.2.0 lladdr 0a:00:00:00:00:02 dev weft.1 nud permanent', 'route add 10.5.2.0/24 via 10.5.2.0 dev weft.1 onlink proto 87',
    'route del 10.5.3.0/24 via 10.5.3.0 dev weft.1 proto 87', 'neigh del 10.5.3.0 dev weft.1', '']);
  t.same(await kernel.apply('weft.1', []), { applied: 0, failed: [] });
  t.equal(calls.length, 2, 'no process for an empty plan');
  await kernel.apply('weft.1', [neigh(4), route(4)]);
  t.same(calls.slice(2).map((c) => c.file), ['ip'], 'no bridge process without FDB operations');
});

t.test('apply: the bridge and ip batches run side by side', async (t) => {
  const started: string[] = [];
  let release: (() => void) | undefined;
  const ipHeld = new Promise<void>((resolve) => { release = resolve; });
  const runner: CommandRunner = async (file) => {
    started.push(file);
    if (file === 'ip') await ipHeld;
    else release?.();
    return { stdout: '', stderr: '', exitCode: 0 };
  };
  t.same(await new IpRoute2({ runner }).apply('weft.1', [fdb(2), neigh(2), route(2, 'add')]), { applied: 3, failed: [] });
  t.same(started, ['ip', 'bridge'], 'bridge started while ip was still running');
});

t.test('apply: a route that changes path runs in phases: its new FDB entries, then ip, then the FDB deletes', async (t) => {
  const { runner, calls } = scripted([]);
  // A DirectRouting move to VXLAN (FDB, neighbour, route replace) beside a move to direct (route replace, old FDB deleted).
  const direct: KernelOp = { action: 'replace', kind: 'route', entry: { dst: '10.5.3.0/24' as Cidr, via: '192.0.2.13' as Ipv4, dev: 'eth0' } };
  const ops = [fdb(2), neigh(2), route(2), direct, neigh(3, 'delete'), fdb(3, 'delete')];
  t.same(await new IpRoute2({ runner }).apply('weft.1', ops), { applied: 6, failed: [] });
  t.same(calls.map((c) => `${c.file}: ${c.input?.trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' ')).join(', ')}`), [
    'bridge: fdb replace',
    'ip: neigh replace, route replace, route replace, neigh del',
    'bridge: fdb del',
  ], 'one after the other: no packet meets a moved route without its FDB entry');
  t.match(calls[1]?.input ?? '', /route replace 10\.5\.3\.0\/24 via 192\.0\.2\.13 dev eth0 proto 87\n/, 'the direct route: on eth0, not onlink');
});

t.test('apply: failed lines are reported per operation and do not stop the others', async (t) => {
  const { runner } = scripted([
    [/-batch/, () => ({ exitCode: 1, stderr: 'Error: Nexthop has invalid gateway.\nCommand failed -:2\n' })],
    [/show/, () => ({ stdout: '[]' })],
  ]);
  const report = await new IpRoute2({ runner }).apply('weft.1', [route(2), route(3), route(4)]);
  t.equal(report.applied, 2);
  t.same(report.failed.map((f) => [describeOp(f.op), f.error]), [['replace route 10.5.3.0/24 via 10.5.3.0', 'Error: Nexthop has invalid gateway.']]);
});

t.test('apply: deleting an entry that is already gone counts as done', async (t) => {
  const { runner } = scripted([
    [/-batch/, () => ({ exitCode: 1, stderr: 'RTNETLINK answers: No such process\nCommand failed -:1\n' })],
    [/show/, () => ({ stdout: '[]' })],
  ]);
  t.same(await new IpRoute2({ runner }).apply('weft.1', [route(3, 'delete')]), { applied: 1, failed: [] });
});

t.test('apply: when ip neigh stops the batch, the first operation not in effect is run alone to find the culprit', async (t) => {
  const responses = [
    { exitCode: 2, stderr: 'RTNETLINK answers: No such process\nCommand failed -:1\nError: Invalid link address.\n' },
    { exitCode: 2, stderr: 'Error: Invalid link address.\n' },
    { exitCode: 0 },
  ];
  const { runner, calls } = scripted([
    [/-batch/, () => responses.shift() ?? { exitCode: 0 }],
    // Line 2 (neigh 2) took effect, line 3 (neigh 3) stopped ip, lines 4-5 never ran.
    [/neigh show/, () => ({ stdout: JSON.stringify([{ dst: '10.5.2.0', lladdr: mac(2), state: ['PERMANENT'] }]) })],
    [/route show|fdb show/, () => ({ stdout: '[]' })],
  ]);
  const report = await new IpRoute2({ runner }).apply('weft.1', [route(9, 'delete'), neigh(2), neigh(3), neigh(4), route(4)]);
  t.same(report.failed.map((f) => [describeOp(f.op), f.error]), [['replace neighbor 10.5.3.0 lladdr 0a:00:00:00:00:03', 'Error: Invalid link address.']]);
  t.equal(report.applied, 4, 'the delete of an absent route counts as done');
  const batches = calls.filter((c) => c.args.includes('-batch')).map((c) => c.input);
  t.same(batches.slice(1), [
    'neigh replace 10.5.3.0 lladdr 0a:00:00:00:00:03 dev weft.1 nud permanent\n',
    'neigh replace 10.5.4.0 lladdr 0a:00:00:00:00:04 dev weft.1 nud permanent\nroute replace 10.5.4.0/24 via 10.5.4.0 dev weft.1 onlink proto 87\n',
  ]);
});

t.test('apply: when the line that stopped ip was a delete of something already gone, the rest still runs', async (t) => {
  const responses = [{ exitCode: 2, stderr: 'RTNETLINK answers: No such file or directory\n' }];
  const { runner, calls } = scripted([
    [/-batch/, () => responses.shift() ?? { exitCode: 0 }],
    [/show/, () => ({ stdout: '[]' })],
  ]);
  const report = await new IpRoute2({ runner }).apply('weft.1', [neigh(9, 'delete'), neigh(4), route(4)]);
  t.same(report, { applied: 3, failed: [] });
  t.same(calls.filter((c) => c.args.includes('-batch')).map((c) => c.input?.split('\n').length), [4, 2, 2], 'all, then neigh 4 alone, then route 4');
});

t.test('readDevice: a missing link is undefined, other failures throw', async (t) => {
  const missing = scripted([[/addr show dev/, () => ({ exitCode: 1, stderr: 'Device "weft.1" does not exist.\n' })]]);
  t.equal(await new IpRoute2({ runner: missing.runner }).readDevice('weft.1'), undefined);
  const broken = scripted([[/addr show dev/, () => ({ exitCode: 255, stderr: 'Cannot open netlink socket: Permission denied\n' })]]);
  await t.rejects(new IpRoute2({ runner: broken.runner }).readDevice('weft.1'), { name: 'KernelCommandError', message: /Permission denied/ });
  const garbage = scripted([[/addr show dev/, () => ({ stdout: '{not json' })]]);
  await t.rejects(new IpRoute2({ runner: garbage.runner }).readDevice('weft.1'), { message: /invalid JSON/ });
});

t.test('deleteDevice: a missing link is fine', async (t) => {
  const { runner } = scripted([[/link del/, () => ({ exitCode: 1, stderr: 'Cannot find device "weft.1"\n' })]]);
  await t.resolves(new IpRoute2({ runner }).deleteDevice('weft.1'));
});

t.test('externalInterface: names what it looked for', async (t) => {
  const { runner, calls } = scripted([[/addr show/, () => ({ stdout: '[]' })], [/route show default/, () => ({ stdout: '[]' })]]);
  const kernel = new IpRoute2({ runner });
  await t.rejects(kernel.externalInterface({ iface: 'eth7' }), { name: 'KernelCommandError', message: /no interface named eth7/ });
  t.equal(calls.length, 1, 'the default route is read only when needed');
  await t.rejects(kernel.externalInterface({}), { message: /no IPv4 default route/ });
});

t.test('ensureAddress: adds the /32 first, then removes other addresses inside the network', async (t) => {
  const link = [{ ifname: 'weft.1', mtu: 1450, flags: ['UP'], linkinfo: { info_kind: 'vxlan' }, addr_info: [
    { family: 'inet', local: '10.5.7.0', prefixlen: 32, scope: 'global' }, { family: 'inet', local: '172.16.0.1', prefixlen: 24, scope: 'global' }] }];
  const { runner, calls } = scripted([[/addr show dev/, () => ({ stdout: JSON.stringify(link) })]]);
  const change = await new IpRoute2({ runner }).ensureAddress('weft.1', '10.5.1.0' as Ipv4, '10.5.0.0/16' as Cidr);
  t.same(change, { added: true, removed: ['10.5.7.0/32'] });
  t.same(calls.slice(1).map((c) => c.args.join(' ')), ['addr replace 10.5.1.0/32 dev weft.1', 'addr del 10.5.7.0/32 dev weft.1']);
  const given = scripted([]);
  t.same(await new IpRoute2({ runner: given.runner }).ensureAddress('weft.1', '10.5.1.0' as Ipv4, '10.5.0.0/16' as Cidr, ['10.5.1.0/32', '172.16.0.1/24']),
    { added: false, removed: [] });
  t.same(given.calls, [], 'addresses given: nothing read, nothing to change');
});
