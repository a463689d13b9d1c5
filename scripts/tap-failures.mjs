#!/usr/bin/env node
// Lists the failed assertions of a TAP log (tap's --reporter=tap output), one line each with the
// subtests around it: `file › subtest › assertion`. scripts/run-tests.sh prints it just before the
// totals, so the end of a CI log (often all one gets to see of it) names what failed.
//   node scripts/tap-failures.mjs LOG [MAX]
import { readFileSync } from 'node:fs';

const [file, maxArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tap-failures.mjs LOG [MAX]');
  process.exit(2);
}
const max = Number(maxArg ?? 20);
const stack = []; // open subtests: { indent, name, reported }
const failures = [];
let yamlEnd; // inside an assertion's YAML block (diagnostics quote source code, which may say "not ok"): its closing line
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (yamlEnd !== undefined) {
    if (line === yamlEnd) yamlEnd = undefined;
    continue;
  }
  const yaml = /^( *)---$/.exec(line);
  if (yaml) {
    yamlEnd = `${yaml[1]}...`;
    continue;
  }
  const subtest = /^( *)# Subtest: (.*)$/.exec(line);
  if (subtest) {
    stack.push({ indent: subtest[1].length, name: subtest[2], reported: false });
    continue;
  }
  const result = /^( *)(not ok|ok) \d+ - (.*?)(?: # time=[\d.]+m?s)?$/.exec(line);
  if (!result) continue;
  const indent = result[1].length;
  const failed = result[2] === 'not ok';
  const top = stack[stack.length - 1];
  if (top && top.indent === indent) {
    // The line that closes a subtest: report it only when nothing inside it was (a timeout, a throw).
    stack.pop();
    if (failed && !top.reported) failures.push([...stack.map((s) => s.name), top.name].join(' › '));
    if (failed || top.reported) for (const s of stack) s.reported = true;
    continue;
  }
  if (failed) {
    failures.push([...stack.map((s) => s.name), result[3]].join(' › '));
    for (const s of stack) s.reported = true;
  }
}
if (failures.length > 0) {
  console.log(`failed (${failures.length}):`);
  for (const f of failures.slice(0, max)) console.log(`  ${f.length > 240 ? `${f.slice(0, 239)}…` : f}`);
  if (failures.length > max) console.log(`  … and ${failures.length - max} more`);
}
