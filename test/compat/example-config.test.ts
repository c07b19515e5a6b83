/** config.example.toml (what `npm start` runs) decodes without warnings and every server validates. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createBalancerRegistry } from '../../src/balance/index.js';
import { decodeConfig } from '../../src/config/decode.js';
import { validateRoot } from '../../src/config/prepare.js';
import { seededRandom } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';
import { ServerManager } from '../../src/control/server-manager.js';
import { createDiscoveryRegistry } from '../../src/discovery/index.js';
import { createHealthcheckRegistry } from '../../src/healthcheck/index.js';
import { ROOT } from '../helpers/cli.js';

test('config.example.toml decodes cleanly and every server passes validation', async () => {
  const { config, warnings } = decodeConfig(readFileSync(join(ROOT, 'config.example.toml'), 'utf8'), 'toml');
  assert.deepEqual(warnings, []);
  const root = validateRoot(config);
  assert.equal(root.api.enabled, true);
  assert.equal(root.metrics.enabled, true);
  const manager = new ServerManager({
    log: silentLogger,
    defaults: root.defaults,
    balancers: createBalancerRegistry(),
    discoveries: createDiscoveryRegistry(),
    healthchecks: createHealthcheckRegistry(),
    random: seededRandom(1),
  });
  try {
    const names = Object.keys(root.servers ?? {});
    assert.ok(names.length > 0);
    for (const name of names) {
      const input = root.servers?.[name];
      assert.ok(input !== undefined);
      manager.check(name, input);
    }
  } finally {
    await manager.shutdown(0);
  }
});
