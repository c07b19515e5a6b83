/** Small helpers shared by the config tests (not a test file itself). */
import { existsSync, readFileSync } from 'node:fs';
import { decodeServer } from '../../src/config/decode.js';
import { prepareServer, type PreparedServer } from '../../src/config/prepare.js';
import type { DefaultsWire, ServerWire } from '../../src/config/types.js';
import { serverWire, staticDiscovery } from '../helpers/wire.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);
const SHARED_FIXTURES = new URL('../../../shared/fixtures/', import.meta.url);

/** The text of one of our fixtures (test/fixtures/<name>). */
export function fixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES), 'utf8');
}

/**
 * The text of the reference original in ../shared/fixtures/<name> beside the repository, or
 * undefined when it is not there (a plain clone has no ../shared).
 */
export function sharedFixture(name: string): string | undefined {
  const url = new URL(name, SHARED_FIXTURES);
  return existsSync(url) ? readFileSync(url, 'utf8') : undefined;
}

export const NO_DEFAULTS: DefaultsWire = {
  max_connections: null,
  client_idle_timeout: null,
  backend_idle_timeout: null,
  backend_connection_timeout: null,
};

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Decodes a JSON-shaped server body and prepares it under `name`. */
export function prep(
  body: Json,
  opts: { name?: string; defaults?: DefaultsWire; exists?: boolean } = {},
): PreparedServer {
  const name = opts.name ?? 'x';
  const { server } = decodeServer(body, `servers.${name}`);
  return prepareServer(name, server, opts.defaults ?? NO_DEFAULTS, opts.exists === undefined ? {} : { exists: opts.exists });
}

/** Deep-merges `patch` into `base` (a null in the patch replaces the value). Returns a new value. */
export function patch(base: Json, p: Json): Json {
  if (p === null || typeof p !== 'object' || Array.isArray(p)) return p;
  if (base === null || typeof base !== 'object' || Array.isArray(base)) return p;
  const out: { [key: string]: Json } = { ...base };
  for (const [k, v] of Object.entries(p)) {
    const cur = out[k];
    out[k] = cur === undefined ? v : patch(cur, v);
  }
  return out;
}

/** A minimal valid body: bind + static discovery. */
export const MINIMAL: Json = { bind: '127.0.0.1:3000', discovery: { kind: 'static', static_list: ['127.0.0.1:8000'] } };

/** The server that `POST /servers/x` with the §3.4.3 sample body normalises to. */
export function sampleServer(): ServerWire {
  return serverWire({
    bind: 'localhost:3001',
    discovery: staticDiscovery(['localhost:8000']),
    healthcheck: { kind: 'ping', interval: '2s', passes: 1, fails: 1, timeout: '1s', initial_status: null },
  });
}

/** The server the OpenSVC janitor's POST (fixture opensvc-janitor-post.json) normalises to. */
export function janitorServer(): ServerWire {
  return serverWire({
    bind: '0.0.0.0:1024',
    discovery: {
      kind: 'srv',
      failpolicy: 'keeplast',
      interval: '5s',
      timeout: '5s',
      srv: { srv_lookup_server: '127.0.0.1:5300', srv_lookup_pattern: '_80._tcp.svcweb.default.svc.cluster7.', srv_dns_protocol: 'tcp' },
    },
    healthcheck: { kind: 'ping', interval: '2s', passes: 1, fails: 1, timeout: '500ms', initial_status: null },
  });
}
