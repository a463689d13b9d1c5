// Bundles the CNI plugin into one self-contained file (fast start: a CNI
// plugin is a process per call). Skipped until src/cni exists.
import { existsSync } from 'node:fs';
if (!existsSync('src/cni/main.ts')) process.exit(0);
const { build } = await import('esbuild');
await build({
  entryPoints: ['src/cni/main.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  outfile: 'dist/weft-cni.cjs',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
