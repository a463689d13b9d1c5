/** The IPv6 adapter (`family: 6`): commands, reads of captured IPv6 output, and the scripted IpRoute2. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Cidr, Ipv4 } from '../../../src/core/cidr.js';
import type { Cidr6, Ipv6 } from '../../../src/core/cidr6.js';
import { KernelCommandError } from '../../../src/core/errors.js';
import type { KernelOp } from '../../../src/core/kernel-state.js';
import type { Mac } from '../../../src/core/mac.js';
import * as argv from '../../../src/adapters/iproute2/argv.js';
import { IpRoute2 } from '../../../src/adapters/iproute2/iproute2.js';
import * as parse from '../../../src/adapters/iproute2/parse.js';
import type { CommandResult, CommandRunner } from '../../../src/adapters/iproute2/runner.js';
import { fixture } from '../../helpers/fixtures.js';

const json = (name: string): unknown => JSON.parse(readFileSync(fixture('iproute2', name), 'utf8'));
/** IPv6 text in the entry types, as the IPv6 adapter returns it. */
const v6 = (text: string): Ipv4 => text as Ipv4;
const mac = (n: number): Mac => `02:aa:bb:cc:dd:0${n}` as Mac;
const neigh = (n: number, action: 'replace' | 'delete' = 'replace'): KernelOp =>
  ({ action, kind: 'neighbor', entry: { ip: v6(`fd00:10:0:${n}::`), mac: mac(n) } });
const route = (n: number, action: 'add' | 'replace' | 'delete' = 'replace'): KernelOp =>
  ({ action, kind: 'route', entry: { dst: `fd00:10:0:${n}::/64` as Cidr, via: v6(`fd00:10:0:${n}::`) } });
const fdb = (n: number, action: 'replace' | 'delete' = 'replace'): KernelOp =>
  ({ action, kind: 'fdb', entry: { mac: mac(n), dst: v6(`fd00:99::1${n}`) } });

t.test('commands: ip -6 for reads, batches and the monitor; the IPv4 ones unchanged', async (t) => {
  t.same(argv.entryReadArgv(6), ['-N', '-j', '-6', '-batch', '-']);
  t.same(argv.entryReadArgv(), ['-N', '-j', '-4', '-batch', '-']);
  t.same(argv.batchArgv('ip', 6), ['-6', '-force', '-batch', '-']);
  t.same(argv.batchArgv('bridge', 6), ['-force', '-batch', '-'], 'bridge has no family');
  t.same(argv.batchArgv(), ['-force', '-batch', '-']);
  t.same(argv.ipMonitorArgv(6), ['-6', '-o', '-N', 'monitor', 'label', 'link', 'route', 'neigh']);
  t.same(argv.ipMonitorArgv(), ['-4', '-o', '-N', 'monitor', 'label', 'link', 'route', 'neigh']);
  t.same(argv.addrReplaceArgv('weft-v6.1', 'fd00:10:0:1::/128', true), ['addr', 'replace', 'fd00:10:0:1::/128', 'dev', 'weft-v6.1', 'nodad']);
  t.same(argv.addr6ShowArgv('eth0'), ['-j', '-6', 'addr', 'show', 'dev', 'eth0']);
  t.same(argv.acceptRaOffArgv(undefined, 'weft-v6.1'), { file: 'sysctl', args: ['-qw', 'net/ipv6/conf/weft-v6.1/accept_ra=0'] });
  t.same(argv.acceptRaOffArgv('wt-h1', 'weft-v6.1'), { file: 'ip', args: ['netns', 'exec', 'wt-h1', 'sysctl', '-qw', 'net/ipv6/conf/weft-v6.1/accept_ra=0'] });
  t.same(argv.linkAddVxlanArgv({ name: 'weft-v6.1', vni: 1, port: 8472, local: 'fd00:99::11' as Ipv6, parent: 'eth0', mtu: 1430, mac: mac(1), gbp: false }),
    ['link', 'add', 'weft-v6.1', 'address', '02:aa:bb:cc:dd:01', 'mtu', '1430', 'type', 'vxlan', 'id', '1', 'dev', 'eth0', 'local', 'fd00:99::11',
      'dstport', '8472', 'nolearning']);
  t.same([neigh(2), fdb(2), route(2, 'add'), route(2, 'delete')].map((op) => argv.batchLine(op, 'weft-v6.1')), [
    'neigh replace fd00:10:0:2:: lladdr 02:aa:bb:cc:dd:02 dev weft-v6.1 nud permanent',
    'fdb replace 02:aa:bb:cc:dd:02 dev weft-v6.1 dst fd00:99::12 self permanent',
    'route add fd00:10:0:2::/64 via fd00:10:0:2:: dev weft-v6.1 onlink proto 87',
    'route del fd00:10:0:2::/64 via fd00:10:0:2:: dev weft-v6.1 proto 87',
  ]);
});

t.test('reads: IPv6 neighbours, FDB remotes and routes; the other family never', async (t) => {
  t.same(parse.parseNeighbors(json('neigh6-show.json'), 6), [
    { ip: 'fd00:10:0:2::', mac: '02:aa:bb:cc:dd:02' }, { ip: 'fd00:10:0:3::', mac: '02:aa:bb:cc:dd:03' }]);
  t.same(parse.parseNeighbors(json('neigh6-show.json')), [], 'an IPv4 reader takes none');
  t.same(parse.parseNeighbors(json('neigh-show.json'), 6), [], 'an IPv6 reader takes no IPv4 neighbour');
  t.same(parse.parseFdb(json('fdb6-show.json'), 6), [{ mac: '02:aa:bb:cc:dd:02', dst: 'fd00:99::12' }], 'not the all-zero default remote');
  t.same(parse.parseFdb(json('fdb-show.json'), 6), []);
  const read = parse.parseRoutes(json('route6-show-root.json'), 'weft-v6.1', 6);
  t.same(read.ours, [{ dst: 'fd00:10:0:2::/64', via: 'fd00:10:0:2::1' }, { dst: 'fd00:10:0:3::/64', via: 'fd00:10:0:3::' }],
    'only marked routes: IPv6 has no legacy shape');
  t.same(read.foreign.map((r) => `${r.dst} ${r.description}`), [
    'fd00:10:0:1::/128 dev weft-v6.1 proto kernel metric 256', // the kernel's route for the device's own /128
    'fd00:10:0:4::/64 via fd00:10:0:4:: dev weft-v6.1 proto boot metric 1024',
    'fd00:10:0:5::/64 dev eth0 proto static metric 5',
    'fd00:10:0:7::/128 dev weft-v6.1 proto kernel metric 256',
  ]);
  t.same(parse.parseRoutes([{ dst: 'FD00:10:0:0009::/64', gateway: 'fd00:10:0:9:0:0:0:0', protocol: '87', flags: ['onlink'] }], 'weft-v6.1', 6).ours,
    [{ dst: 'fd00:10:0:9::/64', via: 'fd00:10:0:9::' }], 'canonical text whatever the spelling');
});

interface Call { file: string; args: readonly string[]; input: string | undefined }

/** A runner that records calls and answers from a script (first matching rule wins). */
function scripted(rules: [RegExp, (call: Call) => Partial<CommandResult>][]): { runner: CommandRunner; calls: Call[] } {
  const calls: Call[] = [];
  const runner: CommandRunner = async (file, args, options = {}) => {
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

t.test('apply: ip -6 and bridge batches in the namespace', async (t) => {
  const { runner, calls } = scripted([]);
  const kernel = new IpRoute2({ runner, netns: 'wtx-h1', family: 6 });
  t.same(await kernel.apply('weft-v6.1', [fdb(2), neigh(2), route(2, 'add')]), { applied: 3, failed: [] });
  t.same(calls.map((c) => [c.file, ...c.args].join(' ')), ['ip -n wtx-h1 -6 -force -batch -', 'bridge -n wtx-h1 -force -batch -']);
});

t.test('readState: one ip -6 read for neighbours and routes (the network\'s routes with a v6 network)', async (t) => {
  const stdout = `${JSON.stringify(json('neigh6-show.json'))}\n${JSON.stringify(json('route6-show-root.json'))}\n`;
  const { runner, calls } = scripted([[/-batch/, () => ({ stdout })], [/fdb show/, () => ({ stdout: JSON.stringify(json('fdb6-show.json')) })]]);
  const state = await new IpRoute2({ runner, family: 6 }).readState('weft-v6.1', 'fd00:10::/48' as Cidr6);
  t.same(calls.map((c) => [c.file, ...c.args].join(' ')).sort(), ['bridge -j fdb show dev weft-v6.1', 'ip -N -j -6 -batch -']);
  t.equal(calls.find((c) => c.file === 'ip')?.input, 'neigh show dev weft-v6.1\nroute show root fd00:10::/48\n');
  t.equal(state.neighbors.length, 2);
  t.equal(state.routes.length, 2);
  t.same(state.fdb, [{ mac: '02:aa:bb:cc:dd:02', dst: 'fd00:99::12' }]);
  t.equal(state.foreign?.length, 4);
});

t.test('ensureAddress: the /128 (nodad) first, then other addresses in the IPv6 network go; link-local stays', async (t) => {
  const { runner, calls } = scripted([[/addr show dev/, () => ({ stdout: readFileSync(fixture('iproute2', 'link-vxlan6.json'), 'utf8') })]]);
  const kernel = new IpRoute2({ runner, family: 6 });
  t.same(await kernel.ensureAddress('weft-v6.1', 'fd00:10:0:1::' as Ipv6, 'fd00:10::/48' as Cidr6), { added: false, removed: ['fd00:10:0:7::/128'] });
  t.same(calls.slice(1).map((c) => c.args.join(' ')), ['addr del fd00:10:0:7::/128 dev weft-v6.1']);
  const fresh = scripted([]);
  t.same(await new IpRoute2({ runner: fresh.runner, family: 6 }).ensureAddress('weft-v6.1', 'fd00:10:0:2::' as Ipv6, 'fd00:10::/48' as Cidr6,
    ['fd00:10:0:1::/128', 'fe80::1/64', 'fd00:11::1/64']), { added: true, removed: ['fd00:10:0:1::/128'] });
  t.same(fresh.calls.map((c) => c.args.join(' ')), ['addr replace fd00:10:0:2::/128 dev weft-v6.1 nodad', 'addr del fd00:10:0:1::/128 dev weft-v6.1']);
});

t.test('externalInterface6: the chosen interface\'s global address, or an error naming it', async (t) => {
  const good = scripted([[/-6 addr show dev eth0/, () => ({ stdout: readFileSync(fixture('iproute2', 'addr6-show.json'), 'utf8') })]]);
  t.match(await new IpRoute2({ runner: good.runner }).externalInterface6('eth0'), { name: 'eth0', address: 'fd00:99::11', mtu: 1500 });
  const ll = scripted([[/addr show/, () => ({ stdout: readFileSync(fixture('iproute2', 'addr6-link-local-only.json'), 'utf8') })]]);
  await t.rejects(new IpRoute2({ runner: ll.runner }).externalInterface6('e1'),
    { name: 'KernelCommandError', message: /e1 has only a link-local IPv6 address.*--public-ipv6/ });
  const missing = scripted([[/addr show/, () => ({ exitCode: 1, stderr: 'Device "eth9" does not exist.\n' })]]);
  await t.rejects(new IpRoute2({ runner: missing.runner }).externalInterface6('eth9'), { message: /no interface named eth9/ });
});

t.test('createDevice: an IPv6 local also turns router advertisements off (a failure there is ignored)', async (t) => {
  const { runner, calls } = scripted([[/sysctl/, () => ({ exitCode: 255, stderr: 'sysctl: permission denied' })]]);
  const kernel = new IpRoute2({ runner, netns: 'wtx-h1', family: 6 });
  await kernel.createDevice({ name: 'weft-v6.1', vni: 1, port: 8472, local: 'fd00:99::11' as Ipv6, parent: 'eth0', mtu: 1430, mac: mac(1), gbp: false });
  t.same(calls.map((c) => c.file), ['ip', 'ip']);
  t.same(calls[1]?.args, ['netns', 'exec', 'wtx-h1', 'sysctl', '-qw', 'net/ipv6/conf/weft-v6.1/accept_ra=0']);
  const v4 = scripted([]);
  await new IpRoute2({ runner: v4.runner }).createDevice({ name: 'weft.1', vni: 1, port: 8472, local: '192.0.2.11' as Ipv4, parent: 'eth0', mtu: 1450, mac: mac(1), gbp: false });
  t.equal(v4.calls.length, 1, 'nothing more for the IPv4 device');
});
