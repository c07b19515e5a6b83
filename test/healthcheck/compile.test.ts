import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { compileHealthcheck, createHealthcheckRegistry, initialLive } from '../../src/healthcheck/index.js';
import { hcWire } from './helpers.js';

const registry = createHealthcheckRegistry();
const P = 'servers.web.healthcheck';

test('registry lists ping, probe, exec and (tsbetween-only) http', () => {
  assert.deepEqual(registry.names(), ['exec', 'http', 'ping', 'probe']);
});

test('kind none compiles to no checks; initialLive', () => {
  assert.deepEqual(compileHealthcheck(hcWire({ kind: 'none', interval: '0', timeout: '0' }), P, registry, 'udp'), { enabled: false, kind: 'none' });
  assert.equal(initialLive(hcWire({ kind: 'none', initial_status: 'unhealthy' })), true, 'ignored when kind is none');
  assert.equal(initialLive(hcWire({ initial_status: 'unhealthy' })), false);
  assert.equal(initialLive(hcWire({ initial_status: 'healthy' })), true);
  assert.equal(initialLive(hcWire({ initial_status: null })), true);
});

test('durations, thresholds and the timeout-0 default (D25)', () => {
  const c = compileHealthcheck(hcWire({ interval: '2s', timeout: '500ms', passes: 3, fails: 0 }), P, registry, 'tcp');
  assert.ok(c.enabled);
  assert.equal(c.intervalMs, 2000);
  assert.equal(c.timeoutMs, 500);
  assert.equal(c.passes, 3);
  assert.equal(c.fails, 1);
  const z = compileHealthcheck(hcWire({ interval: '1m', timeout: '0' }), P, registry, 'tcp');
  assert.ok(z.enabled);
  assert.equal(z.timeoutMs, 60_000, 'timeout 0 means the interval');
});

test('GoBetween messages with key paths', () => {
  const cases: Array<[Parameters<typeof hcWire>[0], string, string, string]> = [
    [{ kind: 'https' }, 'tcp', 'kind', 'Not supported healthcheck type https'],
    [{ interval: '0' }, 'tcp', 'interval', 'Healthcheck interval should be greater than 0s'],
    [{ interval: 'soon' }, 'tcp', 'interval', 'Could not parse healtcheck interval: time: invalid duration "soon"'],
    [{ timeout: 'x' }, 'tcp', 'timeout', 'timeout parsing error'],
    [{ initial_status: 'maybe' }, 'tcp', 'initial_status', 'Unsupported healthcheck initial_status'],
    [{ kind: 'ping' }, 'udp', 'kind', 'Cant use ping healthcheck with udp server'],
  ];
  for (const [over, protocol, key, message] of cases) {
    assert.throws(
      () => compileHealthcheck(hcWire(over), P, registry, protocol),
      (err: unknown) => err instanceof ConfigError && err.path === `${P}.${key}` && err.message === message,
      message,
    );
  }
});
