/**
 * Stats: the 2-second rate tick (control-plane §4.2: rate = bytes in the last 2 s window / 2,
 * integer) over exact counters, and the JSON shape of GET /servers/:name/stats (§4.1).
 */
import type { Backend, ServerCounters } from '../core/backend.js';
import type { BackendPool } from './backend-pool.js';
import type { BackendStateJson, BackendStatsJson, ServerStatsJson } from './types.js';

export const RATE_WINDOW_MS = 2000;

/** Advances one rate window for a server and every backend in its table. */
export function tickRates(counters: ServerCounters, pool: BackendPool): void {
  counters.rxSecond = Math.floor((counters.rx - counters.rxAtTick) / 2);
  counters.txSecond = Math.floor((counters.tx - counters.txAtTick) / 2);
  counters.rxAtTick = counters.rx;
  counters.txAtTick = counters.tx;
  for (const b of pool.all()) tickBackend(b);
}

function tickBackend(b: Backend): void {
  b.rxSecond = Math.floor((b.rx - b.rxAtTick) / 2);
  b.txSecond = Math.floor((b.tx - b.txAtTick) / 2);
  b.rxAtTick = b.rx;
  b.txAtTick = b.tx;
}

export function backendStatsJson(b: Backend): BackendStatsJson {
  // GoBetween omits max_connections when 0 and sni when empty; spreads keep its key order.
  return {
    host: b.host,
    port: b.port,
    priority: b.priority,
    weight: b.weight,
    ...(b.maxConnections !== 0 ? { max_connections: b.maxConnections } : {}),
    ...(b.sni !== '' ? { sni: b.sni } : {}),
    stats: {
      live: b.live,
      discovered: b.discovered,
      total_connections: b.total,
      active_connections: b.active,
      refused_connections: b.refused,
      rx: b.rx,
      tx: b.tx,
      rx_second: b.rxSecond,
      tx_second: b.txSecond,
    },
  };
}

export function serverStatsJson(counters: ServerCounters, pool: BackendPool): ServerStatsJson {
  const backends = pool.all().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    active_connections: counters.active,
    rx_total: counters.rx,
    tx_total: counters.tx,
    rx_second: counters.rxSecond,
    tx_second: counters.txSecond,
    backends: backends.map(backendStatsJson),
  };
}

/** A backend for GET /servers/:name/backends (tsbetween-only). */
export function backendStateJson(pool: BackendPool, b: Backend): BackendStateJson {
  return {
    host: b.host,
    port: b.port,
    state: pool.drainState(b),
    health: !b.live ? 'dead' : pool.isPassiveDown(b.key) ? 'down' : 'live',
    discovered: b.discovered,
    active_connections: b.active,
    total_connections: b.total,
    refused_connections: b.refused,
    rx: b.rx,
    tx: b.tx,
    rx_second: b.rxSecond,
    tx_second: b.txSecond,
  };
}

/** Every backend of the table, sorted by key, with its drain state. */
export function backendStatesJson(pool: BackendPool): BackendStateJson[] {
  return pool.all().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((b) => backendStateJson(pool, b));
}
