import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  REDACTED_PASSWORD,
  UnknownFormatError,
  configToJson,
  dumpConfig,
  serverToJson,
  serversToJson,
} from '../../src/config/dump.js';
import { goJson } from '../../src/config/go-json.js';
import type { ConfigWire, ServerWire } from '../../src/config/types.js';
import { fixture, janitorServer, sampleServer } from './helpers.js';

const SAMPLE_GET = `{
    "max_connections": 0,
    "client_idle_timeout": "0",
    "backend_idle_timeout": "0",
    "backend_connection_timeout": "0",
    "bind": "localhost:3001",
    "protocol": "tcp",
    "balance": "weight",
    "sni": null,
    "tls": null,
    "backends_tls": null,
    "udp": null,
    "access": null,
    "proxy_protocol": null,
    "discovery": {
        "kind": "static",
        "failpolicy": "keeplast",
        "interval": "0",
        "timeout": "0",
        "static_list": [
            "localhost:8000"
        ]
    },
    "healthcheck": {
        "kind": "ping",
        "interval": "2s",
        "passes": 1,
        "fails": 1,
        "timeout": "1s",
        "initial_status": null
    }
}`;

test('serverToJson: §3.4.3 sample GET output byte for byte (GoBetween 0.8.1+ shape)', () => {
  assert.equal(goJson(serverToJson(sampleServer(), { nullInitialStatus: true })), SAMPLE_GET);
});

test('serverToJson: default omits a null initial_status, keeps a set one in place', () => {
  const withoutLine = SAMPLE_GET.replace('"timeout": "1s",\n        "initial_status": null', '"timeout": "1s"');
  assert.notEqual(withoutLine, SAMPLE_GET);
  assert.equal(goJson(serverToJson(sampleServer())), withoutLine);

  const s = sampleServer();
  s.healthcheck.initial_status = 'unhealthy';
  const hc = serverToJson(s)['healthcheck'];
  assert.deepEqual(hc, {
    kind: 'ping', interval: '2s', passes: 1, fails: 1, timeout: '1s', initial_status: 'unhealthy',
  });
  assert.deepEqual(Object.keys(hc as object), ['kind', 'interval', 'passes', 'fails', 'timeout', 'initial_status']);
});

test('serverToJson: srv group and probe group flattened in GoBetween order', () => {
  const s = sampleServer();
  s.discovery = {
    kind: 'srv', failpolicy: 'setempty', interval: '10s', timeout: '0',
    srv: { srv_lookup_server: '127.0.0.1:53', srv_lookup_pattern: 'web.service.', srv_dns_protocol: 'udp' },
  };
  s.healthcheck = {
    kind: 'probe', interval: '1s', passes: 2, fails: 3, timeout: '500ms', initial_status: 'healthy',
    probe: {
      probe_protocol: 'tcp', probe_strategy: 'starts_with', probe_send: 'PING\\n', probe_recv: '+PONG', probe_recv_len: 0,
    },
  };
  const out = serverToJson(s);
  assert.deepEqual(Object.keys(out['discovery'] as object), [
    'kind', 'failpolicy', 'interval', 'timeout', 'srv_lookup_server', 'srv_lookup_pattern', 'srv_dns_protocol',
  ]);
  assert.deepEqual(Object.keys(out['healthcheck'] as object), [
    'kind', 'interval', 'passes', 'fails', 'timeout', 'initial_status',
    'probe_protocol', 'probe_strategy', 'probe_send', 'probe_recv', 'probe_recv_len',
  ]);
  // Q-17 fix: the probe strings are echoed as written (escapes not decoded).
  assert.match(goJson(out), /"probe_send": "PING\\\\n"/);
});

test('serverToJson: every section and group, keys in §3.6 order; input arrays are copied', () => {
  const s: ServerWire = {
    max_connections: 10,
    client_idle_timeout: '1m',
    backend_idle_timeout: '2m',
    backend_connection_timeout: '3s',
    bind: '0.0.0.0:443',
    protocol: 'tls',
    balance: 'leastconn',
    sni: { hostname_matching_strategy: 'exact', unexpected_hostname_strategy: 'default', read_timeout: '2s' },
    tls: {
      acme_hosts: null, cert_path: '/c.pem', key_path: '/k.pem', ciphers: ['TLS_AES_128_GCM_SHA256'],
      min_version: 'tls1.2', max_version: '', session_tickets: false,
    },
    backends_tls: {
      ignore_verify: true, root_ca_cert_path: null, cert_path: null, key_path: null, ciphers: null,
      min_version: '', max_version: '', session_tickets: true,
    },
    udp: { max_requests: 0, max_responses: 1, transparent: false },
    access: { default: 'deny', rules: ['allow 10.0.0.0/8'] },
    proxy_protocol: { version: '1' },
    discovery: {
      kind: 'exec', failpolicy: 'keeplast', interval: '0', timeout: '0',
      static: { static_list: [] },
      exec: { exec_command: ['/bin/list', '-a'] },
      plaintext: { plaintext_endpoint: 'http://x', plaintext_regex_pattern: '' },
      json: {
        json_endpoint: 'http://j', json_host_pattern: '', json_port_pattern: '', json_weight_pattern: '',
        json_priority_pattern: '', json_sni_pattern: '', json_max_connections_pattern: '',
      },
    },
    healthcheck: {
      kind: 'exec', interval: '5s', passes: 1, fails: 1, timeout: '0', initial_status: null,
      exec: { exec_command: '', exec_expected_positive_output: '1', exec_expected_negative_output: '0' },
    },
    accept_proxy_protocol: null,
  };
  const out = serverToJson(s);
  assert.deepEqual(Object.keys(out), [
    'max_connections', 'client_idle_timeout', 'backend_idle_timeout', 'backend_connection_timeout',
    'bind', 'protocol', 'balance', 'sni', 'tls', 'backends_tls', 'udp', 'access', 'proxy_protocol',
    'discovery', 'healthcheck',
  ]);
  const keys = (k: string): string[] => Object.keys(out[k] as object);
  assert.deepEqual(keys('sni'), ['hostname_matching_strategy', 'unexpected_hostname_strategy', 'read_timeout']);
  assert.deepEqual(keys('tls'), [
    'acme_hosts', 'cert_path', 'key_path', 'ciphers', 'min_version', 'max_version', 'session_tickets',
  ]);
  assert.deepEqual(keys('backends_tls'), [
    'ignore_verify', 'root_ca_cert_path', 'cert_path', 'key_path', 'ciphers', 'min_version', 'max_version',
    'session_tickets',
  ]);
  assert.deepEqual(keys('udp'), ['max_requests', 'max_responses', 'transparent']);
  assert.deepEqual(keys('access'), ['default', 'rules']);
  assert.deepEqual(keys('proxy_protocol'), ['version']);
  // Groups appear in §3.6 order (static, srv, docker, json, exec, plaintext, consul, lxd).
  assert.deepEqual(keys('discovery'), [
    'kind', 'failpolicy', 'interval', 'timeout', 'static_list',
    'json_endpoint', 'json_host_pattern', 'json_port_pattern', 'json_weight_pattern', 'json_priority_pattern',
    'json_sni_pattern', 'json_max_connections_pattern', 'exec_command', 'plaintext_endpoint',
    'plaintext_regex_pattern',
  ]);
  // The health-check exec_command is omitted while empty.
  assert.deepEqual(keys('healthcheck'), [
    'kind', 'interval', 'passes', 'fails', 'timeout', 'exec_expected_positive_output',
    'exec_expected_negative_output',
  ]);
  assert.deepEqual((out['tls'] as { ciphers: unknown }).ciphers, ['TLS_AES_128_GCM_SHA256']);
  assert.notEqual((out['tls'] as { ciphers: unknown }).ciphers, s.tls?.ciphers);
  assert.equal((out['backends_tls'] as { root_ca_cert_path: unknown }).root_ca_cert_path, null);

  s.healthcheck.exec = { exec_command: '/bin/check', exec_expected_positive_output: '', exec_expected_negative_output: '' };
  assert.deepEqual(Object.keys(serverToJson(s)['healthcheck'] as object).slice(5), [
    'exec_command', 'exec_expected_positive_output', 'exec_expected_negative_output',
  ]);
});

test('serverToJson: docker, consul and lxd groups in §3.6 key order', () => {
  const s = sampleServer();
  s.discovery = {
    kind: 'docker', failpolicy: 'keeplast', interval: '0', timeout: '0',
    docker: {
      docker_endpoint: 'unix:///var/run/docker.sock', docker_container_label: 'lb', docker_container_private_port: 80,
      docker_container_host_env_var: '', docker_tls_enabled: false, docker_tls_cert_path: '', docker_tls_key_path: '',
      docker_tls_cacert_path: '',
    },
    consul: {
      consul_host: 'c:8500', consul_service_name: 'web', consul_service_tag: '', consul_service_passing_only: true,
      consul_datacenter: '', consul_auth_username: '', consul_auth_password: '', consul_tls_enabled: false,
      consul_tls_cert_path: '', consul_tls_key_path: '', consul_tls_cacert_path: '', consul_acl_token: 't',
    },
    lxd: {
      lxd_server_address: 'unix:///x', lxd_server_remote_name: 'local', lxd_server_remote_password: '',
      lxd_config_directory: '/root/.config/lxc', lxd_generate_client_certs: false, lxd_accept_server_cert: false,
      lxd_container_label_key: '', lxd_container_label_value: '', lxd_container_port: 80,
      lxd_container_port_key: '', lxd_container_interface: 'eth0', lxd_container_interface_key: '',
      lxd_container_sni_key: '', lxd_container_address_type: 'IPv4',
    },
  };
  assert.deepEqual(Object.keys(serverToJson(s)['discovery'] as object), [
    'kind', 'failpolicy', 'interval', 'timeout',
    'docker_endpoint', 'docker_container_label', 'docker_container_private_port', 'docker_container_host_env_var',
    'docker_tls_enabled', 'docker_tls_cert_path', 'docker_tls_key_path', 'docker_tls_cacert_path',
    'consul_host', 'consul_service_name', 'consul_service_tag', 'consul_service_passing_only', 'consul_datacenter',
    'consul_auth_username', 'consul_auth_password', 'consul_tls_enabled', 'consul_tls_cert_path',
    'consul_tls_key_path', 'consul_tls_cacert_path', 'consul_acl_token',
    'lxd_server_address', 'lxd_server_remote_name', 'lxd_server_remote_password', 'lxd_config_directory',
    'lxd_generate_client_certs', 'lxd_accept_server_cert', 'lxd_container_label_key', 'lxd_container_label_value',
    'lxd_container_port', 'lxd_container_port_key', 'lxd_container_interface', 'lxd_container_interface_key',
    'lxd_container_sni_key', 'lxd_container_address_type',
  ]);
});

// ---- OpenSVC janitor (opensvc.md §1.5) ----------------------------------------------------------

type Py = null | boolean | number | string | Py[] | { [k: string]: Py };

/** Python `==` on decoded JSON: dicts need identical key sets, `1 != "1"`. */
function pyEqual(a: Py, b: Py): boolean {
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEqual(x, b[i] ?? null));
  }
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join('\0') !== kb.join('\0')) return false;
  return ka.every((k) => pyEqual(a[k] ?? null, b[k] ?? null));
}

/** The janitor's rule: every top-level key it posted exists in GET's object with an equal value. */
function janitorSeesEqual(desired: Record<string, Py>, current: Record<string, Py>): boolean {
  return Object.entries(desired).every(([k, v]) => Object.hasOwn(current, k) && pyEqual(v, current[k] ?? null));
}

test('serverToJson: the OpenSVC janitor finds its POSTed body equal to GET /servers (no churn)', () => {
  const posted = JSON.parse(fixture('opensvc-janitor-post.json')) as Record<string, Py>;
  const name = '_80_svcweb';
  const listing = JSON.parse(goJson(serversToJson({ [name]: janitorServer() }))) as Record<string, Record<string, Py>>;
  const current = listing[name];
  assert.ok(current !== undefined);
  assert.equal(janitorSeesEqual(posted, current), true);
  // Nested key sets are exactly the posted ones.
  assert.deepEqual(Object.keys(current['discovery'] as object).sort(), Object.keys(posted['discovery'] as object).sort());
  assert.deepEqual(Object.keys(current['healthcheck'] as object).sort(), Object.keys(posted['healthcheck'] as object).sort());

  // GoBetween 0.8.1+'s `initial_status: null` is what breaks it (the churn opensvc.md §1.5 describes).
  const withNull = JSON.parse(goJson(serverToJson(janitorServer(), { nullInitialStatus: true }))) as Record<string, Py>;
  assert.equal(janitorSeesEqual(posted, withNull), false);
});

// ---- /servers, /dump ----------------------------------------------------------------------------

function rootConfig(): ConfigWire {
  return {
    logging: { level: 'debug', output: 'stdout', format: '' },
    api: { enabled: true, bind: ':8888', basic_auth: { login: 'admin', password: 's3cret' }, tls: null, cors: false },
    metrics: { enabled: false, bind: ':9284' },
    defaults: { max_connections: null, client_idle_timeout: '1m', backend_idle_timeout: null, backend_connection_timeout: null },
    acme: null,
    profiler: null,
    servers: null,
  };
}

test('serversToJson: names sorted in Go order, {} when none', () => {
  assert.equal(goJson(serversToJson({})), '{}');
  const out = serversToJson({ zeta: sampleServer(), Alpha: sampleServer(), alpha: sampleServer() });
  assert.deepEqual(Object.keys(out), ['Alpha', 'alpha', 'zeta']);
});

test('configToJson: root shape, nulls kept, password redacted unless asked not to', () => {
  const out = configToJson(rootConfig(), { b: sampleServer(), a: sampleServer() });
  assert.deepEqual(Object.keys(out), ['logging', 'api', 'metrics', 'defaults', 'acme', 'profiler', 'servers']);
  assert.deepEqual(out['api'], {
    enabled: true, bind: ':8888', basic_auth: { login: 'admin', password: REDACTED_PASSWORD }, tls: null, cors: false,
  });
  assert.deepEqual(Object.keys(out['api'] as object), ['enabled', 'bind', 'basic_auth', 'tls', 'cors']);
  assert.deepEqual(out['defaults'], {
    max_connections: null, client_idle_timeout: '1m', backend_idle_timeout: null, backend_connection_timeout: null,
  });
  assert.equal(out['acme'], null);
  assert.equal(out['profiler'], null);
  assert.deepEqual(Object.keys(out['servers'] as object), ['a', 'b']);

  const clear = configToJson(rootConfig(), {}, { redactPassword: false });
  assert.deepEqual((clear['api'] as { basic_auth: unknown }).basic_auth, { login: 'admin', password: 's3cret' });
  assert.deepEqual(clear['servers'], {});
});

test('dumpConfig json: never shows the password; acme/profiler when present', () => {
  const root = rootConfig();
  root.acme = { challenge: 'http', http_bind: '0.0.0.0:80', cache_dir: '/tmp', directory_url: null, email: null, root_ca_cert_path: null };
  root.profiler = { enabled: false, bind: ':6060' };
  const text = dumpConfig(root, { sample: sampleServer() }, 'json');
  assert.ok(!text.includes('s3cret'));
  assert.ok(!text.endsWith('\n'));
  assert.ok(text.includes('"password": "\\u003credacted\\u003e"'));
  const parsed = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(parsed['acme'], { challenge: 'http', http_bind: '0.0.0.0:80', cache_dir: '/tmp' });
  assert.deepEqual(parsed['profiler'], { enabled: false, bind: ':6060' });
  assert.deepEqual((parsed['servers'] as Record<string, unknown>)['sample'], JSON.parse(goJson(serverToJson(sampleServer()))));
});

test('dumpConfig: unknown format throws "Unknown format <x>"', () => {
  for (const f of ['yaml', 'JSON', '']) {
    assert.throws(() => dumpConfig(rootConfig(), {}, f), (e: unknown) => {
      assert.ok(e instanceof UnknownFormatError);
      assert.ok(e instanceof Error);
      assert.equal(e.message, `Unknown format ${f}`);
      return true;
    });
  }
});

test('dumpConfig toml: BurntSushi layout (scalars first, indentation, blank lines, nulls omitted)', () => {
  const root = rootConfig();
  const s = sampleServer();
  s.access = { default: 'allow', rules: [] };
  s.healthcheck.initial_status = 'healthy';
  const text = dumpConfig(root, { sample: s, 'my.svc': sampleServer() }, 'toml');
  const expected = `[logging]
  level = "debug"
  output = "stdout"
  format = ""

[api]
  enabled = true
  bind = ":8888"
  cors = false
  [api.basic_auth]
    login = "admin"
    password = "<redacted>"

[metrics]
  enabled = false
  bind = ":9284"

[defaults]
  client_idle_timeout = "1m"

[servers]
  [servers."my.svc"]
    max_connections = 0
    client_idle_timeout = "0"
    backend_idle_timeout = "0"
    backend_connection_timeout = "0"
    bind = "localhost:3001"
    protocol = "tcp"
    balance = "weight"
    [servers."my.svc".discovery]
      kind = "static"
      failpolicy = "keeplast"
      interval = "0"
      timeout = "0"
      static_list = ["localhost:8000"]
    [servers."my.svc".healthcheck]
      kind = "ping"
      interval = "2s"
      passes = 1
      fails = 1
      timeout = "1s"
  [servers.sample]
    max_connections = 0
    client_idle_timeout = "0"
    backend_idle_timeout = "0"
    backend_connection_timeout = "0"
    bind = "localhost:3001"
    protocol = "tcp"
    balance = "weight"
    [servers.sample.access]
      default = "allow"
      rules = []
    [servers.sample.discovery]
      kind = "static"
      failpolicy = "keeplast"
      interval = "0"
      timeout = "0"
      static_list = ["localhost:8000"]
    [servers.sample.healthcheck]
      kind = "ping"
      interval = "2s"
      passes = 1
      fails = 1
      timeout = "1s"
      initial_status = "healthy"
`;
  assert.equal(text, expected);
});

test('dumpConfig toml: empty sections keep their header; strings escaped for TOML', () => {
  const root = rootConfig();
  root.api = { enabled: false, bind: '', basic_auth: null, tls: null, cors: false };
  root.defaults = { max_connections: null, client_idle_timeout: null, backend_idle_timeout: null, backend_connection_timeout: null };
  const s = sampleServer();
  s.bind = 'q"uote\\back\ttab\nnl\u0001ctl\u007fdel é';
  const text = dumpConfig(root, { 'a b': s }, 'toml');
  assert.match(text, /\n\[defaults\]\n\n\[servers\]\n {2}\[servers\."a b"\]\n/);
  assert.ok(text.includes('    bind = "q\\"uote\\\\back\\ttab\\nnl\\u0001ctl\\u007Fdel é"\n'), text);
  assert.ok(!text.includes('basic_auth'));
});

/** configToJson's tree without nulls: what a TOML reader must get back from the TOML dump. */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
  }
  return v;
}

test('dumpConfig toml: parses back (smol-toml) to the JSON dump without its nulls', async () => {
  const { parse } = await import('smol-toml');
  const root = rootConfig();
  root.acme = { challenge: 'http', http_bind: '0.0.0.0:80', cache_dir: '/tmp', directory_url: null, email: null, root_ca_cert_path: null };
  const s = sampleServer();
  s.tls = {
    acme_hosts: ['a.example'], cert_path: '', key_path: '', ciphers: null, min_version: '', max_version: '',
    session_tickets: true,
  };
  s.udp = { max_requests: 1, max_responses: 0, transparent: false };
  s.healthcheck.probe = {
    probe_protocol: 'udp', probe_strategy: 'regexp', probe_send: '\\x00\\x01', probe_recv: '^ok\\s', probe_recv_len: 4,
  };
  const servers = { sample: s, 'weird name/ü': sampleServer() };
  const parsed = parse(dumpConfig(root, servers, 'toml'));
  assert.deepEqual(JSON.parse(JSON.stringify(parsed)), withoutNulls(JSON.parse(dumpConfig(root, servers, 'json'))));
});
