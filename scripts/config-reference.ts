/**
 * Generates docs/configuration.md from the config schema, so the page cannot drift from what the
 * decoder accepts: every key comes from the schema (`schemaKeys`), every key's type is read back
 * from the decoder itself (`probeType`), and only the prose comes from `DESCRIPTIONS` below. A key
 * in the schema without a description, or a description for a key the schema does not have, is an
 * error, so adding or removing a key forces this page to follow. test/docs/config-reference.test.ts
 * fails when docs/configuration.md is not the generator's output.
 *
 *   npm run docs:config            # rewrite docs/configuration.md
 *   npm run docs:config -- --check # exit 1 when it is stale
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configTable, decodeConfig, discoveryShape, healthcheckShape, serverTable, type Shape, type TableShape } from '../src/config/decode.js';
import { DecodeError } from '../src/core/errors.js';

/** One config key: its section path (`servers.NAME.discovery`), name, and key group (a kind). */
export interface SchemaKey {
  readonly section: string;
  readonly key: string;
  /** For discovery/health-check keys that belong to one kind: the group name (`srv`, `probe`). */
  readonly group?: string;
}

/**
 * THE source of keys: walks the decoder's schema. This is the one function to repoint when the
 * schema moves (e.g. to zod schemas): it must return every key, in GoBetween's order.
 */
export function schemaKeys(): SchemaKey[] {
  const out: SchemaKey[] = [];
  const walk = (section: string, table: TableShape): void => {
    const entries = Object.entries(table);
    // The section's own values first, then its sub-tables (one heading per table).
    for (const [key, field] of entries) {
      if (field.shape.kind === 'value' && !(section === '' && key === 'servers')) out.push({ section, key });
    }
    for (const [key, field] of entries) {
      const shape: Shape = field.shape;
      const path = section === '' ? key : `${section}.${key}`;
      if (section === '' && key === 'servers') {
        walk('servers.NAME', serverTable);
      } else if (key === 'discovery' && section === 'servers.NAME') {
        walkGrouped(path, discoveryShape.common, discoveryShape.groups);
      } else if (key === 'healthcheck' && section === 'servers.NAME') {
        walkGrouped(path, healthcheckShape.common, healthcheckShape.groups);
      } else if (shape.kind === 'table') {
        walk(path, shape.fields);
      } else if (shape.kind === 'grouped') {
        walkGrouped(path, shape.common, shape.groups);
      }
    }
  };
  const walkGrouped = (section: string, common: TableShape, groups: Readonly<Record<string, TableShape>>): void => {
    walk(section, common);
    for (const [group, table] of Object.entries(groups)) {
      for (const key of Object.keys(table)) out.push({ section, key, group });
    }
  };
  walk('', configTable);
  return out;
}

/** The key's type as the decoder states it: feed it a table where a value belongs. */
export function probeType(k: SchemaKey): string {
  const parts = [...k.section.split('.').filter((p) => p !== ''), k.key].map((p) => (p === 'NAME' ? 'x' : p));
  const doc: Record<string, unknown> = {};
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    const next: Record<string, unknown> = {};
    cur[p] = next;
    cur = next;
  }
  cur[parts[parts.length - 1] ?? ''] = { probe: true };
  try {
    decodeConfig(JSON.stringify(doc), 'json');
  } catch (err) {
    const m = err instanceof DecodeError ? /^expected (.*), got object$/.exec(err.message) : null;
    if (m?.[1] !== undefined) return TYPE_NAMES[m[1]] ?? m[1];
  }
  throw new Error(`${parts.join('.')}: the decoder did not report a type for a table value`);
}

const TYPE_NAMES: Record<string, string> = {
  'a string': 'string',
  'a duration string': 'duration',
  'an integer': 'integer',
  'a non-negative integer': 'integer ≥ 0',
  'a boolean': 'boolean',
  'an array of strings': 'array of strings',
};

const S = 'servers.NAME';
const D = `${S}.discovery`;
const H = `${S}.healthcheck`;

/** Prose for each key, by `section.key` (or `section.key@group` for a kind's key). */
const DESCRIPTIONS: Record<string, string> = {
  'logging.level': '`panic`, `fatal`, `error`, `warn`, `info`, `debug` or `trace`; default `info`',
  'logging.output': '`stdout`, `stderr` or a file path; default `stdout`',
  'logging.format': '`text` or `json`; default `text`',
  'api.enabled': 'serve the REST API',
  'api.bind': 'listen address, `host:port` (`:8888` = every address)',
  'api.basic_auth.login': 'HTTP basic auth user (required when the section is present)',
  'api.basic_auth.password': 'HTTP basic auth password (redacted by `/dump`)',
  'api.tls.cert_path': 'PEM certificate: serve the API over HTTPS',
  'api.tls.key_path': 'PEM private key of `cert_path`',
  'api.cors': 'answer CORS preflight requests and add the CORS headers',
  'metrics.enabled': 'serve Prometheus metrics at `GET /metrics`',
  'metrics.bind': 'listen address, `host:port`',
  'defaults.max_connections': 'default of every server\'s `max_connections`',
  'defaults.client_idle_timeout': 'default of every server\'s `client_idle_timeout`',
  'defaults.backend_idle_timeout': 'default of every server\'s `backend_idle_timeout`',
  'defaults.backend_connection_timeout': 'default of every server\'s `backend_connection_timeout`',
  'acme.challenge': 'ACME challenge type (`http` or `sni`); parsed and validated, not supported yet',
  'acme.http_bind': 'listen address of the ACME HTTP challenge server; default `0.0.0.0:80`',
  'acme.cache_dir': 'where certificates are kept',
  'profiler.enabled': 'serve the CPU profile and heap snapshot endpoints (tsbetween: its own bind only)',
  'profiler.bind': 'listen address, `host:port`',
  [`${S}.max_connections`]: 'most simultaneous client connections; `0` = no limit',
  [`${S}.client_idle_timeout`]: 'close a connection when the client sends nothing for this long; `"0"` = never',
  [`${S}.backend_idle_timeout`]: 'close a connection when the backend sends nothing for this long; `"0"` = never',
  [`${S}.backend_connection_timeout`]: 'give up connecting to a backend after this long; `"0"` = no limit',
  [`${S}.bind`]: 'listen address, `host:port` (required)',
  [`${S}.protocol`]: '`tcp` (default), `tls` or `udp` (`tls`/`udp`: not supported yet)',
  [`${S}.balance`]: '`weight` (default), `roundrobin`, `leastconn`, `leastbandwidth`, `iphash`, `iphash1`',
  [`${S}.sni.hostname_matching_strategy`]: '`exact` or `regexp`: how backends\' `sni` values match the client\'s (not supported yet)',
  [`${S}.sni.unexpected_hostname_strategy`]: '`default`, `reject` or `any`: what to do with an unknown hostname',
  [`${S}.sni.read_timeout`]: 'how long to wait for the ClientHello',
  [`${S}.tls.acme_hosts`]: 'host names to get certificates for from ACME',
  [`${S}.tls.cert_path`]: 'PEM certificate for TLS termination',
  [`${S}.tls.key_path`]: 'PEM private key of `cert_path`',
  [`${S}.tls.ciphers`]: 'allowed cipher suites (Go names)',
  [`${S}.tls.min_version`]: 'lowest TLS version (`tls1`, `tls1.1`, `tls1.2`, `tls1.3`)',
  [`${S}.tls.max_version`]: 'highest TLS version',
  [`${S}.tls.session_tickets`]: 'enable TLS session tickets',
  [`${S}.backends_tls.ignore_verify`]: 'do not verify the backends\' certificates',
  [`${S}.backends_tls.root_ca_cert_path`]: 'CA bundle to verify the backends with',
  [`${S}.backends_tls.cert_path`]: 'client certificate presented to backends',
  [`${S}.backends_tls.key_path`]: 'private key of the client certificate',
  [`${S}.backends_tls.ciphers`]: 'allowed cipher suites (Go names)',
  [`${S}.backends_tls.min_version`]: 'lowest TLS version to backends',
  [`${S}.backends_tls.max_version`]: 'highest TLS version to backends',
  [`${S}.backends_tls.session_tickets`]: 'enable TLS session tickets to backends',
  [`${S}.udp.max_requests`]: 'requests per client session before it is closed; `0` = no limit',
  [`${S}.udp.max_responses`]: 'responses per request before the session is closed; `0` = no limit',
  [`${S}.udp.transparent`]: 'send to backends from the client\'s address',
  [`${S}.access.default`]: '`allow` or `deny`: what happens when no rule matches',
  [`${S}.access.rules`]: '`"allow CIDR-or-IP"` / `"deny CIDR-or-IP"`, first match wins',
  [`${S}.proxy_protocol.version`]: 'send a PROXY protocol header to backends: `1` or `2` (not supported yet)',
  [`${D}.kind`]: '`static`, `srv`, `docker`, `json`, `exec`, `plaintext`, `consul` or `lxd` (required)',
  [`${D}.failpolicy`]: 'on a failed fetch: `keeplast` (default) keeps the last list, `setempty` empties it',
  [`${D}.interval`]: 'how often to fetch; `"0"` = once',
  [`${D}.timeout`]: 'deadline of one fetch',
  [`${D}.static_list@static`]: 'backend lines: `host:port[ weight=N][ priority=N][ max_connections=N][ sni=NAME]`',
  [`${D}.srv_lookup_server@srv`]: 'DNS server, `host:port` (port 53 when left out)',
  [`${D}.srv_lookup_pattern@srv`]: 'SRV name to query, e.g. `_http._tcp.web.example.`',
  [`${D}.srv_dns_protocol@srv`]: '`udp` (default) or `tcp`',
  [`${D}.docker_endpoint@docker`]: 'Docker API: `http://`, `https://` or `unix://`',
  [`${D}.docker_container_label@docker`]: 'only containers with this label (`key=value`)',
  [`${D}.docker_container_private_port@docker`]: 'the container port whose published host port is the backend',
  [`${D}.docker_container_host_env_var@docker`]: 'container environment variable holding the backend host',
  [`${D}.docker_tls_enabled@docker`]: 'use TLS to the Docker API',
  [`${D}.docker_tls_cert_path@docker`]: 'client certificate for the Docker API',
  [`${D}.docker_tls_key_path@docker`]: 'client key for the Docker API',
  [`${D}.docker_tls_cacert_path@docker`]: 'CA bundle for the Docker API',
  [`${D}.json_endpoint@json`]: 'URL returning a JSON array of backends',
  [`${D}.json_host_pattern@json`]: 'path of the host in each element; default `host`',
  [`${D}.json_port_pattern@json`]: 'path of the port; default `port`',
  [`${D}.json_weight_pattern@json`]: 'path of the weight; default `weight`',
  [`${D}.json_priority_pattern@json`]: 'path of the priority; default `priority`',
  [`${D}.json_sni_pattern@json`]: 'path of the SNI name; default `sni`',
  [`${D}.json_max_connections_pattern@json`]: 'path of the connection limit; default `max_connections`',
  [`${D}.exec_command@exec`]: 'program and arguments (no shell); prints one backend line per line',
  [`${D}.plaintext_endpoint@plaintext`]: 'URL returning backend lines',
  [`${D}.plaintext_regex_pattern@plaintext`]: 'regexp with named groups `host`, `port`, `weight`, `priority`, `max_connections`, `sni`',
  [`${D}.consul_host@consul`]: 'Consul agent, `host:port`',
  [`${D}.consul_service_name@consul`]: 'service to list',
  [`${D}.consul_service_tag@consul`]: 'only instances with this tag',
  [`${D}.consul_service_passing_only@consul`]: 'only instances whose checks pass',
  [`${D}.consul_datacenter@consul`]: 'datacenter to query (`consul_service_datacenter` is read as this key)',
  [`${D}.consul_auth_username@consul`]: 'HTTP basic auth user',
  [`${D}.consul_auth_password@consul`]: 'HTTP basic auth password',
  [`${D}.consul_tls_enabled@consul`]: 'use HTTPS',
  [`${D}.consul_tls_cert_path@consul`]: 'client certificate',
  [`${D}.consul_tls_key_path@consul`]: 'client key',
  [`${D}.consul_tls_cacert_path@consul`]: 'CA bundle',
  [`${D}.consul_acl_token@consul`]: 'ACL token',
  [`${D}.lxd_server_address@lxd`]: '`unix://` socket or `https://` URL of the LXD server',
  [`${D}.lxd_server_remote_name@lxd`]: 'remote name (for the client certificate files)',
  [`${D}.lxd_server_remote_password@lxd`]: 'trust password, to register the client certificate',
  [`${D}.lxd_config_directory@lxd`]: 'directory with `client.crt`/`client.key`',
  [`${D}.lxd_generate_client_certs@lxd`]: 'not supported: put the certificate in `lxd_config_directory`',
  [`${D}.lxd_accept_server_cert@lxd`]: 'trust the server certificate on first use',
  [`${D}.lxd_container_label_key@lxd`]: 'only containers with this config key…',
  [`${D}.lxd_container_label_value@lxd`]: '…set to this value',
  [`${D}.lxd_container_port@lxd`]: 'backend port',
  [`${D}.lxd_container_port_key@lxd`]: 'container config key holding the backend port',
  [`${D}.lxd_container_interface@lxd`]: 'network interface whose address is the backend',
  [`${D}.lxd_container_interface_key@lxd`]: 'container config key holding the interface name',
  [`${D}.lxd_container_sni_key@lxd`]: 'container config key holding the backend\'s SNI name',
  [`${D}.lxd_container_address_type@lxd`]: '`IPv4` or `IPv6`',
  [`${H}.kind`]: '`ping` (TCP connect), `probe`, `exec` or `none` (default)',
  [`${H}.interval`]: 'time between checks (required unless `none`)',
  [`${H}.passes`]: 'consecutive successes that make a backend live; at least 1',
  [`${H}.fails`]: 'consecutive failures that make a backend dead; at least 1',
  [`${H}.timeout`]: 'deadline of one check',
  [`${H}.initial_status`]: '`healthy` or `unhealthy`: the status before the first check',
  [`${H}.probe_protocol@probe`]: '`tcp`, `udp` or `tls`',
  [`${H}.probe_strategy@probe`]: '`starts_with` (default) or `regexp`',
  [`${H}.probe_send@probe`]: 'bytes to send (Go escapes such as `\\n`, `\\x00`)',
  [`${H}.probe_recv@probe`]: 'expected reply: a prefix or a regexp',
  [`${H}.probe_recv_len@probe`]: 'bytes to read for a `regexp` match',
  [`${H}.exec_command@exec`]: 'program run with the backend\'s host and port as arguments',
  [`${H}.exec_expected_positive_output@exec`]: 'output that means healthy',
  [`${H}.exec_expected_negative_output@exec`]: 'output that means unhealthy',
};

function docKey(k: SchemaKey): string {
  return `${k.section}.${k.key}${k.group === undefined ? '' : `@${k.group}`}`;
}

/** The whole page. Throws when a key lacks a description or a description has no key. */
export function generateConfigReference(): string {
  const keys = schemaKeys();
  const seen = new Set(keys.map(docKey));
  const missing = [...seen].filter((k) => DESCRIPTIONS[k] === undefined);
  const extra = Object.keys(DESCRIPTIONS).filter((k) => !seen.has(k));
  if (missing.length > 0) throw new Error(`config keys without a description in scripts/config-reference.ts: ${missing.join(', ')}`);
  if (extra.length > 0) throw new Error(`descriptions for keys the schema does not have: ${extra.join(', ')}`);

  const lines: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated by `npm run docs:config` (scripts/config-reference.ts) from the config schema in',
    '     src/config. Do not edit: a test fails when this page is stale. -->',
    '',
    'Every key tsbetween reads, section by section, in the order GoBetween writes them. The same',
    'keys work in TOML (`[servers.web.discovery]`) and JSON (`{"servers": {"web": {"discovery": …}}}`).',
    'Keys are matched case-insensitively; unknown keys are ignored with a warning naming their path.',
    'A missing key takes its type\'s zero value (`""`, `0`, `false`) unless a default is given.',
    'Durations use Go\'s syntax: `"500ms"`, `"2s"`, `"1m30s"`; `"0"` means no limit.',
    'Servers are tables under `[servers]`, one per server: `[servers.NAME]`; the name is the one the',
    'REST API uses (`/servers/NAME`).',
    '',
  ];
  let current = '';
  let currentGroup: string | undefined;
  for (const k of keys) {
    if (k.section !== current || k.group !== currentGroup) {
      const title = `[${k.section}]`;
      lines.push(k.group === undefined ? `## \`${title}\`` : `### \`${title}\` with \`kind = "${k.group}"\``, '');
      lines.push('| key | type | meaning |', '|---|---|---|');
      current = k.section;
      currentGroup = k.group;
    }
    lines.push(`| \`${k.key}\` | ${probeType(k)} | ${DESCRIPTIONS[docKey(k)] ?? ''} |`);
  }
  for (let i = 0; i < lines.length - 1; i++) {
    // a blank line before each heading that follows a table row
    if (lines[i + 1]?.startsWith('#') === true && lines[i]?.startsWith('|') === true) lines.splice(i + 1, 0, '');
  }
  lines.push('');
  return lines.join('\n');
}

export const PAGE = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = generateConfigReference();
  if (process.argv.includes('--check')) {
    let old = '';
    try { old = readFileSync(PAGE, 'utf8'); } catch { /* missing */ }
    if (old !== text) {
      console.error('docs/configuration.md is stale: run `npm run docs:config`');
      process.exit(1);
    }
  } else {
    writeFileSync(PAGE, text);
    console.log(`wrote ${PAGE}`);
  }
}
