import t from 'tap';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError } from '../../../src/cni/errors.js';
import { createExecInvoker, findPlugin } from '../../../src/cni/invoke.js';

function plugin(dir: string, name: string, script: string, mode = 0o755): void {
  writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`);
  chmodSync(join(dir, name), mode);
}

async function failure(promise: Promise<unknown>): Promise<CniError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CniError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

t.test('runs the first executable match in CNI_PATH with CNI_COMMAND overridden and the config on stdin', async (t) => {
  const dir = t.testdir({ a: {}, b: {} });
  plugin(join(dir, 'a'), 'echo', 'exit 9', 0o644); // not executable: skipped
  plugin(join(dir, 'b'), 'echo', 'printf "%s|%s|%s" "$CNI_COMMAND" "$CNI_CONTAINERID" "$(cat)"');
  const stderr: string[] = [];
  const invoker = createExecInvoker({
    path: [join(dir, 'missing'), join(dir, 'a'), join(dir, 'b')],
    env: { PATH: process.env['PATH'], CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c9' },
    onStderr: (type, text) => stderr.push(`${type}: ${text}`),
  });
  t.equal(await invoker.exec('echo', 'DEL', '{"x":1}'), 'DEL|c9|{"x":1}');
  t.same(stderr, []);
});

t.test("a delegate's JSON error keeps its code, msg and details", async (t) => {
  const dir = t.testdir();
  plugin(dir, 'bad', 'echo "warning text" >&2; printf \'{"code":7,"msg":"invalid range","details":"host bits set"}\'; exit 1');
  const stderr: string[] = [];
  const invoker = createExecInvoker({ path: [dir], env: {}, onStderr: (_type, text) => stderr.push(text) });
  const err = await failure(invoker.exec('bad', 'ADD', '{}'));
  t.same([err.cniCode, err.message, err.details], [7, 'invalid range', 'host bits set']);
  t.same(stderr, ['warning text\n']);
});

t.test('a delegate failing without JSON is 999 with its stderr; a missing one is named', async (t) => {
  const dir = t.testdir();
  plugin(dir, 'crash', 'echo "panic: runtime error" >&2; exit 2');
  plugin(dir, 'killed', 'kill -9 $$');
  const invoker = createExecInvoker({ path: [dir], env: { PATH: process.env['PATH'] }, onStderr: () => {} });
  const crash = await failure(invoker.exec('crash', 'ADD', '{}'));
  t.same([crash.cniCode, crash.message], [999, 'delegate crash ADD exited with 2: panic: runtime error']);
  t.match((await failure(invoker.exec('killed', 'DEL', '{}'))).message, /was killed by SIGKILL/);
  const missing = await failure(invoker.exec('bridge', 'ADD', '{}'));
  t.match(missing.message, new RegExp(`failed to find delegate plugin "bridge" in CNI_PATH \\[${dir}\\]`));
});

t.test('a delegate type that is a path is refused (7)', async (t) => {
  for (const type of ['../bridge', '/usr/lib/cni/bridge', '..', '']) {
    try {
      findPlugin(type, ['/usr/lib/cni']);
      t.fail(type);
    } catch (err) {
      t.equal((err as CniError).cniCode, 7, JSON.stringify(type));
    }
  }
});
