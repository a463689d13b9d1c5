/**
 * `make install DESTDIR=…` after `make build`: installs only what runs (the
 * bundled programs with etcd's protocol definitions inside, bin symlinks, unit, example env file,
 * docs), no node_modules and no build tools, without rebuilding; and the
 * installed weftd/weftctl/weft work from there against a real etcd.
 */
import { execa } from 'execa';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { type EtcdCluster, startEtcd } from '../helpers/etcd-server.js';
import { REPO_ROOT, childEnv } from '../helpers/weftd-process.js';
import { requirePrerequisites } from '../helpers/require.js';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]);
}

if (requirePrerequisites(t, ['make', 'etcd', 'etcdctl'])) {
  const root = mkdtempSync(join(tmpdir(), 'weft-install-'));
  let etcd: EtcdCluster;
  t.before(async () => { etcd = await startEtcd(); });
  t.teardown(async () => { await etcd?.stop(); rmSync(root, { recursive: true, force: true }); });
  const lib = join(root, 'usr/local/lib/weft');

  t.test('installs only what runs, without rebuilding', async (t) => {
    const r = await execa('make', ['-C', REPO_ROOT, 'install', `DESTDIR=${root}`], { reject: false, env: childEnv() });
    t.equal(r.exitCode, 0, r.stderr);
    t.notMatch(r.stdout, /\btsc\b|bundle\.mjs|npm ci/, 'nothing was built: make build did that');
    const installed = files(root).map((f) => f.slice(root.length));
    t.same(installed.filter((f) => /node_modules|typescript|\/tap\/|esbuild|\.ts$|\.map$/.test(f)), [], 'no node_modules, sources or build tools');
    t.same(installed.filter((f) => f.endsWith('.proto')), [], 'no .proto files: etcd\'s definitions are inside the bundles');
    for (const f of ['/usr/local/lib/weft/programs/weftd.cjs', '/usr/local/lib/weft/programs/weftctl.cjs', '/usr/local/lib/weft/programs/weft-cni.cjs',
      '/usr/local/lib/weft/bin/weftd', '/usr/local/lib/weft/bin/weftctl', '/opt/cni/bin/weft',
      '/etc/systemd/system/weftd.service', '/etc/weft/weftd.env.example', '/usr/local/lib/weft/docs/configuration.md']) {
      t.ok(installed.includes(f), `${f} installed`);
    }
    for (const p of ['weftd', 'weftctl']) {
      t.equal(readlinkSync(join(lib, 'bin', p)), `../programs/${p}.cjs`, `bin/${p} runs the bundle, as bin/${p} does in the repository`);
      t.equal(readlinkSync(join(REPO_ROOT, 'bin', p)), `../dist/programs/${p}.cjs`, `the repository's bin/${p} (what the tests run) is the same bundle`);
    }
    const bytes = files(root).reduce((sum, f) => sum + lstatSync(f).size, 0);
    t.ok(bytes < 8 * 1024 * 1024, `${(bytes / 1024 / 1024).toFixed(1)} MB installed (docs/install.md says about 4 MB)`);
    t.match(r.stdout, /installed: \d/, 'make prints the size');
  });

  t.test('the installed programs run from there', async (t) => {
    const node = (script: string, args: string[]) => execa(process.execPath, [join(lib, 'bin', script), ...args],
      { reject: false, env: childEnv(), cwd: root });
    const help = await node('weftd', ['--help']);
    t.equal(help.exitCode, 0);
    t.match(help.stdout, /--ip-masq/);
    const set = await node('weftctl', ['config', 'set', '--network', '10.77.0.0/16', '--etcd-endpoints', etcd.endpoints.join(','), '--config-file', join(root, 'none.env')]);
    t.equal(set.exitCode, 0, `installed weftctl talks to etcd (with the protocol definitions built into it): ${set.stderr}`);
    t.match((await node('weftctl', ['config', 'get', '--etcd-endpoints', etcd.endpoints.join(','), '--config-file', join(root, 'none.env')])).stdout, /10\.77\.0\.0\/16/);
    const cni = await execa(join(root, 'opt/cni/bin/weft'), [], { reject: false, input: '{"cniVersion":"1.0.0"}', env: { ...childEnv(), CNI_COMMAND: 'VERSION' } });
    t.match(cni.stdout, /"supportedVersions"/, 'the CNI plugin answers VERSION');
    t.ok(existsSync(join(lib, 'bin/weft')), 'and is linked under the lib dir');
  });
}
