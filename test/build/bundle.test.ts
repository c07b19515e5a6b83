/**
 * The bundle's post-processing (scripts/bundle-rewrite.mjs): built-in ESM imports become require()
 * calls on the banner's line, with the line count kept for the source maps; and the built bundle in
 * dist/app has no built-in ESM import left (issue 8 item 8: an ESM import of `node:fs` alone loads
 * fs/promises, readline and the REPL history at start-up).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BANNER, requireBuiltins } from '../../scripts/bundle-rewrite.mjs';
import { ROOT } from '../helpers/cli.js';

const chunk = (...lines: string[]): string => ['#!/usr/bin/env node', BANNER, ...lines].join('\n');

test('every form esbuild emits becomes a require() on the banner line; lines are kept', () => {
  const input = chunk(
    'import { a, b as c } from "node:fs";',
    'import net from "node:net";',
    'import * as path from "node:path";',
    'import events, { once } from "node:events";',
    'import {',
    '  x,',
    '  y as z',
    '} from "node:util";',
    'import { helper } from "./chunk-ABC.js";',
    'const s = "import q from \\"node:os\\";";',
    'use(a, c, net, path, events, once, x, z, helper);',
  );
  const out = requireBuiltins(input);
  const lines = out.split('\n');
  assert.equal(lines.length, input.split('\n').length, 'line count kept');
  assert.equal(lines[0], '#!/usr/bin/env node');
  assert.equal(lines[1], "import { createRequire as __tsbCreateRequire } from 'node:module';");
  assert.equal(lines[2], 'const require = __tsbCreateRequire(import.meta.url); ' + [
    'const { a, b: c } = require("node:fs");',
    'const net = require("node:net");',
    'const path = require("node:path");',
    'const events = require("node:events");',
    'const { once } = require("node:events");',
    'const { x, y: z } = require("node:util");',
  ].join(' '));
  assert.deepEqual(lines.slice(3, 11), new Array<string>(8).fill(''), 'the import lines are left empty');
  assert.equal(lines[11], 'import { helper } from "./chunk-ABC.js";', 'a chunk import stays an import');
  assert.equal(lines[12], 'const s = "import q from \\"node:os\\";";', 'text inside a line is not touched');
  assert.equal(lines[13], 'use(a, c, net, path, events, once, x, z, helper);');
});

test('a chunk without built-in imports is unchanged; a missing banner or an unknown form fails', () => {
  const plain = chunk('import { helper } from "./chunk-ABC.js";', 'helper();');
  assert.equal(requireBuiltins(plain), plain);
  assert.throws(() => requireBuiltins('import fs from "node:fs";\nfs.x();'), /banner not found/);
  assert.throws(() => requireBuiltins(chunk('import "node:fs";')), /not rewritten/);
});

test('the built bundle (dist/app) has no built-in ESM import and every chunk has the banner', (t) => {
  const dir = join(ROOT, 'dist', 'app');
  if (!existsSync(join(dir, 'cli.js'))) {
    t.skip('dist/app not built (npm ci builds it)');
    return;
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
  assert.ok(files.includes('worker.js'), 'the worker thread entry is beside the chunks');
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    assert.doesNotMatch(text, /^import\b[^;]*"node:/m, f);
    assert.ok(text.includes(BANNER.split('\n')[1] ?? '?'), `${f}: banner`);
  }
});

test('the container build stage gets every local module scripts/bundle.mjs imports', () => {
  const script = readFileSync(join(ROOT, 'scripts', 'bundle.mjs'), 'utf8');
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  const local = [...script.matchAll(/from '\.\/([\w.-]+)'/g)].map((m) => `scripts/${m[1] ?? ''}`);
  assert.ok(local.length > 0, 'bundle.mjs imports a local module');
  for (const file of ['scripts/bundle.mjs', ...local]) {
    assert.ok(ignore.includes(`!${file}`), `.dockerignore lets ${file} through`);
    assert.match(dockerfile, new RegExp(`^COPY [^\\n]*\\b${file.replace(/[.]/g, '\\.')}\\b`, 'm'), `the Dockerfile copies ${file}`);
  }
});
