/**
 * The layering rule, enforced: src/core is pure (no I/O modules), nothing
 * imports upward (core ← adapters ← backend ← daemon ← cli; cni beside backend),
 * a backend never imports another backend's folder, and the CNI plugin
 * never pulls in the daemon's heavy dependencies.
 */
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function imports(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)]
    .map((m) => m[1] ?? m[2] ?? '');
}

const layerOf = (path: string): string => relative(SRC, path).split('/')[0] ?? '';
const RANK: Record<string, number> = { core: 0, adapters: 1, backend: 2, cni: 2, daemon: 3, cli: 4 };
/** `backend/<name>/...` → name; backend/*.ts (the interface) → undefined. */
const backendOf = (path: string): string | undefined => {
  const parts = relative(SRC, path).split('/');
  return parts[0] === 'backend' && parts.length > 2 ? parts[1] : undefined;
};
const IO_MODULES = /^(node:)?(fs|fs\/promises|child_process|net|http|dgram|os)$|^(etcd3|execa|pino|prom-client|yargs)$/;

const all = files(SRC);
t.ok(all.length > 30, `found the sources (${all.length} files)`);

for (const path of all) {
  const layer = layerOf(path);
  for (const spec of imports(path)) {
    const where = `${relative(SRC, path)} imports ${spec}`;
    if (layer === 'core') t.notMatch(spec, IO_MODULES, `core stays pure: ${where}`);
    if (layer === 'cni') t.notMatch(spec, /^(etcd3|yargs|pino|execa|prom-client)$/, `the CNI plugin stays light: ${where}`);
    if (spec.startsWith('.')) {
      const target = layerOf(join(path, '..', spec));
      const from = RANK[layer] ?? 99;
      const to = RANK[target] ?? 99;
      t.ok(to < from || target === layer, `no upward or sideways import: ${where}`);
      const fromBackend = backendOf(path);
      const toBackend = backendOf(join(path, '..', spec));
      if (fromBackend && toBackend) t.equal(toBackend, fromBackend, `one backend does not import another: ${where}`);
    }
  }
}
