/**
 * Runnable examples in the docs. A fenced block whose info string is
 * `console doctest` holds `$ command` lines, each followed by the output the
 * docs promise. The doc test runs every command in the rig and checks that
 * each promised line appears, in order, in what the command printed:
 *   - runs of spaces match any whitespace (column widths vary);
 *   - values that differ run to run match their kind: durations (`23h59m58s`,
 *     `86388s`), etcd lease ids (16 hex digits); a lease id seen in an output
 *     stands for the real one in later commands of the same file;
 *   - `…` matches anything.
 * A comment after a command (`# …`) is dropped; `# exit N` in it says the
 * command exits N (default 0). Commands are split into words (single and
 * double quotes group), never given to a shell.
 */
export interface DocCommand {
  readonly line: number;
  readonly argv: readonly string[];
  readonly expectedExit: number;
  readonly expected: readonly string[];
}

export interface DocBlock {
  readonly file: string;
  readonly line: number;
  readonly commands: readonly DocCommand[];
}

/** The lines of every fenced block in a Markdown text, with its info string and first line number. */
export function fencedBlocks(text: string): { info: string; line: number; lines: string[] }[] {
  const blocks: { info: string; line: number; lines: string[] }[] = [];
  let open: { info: string; line: number; lines: string[] } | undefined;
  text.split('\n').forEach((raw, i) => {
    const fence = /^\s*```(.*)$/.exec(raw);
    if (fence && !open) open = { info: (fence[1] ?? '').trim(), line: i + 1, lines: [] };
    else if (fence && open) { blocks.push(open); open = undefined; }
    else if (open) open.lines.push(raw);
  });
  return blocks;
}

export function splitWords(text: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) words.push(m[1] ?? m[2] ?? m[3] ?? '');
  return words;
}

export function doctestBlocks(file: string, text: string): DocBlock[] {
  return fencedBlocks(text).filter((b) => b.info === 'console doctest').map((b) => {
    const commands: DocCommand[] = [];
    let current: { line: number; argv: string[]; expectedExit: number; expected: string[] } | undefined;
    b.lines.forEach((raw, i) => {
      if (raw.startsWith('$ ')) {
        if (current) commands.push(current);
        const [command = '', comment = ''] = splitComment(raw.slice(2));
        const exit = /\bexit (\d+)\b/.exec(comment);
        current = { line: b.line + i + 1, argv: splitWords(command), expectedExit: exit ? Number(exit[1]) : 0, expected: [] };
      } else if (current && raw.trim() !== '') {
        current.expected.push(raw);
      }
    });
    if (current) commands.push(current);
    return { file, line: b.line, commands };
  });
}

function splitComment(command: string): [string, string] {
  const m = /^(.*?)\s+#\s(.*)$/.exec(command);
  return m ? [m[1] ?? '', m[2] ?? ''] : [command, ''];
}

/** Lines of fenced blocks that show a weftctl/etcdctl/weftd command but are not in a doctest block. */
export function untestedCommands(text: string): string[] {
  return fencedBlocks(text).filter((b) => b.info !== 'console doctest')
    .flatMap((b) => b.lines.map((l, i) => ({ l, n: b.line + i + 1 })))
    .filter(({ l }) => /^\s*(\$\s+)?(sudo\s+)?(weftctl|etcdctl|weftd)(\s|$)/.test(l)) // `weftd: …` is a message, not a command
    .map(({ l, n }) => `line ${n}: ${l.trim()}`);
}

const LEASE_ID = /\b[0-9a-f]{16}\b/g;
const DURATION = /\b\d+(?:\.\d+)?(?:h(?:\d+m)?(?:\d+(?:\.\d+)?s)?|m(?:\d+(?:\.\d+)?s)?|s|ms)\b/g;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A regex for one promised line; lease ids are capture groups (in order of `ids`). */
export function linePattern(expected: string): { re: RegExp; ids: string[] } {
  const ids: string[] = [];
  const tokens: string[] = [];
  let rest = expected.trim();
  const special = new RegExp(`${LEASE_ID.source}|${DURATION.source}|…|\\s+`, 'g');
  let last = 0;
  for (let m = special.exec(rest); m; m = special.exec(rest)) {
    tokens.push(escape(rest.slice(last, m.index)));
    const v = m[0];
    if (/^\s+$/.test(v)) tokens.push('\\s+');
    else if (v === '…') tokens.push('.*');
    else if (/^[0-9a-f]{16}$/.test(v)) { ids.push(v); tokens.push('([0-9a-f]{1,16})'); }
    else tokens.push('\\d[\\d.hms]*');
    last = m.index + v.length;
  }
  tokens.push(escape(rest.slice(last)));
  rest = tokens.join('');
  return { re: new RegExp(`^\\s*${rest}\\s*$`), ids };
}

/**
 * Checks that every promised line matches an output line, in order; returns
 * the promised lines that did not, and records lease ids seen (doc value →
 * real value) in `bindings`.
 */
export function unmatchedLines(expected: readonly string[], output: string, bindings: Map<string, string>): string[] {
  const lines = output.split('\n');
  const missing: string[] = [];
  let at = 0;
  for (const want of expected) {
    const { re, ids } = linePattern(want);
    let found = -1;
    for (let i = at; i < lines.length; i++) {
      const m = re.exec(lines[i] ?? '');
      if (m) {
        ids.forEach((id, k) => bindings.set(id, m[k + 1] ?? id));
        found = i;
        break;
      }
    }
    if (found === -1) missing.push(want);
    else at = found + 1;
  }
  return missing;
}
