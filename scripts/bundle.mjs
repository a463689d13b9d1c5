// Bundles the CNI plugin into one self-contained file with a node shebang
// (dist/weft-cni.cjs). A CNI plugin is a process per call, so start-up is what
// counts:
// - one file, CommonJS semantics when named .cjs (no ESM loader, ~6 ms less);
// - neutral about the module system: an IIFE that reaches Node built-ins with
//   process.getBuiltinModule (Node >= 20.16), not require/import, so a copy
//   without the .cjs extension still runs when the nearest package.json says
//   "type": "module" (as under $(LIBDIR)/bin of a `make install`);
// - the build fails if a heavy dependency (ip-num, etcd3, yargs, execa, pino)
//   sneaks into the plugin.
// Skipped until src/cni exists.
import { builtinModules } from 'node:module';
import { chmodSync, existsSync } from 'node:fs';
if (!existsSync('src/cni/main.ts')) process.exit(0);
const { build } = await import('esbuild');
const outfile = 'dist/weft-cni.cjs';

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
/** Resolves `node:fs` & co. to `process.getBuiltinModule('node:fs')`. */
const builtinsViaProcess = {
  name: 'builtins-via-process',
  setup(b) {
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => (builtins.has(args.path) ? { path: args.path, namespace: 'builtin' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(args.path.startsWith('node:') ? args.path : `node:${args.path}`)});`,
      loader: 'js',
    }));
  },
};

const result = await build({
  entryPoints: ['src/cni/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'iife',
  outfile,
  plugins: [builtinsViaProcess],
  banner: { js: '#!/usr/bin/env node' },
  metafile: true,
  logLevel: 'warning',
});
const forbidden = ['node_modules/ip-num', 'node_modules/yargs', 'node_modules/etcd3', 'node_modules/execa', 'node_modules/pino'];
const leaked = Object.keys(result.metafile.inputs).filter((input) => forbidden.some((f) => input.includes(f)));
if (leaked.length > 0) {
  console.error(`bundle.mjs: ${outfile} must not include ${leaked.join(', ')}`);
  process.exit(1);
}
chmodSync(outfile, 0o755);
