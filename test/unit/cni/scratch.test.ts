import t from 'tap';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError } from '../../../src/cni/errors.js';
import { listSavedContainerIds, readDelegateConf, removeDelegateConf, saveDelegateConf } from '../../../src/cni/scratch.js';

t.test('save, overwrite, read, list and remove', async (t) => {
  const dataDir = join(t.testdir(), 'deep', 'data');
  t.same(listSavedContainerIds(dataDir), [], 'missing dir lists nothing');
  t.equal(readDelegateConf(dataDir, 'a'), undefined);
  saveDelegateConf(dataDir, 'a', '{"v":1}');
  saveDelegateConf(dataDir, 'a', '{"v":2}');
  saveDelegateConf(dataDir, 'b', '{}');
  t.equal(readFileSync(join(dataDir, 'a'), 'utf8'), '{"v":2}');
  t.equal(readDelegateConf(dataDir, 'a'), '{"v":2}');
  t.equal(statSync(join(dataDir, 'a')).mode & 0o777, 0o600);
  t.equal(statSync(dataDir).mode & 0o777, 0o700);
  writeFileSync(join(dataDir, '.tmp-c-123'), 'half');
  t.same(listSavedContainerIds(dataDir).sort(), ['a', 'b'], 'temp files are not configs');
  removeDelegateConf(dataDir, 'a');
  removeDelegateConf(dataDir, 'a');
  t.same(readdirSync(dataDir).sort(), ['.tmp-c-123', 'b']);
});

t.test('an unusable dataDir is an I/O error (5) and leaves no temp file', async (t) => {
  const dir = t.testdir({ file: 'x' });
  try {
    saveDelegateConf(join(dir, 'file'), 'a', '{}');
    t.fail('saved under a file');
  } catch (err) {
    t.equal((err as CniError).cniCode, 5);
    t.match((err as Error).message, /cannot save the delegate config in .*file/);
  }
  t.same(readdirSync(dir), ['file']);
});
