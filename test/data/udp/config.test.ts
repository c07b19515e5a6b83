/** UDP config: the tsbetween-only `udp.max_sessions`, and what is refused for udp servers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeConfig, decodeServer } from '../../../src/config/decode.js';
import { dumpConfig, serverToJson } from '../../../src/config/dump.js';
import { prepareServer } from '../../../src/config/prepare.js';
import { ConfigError } from '../../../src/core/errors.js';

const DEFAULTS = { max_connections: null, client_idle_timeout: null, backend_idle_timeout: null, backend_connection_timeout: null };

function prep(body: Record<string, unknown>): ReturnType<typeof prepareServer>['server'] {
  const input = decodeServer({ bind: '127.0.0.1:5353', protocol: 'udp', discovery: { kind: 'static', static_list: ['127.0.0.1:53'] }, ...body }, 'servers.u').server;
  return prepareServer('u', input, DEFAULTS).server;
}

function refused(body: Record<string, unknown>, path: string, message: RegExp): void {
  assert.throws(() => prep(body), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.path, path);
    assert.match(err.message, message);
    return true;
  });
}

test('udp.max_sessions: absent unless given; echoed and dumped only when set; re-loads', () => {
  const plain = prep({ udp: { max_responses: 1 } });
  assert.deepEqual(plain.udp, { max_requests: 0, max_responses: 1, transparent: false });
  assert.deepEqual(serverToJson(plain)['udp'], { max_requests: 0, max_responses: 1, transparent: false });
  const capped = prep({ udp: { max_responses: 1, max_sessions: 5000 } });
  assert.equal(capped.udp?.max_sessions, 5000);
  assert.deepEqual(serverToJson(capped)['udp'], { max_requests: 0, max_responses: 1, transparent: false, max_sessions: 5000 });
  for (const format of ['toml', 'json'] as const) {
    const root = decodeConfig('', 'toml').config;
    const again = decodeConfig(dumpConfig(root, { u: capped }, format), format);
    assert.deepEqual(again.warnings, []);
    assert.equal(again.config.servers?.['u']?.udp?.max_sessions, 5000, format);
  }
  // explicit null is "not given"
  assert.equal(prep({ udp: { max_responses: 1, max_sessions: null } }).udp?.max_sessions, undefined);
});

test('udp.max_sessions out of range is a config error naming the key', () => {
  refused({ udp: { max_responses: 1, max_sessions: 0 } }, 'servers.u.udp.max_sessions', /between 1 and 1000000/);
  refused({ udp: { max_responses: 1, max_sessions: 2_000_000 } }, 'servers.u.udp.max_sessions', /between 1 and 1000000/);
  assert.throws(() => prep({ udp: { max_responses: 1, max_sessions: -1 } }), (err: unknown) => {
    assert.equal((err as { path?: string }).path, 'servers.u.udp.max_sessions');
    return true;
  });
});

test('udp.transparent = true is refused naming the key (Node has no raw sockets)', () => {
  refused({ udp: { max_responses: 1, transparent: true } }, 'servers.u.udp.transparent', /udp\.transparent = true is not supported: Node\.js has no raw sockets/);
  // GoBetween's own udp checks come first, with its texts.
  refused({ udp: { transparent: true } }, 'servers.u.udp', /udp protocol requires to specify at least one of/);
  refused({ udp: { max_responses: 1 }, healthcheck: { kind: 'ping', interval: '1s' } }, 'servers.u.healthcheck.kind', /Cant use ping healthcheck with udp server/);
  refused({ udp: { max_responses: 1 }, backends_tls: {} }, 'servers.u.backends_tls', /backends_tls should not be enabled for udp protocol/);
  refused({ udp: { max_responses: 1 }, proxy_protocol: { version: '1' } }, 'servers.u.proxy_protocol', /proxy_protocol may be used only with 'tcp' protocol, not with udp/);
  // A tcp server ignores its udp section, as GoBetween does.
  const input = decodeServer({ bind: ':1', udp: { transparent: true }, discovery: { kind: 'static', static_list: ['a:1'] } }).server;
  assert.equal(prepareServer('t', input, DEFAULTS).server.protocol, 'tcp');
});

test('an explicit "0" idle timeout satisfies the udp requirement (Q-11), [defaults] do not', () => {
  assert.equal(prep({ client_idle_timeout: '0' }).protocol, 'udp');
  const input = decodeServer({ bind: ':1', protocol: 'udp', discovery: { kind: 'static', static_list: ['a:1'] } }).server;
  assert.throws(() => prepareServer('u', input, { ...DEFAULTS, client_idle_timeout: '1m' }), /udp protocol requires/);
});
