// Bundles the CNI plugin into one self-contained file with a node shebang
// (dist/weft-cni.cjs), and weftd and weftctl into dist/programs/weftd.cjs and
// dist/programs/weftctl.cjs (below). A CNI plugin is a process per call, so start-up is what
// counts:
// - one file, CommonJS semantics when named .cjs (no ESM loader, ~6 ms less);
// - neutral about the module system: an IIFE that reaches Node built-ins with
//   process.getBuiltinModule (Node >= 20.16), not require/import, so a copy
//   without the .cjs extension still runs when the nearest package.json says
//   "type": "module" (as under $(LIBDIR)/bin of a `make install`);
// - the build fails if a heavy dependency (ip-num, etcd3, yargs, execa, pino)
//   sneaks into the plugin.
// Skipped until src/cni exists.
import { builtinModules, createRequire } from 'node:module';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
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
// ip-num is in: the IPv6 half of subnet.env is parsed with it (core/cidr6.ts); bundled, it costs ~25 ms of module
// evaluation at start (measured: node on the bundled package alone, 0.14-0.15 s vs node -e 0 0.11-0.12 s).
const forbidden = ['node_modules/yargs', 'node_modules/etcd3', 'node_modules/execa', 'node_modules/pino'];
const leaked = Object.keys(result.metafile.inputs).filter((input) => forbidden.some((f) => input.includes(f)));
if (leaked.length > 0) {
  console.error(`bundle.mjs: ${outfile} must not include ${leaked.join(', ')}`);
  process.exit(1);
}
chmodSync(outfile, 0o755);

// weftd and weftctl: one CommonJS program each with every runtime dependency
// inside (dist/programs/weftd.cjs, weftctl.cjs). bin/weftd and bin/weftctl
// are symlinks to them, so the tests, `make demo` and the bench run exactly
// what `make install` installs, and an installed host needs no node_modules
// (and gets no build tools). CommonJS, not ESM: no ES module loader at start
// (docs/benchmarks.md, "Start-up"). yargs asks for import.meta.url, which a
// CommonJS file gets from its __filename.
//
// etcd3 calls @grpc/proto-loader's loadSync on its rpc.proto when it loads;
// parsing the file and describing every message for gRPC reflection was a
// quarter of weftd's start-up CPU. In the bundles, etcd3 gets
// scripts/etcd-grpc-definitions.cjs instead, fed with the .proto files parsed
// here, at build time: no .proto file is read at run time.
const fromProtoLoader = createRequire(resolve('node_modules/@grpc/proto-loader/package.json'));
const etcdProtoJson = new (fromProtoLoader('protobufjs').Root)().loadSync('node_modules/etcd3/proto/rpc.proto', { keepCase: true }).toJSON();
const etcdDefinitionsAtBuildTime = {
  name: 'etcd3-definitions-at-build-time',
  setup(b) {
    b.onResolve({ filter: /^@grpc\/proto-loader$/ }, (args) =>
      (/[/\\]node_modules[/\\]etcd3[/\\]/.test(args.importer) ? { path: 'etcd3-grpc-definitions', namespace: 'weft-etcd-proto' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'weft-etcd-proto' }, () => ({
      contents: [
        "const Protobuf = require('protobufjs');",
        "const camelCase = require('lodash.camelcase');",
        `const { etcdPackageDefinition } = require(${JSON.stringify(resolve('scripts/etcd-grpc-definitions.cjs'))});`,
        `const json = ${JSON.stringify(etcdProtoJson)};`,
        'exports.loadSync = (_file, options) => etcdPackageDefinition(Protobuf, camelCase, json, options);',
      ].join('\n'),
      resolveDir: resolve('node_modules/@grpc/proto-loader'), loader: 'js',
    }));
  },
};
const programBanner = [
  '#!/usr/bin/env node',
  "const __weftImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
].join('\n');
/**
 * weftd's V8 settings (docs/design.md, "weftd's V8 heap settings"; numbers in
 * docs/benchmarks.md, "Memory"): keep the young generation at its initial
 * 2 x 1 MB semispaces, let the old generation grow by 50 % of the live heap
 * between full collections, and run without the optimizing compiler
 * (TurboFan: ~10 MB of weftd's RSS at 5000 peers, and more CPU compiling than
 * it saves on code that runs once per resync). V8 reads these only when it
 * sizes the heap or decides to optimize, so they are set here, before weftd's
 * code loads. Do not add others this way: some crash V8 when set late.
 */
const weftdHeap = "require('node:v8').setFlagsFromString('--semi-space-growth-factor=1 --heap-growing-percent=50 --no-opt');";
const buildTools = ['node_modules/typescript', 'node_modules/tap', 'node_modules/@tapjs', 'node_modules/esbuild'];
for (const name of ['weftd', 'weftctl']) {
  const outfile = `dist/programs/${name}.cjs`;
  const program = await build({
    // The program runs main() itself and exits with its code: the etcd client's gRPC channels can outlive main().
    stdin: { contents: `import { main } from './src/cli/${name}.ts';\nmain(process.argv.slice(2)).then((code) => process.exit(code));\n`,
      resolveDir: '.', sourcefile: `${name}-program.ts`, loader: 'ts' },
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile,
    banner: { js: name === 'weftd' ? `${programBanner}\n${weftdHeap}` : programBanner },
    define: { 'import.meta.url': '__weftImportMetaUrl' }, plugins: [etcdDefinitionsAtBuildTime], metafile: true, logLevel: 'warning',
  });
  const tools = Object.keys(program.metafile.inputs).filter((input) => buildTools.some((f) => input.includes(f)));
  if (tools.length > 0) {
    console.error(`bundle.mjs: ${outfile} must not include build tools: ${tools.join(', ')}`);
    process.exit(1);
  }
  // (grpc-js has its own proto-loader, required only inside its channelz and ORCA servers.)
  if (Object.keys(program.metafile.inputs).some((input) => input.startsWith('node_modules/@grpc/proto-loader/'))) {
    console.error(`bundle.mjs: ${outfile}: etcd3 must get its definitions from etcd-grpc-definitions.cjs, not proto-loader`);
    process.exit(1);
  }
  asciiOnly(outfile);
  chmodSync(outfile, 0o755);
}

/**
 * V8 keeps a program's source in its heap, one byte per character only when
 * every character is ASCII: a single '→' in a comment stores the whole 2 MB
 * bundle as two bytes per character (4.3 MB of weftd's heap). esbuild already
 * escapes strings, regular expressions and identifiers; what is left is in
 * comments, where a \u escape is as good.
 */
function asciiOnly(file) {
  const text = readFileSync(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`); // (per UTF-16 unit: valid in any literal too)
  if (ascii !== text) writeFileSync(file, ascii);
}
