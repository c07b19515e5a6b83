/** Builders for normalised servers (`ServerWire`), shared by the config, API and metrics tests. */
import type { DiscoveryWire, HealthcheckWire, ServerWire } from '../../src/config/types.js';

/** Static discovery as prepareServer normalises it (keeplast, no interval/timeout). */
export function staticDiscovery(list: string[]): DiscoveryWire {
  return { kind: 'static', failpolicy: 'keeplast', interval: '0', timeout: '0', static: { static_list: list } };
}

/** The health check prepareServer fills in when none is given. */
export function noHealthcheck(): HealthcheckWire {
  return { kind: 'none', interval: '0', passes: 1, fails: 1, timeout: '0', initial_status: null };
}

/**
 * A server with every option at its normalised default (GoBetween's JSON field order), static
 * discovery of `127.0.0.1:1` and no health check; `overrides` replace whole fields.
 */
export function serverWire({ bind, ...overrides }: Partial<ServerWire> & { bind: string }): ServerWire {
  return {
    max_connections: 0,
    client_idle_timeout: '0',
    backend_idle_timeout: '0',
    backend_connection_timeout: '0',
    bind,
    protocol: 'tcp',
    balance: 'weight',
    sni: null,
    tls: null,
    backends_tls: null,
    udp: null,
    access: null,
    proxy_protocol: null,
    discovery: staticDiscovery(['127.0.0.1:1']),
    healthcheck: noHealthcheck(),
    accept_proxy_protocol: null,
    ...overrides,
  };
}

/** The smallest normalised server listening on `bind`. */
export function minimalServer(bind: string): ServerWire {
  return serverWire({ bind });
}
