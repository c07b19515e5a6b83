/**
 * tsbetween-only config keys: `backend_connection_retries`, `passive_health_*` and
 * `[access_log]`. Absent: not in the decoded object, the echo or /dump (GoBetween's key set);
 * given: validated, echoed, and /dump re-loads them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeConfig } from '../../src/config/decode.js';
import { dumpConfig, serverToJson } from '../../src/config/dump.js';
import { prepareServer, validateRoot } from '../../src/config/prepare.js';
import type { ServerWire } from '../../src/config/types.js';
import { ConfigError } from '../../src/core/errors.js';

const head = (extra: string): string =>
  `[servers.web]\nbind = "127.0.0.1:3000"\n${extra}[servers.web.discovery]\nkind = "static"\nstatic_list = ["127.0.0.1:8000"]\n`;

function prepared(extra: string, root = ''): { server: ServerWire; dumpJson: string; dumpToml: string } {
  const { config } = decodeConfig(`${root}${head(extra)}`, 'toml');
  validateRoot(config);
  const input = config.servers?.['web'];
  assert.ok(input !== undefined && input !== null);
  const { server } = prepareServer('web', input, config.defaults);
  return { server, dumpJson: dumpConfig(config, { web: server }, 'json'), dumpToml: dumpConfig(config, { web: server }, 'toml') };
}

test('absent: no tsbetween-only key in the server, its echo or /dump', () => {
  const p = prepared('');
  for (const k of ['backend_connection_retries', 'passive_health_fails', 'passive_health_down_time']) {
    assert.equal(k in p.server, false, k);
    assert.equal(k in serverToJson(p.server), false, k);
    assert.doesNotMatch(p.dumpJson, new RegExp(k));
  }
  assert.doesNotMatch(p.dumpJson, /access_log/);
  assert.doesNotMatch(p.dumpToml, /access_log/);
});

test('given: validated, echoed, and /dump (json and toml) re-loads them', () => {
  const p = prepared(
    'backend_connection_retries = 2\npassive_health_fails = 3\npassive_health_down_time = "15s"\n',
    '[access_log]\nenabled = true\noutput = "/tmp/x.log"\nformat = "text"\n',
  );
  assert.equal(p.server.backend_connection_retries, 2);
  const echo = serverToJson(p.server);
  assert.deepEqual([echo['backend_connection_retries'], echo['passive_health_fails'], echo['passive_health_down_time']], [2, 3, '15s']);
  for (const [text, format] of [[p.dumpJson, 'json'], [p.dumpToml, 'toml']] as const) {
    const again = decodeConfig(text, format);
    assert.deepEqual(again.warnings, [], format);
    validateRoot(again.config);
    assert.deepEqual(again.config.access_log, { enabled: true, output: '/tmp/x.log', format: 'text', rate_limit: 1000 });
    assert.equal(again.config.servers?.['web']?.backend_connection_retries, 2);
  }
});

test('access_log defaults and bad values name the key', () => {
  const { config } = decodeConfig('[access_log]\nenabled = true\n', 'toml');
  assert.deepEqual(validateRoot(config).access_log, { enabled: true, output: 'stdout', format: 'json', rate_limit: 1000 });
  const bad = (text: string, path: string): void => {
    const c = decodeConfig(text, 'toml').config;
    assert.throws(() => validateRoot(c), (e: unknown) => e instanceof ConfigError && e.path === path, text);
  };
  bad('[access_log]\nformat = "xml"\n', 'access_log.format');
  bad('[access_log]\nrate_limit = -1\n', 'access_log.rate_limit');
});

test('bad server values name the key', () => {
  const bad = (extra: string, key: string): void => {
    assert.throws(() => prepared(extra), (e: unknown) => e instanceof ConfigError && e.path === `servers.web.${key}`, extra);
  };
  bad('backend_connection_retries = -1\n', 'backend_connection_retries');
  bad('backend_connection_retries = 100\n', 'backend_connection_retries');
  bad('passive_health_fails = -2\n', 'passive_health_fails');
  bad('passive_health_down_time = "soon"\n', 'passive_health_down_time');
});
