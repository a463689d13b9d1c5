// Bundles the CNI plugin into one self-contained file with a node shebang
// (dist/weft-cni.cjs), and weftd and weftctl into dist/programs/weftd.mjs and
// dist/programs/weftctl.mjs for `make install` (below). A CNI plugin is a process per call, so start-up is what
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
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
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

// weftd and weftctl for `make install`: one ES module each with every runtime
// dependency inside, so an installed host needs no node_modules (and gets no
// build tools). etcd3 reads its .proto files at run time from
// `${__dirname}/../proto`: the banner gives the bundle a __dirname (its own
// directory, dist/programs/), and the protos are copied to dist/proto/.
const programBanner = [
  "import { createRequire as __weftCreateRequire } from 'node:module';",
  "import { fileURLToPath as __weftFileURLToPath } from 'node:url';",
  'const require = __weftCreateRequire(import.meta.url);',
  'const __filename = __weftFileURLToPath(import.meta.url);',
  "const __dirname = __weftFileURLToPath(new URL('.', import.meta.url));",
].join(' ');
const buildTools = ['node_modules/typescript', 'node_modules/tap', 'node_modules/@tapjs', 'node_modules/esbuild', 'node_modules/ip-num'];
for (const name of ['weftd', 'weftctl']) {
  const program = await build({
    entryPoints: [`src/cli/${name}.ts`], bundle: true, platform: 'node', target: 'node20', format: 'esm',
    outfile: `dist/programs/${name}.mjs`, banner: { js: programBanner }, metafile: true, logLevel: 'warning',
  });
  const tools = Object.keys(program.metafile.inputs).filter((input) => buildTools.some((f) => input.includes(f)));
  if (tools.length > 0) {
    console.error(`bundle.mjs: dist/programs/${name}.mjs must not include build tools: ${tools.join(', ')}`);
    process.exit(1);
  }
}
mkdirSync('dist/proto', { recursive: true });
for (const file of readdirSync('node_modules/etcd3/proto').filter((f) => f.endsWith('.proto'))) {
  copyFileSync(`node_modules/etcd3/proto/${file}`, `dist/proto/${file}`);
}
