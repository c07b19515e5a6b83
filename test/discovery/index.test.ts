import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, NotSupportedError } from '../../src/core/errors.js';
import { compileDiscovery, createDiscoveryRegistry } from '../../src/discovery/index.js';
import { discoveryWire, jsonGroup, srvGroup } from './helpers.js';

const P = 'servers.web.discovery';
const registry = createDiscoveryRegistry();

test('the registry lists every kind', () => {
  assert.deepEqual(registry.names(), ['consul', 'docker', 'exec', 'json', 'lxd', 'plaintext', 'srv', 'static']);
});

test('unknown or missing kind, bad failpolicy, bad durations are config errors naming the key', () => {
  assert.throws(() => compileDiscovery(discoveryWire('etcd'), P, registry),
    (e: unknown) => e instanceof NotSupportedError && e.path === `${P}.kind` && e.message === 'not supported yet: discovery kind etcd');
  assert.throws(() => compileDiscovery(discoveryWire(''), P, registry), (e: ConfigError) => e.path === `${P}.kind`);
  assert.throws(() => compileDiscovery(discoveryWire('static', { failpolicy: 'ignore', static: { static_list: [] } }), P, registry),
    (e: ConfigError) => e.path === `${P}.failpolicy` && e.message === 'Not supported failpolicy ignore');
  assert.throws(() => compileDiscovery(discoveryWire('static', { interval: '5 s', static: { static_list: [] } }), P, registry),
    (e: ConfigError) => e instanceof ConfigError && e.path === `${P}.interval`);
  assert.throws(() => compileDiscovery(discoveryWire('static', { timeout: '-1s', static: { static_list: [] } }), P, registry),
    (e: ConfigError) => e.path === `${P}.timeout`);
});

test('a kind with none of its keys is an error, not a crash (Q-5)', () => {
  const firstKey: Record<string, string> = {
    static: 'static_list', srv: 'srv_lookup_server', docker: 'docker_endpoint', json: 'json_endpoint', exec: 'exec_command',
    plaintext: 'plaintext_endpoint', consul: 'consul_host', lxd: 'lxd_server_address',
  };
  for (const kind of registry.names()) {
    assert.throws(() => compileDiscovery(discoveryWire(kind), P, registry),
      (e: unknown) => e instanceof ConfigError && e.path === `${P}.${firstKey[kind] ?? '?'}`, kind);
  }
});

test('intervals and timeouts: configured values in ms, "0" timeout -> the kind default, failpolicy default', () => {
  const srv = compileDiscovery(discoveryWire('srv', {
    failpolicy: '', interval: '1m30s', timeout: '0',
    srv: srvGroup({ srv_lookup_server: '10.0.0.53:53', srv_lookup_pattern: 'a.b.' }),
  }), P, registry);
  assert.equal(srv.intervalMs, 90_000);
  assert.equal(srv.timeoutMs, 3000);
  assert.equal(srv.failpolicy, 'keeplast');
  const json = compileDiscovery(discoveryWire('json', { timeout: '250ms', json: jsonGroup({ json_endpoint: 'http://x/' }) }), P, registry);
  assert.equal(json.timeoutMs, 250);
  assert.equal(compileDiscovery(discoveryWire('json', { json: jsonGroup({ json_endpoint: 'http://x/' }) }), P, registry).timeoutMs, 5000);
  assert.equal(compileDiscovery(discoveryWire('static', { static: { static_list: [] } }), P, registry).timeoutMs, 0);
});
