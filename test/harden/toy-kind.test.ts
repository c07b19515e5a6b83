/** TEMPORARY: proves a discovery kind added under src/discovery/ only is fully wired. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeConfig } from '../../src/config/decode.js';
import { prepareServer } from '../../src/config/prepare.js';
import { configReference } from '../../src/config/reference.js';
import { serverToJson } from '../../src/config/dump.js';
import { ConfigError } from '../../src/core/errors.js';
import { startAppFromJson } from '../helpers/app.js';
import { req } from '../api/http.js';
import { waitFor } from '../helpers/wait.js';
import { echoBackend, request } from '../helpers/cli.js';

const DEFAULTS = { max_connections: null, client_idle_timeout: null, backend_idle_timeout: null, backend_connection_timeout: null };

test('toy kind: decoded, validated with its messages, echoed, documented, served', async () => {
  const { config, warnings } = decodeConfig('[servers.t]\nbind = "127.0.0.1:0"\n[servers.t.discovery]\nkind = "toy"\nTOY_BACKEND = "127.0.0.1:1"\n', 'toml');
  assert.deepEqual(warnings, []);
  const input = config.servers?.['t'];
  assert.ok(input !== undefined);
  const { server } = prepareServer('t', input, DEFAULTS);
  assert.deepEqual(serverToJson(server)['discovery'], { kind: 'toy', failpolicy: 'keeplast', interval: '0', timeout: '0', toy_backend: '127.0.0.1:1', toy_weight: 1 });
  const bad = decodeConfig('[servers.t]\nbind = ":1"\n[servers.t.discovery]\nkind = "toy"\ntoy_weight = 2\n', 'toml').config.servers?.['t'];
  assert.ok(bad !== undefined);
  assert.throws(() => prepareServer('t', bad, DEFAULTS), (e: unknown) => e instanceof ConfigError && e.describe() === 'servers.t.discovery.toy_backend: toy_backend is required for toy discovery');
  const unknown = decodeConfig('[servers.t]\nbind = ":1"\n[servers.t.discovery]\nkind = "nope"\n', 'toml').config.servers?.['t'];
  assert.ok(unknown !== undefined);
  assert.throws(() => prepareServer('t', unknown, DEFAULTS), /valid kinds: .*toy/);
  assert.ok(configReference().some((k) => k.kind === 'toy' && k.key === 'toy_backend'));

  const backend = await echoBackend('toy');
  const app = await startAppFromJson(JSON.stringify({ api: { enabled: true, bind: '127.0.0.1:0' } }), 'toy');
  try {
    const port = app.apiAddress?.port ?? 0;
    const r = await req(port, '/servers/t', { method: 'POST', body: JSON.stringify({ bind: '127.0.0.1:0', discovery: { kind: 'toy', toy_backend: `127.0.0.1:${backend.port}` } }) });
    assert.equal(r.status, 200, r.body);
    const s = app.manager.get('t');
    assert.ok(s !== undefined);
    await waitFor(() => (app.manager.stats('t')?.backends.length ?? 0) === 1);
    const bound = (s as unknown as { listener: { address(): { port: number } } }).listener.address().port;
    assert.equal(await request(bound, 'hi'), 'toy:hi');
  } finally {
    await app.close(0);
    await backend.close();
  }
});
