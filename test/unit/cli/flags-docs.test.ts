/**
 * The flags tables in docs/configuration.md are checked against `--help`:
 * every flag weftd and each weftctl command takes is in its table and every
 * flag in a table exists, with the default `--help` shows.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import t, { type Test } from 'tap';
import { REPO_ROOT, WEFTCTL_BIN, WEFTD_BIN, childEnv, nodeArgv } from '../../helpers/weftd-process.js';

type Flags = Map<string, string | undefined>;

async function helpFlags(bin: string, args: string[]): Promise<Flags> {
  const [file, argv] = nodeArgv(bin, [...args, '--help', '--config-file', '/nonexistent/weftd.env']);
  const r = await execa(file, argv, { env: childEnv(), extendEnv: false, reject: false });
  const entries = r.stdout.split('\n').reduce<string[]>((acc, line) => {
    if (/^\s+--[a-z]/.test(line)) acc.push(line);
    else if (acc.length > 0 && /^\s{4,}\S/.test(line)) acc[acc.length - 1] += ` ${line.trim()}`;
    return acc;
  }, []);
  const flags: Flags = new Map();
  for (const e of entries) {
    const name = /^\s+--([a-z0-9-]+)/.exec(e)?.[1] ?? '';
    if (name === 'help') continue;
    flags.set(name, /\[default: "?([^"\]]*)"?\]/.exec(e)?.[1]);
  }
  return flags;
}

/** `section → flag → the default cell`, from the tables under the flag headings. */
function docTables(text: string): Map<string, Map<string, string>> {
  const tables = new Map<string, Map<string, string>>();
  let section: string | undefined;
  for (const line of text.split('\n')) {
    const heading = /^#{2,3} (.*)$/.exec(line)?.[1];
    if (heading !== undefined) {
      section = heading === 'weftd flags' ? 'weftd' : heading.startsWith('weftctl (every') ? 'weftctl'
        : /^weftctl ([a-z]+)/.exec(heading) ? `weftctl ${/^weftctl ([a-z]+)/.exec(heading)?.[1] ?? ''}` : undefined;
      if (section) tables.set(section, new Map());
      continue;
    }
    const row = /^\|([^|]*)\|([^|]*)\|/.exec(line);
    if (!section || !row) continue;
    for (const m of (row[1] ?? '').matchAll(/`--([a-z0-9-]+)`/g)) tables.get(section)?.set(m[1] ?? '', row[2] ?? '');
  }
  return tables;
}

const doc = docTables(readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8'));

function compare(t: Test, label: string, help: Flags, table: Map<string, string> | undefined): void {
  t.ok(table, `docs/configuration.md has a table for ${label}`);
  if (!table) return;
  t.same([...help.keys()].filter((f) => !table.has(f)), [], `${label}: flags in --help missing from the docs`);
  t.same([...table.keys()].filter((f) => !help.has(f)), [], `${label}: flags in the docs that ${label} does not take`);
  for (const [flag, def] of help) {
    if (def === undefined || def === hostname() || !table.has(flag)) continue;
    t.match(table.get(flag), new RegExp(`\`${def.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\``), `${label} --${flag}: default ${def}`);
  }
}

t.test('weftd', async (t) => compare(t, 'weftd', await helpFlags(WEFTD_BIN, []), doc.get('weftd')));

t.test('weftctl and each of its commands', async (t) => {
  const global = await helpFlags(WEFTCTL_BIN, []);
  compare(t, 'weftctl', global, doc.get('weftctl'));
  for (const command of ['config', 'leases', 'reserve', 'release', 'cleanup', 'status', 'doctor']) {
    const own: Flags = new Map([...(await helpFlags(WEFTCTL_BIN, [command]))].filter(([f]) => !global.has(f)));
    compare(t, `weftctl ${command}`, own, doc.get(`weftctl ${command}`));
  }
});
