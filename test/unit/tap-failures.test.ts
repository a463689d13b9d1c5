/**
 * scripts/tap-failures.mjs names what failed in a TAP log, right above the
 * totals of scripts/run-tests.sh: each failed assertion with its file and
 * subtests, and a subtest that failed with no failed assertion inside (a
 * timeout, a throw).
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const script = fileURLToPath(new URL('../../../scripts/tap-failures.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weft-tap-failures-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const run = async (log: string, max?: number): Promise<string> => {
  const file = join(dir, `log-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, log);
  return (await execa('node', [script, file, ...(max === undefined ? [] : [String(max)])])).stdout;
};

const LOG = `TAP version 14
# Subtest: dist/test/a.test.js
    # Subtest: first group
        ok 1 - fine
        not ok 2 - host1 → host2: ok ok ok
          ---
          diff: |
            not ok 9 - inside yaml, ignored
          ...
        1..2
    not ok 1 - first group # time=12.5ms
    # Subtest: second group
        ok 1 - fine
        1..1
    ok 2 - second group # time=1ms
    1..2
not ok 1 - dist/test/a.test.js # time=100ms
# Subtest: dist/test/b.test.js
    # Subtest: hangs
        ok 1 - started
        1..1
    not ok 1 - hangs # time=600000ms
    1..1
not ok 2 - dist/test/b.test.js # time=600001ms
# Subtest: dist/test/c.test.js
    ok 1 - all good
    1..1
ok 3 - dist/test/c.test.js # time=3ms
`;

t.test('each failed assertion with its file and subtests; a failed subtest with nothing failed inside is named', async (t) => {
  const out = await run(LOG);
  t.equal(out, [
    'failed (2):',
    '  dist/test/a.test.js › first group › host1 → host2: ok ok ok',
    '  dist/test/b.test.js › hangs',
  ].join('\n'));
});

t.test('nothing failed: nothing printed', async (t) => {
  t.equal(await run('TAP version 14\n# Subtest: x\n    ok 1 - y\n    1..1\nok 1 - x # time=1ms\n'), '');
});

t.test('at most MAX lines, and how many more', async (t) => {
  const many = Array.from({ length: 5 }, (_, i) => `    not ok ${i + 1} - fail ${i}`).join('\n');
  const out = await run(`# Subtest: f\n${many}\n    1..5\nnot ok 1 - f # time=1ms\n`, 2);
  t.equal(out, 'failed (5):\n  f › fail 0\n  f › fail 1\n  … and 3 more');
});
