/**
 * IpRoute2Monitor against the real kernel, in a namespace this test creates
 * (a veth pair stands in for the underlay): typed changes for weft's entries
 * and device, a killed child and a notification storm while the event loop is
 * blocked, each ending with a monitor that still reports.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { type KernelChange, describeChange } from '../../src/core/kernel-change.js';
import { IpRoute2Monitor } from '../../src/adapters/iproute2/kernel-monitor.js';
import { requirePrerequisites } from '../helpers/require.js';
import { addNetns, ip, isAlive, uniquePrefix } from '../rig/netns.js';
import { teardownPrefixSync } from '../rig/teardown.js';

const prefix = uniquePrefix('wm');
const ns = `${prefix}-m`;
const dev = 'weft.1';

if (requirePrerequisites(t, ['ip', 'bridge'], true)) {
  t.teardown(() => { teardownPrefixSync(prefix); });
  process.once('exit', () => { teardownPrefixSync(prefix); });

  await addNetns(ns);
  await ip(['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
  await ip(['-n', ns, 'addr', 'add', '192.0.2.11/24', 'dev', 'eth0']);
  await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
  await ip(['-n', ns, 'link', 'set', 'eth1', 'up']);
  await ip(['-n', ns, 'link', 'add', dev, 'address', '02:aa:00:00:00:01', 'mtu', '1450', 'type', 'vxlan', 'id', '1',
    'dev', 'eth0', 'local', '192.0.2.11', 'dstport', '8472', 'nolearning']);
  await ip(['-n', ns, 'link', 'set', dev, 'up']);

  const inNs = (args: readonly string[]): Promise<string> => ip(['-n', ns, ...args]);
  const bridge = async (args: readonly string[]): Promise<void> => { await execa('bridge', ['-n', ns, ...args]); };

  const monitor = new IpRoute2Monitor({ netns: ns, device: dev });
  const changes: KernelChange[] = [];
  let batches = 0;
  let largestBatch = 0;
  t.teardown(() => monitor.stop());

  /** Waits until `done(changes seen since `from`)`; fails the test with what was seen after 20 s. */
  const waitFor = async (from: number, done: (seen: readonly KernelChange[]) => boolean): Promise<KernelChange[]> => {
    const deadline = Date.now() + 20_000;
    while (!done(changes.slice(from)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return changes.slice(from);
  };
  const text = (seen: readonly KernelChange[], kind?: KernelChange['kind']): string[] =>
    seen.filter((c) => kind === undefined || c.kind === kind).map(describeChange);

  await monitor.start((batch) => {
    batches += 1;
    largestBatch = Math.max(largestBatch, batch.length);
    changes.push(...batch);
  });
  const firstPid = monitor.pid('ip');

  t.test('route, neighbour and FDB: added, replaced, deleted, as typed changes (right after start resolves)', async (t) => {
    const from = changes.length;
    await inNs(['route', 'replace', '10.9.1.0/24', 'via', '10.9.1.0', 'dev', dev, 'onlink', 'proto', '87']);
    await inNs(['route', 'replace', '10.9.1.0/24', 'via', '10.9.1.1', 'dev', dev, 'onlink', 'proto', '87']);
    await inNs(['route', 'replace', '10.9.3.0/24', 'via', '10.9.3.0', 'dev', dev, 'onlink']);
    await inNs(['route', 'del', '10.9.1.0/24', 'via', '10.9.1.1', 'dev', dev, 'proto', '87']);
    await inNs(['neigh', 'replace', '10.9.1.0', 'lladdr', '02:00:00:00:00:01', 'dev', dev, 'nud', 'permanent']);
    await inNs(['neigh', 'replace', '10.9.1.0', 'lladdr', '02:00:00:00:00:02', 'dev', dev, 'nud', 'permanent']);
    await inNs(['neigh', 'del', '10.9.1.0', 'dev', dev]);
    await bridge(['fdb', 'replace', '02:00:00:00:00:01', 'dev', dev, 'dst', '192.0.2.9', 'self', 'permanent']);
    await bridge(['fdb', 'replace', '02:00:00:00:00:01', 'dev', dev, 'dst', '192.0.2.10', 'self', 'permanent']);
    await bridge(['fdb', 'del', '02:00:00:00:00:01', 'dev', dev, 'dst', '192.0.2.10', 'self']);
    const seen = await waitFor(from, (s) => s.length >= 11);
    t.same(text(seen, 'route'), [
      'new route 10.9.1.0/24 via 10.9.1.0 dev weft.1 proto 87 onlink',
      'new route 10.9.1.0/24 via 10.9.1.1 dev weft.1 proto 87 onlink',
      'new route 10.9.3.0/24 via 10.9.3.0 dev weft.1 proto 3 onlink',
      'deleted route 10.9.1.0/24 via 10.9.1.1 dev weft.1 proto 87 onlink',
    ]);
    t.same(text(seen, 'neighbor'), [
      'new neighbor 10.9.1.0 dev weft.1 lladdr 02:00:00:00:00:01 PERMANENT',
      'new neighbor 10.9.1.0 dev weft.1 lladdr 02:00:00:00:00:02 PERMANENT',
      'new neighbor 10.9.1.0 dev weft.1 FAILED',
      'deleted neighbor 10.9.1.0 dev weft.1 FAILED',
    ]);
    t.same(text(seen, 'fdb'), [
      'new fdb 02:00:00:00:00:01 dev weft.1 dst 192.0.2.9 self permanent',
      'new fdb 02:00:00:00:00:01 dev weft.1 dst 192.0.2.10 self permanent',
      'deleted fdb 02:00:00:00:00:01 dev weft.1 dst 192.0.2.10 self permanent',
    ]);
    t.same(text(seen, 'lost'), []);
    t.match(seen.find((c) => c.kind === 'route'), { kind: 'route', device: dev, dst: '10.9.1.0/24', via: '10.9.1.0', protocol: 87, onlink: true });
  });

  t.test('other devices: their neighbours and FDB entries are dropped, a route moved onto one is not', async (t) => {
    const from = changes.length;
    await inNs(['neigh', 'replace', '192.0.2.50', 'lladdr', '02:00:00:00:00:50', 'dev', 'eth0', 'nud', 'permanent']);
    await bridge(['fdb', 'add', '02:00:00:00:00:09', 'dev', 'eth0', 'self', 'permanent']);
    await inNs(['route', 'replace', '10.9.3.0/24', 'via', '192.0.2.1', 'dev', 'eth0']);
    await inNs(['neigh', 'replace', '10.9.4.0', 'lladdr', '02:00:00:00:00:04', 'dev', dev, 'nud', 'permanent']);
    await bridge(['fdb', 'replace', '02:00:00:00:00:04', 'dev', dev, 'dst', '192.0.2.4', 'self', 'permanent']);
    await waitFor(from, (s) => s.some((c) => c.kind === 'neighbor') && s.some((c) => c.kind === 'fdb'));
    await new Promise((r) => setTimeout(r, 200)); // anything from eth0 would have come by now
    t.same(text(changes.slice(from)).sort(), [
      'new fdb 02:00:00:00:00:04 dev weft.1 dst 192.0.2.4 self permanent',
      'new neighbor 10.9.4.0 dev weft.1 lladdr 02:00:00:00:00:04 PERMANENT',
      'new route 10.9.3.0/24 via 192.0.2.1 dev eth0 proto 3',
    ], 'only the route is reported from eth0');
  });

  t.test('link: MTU, down and up', async (t) => {
    const from = changes.length;
    await inNs(['link', 'set', dev, 'mtu', '1400']);
    await inNs(['link', 'set', dev, 'down']);
    await inNs(['link', 'set', dev, 'up']);
    const seen = await waitFor(from, (s) => s.filter((c) => c.kind === 'link' && c.device === dev).length >= 3);
    t.same(seen.filter((c) => c.kind === 'link' && c.device === dev).map((c) => c.kind === 'link' && [c.up, c.mtu, c.deleted]),
      [[true, 1400, false], [false, 1400, false], [true, 1400, false]]);
    // Down flushed the permanent neighbour (reported) and the routes (not reported: the kernel sends nothing).
    t.ok(text(seen, 'neighbor').includes('deleted neighbor 10.9.4.0 dev weft.1 lladdr 02:00:00:00:00:04 PERMANENT'));
    t.same(text(seen, 'route'), []);
  });

  t.test('a killed ip child: `lost` once a new one listens, then changes again', async (t) => {
    const pid = monitor.pid('ip');
    if (pid === undefined) throw new Error('no ip monitor child');
    const from = changes.length;
    process.kill(pid, 'SIGKILL'); // our own child, by its PID
    const seen = await waitFor(from, (s) => s.some((c) => c.kind === 'lost'));
    t.match(text(seen, 'lost'), [/^lost: ip monitor killed by SIGKILL; restarted$/]);
    t.not(monitor.pid('ip'), pid, 'a new child');
    t.ok(monitor.pid('ip') !== undefined && isAlive(monitor.pid('ip') ?? 0));
    t.notOk(isAlive(pid));
    const after = changes.length;
    await inNs(['route', 'replace', '10.9.5.0/24', 'via', '10.9.5.0', 'dev', dev, 'onlink', 'proto', '87']);
    t.same(text(await waitFor(after, (s) => s.length > 0), 'route'), ['new route 10.9.5.0/24 via 10.9.5.0 dev weft.1 proto 87 onlink']);
  });

  t.test('storm: 20 000 route notifications while the event loop is blocked for a second', async (t) => {
    const count = 10_000;
    const dst = (i: number): string => `10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`;
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(`route add ${dst(i)} via 10.9.1.0 dev ${dev} onlink proto 87`);
    for (let i = 0; i < count; i++) lines.push(`route del ${dst(i)} via 10.9.1.0 dev ${dev} proto 87`);
    const file = join(t.testdir({}), 'storm.batch');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const from = changes.length;
    const batchesBefore = batches;
    // The batch reads its file itself (not a pipe this process feeds), so it runs while this process cannot read anything.
    const storm = execa('ip', ['-n', ns, '-force', '-batch', file], { reject: false });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    const result = await storm;
    t.equal(result.exitCode, 0, result.stderr);
    const inStorm = (c: KernelChange): boolean => c.kind === 'route' && c.dst.startsWith('10.') && Number(c.dst.split('.')[1]) >= 100;
    const complete = (s: readonly KernelChange[]): boolean => s.some((c) => c.kind === 'lost') || s.filter(inStorm).length >= 2 * count;
    const seen = await waitFor(from, complete);
    const lost = text(seen, 'lost');
    const stormChanges = seen.filter(inStorm);
    t.comment(`${stormChanges.length} storm changes in ${batches - batchesBefore} batches (largest ${largestBatch}); lost: ${JSON.stringify(lost)}`);
    t.ok(complete(seen), 'either every change or a `lost` arrived');
    if (lost.length === 0) {
      t.equal(stormChanges.filter((c) => c.kind === 'route' && c.deleted).length, count, 'every delete');
    } else {
      t.match(lost[0], /ip monitor: notifications dropped: netlink receive error No buffer space available/);
    }
    t.ok(largestBatch >= 100, 'what piled up while the loop was blocked came in one callback per chunk, not one per change');
    await new Promise((r) => setTimeout(r, 500)); // let the rest of the storm drain
    const after = changes.length;
    await inNs(['route', 'replace', '10.9.6.0/24', 'via', '10.9.6.0', 'dev', dev, 'onlink', 'proto', '87']);
    t.same(text(await waitFor(after, (s) => s.some((c) => c.kind === 'route' && c.dst === '10.9.6.0/24')), 'route')
      .filter((l) => l.includes('10.9.6.0/24')), ['new route 10.9.6.0/24 via 10.9.6.0 dev weft.1 proto 87 onlink'], 'still reporting');
  });

  t.test('the device deleted: its FDB entries and the link, reported deleted', async (t) => {
    const from = changes.length;
    await inNs(['link', 'del', dev]);
    const seen = await waitFor(from, (s) => s.some((c) => c.kind === 'link' && c.deleted) && s.some((c) => c.kind === 'fdb'));
    // The kernel takes the link down, then deletes it.
    t.match(seen.filter((c) => c.kind === 'link' && c.device === dev),
      [{ kind: 'link', deleted: false, up: false }, { kind: 'link', deleted: true, device: dev, index: Number, up: false }]);
    t.same(text(seen, 'fdb'), ['deleted fdb 02:00:00:00:00:04 dev weft.1 dst 192.0.2.4 self permanent']);
  });

  t.test('a namespace that does not exist yet: start resolves, the recovery is reported as lost', async (t) => {
    const late = `${prefix}-late`;
    const seen: KernelChange[] = [];
    const waiting = new IpRoute2Monitor({ netns: late, restartDelayMs: { first: 50, max: 200 } });
    t.teardown(() => waiting.stop());
    await waiting.start((batch) => { seen.push(...batch); });
    t.same(seen, [], 'nothing to report yet');
    await addNetns(late);
    const deadline = Date.now() + 20_000;
    while (!seen.some((c) => c.kind === 'lost') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.match(text(seen, 'lost'), [/^lost: (ip|bridge) monitor exited \(255\): Cannot open network namespace/]);
    while (seen.filter((c) => c.kind === 'lost').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.equal(seen.filter((c) => c.kind === 'lost').length, 2, 'one per child');
    await ip(['-n', late, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    while (!seen.some((c) => c.kind === 'link' && c.device === 'v0') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    t.match(seen.find((c) => c.kind === 'link' && c.device === 'v0'), { kind: 'link', deleted: false, up: false });
    await waiting.stop();
  });

  t.test('stop: the children end and nothing more is delivered', async (t) => {
    const pids = [monitor.pid('ip'), monitor.pid('bridge')];
    t.ok(pids.every((p) => p !== undefined && isAlive(p)));
    t.not(pids[0], firstPid);
    await monitor.stop();
    t.ok(pids.every((p) => p !== undefined && !isAlive(p)), 'both gone when stop resolves');
    const from = changes.length;
    await inNs(['route', 'replace', '10.9.7.0/24', 'dev', 'eth0']);
    await new Promise((r) => setTimeout(r, 200));
    t.same(changes.slice(from), []);
    t.equal(monitor.pid('ip'), undefined);
  });
}
