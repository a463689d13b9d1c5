/**
 * Reading fields of a config object the way flannel's Go decoder does (keys
 * case-insensitive), each problem appended to `errors` with the field's name:
 * shared by the network config and the backends' parsers. Pure.
 */

/** An object's fields, keys lower-cased. */
export type Fields = ReadonlyMap<string, unknown>;

export function lowerKeys(obj: Record<string, unknown>): Fields {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(obj)) out.set(k.toLowerCase(), v);
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type JsonObjectParse = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string };

/** A value stored by someone else (a lease, a presence key): JSON, and an object, or the reason it is not. */
export function parseJsonObject(text: string): JsonObjectParse {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'value is not JSON' };
  }
  return isObject(raw) ? { ok: true, value: raw } : { ok: false, reason: 'value is not a JSON object' };
}

/** A whole number in [min, max]; undefined when absent (or null) or wrong (then an error names it). */
export function intField(fields: Fields, key: string, name: string, min: number, max: number, errors: string[]): number | undefined {
  const v = fields.get(key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    errors.push(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

/** true or false; `fallback` when absent (or null) or wrong (then an error names it). */
export function boolField(fields: Fields, key: string, name: string, errors: string[], fallback = false): boolean {
  const v = fields.get(key);
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') {
    errors.push(`${name} must be true or false, got ${JSON.stringify(v)}`);
    return fallback;
  }
  return v;
}
