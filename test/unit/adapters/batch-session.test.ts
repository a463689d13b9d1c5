import t from 'tap';
import { type BatchChild, BatchSession, MARKER_LINE } from '../../../src/adapters/iproute2/batch-session.js';

/**
 * A child that behaves like `ip -force -batch -`: numbers the lines it reads
 * over its whole life, reports each failing line (a line containing "fail")
 * and the marker on stderr, and exits on a line containing "die" (as `ip
 * neigh` does on a kernel error).
 */
function fakeTool(): { spawn: (file: string, args: readonly string[]) => BatchChild; spawned: string[][]; lines: string[] } {
  const spawned: string[][] = [];
  const lines: string[] = [];
  const spawn = (file: string, args: readonly string[]): BatchChild => {
    spawned.push([file, ...args]);
    let n = 0;
    let stderr: (chunk: string) => void = () => undefined;
    let exit: (code: number | undefined) => void = () => undefined;
    let dead = false;
    return {
      write(text) {
        for (const line of text.split('\n').filter((l) => l !== '')) {
          if (dead) return;
          n++;
          lines.push(line);
          if (line === MARKER_LINE) setImmediate(() => stderr(`Object "${MARKER_LINE}" is unknown, try "ip help".\nCommand failed -:${n}\n`));
          else if (line.includes('die')) { dead = true; setImmediate(() => { stderr('RTNETLINK answers: Invalid argument\n'); exit(2); }); }
          else if (line.includes('fail')) { const at = n; setImmediate(() => stderr(`RTNETLINK answers: File exists\nCommand failed -:${at}\n`)); }
        }
      },
      end() { if (!dead) { dead = true; setImmediate(() => exit(0)); } },
      kill() { if (!dead) { dead = true; setImmediate(() => exit(undefined)); } },
      onStderr(l) { stderr = l; },
      onExit(l) { exit = l; },
    };
  };
  return { spawn, spawned, lines };
}

t.test('requests share one child; failures are reported per request with its own line numbers', async (t) => {
  const tool = fakeTool();
  const session = new BatchSession({ file: 'ip', args: ['-force', '-batch', '-'], spawn: tool.spawn });
  const first = await session.run('route add a\nroute add fail-b\nroute add c\n');
  t.same(first, { finished: true, failedLines: new Map([[2, 'RTNETLINK answers: File exists']]), lastReportedLine: 2, trailing: '' });
  const second = await session.run('route add fail-d\nroute add e\n');
  t.same([...second.failedLines], [[1, 'RTNETLINK answers: File exists']], 'line 1 of the second request, line 5 of the child');
  t.equal(tool.spawned.length, 1, 'one process for both requests');
  const [a, b] = await Promise.all([session.run('x1\n'), session.run('x2\nfail-x3\n')]);
  t.ok(a.finished && b.finished, 'concurrent requests run one after the other');
  t.same([...b.failedLines.keys()], [2]);
  session.close();
});

t.test('a child that exits mid-request: the request ends unfinished with the message, the next one starts a new child', async (t) => {
  const tool = fakeTool();
  const session = new BatchSession({ file: 'ip', args: [], spawn: tool.spawn });
  const outcome = await session.run('neigh replace a\nneigh replace fail-b\nneigh replace die-c\nneigh replace d\n');
  t.equal(outcome.finished, false);
  t.equal(outcome.lastReportedLine, 2, 'the last line the tool reported before it stopped');
  t.match(outcome.trailing, /Invalid argument/);
  t.ok(!tool.lines.includes('neigh replace d'), 'the rest was never run');
  const next = await session.run('neigh replace d\n');
  t.ok(next.finished);
  t.equal(tool.spawned.length, 2, 'a new child');
  session.close();
});

t.test('a child that does not answer: the request ends unfinished after the time limit and the child is killed', async (t) => {
  const silent = (): BatchChild => {
    let exit: (code: number | undefined) => void = () => undefined;
    return { write() {}, end() {}, kill() { setImmediate(() => exit(undefined)); }, onStderr() {}, onExit(l) { exit = l; } };
  };
  const session = new BatchSession({ file: 'bridge', args: [], spawn: silent, timeoutMs: 50 });
  const outcome = await session.run('fdb replace x\n');
  t.equal(outcome.finished, false);
  t.match(outcome.trailing, /did not answer within 50 ms/);
});

t.test('after close, requests start no child', async (t) => {
  const tool = fakeTool();
  const session = new BatchSession({ file: 'ip', args: [], spawn: tool.spawn });
  session.close();
  t.equal((await session.run('route add a\n')).finished, false);
  t.equal(tool.spawned.length, 0);
});

t.test('a child is replaced after maxLines lines; a large request runs in a child of its own', async (t) => {
  const tool = fakeTool();
  const session = new BatchSession({ file: 'ip', args: [], spawn: tool.spawn, maxLines: 10 });
  await session.run('a\nb\nc\n');
  await session.run('d\ne\n');
  t.equal(tool.spawned.length, 1, 'small requests share a child');
  const big = await session.run(Array.from({ length: 20 }, (_, i) => `x${i}\n`).join(''));
  t.ok(big.finished);
  t.equal(tool.spawned.length, 2, 'the large request got a new child');
  await session.run('f\n');
  t.equal(tool.spawned.length, 3, 'which ended with it: the next request starts another');
  session.close();
});
