#!/usr/bin/env node
// Builds dist/app/: the program as it ships (`npm start`, the `tsbetween`/`gobetween` bins, the
// container image). Two entry points, cli.js and worker.js (a worker thread's module; primary.ts
// finds it beside its own chunk), and shared chunks; what the program imports with `import()`
// (API, metrics, ACME, UDP, profiler, DNS client) stays in chunks of its own, loaded only by the
// configs that use it.
//
// Why a bundle (issue 8 item 8, idle memory; measured on Node 24 with the bench's config, one
// worker, VmRSS 6 s after start): loading ~140 modules one by one makes Node's module loader hot
// enough for V8 to optimise it, which touches the optimising compilers' pages of the node binary;
// ten chunks do not. 63 MB unbundled, 55 MB bundled.
//
// Node built-ins are loaded with require() rather than `import`: an ESM import of a built-in builds
// its namespace, which reads every export, including lazy ones. `node:fs` alone pulls
// fs/promises, readline and the REPL history, `node:util` worker_threads (+3 MB together with
// `node:v8` and `node:process`). esbuild turns named imports of a CommonJS module into property
// reads at the point of use, so nothing is read early.
//
// Usage: node scripts/bundle.mjs [outdir]   (default dist/app; run by `npm run build`)
import { build } from 'esbuild';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BANNER, requireBuiltins } from './bundle-rewrite.mjs';

const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const outdir = resolve(process.argv[2] ?? join(ROOT, 'dist', 'app'));

/**
 * `prom-client` → the four parts tsbetween uses. Its index also loads the Pushgateway client
 * (http, https, zlib), the cluster aggregator and Summary (tdigest), which nothing here uses.
 */
const promClientParts = {
  name: 'prom-client-parts',
  setup(b) {
    b.onResolve({ filter: /^prom-client$/ }, (args) => (args.namespace === 'prom-client-parts'
      ? undefined
      : { path: 'prom-client', namespace: 'prom-client-parts' }));
    b.onLoad({ filter: /.*/, namespace: 'prom-client-parts' }, () => ({
      contents: [
        "exports.Registry = require('prom-client/lib/registry');",
        "exports.Counter = require('prom-client/lib/counter');",
        "exports.Gauge = require('prom-client/lib/gauge');",
        "exports.collectDefaultMetrics = require('prom-client/lib/defaultMetrics');",
      ].join('\n'),
      resolveDir: ROOT,
      loader: 'js',
    }));
  },
};
const common = {
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
  write: false,
  // require() for the built-ins (above) and for CommonJS code (prom-client, dns-packet).
  banner: { js: BANNER },
  plugins: [promClientParts],
};

rmSync(outdir, { recursive: true, force: true });
const results = [
  await build({ ...common, entryPoints: { cli: join(ROOT, 'src', 'cli.ts') }, chunkNames: '[name]-[hash]' }),
  await build({ ...common, entryPoints: { worker: join(ROOT, 'src', 'workers', 'worker.ts') }, chunkNames: 'worker-[name]-[hash]' }),
];
for (const r of results) {
  for (const f of r.outputFiles) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.path.endsWith('.js') ? requireBuiltins(f.text) : f.contents);
  }
}
chmodSync(join(outdir, 'cli.js'), 0o755);
