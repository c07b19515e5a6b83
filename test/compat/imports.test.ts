/**
 * DESIGN rule 10 and the layer rules: no import cycles in src/, and each folder imports only the
 * layers it may see.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/cli.js';

const SRC = join(ROOT, 'src');

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g;

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of walk(SRC)) {
    const text = readFileSync(file, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? '';
      deps.push(relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    }
    g.set(relative(SRC, file), deps);
  }
  return g;
}

function layer(file: string): string {
  return file.includes('/') ? file.slice(0, file.indexOf('/')) : file;
}

/** Which layers each layer may import (besides itself). Files under src/ root may import anything. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  core: [],
  balance: ['core'],
  discovery: ['core', 'config'],
  healthcheck: ['core', 'config'],
  data: ['core', 'balance', 'config'],
  // The config edge asks the registries for each kind's key schema and validation (DESIGN rule 1);
  // the kinds see only config's wire types and Go-syntax helpers, so there is no file cycle.
  config: ['core', 'discovery', 'healthcheck', 'balance'],
  control: ['core', 'config', 'balance', 'discovery', 'healthcheck', 'data'],
  metrics: ['core', 'control', 'config'],
  api: ['core', 'control', 'config', 'metrics'],
  acme: ['core', 'data'],
};

test('no import cycles in src/', () => {
  const g = graph();
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]): void => {
    const s = state.get(f);
    if (s === 'done') return;
    if (s === 'visiting') {
      cycles.push([...stack.slice(stack.indexOf(f)), f].join(' -> '));
      return;
    }
    state.set(f, 'visiting');
    for (const d of g.get(f) ?? []) visit(d, [...stack, f]);
    state.set(f, 'done');
  };
  for (const f of g.keys()) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('layers import only what they may see', () => {
  const bad: string[] = [];
  for (const [file, deps] of graph()) {
    const from = layer(file);
    const allowed = ALLOWED[from];
    if (allowed === undefined) continue; // src/*.ts: composition root and CLI
    for (const d of deps) {
      const to = layer(d);
      if (to !== from && !allowed.includes(to)) bad.push(`${file} imports ${d}`);
    }
  }
  assert.deepEqual(bad, []);
});
