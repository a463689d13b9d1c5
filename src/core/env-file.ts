/**
 * The environment file weftd's unit loads (`EnvironmentFile=`), read the way
 * systemd reads it for the cases that matter: `KEY=value` lines, blank lines
 * and lines starting with `#` or `;` ignored, spaces around the key and
 * before the value dropped, a value wrapped in matching double or single
 * quotes unquoted, trailing spaces of an unquoted value dropped. A line that
 * is none of these is an error naming the line, not something to guess at.
 * Pure: the caller reads the file.
 */
export type EnvFileParse =
  | { readonly ok: true; readonly values: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly errors: readonly string[] };

export function parseEnvFile(text: string): EnvFileParse {
  const values = new Map<string, string>();
  const errors: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) {
      errors.push(`line ${index + 1}: "${line}" is not KEY=value`);
      return;
    }
    const value = m[2] ?? '';
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (!quoted && /^["']/.test(value)) {
      errors.push(`line ${index + 1}: the value of ${m[1]} has an unclosed quote`);
      return;
    }
    values.set(m[1] ?? '', quoted ? quoted[2] ?? '' : value);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values };
}
