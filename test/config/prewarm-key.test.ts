/**
 * `backend_prewarm` (tsbetween-only): absent = not echoed and off; given = validated (one-line
 * errors naming `servers.NAME.backend_prewarm`), echoed, and in the plan; refused where it cannot
 * apply (udp; proxy_protocol together with backends_tls).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeConfig } from '../../src/config/decode.js';
import { serverToJson } from '../../src/config/dump.js';
import { prepareServer, validateRoot } from '../../src/config/prepare.js';
import type { ServerWire } from '../../src/config/types.js';
import { serverPlan } from '../../src/control/plan.js';
import { ConfigError, DecodeError } from '../../src/core/errors.js';

const head = (extra: string, sections = ''): string =>
  `[servers.web]\nbind = "127.0.0.1:3000"\n${extra}${sections}[servers.web.discovery]\nkind = "static"\nstatic_list = ["127.0.0.1:8000"]\n`;

function prepared(extra: string, sections = ''): ServerWire {
  const { config } = decodeConfig(head(extra, sections), 'toml');
  validateRoot(config);
  const input = config.servers?.['web'];
  assert.ok(input !== undefined && input !== null);
  return prepareServer('web', input, config.defaults).server;
}

test('absent: off, not echoed, not in the plan', () => {
  const s = prepared('');
  assert.equal('backend_prewarm' in s, false);
  assert.equal('backend_prewarm' in serverToJson(s), false);
  assert.equal(serverPlan('web', s).backendPrewarm, undefined);
});

test('given: echoed and in the plan; 0 is off', () => {
  const s = prepared('backend_prewarm = 4\n');
  assert.equal(serverToJson(s)['backend_prewarm'], 4);
  assert.equal(serverPlan('web', s).backendPrewarm, 4);
  assert.equal(serverPlan('web', prepared('backend_prewarm = 0\n')).backendPrewarm, undefined);
  // plain TCP with a PROXY header: allowed (the header is written when a client takes the socket)
  assert.equal(serverPlan('web', prepared('backend_prewarm = 1\n', '[servers.web.proxy_protocol]\nversion = "1"\n')).backendPrewarm, 1);
});

test('bad values and combinations name the key', () => {
  const bad = (extra: string, sections: string, re: RegExp): void => {
    assert.throws(() => prepared(extra, sections), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.path, 'servers.web.backend_prewarm');
      assert.match(e.message, re);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    }, extra + sections);
  };
  bad('backend_prewarm = -1\n', '', /between 0 and 1024/);
  bad('backend_prewarm = 5000\n', '', /between 0 and 1024/);
  bad('backend_prewarm = 2\nprotocol = "udp"\nclient_idle_timeout = "10s"\n', '', /only with 'tcp' or 'tls'/);
  bad('backend_prewarm = 2\n', '[servers.web.proxy_protocol]\nversion = "2"\n[servers.web.backends_tls]\nignore_verify = true\n', /proxy_protocol and backends_tls/);
  assert.throws(() => prepared('backend_prewarm = "many"\n'), (e: unknown) => e instanceof DecodeError && e.path === 'servers.web.backend_prewarm');
});
