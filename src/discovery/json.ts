/**
 * `json`: HTTP GET `json_endpoint` (status not checked, redirects followed, HTTP(S)_PROXY and
 * NO_PROXY honoured like Go's default transport); the body must be a
 * JSON array (`Unexpected json in response`). For each element the patterns locate host (a string,
 * required), port (number or string, required), weight / priority / max_connections (numbers,
 * truncated; otherwise 1 / 1 / 0) and sni (a string, otherwise ''). A missing host or port fails
 * the whole fetch, as in GoBetween. IPv6 hosts are bracketed (D22).
 */
import type { DiscoveryWire } from '../config/types.js';
import { key, keyGroup } from '../core/keys.js';
import type { BackendSpec } from '../core/backend.js';
import { ConfigError } from '../core/errors.js';
import { httpGetText } from './http.js';
import { proxyEnvFromProcess } from './proxy-env.js';
import { lookupJson, parseJsonPath, type PathSegment } from './json-path.js';
import { DEFAULT_RETRY_WAIT_MS, DEFAULT_TIMEOUT_MS, type DiscoveryKind, type Fail } from './types.js';
import { bracketHost, checkHttpUrl, requireGroup, requireString } from './util.js';

export interface JsonSettings {
  readonly endpoint: string;
  readonly host: readonly PathSegment[];
  readonly port: readonly PathSegment[];
  readonly weight: readonly PathSegment[];
  readonly priority: readonly PathSegment[];
  readonly sni: readonly PathSegment[];
  readonly maxConnections: readonly PathSegment[];
}

function pathOf(value: string, fallback: string, path: string, key: string): PathSegment[] {
  try {
    const p = parseJsonPath(value === '' ? fallback : value);
    if (p.length === 0) throw new Error('empty path');
    return p;
  } catch (err) {
    throw new ConfigError(`${path}.${key}`, `invalid json path ${value}: ${err instanceof Error ? err.message : String(err)}`);
  }
}


/** A JSON number as an integer (Go truncates float64 to int), or undefined. */
function intOf(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : undefined;
}

export const jsonKind: DiscoveryKind<JsonSettings> = {
  kind: 'json',
  schema: keyGroup({
    json_endpoint: key.string('URL returning a JSON array of backends.'),
    json_host_pattern: key.string('Path of the host in each element.', { effectiveDefault: 'host' }),
    json_port_pattern: key.string('Path of the port in each element.', { effectiveDefault: 'port' }),
    json_weight_pattern: key.string('Path of the weight in each element.', { effectiveDefault: 'weight' }),
    json_priority_pattern: key.string('Path of the priority in each element.', { effectiveDefault: 'priority' }),
    json_sni_pattern: key.string('Path of the SNI name in each element.', { effectiveDefault: 'sni' }),
    json_max_connections_pattern: key.string('Path of the connection limit in each element.', { effectiveDefault: 'max_connections' }),
  }),
  prepare(wire: DiscoveryWire, fail: Fail): void {
    if (wire.json === undefined || wire.json.json_endpoint === '') fail('json_endpoint', 'json_endpoint is required for json discovery');
  },
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS.http,
  retryWaitMs: DEFAULT_RETRY_WAIT_MS,
  parse(wire, path) {
    const g = requireGroup(wire, 'json', path, 'json_endpoint');
    const endpoint = checkHttpUrl(requireString(g.json_endpoint, path, 'json_endpoint'), path, 'json_endpoint');
    return Object.freeze({
      endpoint,
      host: pathOf(g.json_host_pattern, 'host', path, 'json_host_pattern'),
      port: pathOf(g.json_port_pattern, 'port', path, 'json_port_pattern'),
      weight: pathOf(g.json_weight_pattern, 'weight', path, 'json_weight_pattern'),
      priority: pathOf(g.json_priority_pattern, 'priority', path, 'json_priority_pattern'),
      sni: pathOf(g.json_sni_pattern, 'sni', path, 'json_sni_pattern'),
      maxConnections: pathOf(g.json_max_connections_pattern, 'max_connections', path, 'json_max_connections_pattern'),
    });
  },
  async fetch(s, ctx) {
    const { text } = await httpGetText({ url: s.endpoint, signal: ctx.signal, proxyEnv: proxyEnvFromProcess() });
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`invalid json in response: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!Array.isArray(doc)) throw new Error('Unexpected json in response');
    const specs: BackendSpec[] = [];
    doc.forEach((item: unknown, i) => {
      const host = lookupJson(item, s.host);
      if (!host.found || typeof host.value !== 'string') throw new Error(`element [${i}]: host is missing or not a string`);
      const port = lookupJson(item, s.port);
      if (!port.found) throw new Error(`element [${i}]: port is missing`);
      let portText: string;
      if (typeof port.value === 'string') portText = port.value;
      else if (typeof port.value === 'number' && Number.isFinite(port.value)) portText = String(port.value);
      else throw new Error(`element [${i}]: port is neither a number nor a string`);
      const w = lookupJson(item, s.weight);
      const p = lookupJson(item, s.priority);
      const m = lookupJson(item, s.maxConnections);
      const sni = lookupJson(item, s.sni);
      specs.push({
        host: bracketHost(host.value),
        port: portText,
        weight: (w.found ? intOf(w.value) : undefined) ?? 1,
        priority: (p.found ? intOf(p.value) : undefined) ?? 1,
        maxConnections: (m.found ? intOf(m.value) : undefined) ?? 0,
        sni: sni.found && typeof sni.value === 'string' ? sni.value : '',
      });
    });
    return specs;
  },
};
