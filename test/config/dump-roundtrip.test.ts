/**
 * /dump must re-load (control-plane §3.4.2): decoding the dumped TOML or JSON with the config
 * decoder gives back the same servers and root sections (the redacted password excepted).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REDACTED_PASSWORD, dumpConfig } from '../../src/config/dump.js';
import { decodeConfig } from '../../src/config/decode.js';
import { prepareServer } from '../../src/config/prepare.js';
import type { ConfigWire, ServerWire } from '../../src/config/types.js';
import { serverWire, staticDiscovery } from '../helpers/wire.js';
import { fixture } from './helpers.js';

function base(bind: string): ServerWire {
  return serverWire({ bind, discovery: staticDiscovery(['localhost:8000']) });
}

function servers(): Record<string, ServerWire> {
  const full = base('0.0.0.0:443');
  full.max_connections = 100;
  full.client_idle_timeout = '1m30s';
  full.protocol = 'tls';
  full.balance = 'iphash1';
  full.sni = { hostname_matching_strategy: 'regexp', unexpected_hostname_strategy: 'reject', read_timeout: '2s' };
  full.tls = {
    acme_hosts: null, cert_path: '/etc/c.pem', key_path: '/etc/k.pem', ciphers: ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384'],
    min_version: 'tls1.2', max_version: 'tls1.3', session_tickets: true,
  };
  full.backends_tls = {
    ignore_verify: false, root_ca_cert_path: '/ca.pem', cert_path: null, key_path: null, ciphers: null,
    min_version: '', max_version: '', session_tickets: false,
  };
  full.access = { default: 'deny', rules: ['allow 127.0.0.1', 'allow ::1', 'deny 10.0.0.0/8'] };
  full.discovery = {
    kind: 'srv', failpolicy: 'setempty', interval: '5s', timeout: '2s',
    srv: { srv_lookup_server: '127.0.0.1:5300', srv_lookup_pattern: '_80._tcp.web.', srv_dns_protocol: 'tcp' },
  };
  full.healthcheck = {
    kind: 'probe', interval: '1s', passes: 2, fails: 3, timeout: '500ms', initial_status: 'unhealthy',
    probe: {
      probe_protocol: 'tcp', probe_strategy: 'regexp', probe_send: 'GET / HTTP/1.0\\r\\n\\r\\n', probe_recv: '^HTTP/1\\.[01] 200',
      probe_recv_len: 12,
    },
  };

  const udp = base('127.0.0.1:5353');
  udp.protocol = 'udp';
  udp.udp = { max_requests: 0, max_responses: 1, transparent: false };
  udp.discovery = {
    kind: 'exec', failpolicy: 'keeplast', interval: '30s', timeout: '0',
    exec: { exec_command: ['/usr/bin/list', '--json', 'a "quoted" arg'] },
  };
  udp.healthcheck = {
    kind: 'exec', interval: '3s', passes: 1, fails: 1, timeout: '0', initial_status: null,
    exec: { exec_command: '/bin/check', exec_expected_positive_output: '1\n', exec_expected_negative_output: '0\n' },
  };

  const others = base('[::1]:8080');
  others.proxy_protocol = { version: '2' };
  others.accept_proxy_protocol = { from: ['10.1.0.0/16', '::1'], timeout: '2s' };
  others.discovery = {
    kind: 'consul', failpolicy: 'keeplast', interval: '0', timeout: '0',
    consul: {
      consul_host: 'consul:8500', consul_service_name: 'web', consul_service_tag: 'v1', consul_service_passing_only: true,
      consul_datacenter: 'dc1', consul_auth_username: 'u', consul_auth_password: 'p', consul_tls_enabled: false,
      consul_tls_cert_path: '', consul_tls_key_path: '', consul_tls_cacert_path: '', consul_acl_token: 'tok',
    },
    json: {
      json_endpoint: 'http://x/list', json_host_pattern: 'h', json_port_pattern: 'p', json_weight_pattern: '',
      json_priority_pattern: '', json_sni_pattern: '', json_max_connections_pattern: '',
    },
    plaintext: { plaintext_endpoint: 'http://x/txt', plaintext_regex_pattern: '(?P<host>\\S+):(?P<port>\\d+)' },
    docker: {
      docker_endpoint: 'http://d:2375', docker_container_label: 'lb=1', docker_container_private_port: 8080,
      docker_container_host_env_var: 'HOST_IP', docker_tls_enabled: true, docker_tls_cert_path: '/c', docker_tls_key_path: '/k',
      docker_tls_cacert_path: '/ca',
    },
    lxd: {
      lxd_server_address: 'https://lxd:8443', lxd_server_remote_name: 'local', lxd_server_remote_password: 'pw',
      lxd_config_directory: '/root/.config/lxc', lxd_generate_client_certs: true, lxd_accept_server_cert: true,
      lxd_container_label_key: 'user.lb', lxd_container_label_value: 'yes', lxd_container_port: 80,
      lxd_container_port_key: '', lxd_container_interface: 'eth0', lxd_container_interface_key: '',
      lxd_container_sni_key: '', lxd_container_address_type: 'IPv6',
    },
    static: { static_list: [] },
  };
  others.healthcheck = { kind: 'ping', interval: '2s', passes: 1, fails: 1, timeout: '1s', initial_status: 'healthy' };

  return { 'full.tls': full, udp, 'other name': others, plain: base('localhost:3000') };
}

function root(): ConfigWire {
  return {
    logging: { level: 'info', output: 'stdout', format: 'text' },
    api: {
      enabled: true, bind: ':8888', basic_auth: { login: 'admin', password: 'secret' },
      tls: { cert_path: '/api.pem', key_path: '/api.key' }, cors: true,
    },
    metrics: { enabled: true, bind: ':9284' },
    defaults: { max_connections: 10, client_idle_timeout: null, backend_idle_timeout: '1m', backend_connection_timeout: null },
    acme: { challenge: 'http', http_bind: '0.0.0.0:80', cache_dir: '/tmp', directory_url: null, email: null, root_ca_cert_path: null },
    profiler: { enabled: false, bind: ':6060' },
    servers: null,
  };
}

for (const format of ['toml', 'json'] as const) {
  test(`dump ${format} re-loads with decodeConfig to the same servers and root`, () => {
    const text = dumpConfig(root(), servers(), format);
    const { config, warnings } = decodeConfig(text, format);
    assert.deepEqual(warnings, []);
    // The decoded (not yet validated) inputs of normalised servers are the servers themselves.
    assert.deepEqual(config.servers, servers());
    const expectedRoot = root();
    if (expectedRoot.api.basic_auth) expectedRoot.api.basic_auth.password = REDACTED_PASSWORD;
    assert.deepEqual({ ...config, servers: null }, expectedRoot);
  });

  test(`dump ${format} of a minimal config re-loads`, () => {
    const min: ConfigWire = {
      logging: { level: '', output: '', format: '' },
      api: { enabled: false, bind: '', basic_auth: null, tls: null, cors: false },
      metrics: { enabled: false, bind: '' },
      defaults: { max_connections: null, client_idle_timeout: null, backend_idle_timeout: null, backend_connection_timeout: null },
      acme: null,
      profiler: null,
      servers: null,
    };
    const { config, warnings } = decodeConfig(dumpConfig(min, {}, format), format);
    assert.deepEqual(warnings, []);
    assert.deepEqual({ ...config, servers: null }, min);
    assert.ok(config.servers === null || Object.keys(config.servers).length === 0);
  });
}

// ---- with validation: prepareServer is a fixed point through /dump ---------------------------------

function prepareAll(config: ConfigWire): Record<string, ServerWire> {
  const out: Record<string, ServerWire> = {};
  for (const [name, input] of Object.entries(config.servers ?? {})) {
    out[name] = prepareServer(name, input, config.defaults).server;
  }
  return out;
}

for (const format of ['toml', 'json'] as const) {
  test(`dump ${format} → decode → prepareServer gives back the same normalised servers`, () => {
    const original = servers();
    const { config } = decodeConfig(dumpConfig(root(), original, format), format);
    assert.deepEqual(prepareAll(config), original);
  });

  test(`GoBetween's sample ${format} config: prepared servers survive dump and re-load`, () => {
    const sample = fixture(`gobetween-sample.${format}`);
    const first = decodeConfig(sample, format).config;
    const prepared = prepareAll(first);
    assert.ok(Object.keys(prepared).length > 0);
    for (const out of ['toml', 'json'] as const) {
      const again = decodeConfig(dumpConfig(first, prepared, out), out).config;
      assert.deepEqual(prepareAll(again), prepared, `${format} → ${out}`);
    }
  });
}
