/** The command runner (execa) against real child processes (node itself, so nothing needs to be installed). */
import t from 'tap';
import { execaRunner } from '../../../src/adapters/iproute2/runner.js';

const node = process.execPath;
const script = (code: string): string[] => ['-e', code];

t.test('stdout, stderr and exit code; stdin from input; LC_ALL=C', async (t) => {
  const run = execaRunner();
  const echo = await run(node, script('process.stdin.pipe(process.stdout); process.stderr.write(process.env.LC_ALL ?? "")'), { input: 'neigh replace x\n' });
  t.same(echo, { stdout: 'neigh replace x\n', stderr: 'C', exitCode: 0 });
  const big = await run(node, script('process.stdout.write("x".repeat(3_000_000))'));
  t.equal(big.stdout.length, 3_000_000, 'large output is collected whole');
  const none = await run(node, script('process.exit(0)'));
  t.same(none, { stdout: '', stderr: '', exitCode: 0 });
});

t.test('a non-zero exit throws KernelCommandError with the first stderr line, unless allowed', async (t) => {
  const run = execaRunner();
  const failing = script('process.stderr.write("\\nRTNETLINK answers: File exists\\nmore\\n"); process.exit(2)');
  await t.rejects(run(node, failing), { name: 'KernelCommandError', message: /failed \(exit 2\): RTNETLINK answers: File exists$/, stderr: /more/ });
  t.match(await run(node, failing, { allowFailure: true }), { exitCode: 2, stderr: /File exists/ });
});

t.test('a tool that exits without reading its input is not an error of the runner', async (t) => {
  const result = await execaRunner()(node, script('process.exit(1)'), { input: 'x\n'.repeat(200_000), allowFailure: true });
  t.equal(result.exitCode, 1);
});

t.test('a missing binary, a timeout and a cancel are KernelCommandErrors naming the command', async (t) => {
  await t.rejects(execaRunner()('/nonexistent/ip', ['-V']), { name: 'KernelCommandError', message: /\/nonexistent\/ip -V could not run/ });
  await t.rejects(execaRunner({ timeoutMs: 200 })(node, script('setTimeout(() => {}, 10_000)')), { message: /timed out/ });
  const cancel = new AbortController();
  const running = execaRunner({ signal: cancel.signal })(node, script('setTimeout(() => {}, 10_000)'));
  setTimeout(() => cancel.abort(), 100);
  await t.rejects(running, { message: /was cancelled/ });
  await t.rejects(execaRunner({ signal: cancel.signal })(node, script('0')), { message: /was cancelled/ }, 'already aborted');
});
