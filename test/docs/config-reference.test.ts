/**
 * docs/configuration.md is generated from the config reference (scripts/config-reference.ts): it
 * must be the generator's current output and name every key of the reference (which a test in
 * test/harden/reference.test.ts holds equal to what the decoder reads).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configReference } from '../../src/config/reference.js';
import { PAGE, generateConfigReference } from '../../scripts/config-reference.js';

test('docs/configuration.md is up to date (else: npm run docs:config)', () => {
  assert.equal(readFileSync(PAGE, 'utf8'), generateConfigReference(), 'docs/configuration.md is stale: run `npm run docs:config`');
});

test('the page lists every key of the reference under its section, with its type', () => {
  const page = generateConfigReference();
  const keys = configReference();
  assert.ok(keys.length > 100, `${keys.length} keys`);
  for (const k of keys) {
    const heading = k.kind === undefined ? `## \`[${k.section}]\`` : `### \`[${k.section}]\` with \`kind = "${k.kind}"\``;
    const at = page.indexOf(heading);
    assert.ok(at >= 0, `no heading for ${k.section} ${k.kind ?? ''}`);
    const next = page.indexOf('\n#', at + heading.length);
    const body = page.slice(at, next < 0 ? undefined : next);
    assert.ok(body.includes(`| \`${k.key}\` |`), `${k.path} is listed`);
  }
  assert.match(page, /\| `srv_lookup_pattern` \| string \|/);
  assert.match(page, /\| `static_list` \| array of strings \|/);
  assert.match(page, /\| `backend_idle_timeout` \| duration \|/);
  assert.match(page, /\| `enabled` \| boolean \|/);
});
