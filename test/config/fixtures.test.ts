/**
 * Our fixtures (test/fixtures/) stand for real inputs GoBetween users have. When the reference
 * originals are beside the repository (../shared/fixtures/), check that ours decode to the same
 * configuration, so the tests that use ours test what users feed. A plain clone has no
 * ../shared: these tests skip themselves with the reason.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeConfig, decodeServer } from '../../src/config/decode.js';
import type { ConfigWire } from '../../src/config/types.js';
import { fixture, sharedFixture } from './helpers.js';

const NO_SHARED = 'reference fixtures not present (../shared/fixtures beside the repository)';

/** Our sample's UDP server uses documentation addresses instead of public resolvers. */
function withoutUdpBackends(config: ConfigWire): ConfigWire {
  const copy = structuredClone(config);
  const list = copy.servers?.['udpsample']?.discovery?.static;
  if (list !== undefined) list.static_list = list.static_list.map((_, i) => `backend-${i}`);
  return copy;
}

for (const [name, format] of [
  ['gobetween-sample.toml', 'toml'],
  ['gobetween-sample.json', 'json'],
  ['opensvc-gateway-config.json', 'json'],
] as const) {
  test(`fixture ${name} decodes like the reference original`, (t) => {
    const original = sharedFixture(name);
    if (original === undefined) {
      t.skip(NO_SHARED);
      return;
    }
    const ours = decodeConfig(fixture(name), format);
    const theirs = decodeConfig(original, format);
    assert.deepEqual(ours.warnings, theirs.warnings);
    assert.deepEqual(withoutUdpBackends(ours.config), withoutUdpBackends(theirs.config));
  });
}

test('fixture opensvc-janitor-post.json is the reference body (same keys, order and values)', (t) => {
  const original = sharedFixture('opensvc-janitor-post.json');
  if (original === undefined) {
    t.skip(NO_SHARED);
    return;
  }
  const ours = JSON.parse(fixture('opensvc-janitor-post.json')) as Record<string, unknown>;
  const theirs = JSON.parse(original) as Record<string, unknown>;
  assert.deepEqual(ours, theirs);
  assert.deepEqual(Object.keys(ours), Object.keys(theirs));
  assert.deepEqual(decodeServer(ours, 'x'), decodeServer(theirs, 'x'));
});
