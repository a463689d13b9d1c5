/**
 * Integration prerequisites: in CI (WEFT_REQUIRE_INTEGRATION=1) a missing
 * tool or privilege is a failure, never a silent skip.
 */
import { execFileSync } from 'node:child_process';

export function missingPrerequisites(tools: readonly string[], needRoot = false): string[] {
  const missing: string[] = [];
  if (needRoot && process.getuid?.() !== 0) missing.push('root privileges');
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' });
    } catch {
      missing.push(tool);
    }
  }
  return missing;
}

/** Returns true when the test file should run; fails (in CI) or skips (locally) otherwise. */
export function requirePrerequisites(t: { fail(msg: string): unknown; comment(...msg: unknown[]): unknown }, tools: readonly string[], needRoot = false): boolean {
  const missing = missingPrerequisites(tools, needRoot);
  if (missing.length === 0) return true;
  const msg = `missing prerequisites: ${missing.join(', ')}`;
  if (process.env['WEFT_REQUIRE_INTEGRATION'] === '1') t.fail(msg);
  else t.comment(`SKIP ${msg}`);
  return false;
}
