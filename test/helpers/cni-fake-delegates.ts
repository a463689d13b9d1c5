/**
 * Delegates for the CNI conformance suite that the reference plugins cannot
 * play, written as small Node scripts around the real bridge plugin (so the
 * kernel state and host-local reservations they leave are real):
 *
 * - `failafter`: runs the real bridge ADD (the address is reserved and the
 *   veth made), then fails: a delegate that fails after IPAM. DEL is the
 *   bridge's, unless a file `del-fails` exists next to the script.
 * - `gcbridge`: a bridge that speaks CNI 1.1.0: it lists 1.1.0 in VERSION,
 *   logs every GC and STATUS it gets to `gc.log`, and runs ADD/DEL/CHECK
 *   through the 1.0.0 bridge.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLUGINS_DIR } from './cni-plugin-node.js';

const COMMON = `
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const input = fs.readFileSync(0, 'utf8');
const cmd = process.env.CNI_COMMAND;
const bridge = ${JSON.stringify(join(PLUGINS_DIR, 'bridge'))};
const run = (stdin) => spawnSync(bridge, [], { input: stdin, env: process.env, encoding: 'utf8' });
const fail = (msg) => { process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code: 999, msg })); process.exit(1); };
const pass = (r) => { process.stdout.write(r.stdout || ''); process.stderr.write(r.stderr || ''); process.exit(r.status === null ? 1 : r.status); };
`;

const FAIL_AFTER = `${COMMON}
if (cmd === 'VERSION') { process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] })); process.exit(0); }
if (cmd === 'DEL' && fs.existsSync(path.join(__dirname, 'del-fails'))) fail('failafter: DEL refused (del-fails exists)');
const r = run(input);
if (cmd === 'ADD' && r.status === 0) fail('failafter: failing after the bridge ADD succeeded (address reserved, veth made)');
pass(r);
`;

const GC_BRIDGE = `${COMMON}
if (cmd === 'VERSION') { process.stdout.write(JSON.stringify({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] })); process.exit(0); }
if (cmd === 'GC' || cmd === 'STATUS') { fs.appendFileSync(path.join(__dirname, 'gc.log'), JSON.stringify({ cmd, conf: JSON.parse(input) }) + '\\n'); process.exit(0); }
const conf = JSON.parse(input);
const asked = conf.cniVersion;
conf.cniVersion = '1.0.0';
if (conf.prevResult) conf.prevResult.cniVersion = '1.0.0';
const r = run(JSON.stringify(conf));
if (r.status === 0 && r.stdout.trim() !== '') r.stdout = JSON.stringify({ ...JSON.parse(r.stdout), cniVersion: asked });
pass(r);
`;

/** Writes the fake delegates into `dir` (a CNI_PATH directory). */
export function installFakeDelegates(dir: string): void {
  for (const [name, body] of [['failafter', FAIL_AFTER], ['gcbridge', GC_BRIDGE]] as const) {
    writeFileSync(join(dir, name), `#!${process.execPath}\n${body}`);
    chmodSync(join(dir, name), 0o755);
  }
}
