/**
 * Reads this host's subnet.env through the shared codec. A missing or invalid
 * file means weftd has not (yet) taken a lease on this host: the callers turn
 * that into error 11 (ADD: try again later) or 50 (STATUS: not available).
 */
import { readFileSync } from 'node:fs';
import { parseSubnetEnv, type SubnetEnv } from '../core/subnet-env.js';

export type SubnetFileRead = { ok: true; env: SubnetEnv } | { ok: false; reason: string };

export function readSubnetFile(path: string): SubnetFileRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? `${path} does not exist` : `${path} cannot be read (${code ?? (err as Error).message})`;
    return { ok: false, reason: notReady(what) };
  }
  const parsed = parseSubnetEnv(text);
  if (!parsed.ok) return { ok: false, reason: notReady(`${path} is invalid: ${parsed.errors.join('; ')}`) };
  return parsed;
}

function notReady(what: string): string {
  return `the weftd daemon is not ready on this host: ${what}. weftd writes this file once it holds a subnet lease; `
    + 'check that weftd is running (systemctl status weftd) and that "subnetFile" in the CNI config names the file weftd writes';
}
