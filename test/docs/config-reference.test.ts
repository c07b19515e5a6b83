/**
 * docs/configuration.md is generated from the config schema (scripts/config-reference.ts): it
 * must be the generator's current output, name every key the decoder reads, and state each key's
 * type as the decoder reports it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PAGE, generateConfigReference, probeType, schemaKeys } from '../../scripts/config-reference.js';

test('docs/configuration.md is up to date (else: npm run docs:config)', () => {
  assert.equal(readFileSync(PAGE, 'utf8'), generateConfigReference(), 'docs/configuration.md is stale: run `npm run docs:config`');
});

test('the reference covers the schema: well-known keys of every section, types from the decoder', () => {
  const keys = schemaKeys();
  const has = (section: string, key: string, group?: string): boolean =>
    keys.some((k) => k.section === section && k.key === key && k.group === group);
  assert.ok(has('api', 'bind'));
  assert.ok(has('api.basic_auth', 'password'));
  assert.ok(has('servers.NAME', 'client_idle_timeout'));
  assert.ok(has('servers.NAME.udp', 'max_responses'));
  assert.ok(has('servers.NAME.discovery', 'srv_lookup_pattern', 'srv'));
  assert.ok(has('servers.NAME.healthcheck', 'probe_send', 'probe'));
  assert.equal(new Set(keys.map((k) => `${k.section}.${k.key}@${k.group ?? ''}`)).size, keys.length, 'no key twice');
  assert.ok(keys.length > 100, `${keys.length} keys`);
  assert.equal(probeType({ section: 'servers.NAME', key: 'max_connections' }), 'integer');
  assert.equal(probeType({ section: 'servers.NAME.discovery', key: 'static_list', group: 'static' }), 'array of strings');
  assert.equal(probeType({ section: 'servers.NAME.healthcheck', key: 'exec_command', group: 'exec' }), 'string');
  assert.equal(probeType({ section: 'servers.NAME', key: 'backend_idle_timeout' }), 'duration');
  assert.equal(probeType({ section: 'metrics', key: 'enabled' }), 'boolean');
});
