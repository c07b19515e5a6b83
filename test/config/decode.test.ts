import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DecodeError } from '../../src/core/errors.js';
import { decodeConfig, decodeServer } from '../../src/config/decode.js';
import { prepareServer, validateRoot } from '../../src/config/prepare.js';
import type { ServerInput } from '../../src/config/types.js';
import { NO_DEFAULTS, fixture, janitorServer } from './helpers.js';

function expectDecodeError(fn: () => unknown, path: string, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DecodeError, `expected DecodeError, got ${String(err)}`);
    assert.equal(err.path, path);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

function server(toml: string, name = 'web'): ServerInput {
  const s = decodeConfig(toml, 'toml').config.servers?.[name];
  assert.ok(s !== undefined, `server ${name} decoded`);
  return s;
}

// ---- fixtures ------------------------------------------------------------------------------

test('fixture gobetween-sample.toml: decodes without warnings; both servers prepare', () => {
  const { config, warnings } = decodeConfig(fixture('gobetween-sample.toml'), 'toml');
  assert.deepEqual(warnings, []);
  validateRoot(config);
  assert.deepEqual(config.logging, { level: 'info', output: 'stdout', format: 'text' });
  assert.deepEqual(config.api, { enabled: true, bind: ':8888', basic_auth: null, tls: null, cors: false });
  assert.deepEqual(config.metrics, { enabled: false, bind: ':9284' });
  assert.deepEqual(config.profiler, { enabled: false, bind: ':6060' });
  assert.deepEqual(config.defaults, { max_connections: 0, client_idle_timeout: '0', backend_idle_timeout: '0', backend_connection_timeout: '0' });
  assert.equal(config.acme, null);
  assert.deepEqual(Object.keys(config.servers ?? {}).sort(), ['sample', 'udpsample']);

  const sample = config.servers?.['sample'];
  assert.ok(sample !== undefined);
  const s = prepareServer('sample', sample, config.defaults).server;
  assert.equal(s.bind, '0.0.0.0:3000');
  assert.equal(s.protocol, 'tcp');
  assert.deepEqual(s.discovery.static?.static_list, [
    'localhost:8000 weight=40 priority=1',
    'localhost:8001 weight=60 priority=1',
    'localhost:8002 weight=100 priority=0 max_connections=10',
  ]);

  const udp = config.servers?.['udpsample'];
  assert.ok(udp !== undefined);
  const u = prepareServer('udpsample', udp, config.defaults).server;
  assert.equal(u.protocol, 'udp');
  assert.deepEqual(u.udp, { max_requests: 0, max_responses: 1, transparent: false });
  assert.equal(u.healthcheck.kind, 'none');
});

test('fixture gobetween-sample.json: decodes; the sample server prepares', () => {
  const { config, warnings } = decodeConfig(fixture('gobetween-sample.json'), 'json');
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.api, { enabled: true, bind: '0.0.0.0:8888', basic_auth: null, tls: null, cors: false });
  assert.deepEqual(config.metrics, { enabled: true, bind: ':9284' });
  assert.deepEqual(config.logging, { level: '', output: '', format: '' });
  assert.deepEqual(config.defaults, { max_connections: null, client_idle_timeout: null, backend_idle_timeout: null, backend_connection_timeout: null });
  assert.equal(config.profiler, null);
  const sample = config.servers?.['sample'];
  assert.ok(sample !== undefined);
  const s = prepareServer('sample', sample, config.defaults).server;
  assert.deepEqual(s.healthcheck, { kind: 'ping', interval: '2s', passes: 1, fails: 1, timeout: '1s', initial_status: null });
  assert.deepEqual(s.discovery.static, { static_list: ['localhost:8000 weight=1'] });
});

test('fixture opensvc-gateway-config.json: API only, no servers', () => {
  const { config, warnings } = decodeConfig(fixture('opensvc-gateway-config.json'), 'json');
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.api, { enabled: true, bind: ':8888', basic_auth: null, tls: null, cors: false });
  assert.deepEqual(config.metrics, { enabled: false, bind: '' });
  assert.equal(config.servers, null);
  assert.equal(config.acme, null);
  assert.equal(validateRoot(config), config);
});

test('fixture opensvc-janitor-post.json prepares into the object the janitor compares against', () => {
  const body = JSON.parse(fixture('opensvc-janitor-post.json')) as Record<string, unknown>;
  const { server: input, warnings } = decodeServer(body, 'servers._80_svcweb');
  assert.deepEqual(warnings, []);
  const { server: s, warnings: w2 } = prepareServer('_80_svcweb', input, NO_DEFAULTS);
  assert.deepEqual(w2, []);
  assert.deepEqual(s, janitorServer());
  // The janitor's rule (opensvc.md §1.5): every top-level key it sent is echoed with an equal
  // value; discovery/healthcheck compared as whole dicts (groups flattened, a null initial_status
  // omitted by the echo).
  const { srv, ...discoveryCommon } = s.discovery;
  const { initial_status, ...hcRest } = s.healthcheck;
  assert.equal(initial_status, null);
  const echoed: Record<string, unknown> = { ...s, discovery: { ...discoveryCommon, ...srv }, healthcheck: hcRest };
  for (const [key, value] of Object.entries(body)) assert.deepEqual(echoed[key], value, `key ${key}`);
});

// ---- decoding rules ------------------------------------------------------------------------

test('empty documents are valid configs', () => {
  for (const [text, format] of [['', 'toml'], ['  \n', 'json'], ['{}', 'json'], ['null', 'json'], ['# only a comment\n', 'toml']] as const) {
    const { config, warnings } = decodeConfig(text, format);
    assert.deepEqual(warnings, []);
    assert.equal(config.servers, null);
    assert.deepEqual(config.api, { enabled: false, bind: '', basic_auth: null, tls: null, cors: false });
    assert.deepEqual(config.logging, { level: '', output: '', format: '' });
    assert.equal(config.acme, null);
    assert.equal(config.profiler, null);
  }
  assert.deepEqual(decodeConfig('[servers]\n', 'toml').config.servers, {});
});

test('unknown format', () => {
  expectDecodeError(() => decodeConfig('{}', 'yaml'), '', 'Unknown format yaml');
});

test('syntax errors carry line information', () => {
  expectDecodeError(() => decodeConfig('[api]\nenabled = true\nbind = \n', 'toml'), '', /^invalid TOML at line 3, column \d+: /);
  expectDecodeError(() => decodeConfig('{\n  "api": {,}\n}', 'json'), '', /^invalid JSON: .*line 2/);
});

test('keys match case-insensitively', () => {
  const s = server('[servers.web]\nBind = ":1"\nPROTOCOL = "tcp"\n[servers.web.Discovery]\nKIND = "static"\nStatic_List = ["h:1"]\n');
  assert.equal(s.bind, ':1');
  assert.equal(s.protocol, 'tcp');
  assert.equal(s.discovery?.kind, 'static');
  assert.deepEqual(s.discovery?.static, { static_list: ['h:1'] });
  const { config } = decodeConfig('{"API": {"Enabled": true, "BIND": ":9"}}', 'json');
  assert.equal(config.api.enabled, true);
  assert.equal(config.api.bind, ':9');
});

test('unknown keys are ignored and reported with their full path', () => {
  const { config, warnings } = decodeConfig(
    [
      'foo = 1',
      '[api]',
      'enabled = true',
      'swagger = true',
      '[servers.sample]',
      'bind = ":1"',
      'sni_enabled = true',
      '[servers.sample.tls]',
      'cert_path = "/c"',
      'key_path = "/k"',
      'prefer_server_ciphers = true',
      '[servers.sample.discovery]',
      'kind = "static"',
      'static_list = []',
      'docker_cache_ttl = "5s"',
      '[servers.sample.healthcheck]',
      'kind = "ping"',
      'interval = "1s"',
      'ping_timeout_duration = "1s"',
    ].join('\n'),
    'toml',
  );
  assert.deepEqual(warnings.slice().sort(), [
    'unknown key api.swagger',
    'unknown key foo',
    'unknown key servers.sample.discovery.docker_cache_ttl',
    'unknown key servers.sample.healthcheck.ping_timeout_duration',
    'unknown key servers.sample.sni_enabled',
    'unknown key servers.sample.tls.prefer_server_ciphers',
  ]);
  assert.equal(config.api.enabled, true);
  const s = config.servers?.['sample'];
  assert.ok(s !== undefined);
  prepareServer('sample', s, config.defaults);
});

const TYPE_ERRORS: Array<{ name: string; text: string; format: 'toml' | 'json'; path: string; message: string }> = [
  {
    name: 'string into int (toml)',
    text: '[servers.web]\nmax_connections = "10"\n',
    format: 'toml',
    path: 'servers.web.max_connections',
    message: 'expected an integer, got string',
  },
  {
    name: 'string into int (json)',
    text: '{"servers": {"web": {"max_connections": "10"}}}',
    format: 'json',
    path: 'servers.web.max_connections',
    message: 'expected an integer, got string',
  },
  { name: 'float into int (toml)', text: '[servers.web]\nmax_connections = 1.5\n', format: 'toml', path: 'servers.web.max_connections', message: 'expected an integer, got float' },
  { name: 'float into int (toml 1.0)', text: '[servers.web]\nmax_connections = 1.0\n', format: 'toml', path: 'servers.web.max_connections', message: 'expected an integer, got float' },
  { name: 'float into int (json)', text: '{"servers": {"web": {"max_connections": 1.5}}}', format: 'json', path: 'servers.web.max_connections', message: 'expected an integer, got float' },
  {
    name: 'number as duration',
    text: '[servers.web]\nclient_idle_timeout = 5\n',
    format: 'toml',
    path: 'servers.web.client_idle_timeout',
    message: 'expected a duration string, got integer',
  },
  {
    name: 'number as healthcheck interval',
    text: '{"servers": {"web": {"healthcheck": {"interval": 2}}}}',
    format: 'json',
    path: 'servers.web.healthcheck.interval',
    message: 'expected a duration string, got integer',
  },
  { name: 'string into bool', text: '[api]\nenabled = "yes"\n', format: 'toml', path: 'api.enabled', message: 'expected a boolean, got string' },
  {
    name: 'array element',
    text: '[servers.web.discovery]\nkind = "static"\nstatic_list = ["a:1", 2]\n',
    format: 'toml',
    path: 'servers.web.discovery.static_list[1]',
    message: 'expected a string, got integer',
  },
  { name: 'string as table', text: '{"servers": {"web": {"discovery": "static"}}}', format: 'json', path: 'servers.web.discovery', message: 'expected an object, got string' },
  { name: 'scalar as server', text: 'servers = { web = 5 }\n', format: 'toml', path: 'servers.web', message: 'expected a table, got integer' },
  {
    name: 'negative uint (toml)',
    text: '[servers.web.udp]\nmax_requests = -1\n',
    format: 'toml',
    path: 'servers.web.udp.max_requests',
    message: 'expected a non-negative integer, got -1',
  },
  {
    name: 'negative uint (json)',
    text: '{"servers": {"web": {"udp": {"max_responses": -2}}}}',
    format: 'json',
    path: 'servers.web.udp.max_responses',
    message: 'expected a non-negative integer, got -2',
  },
  { name: 'datetime as string', text: '[servers.web]\nbind = 2020-01-01\n', format: 'toml', path: 'servers.web.bind', message: 'expected a string, got datetime' },
  { name: 'int as proxy version', text: '[servers.web.proxy_protocol]\nversion = 1\n', format: 'toml', path: 'servers.web.proxy_protocol.version', message: 'expected a string, got integer' },
  { name: 'root array', text: '[]', format: 'json', path: '', message: 'expected an object, got array' },
];

for (const c of TYPE_ERRORS) {
  test(`type error: ${c.name}`, () => {
    expectDecodeError(() => decodeConfig(c.text, c.format), c.path, c.message);
  });
}

test('int64 range: the largest int64 decodes, beyond it is an error', () => {
  assert.equal(server('[servers.web]\nmax_connections = 9223372036854775807\n').max_connections, Number(2n ** 63n - 1n));
  expectDecodeError(
    () => decodeConfig('{"servers": {"web": {"max_connections": 1e20}}}', 'json'),
    'servers.web.max_connections',
    /out of range/,
  );
});

test('absent sections: value sections zero, pointer sections null, connection options null', () => {
  const s = server('[servers.web]\nbind = ":1"\n');
  assert.deepEqual(s, {
    max_connections: null,
    client_idle_timeout: null,
    backend_idle_timeout: null,
    backend_connection_timeout: null,
    bind: ':1',
    protocol: '',
    balance: '',
    sni: null,
    tls: null,
    backends_tls: null,
    udp: null,
    access: null,
    proxy_protocol: null,
    discovery: null,
    healthcheck: null,
    accept_proxy_protocol: null,
  });
});

test('key groups exist only when one of their keys is given, and are zero-filled', () => {
  const s = server(
    '[servers.web.discovery]\nkind = "srv"\nsrv_lookup_pattern = "web."\n[servers.web.healthcheck]\nkind = "exec"\nexec_expected_positive_output = "1"\n',
  );
  assert.deepEqual(s.discovery, {
    kind: 'srv',
    failpolicy: '',
    interval: '',
    timeout: '',
    srv: { srv_lookup_server: '', srv_lookup_pattern: 'web.', srv_dns_protocol: '' },
  });
  assert.deepEqual(s.healthcheck, {
    kind: 'exec',
    interval: '',
    passes: 0,
    fails: 0,
    timeout: '',
    initial_status: null,
    exec: { exec_command: '', exec_expected_positive_output: '1', exec_expected_negative_output: '' },
  });
  // exec_command is a list in discovery, a string in the health check
  const e = server('[servers.web.discovery]\nkind = "exec"\nexec_command = ["/bin/x", "a"]\n[servers.web.healthcheck]\nexec_command = "/bin/y"\n');
  assert.deepEqual(e.discovery?.exec, { exec_command: ['/bin/x', 'a'] });
  assert.equal(e.healthcheck?.exec?.exec_command, '/bin/y');
  expectDecodeError(
    () => decodeConfig('[servers.web.healthcheck]\nexec_command = ["/bin/y"]\n', 'toml'),
    'servers.web.healthcheck.exec_command',
    'expected a string, got array',
  );
});

test('JSON null means absent', () => {
  const { server: s } = decodeServer({
    bind: ':1',
    protocol: null,
    max_connections: null,
    sni: null,
    tls: { acme_hosts: null, cert_path: '/c', key_path: '/k', ciphers: null },
    backends_tls: { root_ca_cert_path: null, cert_path: null },
    discovery: { kind: 'static', static_list: null },
    healthcheck: null,
  });
  assert.equal(s.protocol, '');
  assert.equal(s.max_connections, null);
  assert.equal(s.sni, null);
  assert.deepEqual(s.tls, { acme_hosts: null, cert_path: '/c', key_path: '/k', ciphers: null, min_version: '', max_version: '', session_tickets: false });
  assert.deepEqual(s.backends_tls, {
    ignore_verify: false,
    root_ca_cert_path: null,
    cert_path: null,
    key_path: null,
    ciphers: null,
    min_version: '',
    max_version: '',
    session_tickets: false,
  });
  assert.deepEqual(s.discovery?.static, { static_list: [] });
  assert.equal(s.healthcheck, null);
});

test('decodeServer: null is an empty server, non-objects are decode errors', () => {
  const { server: s, warnings } = decodeServer(null, 'servers.x');
  assert.deepEqual(warnings, []);
  assert.equal(s.bind, '');
  assert.throws(
    () => prepareServer('x', s, NO_DEFAULTS),
    (err: unknown) => err instanceof ConfigError && err.message === 'No bind specified for server x',
  );
  expectDecodeError(() => decodeServer('bind', 'servers.x'), 'servers.x', 'expected an object, got string');
  expectDecodeError(() => decodeServer([], 'servers.x'), 'servers.x', 'expected an object, got array');
  expectDecodeError(() => decodeServer({ bind: 80 }), 'bind', 'expected a string, got integer');
  const w = decodeServer({ bind: ':1', Nope: 1 }, 'servers.x').warnings;
  assert.deepEqual(w, ['unknown key servers.x.Nope']);
});

test('server names are map keys: any string, including __proto__', () => {
  const { config } = decodeConfig('{"servers": {"__proto__": {"bind": ":1"}, "a.b": {"bind": ":2"}}}', 'json');
  const servers = config.servers ?? {};
  assert.deepEqual(Object.keys(servers), ['__proto__', 'a.b']);
  assert.equal(Object.getPrototypeOf(servers), Object.prototype);
  assert.equal(servers['a.b']?.bind, ':2');
  assert.equal(Object.getOwnPropertyDescriptor(servers, '__proto__')?.value.bind, ':1');
});

test('the last of two spellings of a key wins', () => {
  assert.equal(decodeServer({ bind: ':1', BIND: ':2' }).server.bind, ':2');
});

test('Q-31: consul_service_datacenter is read as consul_datacenter, with a warning', () => {
  const { server: s, warnings } = decodeServer(
    { bind: ':1', discovery: { kind: 'consul', consul_host: 'localhost:8500', consul_service_datacenter: 'dc2' } },
    'servers.c',
  );
  assert.equal(s.discovery?.consul?.consul_datacenter, 'dc2');
  assert.deepEqual(warnings, ['servers.c.discovery.consul_service_datacenter: read as consul_datacenter (GoBetween ignores this documented alias)']);
  assert.equal(Object.hasOwn(s.discovery?.consul ?? {}, 'consul_service_datacenter'), false);
});
