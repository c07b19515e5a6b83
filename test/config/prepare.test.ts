import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/errors.js';
import { emptyServerInput } from '../../src/config/decode.js';
import { prepareServer, validateRoot } from '../../src/config/prepare.js';
import { decodeConfig } from '../../src/config/decode.js';
import { MINIMAL, NO_DEFAULTS, patch, prep, sampleServer, type Json } from './helpers.js';

function expectError(fn: () => unknown, message: string | RegExp, path?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    if (path !== undefined) assert.equal(err.path, path);
    return true;
  });
}

const UDP_REQ =
  'udp protocol requires to specify at least one of (client|backend)_idle_timeout, udp.max_requests, udp.max_responses';

interface ErrorCase {
  name: string;
  body: Json;
  message: string | RegExp;
  path: string;
}

/** A case whose body is `{ bind: ':1', discovery }`, failing at `servers.x.discovery.<key>`. */
function discoveryCase(name: string, discovery: Json, message: string | RegExp, key: string): ErrorCase {
  return { name, body: { bind: ':1', discovery }, message, path: `servers.x.discovery.${key}` };
}

/** A case whose body is MINIMAL patched with `p`, failing at `servers.x.<key>`. */
function minimalCase(name: string, p: Json, message: string | RegExp, key: string): ErrorCase {
  return { name, body: patch(MINIMAL, p), message, path: `servers.x.${key}` };
}

/** A case whose body is MINIMAL with `healthcheck`, failing at `servers.x.healthcheck[.<key>]`. */
function healthcheckCase(name: string, healthcheck: Json, message: string | RegExp, key?: string): ErrorCase {
  return minimalCase(name, { healthcheck }, message, key === undefined ? 'healthcheck' : `healthcheck.${key}`);
}

/** One test per case: preparing its body fails with its message at its path. */
function errorTests(prefix: string, cases: ErrorCase[]): void {
  for (const c of cases) {
    test(`${prefix}${c.name}`, () => {
      expectError(() => prep(c.body), c.message, c.path);
    });
  }
}

// Every message of control-plane §2.11 (and §2.6.x / §2.7 / §2.8), produced by its input.
const MESSAGES: ErrorCase[] = [
  { name: 'empty body', body: {}, message: 'No bind specified for server x', path: 'servers.x.bind' },
  { name: 'no discovery', body: { bind: ':1' }, message: 'No .discovery specified for server x', path: 'servers.x.discovery' },
  healthcheckCase('hc kind', { kind: 'foo' }, 'Not supported healthcheck type foo', 'kind'),
  healthcheckCase('hc without kind', { interval: '1s' }, 'Not supported healthcheck type ', 'kind'),
  healthcheckCase('hc interval unparsable', { kind: 'ping', interval: '5' },
    'Could not parse healtcheck interval: time: missing unit in duration "5"', 'interval'),
  healthcheckCase('hc interval missing', { kind: 'ping' }, 'Healthcheck interval should be greater than 0s', 'interval'),
  healthcheckCase('hc interval negative', { kind: 'ping', interval: '-1s' }, 'Healthcheck interval should be greater than 0s', 'interval'),
  healthcheckCase('initial_status', { kind: 'none', initial_status: 'maybe' }, 'Unsupported healthcheck initial_status', 'initial_status'),
  healthcheckCase('probe protocol', { kind: 'probe', interval: '1s', probe_protocol: 'http', probe_send: 'a', probe_recv: 'b' },
    'Unsupported probe_protocol', 'probe_protocol'),
  healthcheckCase('probe recv missing', { kind: 'probe', interval: '1s', probe_protocol: 'tcp', probe_send: 'a' },
    'probe healthcheck should have both probe_send and probe_recv specified', 'probe_recv'),
  healthcheckCase('probe send bad escape', { kind: 'probe', interval: '1s', probe_protocol: 'udp', probe_send: 'a\\q', probe_recv: 'b' },
    'probe_send has invalid syntax invalid syntax', 'probe_send'),
  healthcheckCase('probe recv_len with starts_with', { kind: 'probe', interval: '1s', probe_protocol: 'tcp', probe_send: 'a', probe_recv: 'b', probe_recv_len: 3 },
    "probe_recv_len is redundant for 'starts_with' strategy", 'probe_recv_len'),
  healthcheckCase('probe recv bad escape', { kind: 'probe', interval: '1s', probe_protocol: 'tls', probe_send: 'a', probe_recv: '\\x4' },
    'probe_recv has invalid syntax invalid syntax', 'probe_recv'),
  healthcheckCase('probe regexp without recv_len', { kind: 'probe', interval: '1s', probe_protocol: 'tcp', probe_strategy: 'regexp', probe_send: 'a', probe_recv: 'b' },
    'probe_recv_len required', 'probe_recv_len'),
  healthcheckCase('probe strategy', { kind: 'probe', interval: '1s', probe_protocol: 'tcp', probe_strategy: 'contains', probe_send: 'a', probe_recv: 'b' },
    'Unsupported probe_strategy contains', 'probe_strategy'),
  minimalCase('proxy_protocol with udp', { protocol: 'udp', proxy_protocol: { version: '1' } }, "proxy_protocol may be used only with 'tcp' protocol, not with udp", 'proxy_protocol'),
  minimalCase('proxy_protocol version missing', { protocol: 'tcp', proxy_protocol: {} }, 'version field for proxy_protocol is not specified', 'proxy_protocol.version'),
  minimalCase('proxy_protocol version 3', { protocol: 'tcp', proxy_protocol: { version: '3' } }, 'Unsupported proxy_protocol version 3', 'proxy_protocol.version'),
  minimalCase('accept_proxy_protocol with udp', { protocol: 'udp', accept_proxy_protocol: {} }, "accept_proxy_protocol may be used only with 'tcp' or 'tls' protocol", 'accept_proxy_protocol'),
  minimalCase('accept_proxy_protocol timeout', { accept_proxy_protocol: { timeout: '0' } }, 'timeout parsing error', 'accept_proxy_protocol.timeout'),
  minimalCase('accept_proxy_protocol from', { accept_proxy_protocol: { from: ['10.0.0.0/8', '10.0.0.0/33'] } }, 'not an ip or cidr: 10.0.0.0/33', 'accept_proxy_protocol.from[1]'),
  minimalCase('sni unexpected strategy', { sni: { unexpected_hostname_strategy: 'drop' } }, 'Not supported sni unexprected hostname strategy drop', 'sni.unexpected_hostname_strategy'),
  minimalCase('sni matching strategy', { sni: { hostname_matching_strategy: 'glob' } }, 'Not supported sni matching glob', 'sni.hostname_matching_strategy'),
  minimalCase('sni read_timeout', { sni: { read_timeout: '2' } }, 'timeout parsing error', 'sni.read_timeout'),
  healthcheckCase('hc timeout', { kind: 'ping', interval: '1s', timeout: '1x' }, 'timeout parsing error', 'timeout'),
  healthcheckCase('hc interval of kind none', { kind: 'none', interval: 'soon' }, 'interval parsing error', 'interval'),
  minimalCase('backends_tls pairing', { backends_tls: { cert_path: '/c.pem' } }, 'backend_tls.cert_path and .key_path should be specified together', 'backends_tls'),
  minimalCase('tls without certs', { tls: { cert_path: '/c.pem' } }, 'tls requires specify either acme hosts or both key and cert paths', 'tls'),
  { name: 'tls protocol without tls', body: patch(MINIMAL, { protocol: 'tls' }), message: 'Need tls section for tls protocol', path: 'servers.x.tls' },
  minimalCase('udp with backends_tls', { protocol: 'udp', backends_tls: {}, udp: { max_responses: 1 } }, 'backends_tls should not be enabled for udp protocol', 'backends_tls'),
  { name: 'udp requirement', body: patch(MINIMAL, { protocol: 'udp' }), message: UDP_REQ, path: 'servers.x.udp' },
  { name: 'udp requirement with empty udp', body: patch(MINIMAL, { protocol: 'udp', udp: {} }), message: UDP_REQ, path: 'servers.x.udp' },
  { name: 'protocol', body: patch(MINIMAL, { protocol: 'sctp' }), message: 'Not supported protocol sctp', path: 'servers.x.protocol' },
  minimalCase('ping with udp', { protocol: 'udp', udp: { max_responses: 1 }, healthcheck: { kind: 'ping', interval: '1s' } }, 'Cant use ping healthcheck with udp server', 'healthcheck.kind'),
  { name: 'balance', body: patch(MINIMAL, { balance: 'foo' }), message: 'Not supported balance type foo', path: 'servers.x.balance' },
  minimalCase('failpolicy', { discovery: { failpolicy: 'retry' } }, 'Not supported failpolicy retry', 'discovery.failpolicy'),
  discoveryCase('srv_dns_protocol', { kind: 'srv', srv_lookup_server: '127.0.0.1:53', srv_dns_protocol: 'sctp' },
    'Not supported srv_dns_protocol sctp', 'srv_dns_protocol'),
  discoveryCase('lxd address missing', { kind: 'lxd', lxd_container_port: 80 }, 'lxd_server_address is required', 'lxd_server_address'),
  discoveryCase('lxd address scheme', { kind: 'lxd', lxd_server_address: 'http://lxd:8443' },
    'lxd_server_address should start with either unix:// or https:// but got http://lxd:8443', 'lxd_server_address'),
  discoveryCase('lxd address type', { kind: 'lxd', lxd_server_address: 'unix:///s', lxd_container_address_type: 'ipv4' },
    'Invalid lxd_container_address_type. Must be IPv4 or IPv6', 'lxd_container_address_type'),
];

errorTests('§2.11 message: ', MESSAGES);

test('§2.11 step 0: an existing name fails first', () => {
  expectError(() => prep({}, { exists: true }), 'Server with this name already exists: x', 'servers.x');
});

test('§2.11 order: fixing one error at a time reveals the next, in GoBetween order', () => {
  let body: Json = {
    protocol: 'udp',
    balance: 'foo',
    proxy_protocol: { version: '3' },
    sni: { unexpected_hostname_strategy: 'x' },
    backends_tls: { cert_path: 'c' },
    tls: {},
    healthcheck: { kind: 'foo' },
  };
  const steps: Array<[string, Json]> = [
    ['No bind specified for server x', { bind: ':1' }],
    ['No .discovery specified for server x', { discovery: { kind: 'srv', failpolicy: 'bad', srv_dns_protocol: 'bad' } }],
    ['Not supported healthcheck type foo', { healthcheck: { kind: 'probe', interval: 'x', initial_status: 'bad', probe_protocol: 'bad', timeout: 'x' } }],
    ['Could not parse healtcheck interval: time: invalid duration "x"', { healthcheck: { interval: '1s' } }],
    ['Unsupported healthcheck initial_status', { healthcheck: { initial_status: 'healthy' } }],
    ['Unsupported probe_protocol', { healthcheck: { probe_protocol: 'tcp', probe_send: 'a', probe_recv: 'b' } }],
    ["proxy_protocol may be used only with 'tcp' protocol, not with udp", { protocol: '' }],
    ['Unsupported proxy_protocol version 3', { proxy_protocol: null, protocol: 'udp' }],
    ['Not supported sni unexprected hostname strategy x', { sni: null }],
    ['timeout parsing error', { healthcheck: { timeout: '1s' } }],
    ['backend_tls.cert_path and .key_path should be specified together', { backends_tls: { key_path: 'k' } }],
    ['tls requires specify either acme hosts or both key and cert paths', { tls: { acme_hosts: ['a.example'] } }],
    ['backends_tls should not be enabled for udp protocol', { backends_tls: null }],
    [UDP_REQ, { udp: { max_responses: 1 }, healthcheck: { kind: 'ping' } }],
    ['Cant use ping healthcheck with udp server', { healthcheck: { kind: 'none' } }],
    ['Not supported balance type foo', { balance: '' }],
    ['Not supported failpolicy bad', { discovery: { failpolicy: '' } }],
    ['Not supported srv_dns_protocol bad', { discovery: { srv_dns_protocol: 'tcp' } }],
    ['srv_lookup_server is required for srv discovery', { discovery: { srv_lookup_server: '127.0.0.1:53' } }],
  ];
  for (const [message, fix] of steps) {
    expectError(() => prep(body), message);
    body = patch(body, fix);
  }
  const { server } = prep(body);
  assert.equal(server.protocol, 'udp');
  assert.equal(server.balance, 'weight');
});

// ---- deliberate fixes ----------------------------------------------------------------------

const VALID_KINDS = 'consul, docker, exec, json, lxd, plaintext, srv, static';

const FIXES: ErrorCase[] = [
  discoveryCase('Q-4 discovery kind missing', { static_list: [] }, `No discovery kind specified for server x (valid kinds: ${VALID_KINDS})`, 'kind'),
  discoveryCase('Q-4 discovery kind unknown', { kind: 'etcd' }, `Not supported discovery type etcd (valid kinds: ${VALID_KINDS})`, 'kind'),
  discoveryCase('Q-5 static without static_list', { kind: 'static' }, 'static_list is required for static discovery', 'static_list'),
  discoveryCase('Q-5 srv without keys', { kind: 'srv' }, 'srv_lookup_server is required for srv discovery', 'srv_lookup_server'),
  discoveryCase('Q-5 srv without srv_lookup_server', { kind: 'srv', srv_lookup_pattern: 'web.' },
    'srv_lookup_server is required for srv discovery', 'srv_lookup_server'),
  discoveryCase('Q-5 docker without keys', { kind: 'docker' }, 'docker_endpoint is required for docker discovery', 'docker_endpoint'),
  discoveryCase('Q-5 consul without keys', { kind: 'consul' }, 'consul_host is required for consul discovery', 'consul_host'),
  discoveryCase('Q-5 json without endpoint', { kind: 'json', json_host_pattern: 'h' },
    'json_endpoint is required for json discovery', 'json_endpoint'),
  discoveryCase('Q-5 plaintext without endpoint', { kind: 'plaintext' },
    'plaintext_endpoint is required for plaintext discovery', 'plaintext_endpoint'),
  discoveryCase('Q-5 plaintext invalid regexp', { kind: 'plaintext', plaintext_endpoint: 'http://h/', plaintext_regex_pattern: '(?P<host>\\S+' },
    /^plaintext_regex_pattern is not a valid regular expression: error parsing regexp: /, 'plaintext_regex_pattern'),
  discoveryCase('Q-5 exec discovery with empty command', { kind: 'exec', exec_command: [] },
    'exec_command is required for exec discovery', 'exec_command'),
  discoveryCase('Q-5 exec discovery without keys', { kind: 'exec' }, 'exec_command is required for exec discovery', 'exec_command'),
  discoveryCase('Q-5 lxd without keys', { kind: 'lxd' }, 'lxd_server_address is required', 'lxd_server_address'),
  healthcheckCase('Q-5 probe healthcheck without probe keys', { kind: 'probe', interval: '1s' },
    'probe healthcheck requires probe_protocol, probe_send and probe_recv'),
  healthcheckCase('Q-5 exec healthcheck without exec_command', { kind: 'exec', interval: '1s' },
    'exec_command is required for exec healthcheck', 'exec_command'),
  healthcheckCase('Q-5 exec healthcheck with only expected outputs', { kind: 'exec', interval: '1s', exec_expected_positive_output: '1' },
    'exec_command is required for exec healthcheck', 'exec_command'),
  minimalCase('Q-6 discovery interval', { discovery: { interval: '10' } }, 'Could not parse discovery interval: time: missing unit in duration "10"', 'discovery.interval'),
  minimalCase('Q-6 discovery timeout', { discovery: { timeout: '1d' } }, 'Could not parse discovery timeout: time: unknown unit "d" in duration "1d"', 'discovery.timeout'),
  minimalCase('Q-10 negative max_connections', { max_connections: -1 }, 'max_connections must not be negative, got -1', 'max_connections'),
  healthcheckCase('regexp probe with negative probe_recv_len', { kind: 'probe', interval: '1s', probe_protocol: 'tcp', probe_strategy: 'regexp', probe_send: 'a', probe_recv: 'b', probe_recv_len: -4 },
    'probe_recv_len required', 'probe_recv_len'),
  healthcheckCase('regexp probe with an invalid regexp', { kind: 'probe', interval: '1s', probe_protocol: 'tcp', probe_strategy: 'regexp', probe_send: 'a', probe_recv: '(', probe_recv_len: 4 },
    /^probe_recv has invalid syntax error parsing regexp: /, 'probe_recv'),
];

errorTests('fix: ', FIXES);

test('Q-10: a negative max_connections from [defaults] names the defaults key', () => {
  expectError(
    () => prep(MINIMAL, { defaults: { ...NO_DEFAULTS, max_connections: -5 } }),
    'max_connections must not be negative, got -5',
    'defaults.max_connections',
  );
  // An explicit server value wins over the bad default.
  assert.equal(prep(patch(MINIMAL, { max_connections: 3 }), { defaults: { ...NO_DEFAULTS, max_connections: -5 } }).server.max_connections, 3);
});

test('Q-9: unparsable connection timeouts are kept as written and reported as warnings', () => {
  const { server, warnings } = prep(patch(MINIMAL, { client_idle_timeout: '10', backend_connection_timeout: '5s' }), {
    defaults: { ...NO_DEFAULTS, backend_idle_timeout: '1 m' },
  });
  assert.equal(server.client_idle_timeout, '10');
  assert.equal(server.backend_idle_timeout, '1 m');
  assert.equal(server.backend_connection_timeout, '5s');
  assert.deepEqual(warnings, [
    'servers.x.client_idle_timeout: time: missing unit in duration "10"; treated as "0" (no limit), as GoBetween does',
    'defaults.backend_idle_timeout: time: unknown unit " m" in duration "1 m"; treated as "0" (no limit), as GoBetween does',
  ]);
  assert.deepEqual(prep(MINIMAL).warnings, []);
});

test('proxy_protocol: version "2" and tls servers accepted (tsbetween); accept_proxy_protocol defaults', () => {
  const { server } = prep(patch(MINIMAL, { protocol: 'tls', tls: { cert_path: '/c', key_path: '/k' }, proxy_protocol: { version: '2' } }));
  assert.deepEqual(server.proxy_protocol, { version: '2' });
  assert.equal(prep(MINIMAL).server.accept_proxy_protocol, null);
  const a = prep(patch(MINIMAL, { accept_proxy_protocol: { from: ['10.1.0.0/16', '::1', '127.0.0.1'] } })).server.accept_proxy_protocol;
  assert.deepEqual(a, { from: ['10.1.0.0/16', '::1', '127.0.0.1'], timeout: '2s' });
});

test('Q-14 relaxed: proxy_protocol with protocol omitted is accepted as tcp', () => {
  const { server } = prep(patch(MINIMAL, { proxy_protocol: { version: '1' } }));
  assert.equal(server.protocol, 'tcp');
  assert.deepEqual(server.proxy_protocol, { version: '1' });
});

test('Q-17: probe strings are validated but stored as written', () => {
  const { server } = prep(
    patch(MINIMAL, {
      healthcheck: { kind: 'probe', interval: '1s', probe_protocol: 'udp', probe_send: 'PING\\xFF\\n', probe_recv: 'PONG\\xAA\\n' },
    }),
  );
  assert.deepEqual(server.healthcheck.probe, {
    probe_protocol: 'udp',
    probe_strategy: 'starts_with',
    probe_send: 'PING\\xFF\\n',
    probe_recv: 'PONG\\xAA\\n',
    probe_recv_len: 0,
  });
});

test('regexp probe and plaintext patterns accept Go named groups', () => {
  const a = prep(
    patch(MINIMAL, {
      healthcheck: { kind: 'probe', interval: '1s', probe_protocol: 'tcp', probe_strategy: 'regexp', probe_send: 'a', probe_recv: '^(?P<v>OK)\\z', probe_recv_len: 2 },
    }),
  );
  assert.equal(a.server.healthcheck.probe?.probe_recv, '^(?P<v>OK)\\z');
  const b = prep({
    bind: ':1',
    discovery: { kind: 'plaintext', plaintext_endpoint: 'http://h/', plaintext_regex_pattern: '(?P<host>\\S+):(?P<port>\\d+)' },
  });
  assert.equal(b.server.discovery.plaintext?.plaintext_regex_pattern, '(?P<host>\\S+):(?P<port>\\d+)');
});

// ---- defaults and normalisation ------------------------------------------------------------

test('normalisation fills GoBetween defaults (§2.14)', () => {
  const { server } = prep(
    patch(MINIMAL, {
      sni: {},
      access: { rules: ['deny 10.0.0.1'] },
      healthcheck: { kind: 'ping', interval: '1s', fails: -3, passes: 0 },
    }),
  );
  assert.equal(server.protocol, 'tcp');
  assert.equal(server.balance, 'weight');
  assert.deepEqual(server.sni, { hostname_matching_strategy: 'exact', unexpected_hostname_strategy: 'default', read_timeout: '2s' });
  assert.deepEqual(server.access, { default: 'allow', rules: ['deny 10.0.0.1'] });
  assert.equal(server.discovery.failpolicy, 'keeplast');
  assert.equal(server.discovery.interval, '0');
  assert.equal(server.discovery.timeout, '0');
  assert.deepEqual(server.healthcheck, { kind: 'ping', interval: '1s', passes: 1, fails: 1, timeout: '0', initial_status: null });
});

test('absent healthcheck becomes kind none; udp section defaults for udp servers', () => {
  const { server } = prep(patch(MINIMAL, { protocol: 'udp', client_idle_timeout: '0' }));
  assert.deepEqual(server.healthcheck, { kind: 'none', interval: '0', passes: 1, fails: 1, timeout: '0', initial_status: null });
  assert.deepEqual(server.udp, { max_requests: 0, max_responses: 0, transparent: false });
});

test('srv and lxd defaults', () => {
  const srv = prep({ bind: ':1', discovery: { kind: 'srv', srv_lookup_server: '127.0.0.1:53', srv_lookup_pattern: 'web.' } });
  assert.deepEqual(srv.server.discovery.srv, { srv_lookup_server: '127.0.0.1:53', srv_lookup_pattern: 'web.', srv_dns_protocol: 'udp' });
  const lxd = prep({ bind: ':1', discovery: { kind: 'lxd', lxd_server_address: 'unix:///var/lib/lxd/unix.socket' } });
  const g = lxd.server.discovery.lxd;
  assert.ok(g !== undefined);
  assert.equal(g.lxd_server_remote_name, 'local');
  assert.equal(g.lxd_config_directory, `${process.env['HOME'] ?? ''}/.config/lxc`);
  assert.equal(g.lxd_container_interface, 'eth0');
  assert.equal(g.lxd_container_address_type, 'IPv4');
});

test('Q-11: the udp requirement ignores [defaults] but an explicit "0" satisfies it', () => {
  const defaults = { ...NO_DEFAULTS, client_idle_timeout: '1m' };
  expectError(() => prep(patch(MINIMAL, { protocol: 'udp' }), { defaults }), UDP_REQ);
  const { server } = prep(patch(MINIMAL, { protocol: 'udp', backend_idle_timeout: '0' }), { defaults });
  assert.equal(server.client_idle_timeout, '1m');
  assert.equal(server.backend_idle_timeout, '0');
});

test('[defaults] merge (§2.10, control-plane §12 case 11)', () => {
  const defaults = { ...NO_DEFAULTS, max_connections: 5, client_idle_timeout: '1m' };
  const a = prep(MINIMAL, { defaults }).server;
  assert.equal(a.max_connections, 5);
  assert.equal(a.client_idle_timeout, '1m');
  assert.equal(a.backend_idle_timeout, '0');
  assert.equal(a.backend_connection_timeout, '0');
  const b = prep(patch(MINIMAL, { max_connections: 0, client_idle_timeout: '10s' }), { defaults }).server;
  assert.equal(b.max_connections, 0);
  assert.equal(b.client_idle_timeout, '10s');
  const c = prep(MINIMAL).server;
  assert.equal(c.max_connections, 0);
  assert.equal(c.client_idle_timeout, '0');
});

test('[defaults] from a config file apply to its servers', () => {
  const { config } = decodeConfig(
    `[defaults]\nmax_connections = 5\nclient_idle_timeout = "1m"\n\n[servers.a]\nbind = ":1"\n[servers.a.discovery]\nkind = "static"\nstatic_list = []\n\n[servers.b]\nbind = ":2"\nmax_connections = 7\n[servers.b.discovery]\nkind = "static"\nstatic_list = []\n`,
    'toml',
  );
  const a = config.servers?.['a'];
  const b = config.servers?.['b'];
  assert.ok(a !== undefined && b !== undefined);
  assert.equal(prepareServer('a', a, config.defaults).server.max_connections, 5);
  assert.equal(prepareServer('a', a, config.defaults).server.client_idle_timeout, '1m');
  assert.equal(prepareServer('b', b, config.defaults).server.max_connections, 7);
  assert.equal(prepareServer('b', b, config.defaults).server.client_idle_timeout, '1m');
});

test('prepareServer does not mutate its input', () => {
  const input = emptyServerInput();
  input.bind = ':1';
  input.discovery = { kind: 'srv', failpolicy: '', interval: '', timeout: '', srv: { srv_lookup_server: 'h:53', srv_lookup_pattern: 'p.', srv_dns_protocol: '' } };
  input.sni = { hostname_matching_strategy: '', unexpected_hostname_strategy: '', read_timeout: '' };
  const before = JSON.stringify(input);
  prepareServer('x', input, NO_DEFAULTS);
  assert.equal(JSON.stringify(input), before);
});

// ---- reference objects ---------------------------------------------------------------------

test('the §3.4.3 sample POST body prepares into the object shown there', () => {
  const { server, warnings } = prep(
    {
      bind: 'localhost:3001',
      healthcheck: { kind: 'ping', interval: '2s', timeout: '1s' },
      discovery: { kind: 'static', static_list: ['localhost:8000'] },
    },
    { name: 'sample3001' },
  );
  assert.deepEqual(warnings, []);
  assert.deepEqual(server, sampleServer());
});

// ---- root ----------------------------------------------------------------------------------

function rootOf(toml: string) {
  return decodeConfig(toml, 'toml').config;
}

test('validateRoot: log levels', () => {
  for (const level of ['', 'info', 'DEBUG', 'warning', 'Warn', 'trace', 'panic', 'fatal', 'error']) {
    validateRoot(rootOf(`[logging]\nlevel = "${level}"\n`));
  }
  expectError(() => validateRoot(rootOf('[logging]\nlevel = "verbose"\n')), 'Unknown loglevel verbose', 'logging.level');
});

test('validateRoot: Q-32 empty basic-auth login is a ConfigError', () => {
  expectError(
    () => validateRoot(rootOf('[api]\nenabled = true\n[api.basic_auth]\npassword = "p"\n')),
    /login must not be empty/,
    'api.basic_auth.login',
  );
  validateRoot(rootOf('[api.basic_auth]\nlogin = "admin"\npassword = ""\n'));
});

test('validateRoot: acme defaults are filled in and returned', () => {
  const config = rootOf('[acme]\nhttp_bind = "0.0.0.0:8080"\n');
  const out = validateRoot(config);
  assert.deepEqual(out.acme, { challenge: 'http', http_bind: '0.0.0.0:8080', cache_dir: '/tmp', directory_url: null, email: null, root_ca_cert_path: null });
  assert.equal(validateRoot(rootOf('')).acme, null);
});
