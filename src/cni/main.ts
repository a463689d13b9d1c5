/**
 * Entry point of the `weft` CNI plugin (bundled into dist/weft-cni.cjs).
 * VERSION is answered before anything else is loaded: runtimes ask it before
 * every ADD and DEL, with placeholder values in the other CNI_* variables, so
 * it must not read them, nor stdin. Everything else loads lazily.
 */
import { writeSync } from 'node:fs';
import { versionAnswer } from './version.js';

if (process.env['CNI_COMMAND'] === 'VERSION') {
  // fs.writeSync, not process.stdout: creating the stdout stream costs ~5 ms.
  writeSync(1, versionAnswer() + '\n');
} else {
  import('./run.js')
    .then(async ({ main }) => {
      process.exitCode = await main();
    })
    .catch((err: unknown) => {
      // Only a bug in the dispatcher itself lands here; keep stdout protocol-clean.
      process.stderr.write(`weft: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.stdout.write(JSON.stringify({ cniVersion: '1.1.0', code: 999, msg: 'internal error in the weft plugin' }) + '\n');
      process.exitCode = 1;
    });
}
